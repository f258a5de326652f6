import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DataBuffer, FlushTimeoutError } from '../src/index.js';
import { Watchdog } from '../src/watchdog.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Watchdog (one timer for a partition’s flush timeouts)', () => {
  it('fires exactly `timeout` ms after the operation started, not before', () => {
    const watchdog = new Watchdog(100);
    const onTimeout = vi.fn();
    watchdog.watch(onTimeout, performance.now());
    vi.advanceTimersByTime(99);
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onTimeout).toHaveBeenCalledOnce();
  });

  it('times a later operation from its own start, though the timer was armed by an earlier one', () => {
    const watchdog = new Watchdog(100);
    const first = vi.fn();
    watchdog.watch(first, performance.now());
    vi.advanceTimersByTime(30);
    watchdog.stop(first);
    const second = vi.fn();
    watchdog.watch(second, performance.now());
    vi.advanceTimersByTime(99); // t = 129: the timer armed for t = 100 fired and waited on
    expect(second).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(second).toHaveBeenCalledOnce();
    expect(first).not.toHaveBeenCalled();
  });

  it('ignores a late stop of an earlier operation (a zombie) and still times out its successor', () => {
    const watchdog = new Watchdog(100);
    const zombie = vi.fn();
    const current = vi.fn();
    watchdog.watch(zombie, performance.now());
    watchdog.watch(current, performance.now());
    watchdog.stop(zombie);
    vi.advanceTimersByTime(100);
    expect(current).toHaveBeenCalledOnce();
    expect(zombie).not.toHaveBeenCalled();
  });

  it('arms no timer per operation, and none while idle once it must hold the process open', () => {
    const watchdog = new Watchdog(100);
    for (let i = 0; i < 50; i++) {
      const onTimeout = vi.fn();
      watchdog.watch(onTimeout, performance.now());
      watchdog.stop(onTimeout);
    }
    expect(vi.getTimerCount()).toBe(1);
    watchdog.keepAlive();
    expect(vi.getTimerCount()).toBe(0);
    const onTimeout = vi.fn();
    watchdog.watch(onTimeout, performance.now());
    expect(vi.getTimerCount()).toBe(1);
    watchdog.stop(onTimeout);
    expect(vi.getTimerCount()).toBe(1); // kept while the partition may start its next attempt
    watchdog.idle();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('flushTimeout through the watchdog', () => {
  it('times out a hanging attempt that follows a quick one by flushTimeout from its own start', async () => {
    let calls = 0;
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => (++calls === 1 ? Promise.resolve() : new Promise(() => {})),
      handleError,
      interval: 1000,
      flushTimeout: 500,
      retryMax: 1,
    });
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(1000); // first attempt succeeds at t = 1000, arming the timer
    buffer.insert('b', 2);
    await vi.advanceTimersByTimeAsync(1000); // second attempt starts at t = 2000 and hangs
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(499);
    expect(handleError).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(handleError).toHaveBeenCalledOnce();
    expect(handleError.mock.calls[0]?.[2]).toBeInstanceOf(FlushTimeoutError);
    expect(buffer.stats().timedOut).toBe(1);
  });
});
