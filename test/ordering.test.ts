import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { deferred, recordingSink, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('ordering', () => {
  it('hands items over in insertion order', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 10 });
    const values = Array.from({ length: 100 }, (_, i) => i);
    for (const value of values) buffer.insert('k', value);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[0]?.items).toEqual(values);
  });

  it('never runs two flushes of one key at once, and delivers its batches in order', async () => {
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let maxRunning = 0;
    const delivered: number[][] = [];
    const buffer = new DataBuffer<string, number>({
      maxSize: 2,
      partitions: 4,
      handleFlush: async (_key, items) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gates[delivered.length]?.promise;
        delivered.push(items);
        running--;
      },
    });
    buffer.insertMany('k', [1, 2, 3, 4, 5, 6]);
    await vi.advanceTimersByTimeAsync(0);
    expect(running).toBe(1);
    for (const gate of gates) {
      gate.resolve();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(maxRunning).toBe(1);
    expect(delivered).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('puts inserts made while a key is being flushed into its next batch', async () => {
    const gate = deferred();
    const { calls, handleFlush } = recordingSink<string, number>(() => gate.promise);
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 100 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(1);
    buffer.insert('k', 2);
    buffer.insert('k', 3);
    expect(buffer.count('k')).toBe(3);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3]]);
  });

  it('waits for the running flush of a key before flushing its next batch, even when that one is due', async () => {
    const gate = deferred();
    const { calls, handleFlush } = recordingSink<string, number>((call) =>
      call.items[0] === 1 ? gate.promise : undefined,
    );
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 100, partitions: 2 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(100);
    buffer.insert('k', 2);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
  });
});
