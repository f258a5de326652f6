/**
 * A `DataBuffer` on the Redis store, end to end, with node-redis and ioredis against the server at
 * `REDIS_URL`: several buffers on one namespace share its keys, and everything a buffer does with a
 * claimed batch (attempts, retries, `handleError`, close) is the ordinary delivery path. Real server,
 * real time: durations are short and the assertions allow for a loaded machine.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { channelNames, DataBuffer, type FlushInfo, type LateAckMessage } from '../../src/index.js';
import { type RedisStore, redisStore } from '../../src/redis/index.js';
import { redisAvailable, singleServer, sleep, type TestClient, uniqueNamespace } from './server.js';

const available = await redisAvailable('test/redis/buffer.test.ts');

interface Flushed {
  key: string;
  items: number[];
  batchId: string;
  attempt: number;
  by: string;
}

/** Waits until `check` holds, polling every 10 ms, for at most `timeout` ms. */
async function until(check: () => boolean, what: string, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A store whose holder looks, to Redis, like a blocked event loop once it claimed a batch: its
 * `extend` never reaches Redis, and it claims nothing more (a blocked loop neither polls nor claims).
 */
function blockedAfterFirstClaim<K extends string, V>(store: RedisStore<K, V>): RedisStore<K, V> {
  let claimed = false;
  return new Proxy(store, {
    get(target, property) {
      if (property === 'extend') return async () => true;
      if (property === 'due' && claimed) return async () => ({ keys: [], nextIn: undefined });
      if (property === 'claim') {
        return async (key: K, force: boolean) => {
          if (claimed) return undefined;
          const claim = await target.claim(key, force);
          if (claim !== undefined) claimed = true;
          return claim;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

for (const factory of [singleServer.redis, singleServer.ioredis]) {
  describe.skipIf(!available)(`DataBuffer on redisStore (${factory.name})`, () => {
    let test: TestClient;
    const namespaces: string[] = [];
    const buffers: DataBuffer<string, number>[] = [];
    beforeAll(async () => {
      test = await factory.connect();
    });
    afterEach(async () => {
      await Promise.all(buffers.splice(0).map((buffer) => buffer.close({ timeout: 2000 })));
      for (const namespace of namespaces.splice(0)) await test.cleanup(namespace);
    });
    afterAll(async () => {
      await test?.close();
    });

    function namespace(): string {
      const name = uniqueNamespace('buffer');
      namespaces.push(name);
      return name;
    }

    function buffer(
      ns: string,
      by: string,
      flushed: Flushed[],
      options: {
        interval?: number;
        maxSize?: number;
        leaseMs?: number;
        maxRedeliveries?: number;
        partitions?: number;
        heartbeat?: boolean;
        handleFlush?: (key: string, items: number[], info: FlushInfo) => unknown;
        handleError?: (key: string, items: number[], error: Error, info: unknown) => unknown;
      } = {},
    ): DataBuffer<string, number> {
      let store = redisStore<string, number>({
        client: test.client,
        namespace: ns,
        partitions: 4,
        leaseMs: options.leaseMs ?? 5000,
        maxRedeliveries: options.maxRedeliveries ?? 5,
      });
      if (options.heartbeat === false) store = blockedAfterFirstClaim(store);
      const created = new DataBuffer<string, number>({
        interval: options.interval ?? 100,
        maxSize: options.maxSize ?? 1000,
        partitions: options.partitions ?? 2,
        retryDelay: 20,
        store,
        handleFlush: (key, items, info) => {
          flushed.push({ key, items: [...items], batchId: info.batchId, attempt: info.attempt, by });
          return options.handleFlush?.(key, items, info);
        },
        ...(options.handleError === undefined ? {} : { handleError: options.handleError }),
      });
      buffers.push(created);
      return created;
    }

    it('delivers the items of two buffers on one namespace, each producer in insert order per key', async () => {
      const ns = namespace();
      const flushed: Flushed[] = [];
      const a = buffer(ns, 'a', flushed, { maxSize: 7 });
      const b = buffer(ns, 'b', flushed, { maxSize: 7 });
      for (let i = 0; i < 60; i++) {
        for (const key of ['x', 'y', 'z']) {
          a.insert(key, i);
          b.insert(key, 1000 + i);
        }
        if (i % 10 === 9) await sleep(5);
      }
      await Promise.all([a.persisted(), b.persisted()]);
      await until(() => flushed.reduce((n, f) => n + f.items.length, 0) >= 360, 'all 360 items');
      for (const key of ['x', 'y', 'z']) {
        const items = flushed.filter((f) => f.key === key).flatMap((f) => f.items);
        expect(items.filter((n) => n < 1000)).toEqual(Array.from({ length: 60 }, (_, i) => i));
        expect(items.filter((n) => n >= 1000)).toEqual(Array.from({ length: 60 }, (_, i) => 1000 + i));
      }
      expect(Math.max(...flushed.map((f) => f.items.length))).toBeLessThanOrEqual(7);
      expect(a.stats().inserted).toBe(180);
      expect(a.stats().store).toMatchObject({ itemsWritten: 180 });
    });

    it('bounds every batch by maxSize exactly, and claims a full batch at once', async () => {
      const ns = namespace();
      const flushed: Flushed[] = [];
      const a = buffer(ns, 'a', flushed, { maxSize: 10, interval: 60_000 });
      for (let i = 0; i < 95; i++) a.insert('k', i);
      await a.persisted();
      await until(() => flushed.length >= 9, 'nine full batches');
      expect(flushed.map((f) => f.items.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10]);
      expect(flushed.flatMap((f) => f.items)).toEqual(Array.from({ length: 90 }, (_, i) => i));
      await a.flush('k'); // the last 5, not due for a minute: force-claimed
      expect(flushed.at(-1)?.items).toEqual([90, 91, 92, 93, 94]);
    });

    it('counts the interval from the first item reaching Redis', async () => {
      const ns = namespace();
      const flushed: Flushed[] = [];
      const deliveredAt: number[] = [];
      const a = buffer(ns, 'a', flushed, {
        interval: 400,
        handleFlush: () => {
          deliveredAt.push(Date.now());
        },
      });
      const inserted = Date.now();
      a.insert('k', 1);
      await a.persisted();
      const written = Date.now();
      a.insert('k', 2); // joins the open batch: does not move its due time
      await until(() => deliveredAt.length === 1, 'the batch');
      expect(deliveredAt[0]! - inserted).toBeGreaterThanOrEqual(400 - 5);
      expect(deliveredAt[0]! - written).toBeLessThan(400 + 300);
      expect(flushed[0]?.items).toEqual([1, 2]);
      expect(a.size).toBe(0);
    });

    it('re-delivers a batch whose holder stopped extending its lease, same batch id, next attempt; the late ack is refused and counted', async () => {
      const ns = namespace();
      const flushed: Flushed[] = [];
      let release: () => void = () => {};
      const stuck = new Promise<void>((resolve) => {
        release = resolve;
      });
      const a = buffer(ns, 'a', flushed, {
        leaseMs: 300,
        heartbeat: false,
        handleFlush: () => stuck,
      });
      a.insert('k', 1);
      a.insert('k', 2);
      void a.flush('k'); // not awaited: its handler hangs
      await until(() => flushed.length === 1, 'the first delivery');
      const lateAcks: LateAckMessage[] = [];
      const listen = (message: unknown) => lateAcks.push(message as LateAckMessage);
      diagnosticsChannel.subscribe(channelNames.lateAck, listen);
      try {
        const b = buffer(ns, 'b', flushed, { leaseMs: 300 });
        await until(() => flushed.length === 2, 'the re-delivery');
        expect(flushed[1]).toMatchObject({
          by: 'b',
          key: 'k',
          items: [1, 2],
          batchId: flushed[0]!.batchId,
          attempt: flushed[0]!.attempt + 1,
        });
        release();
        await until(() => a.stats().lateAcks === 1, 'the late ack');
        await until(() => b.stats().store?.acks === 1, "b's ack");
        expect(lateAcks).toEqual([expect.objectContaining({ buffer: a, key: 'k', count: 2 })]);
        expect(a.stats().store).toMatchObject({ lateAcks: 1 });
        expect(b.stats().store).toMatchObject({ acks: 1, redeliveries: 1 });
      } finally {
        diagnosticsChannel.unsubscribe(channelNames.lateAck, listen);
      }
    });

    it('close() gives the claimed batches it has not started back, and another buffer delivers them', async () => {
      const ns = namespace();
      const flushed: Flushed[] = [];
      let release: () => void = () => {};
      const running = new Promise<void>((resolve) => {
        release = resolve;
      });
      const a = buffer(ns, 'a', flushed, {
        partitions: 1,
        interval: 50,
        handleFlush: (key) => (key === 'first' ? running : undefined),
      });
      a.insert('first', 1);
      await a.persisted();
      await until(() => flushed.length === 1, 'the first batch running');
      a.insert('second', 2);
      await a.persisted();
      await until(() => a.info()[0]!.queued === 1, 'the second claimed and queued behind the first');
      const closing = a.close();
      const b = buffer(ns, 'b', flushed);
      await until(() => flushed.length === 2, 'the given-back batch');
      expect(flushed[1]).toMatchObject({ by: 'b', key: 'second', items: [2], attempt: 2 });
      release();
      await closing;
      expect(a.stats().store).toMatchObject({ releases: 1, acks: 1 });
      await b.close();
      expect(await test.keys(ns)).toEqual(expect.not.arrayContaining([expect.stringMatching(/:[if]:/)]));
    });

    it('hands a poisoned batch (past maxRedeliveries) to handleError, then acks it', async () => {
      const ns = namespace();
      const flushed: Flushed[] = [];
      const errors: Array<{ by: string; key: string; items: number[]; error: Error; info: unknown }> = [];
      const options = (by: string) => ({
        leaseMs: 200,
        maxRedeliveries: 0,
        heartbeat: false,
        // Never settles: the holder looks dead to Redis (no heartbeat), as one that keeps crashing on it.
        handleFlush: () => new Promise(() => {}),
        handleError: (key: string, items: number[], error: Error, info: unknown) => {
          errors.push({ by, key, items, error, info });
        },
      });
      const a = buffer(ns, 'a', flushed, options('a'));
      a.insert('p', 7);
      await a.persisted();
      void a.flush('p');
      await until(() => flushed.length === 1, 'the first delivery');
      const b = buffer(ns, 'b', flushed, options('b'));
      // The lease lapses; whichever buffer claims the batch next finds it poisoned (lost once, limit 0).
      await until(() => errors.length === 1, 'handleError');
      expect(flushed).toHaveLength(1);
      expect(errors[0]).toMatchObject({
        key: 'p',
        items: [7],
        error: { code: 'ERR_POISONED_BATCH' },
        info: { reason: 'poisoned', attempts: 1, batchId: flushed[0]!.batchId },
      });
      const holder = errors[0]!.by === 'a' ? a : b;
      await until(() => holder.stats().store?.acks === 1, 'the ack');
      expect(holder.stats()).toMatchObject({ failed: 1, failedBatches: 1 });
      // a's first handler never settles: close without waiting for it.
      buffers.splice(0, 1);
      void a.close({ timeout: 0 });
      await sleep(50);
      expect((await test.keys(ns)).filter((name) => /:[if]:/.test(name))).toEqual([]);
    });

    it('refuses a key Redis cannot share at insert, and dump() with a clear error', () => {
      const a = buffer(namespace(), 'a', []);
      expect(() => a.insert({} as never, 1)).toThrow(/strings or finite numbers, got \{\}/);
      expect(() => a.insertMany(Number.NaN as never, [1])).toThrow(/strings or finite numbers/);
      expect(() => a.dump()).toThrow(/dump\(\) is not available on a buffer with a shared store/);
      const store = redisStore<string, number>({ client: test.client, namespace: namespace() });
      expect(() => new DataBuffer({ handleFlush: () => {}, maxBatchBytes: 1000, store })).toThrow(
        /`maxBatchBytes` \(1000\) cannot be used with a store of kind 'shared'/,
      );
      expect(a.size).toBe(0);
    });
  });
}
