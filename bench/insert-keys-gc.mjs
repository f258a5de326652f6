/**
 * Scenario 1 again, as a diagnosis rather than a target: both arms run in a process started with
 * `--no-allocation-site-pretenuring`, so that V8 places the arrays and objects of both arms alike.
 *
 * Why it is here: over 10k keys the `Map` of arrays gains from V8's allocation-site pretenuring and
 * DataBuffer does not. V8 pretenures an allocation site once mementos left behind its objects show that
 * they survive young-generation collections, and only unoptimized code leaves mementos. The baseline's
 * `[]` is run unoptimized at the start of each round, until the loop is compiled on stack, and gets
 * tenured (`--trace-pretenuring-statistics`: "maybe tenure => tenure"), so its arrays go straight to
 * the old generation. DataBuffer's batch arrays are made inside `insert` (`ListStore.append`), whose
 * code is optimized early and stays so: after the first scavenge no more mementos are left, its site stops
 * at "maybe tenure", and its arrays start young and are copied by every scavenge. These rows show what is left between the two arms once V8 treats them alike.
 * @module
 */

import { randomIndexes, randomKeys } from './harness.mjs';
import { insertRow } from './insert-keys.mjs';

export const title = '1b. Insert, 10k keys, pretenuring off (diagnosis)';

/** Flags of this scenario's process (see bench/run.mjs). */
export const nodeFlags = ['--no-allocation-site-pretenuring'];

export async function run({ ci }) {
  const keyCount = ci ? 100 : 10_000;
  const inserts = ci ? 10_000 : 1_000_000;
  const measure = {
    scenario: title,
    keys: randomKeys(keyCount),
    // The same inputs as scenario 1's default-options rows (the first part of its index list).
    indexes: randomIndexes(inserts * 2, keyCount).subarray(0, inserts),
    rounds: ci ? 3 : 15,
    options: {},
  };
  const both = 'both arms with V8 allocation-site pretenuring off';
  return [
    await insertRow({ ...measure, what: `default options, number values, ${both}` }),
    await insertRow({ ...measure, fresh: true, what: `default options, fresh objects, ${both}` }),
  ];
}
