import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, type ErrorInfo, ShutdownError } from '../src/index.js';
import { deferred, recordingSink, silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('close', () => {
  it('flushes everything, waits for in-flight work, and reports what happened', async () => {
    const gate = deferred();
    const { calls, handleFlush } = recordingSink<string, number>((call) =>
      call.key === 'a' ? gate.promise : undefined,
    );
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 10, partitions: 2 });
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(10);
    buffer.insertMany('b', [2, 3]);
    let report: unknown;
    const closing = buffer.close().then((r) => {
      report = r;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(report).toBeUndefined();
    gate.resolve();
    await closing;
    expect(calls).toHaveLength(2);
    expect(report).toEqual({
      delivered: 3,
      failed: 0,
      abandoned: 0,
      dropped: 0,
      unwritten: 0,
      unreturned: 0,
      timedOut: false,
    });
    expect(buffer.closed).toBe(true);
  });

  it('is idempotent: a second close returns the same promise', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush });
    buffer.insert('a', 1);
    const first = buffer.close();
    const second = buffer.close();
    expect(second).toBe(first);
    await first;
    expect(calls).toHaveLength(1);
  });

  it('waits for retries to finish', async () => {
    let attempts = 0;
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {
        if (++attempts < 3) throw new Error('flaky');
      },
      retryDelay: 1000,
    });
    buffer.insert('a', 1);
    let report: unknown;
    const closing = buffer.close().then((r) => {
      report = r;
    });
    await vi.advanceTimersByTimeAsync(1999);
    expect(report).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(attempts).toBe(3);
    expect(report).toMatchObject({ delivered: 1, failed: 0 });
  });

  it('with a timeout, hands what is undelivered at the deadline to handleError with a ShutdownError', async () => {
    const handleError = vi.fn();
    const signals: AbortSignal[] = [];
    // Integer keys map to partition key % 2: the hanging key and the failing key run side by side.
    const buffer = new DataBuffer<number, number>({
      handleFlush: (key, _items, info) => {
        signals.push(info.signal);
        if (key === 0) return new Promise(() => {});
        throw new Error('down');
      },
      handleError,
      partitions: 2,
      retryDelay: 10_000,
    });
    buffer.insertMany(0, [1, 2]);
    buffer.insert(1, 3);
    const closing = buffer.close({ timeout: 5000 });
    await vi.advanceTimersByTimeAsync(5000);
    const report = await closing;
    expect(report).toEqual({
      delivered: 0,
      failed: 3,
      abandoned: 3,
      dropped: 0,
      unwritten: 0,
      unreturned: 0,
      timedOut: true,
    });
    const byKey = new Map(handleError.mock.calls.map((call) => [call[0], call]));
    const [, hungItems, hungError, hungInfo] = byKey.get(0) as [number, number[], Error, ErrorInfo];
    expect(hungItems).toEqual([1, 2]);
    expect(hungError).toBeInstanceOf(ShutdownError);
    expect(hungInfo.reason).toBe('shutdown');
    expect(signals[0]?.aborted).toBe(true);
    const [, , failedError] = byKey.get(1) as [number, number[], Error];
    expect((failedError.cause as Error).message).toBe('down');
    expect(buffer.size).toBe(0);
  });

  it('rejects pending ready() calls and later inserts', async () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => new Promise(() => {}),
      maxBuffered: 1,
      logger: silentLogger(),
    });
    buffer.insert('a', 1);
    const waiting = buffer.ready();
    const closing = buffer.close({ timeout: 10 });
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_BUFFER_CLOSED' });
    await vi.advanceTimersByTimeAsync(10);
    await closing;
    await expect(buffer.ready()).rejects.toMatchObject({ code: 'ERR_BUFFER_CLOSED' });
  });

  it('closes at the end of an `await using` scope', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    let escaped: DataBuffer<string, number> | undefined;
    {
      await using buffer = new DataBuffer<string, number>({ handleFlush });
      buffer.insert('a', 1);
      escaped = buffer;
    }
    expect(escaped?.closed).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('rejects a bad timeout', () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    expect(() => buffer.close({ timeout: -5 })).toThrow(
      'Expected `timeout` to be a number >= 0 or Infinity, got `-5` (number)',
    );
  });
});
