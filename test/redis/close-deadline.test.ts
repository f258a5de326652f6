/**
 * `close()` on a Redis that never answers (its commands hang: a client with an offline queue during a
 * long outage, a network that drops packets) ends at the close deadline like any other close, and its
 * `CloseReport` says what was not returned to Redis: items never written (`unwritten`), and items of
 * claimed batches whose ack or give-back got no answer (`unreturned`; they come back after their lease).
 * Before, close() waited for the store's writes and acks forever.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataBuffer, StoreFailedError } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { deferred, silentLogger } from '../helpers.js';
import { redisAvailable, singleServer, sleep, type TestClient, uniqueNamespace } from './server.js';

/** A node-redis client as the adapter sees one, whose every command hangs. */
const hangingClient = {
  evalSha: () => new Promise(() => {}),
  sendCommand: () => new Promise(() => {}),
};

/** Wraps a real node-redis client: once `hang` is set, every command it is sent hangs. */
function gated(client: object): { client: object; hang(): void } {
  let hanging = false;
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property === 'sendCommand' && hanging) return () => new Promise(() => {});
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    client: proxy,
    hang: () => {
      hanging = true;
    },
  };
}

describe('close() against a Redis that never answers (fake timers)', () => {
  beforeAll(() => {
    vi.useFakeTimers();
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it('ends at the deadline, reports the unwritten items, rejects persisted(), and leaves no timer behind', async () => {
    const logger = silentLogger();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      logger,
      store: redisStore({ client: hangingClient, namespace: 'hangs' }),
    });
    buffer.insert('a', 1);
    buffer.insert('a', 2);
    buffer.insert('b', 3);
    const persisted = buffer.persisted();
    persisted.catch(() => {});
    let report: unknown;
    void buffer.close({ timeout: 5000 }).then((r) => {
      report = r;
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(report).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(report).toEqual({
      delivered: 0,
      failed: 0,
      abandoned: 0,
      dropped: 0,
      unwritten: 3,
      unreturned: 0,
      timedOut: true,
    });
    await expect(persisted).rejects.toBeInstanceOf(StoreFailedError);
    await expect(persisted).rejects.toMatchObject({ cause: { code: 'ERR_REDIS_CLOSED' } });
    // Nothing keeps retrying a write (or holds the process open) after close() returned.
    expect(vi.getTimerCount()).toBe(0);
    // The report says it; the log does not repeat it as a failure.
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('close({ timeout: 0 }) does not wait for the store at all', async () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      logger: silentLogger(),
      store: redisStore({ client: hangingClient, namespace: 'hangs' }),
    });
    buffer.insert('a', 1);
    let report: { timedOut: boolean; unwritten: number } | undefined;
    void buffer.close({ timeout: 0 }).then((r) => {
      report = r;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(report).toMatchObject({ timedOut: true, unwritten: 1 });
  });
});

const available = await redisAvailable('test/redis/close-deadline.test.ts');

describe.skipIf(!available)('close() when Redis stops answering while a claimed batch runs', () => {
  let test: TestClient;
  beforeAll(async () => {
    test = await singleServer.redis.connect();
  });
  afterAll(async () => {
    await test?.close();
  });

  it('ends at the deadline with the batch counted as unreturned; another buffer gets it after its lease', async () => {
    const namespace = uniqueNamespace('close-hang');
    const gate = gated(test.client as object);
    const entered = deferred();
    const release = deferred();
    const first: { items: number[]; batchId: string }[] = [];
    const buffer = new DataBuffer<string, number>({
      interval: 10,
      maxSize: 3,
      logger: silentLogger(),
      store: redisStore({ client: gate.client, namespace, partitions: 2, leaseMs: 600 }),
      handleFlush: async (_key, items, info) => {
        first.push({ items: [...items], batchId: info.batchId });
        entered.resolve();
        await release.promise;
      },
    });
    const second: { items: number[]; batchId: string; attempt: number }[] = [];
    let other: DataBuffer<string, number> | undefined;
    try {
      for (const n of [1, 2, 3]) buffer.insert('page', n);
      await buffer.persisted();
      await entered.promise;
      gate.hang(); // from here on, Redis never answers this buffer: its ack will hang
      const closing = buffer.close({ timeout: 300 });
      release.resolve(); // delivered: the ack goes out, and gets no answer
      const report = await closing;
      expect(report).toMatchObject({ delivered: 3, unwritten: 0, unreturned: 3, timedOut: true });

      // The batch is still leased in Redis: once the lease runs out, another buffer delivers it again.
      other = new DataBuffer<string, number>({
        interval: 10,
        logger: silentLogger(),
        store: redisStore({ client: test.client, namespace, partitions: 2, leaseMs: 600 }),
        handleFlush: (_key, items, info) => {
          second.push({ items: [...items], batchId: info.batchId, attempt: info.attempt });
        },
      });
      const deadline = Date.now() + 5000;
      while (second.length === 0 && Date.now() < deadline) await sleep(20);
      expect(second).toEqual([{ items: [1, 2, 3], batchId: first[0]!.batchId, attempt: 2 }]);
    } finally {
      release.resolve();
      await other?.close({ timeout: 2000 });
      await test.cleanup(namespace);
    }
  });
});
