/**
 * Soak test (`npm run soak`, not in CI): inserts at full speed into a sink ten times too slow that
 * fails 10% of its calls, under each `onFull` policy in turn; samples RSS and heap every second,
 * prints the series and the final accounting, and exits non-zero when memory does not plateau under
 * the budget or the accounting does not balance.
 *
 *   npm run soak -- --seconds 60 --policy drop-oldest
 *
 * A fifth scenario, `ignored`, follows the README's request-log recipe into a dead database: the
 * default policy (`'backpressure'`), `insert()`'s return value ignored, a sink that never answers. The
 * hard ceiling (twice the budget) must hold the heap, and every refused item must be counted, given to
 * `onDrop` and warned about at most once a second.
 *
 * Options: `--seconds N` per scenario (default 60), `--policy P` (default: all five, one after the
 * other), `--budget-mib N` for `maxBufferedBytes` (default 64). Run with `--expose-gc` (the npm script
 * does) so each sample follows a full collection and the heap figure is the live heap.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CEILING } from '../src/budget.js';
import { BufferFullError, DataBuffer, type OnFullPolicy } from '../src/index.js';

const POLICIES: readonly OnFullPolicy[] = ['drop-oldest', 'drop-newest', 'throw', 'backpressure'];
/** The default policy with the return value ignored and the sink stuck. */
const IGNORED = 'ignored';
const SCENARIOS: readonly string[] = [...POLICIES, IGNORED];
const KEYS = 100;
const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    policy: { type: 'string' },
    'budget-mib': { type: 'string', default: '64' },
  },
});
const seconds = Number(args.seconds);
const budgetBytes = Number(args['budget-mib']) * MiB;
if (!(seconds > 0)) throw new RangeError(`Expected --seconds to be a number > 0, got ${args.seconds}`);
if (!(budgetBytes > 0))
  throw new RangeError(`Expected --budget-mib to be a number > 0, got ${args['budget-mib']}`);
const policies = args.policy === undefined ? SCENARIOS : [args.policy];
for (const policy of policies) {
  if (!SCENARIOS.includes(policy))
    throw new TypeError(`Expected --policy to be one of ${SCENARIOS.join(', ')}, got ${policy}`);
}

/** One buffered event: an object with a 100-character payload of its own, as a page view might be. */
interface Event {
  id: number;
  key: string;
  at: number;
  payload: string;
}

const keys = Array.from({ length: KEYS }, (_, i) => `tenant-${i}`);
let nextId = 0;
function event(): Event {
  const id = nextId++;
  return { id, key: keys[id % KEYS] as string, at: Date.now(), payload: 'p'.repeat(100) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

/** Items per second the producer manages into a buffer that never fills: the "full speed". */
async function calibrate(): Promise<number> {
  const buffer = new DataBuffer<string, Event>({
    handleFlush: () => {},
    maxSize: 1000,
    maxBuffered: Number.POSITIVE_INFINITY,
    maxBufferedBytes: Number.POSITIVE_INFINITY,
    flushOnExit: false,
  });
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < 500) {
    for (let i = 0; i < 1000; i++) buffer.insert(keys[count++ % KEYS] as string, event());
    if ((count & 0x3fff) === 0) await nextTurn();
  }
  const rate = count / ((performance.now() - started) / 1000);
  await buffer.close();
  return rate;
}

interface Sample {
  t: number;
  rss: number;
  heap: number;
  buffered: number;
  inserted: number;
  flushed: number;
  dropped: number;
}

async function soak(policy: OnFullPolicy, fullSpeed: number) {
  const partitions = 4;
  const sinkRate = fullSpeed / 10;
  const perPartition = sinkRate / partitions;
  const seenBatches = new Set<string>();
  let sinkCalls = 0;
  let sinkFailures = 0;
  let sinkDelivered = 0;
  let sinkDuplicates = 0;
  let handedToHandleError = 0;
  let refused = 0;
  let onDropped = 0;
  const buffer = new DataBuffer<string, Event>({
    partitions,
    maxSize: 1000,
    interval: 1000,
    maxBuffered: 1_000_000,
    maxBufferedBytes: budgetBytes,
    onFull: policy,
    ...(policy === 'drop-oldest' || policy === 'drop-newest'
      ? {
          onDrop: (_key: string, items: Event[]) => {
            onDropped += items.length;
          },
        }
      : {}),
    retryDelay: 50,
    retryMax: 5,
    flushOnExit: false,
    logger: { error: (message) => console.error(message), warn: () => {} },
    handleFlush: async (_key, items, info) => {
      sinkCalls++;
      // Ten times too slow: this partition's share of a tenth of the producer's speed.
      await sleep((items.length / perPartition) * 1000);
      if (Math.random() < 0.1) {
        sinkFailures++;
        throw new Error('sink: transient failure');
      }
      if (seenBatches.has(info.batchId)) {
        sinkDuplicates++;
        return;
      }
      seenBatches.add(info.batchId);
      sinkDelivered += items.length;
    },
    handleError: (_key, items) => {
      handedToHandleError += items.length;
    },
  });

  global.gc?.();
  const baseline = process.memoryUsage();
  const samples: Sample[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    // A full collection first, so `heap` is the live heap, not live plus garbage waiting for a major GC.
    global.gc?.();
    const memory = process.memoryUsage();
    const stats = buffer.stats();
    samples.push({
      t: Math.round((performance.now() - started) / 1000),
      rss: memory.rss,
      heap: memory.heapUsed,
      buffered: stats.buffered,
      inserted: stats.inserted,
      flushed: stats.flushed,
      dropped: stats.dropped,
    });
  }, 1000);

  const end = started + seconds * 1000;
  let sliceStart = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) {
      const item = event();
      try {
        if (!buffer.insert(item.key, item) && policy === 'backpressure') {
          await buffer.ready();
          sliceStart = performance.now();
        }
      } catch (error) {
        if (!(error instanceof BufferFullError)) throw error;
        refused++;
      }
    }
    // Full speed, but let the sink's timers and promises run now and then.
    if (performance.now() - sliceStart > 20) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  const produced = nextId;
  const closeStarted = performance.now();
  const report = await buffer.close({ timeout: 60_000 });
  const closeMs = Math.round(performance.now() - closeStarted);
  clearInterval(sampler);
  const stats = buffer.stats();

  // ---- verdicts -----------------------------------------------------------------------------------
  const problems: string[] = [];
  const balance = stats.flushed + stats.failed + stats.dropped + stats.dumped + stats.buffered;
  if (stats.inserted !== balance)
    problems.push(`stats do not balance: inserted ${stats.inserted} != ${balance}`);
  if (stats.buffered !== 0) problems.push(`${stats.buffered} item(s) still buffered after close`);
  if (sinkDelivered !== stats.flushed)
    problems.push(`the sink counted ${sinkDelivered}, stats.flushed ${stats.flushed}`);
  if (handedToHandleError !== stats.failed)
    problems.push(`handleError got ${handedToHandleError}, stats.failed ${stats.failed}`);
  if (onDropped !== stats.dropped) problems.push(`onDrop got ${onDropped}, stats.dropped ${stats.dropped}`);
  if (sinkDuplicates !== 0)
    problems.push(`${sinkDuplicates} successful call(s) of an already delivered batch`);
  const attempted = stats.inserted + refused;
  if (attempted !== produced - startId(policy)) {
    problems.push(`produced ${produced - startId(policy)} items, but inserted + refused is ${attempted}`);
  }
  // Plateau: after a warm-up quarter, the last half peaks no higher than the second quarter (plus slack),
  // and the heap never grows by more than the byte budget (the default sizeOf errs high) plus slack.
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const peak = (from: number, to: number, field: 'rss' | 'heap') =>
    Math.max(...samples.slice(from, to).map((s) => s[field]));
  const secondQuarterRss = peak(quarter, 2 * quarter, 'rss');
  const lastHalfRss = peak(2 * quarter, samples.length, 'rss');
  const heapGrowth = peak(0, samples.length, 'heap') - baseline.heapUsed;
  const slack = 32 * MiB;
  const plateaued = lastHalfRss <= secondQuarterRss * 1.1 + slack;
  if (!plateaued)
    problems.push(`RSS did not plateau: ${mib(secondQuarterRss)} MiB, then ${mib(lastHalfRss)} MiB`);
  if (heapGrowth > budgetBytes + slack) {
    problems.push(`the heap grew by ${mib(heapGrowth)} MiB, over the ${mib(budgetBytes)} MiB budget`);
  }

  console.log(
    `\n== onFull: '${policy}' for ${seconds} s; producer ${Math.round(fullSpeed)}/s, sink ${Math.round(sinkRate)}/s, budget ${mib(budgetBytes)} MiB`,
  );
  console.log('  t(s)  rss(MiB)  heap(MiB)  buffered   inserted    flushed    dropped');
  for (const s of samples) {
    console.log(
      `${String(s.t).padStart(6)}${String(mib(s.rss)).padStart(10)}${String(mib(s.heap)).padStart(11)}${String(s.buffered).padStart(10)}${String(s.inserted).padStart(11)}${String(s.flushed).padStart(11)}${String(s.dropped).padStart(11)}`,
    );
  }
  const summary = {
    policy,
    seconds,
    rssMiB: {
      baseline: mib(baseline.rss),
      secondQuarterPeak: mib(secondQuarterRss),
      lastHalfPeak: mib(lastHalfRss),
    },
    heapGrowthMiB: mib(heapGrowth),
    accounting: {
      produced: produced - startId(policy),
      refusedByThrow: refused,
      inserted: stats.inserted,
      flushed: stats.flushed,
      failed: stats.failed,
      dropped: stats.dropped,
      dumped: stats.dumped,
      buffered: stats.buffered,
      balanced: stats.inserted === balance,
    },
    sink: { calls: sinkCalls, failures: sinkFailures, delivered: sinkDelivered },
    retried: stats.retried,
    close: { ...report, ms: closeMs },
    ok: problems.length === 0,
    problems,
  };
  console.log(JSON.stringify(summary, null, 2));
  return problems.length === 0;
}

const startIds = new Map<OnFullPolicy, number>();
function startId(policy: OnFullPolicy): number {
  return startIds.get(policy) ?? 0;
}

/**
 * The request-log recipe into a dead database: default `onFull`, `insert()`'s result ignored, a sink
 * that never answers. Memory must stay bounded by the hard ceiling and every refused item be counted.
 */
async function soakIgnored(): Promise<boolean> {
  let onDropped = 0;
  let warnings = 0;
  let handedToHandleError = 0;
  const buffer = new DataBuffer<string, Event>({
    maxBufferedBytes: budgetBytes,
    onDrop: (_key, items, reason) => {
      if (reason === 'backpressure') onDropped += items.length;
    },
    flushOnExit: false,
    logger: {
      error: (message) => console.error(message),
      warn: () => {
        warnings++;
      },
    },
    handleFlush: () => new Promise(() => {}), // the database is down, and the driver never answers
    handleError: (_key, items) => {
      handedToHandleError += items.length;
    },
  });
  const first = nextId;
  global.gc?.();
  const baseline = process.memoryUsage();
  let peakHeap = 0;
  let peakBuffered = 0;
  const sampler = setInterval(() => {
    global.gc?.();
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    peakBuffered = Math.max(peakBuffered, buffer.size);
  }, 1000);
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 4096; i++) {
      const item = event();
      buffer.insert(item.key, item); // the recipe's call: the result is ignored
    }
    await nextTurn();
  }
  clearInterval(sampler);
  const produced = nextId - first;
  const before = buffer.stats();
  const report = await buffer.close({ timeout: 1000 });
  const stats = buffer.stats();
  const heapGrowth = peakHeap - baseline.heapUsed;
  const problems: string[] = [];
  if (stats.inserted !== produced) problems.push(`produced ${produced}, stats.inserted ${stats.inserted}`);
  if (before.dropped !== onDropped) problems.push(`onDrop got ${onDropped}, stats.dropped ${before.dropped}`);
  if (before.dropped + before.buffered !== produced)
    problems.push(`dropped ${before.dropped} + buffered ${before.buffered} != produced ${produced}`);
  if (stats.failed !== handedToHandleError || stats.failed !== before.buffered)
    problems.push(
      `handleError got ${handedToHandleError}, stats.failed ${stats.failed}, held ${before.buffered}`,
    );
  if (warnings > seconds + 2) problems.push(`${warnings} warnings in ${seconds} s: more than one a second`);
  // What 'backpressure' promises a producer that ignores `false`: the hard ceiling, CEILING times the
  // byte budget (the default sizeOf errs high, so the live heap stays under the estimate).
  const slack = 32 * MiB;
  if (heapGrowth > budgetBytes * CEILING + slack)
    problems.push(
      `the heap grew by ${mib(heapGrowth)} MiB, over the hard ceiling of ${mib(budgetBytes * CEILING)} MiB`,
    );
  const summary = {
    scenario: `default onFull, insert() result ignored, sink stuck, ${seconds} s`,
    budgetMiB: mib(budgetBytes),
    hardCeilingMiB: mib(budgetBytes * CEILING),
    heapGrowthPeakMiB: mib(heapGrowth),
    peakBuffered,
    accounting: {
      produced,
      inserted: stats.inserted,
      refused: before.dropped,
      onDrop: onDropped,
      heldAtClose: before.buffered,
      handedToHandleErrorAtClose: stats.failed,
      warnings,
    },
    close: report,
    ok: problems.length === 0,
    problems,
  };
  console.log(JSON.stringify(summary, null, 2));
  return problems.length === 0;
}

const fullSpeed = await calibrate();
let ok = true;
for (const policy of policies) {
  startIds.set(policy as OnFullPolicy, nextId);
  const passed = policy === IGNORED ? await soakIgnored() : await soak(policy as OnFullPolicy, fullSpeed);
  if (!passed) ok = false;
  global.gc?.();
  await sleep(500);
}
console.log(ok ? '\nsoak: OK' : '\nsoak: FAILED');
process.exitCode = ok ? 0 : 1;
