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
  });
}
