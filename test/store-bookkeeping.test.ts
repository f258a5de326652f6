import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { recordingSink, silentLogger, useFakeTimersInEveryTest } from './helpers.js';
import { testBackend } from './stores/test-backend.js';

useFakeTimersInEveryTest();

describe('the store: recovery', () => {
  it('delivers recovered batches first, under their original ids, then the key’s new items', async () => {
    const { backend, ops, names } = testBackend<string, number>({
      recovered: [
        { key: 'a', items: [1, 2], batchId: 'earlier-run-1' },
        { key: 'b', items: [9], batchId: 'earlier-run-2' },
        { key: 'a', items: [3], batchId: undefined }, // still open when the earlier run ended
      ],
    });
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, store: backend, interval: 100 });
    expect(names().slice(0, 1)).toEqual(['open']);
    expect(ops('open')[0]?.context).toEqual({
      maxSize: Number.POSITIVE_INFINITY,
      interval: 100,
      partitions: 1,
    });
    expect(buffer.size).toBe(4);
    buffer.insert('a', 4);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.map((call) => [call.key, call.items, call.info.batchId])).toEqual([
      ['a', [1, 2], 'earlier-run-1'],
      ['b', [9], 'earlier-run-2'],
      ['a', [3, 4], expect.not.stringMatching(/^earlier-run/)],
    ]);
    // Recovered items are not written again; only the new one is.
    expect(ops('write').flatMap((write) => write.entries)).toEqual([['a', 4]]);
    // A recovered batch was taken in the earlier run: only the new batch is told as taken.
    const newId = calls[2]?.info.batchId;
    expect(ops('taken')).toEqual([{ op: 'taken', key: 'a', count: 2, batchId: newId }]);
    expect(ops('settled').map((call) => call.batchId)).toEqual(['earlier-run-1', 'earlier-run-2', newId]);
    await buffer.close();
  });
});

describe('the store: taken, settled and dropped follow what happened', () => {
  it('hands over the ring before it tells of a take, delivers once the take is durable, and tells of a settle once delivered', async () => {
    const { backend, calls } = testBackend<string, number>();
    const { calls: flushes, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({
      handleFlush,
      store: backend,
      maxSize: 2,
      interval: 1000,
    });
    buffer.insert('a', 1);
    buffer.insert('a', 2); // full: taken within this turn
    const id = flushes[0]?.info.batchId;
    expect(id).toBeUndefined(); // not delivered yet
    await vi.advanceTimersByTimeAsync(0);
    const batchId = flushes[0]?.info.batchId as string;
    // The batch reaches handleFlush only after a durable() that followed its take: after a crash it
    // comes back under its own id, not as untaken items under a new one.
    expect(calls.map((call) => call.op)).toEqual(['open', 'write', 'taken', 'durable', 'settled']);
    expect(calls.slice(1)).toEqual([
      {
        op: 'write',
        firstSeq: 0,
        entries: [
          ['a', 1],
          ['a', 2],
        ],
        keys: expect.any(Array),
      },
      { op: 'taken', key: 'a', count: 2, batchId },
      { op: 'durable' },
      { op: 'settled', batchId },
    ]);
    await buffer.close();
  });

  it('tells of a batch handed to handleError once handleError returned', async () => {
    const { backend, ops } = testBackend<string, number>();
    let release!: () => void;
    const handleError = vi.fn(() => new Promise<void>((resolve) => (release = resolve)));
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {
        throw new Error('down');
      },
      handleError,
      retryMax: 1,
      store: backend,
      interval: 10,
    });
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(handleError).toHaveBeenCalledTimes(1);
    expect(ops('settled')).toEqual([]);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(ops('settled').map((call) => call.batchId)).toEqual([ops('taken')[0]?.batchId]);
    await buffer.close();
  });

  it('tells of drop-oldest evictions and dumped items: open items as dropped, taken batches as settled', async () => {
    const { backend, calls, ops } = testBackend<string, number>();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      store: backend,
      interval: 1000,
      maxBuffered: 2,
      onFull: 'drop-oldest',
      onDrop: () => {},
      logger: silentLogger(),
    });
    buffer.insert('x', 1);
    buffer.insert('x', 2);
    buffer.insert('x', 3); // full: the oldest open item goes
    expect(calls.map((call) => call.op)).toEqual(['open', 'write', 'dropped']);
    expect(ops('write')[0]?.entries).toEqual([
      ['x', 1],
      ['x', 2],
    ]);
    expect(ops('dropped')).toEqual([{ op: 'dropped', key: 'x', count: 1 }]);
    void buffer.flush('x'); // taken, not started yet (its partition starts on a microtask)
    expect([...buffer.dump()]).toEqual([['x', [2, 3]]]);
    buffer.insert('y', 4);
    expect([...buffer.dump()]).toEqual([['y', [4]]]);
    const takenId = ops('taken')[0]?.batchId;
    expect(calls.slice(3).map((call) => call.op)).toEqual(['write', 'taken', 'settled', 'write', 'dropped']);
    expect(ops('taken')).toEqual([{ op: 'taken', key: 'x', count: 2, batchId: takenId }]);
    expect(ops('settled')).toEqual([{ op: 'settled', batchId: takenId }]);
    expect(ops('dropped')[1]).toEqual({ op: 'dropped', key: 'y', count: 1 });
    await buffer.close();
  });
});

describe('the store: a delivery waits until its take is recorded', () => {
  it('holds the first attempt until durable() resolves after the take; one durable() covers many takes', async () => {
    const { backend, ops, resolveDurable } = testBackend<string, number>({ manualDurable: true });
    const { calls: flushes, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, store: backend, maxSize: 1, partitions: 2 });
    buffer.insert('a', 1);
    buffer.insert('b', 2);
    await vi.advanceTimersByTimeAsync(0);
    expect(flushes).toHaveLength(0);
    expect(ops('taken')).toHaveLength(2);
    expect(ops('durable')).toHaveLength(1);
    resolveDurable(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(flushes.map((call) => call.items)).toEqual([[1], [2]]);
    await buffer.close();
  });
});
