import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, estimateSize } from '../src/index.js';
import { recordingSink, useFakeTimersInEveryTest } from './helpers.js';
import { testBackend } from './stores/test-backend.js';

useFakeTimersInEveryTest();

/** Items that say their own size: `sizeOf` reads it, so each test states its bytes plainly. */
interface Sized {
  readonly id: string;
  readonly bytes: number;
}
const item = (id: string, bytes: number): Sized => ({ id, bytes });
const sizeOf = (value: Sized) => value.bytes;
const ids = (items: Sized[]) => items.map((i) => i.id);

function sizedBuffer(maxBatchBytes: number, extra: { maxSize?: number; maxBufferedBytes?: number } = {}) {
  const sink = recordingSink<string, Sized>();
  const buffer = new DataBuffer<string, Sized>({
    handleFlush: sink.handleFlush,
    interval: 60_000,
    sizeOf,
    maxBatchBytes,
    ...extra,
  });
  return { buffer, calls: sink.calls };
}

describe('maxBatchBytes', () => {
  it('flushes a key once its batch reaches the limit, without waiting for the interval', async () => {
    const { buffer, calls } = sizedBuffer(100);
    buffer.insert('k', item('a', 40));
    buffer.insert('k', item('b', 40));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(0);
    buffer.insert('k', item('c', 20)); // 100 of 100
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => ids(c.items))).toEqual([['a', 'b', 'c']]);
    expect(buffer.size).toBe(0);
  });

  it('flushes the batch without an item that would take it past the limit; the item starts the next batch', async () => {
    const { buffer, calls } = sizedBuffer(100);
    buffer.insert('k', item('a', 60));
    buffer.insert('k', item('b', 41)); // 101 > 100: 'a' goes alone
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => ids(c.items))).toEqual([['a']]);
    expect(buffer.count('k')).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000); // 'b' waits out the interval of its own batch
    expect(calls.map((c) => ids(c.items))).toEqual([['a'], ['b']]);
  });

  it('sends an item larger than the limit alone, at once, keeping the order of the key', async () => {
    const { buffer, calls } = sizedBuffer(100);
    buffer.insert('k', item('a', 10));
    buffer.insert('k', item('big', 500));
    buffer.insert('k', item('c', 10));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => ids(c.items))).toEqual([['a'], ['big']]);
    await buffer.flush('k');
    expect(calls.map((c) => ids(c.items))).toEqual([['a'], ['big'], ['c']]);
  });

  it('splits insertMany across batches that each stay within the limit', async () => {
    const { buffer, calls } = sizedBuffer(100);
    buffer.insertMany('k', [item('a', 50), item('b', 30), item('c', 30), item('d', 70), item('e', 1)]);
    await buffer.flush('k');
    expect(calls.map((c) => ids(c.items))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('flushes at maxSize items or at maxBatchBytes, whichever comes first', async () => {
    const { buffer, calls } = sizedBuffer(100, { maxSize: 3 });
    buffer.insertMany('k', [item('a', 1), item('b', 1), item('c', 1), item('d', 90), item('e', 20)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => ids(c.items))).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('counts each key on its own', async () => {
    const { buffer, calls } = sizedBuffer(100);
    buffer.insert('x', item('x1', 60));
    buffer.insert('y', item('y1', 60));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(0);
    buffer.insert('x', item('x2', 40));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => [c.key, ids(c.items)])).toEqual([['x', ['x1', 'x2']]]);
  });

  it('estimates items with the default estimateSize, as the memory budget does', async () => {
    const sink = recordingSink<string, string>();
    const text = 'x'.repeat(100);
    const limit = estimateSize(text) * 3;
    const buffer = new DataBuffer<string, string>({
      handleFlush: sink.handleFlush,
      interval: 60_000,
      maxBatchBytes: limit,
    });
    buffer.insertMany('k', [text, text, text, text]);
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.calls.map((c) => c.items.length)).toEqual([3]);
  });

  it('estimates items even when maxBufferedBytes is Infinity, and only then', async () => {
    const measure = vi.fn(sizeOf);
    const sink = recordingSink<string, Sized>();
    const plain = new DataBuffer<string, Sized>({
      handleFlush: sink.handleFlush,
      maxBufferedBytes: Number.POSITIVE_INFINITY,
      sizeOf: measure,
    });
    plain.insert('k', item('a', 10));
    expect(measure).not.toHaveBeenCalled();
    const bounded = new DataBuffer<string, Sized>({
      handleFlush: sink.handleFlush,
      maxBufferedBytes: Number.POSITIVE_INFINITY,
      maxBatchBytes: 15,
      sizeOf: measure,
    });
    bounded.insert('k', item('b', 10));
    bounded.insert('k', item('c', 10));
    expect(measure).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.calls.map((c) => ids(c.items))).toEqual([['b']]);
    await Promise.all([plain.close(), bounded.close()]);
  });

  it('still counts bytes toward the memory budget and frees them once flushed', async () => {
    const { buffer } = sizedBuffer(100, { maxBufferedBytes: 150 });
    expect(buffer.insert('k', item('a', 60))).toBe(true);
    expect(buffer.insert('k', item('b', 60))).toBe(true); // 'a' taken into a delivery, 'b' opens a batch
    expect(buffer.insert('j', item('c', 40))).toBe(false); // 160 of 150 held
    await vi.advanceTimersByTimeAsync(0); // 'a' delivered
    await expect(buffer.ready({ timeout: 0 })).resolves.toBeUndefined();
    await buffer.close();
  });

  it('splits the open items a store recovered the same way, and tells the store of each take', async () => {
    const store = testBackend<string, Sized>({
      recovered: [{ key: 'k', items: [item('a', 60), item('b', 60), item('c', 30)], batchId: undefined }],
    });
    const sink = recordingSink<string, Sized>();
    const buffer = new DataBuffer<string, Sized>({
      handleFlush: sink.handleFlush,
      interval: 60_000,
      sizeOf,
      maxBatchBytes: 100,
      store: store.backend,
    });
    await buffer.flush('k');
    expect(sink.calls.map((c) => ids(c.items))).toEqual([['a'], ['b', 'c']]);
    expect(store.ops('taken').map((call) => call.count)).toEqual([1, 2]);
    await buffer.close();
  });
});
