/**
 * Scenario 5: the flush path. (a) Items per second from `insert` to an async no-op `handleFlush` with
 * `maxSize: 1000`, until every item is delivered. (b) One million keys whose `interval` expires at the
 * same moment: the wall time until every item is delivered, and the event-loop delay meanwhile.
 * @module
 */
import { DataBuffer } from 'data-buffer';
import {
  busyWaitUntil,
  collectGarbage,
  compare,
  flat,
  loopDelayMonitor,
  median,
  randomIndexes,
  randomKeys,
  until,
} from './harness.mjs';
import { LIFTED, LIFTED_LABEL } from './insert-keys.mjs';
import { compactCount, millis, rate, row } from './report.mjs';

export const title = '5. Flush path';

const MAX_SIZE = 1000;

/** (a) The arms: a Map of arrays handing each full list to the handler, and DataBuffer. */
function throughputArms(keys, indexes) {
  const count = indexes.length;
  const counter = () => {
    const state = { delivered: 0 };
    state.handler = async (_key, items) => {
      state.delivered += items.length;
    };
    return state;
  };
  return [
    {
      name: 'Map of arrays + handler',
      setup: counter,
      run: async (state) => {
        const map = new Map();
        const pending = [];
        for (let i = 0; i < count; i++) {
          const key = keys[indexes[i]];
          let list = map.get(key);
          if (list === undefined) {
            list = [];
            map.set(key, list);
          }
          list.push(i);
          if (list.length >= MAX_SIZE) {
            map.delete(key);
            pending.push(state.handler(key, list));
          }
        }
        for (const [key, list] of map) pending.push(state.handler(key, list));
        await Promise.all(pending);
      },
      count: (state) => state.delivered,
    },
    {
      name: 'DataBuffer, budgets lifted',
      setup: counter,
      run: async (state) => {
        const buffer = new DataBuffer({ handleFlush: state.handler, maxSize: MAX_SIZE, ...LIFTED });
        for (let i = 0; i < count; i++) buffer.insert(keys[indexes[i]], i);
        await buffer.close();
      },
      count: (state) => state.delivered,
    },
    {
      name: 'DataBuffer, defaults, awaiting ready()',
      setup: counter,
      run: async (state) => {
        const buffer = new DataBuffer({ handleFlush: state.handler, maxSize: MAX_SIZE });
        for (let i = 0; i < count; i++) {
          if (!buffer.insert(keys[indexes[i]], i)) await buffer.ready();
        }
        await buffer.close();
      },
      count: (state) => state.delivered,
    },
  ];
}

/**
 * (b) Inserts one item under each of `count` keys, spins until every interval has passed, then
 * measures the time until the handler saw every item, and the event-loop delay meanwhile.
 */
async function expireTogether(count, keys, arm) {
  const interval = 1000;
  const state = { delivered: 0 };
  const handler = async (_key, items) => {
    state.delivered += items.length;
  };
  collectGarbage();
  const monitor = await loopDelayMonitor();
  const stop =
    arm === 'buffer'
      ? insertIntoBuffer(keys, count, interval, handler)
      : arm === 'sweep'
        ? insertForSweep(keys, count, interval, handler)
        : insertWithTimers(keys, count, interval, handler);
  // Every deadline is now in the past: they all come due together when the loop turns.
  busyWaitUntil(performance.now() + interval + 100);
  monitor.start();
  await until(() => state.delivered === count);
  const figures = await monitor.stop();
  await stop();
  return figures;
}

/** Default options: one partition, the default budgets (1M items fit `maxBuffered` exactly). */
function insertIntoBuffer(keys, count, interval, handler) {
  const buffer = new DataBuffer({ handleFlush: handler, interval });
  for (let i = 0; i < count; i++) buffer.insert(keys[i], i);
  return () => buffer.close();
}

/**
 * The baseline that does not flatter: a `Map` of lists and one timer for them all, whose sweep awaits
 * the same async handler for each key in turn (as one partition does) and yields to the event loop
 * every 2 ms, as DataBuffer does.
 */
function insertForSweep(keys, count, interval, handler) {
  const map = new Map();
  for (let i = 0; i < count; i++) {
    const key = keys[i];
    const list = map.get(key);
    if (list === undefined) map.set(key, [i]);
    else list.push(i);
  }
  const sweep = async () => {
    let sliceStart = performance.now();
    let swept = 0;
    for (const [key, list] of map) {
      map.delete(key);
      try {
        await handler(key, list);
      } catch {}
      if ((++swept & 255) === 0 && performance.now() - sliceStart > 2) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  };
  const timer = setTimeout(sweep, interval);
  return async () => clearTimeout(timer);
}

/** The usual home-made buffer: a Map of lists and one setTimeout per key. */
function insertWithTimers(keys, count, interval, handler) {
  const map = new Map();
  const flush = (key) => {
    const list = map.get(key);
    map.delete(key);
    handler(key, list).catch(() => {});
  };
  for (let i = 0; i < count; i++) {
    const key = keys[i];
    const list = map.get(key);
    if (list === undefined) {
      map.set(key, [i]);
      setTimeout(flush, interval, key);
    } else {
      list.push(i);
    }
  }
  return async () => {};
}

export async function run({ ci }) {
  const rows = [];
  const inserts = ci ? 20_000 : 2_000_000;
  const keys = randomKeys(ci ? 10 : 100);
  const [base, lifted, byDefault] = await compare({
    arms: throughputArms(keys, randomIndexes(inserts, keys.length)),
    rounds: ci ? 3 : 9,
    warmup: 2,
  });
  const n = compactCount(inserts);
  rows.push(
    {
      ...row({
        scenario: title,
        arm: `DataBuffer, ${n} inserts over ${keys.length} keys, maxSize: ${MAX_SIZE}, default options, awaiting ready() when insert returns false`,
        figure: rate(inserts, byDefault.ms, 'items'),
        baseline: `Map of arrays + handler: ${rate(inserts, base.ms, 'items')}`,
        ratio: byDefault.ratio,
      }),
      chart: { label: 'Flush, maxSize 1000 (x Map + handler rate)' },
    },
    row({
      scenario: title,
      arm: `DataBuffer, the same, ${LIFTED_LABEL}`,
      figure: rate(inserts, lifted.ms, 'items'),
      baseline: `Map of arrays + handler: ${rate(inserts, base.ms, 'items')}`,
      ratio: lifted.ratio,
    }),
  );

  const count = ci ? 10_000 : 1_000_000;
  const expiringKeys = Array.from({ length: count }, (_, i) => flat(`key:${i}`));
  const rounds = ci ? 1 : 3;
  const arms = ['sweep', 'buffer', 'timers'];
  const results = { buffer: [], sweep: [], timers: [] };
  for (let round = 0; round < rounds; round++) {
    for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) {
      results[arm].push(await expireTogether(count, expiringKeys, arm));
    }
  }
  const summary = (list) => ({
    ms: median(list.map((r) => r.ms)),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    max: median(list.map((r) => r.max)),
  });
  const buffer = summary(results.buffer);
  const sweep = summary(results.sweep);
  const timers = summary(results.timers);
  const delays = (s) => `p50 ${millis(s.p50)}, p99 ${millis(s.p99)}, max ${millis(s.max)}`;
  const m = compactCount(count);
  const sweepName = 'sliced sweep awaiting the same handler per key';
  rows.push(
    {
      ...row({
        scenario: title,
        arm: `DataBuffer, ${m} keys expiring together (interval: 1000), default options: time to deliver all`,
        figure: millis(buffer.ms),
        baseline: `${sweepName}: ${millis(sweep.ms)}`,
        ratio: buffer.ms / sweep.ms,
        ratioLabel: 'x time',
        max: 3,
      }),
      chart: { label: '1M keys expiring (x sliced-sweep time)', target: 3, lowerIsBetter: true },
    },
    {
      ...row({
        scenario: title,
        arm: `DataBuffer, ${m} keys expiring together, default options: event-loop delay`,
        figure: delays(buffer),
        baseline: `${sweepName}: ${delays(sweep)}`,
        ratio: buffer.p99,
        ratioLabel: 'ms p99',
        max: 10,
      }),
      target: 'p99 < 10 ms',
    },
    row({
      scenario: title,
      arm: `the same DataBuffer against a Map + setTimeout per key: time to deliver all`,
      figure: millis(buffer.ms),
      baseline: `Map + setTimeout per key: ${millis(timers.ms)} (${delays(timers)})`,
      ratio: timers.ms / buffer.ms,
      ratioLabel: 'x faster',
    }),
  );
  return rows;
}
