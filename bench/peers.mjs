/**
 * Scenario 6: DataBuffer against what a Node developer would use instead, each on the work it can do,
 * with the same inputs and the same async no-op handler; every arm must deliver every item.
 * - One stream (one key), batches of 1000 or a 1 s interval.
 * - Keyed: 1,000 keys, batches of 100 or a 1 s interval per key, built by hand where the peer has no keys.
 * The run of an arm ends when every item has been delivered (what is left at the end is flushed).
 * @module
 */
import { AsyncBatcher } from '@tanstack/pacer';
import { cargoQueue } from 'async';
import { DataBuffer } from 'data-buffer';
import { bufferTime, concatMap, filter, groupBy, mergeMap, Subject } from 'rxjs';
import { compare, randomIndexes, randomKeys, until } from './harness.mjs';
import { compactCount, row } from './report.mjs';

export const title = '6. Peers';

/** Items per turn of the event loop in the rows where items arrive over time. */
const PER_TURN = 100;

const INTERVAL = 1000;

/** Fresh per-run state: the handler counts what it is given. */
function counter() {
  const state = { delivered: 0, sleeps: [] };
  state.handler = async (items) => {
    state.delivered += items.length;
  };
  return state;
}

const delivered = (state) => state.delivered;

/** A `Map` of per-key batchers, built on first use: how a keyless peer is used for keyed work. */
function perKey(create) {
  const map = new Map();
  return {
    map,
    get(key) {
      let batcher = map.get(key);
      if (batcher === undefined) {
        batcher = create(key);
        map.set(key, batcher);
      }
      return batcher;
    },
  };
}

/** DataBuffer runs with its default options against every peer, budgets and byte estimate included. */
const DEFAULTS = {};
/** The peers bound nothing: the rows marked "budgets lifted" run DataBuffer without its byte budget. */
const LIFTED = { maxBufferedBytes: Number.POSITIVE_INFINITY };

/** Resolves on the next turn of the event loop. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The arms for `events` (`{ key, value }`), batches of `maxSize`. `keyed` says whether batches are per
 * key; when not, every event goes to one stream. `options` go to the DataBuffer. With `perTurn`, the
 * first two arms (DataBuffer and the hand-written buffer) take the events `perTurn` per turn of the
 * event loop, as a server takes them from requests, instead of in one synchronous loop.
 */
export function arms(events, maxSize, keyed, options = DEFAULTS, perTurn = 0) {
  const n = events.length;
  const keyOf = keyed ? (event) => event.key : () => 'stream';
  return [
    {
      name: 'DataBuffer',
      setup: counter,
      run: async (state) => {
        const buffer = new DataBuffer({
          handleFlush: (_key, items) => state.handler(items),
          maxSize,
          interval: INTERVAL,
          ...options,
        });
        for (let i = 0; i < n; i++) {
          const event = events[i];
          if (!buffer.insert(keyOf(event), event)) await buffer.ready();
          if (perTurn !== 0 && i % perTurn === perTurn - 1) await nextTurn();
        }
        await buffer.close();
      },
      count: delivered,
    },
    {
      name: keyed ? 'Map + setTimeout per key' : 'array + setTimeout',
      setup: counter,
      run: async (state) => {
        // The usual home-made buffer: a list and a timer per key, the handler's promises kept to await.
        const lists = new Map();
        const pending = [];
        const flush = (key) => {
          const entry = lists.get(key);
          if (entry === undefined) return;
          lists.delete(key);
          clearTimeout(entry.timer);
          pending.push(state.handler(entry.items));
        };
        for (let i = 0; i < n; i++) {
          const event = events[i];
          const key = keyOf(event);
          let entry = lists.get(key);
          if (entry === undefined) {
            entry = { items: [], timer: setTimeout(flush, INTERVAL, key) };
            lists.set(key, entry);
          }
          entry.items.push(event);
          if (entry.items.length >= maxSize) flush(key);
          if (perTurn !== 0 && i % perTurn === perTurn - 1) await nextTurn();
        }
        for (const key of [...lists.keys()]) flush(key);
        await Promise.all(pending);
      },
      count: delivered,
    },
    {
      name: keyed ? 'RxJS groupBy + bufferTime' : 'RxJS bufferTime',
      setup: counter,
      run: (state) =>
        new Promise((resolve, reject) => {
          const subject = new Subject();
          const batch = (source) =>
            source.pipe(
              bufferTime(INTERVAL, null, maxSize),
              filter((items) => items.length > 0),
              concatMap((items) => state.handler(items)),
            );
          const pipeline = keyed
            ? subject.pipe(
                groupBy((event) => event.key),
                mergeMap((group) => batch(group)),
              )
            : batch(subject);
          pipeline.subscribe({ error: reject, complete: resolve });
          for (let i = 0; i < n; i++) subject.next(events[i]);
          subject.complete();
        }),
      count: delivered,
    },
    {
      name: keyed ? 'Map of TanStack AsyncBatchers' : 'TanStack AsyncBatcher',
      setup: counter,
      run: async (state) => {
        const batchers = perKey(() => new AsyncBatcher(state.handler, { maxSize, wait: INTERVAL }));
        for (let i = 0; i < n; i++) {
          const event = events[i];
          // addItem's promise settles `wait` ms later; keep it so that teardown can let it finish.
          state.sleeps.push(batchers.get(keyOf(event)).addItem(event));
        }
        await Promise.all([...batchers.map.values()].map((batcher) => batcher.flush()));
        await until(() => [...batchers.map.values()].every((b) => !b.store.state.isExecuting));
      },
      count: delivered,
      teardown: (state) => Promise.all(state.sleeps),
    },
    {
      name: keyed ? "Map of async's cargoQueues" : "async's cargoQueue",
      setup: counter,
      run: async (state) => {
        // An async function: `async` calls a plain function with a callback as its last argument.
        const queues = perKey(() => cargoQueue(async (items) => state.handler(items), 1, maxSize));
        for (let i = 0; i < n; i++) {
          const event = events[i];
          queues.get(keyOf(event)).push(event);
        }
        await Promise.all(
          [...queues.map.values()].map((queue) => (queue.idle() ? undefined : queue.drain())),
        );
      },
      count: delivered,
    },
  ];
}

export async function run({ ci }) {
  const rows = [];
  // Nine rounds: with five, the ratios against the hand-written buffers moved by 0.4 from run to run.
  const rounds = ci ? 1 : 9;
  const warmup = ci ? 1 : 2;
  const streamCount = ci ? 5_000 : 500_000;
  const streamEvents = Array.from({ length: streamCount }, (_, i) => ({ key: 'stream', value: i }));
  const stream = await compare({ arms: arms(streamEvents, 1000, false), rounds, warmup, ratio: 'time' });
  const keyCount = ci ? 50 : 1_000;
  const keyedCount = ci ? 5_000 : 200_000;
  const keys = randomKeys(keyCount);
  const indexes = randomIndexes(keyedCount, keyCount);
  const keyedEvents = Array.from({ length: keyedCount }, (_, i) => ({ key: keys[indexes[i]], value: i }));
  const keyed = await compare({ arms: arms(keyedEvents, 100, true), rounds, warmup, ratio: 'time' });

  const speed = (count, ms) => `${((count * 1000) / ms / 1e6).toPrecision(3)} M items/s`;
  for (const [results, count, work] of [
    [stream, streamCount, `one stream, ${compactCount(streamCount)} items, batches of 1000`],
    [keyed, keyedCount, `${compactCount(keyCount)} keys, ${compactCount(keyedCount)} items, batches of 100`],
  ]) {
    const [ours, ...peers] = results;
    for (const peer of peers) {
      rows.push({
        ...row({
          scenario: title,
          arm: `DataBuffer, default options, vs ${peer.name} (${work})`,
          figure: `DataBuffer: ${speed(count, ours.ms)}`,
          baseline: `${peer.name}: ${speed(count, peer.ms)}`,
          ratio: peer.ratio,
          ratioLabel: 'x faster',
          min: 1,
        }),
        chart: {
          label: `vs ${peer.name} (${count === streamCount ? 'stream' : 'keyed'}, x faster)`,
          target: 1,
        },
      });
    }
  }
  // Against the fastest peer only, the same work under other conditions, each a row of its own.
  const variants = [
    // In one synchronous loop, DataBuffer cannot deliver a full batch before the loop ends (a handler
    // never runs inside an insert), so it holds every batch until then; the hand-written buffer calls
    // its handler at once. Items arriving over turns of the event loop, as from requests, show both at work.
    {
      options: DEFAULTS,
      perTurn: PER_TURN,
      ours: 'DataBuffer, default options',
      how: `, ${PER_TURN} items per event-loop turn`,
    },
    // Without the byte budget: what the byte estimate's sample costs, on record.
    {
      options: LIFTED,
      perTurn: 0,
      ours: 'DataBuffer, budgets lifted (maxBufferedBytes: Infinity)',
      how: '',
    },
  ];
  for (const { options, perTurn, ours: label, how } of variants) {
    for (const [events, size, keyed, count, work] of [
      [streamEvents, 1000, false, streamCount, `one stream, ${compactCount(streamCount)} items`],
      [
        keyedEvents,
        100,
        true,
        keyedCount,
        `${compactCount(keyCount)} keys, ${compactCount(keyedCount)} items`,
      ],
    ]) {
      const [ours, handWritten] = await compare({
        arms: arms(events, size, keyed, options, perTurn).slice(0, 2),
        rounds,
        warmup,
        ratio: 'time',
      });
      rows.push(
        row({
          scenario: title,
          arm: `${label} vs ${handWritten.name}${how} (${work})`,
          figure: `DataBuffer: ${speed(count, ours.ms)}`,
          baseline: `${handWritten.name}: ${speed(count, handWritten.ms)}`,
          ratio: handWritten.ratio,
          ratioLabel: 'x faster',
        }),
      );
    }
  }
  return rows;
}
