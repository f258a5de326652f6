/**
 * Scenario 2: every insert goes to one key, against the same `Map` of arrays as scenario 1.
 * @module
 */
import { insertRow, LIFTED, LIFTED_LABEL } from './insert-keys.mjs';

export const title = '2. Insert, one hot key';

export async function run({ ci }) {
  const inserts = ci ? 10_000 : 1_000_000;
  const liftedInserts = ci ? 20_000 : 2_000_000;
  const rounds = ci ? 3 : 15;
  const measure = { scenario: title, keys: ['hot'], rounds };
  return [
    {
      ...(await insertRow({
        ...measure,
        indexes: new Uint32Array(inserts),
        options: {},
        what: 'default options, number values',
        min: 0.75,
        aim: 0.9,
      })),
      chart: { label: 'Insert, one hot key (x Map rate)', target: 0.75 },
    },
    await insertRow({
      ...measure,
      indexes: new Uint32Array(liftedInserts),
      options: LIFTED,
      what: `number values, ${LIFTED_LABEL}`,
    }),
  ];
}
