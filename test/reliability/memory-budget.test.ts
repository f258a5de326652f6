/**
 * The memory budget under a stuck or slow sink: each `onFull` policy keeps its promise, the budget is
 * never exceeded (a `'backpressure'` producer that ignores `insert`'s `false` is held at the hard
 * ceiling, twice the budget), and every item is still accounted for exactly once.
 */
import { describe, expect, it } from 'vitest';
import { BufferFullError, type DropReason, type OnFullPolicy, ReadyTimeoutError } from '../../src/index.js';
import { useFakeTimersInEveryTest } from '../helpers.js';
import type { Item } from './checker.js';
import { never, setup } from './setup.js';

useFakeTimersInEveryTest();

/** Inserts round-robin into `keys`, `count` items, `every` ms apart; under 'throw', counts refusals. */
async function produce(
  checker: ReturnType<typeof setup>['checker'],
  {
    count,
    every,
    keys = ['a', 'b', 'c'],
    budget,
  }: { count: number; every: number; keys?: string[]; budget: number },
) {
  let refused = 0;
  let falses = 0;
  for (let i = 0; i < count; i++) {
    try {
      if (!checker.insert(keys[i % keys.length] as string)) falses++;
    } catch (error) {
      if (!(error instanceof BufferFullError)) throw error;
      refused++;
    }
    expect(checker.buffer.size).toBeLessThanOrEqual(budget);
    await checker.advance(every);
    expect(checker.buffer.size).toBeLessThanOrEqual(budget);
  }
  return { refused, falses };
}

describe('memory budget: a stuck sink', () => {
  it("'drop-oldest' keeps the newest items and drops the oldest ones not yet handed to handleFlush", async () => {
    const { checker, buffer } = setup({
      maxBuffered: 10,
      onFull: 'drop-oldest',
      onDrop: (key, items, reason) => checker.onDrop(key, items, reason),
      flushTimeout: Number.POSITIVE_INFINITY,
      outcome: () => never(),
    });
    await produce(checker, { count: 60, every: 20, budget: 10 });
    expect(buffer.size).toBe(10);
    // A partition runs one flush at a time: only the first batch taken (key a's) is in flight; the
    // rest may be dropped, oldest first, per key exactly and across keys to within one interval.
    const inFlight = checker.calls.flatMap((call) => call.ids);
    expect(inFlight).toEqual([0, 3]);
    const dropped = checker.idsWith('dropped');
    const kept = Array.from({ length: 60 }, (_, id) => id).filter(
      (id) => !dropped.includes(id) && !inFlight.includes(id),
    );
    expect(kept).toHaveLength(8);
    for (const key of [0, 1, 2]) {
      const keptOfKey = kept.filter((id) => id % 3 === key);
      const droppedOfKey = dropped.filter((id) => id % 3 === key);
      expect(Math.max(...droppedOfKey)).toBeLessThan(Math.min(...keptOfKey));
    }
    // 5 items are inserted per interval: the 8 kept are among the newest 8 + 5.
    expect(Math.min(...kept)).toBeGreaterThanOrEqual(60 - 8 - 5);
    expect(new Set(checker.drops.map((d) => d.reason))).toEqual(new Set(['drop-oldest']));
    expect(checker.check()).toMatchObject({ inserted: 60, dropped: 50, pending: 10 });
  });

  it("'drop-newest' keeps the oldest items, refuses the new ones and says so with false", async () => {
    const { checker, buffer } = setup({
      maxBuffered: 10,
      onFull: 'drop-newest',
      onDrop: (key, items, reason) => checker.onDrop(key, items, reason),
      flushTimeout: Number.POSITIVE_INFINITY,
      outcome: () => never(),
    });
    const { falses } = await produce(checker, { count: 40, every: 20, budget: 10 });
    expect(falses).toBe(31); // the 10th insert fills the budget, then 30 refusals
    expect(buffer.size).toBe(10);
    expect(checker.idsWith('dropped')).toEqual(Array.from({ length: 30 }, (_, i) => 10 + i));
    expect(new Set(checker.drops.map((d) => d.reason))).toEqual(new Set(['drop-newest']));
    expect(checker.logs('warn')[0]).toEqual({
      level: 'warn',
      message: "data-buffer: dropped 1 item(s): the buffer is full (onFull: 'drop-newest')",
      details: { dropped: 1 },
    });
    // Rate-limited: 30 drops over 600 ms give at most one warning per second.
    expect(checker.logs('warn').length).toBeLessThanOrEqual(2);
    checker.check();
  });

  it("'throw' refuses with a BufferFullError and stores nothing of a refused insertMany", async () => {
    const { checker, buffer } = setup({
      maxBuffered: 10,
      onFull: 'throw',
      flushTimeout: Number.POSITIVE_INFINITY,
      outcome: () => never(),
    });
    const { refused } = await produce(checker, { count: 30, every: 20, budget: 10 });
    expect(refused).toBe(20);
    expect(() => checker.insert('a')).toThrow(
      expect.objectContaining({
        name: 'BufferFullError',
        code: 'ERR_BUFFER_FULL',
        message: 'The buffer is full (maxBuffered is 10 items); the item was not inserted',
      }),
    );
    expect(() => checker.insertMany('a', 2)).toThrow(BufferFullError);
    expect(buffer.size).toBe(10);
    expect(checker.check()).toMatchObject({ inserted: 10, dropped: 0 });
  });

  it("'backpressure' returns false at the budget, and ready() resolves once a delivery makes room", async () => {
    const gates: (() => void)[] = [];
    const { checker, buffer } = setup({
      maxBuffered: 5,
      outcome: () => new Promise<void>((resolve) => gates.push(resolve)),
    });
    expect(checker.insert('a', 4)).toBe(true);
    expect(checker.insert('a')).toBe(false);
    let ready = false;
    void buffer.ready().then(() => {
      ready = true;
    });
    // Block never drops: a producer that ignores `false` is still served, over the budget.
    expect(checker.insert('b')).toBe(false);
    expect(buffer.size).toBe(6);
    await checker.advance(100);
    expect(checker.calls).toHaveLength(1);
    expect(ready).toBe(false);
    gates.shift()?.();
    await checker.advance(0);
    expect(ready).toBe(true);
    expect(buffer.size).toBe(1);
    await checker.until(buffer.ready());
    checker.check();
  });

  it('ready({ timeout }) rejects with a ReadyTimeoutError when no room is made in time', async () => {
    const { checker, buffer } = setup({ maxBuffered: 2, outcome: () => never(), flushTimeout: 10_000 });
    checker.insert('a', 2);
    const waiting = buffer.ready({ timeout: 50 });
    const outcome = waiting.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await checker.advance(49);
    await checker.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(ReadyTimeoutError);
    expect(error).toMatchObject({
      code: 'ERR_READY_TIMEOUT',
      message: 'The buffer had no room within 50 ms',
    });
    checker.check();
  });

  it('ready({ signal }) rejects with the abort reason', async () => {
    const { checker, buffer } = setup({ maxBuffered: 2, outcome: () => never(), flushTimeout: 10_000 });
    checker.insert('a', 2);
    const controller = new AbortController();
    const waiting = buffer.ready({ signal: controller.signal });
    controller.abort(new Error('request cancelled'));
    await expect(waiting).rejects.toThrow('request cancelled');
    // Already aborted: a rejected promise, not a synchronous throw.
    const again = buffer.ready({ signal: controller.signal });
    await expect(again).rejects.toThrow('request cancelled');
  });
});

describe('memory budget: a slow sink (100 ms per batch, fed 3 items per 20 ms)', () => {
  const policies: OnFullPolicy[] = ['drop-oldest', 'drop-newest', 'throw', 'backpressure'];

  it.each(policies)(
    "'%s': the budget holds, the law holds at every step, and close delivers the rest",
    async (policy) => {
      const { checker, buffer } = setup({
        maxBuffered: 30,
        maxSize: 10,
        onFull: policy,
        ...(policy.startsWith('drop')
          ? { onDrop: (k: string, items: Item[], r: DropReason) => checker.onDrop(k, items, r) }
          : {}),
        outcome: () => new Promise((resolve) => setTimeout(resolve, 100)),
      });
      let refused = 0;
      let peak = 0;
      for (let tick = 0; tick < 100; tick++) {
        for (let i = 0; i < 3; i++) {
          if (policy === 'backpressure' && buffer.size >= 30) {
            await checker.until(buffer.ready());
          }
          try {
            checker.insert(['a', 'b', 'c'][i] as string);
          } catch (error) {
            if (!(error instanceof BufferFullError)) throw error;
            refused++;
          }
          peak = Math.max(peak, buffer.size);
        }
        await checker.advance(20);
      }
      expect(peak).toBe(30);
      const losses = checker.report().dropped + refused;
      if (policy === 'backpressure') expect(losses).toBe(0);
      else expect(losses).toBeGreaterThan(0);
      await checker.until(buffer.close());
      expect(checker.checkDrained().delivered).toBeGreaterThan(50);
    },
  );
});

describe('memory budget: a key whose flushes keep failing', () => {
  it('counts against the budget while the other keys keep flowing', async () => {
    const { checker, buffer } = setup({
      maxBuffered: 10,
      onFull: 'drop-newest',
      onDrop: (key, items, reason) => checker.onDrop(key, items, reason),
      retryMax: 1_000,
      retryDelay: 50,
      outcome: (call) => {
        if (call.key === 'bad') throw new Error('bad key');
      },
    });
    // The bad key fills 6 of the 10 slots with batches that keep failing.
    for (let i = 0; i < 3; i++) {
      checker.insert('bad', 2);
      await checker.advance(100);
    }
    expect(buffer.count('bad')).toBe(6);
    expect(buffer.size).toBe(6);
    // The good key keeps flowing in the 4 slots left...
    for (let round = 0; round < 5; round++) {
      expect(checker.insert('good', 4)).toBe(false);
      await checker.advance(100);
    }
    expect(checker.deliveredIds('good')).toHaveLength(20);
    // ...and a fifth item does not fit while the bad key holds its 6.
    checker.insert('good', 5);
    expect(checker.report().dropped).toBe(1);
    expect(checker.check()).toMatchObject({ dropped: 1, pending: 10 });
  });
});

describe('memory budget in bytes', () => {
  it.each(['drop-oldest', 'drop-newest'] as const)(
    "'%s' never holds more than maxBufferedBytes",
    async (policy) => {
      const { checker, buffer } = setup({
        maxBufferedBytes: 1000,
        sizeOf: (item) => 100 + (item.id % 3) * 50,
        onFull: policy,
        onDrop: (key, items, reason) => checker.onDrop(key, items, reason),
        outcome: () => new Promise((resolve) => setTimeout(resolve, 150)),
      });
      const sizeOf = (id: number) => 100 + (id % 3) * 50;
      const pending = () => {
        const fated = new Set([...checker.idsWith('delivered'), ...checker.idsWith('dropped')]);
        let bytes = 0;
        for (let id = 0; id < checker.report().inserted; id++) if (!fated.has(id)) bytes += sizeOf(id);
        return bytes;
      };
      for (let i = 0; i < 100; i++) {
        checker.insert(i % 2 === 0 ? 'a' : 'b');
        expect(pending()).toBeLessThanOrEqual(1000);
        await checker.advance(10);
      }
      await checker.until(buffer.close());
      expect(checker.checkDrained().dropped).toBeGreaterThan(0);
    },
  );

  it("'drop-oldest' does not empty the buffer for an item larger than the whole budget", () => {
    const { checker, buffer } = setup({
      maxBufferedBytes: 1000,
      sizeOf: (item) => (item.key === 'huge' ? 5000 : 100),
      onFull: 'drop-oldest',
      onDrop: (key, items, reason) => checker.onDrop(key, items, reason),
    });
    checker.insert('a', 5);
    expect(checker.insert('huge')).toBe(false);
    expect(buffer.size).toBe(5);
    expect(checker.drops).toEqual([{ key: 'huge', ids: [5], reason: 'drop-newest' }]);
    checker.check();
  });
});
