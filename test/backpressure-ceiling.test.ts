import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/**
 * The default policy when `insert()`'s return value is ignored (the request-log recipe): memory stays
 * bounded at twice the budget, and every refused item is counted, given to `onDrop` and warned about.
 */
describe("onFull: 'backpressure' (the default) with a producer that does not wait", () => {
  it('refuses items past twice maxBuffered, counts them, reports them, warns once a second', async () => {
    const logger = silentLogger();
    const onDrop = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => new Promise(() => {}), // the database is down
      maxBuffered: 1000,
      onDrop,
      logger,
    });
    let refusedByReturn = 0;
    for (let i = 0; i < 100_000; i++) if (!buffer.insert('log', i)) refusedByReturn++;
    expect(buffer.size).toBe(2000);
    expect(buffer.stats()).toMatchObject({ inserted: 100_000, dropped: 98_000, buffered: 2000 });
    expect(refusedByReturn).toBe(99_001); // false from the 1000th insert on
    const dropped = onDrop.mock.calls.reduce((n, [, items]) => n + items.length, 0);
    expect(dropped).toBe(98_000);
    expect(onDrop.mock.calls[0]?.[2]).toBe('backpressure');
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(String(logger.warn.mock.calls[0]?.[0])).toMatch(/refused 1 item/);
    await vi.advanceTimersByTimeAsync(1000);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.warn.mock.calls[1]?.[1]).toMatchObject({ dropped: 97_999 });
  });

  it('bounds bytes the same way: at most twice maxBufferedBytes', () => {
    const buffer = new DataBuffer<string, string>({
      handleFlush: () => new Promise(() => {}),
      maxBufferedBytes: 1000,
      sizeOf: (value) => value.length,
      logger: silentLogger(),
    });
    for (let i = 0; i < 1000; i++) buffer.insert('log', 'x'.repeat(10));
    expect(buffer.size).toBe(200);
    expect(buffer.stats().dropped).toBe(800);
  });

  it("accepts 'block' as an alias", () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, onFull: 'block', maxBuffered: 1 });
    buffer.insert('a', 1);
    expect(buffer.insert('a', 2)).toBe(false);
    expect(buffer.size).toBe(2);
  });

  it('an insert from a callback that ignores the result never throws for want of room', () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => new Promise(() => {}),
      maxBuffered: 1,
      logger: silentLogger(),
    });
    expect(() => {
      for (let i = 0; i < 10; i++) buffer.insert('a', i);
    }).not.toThrow();
  });
});
