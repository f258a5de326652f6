/**
 * Scenario 4: `insertMany` of lists of 50 items over 10,000 keys, against `list.push(...items)` on the
 * `Map` of arrays.
 * @module
 */
import { DataBuffer } from 'data-buffer';
import { compare, randomIndexes, randomKeys } from './harness.mjs';
import { LIFTED, LIFTED_LABEL } from './insert-keys.mjs';
import { compactCount, rate, row } from './report.mjs';

export const title = '4. insertMany';

const noop = () => {};
const LIST = 50;

function arms(keys, indexes, lists, options) {
  return [
    {
      name: 'Map of arrays, push(...items)',
      run: () => {
        const map = new Map();
        for (let i = 0; i < lists.length; i++) {
          const key = keys[indexes[i]];
          let list = map.get(key);
          if (list === undefined) {
            list = [];
            map.set(key, list);
          }
          list.push(...lists[i]);
        }
        return map;
      },
      count: (_, map) => {
        let count = 0;
        for (const list of map.values()) count += list.length;
        return count;
      },
    },
    {
      name: 'DataBuffer insertMany',
      run: () => {
        const buffer = new DataBuffer({ handleFlush: noop, ...options });
        for (let i = 0; i < lists.length; i++) buffer.insertMany(keys[indexes[i]], lists[i]);
        return buffer;
      },
      count: (_, buffer) => buffer.size,
      teardown: (_, buffer) => buffer.dump(),
    },
  ];
}

export async function run({ ci }) {
  const keyCount = ci ? 100 : 10_000;
  const items = ci ? 20_000 : 2_000_000;
  const defaultItems = ci ? 10_000 : 1_000_000;
  const rounds = ci ? 3 : 15;
  const keys = randomKeys(keyCount);
  const lists = Array.from({ length: items / LIST }, (_, c) =>
    Array.from({ length: LIST }, (_, j) => c * LIST + j),
  );
  const indexes = randomIndexes(lists.length, keyCount);
  const defaultLists = lists.slice(0, defaultItems / LIST);
  const [baseDefault, byDefault] = await compare({
    arms: arms(keys, indexes, defaultLists, {}),
    rounds,
    warmup: 2,
  });
  const [base, lifted] = await compare({ arms: arms(keys, indexes, lists, LIFTED), rounds, warmup: 2 });
  return [
    {
      ...row({
        scenario: title,
        arm: `DataBuffer, ${compactCount(defaultItems)} items in lists of ${LIST}, default options`,
        figure: rate(defaultItems, byDefault.ms, 'items'),
        baseline: `push(...items): ${rate(defaultItems, baseDefault.ms, 'items')}`,
        ratio: byDefault.ratio,
      }),
      chart: { label: 'insertMany (x push(...items) rate)' },
    },
    row({
      scenario: title,
      arm: `DataBuffer, ${compactCount(items)} items in lists of ${LIST}, ${LIFTED_LABEL}`,
      figure: rate(items, lifted.ms, 'items'),
      baseline: `push(...items): ${rate(items, base.ms, 'items')}`,
      ratio: lifted.ratio,
    }),
  ];
}
