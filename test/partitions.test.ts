import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { deferred, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('partitions', () => {
  it('bounds the flushes running at once by the number of partitions', async () => {
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    const buffer = new DataBuffer<number, number>({
      partitions: 3,
      interval: 10,
      handleFlush: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate.promise;
        running--;
      },
    });
    for (let key = 0; key < 30; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(10);
    expect(running).toBe(3);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(10);
    expect(maxRunning).toBe(3);
    expect(buffer.size).toBe(0);
  });

  it('lets the other partitions flush while one key is slow', async () => {
    const slow = deferred();
    const flushed: number[] = [];
    const buffer = new DataBuffer<number, number>({
      partitions: 2,
      interval: 10,
      handleFlush: async (key) => {
        if (key === 0) await slow.promise;
        flushed.push(key);
      },
    });
    // Integer keys map to partition key % 2: 0, 2, 4 share the slow key's partition.
    for (let key = 0; key < 6; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(10);
    expect(flushed).toEqual([1, 3, 5]);
    const info = buffer.info();
    expect(info).toEqual([
      { partition: 0, keys: 3, items: 3, inFlight: 1, handlingErrors: 0, queued: 2, retrying: 0 },
      { partition: 1, keys: 0, items: 0, inFlight: 0, handlingErrors: 0, queued: 0, retrying: 0 },
    ]);
    slow.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toEqual([1, 3, 5, 0, 2, 4]);
  });

  it('reports each partition as its keys hash, with info.partition matching', async () => {
    const seen = new Map<string, number>();
    const buffer = new DataBuffer<string, number>({
      partitions: 4,
      interval: 10,
      handleFlush: (key, _items, info) => {
        seen.set(key, info.partition);
      },
    });
    const keys = Array.from({ length: 40 }, (_, i) => `user:${i}`);
    for (const key of keys) buffer.insert(key, 1);
    const info = buffer.info();
    expect(info.reduce((sum, p) => sum + p.keys, 0)).toBe(40);
    expect(info.filter((p) => p.keys > 0).length).toBeGreaterThan(1);
    await vi.advanceTimersByTimeAsync(10);
    for (const key of keys) {
      const partition = seen.get(key) as number;
      expect(partition).toBeGreaterThanOrEqual(0);
      expect(partition).toBeLessThan(4);
    }
    // The same key always lands in the same partition.
    const first = new Map(seen);
    seen.clear();
    for (const key of keys) buffer.insert(key, 2);
    await vi.advanceTimersByTimeAsync(10);
    for (const key of keys) expect(seen.get(key)).toBe(first.get(key));
  });
});
