import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { recordingSink } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('maxSize and maxSizeJitter', () => {
  it('flushes a key as soon as it holds maxSize items, without waiting for the interval', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, maxSize: 3, interval: 60_000 });
    buffer.insert('k', 1);
    buffer.insert('k', 2);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(0);
    buffer.insert('k', 3);
    buffer.insert('k', 4);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    expect(buffer.count('k')).toBe(1);
  });

  it('adds a random 0..maxSizeJitter to the limit of each batch', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.99); // jitter of 2 on a maxSizeJitter of 2
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, maxSize: 3, maxSizeJitter: 2 });
    buffer.insertMany('k', [1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(0);
    buffer.insert('k', 5);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3, 4, 5]]);
  });
});
