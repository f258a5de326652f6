/**
 * Redis restarted under a running store (no persistence): writes do not reject, the store reports the
 * outage and holds the items, and once Redis is back they are written, in order. What Redis held
 * before the restart is gone: a server without persistence forgets everything (see docs/redis.md).
 * The test runs its own `redis-server` on a free port, killed after.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisChannelNames, redisStore } from '../../src/redis/index.js';
import { redisBinariesAvailable, sleep } from './server.js';

const available = await redisBinariesAvailable('test/redis/outage.test.ts');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const servers: ChildProcess[] = [];
function startServer(port: number, extra: string[] = []): ChildProcess {
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    {
      stdio: 'ignore',
    },
  );
  servers.push(server);
  return server;
}
afterAll(() => {
  for (const server of servers) server.kill('SIGKILL');
});

/** Clients that fail commands at once while disconnected (no offline queue), and reconnect quickly. */
const clients = {
  'node-redis': async (port: number) => {
    const client = createClient({
      url: `redis://127.0.0.1:${port}`,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 50 },
    });
    client.on('error', () => {});
    await client.connect();
    return { client, close: () => client.destroy() };
  },
  ioredis: async (port: number) => {
    const client = new Redis({
      port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('ready', resolve));
    return { client, close: () => client.disconnect() };
  },
};

describe.skipIf(!available)('redisStore through a Redis restart', () => {
  for (const [name, connect] of Object.entries(clients)) {
    it(`${name}: reports the outage, keeps the items, and writes them in order once Redis is back`, async () => {
      const port = await freePort();
      let server = startServer(port);
      await waitForPort(port);
      const { client, close } = await connect(port);
      const events: string[] = [];
      const onOutage = () => events.push('outage');
      const onRecovered = () => events.push('recovered');
      diagnosticsChannel.subscribe(redisChannelNames.outage, onOutage);
      diagnosticsChannel.subscribe(redisChannelNames.recovered, onRecovered);
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
        diagnosticsChannel.unsubscribe(redisChannelNames.outage, onOutage);
        diagnosticsChannel.unsubscribe(redisChannelNames.recovered, onRecovered);
        await close();
        server.kill('SIGKILL');
      }
    });
  }
});

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

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
