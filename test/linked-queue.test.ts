import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type InQueue, LinkedQueue } from '../src/linked-queue.js';

class Item implements InQueue<Item> {
  queuePrev: Item | undefined = undefined;
  queueNext: Item | undefined = undefined;
  constructor(readonly n: number) {}
}

describe('LinkedQueue (FIFO linked through its items)', () => {
  it('behaves as an array used with push, shift and splice-out, and its length is exact', () => {
    const step = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ shift: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ remove: fc.nat() }),
      fc.record({ removeAgain: fc.constant(true) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const queue = new LinkedQueue<Item>();
        const model: Item[] = [];
        let next = 0;
        let removed: Item | undefined;
        for (const s of steps) {
          if ('push' in s) {
            for (let i = 0; i < s.push; i++) {
              const item = new Item(next++);
              queue.push(item);
              model.push(item);
            }
          } else if ('shift' in s) {
            for (let i = 0; i < s.shift; i++) expect(queue.shift()).toBe(model.shift());
          } else if ('remove' in s) {
            if (model.length === 0) continue;
            const [item] = model.splice(s.remove % model.length, 1);
            removed = item as Item;
            expect(queue.remove(removed)).toBe(true);
          } else if (removed !== undefined) {
            expect(queue.remove(removed)).toBe(false); // not in the queue any more: nothing changes
          }
          expect(queue.length).toBe(model.length);
          expect([...queue]).toEqual(model);
        }
      }),
    );
  });

  it('takes the head, the tail and the only item out, and pushes on after', () => {
    const queue = new LinkedQueue<Item>();
    const [a, b, c] = [new Item(1), new Item(2), new Item(3)];
    queue.push(a);
    expect(queue.remove(a)).toBe(true);
    expect(queue.shift()).toBeUndefined();
    queue.push(a);
    queue.push(b);
    queue.push(c);
    expect(queue.remove(c)).toBe(true);
    expect(queue.remove(a)).toBe(true);
    queue.push(a);
    expect([...queue]).toEqual([b, a]);
    expect(queue.shift()).toBe(b);
    expect(queue.shift()).toBe(a);
    expect(queue.length).toBe(0);
    expect(a.queueNext).toBeUndefined();
    expect(a.queuePrev).toBeUndefined();
  });
});
