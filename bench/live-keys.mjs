/**
 * Scenario 3: one million distinct keys inserted once each, nothing flushing: the insert rate and the
 * heap bytes each live key costs, against the least a `Map` of arrays can take: exact-size arrays
 * (`set(key, [value])`). The keys are created up front and kept alive by the benchmark, so no arm pays
 * for them.
 * @module
 */
import { DataBuffer } from 'data-buffer';
import { compareHeap, flat } from './harness.mjs';
import { LIFTED, LIFTED_LABEL } from './insert-keys.mjs';
import { compactCount, rate, row } from './report.mjs';

export const title = '3. One million live keys';

const noop = () => {};

export async function run({ ci }) {
  // Below some 50k keys the heap figures drown in the heap's own noise.
  const count = ci ? 50_000 : 1_000_000;
  const rounds = ci ? 2 : 4;
  const keys = Array.from({ length: count }, (_, i) => flat(`key:${i}`));
  const intoBuffer = (options) => () => {
    const buffer = new DataBuffer({ handleFlush: noop, ...options });
    for (let i = 0; i < count; i++) buffer.insert(keys[i], i);
    if (buffer.size !== count) throw new Error(`DataBuffer holds ${buffer.size} items, expected ${count}`);
    return buffer;
  };
  const [exact, base, byDefault, lifted, timers] = compareHeap({
    rounds,
    arms: [
      {
        name: 'Map of exact arrays',
        build: () => {
          const map = new Map();
          for (let i = 0; i < count; i++) {
            const key = keys[i];
            const list = map.get(key);
            if (list === undefined) map.set(key, [i]);
            else list.push(i);
          }
          return map;
        },
      },
      {
        name: 'Map of arrays',
        build: () => {
          const map = new Map();
          for (let i = 0; i < count; i++) {
            const key = keys[i];
            let list = map.get(key);
            if (list === undefined) {
              list = [];
              map.set(key, list);
            }
            list.push(i);
          }
          return map;
        },
      },
      { name: 'DataBuffer, defaults', build: intoBuffer({}), release: (buffer) => buffer.dump() },
      { name: 'DataBuffer, budgets lifted', build: intoBuffer(LIFTED), release: (buffer) => buffer.dump() },
      {
        name: 'Map + setTimeout per key',
        build: () => {
          const map = new Map();
          for (let i = 0; i < count; i++) {
            const key = keys[i];
            const entry = map.get(key);
            if (entry === undefined) {
              const timer = setTimeout(() => map.delete(key), 60_000);
              map.set(key, { items: [i], timer });
            } else {
              entry.items.push(i);
            }
          }
          return map;
        },
        release: (map) => {
          for (const entry of map.values()) clearTimeout(entry.timer);
        },
      },
    ],
  });
  const perKey = (arm) => `${(arm.bytes / count).toFixed(1)} B/key`;
  const n = compactCount(count);
  // compareHeap's ratios are against the first arm, the exact-size arrays.
  const exactRate = `Map of exact arrays: ${rate(count, exact.ms, 'keys')}`;
  const exactHeap = `Map of exact arrays: ${perKey(exact)}`;
  const growing = (what) =>
    `Map of arrays (\`[]\` then push): ${what === 'rate' ? rate(count, base.ms, 'keys') : perKey(base)}`;
  return [
    {
      ...row({
        scenario: title,
        arm: `DataBuffer, ${n} keys, default options: insert rate`,
        figure: rate(count, byDefault.ms, 'keys'),
        baseline: exactRate,
        ratio: byDefault.rateRatio,
        min: 0.6,
      }),
      chart: { label: '1M live keys: insert (x exact-array Map rate)', target: 0.6 },
    },
    {
      ...row({
        scenario: title,
        arm: `DataBuffer, ${n} keys, default options: heap per key`,
        figure: perKey(byDefault),
        baseline: exactHeap,
        ratio: byDefault.heapRatio,
        ratioLabel: 'x heap',
        max: 1.3,
      }),
      chart: { label: '1M live keys: heap per key (x exact-array Map)', target: 1.3, lowerIsBetter: true },
    },
    row({
      scenario: title,
      arm: 'the same DataBuffer, default options, against the growing Map of arrays: insert rate',
      figure: rate(count, byDefault.ms, 'keys'),
      baseline: growing('rate'),
      ratio: base.ms / byDefault.ms,
    }),
    row({
      scenario: title,
      arm: 'the same DataBuffer, default options, against the growing Map of arrays: heap per key',
      figure: perKey(byDefault),
      baseline: growing('heap'),
      ratio: byDefault.bytes / base.bytes,
      ratioLabel: 'x heap',
    }),
    row({
      scenario: title,
      arm: `DataBuffer, ${n} keys, ${LIFTED_LABEL}: insert rate`,
      figure: rate(count, lifted.ms, 'keys'),
      baseline: exactRate,
      ratio: lifted.rateRatio,
    }),
    row({
      scenario: title,
      arm: `DataBuffer, ${n} keys, ${LIFTED_LABEL}: heap per key`,
      figure: perKey(lifted),
      baseline: exactHeap,
      ratio: lifted.heapRatio,
      ratioLabel: 'x heap',
    }),
    row({
      scenario: title,
      arm: `hand-written Map + setTimeout per key, ${n} keys: insert rate`,
      figure: rate(count, timers.ms, 'keys'),
      baseline: exactRate,
      ratio: timers.rateRatio,
    }),
    row({
      scenario: title,
      arm: `hand-written Map + setTimeout per key, ${n} keys: heap per key`,
      figure: perKey(timers),
      baseline: exactHeap,
      ratio: timers.heapRatio,
      ratioLabel: 'x heap',
    }),
  ];
}
