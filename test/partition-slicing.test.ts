import { describe, expect, it } from 'vitest';
import { DataBuffer } from '../src/index.js';

/** Keeps the CPU busy for `ms`: a handler with real work to do, without a timer. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/**
 * A partition delivers batch after batch without an `await` of its own, so handlers that return (or
 * resolve) at once would chain deliveries back to back; it must hand the event loop a turn every few
 * ms. Real timers: the handlers spin on the clock, and the test only looks at the order of events.
 */
describe('a partition with many batches to deliver lets the event loop turn', () => {
  const BATCHES = 400;

  for (const [kind, handler] of [
    ['returns at once', () => spin(0.05)],
    ['resolves at once', async () => spin(0.05)],
  ] as const) {
    it(`while its handler ${kind}`, async () => {
      let delivered = 0;
      const buffer = new DataBuffer<number, number>({
        handleFlush: () => {
          delivered++;
          return handler();
        },
        interval: 60_000,
      });
      for (let key = 0; key < BATCHES; key++) buffer.insert(key, key);
      const flushed = buffer.flushAll();
      // 400 deliveries of 50 µs each take 20 ms; a turn of the loop must come long before the last.
      const deliveredAtNextTurn = await new Promise<number>((resolve) =>
        setImmediate(() => resolve(delivered)),
      );
      await flushed;
      expect(delivered).toBe(BATCHES);
      expect(deliveredAtNextTurn).toBeGreaterThan(0);
      expect(deliveredAtNextTurn).toBeLessThan(BATCHES);
      await buffer.close();
    });
  }
});
