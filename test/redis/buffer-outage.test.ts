/**
 * Redis restarted (no persistence) under a `DataBuffer` on the Redis store, with both clients: the
 * buffer reports the outage, holds what it cannot write up to its budget (`maxBuffered`; past it the
 * `onFull` policy decides: here `'drop-newest'`, counted and handed to `onDrop`), and goes on once
 * Redis is back. What Redis held when it went down is lost: without persistence, a restarted server
 * starts empty (the two items written before the restart are never delivered). The test runs its own
 * `redis-server` on a free port, killed after.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DataBuffer } from '../../src/index.js';
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

const available = await redisBinariesAvailable('test/redis/buffer-outage.test.ts');

afterAll(killStartedServers);

async function until(check: () => boolean, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

const clients = reconnectingClients;

describe.skipIf(!available)('DataBuffer on redisStore through a Redis restart', () => {
  for (const [name, connect] of Object.entries(clients)) {
    it(`${name}: reports the outage, holds items up to its budget, and goes on once Redis is back`, async () => {
      const port = await freePort();
      let server = startServer(port);
      await waitForPort(port);
      const { client, close } = await connect(port);
      const { events, stop: stopRecording } = recordOutages();
      const delivered: number[] = [];
      const dropped: number[] = [];
      const buffer = new DataBuffer<string, number>({
        interval: 300,
        maxBuffered: 20,
        onFull: 'drop-newest',
        onDrop: (_key, items) => dropped.push(...items),
        logger: { error: () => {}, warn: () => {} },
        store: redisStore({ client, namespace: 'buffer-outage', partitions: 2, leaseMs: 2000 }),
        handleFlush: (_key, items) => {
          delivered.push(...items);
        },
      });
      try {
        buffer.insert('k', 1);
        buffer.insert('k', 2);
        await buffer.persisted();
        expect(buffer.size).toBe(0); // written: they are Redis's now, not counted here

        server.kill('SIGKILL');
        await new Promise((resolve) => server.once('exit', resolve));
        for (let i = 3; i <= 30; i++) buffer.insert('k', i);
        let persisted = false;
        const waiting = buffer.persisted().then(() => {
          persisted = true;
        });
        await until(() => events.includes('outage'), 'the outage report');
        await sleep(200);
        // The budget bounds what piles up: 20 held, the 8 past it dropped (onFull), none lost silently.
        expect(buffer.size).toBe(20);
        expect(dropped).toEqual([23, 24, 25, 26, 27, 28, 29, 30]);
        expect(persisted).toBe(false);
        expect(buffer.stats()).toMatchObject({ inserted: 30, dropped: 8, buffered: 20 });
        expect(buffer.stats().store).toMatchObject({ outages: 1, pendingItems: 20 });

        server = startServer(port);
        await waiting;
        expect(events).toEqual(['outage', 'recovered']);
        await until(() => delivered.length >= 20, 'the items held through the outage');
        expect(delivered).toEqual(Array.from({ length: 20 }, (_, i) => i + 3));
        expect(buffer.size).toBe(0);
        // 1 and 2 were in the Redis that restarted without persistence: lost there, never delivered.
        await sleep(400);
        expect(delivered).not.toContain(1);
        expect(buffer.insert('k', 31)).toBe(true); // room again
      } finally {
        stopRecording();
        await buffer.close({ timeout: 1000 });
        await close();
        server.kill('SIGKILL');
      }
    });
  }
});
