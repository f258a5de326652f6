import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { recordingSink, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('interval and jitter', () => {
  it('flushes a key `interval` ms after its first insert, not before', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 1000 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(400);
    buffer.insert('k', 2);
    await vi.advanceTimersByTimeAsync(599);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.items)).toEqual([[1, 2]]);
  });

  it('defaults to the seed interval of 5 s', async () => {
    const { calls, handleFlush } = recordingSink();
    const buffer = new DataBuffer<string, number>({ handleFlush });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
  });

  it('starts a new interval for the inserts after a flush', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 1000 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(1000);
    buffer.insert('k', 2);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
  });

  it('is never early and at most 1% of the interval late for keys inserted at any moment', async () => {
    const flushedAt = new Map<number, number>();
    const buffer = new DataBuffer<number, number>({
      handleFlush: (key) => {
        flushedAt.set(key, Date.now());
      },
      interval: 5000,
    });
    const start = Date.now();
    const insertedAt = new Map<number, number>();
    for (let key = 0; key < 200; key++) {
      insertedAt.set(key, Date.now() - start);
      buffer.insert(key, key);
      await vi.advanceTimersByTimeAsync(7);
    }
    await vi.advanceTimersByTimeAsync(6000);
    for (const [key, at] of insertedAt) {
      const delay = (flushedAt.get(key) as number) - start - at;
      expect(delay).toBeGreaterThanOrEqual(5000);
      expect(delay).toBeLessThanOrEqual(5050);
    }
  });

  it('adds a random 0..jitter ms to each batch', async () => {
    const random = vi.spyOn(Math, 'random');
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 1000, jitter: 500 });
    random.mockReturnValueOnce(0.5); // key a: 250 ms of jitter
    buffer.insert('a', 1);
    random.mockReturnValueOnce(0); // key b: none
    buffer.insert('b', 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls.map((c) => c.key)).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(249);
    expect(calls.map((c) => c.key)).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.key)).toEqual(['b', 'a']);
    random.mockRestore();
  });

  it('does not keep an idle process alive: its timers are unref-ed', () => {
    vi.useRealTimers();
    const unref = vi.fn();
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      const handle = real(fn, ms);
      const original = handle.unref.bind(handle);
      handle.unref = () => {
        unref();
        return original();
      };
      return handle;
    }) as typeof setTimeout);
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, interval: 60_000 });
    buffer.insert('k', 1);
    expect(unref).toHaveBeenCalled();
    spy.mockRestore();
    buffer.dump();
  });
});
