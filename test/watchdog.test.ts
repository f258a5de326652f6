import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, FlushTimeoutError } from '../src/index.js';
import { Watchdog } from '../src/watchdog.js';
import { useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('Watchdog (one timer for a partition’s flush timeouts)', () => {
  it('fires exactly `timeout` ms after the operation started, not before', () => {
    const onTimeout = vi.fn();
    const watchdog = new Watchdog(100, onTimeout);
    watchdog.watch(performance.now());
    vi.advanceTimersByTime(99);
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onTimeout).toHaveBeenCalledOnce();
  });

  it('times a later operation from its own start, though the timer was armed by an earlier one', () => {
    const onTimeout = vi.fn();
    const watchdog = new Watchdog(100, onTimeout);
    watchdog.watch(performance.now());
    vi.advanceTimersByTime(30);
    watchdog.stop();
    watchdog.watch(performance.now());
    vi.advanceTimersByTime(99); // t = 129: the timer armed for t = 100 fired and waited on
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onTimeout).toHaveBeenCalledOnce();
  });

  it('does not fire for an operation that stopped in time', () => {
    const onTimeout = vi.fn();
    const watchdog = new Watchdog(100, onTimeout);
    watchdog.watch(performance.now());
    vi.advanceTimersByTime(99);
    watchdog.stop();
    vi.advanceTimersByTime(1000);
    expect(onTimeout).not.toHaveBeenCalled();
  });

  it('arms no timer per operation, and none while idle once it must hold the process open', () => {
    const watchdog = new Watchdog(100, vi.fn());
    for (let i = 0; i < 50; i++) {
      watchdog.watch(performance.now());
      watchdog.stop();
    }
    expect(vi.getTimerCount()).toBe(1);
    watchdog.keepAlive();
    expect(vi.getTimerCount()).toBe(0);
    watchdog.watch(performance.now());
    expect(vi.getTimerCount()).toBe(1);
    watchdog.stop();
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

describe('an attempt that settles after it timed out (a zombie)', () => {
  it('changes nothing: not delivered, and the retry running by then still times out on its own clock', async () => {
    let calls = 0;
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      // Attempt 1 resolves at t = 1150, 50 ms after it timed out; attempt 2 never settles.
      handleFlush: () =>
        ++calls === 1 ? new Promise((resolve) => setTimeout(resolve, 150)) : new Promise(() => {}),
      handleError,
      interval: 1000,
      flushTimeout: 100,
      retryMax: 2,
      retryDelay: 10,
      retryBackoff: 'fixed',
    });
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(1110); // attempt 1 timed out at t = 1100; attempt 2 started at 1110
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(50); // t = 1160: attempt 1 resolved late
    expect(buffer.stats().flushed).toBe(0);
    expect(buffer.size).toBe(1);
    await vi.advanceTimersByTimeAsync(49); // t = 1209
    expect(handleError).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1); // t = 1210: attempt 2 ran its 100 ms
    expect(handleError).toHaveBeenCalledOnce();
    expect(handleError.mock.calls[0]?.[1]).toEqual([1]);
    expect(buffer.stats()).toMatchObject({ flushed: 0, failed: 1, timedOut: 2, inFlight: 0 });
  });
});
