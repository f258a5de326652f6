import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, StoreFailedError } from '../src/index.js';
import { STAGING_RING_SIZE } from '../src/write-behind.js';
import { recordingSink, silentLogger, useFakeTimersInEveryTest } from './helpers.js';
import { testBackend } from './stores/test-backend.js';

useFakeTimersInEveryTest();

describe('the store: write-behind from the staging ring', () => {
  it('writes the inserts of one turn in one call, in insert order, numbered from 0', async () => {
    const { backend, ops } = testBackend<string, number>();
    const { handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, store: backend, interval: 1000 });
    buffer.insert('a', 1);
    buffer.insertMany('b', [2, 3]);
    buffer.insert('a', 4);
    expect(ops('write')).toHaveLength(0); // behind the insert, not inside it
    await vi.advanceTimersByTimeAsync(0);
    expect(ops('write').map((w) => [w.firstSeq, w.entries])).toEqual([
      [
        0,
        [
          ['a', 1],
          ['b', 2],
          ['b', 3],
          ['a', 4],
        ],
      ],
    ]);
    buffer.insert('c', 5);
    await vi.advanceTimersByTimeAsync(0);
    expect(ops('write').map((w) => [w.firstSeq, w.entries])).toEqual([
      [0, expect.any(Array)],
      [4, [['c', 5]]],
    ]);
    await buffer.close();
  });

  it('writes at once when the ring is full, then starts it over from its first slot', async () => {
    const { backend, ops } = testBackend<number, number>();
    const { handleFlush } = recordingSink<number, number>();
    const buffer = new DataBuffer<number, number>({ handleFlush, store: backend, interval: 1000 });
    const count = STAGING_RING_SIZE * 2 + 10;
    for (let i = 0; i < STAGING_RING_SIZE; i++) buffer.insert(i % 7, i);
    // Full: written within the turn, without waiting for it to end.
    expect(ops('write').map((w) => [w.firstSeq, w.entries.length])).toEqual([[0, STAGING_RING_SIZE]]);
    for (let i = STAGING_RING_SIZE; i < count; i++) buffer.insert(i % 7, i);
    expect(ops('write')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(0);
    const writes = ops('write');
    expect(writes.map((w) => [w.firstSeq, w.entries.length])).toEqual([
      [0, STAGING_RING_SIZE],
      [STAGING_RING_SIZE, STAGING_RING_SIZE],
      [2 * STAGING_RING_SIZE, 10],
    ]);
    // One preallocated ring, reused: every write reads the same arrays.
    expect(writes[1]?.keys).toBe(writes[0]?.keys);
    expect(writes[2]?.keys).toBe(writes[0]?.keys);
    const values = writes.flatMap((w) => w.entries.map(([, value]) => value));
    expect(values).toEqual(Array.from({ length: count }, (_, i) => i));
    await buffer.close();
  });

  it('persisted() resolves once every earlier insert is written and durable, in order', async () => {
    const { backend, ops, resolveWrite, resolveDurable } = testBackend<string, number>({
      manualWrites: true,
      manualDurable: true,
    });
    const { handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, store: backend, interval: 1000 });
    const done: string[] = [];
    buffer.insert('a', 1);
    const first = buffer.persisted().then(() => done.push('first'));
    buffer.insert('a', 2);
    const second = buffer.persisted().then(() => done.push('second'));
    // Each call hands the ring over at once: two writes.
    expect(ops('write').map((w) => w.entries)).toEqual([[['a', 1]], [['a', 2]]]);
    resolveWrite(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toEqual([]); // the second waits for the first write too
    resolveWrite(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toEqual([]); // written, not yet durable
    expect(ops('durable')).toHaveLength(2);
    resolveDurable(0);
    resolveDurable(1);
    await Promise.all([first, second]);
    expect(done).toEqual(['first', 'second']);
    buffer.dump();
    await buffer.close();
  });

  it('persisted() resolves at once without a store', async () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    buffer.insert('a', 1);
    await expect(buffer.persisted()).resolves.toBeUndefined();
    buffer.dump();
  });

  it('stops accepting inserts once a write fails (fail-stop), and still delivers what it holds', async () => {
    const cause = new Error('disk full');
    const { backend } = testBackend<string, number>({ failWrites: cause });
    const { calls, handleFlush } = recordingSink<string, number>();
    const logger = silentLogger();
    const buffer = new DataBuffer<string, number>({ handleFlush, store: backend, interval: 1000, logger });
    buffer.insert('a', 1);
    const persisted = buffer.persisted();
    await expect(persisted).rejects.toBeInstanceOf(StoreFailedError);
    await expect(persisted).rejects.toMatchObject({ code: 'ERR_STORE_FAILED', cause });
    expect(() => buffer.insert('a', 2)).toThrow(StoreFailedError);
    expect(() => buffer.insertMany('a', [3])).toThrow(/store failed \(write: disk full\)/);
    await expect(buffer.persisted()).rejects.toMatchObject({ code: 'ERR_STORE_FAILED' });
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('disk full'), expect.anything());
    await buffer.flushAll();
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    await buffer.close();
  });

  it('fails when durable() rejects', async () => {
    const { backend } = testBackend<string, number>();
    backend.durable = () => Promise.reject(new Error('fsync failed'));
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      store: backend,
      logger: silentLogger(),
    });
    buffer.insert('a', 1);
    await expect(buffer.persisted()).rejects.toMatchObject({ code: 'ERR_STORE_FAILED' });
    expect(() => buffer.insert('a', 2)).toThrow(StoreFailedError);
    await buffer.close();
  });

  it('close() waits for a pending write, then closes the backend last', async () => {
    const { backend, names, resolveWrite } = testBackend<string, number>({ manualWrites: true });
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush, store: backend, interval: 1000 });
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(0); // the write is out, and pending
    buffer.insert('b', 2); // still in the ring when close() starts
    let closed = false;
    const closing = buffer.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((call) => call.key)).toEqual(['a', 'b']); // delivered meanwhile
    expect(closed).toBe(false);
    expect(names()).not.toContain('close');
    resolveWrite(0);
    resolveWrite(1);
    await closing;
    expect(names().at(-1)).toBe('close');
    expect(names().filter((name) => name === 'close')).toHaveLength(1);
    await expect(buffer.persisted()).resolves.toBeUndefined();
  });

  it('refuses a shared store for now, and a store that is not a backend, naming the option', () => {
    const { backend } = testBackend<string, number>();
    expect(
      () => new DataBuffer({ handleFlush: () => {}, store: { ...backend, kind: 'shared' } as never }),
    ).toThrow(/`store` of kind 'shared' is not supported yet/);
    expect(() => new DataBuffer({ handleFlush: () => {}, store: 42 as never })).toThrow(
      /Expected `store` to be a backend object of kind 'local'.*got `42` \(number\)/,
    );
    expect(
      () => new DataBuffer({ handleFlush: () => {}, store: { ...backend, write: undefined } as never }),
    ).toThrow(/Expected `store.write` to be a function/);
  });
});
