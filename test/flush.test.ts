import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { deferred, recordingSink, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('flush, flushAll, dump and info', () => {
  it('flush(key) flushes one key now and resolves once it is delivered', async () => {
    const gate = deferred();
    const { calls, handleFlush } = recordingSink<string, number>(() => gate.promise);
    const buffer = new DataBuffer<string, number>({ handleFlush });
    buffer.insert('a', 1);
    buffer.insert('b', 2);
    let done = false;
    const flushing = buffer.flush('a').then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.key)).toEqual(['a']);
    expect(done).toBe(false);
    gate.resolve();
    await flushing;
    expect(buffer.count('a')).toBe(0);
    expect(buffer.count('b')).toBe(1);
  });

  it('flush(key) resolves once the batch is handed to handleError when delivery fails', async () => {
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => Promise.reject(new Error('down')),
      handleError,
      retryMax: 2,
      retryDelay: 100,
    });
    buffer.insert('a', 1);
    const flushing = buffer.flush('a');
    await vi.advanceTimersByTimeAsync(100);
    await flushing;
    expect(handleError).toHaveBeenCalledOnce();
  });

  it('flush(key) of an empty key resolves at once; of a busy key, waits for its running batch', async () => {
    const gate = deferred();
    const { handleFlush } = recordingSink<string, number>(() => gate.promise);
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 10 });
    await buffer.flush('nothing');
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(10);
    let done = false;
    const flushing = buffer.flush('a').then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    gate.resolve();
    await flushing;
  });

  it('flushAll flushes every key and waits for flushes already in flight', async () => {
    const gate = deferred();
    // Integer keys map to partition key % 2: 0 is in flight in partition 0, 1 and 3 flush in partition 1.
    const { calls, handleFlush } = recordingSink<number, number>((call) =>
      call.key === 0 ? gate.promise : undefined,
    );
    const buffer = new DataBuffer<number, number>({ handleFlush, interval: 10, partitions: 2 });
    buffer.insert(0, 1);
    await vi.advanceTimersByTimeAsync(10);
    buffer.insert(1, 2);
    buffer.insert(3, 3);
    let done = false;
    const flushing = buffer.flushAll().then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.key)).toEqual([0, 1, 3]);
    expect(done).toBe(false);
    gate.resolve();
    await flushing;
    expect(buffer.size).toBe(0);
  });

  it('dump takes everything not yet in delivery out, without calling handleFlush', async () => {
    const gate = deferred();
    const { calls, handleFlush } = recordingSink<string, number>(() => gate.promise);
    const buffer = new DataBuffer<string, number>({ handleFlush, maxSize: 2 });
    buffer.insertMany('a', [1, 2, 3, 4, 5]); // [1,2] starts, [3,4] waits behind it, [5] is buffered
    buffer.insert('b', 6);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    const dumped = buffer.dump();
    expect([...dumped]).toEqual([
      ['a', [3, 4, 5]],
      ['b', [6]],
    ]);
    expect(buffer.size).toBe(2); // [1, 2] is still in flight
    gate.resolve();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.map((c) => c.items)).toEqual([[1, 2]]);
    expect(buffer.stats()).toMatchObject({ inserted: 6, flushed: 2, dumped: 4, buffered: 0 });
  });

  it('dump cancels the interval flush of what it took', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, interval: 100 });
    buffer.insert('a', 1);
    buffer.dump();
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(0);
    buffer.insert('a', 2);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.map((c) => c.items)).toEqual([[2]]);
  });

  it('info reports keys, items and flushes per partition', async () => {
    const gate = deferred();
    const buffer = new DataBuffer<number, number>({
      handleFlush: async (key) => {
        if (key === 0) await gate.promise;
        else throw new Error('x');
      },
      handleError: () => {},
      partitions: 2,
      interval: 10,
      retryDelay: 1000,
    });
    buffer.insertMany(0, [1, 2]);
    buffer.insert(1, 3);
    expect(buffer.info()).toEqual([
      { partition: 0, keys: 1, items: 2, inFlight: 0, handlingErrors: 0, queued: 0, retrying: 0 },
      { partition: 1, keys: 1, items: 1, inFlight: 0, handlingErrors: 0, queued: 0, retrying: 0 },
    ]);
    await vi.advanceTimersByTimeAsync(10);
    buffer.insert(0, 4);
    expect(buffer.info()).toEqual([
      { partition: 0, keys: 1, items: 3, inFlight: 1, handlingErrors: 0, queued: 0, retrying: 0 },
      { partition: 1, keys: 1, items: 1, inFlight: 0, handlingErrors: 0, queued: 0, retrying: 1 },
    ]);
    gate.resolve();
    const closing = buffer.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(await closing).toMatchObject({ delivered: 3, failed: 1 });
  });
});
