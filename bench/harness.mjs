/**
 * A small interleaved benchmark harness. Every comparison runs its arms in rounds (A, B, A, B, …,
 * reversing the order every other round) in one process, so that a noisy neighbour, a GC or a CPU
 * frequency change hits every arm alike; each figure is the median over the rounds, and each ratio is
 * the median of the per-round ratios against the first arm (the baseline).
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Collects garbage twice when the process runs with `--expose-gc` (the runner always passes it). */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Runs `arms` interleaved and returns, per arm, its median time (ms) and its median ratio to the first
 * arm. An arm is `{ name, setup?, run, teardown?, count? }`: `setup()` builds the arm's fresh state
 * outside the timing, `run(state)` is the timed work (sync or async), `teardown(state, result)` frees it,
 * and `count(state, result)` says how much output the arm produced, which must be the same for every
 * arm in every round (the harness throws otherwise: a faster arm that did less work proves nothing).
 *
 * @param {object} spec
 * @param {{ name: string, setup?: () => any, run: (state: any) => any, teardown?: (state: any, result: any) => any, count?: (state: any, result: any) => number }[]} spec.arms
 * @param {number} spec.rounds measured rounds
 * @param {number} [spec.warmup] unmeasured rounds first (JIT warm-up), default 1
 * @param {'rate' | 'time'} [spec.ratio] `rate` (default): baseline time / arm time, so > 1 means the arm
 *   is faster; `time`: arm time / baseline time.
 */
export async function compare({ arms, rounds, warmup = 1, ratio = 'rate' }) {
  const times = arms.map(() => []);
  const counts = arms.map(() => undefined);
  for (let round = 0; round < warmup + rounds; round++) {
    const order = round % 2 === 0 ? arms.map((_, i) => i) : arms.map((_, i) => arms.length - 1 - i);
    for (const i of order) {
      const arm = arms[i];
      const state = arm.setup ? await arm.setup() : undefined;
      collectGarbage();
      const start = performance.now();
      let result = arm.run(state);
      if (result instanceof Promise) result = await result;
      const elapsed = performance.now() - start;
      if (arm.count) {
        const count = await arm.count(state, result);
        counts[i] = count;
        if (count !== counts[0] && counts[0] !== undefined) {
          throw new Error(`${arm.name} produced ${count} items where ${arms[0].name} produced ${counts[0]}`);
        }
      }
      if (arm.teardown) await arm.teardown(state, result);
      if (round >= warmup) times[i].push(elapsed);
    }
  }
  return arms.map((arm, i) => ({
    name: arm.name,
    ms: median(times[i]),
    ratio: median(times[i].map((t, round) => (ratio === 'rate' ? times[0][round] / t : t / times[0][round]))),
    count: counts[i],
    runs: times[i].length,
  }));
}

/**
 * Heap bytes kept alive by what `build()` returns, and the time `build()` took, arm by arm in
 * interleaved rounds. The heap is measured after two full GCs before and after, with the result still
 * referenced; `release(result)` then frees it.
 *
 * @param {object} spec
 * @param {{ name: string, build: () => any, release?: (result: any) => void }[]} spec.arms
 * @param {number} spec.rounds
 * @param {number} [spec.warmup] default 1
 */
export function compareHeap({ arms, rounds, warmup = 1 }) {
  const bytes = arms.map(() => []);
  const times = arms.map(() => []);
  for (let round = 0; round < warmup + rounds; round++) {
    const order = round % 2 === 0 ? arms.map((_, i) => i) : arms.map((_, i) => arms.length - 1 - i);
    for (const i of order) {
      const measured = measureHeap(arms[i]);
      if (round >= warmup) {
        bytes[i].push(measured.bytes);
        times[i].push(measured.ms);
      }
    }
  }
  return arms.map((arm, i) => ({
    name: arm.name,
    ms: median(times[i]),
    bytes: median(bytes[i]),
    rateRatio: median(times[i].map((t, round) => times[0][round] / t)),
    // The heap does not depend on the machine's load: a ratio of the medians is enough.
    heapRatio: median(bytes[i]) / median(bytes[0]),
  }));
}

/**
 * One build of one arm. A function of its own, so that its result is unreachable once it returns: a
 * result left in a stack slot of the caller would still count in the next arm's "before".
 */
function measureHeap(arm) {
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const start = performance.now();
  const result = arm.build();
  const ms = performance.now() - start;
  collectGarbage();
  const bytes = process.memoryUsage().heapUsed - before;
  arm.release?.(result);
  return { bytes, ms };
}

/**
 * An event-loop delay monitor (`perf_hooks.monitorEventLoopDelay`, 1 ms resolution). It is enabled,
 * and given a turn of the loop, before the work is set up: a histogram enabled in the same turn as a
 * long block can miss that block. `start()` then clears what setting up recorded; `stop()` returns the
 * wall time since `start()` and the delays in ms (p50, p99, max).
 */
export async function loopDelayMonitor() {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, 20));
  let started = 0;
  return {
    start() {
      histogram.reset();
      started = performance.now();
    },
    async stop() {
      const ms = performance.now() - started;
      // Let the histogram's timer run once more, so that a block at the very end is recorded too.
      await new Promise((resolve) => setTimeout(resolve, 5));
      histogram.disable();
      return {
        ms,
        p50: histogram.percentile(50) / 1e6,
        p99: histogram.percentile(99) / 1e6,
        max: histogram.max / 1e6,
      };
    },
  };
}

/** Blocks the thread until `performance.now()` reaches `until`: used to make deadlines all pass together. */
export function busyWaitUntil(until) {
  while (performance.now() < until) {
    // Spin: the point is that no timer may run before every deadline has passed.
  }
}

/**
 * Resolves when `predicate()` holds, checking on each turn of the event loop; rejects after `timeout`
 * ms, so that an arm that loses items fails the run instead of hanging it.
 */
export function until(predicate, timeout = 120_000) {
  const deadline = performance.now() + timeout;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) resolve();
      else if (performance.now() > deadline) reject(new Error(`Still waiting after ${timeout} ms`));
      else setImmediate(check);
    };
    check();
  });
}

/** `count` distinct pseudo-random keys like `user:k3x9q2`, the same for every arm (seeded). */
export function randomKeys(count, seed = 1) {
  const next = seeded(seed);
  const keys = new Set();
  while (keys.size < count) keys.add(flat(`user:${Math.floor(next() * 2 ** 40).toString(36)}`));
  return [...keys];
}

/** `length` indexes below `bound`, uniformly at random (seeded): which key each insert goes to. */
export function randomIndexes(length, bound, seed = 2) {
  const next = seeded(seed);
  const indexes = new Uint32Array(length);
  for (let i = 0; i < length; i++) indexes[i] = Math.floor(next() * bound);
  return indexes;
}

/**
 * A concatenated string is a rope in V8 until something flattens it, and every `Map` lookup with a rope
 * key pays for the indirection. Keys that come off the wire (JSON, a socket) are flat: so are ours.
 */
export function flat(text) {
  return Buffer.from(text).toString();
}

/** mulberry32: a tiny seeded PRNG, so every run sees the same inputs. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
