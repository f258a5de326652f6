/**
 * Scenario 1: inserts of small values over 10,000 random string keys, against the limit: a plain
 * `Map<key, value[]>` (`get`, `set` when missing, `push`). Nothing flushes during a run.
 * @module
 */
import { DataBuffer } from 'data-buffer';
import { compare, randomIndexes, randomKeys } from './harness.mjs';
import { compactCount, rate, row } from './report.mjs';

export const title = '1. Insert, 10k keys';

const noop = () => {};
/**
 * The rows marked "budgets lifted": the configuration nobody runs, kept for comparison with the
 * headline rows, which use the default options (and so stay within the default `maxBuffered`, 1M).
 */
export const LIFTED = { maxBuffered: Number.POSITIVE_INFINITY, maxBufferedBytes: Number.POSITIVE_INFINITY };

/** A new `{ path, user, at }` object for insert `i`, built in the timed loop of both arms. */
function freshObject(keys, indexes, i) {
  return { path: keys[indexes[i]], user: 'u', at: 1_700_000_000_000 + i };
}

/** The baseline: what a developer writes to group values by key. */
export function mapOfArrays(keys, indexes, fresh = false) {
  const map = new Map();
  for (let i = 0; i < indexes.length; i++) {
    const key = keys[indexes[i]];
    let list = map.get(key);
    if (list === undefined) {
      list = [];
      map.set(key, list);
    }
    list.push(fresh ? freshObject(keys, indexes, i) : i);
  }
  return map;
}

/** The same inserts into a DataBuffer built with `options`. */
export function intoBuffer(options, keys, indexes, fresh = false) {
  const buffer = new DataBuffer({ handleFlush: noop, ...options });
  for (let i = 0; i < indexes.length; i++)
    buffer.insert(keys[indexes[i]], fresh ? freshObject(keys, indexes, i) : i);
  return buffer;
}

/** The two arms of scenarios 1 and 2: the same inserts into the baseline and into a DataBuffer. */
export function arms(keys, indexes, options, fresh) {
  return [
    {
      name: 'Map of arrays',
      run: () => mapOfArrays(keys, indexes, fresh),
      count: (_, map) => countItems(map.values()),
    },
    {
      name: 'DataBuffer',
      run: () => intoBuffer(options, keys, indexes, fresh),
      count: (_, buffer) => buffer.size,
      teardown: (_, buffer) => buffer.dump(),
    },
  ];
}

function countItems(lists) {
  let count = 0;
  for (const list of lists) count += list.length;
  return count;
}

/** How the rows with {@link LIFTED} say so. */
export const LIFTED_LABEL = 'budgets lifted (maxBuffered/maxBufferedBytes: Infinity)';

/**
 * Runs the inserts given by `indexes` (into `keys`) into the baseline and into a DataBuffer built with
 * `options`, interleaved, and returns the row: DataBuffer's insert rate against the baseline's.
 */
export async function insertRow({ scenario, keys, indexes, options, fresh, rounds, what, min, aim }) {
  const [base, ours] = await compare({ arms: arms(keys, indexes, options, fresh), rounds, warmup: 2 });
  const count = indexes.length;
  return row({
    scenario,
    arm: `DataBuffer, ${compactCount(count)} inserts, ${what}`,
    figure: rate(count, ours.ms, 'inserts'),
    baseline: `Map of arrays: ${rate(count, base.ms, 'inserts')}`,
    ratio: ours.ratio,
    min,
    aim,
  });
}

export async function run({ ci }) {
  const keyCount = ci ? 100 : 10_000;
  // The default `maxBuffered` is 1M: the default-options runs stay within it.
  const inserts = ci ? 10_000 : 1_000_000;
  const liftedInserts = ci ? 20_000 : 2_000_000;
  const rounds = ci ? 3 : 15;
  const keys = randomKeys(keyCount);
  const indexes = randomIndexes(liftedInserts, keyCount);
  const firstPart = indexes.subarray(0, inserts);
  const measure = { scenario: title, keys, rounds };
  return [
    {
      ...(await insertRow({
        ...measure,
        indexes: firstPart,
        options: {},
        what: 'default options, number values',
        min: 0.75,
        aim: 0.9,
      })),
      chart: { label: 'Insert, 10k keys, numbers (x Map rate)', target: 0.75 },
    },
    {
      ...(await insertRow({
        ...measure,
        indexes: firstPart,
        options: {},
        fresh: true,
        what: 'default options, fresh { path, user, at } objects (built in both loops)',
        min: 0.9,
      })),
      chart: { label: 'Insert, 10k keys, objects (x Map rate)', target: 0.9 },
    },
    await insertRow({ ...measure, indexes, options: LIFTED, what: `number values, ${LIFTED_LABEL}` }),
  ];
}
