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

export async function run({ ci }) {
  const keyCount = ci ? 100 : 10_000;
  const inserts = ci ? 20_000 : 2_000_000;
  // The default `maxBuffered` is 1M: the default-options runs stay within it.
  const defaultInserts = ci ? 10_000 : 1_000_000;
  const rounds = ci ? 3 : 15;
  const keys = randomKeys(keyCount);
  const indexes = randomIndexes(inserts, keyCount);
  const rows = [];

  const [base, headline] = await compare({ arms: arms(keys, indexes, HEADLINE), rounds, warmup: 2 });
  rows.push({
    ...row({
      scenario: title,
      arm: `DataBuffer, ${compactCount(inserts)} inserts, maxBuffered/maxBufferedBytes: Infinity`,
      figure: rate(inserts, headline.ms, 'inserts'),
      baseline: `Map of arrays: ${rate(inserts, base.ms, 'inserts')}`,
      ratio: headline.ratio,
      min: 0.75,
      aim: 0.9,
    }),
    chart: { label: 'Insert, 10k keys (x Map rate)', target: 0.75 },
  });

  const firstHalf = indexes.subarray(0, defaultInserts);
  const [baseDefault, byDefault] = await compare({ arms: arms(keys, firstHalf, {}), rounds, warmup: 2 });
  rows.push(
    row({
      scenario: title,
      arm: `DataBuffer, ${compactCount(defaultInserts)} inserts, default options (byte accounting on), number values`,
      figure: rate(defaultInserts, byDefault.ms, 'inserts'),
      baseline: `Map of arrays: ${rate(defaultInserts, baseDefault.ms, 'inserts')}`,
      ratio: byDefault.ratio,
      min: 0.75,
      aim: 0.9,
    }),
  );

  const events = Array.from({ length: defaultInserts }, (_, i) => ({ id: i, at: 1_700_000_000_000 + i }));
  const [baseObjects, objects] = await compare({
    arms: arms(keys, firstHalf, {}, events),
    rounds,
    warmup: 2,
  });
  rows.push(
    row({
      scenario: title,
      arm: `DataBuffer, ${compactCount(defaultInserts)} inserts, default options, { id, at } values`,
      figure: rate(defaultInserts, objects.ms, 'inserts'),
      baseline: `Map of arrays: ${rate(defaultInserts, baseObjects.ms, 'inserts')}`,
      ratio: objects.ratio,
      min: 0.75,
      aim: 0.9,
    }),
  );
  return rows;
}
