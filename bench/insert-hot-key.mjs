/**
 * Scenario 2: every insert goes to one key, against the same `Map` of arrays as scenario 1.
 * @module
 */
import { compare } from './harness.mjs';
import { arms, HEADLINE } from './insert-keys.mjs';
import { compactCount, rate, row } from './report.mjs';

export const title = '2. Insert, one hot key';

export async function run({ ci }) {
  const inserts = ci ? 20_000 : 2_000_000;
  const defaultInserts = ci ? 10_000 : 1_000_000;
  const rounds = ci ? 3 : 15;
  const keys = ['hot'];
  const rows = [];

  const [base, headline] = await compare({
    arms: arms(keys, new Uint32Array(inserts), HEADLINE),
    rounds,
    warmup: 2,
  });
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
    chart: { label: 'Insert, one hot key (x Map rate)', target: 0.75 },
  });

  const [baseDefault, byDefault] = await compare({
    arms: arms(keys, new Uint32Array(defaultInserts), {}),
    rounds,
    warmup: 2,
  });
  rows.push(
    row({
      scenario: title,
      arm: `DataBuffer, ${compactCount(defaultInserts)} inserts, default options, number values`,
      figure: rate(defaultInserts, byDefault.ms, 'inserts'),
      baseline: `Map of arrays: ${rate(defaultInserts, baseDefault.ms, 'inserts')}`,
      ratio: byDefault.ratio,
      min: 0.75,
      aim: 0.9,
    }),
  );
  return rows;
}
