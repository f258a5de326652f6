import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type InLine, Pipelines } from '../src/pipelines.js';

class Delivery implements InLine<number, Delivery> {
  next: Delivery | undefined = undefined;
  last: Delivery | undefined = undefined;
  constructor(
    readonly key: number,
    readonly id: number,
  ) {}
}

describe('Pipelines (one line of deliveries per key)', () => {
  it('keeps every line in order across thousands of keys joining and leaving', () => {
    // Long runs, so that the lines move to a new Map several times (after 1024 new keys, then
    // 2 × size + 1024) while deliveries of other keys wait in them.
    const step = fc.oneof(
      { weight: 5, arbitrary: fc.record({ add: fc.integer({ min: 0, max: 3000 }) }) },
      { weight: 3, arbitrary: fc.record({ settleFirstOf: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ removeLastOf: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 3000, maxLength: 6000 }), (steps) => {
        const pipelines = new Pipelines<number, Delivery>();
        const model = new Map<number, Delivery[]>();
        let nextId = 0;
        for (const s of steps) {
          if ('add' in s) {
            const delivery = new Delivery(s.add, nextId++);
            const line = model.get(s.add);
            expect(pipelines.add(delivery)).toBe(line === undefined);
            if (line === undefined) model.set(s.add, [delivery]);
            else line.push(delivery);
            continue;
          }
          const keys = [...model.keys()];
          if (keys.length === 0) continue;
          const key = keys[('settleFirstOf' in s ? s.settleFirstOf : s.removeLastOf) % keys.length] as number;
          const line = model.get(key) as Delivery[];
          const delivery = ('settleFirstOf' in s ? line.shift() : line.pop()) as Delivery;
          const nowFirst = pipelines.remove(delivery);
          expect(nowFirst).toBe('settleFirstOf' in s ? line[0] : undefined);
          if (line.length === 0) model.delete(key);
        }
        expect(pipelines.size).toBe([...model.values()].reduce((sum, line) => sum + line.length, 0));
        expect([...pipelines.firsts()].map((d) => d.id)).toEqual(
          [...model.values()].map((line) => line[0]?.id),
        );
        for (const [key, line] of model) {
          expect(pipelines.has(key)).toBe(true);
          expect([...pipelines.of(key)].map((d) => d.id)).toEqual(line.map((d) => d.id));
        }
      }),
      // A failing run of thousands of steps would take minutes to shrink: report the first one found.
      { numRuns: 25, endOnFailure: true },
    );
  });

  it('keeps lines too large to copy in the Map they are in', () => {
    // Past 16,384 keys a renewal keeps the Map: 50,000 keys cross renewals on both sides of that size.
    const pipelines = new Pipelines<number, Delivery>();
    const lines: Delivery[][] = [];
    for (let key = 0; key < 50_000; key++) {
      const line = [new Delivery(key, 2 * key), new Delivery(key, 2 * key + 1)];
      expect(pipelines.add(line[0] as Delivery)).toBe(true);
      expect(pipelines.add(line[1] as Delivery)).toBe(false);
      lines.push(line);
    }
    for (let key = 0; key < 50_000; key += 2)
      expect(pipelines.remove(lines[key]?.[0] as Delivery)).toBe(lines[key]?.[1]);
    expect(pipelines.size).toBe(75_000);
    for (let key = 0; key < 50_000; key++) {
      const want = key % 2 === 0 ? [2 * key + 1] : [2 * key, 2 * key + 1];
      const got = [...pipelines.of(key)].map((d) => d.id);
      if (got.join() !== want.join()) expect(got).toEqual(want); // one expect per mismatch: 50,000 keys
    }
  });
});
