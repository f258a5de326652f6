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
/** The headline runs lift the budgets: 2M items exceed the default `maxBuffered` (1M). */
export const HEADLINE = { maxBuffered: Number.POSITIVE_INFINITY, maxBufferedBytes: Number.POSITIVE_INFINITY };

/** The baseline: what a developer writes to group values by key. */
export function mapOfArrays(keys, indexes, values) {
  const map = new Map();
  for (let i = 0; i < indexes.length; i++) {
    const key = keys[indexes[i]];
    let list = map.get(key);
    if (list === undefined) {
      list = [];
      map.set(key, list);
    }
    list.push(values === undefined ? i : values[i]);
  }
  return map;
}

/** The same inserts into a DataBuffer built with `options`. */
export function intoBuffer(options, keys, indexes, values) {
  const buffer = new DataBuffer({ handleFlush: noop, ...options });
  for (let i = 0; i < indexes.length; i++)
    buffer.insert(keys[indexes[i]], values === undefined ? i : values[i]);
  return buffer;
}

/** The two arms of scenarios 1 and 2: the same inserts into the baseline and into a DataBuffer. */
export function arms(keys, indexes, options, values) {
  return [
    {
      name: 'Map of arrays',
      run: () => mapOfArrays(keys, indexes, values),
      count: (_, map) => countItems(map.values()),
    },
    {
      name: 'DataBuffer',
      run: () => intoBuffer(options, keys, indexes, values),
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

/** How the headline rows describe {@link HEADLINE}. */
export const HEADLINE_LABEL = 'maxBuffered/maxBufferedBytes: Infinity';

/**
 * Runs the inserts given by `indexes` (into `keys`) into the baseline and into a DataBuffer built with
 * `options`, interleaved, and returns the row: DataBuffer's insert rate against the baseline's.
 */
export async function insertRow({ scenario, keys, indexes, options, values, rounds, what }) {
  const [base, ours] = await compare({ arms: arms(keys, indexes, options, values), rounds, warmup: 2 });
  const count = indexes.length;
  return row({
    scenario,
    arm: `DataBuffer, ${compactCount(count)} inserts, ${what}`,
    figure: rate(count, ours.ms, 'inserts'),
    baseline: `Map of arrays: ${rate(count, base.ms, 'inserts')}`,
    ratio: ours.ratio,
    min: 0.75,
    aim: 0.9,
  });
}

export async function run({ ci }) {
  const keyCount = ci ? 100 : 10_000;
  const inserts = ci ? 20_000 : 2_000_000;
  // The default `maxBuffered` is 1M: the default-options runs stay within it.
  const defaultInserts = ci ? 10_000 : 1_000_000;
  const rounds = ci ? 3 : 15;
  const keys = randomKeys(keyCount);
  const indexes = randomIndexes(inserts, keyCount);

  const firstHalf = indexes.subarray(0, defaultInserts);
  const measure = { scenario: title, keys, rounds };
  return [
    {
      ...(await insertRow({ ...measure, indexes, options: HEADLINE, what: HEADLINE_LABEL })),
      chart: { label: 'Insert, 10k keys (x Map rate)', target: 0.75 },
    },
    await insertRow({
      ...measure,
      indexes: firstHalf,
      options: {},
      what: 'default options (byte accounting on), number values',
    }),
    await insertRow({
      ...measure,
      indexes: firstHalf,
      options: {},
      // Built only now, so that a million live objects do not weigh on the runs before.
      values: Array.from({ length: defaultInserts }, (_, i) => ({ id: i, at: 1_700_000_000_000 + i })),
      what: 'default options, { id, at } values',
    }),
  ];
}
