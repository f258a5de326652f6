/**
 * A client-side command timeout that runs out while Redis has the append in its input: the server runs
 * it later, but the client may have failed the command, and the writer then sends it again. Each item
 * must be in Redis once. The test runs its own `redis-server` on a free port (killed after) and stalls
 * it with `DEBUG SLEEP`, so that the append waits in the server's input while the client's timeout
 * (100 ms) runs out.
 *
 * ioredis's `commandTimeout` fails a command that was written and not answered in time: the append
 * goes again, and Redis recognises it. node-redis's `commandOptions.timeout` (6.x) only fails a command
 * not yet written to the socket, which Redis never saw: once written, the client waits for the reply.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/redis/index.js';
import { freePort, killStartedServers, startServer, waitForPort } from './restartable-server.js';
import { redisBinariesAvailable, sleep } from './server.js';

const available = await redisBinariesAvailable('test/redis/command-timeout.test.ts');

afterAll(killStartedServers);

const TIMEOUT_MS = 100;

/** Clients whose commands fail after {@link TIMEOUT_MS} without a reply. */
const clients = {
  'node-redis': {
    timesOutAfterWrite: false,
    async connect(port: number) {
      const client = createClient({
        url: `redis://127.0.0.1:${port}`,
        commandOptions: { timeout: TIMEOUT_MS },
      });
      client.on('error', () => {});
      await client.connect();
      return { client, close: () => client.destroy() };
    },
  },
  ioredis: {
    timesOutAfterWrite: true,
    async connect(port: number) {
      const client = new Redis({ port, commandTimeout: TIMEOUT_MS });
      client.on('error', () => {});
      await new Promise((resolve) => client.once('ready', resolve));
      return { client, close: () => client.disconnect() };
    },
  },
};

describe.skipIf(!available)('an append whose reply outlives the client’s command timeout', () => {
  for (const [name, { timesOutAfterWrite, connect }] of Object.entries(clients)) {
    const how = timesOutAfterWrite
      ? 'sent again, recognised by Redis'
      : 'the client waits for a written command';
    it(`${name}: stores each item once (${how})`, async () => {
      const port = await freePort();
      startServer(port, ['--enable-debug-command', 'yes']);
      await waitForPort(port);
      const { client, close } = await connect(port);
      const admin = createClient({ url: `redis://127.0.0.1:${port}` });
      admin.on('error', () => {});
      await admin.connect();
      try {
        const store = redisStore<string, number>({ client, namespace: 'timeout', partitions: 4 });
        store.open({ maxSize: Number.POSITIVE_INFINITY, interval: 0, partitions: 1 });
        await store.write({ length: 1, keys: ['k'], values: [0], firstSeq: 0 }); // the layout check

        // The server sleeps 600 ms: the append (and every copy sent again meanwhile) times out on the
        // client, waiting in the server's input; the server runs them all once it wakes.
        const stalled = admin.sendCommand(['DEBUG', 'SLEEP', '0.6']);
        await sleep(20);
        const write = store.write({ length: 3, keys: ['k', 'j', 'k'], values: [1, 2, 3], firstSeq: 1 });
        await stalled;
        await write;
        if (timesOutAfterWrite) {
          expect(store.stats().writeRetries).toBeGreaterThan(0);
          expect(store.stats().repeatedWrites).toBe(1);
        } else {
          expect(store.stats()).toMatchObject({ writeRetries: 0, repeatedWrites: 0 });
        }
        await store.write({ length: 1, keys: ['k'], values: [4], firstSeq: 4 });
        expect((await store.claim('k', true))?.items).toEqual([0, 1, 3, 4]);
        expect((await store.claim('j', true))?.items).toEqual([2]);
        await store.close();
      } finally {
        await admin.quit().catch(() => {});
        await close();
      }
    });
  }
});
