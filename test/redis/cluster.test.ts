/**
 * The store on a Redis Cluster of three masters, started here on free local ports and killed after
 * (even when a test fails): the conformance suite with node-redis `createCluster` and ioredis
 * `Cluster`, and the partitions spread over the masters.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/redis/index.js';
import { describeSharedStoreConformance } from './conformance.js';
import { type LocalCluster, redisBinariesAvailable, startCluster, uniqueNamespace } from './server.js';

const available = await redisBinariesAvailable('test/redis/cluster.test.ts');
const cluster: LocalCluster | undefined = available ? await startCluster() : undefined;
afterAll(() => cluster?.stop());

if (cluster) {
  describeSharedStoreConformance(cluster.redis);
  describeSharedStoreConformance(cluster.ioredis);

  describe('redisStore on a Cluster', () => {
    it('spreads its partitions over every master, and each script stays in one slot', async () => {
      const namespace = uniqueNamespace('spread');
      const connection = await cluster.ioredis.connect();
      try {
        const store = redisStore<string, number>({ client: connection.client, namespace, partitions: 16 });
        store.open({ maxSize: 100, interval: 0, partitions: 1 });
        const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
        await store.write({ length: keys.length, keys, values: keys.map((_, i) => i), firstSeq: 0 });
        const masters = new Map<number, number>();
        for (let p = 0; p < store.partitions; p++) {
          const port = await cluster.masterOf(`{${namespace}:${p}}`);
          masters.set(port, (masters.get(port) ?? 0) + 1);
        }
        expect([...masters.keys()].sort()).toEqual([...cluster.ports].sort());
        // Every master holds some of the items.
        for (const port of cluster.ports) {
          expect((await cluster.keysOn(port, namespace)).some((key) => key.includes(':i:'))).toBe(true);
        }
        let delivered = 0;
        for (let p = 0; p < store.partitions; p++) {
          for (const key of (await store.due(p, 1000)).keys) {
            const claim = (await store.claim(key, false))!;
            delivered += claim.items.length;
            expect(await store.ack(claim)).toBe(true);
          }
        }
        expect(delivered).toBe(200);
      } finally {
        await connection.cleanup(namespace);
        await connection.close();
      }
    });
  });
}
