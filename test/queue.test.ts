import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Queue } from '../src/queue.js';

describe('Queue (blocks of slots, FIFO)', () => {
  it('behaves as an array used with push and shift, across block boundaries', () => {
    // Runs of pushes and shifts long enough to cross several 1024-slot blocks, and to empty the queue.
    const step = fc.oneof(
      fc.record({ push: fc.integer({ min: 0, max: 3000 }) }),
      fc.record({ shift: fc.integer({ min: 0, max: 3000 }) }),
      fc.constant({ clear: true }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        const queue = new Queue<number>();
        const model: number[] = [];
        let next = 0;
        for (const s of steps) {
          if ('push' in s) {
            for (let i = 0; i < s.push; i++) {
              queue.push(next);
              model.push(next++);
            }
          } else if ('shift' in s) {
            for (let i = 0; i < s.shift; i++) {
              const [got, want] = [queue.shift(), model.shift()];
              if (got !== want) expect(got).toBe(want); // one expect per mismatch only: thousands of shifts per run
            }
          } else {
            queue.clear();
            model.length = 0;
          }
          expect(queue.length).toBe(model.length);
        }
        expect([...queue]).toEqual(model);
      }),
      { numRuns: 100 },
    );
  });

  it('gives undefined when empty, and keeps working after it was emptied', () => {
    const queue = new Queue<string>();
    expect(queue.shift()).toBeUndefined();
    queue.push('a');
    expect(queue.shift()).toBe('a');
    expect(queue.shift()).toBeUndefined();
    queue.push('b');
    queue.push('c');
    expect([...queue]).toEqual(['b', 'c']);
    expect(queue.length).toBe(2);
  });
});
