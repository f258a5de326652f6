import { describe, expect, it, vi } from 'vitest';
import { BufferClosedError, DataBuffer } from '../src/index.js';
import { recordingSink, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('insert, insertMany, count and size', () => {
  it('counts items per key and in total', () => {
    const { handleFlush } = recordingSink();
    const buffer = new DataBuffer<string, number>({ handleFlush });
    expect(buffer.count('a')).toBe(0);
    expect(buffer.insert('a', 1)).toBe(true);
    buffer.insert('a', 2);
    buffer.insertMany('b', [3, 4, 5]);
    expect(buffer.count('a')).toBe(2);
    expect(buffer.count('b')).toBe(3);
    expect(buffer.count('c')).toBe(0);
    expect(buffer.size).toBe(5);
  });

  it('compares keys as a Map does: primitives by value, objects by identity', async () => {
    const { calls, handleFlush } = recordingSink<unknown, number>();
    const buffer = new DataBuffer<unknown, number>({ handleFlush, interval: 100 });
    const objectKey = { id: 1 };
    buffer.insert(1, 1);
    buffer.insert(1, 2);
    buffer.insert('1', 3);
    buffer.insert(Number.NaN, 4);
    buffer.insert(Number.NaN, 5);
    buffer.insert(objectKey, 6);
    buffer.insert({ id: 1 }, 7);
    buffer.insert(objectKey, 8);
    buffer.insert(undefined, 9);
    await vi.advanceTimersByTimeAsync(100);
    const byKey = calls.map((c) => [c.key, c.items]);
    expect(byKey).toEqual([
      [1, [1, 2]],
      ['1', [3]],
      [Number.NaN, [4, 5]],
      [objectKey, [6, 8]],
      [{ id: 1 }, [7]],
      [undefined, [9]],
    ]);
    expect(calls[3]?.key).toBe(objectKey);
  });

  it('insertMany splits a long list so that no batch exceeds maxSize', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, maxSize: 4 });
    buffer.insert('k', 0);
    buffer.insertMany('k', [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.items)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(buffer.count('k')).toBe(2);
  });

  it('insertMany takes any iterable and rejects what is not one', () => {
    const { handleFlush } = recordingSink();
    const buffer = new DataBuffer<string, number>({ handleFlush });
    buffer.insertMany('k', new Set([1, 2]));
    expect(buffer.count('k')).toBe(2);
    expect(() => buffer.insertMany('k', 5 as never)).toThrow(
      'Expected `values` to be an array or another iterable, got `5` (number)',
    );
  });

  it('throws a BufferClosedError once closed', async () => {
    const { handleFlush } = recordingSink();
    const buffer = new DataBuffer<string, number>({ handleFlush });
    await buffer.close();
    expect(() => buffer.insert('k', 1)).toThrow(BufferClosedError);
    expect(() => buffer.insert('k', 1)).toThrow('Cannot call `insert`: the buffer is closed');
    expect(() => buffer.insertMany('k', [1])).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_CLOSED' }));
  });

  it('never calls handleFlush inside the insert that filled the batch', async () => {
    const { calls, handleFlush } = recordingSink();
    const buffer = new DataBuffer<string, number>({ handleFlush, maxSize: 1 });
    buffer.insert('k', 1);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
  });
});
