/**
 * Runs the benchmark suite against the built package (`dist/`, imported as `data-buffer`), one
 * scenario per child process so that no scenario inherits another's heap, prints one table and, on a
 * full run of every scenario, writes `docs/benchmarks.md` and `docs/benchmarks.svg`.
 *
 *   node bench/run.mjs                 every scenario, full inputs, writes the docs (npm run bench)
 *   node bench/run.mjs --ci            every scenario, tiny inputs, writes nothing (npm run bench:ci)
 *   node bench/run.mjs flush peers     only these scenarios, writes nothing
 * @module
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machine, markdownTable, svgChart, textTable } from './report.mjs';

/** Scenario files, in the order of the issue. */
export const SCENARIOS = [
  'insert-keys',
  'insert-keys-gc',
  'insert-hot-key',
  'live-keys',
  'insert-many',
  'flush',
  'peers',
  'postgres',
  'journal',
  'redis',
];

async function main() {
  const picked = args.filter((arg) => !arg.startsWith('--'));
  for (const name of picked) {
    if (!SCENARIOS.includes(name))
      throw new Error(`Unknown scenario ${name}; known: ${SCENARIOS.join(', ')}`);
  }
  const names = picked.length > 0 ? picked : SCENARIOS;
  const info = machine();
  console.log(`data-buffer benchmarks${ci ? ' (CI: tiny inputs)' : ''}: Node ${info.node}, ${info.cpu}`);
  const rows = [];
  for (const name of names) {
    const started = performance.now();
    process.stdout.write(`- ${name} … `);
    const scenarioRows = await runChild(name);
    // Tiny inputs measure warm-up, not speed: CI checks that the suite works, not the targets.
    if (ci) for (const r of scenarioRows) r.pass = undefined;
    rows.push(...scenarioRows);
    console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  console.log(`\n${textTable(rows)}\n`);
  const missed = rows.filter((r) => r.pass === false);
  if (missed.length > 0) console.log(`Targets missed: ${missed.length} (see MISSED above).`);
  if (!ci && picked.length === 0) {
    const docs = fileURLToPath(new URL('../docs/', import.meta.url));
    writeFileSync(`${docs}benchmarks.md`, markdown(rows, info));
    writeFileSync(`${docs}benchmarks.svg`, svgChart(rows, info));
    console.log('Wrote docs/benchmarks.md and docs/benchmarks.svg.');
  }
}

/**
 * Runs one scenario in a child process with `--expose-gc` (and the V8 flags the scenario module exports
 * as `nodeFlags`, if any) and resolves with its rows.
 */
async function runChild(name) {
  const { nodeFlags = [] } = await import(`./${name}.mjs`);
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', name, ...(ci ? ['--ci'] : [])], {
      execArgv: ['--expose-gc', '--max-old-space-size=4096', ...nodeFlags],
    });
    let rows;
    child.on('message', (message) => {
      rows = message;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && rows !== undefined) resolve(rows);
      else reject(new Error(`Scenario ${name} failed (exit code ${code}, signal ${signal})`));
    });
  });
}

/** The Markdown page: header, machine, chart, summary of the targets, table, notes. */
export function markdown(rows, info) {
  const checked = rows.filter((r) => r.pass !== undefined);
  const missed = checked.filter((r) => r.pass === false);
  const summary =
    missed.length === 0
      ? `All ${checked.length} targets met.`
      : `${checked.length - missed.length} of ${checked.length} targets met. Missed:\n\n${missed
          .map(
            (r) =>
              `- **${r.scenario}**, ${r.arm}: ${r.ratio?.toFixed(2)} ${r.ratioLabel}, target ${r.target}`,
          )
          .join('\n')}`;
  return `${HEADER}
Measured ${info.date} on Node ${info.node}, ${info.cpu}, ${info.platform}, with \`npm run bench\`.

![Headline ratios](./benchmarks.svg)

${summary}

${markdownTable(rows)}

${NOTES}`;
}

const HEADER = `# Benchmarks

<!-- Written by \`npm run bench\` (bench/run.mjs): edit the runner, not this file. -->

Every comparison runs its arms interleaved in one process (A, B, A, B, …, the order reversed every
other round), each arm on fresh state after a full GC. A figure is the median over the rounds; a ratio
is the median of the per-round ratios against the baseline, so load on the machine cancels out of the
ratios more than out of the absolute figures. The suite runs the built package (\`dist/\`), each
scenario in its own process.
`;

const NOTES = `## What each scenario does

1. **Insert, 10k keys**: inserts over 10,000 random string keys (seeded, flat strings as they come
   off the wire), nothing flushing during the run, against the limit: a \`Map<key, value[]>\` with
   \`get\`, \`set(key, [])\` when missing, \`push\`. The headline rows use the **default options**
   (the 1M-item \`maxBuffered\` and the 256 MiB \`maxBufferedBytes\`, whose estimate is sampled) and
   make 1M inserts: of numbers, and of fresh \`{ path, user, at }\` objects built inside the timed loop
   of both arms. The row marked "budgets lifted" makes 2M inserts with \`maxBuffered: Infinity,
   maxBufferedBytes: Infinity\`, a configuration kept for comparison only.
   **1b** repeats the two default-options rows in a process started with
   \`--no-allocation-site-pretenuring\`, as a diagnosis with no target: V8 pretenures the baseline's
   \`[]\` (its site runs unoptimized at the start of each round, long enough for the mementos behind
   its arrays to show that they survive), so the baseline's arrays go straight to the old generation,
   while DataBuffer's batch arrays, made inside an \`insert\` that stays compiled, start young and are
   copied by every scavenge (\`--trace-pretenuring-statistics\`: the baseline's site reaches "tenure",
   DataBuffer's stops at "maybe tenure"). With pretenuring off, both arms' objects are placed alike.
2. **Insert, one hot key**: the same with a single key (numbers; default options, then budgets lifted).
3. **One million live keys**: 1M distinct keys inserted once each, nothing flushing: insert rate, and
   heap bytes per live key (\`process.memoryUsage().heapUsed\` after two GCs, before and after, keys
   created up front and kept alive by the benchmark in every arm). The baseline that does not flatter:
   a \`Map\` of exact-size arrays (\`set(key, [value])\`, the least a \`Map\` of arrays can take).
   Also: the \`Map\` of arrays of scenario 1 (its first \`push\` gives each array room for 17 items),
   DataBuffer with budgets lifted, and a hand-written \`Map\` + one \`setTimeout\` per key.
4. **insertMany**: lists of 50 items over 10,000 keys against \`list.push(...items)\`: 1M items with
   the default options, then 2M with budgets lifted.
5. **Flush path**: (a) items per second from \`insert\` to an async no-op \`handleFlush\` with
   \`maxSize: 1000\` over 100 keys, until every item is delivered (\`close()\`), against a \`Map\` of
   arrays that hands each full list to the same handler and awaits them all at the end; DataBuffer
   with the default options awaits \`ready()\` when \`insert\` returns false (then budgets lifted, for
   comparison). (b) 1M keys, one item each, whose \`interval\` (1 s) expires at the same moment (the
   benchmark inserts, then spins until every deadline has passed), default options (one partition):
   wall time until every item is delivered to an async no-op handler, and the event-loop delay
   meanwhile (\`perf_hooks.monitorEventLoopDelay\`, 1 ms resolution). The baseline: a sliced sweep over a
   \`Map\` of arrays, fired by one timer, that awaits the same handler for each key in turn (as one
   partition does) and yields to the event loop every 2 ms; also a hand-written \`Map\` + one
   \`setTimeout\` per key, which calls every handler at once.
6. **Peers**, each on the work it can do, with the same inputs, an async no-op handler, a batch size
   and a 1 s interval where the peer has one; every arm must deliver every item (checked), the rest
   being flushed at the end. DataBuffer runs with \`maxSize\`, \`interval\` and otherwise its **default
   options** (the item budget, awaiting \`ready()\` when \`insert\` returns false, and the byte budget);
   rows where the items arrive 100 per turn of the event loop (as from requests) rather than in one
   synchronous loop follow, in which DataBuffer cannot deliver a full batch before the loop ends (a
   handler never runs inside an \`insert\`) while the hand-written buffers call theirs at once. One stream (one key,
   batches of 1000): a hand-written buffer (array + \`setTimeout\`), RxJS \`bufferTime\` (with a
   maximum size), TanStack Pacer \`AsyncBatcher\` (\`maxSize\`, \`wait\`), \`async\`'s \`cargoQueue\`
   (\`payload\`). Keyed (1,000 keys, batches of 100): a hand-written \`Map\` + \`setTimeout\` per key,
   RxJS \`groupBy\` + \`bufferTime\`, a \`Map\` of \`AsyncBatcher\`s, a \`Map\` of \`cargoQueue\`s. The
   ratio is how many times faster DataBuffer delivers everything. The hand-written buffers do the least
   work possible: no ordering per key, no backpressure, no retries, every handler call at once; see
   scenarios 3 and 5 for what they cost at a million keys.
7. **PostgreSQL sink**: 500k rows (\`path text, user text, at timestamptz\`) into the local PostgreSQL
   (\`DATABASE_URL\`), into an emptied table each run, against a hand-written \`COPY … FROM STDIN\` of the
   same rows in 10k-row chunks through pg-copy-streams on one connection, its text formatted with one
   template per row and no escaping (the least work that is correct for these rows). Arms:
   \`postgresSink\` (COPY, its default) called with the same 10k-row batches one after the other on a
   pg \`Pool\`; the same behind a \`DataBuffer\` (one key, \`maxSize: 10_000\`, otherwise default
   options; insert every row, then \`close()\`); and the sink with \`copy: false\`
   (\`INSERT … SELECT FROM unnest\`) for reference. Every arm must store every row (checked). Needs
   the server: under \`REQUIRE_SERVICES=1\` (CI) an unreachable server fails the run, otherwise the
   scenario reports itself skipped.
8. **Shared store on Redis**: 200k items (\`{ path, user, t }\`, JSON) over 100 keys, inserted in turns
   of 1,000, into the local Redis (\`REDIS_URL\`) with node-redis, each arm on a fresh namespace: a
   \`DataBuffer\` with \`redisStore\` (insert to \`persisted()\`) against raw pipelined \`RPUSH\` of the
   same items (one per key per turn, JSON included, awaited at the end: the limit), and the in-memory
   buffer for reference; then 4 processes of each into one namespace (aggregate rate), Redis round
   trips per item, flush latency (a full batch of 100 from its first insert to \`handleFlush\`: write,
   claim and reply) and the event-loop delay p99 during the store arm. Needs the server, as scenario 7.

## What moved the figures (issue 14)

Profiles with \`node --cpu-prof\` of each scenario's DataBuffer arm, before and after:

- **Default-options inserts** (1 and 2): with the 256 MiB default, every insert used to take the checked
  path, estimate its bytes and keep a per-batch record (\`RecordStore.append\` and \`#insertChecked\`
  some 14% of the time, the estimate 5%, more on objects since \`sizeOf\` reads property
  descriptors). Now the default estimate is **sampled**: the first 64 items, then one in 32 on
  average at a random stride (\`src/byte-sampler.ts\`); its mean plus three standard errors turns the
  byte budget into an item limit (\`maxBufferedBytes / bytes per item\`). The quick path's bound stops
  at the next item to sample (\`held + stride\`), so it stays one comparison with no counter, and the
  batches are plain arrays again. In the profile the checked insert and the estimate fell to some 4%
  together (\`#insertChecked\`, \`propertySize\`, \`objectSize\`, \`measure\`), and the default-options
  rate came to that of the budgets-lifted run. With a \`sizeOf\` of your own, every item is still
  measured and counted.
- **Heap per live key** (3): the batch record (its three fields) is gone with the defaults; what is left
  is the \`Map\` entry, the one-item array, and the deadline entry (two slots of an array: key and batch).
- **Expiry storm** (5b): the deadline entry held the batch's token already, but each due key was looked
  up again (\`store.batch(key)\`), then taken with a \`get\` and a \`delete\`: three hash operations on a
  1M-entry \`Map\`. The store now takes a due batch by its token (\`takeDue\`: one \`delete\`; a taken
  batch's token is left empty, so a stale one is told apart without a lookup), and the batch a key
  opens is named by the store (\`opened\`) rather than looked up. A partition reads the clock once per
  delivery, not twice: an attempt starts at the partition's clock, the end of the attempt before it.

## Reading the figures

Absolute figures depend on the machine and its load (this machine runs other work meanwhile); the
ratios, measured interleaved, are what to compare. Each run builds a new buffer and every run starts
after a forced full GC; so that this does not also throw away V8's optimized code for the library (it
keys that code on object shapes, which a GC collects once no object of that shape is alive), each
scenario's process keeps two idle buffers alive throughout (\`bench/resident.mjs\`), as a service keeps
its buffer alive. Run it with \`npm run bench\` (builds first; a few
minutes). \`npm run bench:ci\` runs the same suite with tiny inputs, checks that every arm still
delivers what it should and writes nothing; \`node bench/run.mjs flush peers\` runs some scenarios
only, without writing either.
`;

const args = process.argv.slice(2);
const ci = args.includes('--ci');
const childIndex = args.indexOf('--child');

// Last in the file: the templates above must be initialised before anything runs.
const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (isMain && childIndex !== -1) {
  // In a child: run one scenario and send its rows back.
  const { keepResidentBuffers } = await import('./resident.mjs');
  keepResidentBuffers();
  const scenario = await import(`./${args[childIndex + 1]}.mjs`);
  const rows = await scenario.run({ ci });
  process.send?.(rows);
  // Peers may leave timers behind (e.g. sleeps inside their batchers): do not wait for them.
  process.disconnect?.();
  process.exit(0);
} else if (isMain) {
  await main();
}
