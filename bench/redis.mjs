/**
 * Scenario 8: a `DataBuffer` on the Redis store (`data-buffer/redis`), against the local Redis
 * (`REDIS_URL`, default redis://127.0.0.1:6379), with node-redis. Items are `{ path, user, t }`, JSON in
 * Redis, over 100 keys, inserted in turns of 1,000 (the event loop turns between them, as a server's
 * requests would let it). Arms, interleaved, each on a fresh namespace (deleted after):
 * - the limit: raw pipelined `RPUSH` of the same items, one per key per turn, JSON included, every
 *   command sent without waiting (node-redis writes one turn's commands as one pipeline), awaited at the end;
 * - `DataBuffer` + `redisStore`, insert to `persisted()` (`interval` long enough that nothing is
 *   claimed during the run: this measures the write path);
 * - the in-memory `DataBuffer` (no store), the same inserts, for reference.
 * Then, each measured on its own: 4 processes inserting through `DataBuffer` + `redisStore` into one
 * namespace against 4 processes of raw RPUSH (aggregate items/s, start to the last `persisted()`);
 * flush latency (a full batch of 100: its first insert to its `handleFlush`, which needs the write, the
 * claim and its reply); Redis round trips per item; the event-loop delay p99 during the store arm, in
 * interleaved rounds against the in-memory buffer doing the same inserts (the machine's load and the
 * inserts' own share), after a warm-up round.
 * Needs the server: unreachable, it throws under `REQUIRE_SERVICES=1` (CI) and reports a skipped row otherwise.
 * @module
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DataBuffer } from 'data-buffer';
import { redisStore } from 'data-buffer/redis';
import { createClient } from 'redis';
import { compare, loopDelayMonitor, median } from './harness.mjs';
import { compactCount, millis, rate, row } from './report.mjs';

export const title = '8. Shared store on Redis';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEYS = 100;
const TURN = 1000;

/** `count` page views as the arms insert them: key index and item. */
function items(count) {
  const keys = Array.from({ length: KEYS }, (_, k) => `/articles/${k}`);
  return Array.from({ length: count }, (_, i) => ({
    key: keys[i % KEYS],
    item: { path: keys[i % KEYS], user: `user-${(i * 7919) % 10_000}`, t: 1_767_225_600_000 + i },
  }));
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
let namespaces = 0;
const namespace = () => `data-buffer-bench-${process.pid}-${++namespaces}`;

async function connect() {
  // node-redis 6 fails a command that waited 5 s for its reply by default: the raw arm's pipeline of
  // 200k items outlives that on a loaded machine.
  const client = createClient({ url: REDIS_URL, commandOptions: { timeout: 120_000 } });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function dropNamespace(client, ns) {
  const found = [];
  for await (const batch of client.scanIterator({ MATCH: `*${ns}*`, COUNT: 1000 })) found.push(...batch);
  for (let i = 0; i < found.length; i += 1000) await client.del(found.slice(i, i + 1000));
}

/** The limit: one RPUSH per key per turn, pipelined, nothing awaited until the end. */
async function rawRpush(client, ns, data) {
  const pending = [];
  for (let from = 0; from < data.length; from += TURN) {
    const perKey = new Map();
    for (let i = from; i < Math.min(data.length, from + TURN); i++) {
      const { key, item } = data[i];
      const name = `${ns}:${key}`;
      const list = perKey.get(name);
      const text = JSON.stringify(item);
      if (list === undefined) perKey.set(name, [text]);
      else list.push(text);
    }
    for (const [name, values] of perKey) pending.push(client.rPush(name, values));
    await nextTurn();
  }
  await Promise.all(pending);
}

function storeBuffer(client, ns, handleFlush = () => {}, options = {}) {
  return new DataBuffer({
    interval: 600_000,
    flushOnExit: false,
    store: redisStore({ client, namespace: ns, partitions: 16, leaseMs: 30_000 }),
    handleFlush,
    ...options,
  });
}

async function insertAll(buffer, data) {
  for (let from = 0; from < data.length; from += TURN) {
    for (let i = from; i < Math.min(data.length, from + TURN); i++) buffer.insert(data[i].key, data[i].item);
    await nextTurn();
  }
}

/** A child process of the 4-process arms: waits for `go`, inserts, reports when everything is in Redis. */
async function worker(mode, count, ns, offset) {
  const client = await connect();
  const data = items(count).map(({ key, item }) => ({ key, item: { ...item, t: item.t + offset } }));
  const buffer = mode === 'buffer' ? storeBuffer(client, ns) : undefined;
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  if (buffer === undefined) await rawRpush(client, ns, data);
  else {
    await insertAll(buffer, data);
    await buffer.persisted();
  }
  process.send({ done: true });
  await buffer?.close({ timeout: 1000 });
  await client.quit();
}

/** Runs 4 worker processes of `mode`; resolves with the ms from `go` to the last one's `done`. */
async function fourProcesses(mode, perProcess, ns) {
  const children = Array.from({ length: 4 }, (_, p) =>
    fork(fileURLToPath(import.meta.url), ['--redis-worker', mode, String(perProcess), ns, String(p * 1e9)]),
  );
  // Listened for now: a child that finishes fast exits before a listener added later would hear it.
  const exited = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));
  const ready = children.map((child) => new Promise((resolve) => child.once('message', resolve)));
  await Promise.all(ready);
  const done = children.map((child) => new Promise((resolve) => child.once('message', resolve)));
  const start = performance.now();
  for (const child of children) child.send('go');
  await Promise.all(done);
  const ms = performance.now() - start;
  await Promise.all(exited);
  return ms;
}

async function reachable() {
  try {
    const client = await connect();
    await client.quit();
    return true;
  } catch (error) {
    if (process.env.REQUIRE_SERVICES === '1') {
      throw new Error(`${title}: Redis at ${REDIS_URL} is required (REQUIRE_SERVICES=1): ${error.message}`);
    }
    return false;
  }
}

/** Progress on standard error (the runner's table goes to standard output): this scenario takes minutes. */
const stage = (text) => process.stderr.write(`  redis: ${text}\n`);

export async function run({ ci }) {
  const count = Number(process.env.BENCH_REDIS_ITEMS ?? (ci ? 5_000 : 200_000));
  const rounds = ci ? 1 : 5;
  if (!(await reachable())) {
    return [
      row({
        scenario: title,
        arm: `skipped: Redis at ${REDIS_URL} is unreachable`,
        figure: '',
        baseline: '',
      }),
    ];
  }
  const client = await connect();
  const data = items(count);
  const used = [];
  const fresh = () => {
    const ns = namespace();
    used.push(ns);
    return ns;
  };
  try {
    stage(`${rounds} rounds of 3 arms, ${count} items`);
    let roundTrips = 0;
    const [raw, stored, memory] = await compare({
      rounds,
      warmup: 1,
      arms: [
        {
          name: 'raw pipelined RPUSH',
          setup: fresh,
          run: (ns) => rawRpush(client, ns, data),
          count: async (ns) => {
            let n = 0;
            for (let k = 0; k < KEYS; k++) n += await client.lLen(`${ns}:${data[k].key}`);
            return n;
          },
          teardown: (ns) => dropNamespace(client, ns),
        },
        {
          name: 'DataBuffer + redisStore',
          setup: () => ({ ns: fresh() }),
          run: async (state) => {
            state.buffer = storeBuffer(client, state.ns);
            await insertAll(state.buffer, data);
            await state.buffer.persisted();
          },
          count: (state) => state.buffer.stats().store.itemsWritten,
          teardown: async (state) => {
            roundTrips = state.buffer.stats().store.roundTrips;
            await state.buffer.close({ timeout: 1000 });
            await dropNamespace(client, state.ns);
          },
        },
        {
          name: 'DataBuffer in memory',
          setup: () => ({}),
          run: async (state) => {
            state.buffer = new DataBuffer({ interval: 600_000, flushOnExit: false, handleFlush: () => {} });
            await insertAll(state.buffer, data);
          },
          count: (state) => state.buffer.size,
          teardown: (state) => {
            state.buffer.dump();
            return state.buffer.close();
          },
        },
      ],
    });

    stage('event-loop delay');
    // The event loop while the store arm runs, on its own, against the in-memory buffer doing the same
    // inserts (what the machine's load and the inserts themselves cost): interleaved rounds after a
    // warm-up round, each histogram reset at the start of its arm; the median round is reported.
    const loopRounds = ci ? 1 : 3;
    const loopDelays = { store: [], memory: [] };
    for (let round = 0; round <= loopRounds; round++) {
      const order = round % 2 === 0 ? ['store', 'memory'] : ['memory', 'store'];
      for (const arm of order) {
        const loop = await loopDelayMonitor();
        const loopNs = fresh();
        const loopBuffer =
          arm === 'store'
            ? storeBuffer(client, loopNs)
            : new DataBuffer({ interval: 600_000, flushOnExit: false, handleFlush: () => {} });
        loop.start();
        await insertAll(loopBuffer, data);
        if (arm === 'store') await loopBuffer.persisted();
        const delay = await loop.stop();
        if (arm === 'memory') loopBuffer.dump();
        await loopBuffer.close({ timeout: 1000 });
        if (arm === 'store') await dropNamespace(client, loopNs);
        if (round > 0) loopDelays[arm].push(delay);
      }
    }
    const medianDelay = (delays) => {
      const sorted = [...delays].sort((a, b) => a.p99 - b.p99);
      return sorted[Math.floor((sorted.length - 1) / 2)];
    };
    const delay = medianDelay(loopDelays.store);
    const memoryDelay = medianDelay(loopDelays.memory);

    stage('flush latency');
    // Flush latency: a full batch, from its first insert to its handleFlush.
    const latencies = [];
    const latencyNs = fresh();
    let started = 0;
    let delivered;
    const latencyBuffer = storeBuffer(
      client,
      latencyNs,
      () => {
        latencies.push(performance.now() - started);
        delivered?.();
      },
      { maxSize: 100 },
    );
    for (let b = 0; b < (ci ? 5 : 100); b++) {
      const arrived = new Promise((resolve) => {
        delivered = resolve;
      });
      started = performance.now();
      for (let i = 0; i < 100; i++) latencyBuffer.insert('latency', data[i].item);
      await arrived;
    }
    await latencyBuffer.close({ timeout: 1000 });
    latencies.sort((a, b) => a - b);

    stage('4 processes');
    const perProcess = count / 4;
    const rawFour = await fourProcesses('raw', perProcess, fresh());
    const bufferFour = await fourProcesses('buffer', perProcess, fresh());

    const n = compactCount(count);
    const rawRate = (count * 1000) / raw.ms;
    return [
      {
        ...row({
          scenario: title,
          arm: `DataBuffer + redisStore, ${n} items over ${KEYS} keys in turns of ${TURN}, insert to persisted()`,
          figure: rate(count, stored.ms, 'items'),
          baseline: `raw pipelined RPUSH: ${rate(count, raw.ms, 'items')}`,
          ratio: stored.ratio,
          min: 0.5,
        }),
        chart: { label: 'redisStore (x raw RPUSH rate)', target: 0.5 },
      },
      row({
        scenario: title,
        arm: 'DataBuffer + redisStore, one process: items/s against 100k/s',
        figure: rate(count, stored.ms, 'items'),
        baseline: '100 k items/s',
        ratio: (count * 1000) / stored.ms / 100_000,
        min: 1,
      }),
      row({
        scenario: title,
        arm: 'DataBuffer in memory (no store), the same inserts, for reference',
        figure: rate(count, memory.ms, 'items'),
        baseline: `raw pipelined RPUSH: ${rate(count, raw.ms, 'items')}`,
        ratio: memory.ratio,
      }),
      row({
        scenario: title,
        arm: `4 processes, ${compactCount(perProcess)} items each, one namespace, DataBuffer + redisStore`,
        figure: rate(count, bufferFour, 'items'),
        baseline: `4 processes of raw RPUSH: ${rate(count, rawFour, 'items')}`,
        ratio: rawFour / bufferFour,
      }),
      row({
        scenario: title,
        arm: 'Redis round trips per item (store arm)',
        figure: (roundTrips / count).toPrecision(2),
        baseline: `raw RPUSH: ${(Math.ceil(count / TURN) / count).toPrecision(2)} (one pipeline per turn)`,
        ratio: undefined,
      }),
      row({
        scenario: title,
        arm: 'Flush latency: a full batch of 100, first insert to handleFlush (write, claim, reply)',
        figure: `median ${millis(median(latencies))}, p99 ${millis(latencies[Math.floor(latencies.length * 0.99)] ?? 0)}`,
        baseline: '',
        ratio: undefined,
      }),
      row({
        scenario: title,
        arm: `Event-loop delay while the store arm runs (ms; median round of ${loopRounds} by p99)`,
        figure: `p50 ${millis(delay.p50)}, p99 ${millis(delay.p99)}, max ${millis(delay.max)}; p99 of the rounds: ${loopDelays.store.map((d) => d.p99.toFixed(1)).join(', ')}`,
        baseline: `in memory, same inserts: p99 ${millis(memoryDelay.p99)}, max ${millis(memoryDelay.max)}`,
        ratio: delay.p99,
        ratioLabel: 'ms p99',
        max: 10,
      }),
      row({
        scenario: title,
        arm: 'raw pipelined RPUSH, one process (the limit)',
        figure: `${(rawRate / 1000).toPrecision(3)} k items/s`,
        baseline: '',
        ratio: undefined,
      }),
    ];
  } finally {
    for (const ns of used) await dropNamespace(client, ns).catch(() => {});
    await client.quit();
  }
}

const workerIndex = process.argv.indexOf('--redis-worker');
if (workerIndex !== -1) {
  const [mode, count, ns, offset] = process.argv.slice(workerIndex + 1);
  await worker(mode, Number(count), ns, Number(offset));
}
