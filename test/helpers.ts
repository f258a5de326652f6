import { afterEach, beforeEach, vi } from 'vitest';
import type { FlushInfo } from '../src/index.js';

/** One `handleFlush` call as the handler saw it. */
export interface FlushCall<K, V> {
  key: K;
  items: V[];
  info: FlushInfo;
}

/** A `handleFlush` that records every call; `outcome` decides what each call does (default: succeed). */
export function recordingSink<K, V>(outcome?: (call: FlushCall<K, V>) => unknown) {
  const calls: FlushCall<K, V>[] = [];
  const handleFlush = vi.fn((key: K, items: V[], info: FlushInfo) => {
    const call = { key, items: [...items], info };
    calls.push(call);
    return outcome?.(call);
  });
  return { calls, handleFlush };
}

/** A promise with its resolve/reject exposed, for handlers that settle when the test says so. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A logger that records instead of printing. */
export function silentLogger() {
  return { error: vi.fn(), warn: vi.fn() };
}

/** Fake timers in every test of the file, real ones restored after each: call once at the top level. */
export function useFakeTimersInEveryTest(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}
