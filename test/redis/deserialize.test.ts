/**
 * A claimed batch with items `deserialize` throws for (a value written by an older version of the app,
 * a corrupt text): it goes to `handleError` at once, with the items that could be read and a
 * `RedisDeserializeError` that names the key and batch and keeps the stored texts of the others, and
 * then leaves Redis. Before, the claim itself rejected: the batch stayed leased, came back after every
 * lease, and never reached `handleError`, not even as poison.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBuffer, type ErrorInfo } from '../../src/index.js';
import { RedisDeserializeError, redisStore } from '../../src/redis/index.js';
import { redisAvailable, singleServer, sleep, type TestClient, uniqueNamespace } from './server.js';

const available = await redisAvailable('test/redis/deserialize.test.ts');

for (const factory of [singleServer.redis, singleServer.ioredis]) {
  describe.skipIf(!available)(`a throwing deserialize (${factory.name})`, () => {
    let test: TestClient;
    beforeAll(async () => {
      test = await factory.connect();
    });
    afterAll(async () => {
      await test?.close();
    });

    it('hands the batch to handleError with an error naming the key and batch, then acks it', async () => {
      const namespace = uniqueNamespace('deserialize');
      const flushed: string[][] = [];
      const failed: { key: string; items: string[]; error: Error; info: ErrorInfo }[] = [];
      const store = redisStore<string, string>({
        client: test.client,
        namespace,
        partitions: 2,
        leaseMs: 300, // short: a batch left leased would come back (and be counted) within the test
        deserialize: (text) => {
          const value = JSON.parse(text) as string;
          if (value.startsWith('bad')) throw new SyntaxError(`cannot read ${value}`);
          return value;
        },
      });
      const buffer = new DataBuffer<string, string>({
        interval: 20,
        maxSize: 100,
        store,
        handleFlush: (_key, items) => {
          flushed.push([...items]);
        },
        handleError: (key, items, error, info) => {
          failed.push({ key, items: [...items], error, info });
        },
      });
      try {
        for (const item of ['a', 'bad-1', 'b', 'bad-2', 'c']) buffer.insert('page', item);
        await buffer.persisted();
        const deadline = Date.now() + 5000;
        while (failed.length === 0 && Date.now() < deadline) await sleep(10);
        expect(failed).toHaveLength(1);
        const [{ key, items, error, info }] = failed as [(typeof failed)[0]];
        expect(key).toBe('page');
        expect(items).toEqual(['a', 'b', 'c']);
        expect(info.reason).toBe('poisoned');
        expect(error).toBeInstanceOf(RedisDeserializeError);
        const unreadable = error as RedisDeserializeError;
        expect(unreadable.code).toBe('ERR_REDIS_DESERIALIZE');
        expect(unreadable.texts).toEqual(['"bad-1"', '"bad-2"']);
        expect(unreadable.key).toBe('page');
        expect(unreadable.batchId).toBe(info.batchId);
        expect(unreadable.message).toContain('"page"');
        expect(unreadable.message).toContain(info.batchId);
        expect(unreadable.cause).toBeInstanceOf(SyntaxError);
        expect(flushed).toEqual([]);
        // Acked: nothing of the batch is left in Redis, and it is not claimed again after its lease.
        await sleep(700);
        expect(failed).toHaveLength(1);
        expect(store.stats()).toMatchObject({ claims: 1, acks: 1, poisoned: 1, redeliveries: 0 });
        const left = (await test.keys(namespace)).filter(
          (name) => !/^\{[^}]+\}:(config|fence|w:[\w-]{12})$/.test(name),
        );
        expect(left).toEqual([]);
      } finally {
        await buffer.close({ timeout: 2000 });
        await test.cleanup(namespace);
      }
    });

    it('reads a large claimed batch in slices, letting the event loop turn between them', async () => {
      const namespace = uniqueNamespace('deserialize-slices');
      let read = 0;
      const store = redisStore<string, number>({
        client: test.client,
        namespace,
        partitions: 2,
        deserialize: (text) => {
          read++;
          // About 20 µs an item: 2,000 items take some 40 ms, many slices of 2 ms.
          const until = performance.now() + 0.02;
          while (performance.now() < until) {}
          return Number(text);
        },
      });
      store.open({ maxSize: Number.POSITIVE_INFINITY, interval: 0, partitions: 1 });
      try {
        const n = 2000;
        const values = Array.from({ length: n }, (_, i) => i);
        await store.write({ length: n, keys: values.map(() => 'k'), values, firstSeq: 0 });
        // What the loop saw of the reading, at each turn while the claim was out.
        const seen: number[] = [];
        let claiming = true;
        const watch = () => {
          seen.push(read);
          if (claiming) setImmediate(watch);
        };
        setImmediate(watch);
        const claim = await store.claim('k', true);
        claiming = false;
        expect(claim?.items).toEqual(values);
        expect(seen.some((count) => count > 0 && count < n)).toBe(true);
        await store.ack(claim!);
      } finally {
        await store.close();
        await test.cleanup(namespace);
      }
    });
  });
}
