import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, ShutdownError } from '../src/index.js';
import { useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('close() with defaults against a hung sink', () => {
  it('finishes within Kubernetes’ 30 s grace: at 25 s, what is undelivered goes to handleError', async () => {
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({ handleFlush: () => new Promise(() => {}), handleError });
    buffer.insert('a', 1);
    buffer.insert('b', 2);
    let report: unknown;
    void buffer.close().then((r) => {
      report = r;
    });
    await vi.advanceTimersByTimeAsync(24_999);
    expect(report).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(report).toMatchObject({ timedOut: true, abandoned: 2, failed: 2 });
    expect(handleError).toHaveBeenCalledTimes(2);
    expect(handleError.mock.calls[0]?.[2]).toBeInstanceOf(ShutdownError);
  });

  it('close({ timeout: Infinity }) still waits for every retry', async () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => new Promise(() => {}),
      handleError: () => {},
    });
    buffer.insert('a', 1);
    let done = false;
    void buffer.close({ timeout: Number.POSITIVE_INFINITY }).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(50_000);
    expect(done).toBe(false);
  });
});
