/**
 * Redis restarted under a running store (no persistence): writes do not reject, the store reports the
 * outage and holds the items, and once Redis is back they are written, in order. What Redis held
 * before the restart is gone: a server without persistence forgets everything (see docs/redis.md).
 * The test runs its own `redis-server` on a free port, killed after.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/redis/index.js';
import {
  freePort,
  killStartedServers,
  reconnectingClients,
  recordOutages,
  startServer,
  waitForPort,
} from './restartable-server.js';
import { redisBinariesAvailable, sleep } from './server.js';

const available = await redisBinariesAvailable('test/redis/outage.test.ts');

afterAll(killStartedServers);

const clients = reconnectingClients;

describe.skipIf(!available)('redisStore through a Redis restart', () => {
  for (const [name, connect] of Object.entries(clients)) {
    it(`${name}: reports the outage, keeps the items, and writes them in order once Redis is back`, async () => {
      const port = await freePort();
      let server = startServer(port);
      await waitForPort(port);
      const { client, close } = await connect(port);
      const { events, stop: stopRecording } = recordOutages();
      try {
        const store = redisStore<string, number>({ client, namespace: 'outage', partitions: 4 });
        store.open({ maxSize: Number.POSITIVE_INFINITY, interval: 0, partitions: 1 });
        await store.write({ length: 2, keys: ['k', 'k'], values: [1, 2], firstSeq: 0 });

        server.kill('SIGKILL');
        await new Promise((resolve) => server.once('exit', resolve));
        let settled = false;
        const writes = [
          store.write({ length: 2, keys: ['k', 'k'], values: [3, 4], firstSeq: 2 }),
          store.write({ length: 2, keys: ['k', 'j'], values: [5, 6], firstSeq: 4 }),
        ];
        const all = Promise.all(writes).then(() => {
          settled = true;
        });
        await sleep(400);
        expect(settled).toBe(false);
        expect(store.stats()).toMatchObject({ outages: 1, pendingItems: 4 });
        expect(store.stats().writeRetries).toBeGreaterThan(0);
        expect(events).toEqual(['outage']);

        server = startServer(port);
        await all;
        expect(events).toEqual(['outage', 'recovered']);
        expect(store.stats()).toMatchObject({ pendingItems: 0, itemsWritten: 6 });
        // 1 and 2 were in the Redis that was killed (no persistence): gone. Later items are all there, in order.
        expect((await store.claim('k', true))?.items).toEqual([3, 4, 5]);
        expect((await store.claim('j', true))?.items).toEqual([6]);
      } finally {
        stopRecording();
        await close();
        server.kill('SIGKILL');
      }
    });
  }
});

describe.skipIf(!available)('redisStore on a server that may evict', () => {
  it('warns once when maxmemory-policy lets Redis evict keys without an expiry', async () => {
    const port = await freePort();
    const server = startServer(port, ['--maxmemory-policy', 'allkeys-lru']);
    await waitForPort(port);
    const { client, close } = await clients.ioredis(port);
    const warnings: Array<{ message: string; code?: string }> = [];
    const onWarning = (warning: Error & { code?: string }) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const store = redisStore<string, number>({ client, namespace: 'evict', partitions: 2 });
      store.open({ maxSize: 10, interval: 0, partitions: 1 });
      await store.write({ length: 1, keys: ['k'], values: [1], firstSeq: 0 });
      await store.due(0, 1);
      await sleep(10);
      expect(warnings).toEqual([
        expect.objectContaining({
          code: 'DATA_BUFFER_REDIS_EVICTION',
          message: expect.stringContaining('maxmemory-policy allkeys-lru'),
        }),
      ]);
    } finally {
      process.off('warning', onWarning);
      close();
      server.kill('SIGKILL');
    }
  });
});
