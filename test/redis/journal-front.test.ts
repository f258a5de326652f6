/**
 * The journal in front of Redis (`redisStore({ …, journal: journal({ dir }) })`), against real
 * servers: `persisted()` resolves once items are journaled, while Redis is down too; items leave the
 * journal once Redis confirmed them; and what a process journaled but Redis never confirmed reaches
 * Redis from the next process on the same directory. The kill tests SIGKILL a real producer process
 * (`fixtures/journal-worker.ts`): once during a Redis outage (nothing it persisted is in Redis), once
 * with Redis up (some of it is, some is not). `REDIS_JOURNAL_KILL_REPEATS=n` repeats them.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DataBuffer } from '../../src/index.js';
import { journal } from '../../src/journal/index.js';
import { type RedisStore, redisStore } from '../../src/redis/index.js';
import { killWorkersAfterEach, spawnWorker } from './kill-run.js';
import {
  freePort,
  killStartedServers,
  reconnectingClients,
  startServer,
  waitForPort,
} from './restartable-server.js';
import { redisBinariesAvailable, sleep, uniqueNamespace } from './server.js';

const available = await redisBinariesAvailable('test/redis/journal-front.test.ts');
const fixture = fileURLToPath(new URL('./fixtures/journal-worker.ts', import.meta.url));
const repeats = Number(process.env.REDIS_JOURNAL_KILL_REPEATS ?? 0);
const quiet = { error: () => {}, warn: () => {} };

const dirs: string[] = [];
killWorkersAfterEach();
afterAll(() => {
  killStartedServers();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'db-journal-front-'));
  dirs.push(dir);
  return dir;
}

async function until(check: () => boolean, what: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A Redis server of the test's own, and a reconnecting node-redis client on it. */
async function ownServer() {
  const port = await freePort();
  let server = startServer(port);
  await waitForPort(port);
  const connection = await reconnectingClients['node-redis'](port);
  return {
    port,
    client: connection.client,
    close: connection.close,
    async stop() {
      server.kill('SIGKILL');
      await new Promise((resolve) => server.once('exit', resolve));
    },
    async start() {
      server = startServer(port);
      await waitForPort(port);
      await until(() => connection.client.isReady, 'the client to reconnect');
    },
  };
}

/**
 * The next process on the journal's directory (here: the test's own): a buffer on the store with the
 * journal in front, which recovers what the journal holds, writes it to Redis, and delivers everything.
 */
function restart(client: unknown, namespace: string, dir: string, delivered: Map<string, string[]>) {
  const store = redisStore<string, string>({
    client,
    namespace,
    partitions: 4,
    journal: journal({ dir, sync: 'process' }),
  });
  const buffer = new DataBuffer<string, string>({
    interval: 20,
    maxSize: 500,
    logger: quiet,
    store,
    handleFlush: (key, items) => {
      delivered.set(key, [...(delivered.get(key) ?? []), ...items]);
    },
  });
  return { store, buffer };
}

/** Journal segment files left in `dir`. */
const segments = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.log')).length;

describe.skipIf(!available)('the journal in front of Redis', () => {
  it('persisted() resolves once journaled while Redis is down; the next start writes the items to Redis', async () => {
    const redis = await ownServer();
    const dir = tempDir();
    const namespace = uniqueNamespace('journal-front');
    const first = new DataBuffer<string, number>({
      interval: 20,
      logger: quiet,
      store: redisStore({ client: redis.client, namespace, journal: journal({ dir }) }),
      handleFlush: () => {},
    });
    const delivered = new Map<string, string[]>();
    let second: { store: RedisStore<string, string>; buffer: DataBuffer<string, string> } | undefined;
    try {
      await redis.stop();
      for (let i = 0; i < 10; i++) first.insert('k', i);
      await first.persisted(); // journaled: Redis is down
      expect(first.stats().store).toMatchObject({ pendingItems: 10, itemsWritten: 0 });
      // A close that cannot reach Redis gives up at its deadline: the items stay in the journal.
      const report = await first.close({ timeout: 300 });
      expect(report).toMatchObject({ unwritten: 10, timedOut: true });

      await redis.start();
      second = restart(redis.client, namespace, dir, delivered);
      expect(second.store.stats().recoveredItems).toBe(10);
      await second.buffer.persisted();
      await until(() => (delivered.get('k')?.length ?? 0) >= 10, 'the recovered items');
      expect(delivered.get('k')).toEqual(Array.from({ length: 10 }, (_, i) => i));
      await second.buffer.close({ timeout: 2000 });
      expect(segments(dir)).toBe(0); // confirmed by Redis: nothing left to recover
    } finally {
      await second?.buffer.close({ timeout: 1000 });
      await redis.close();
      await redis.stop();
    }
  });

  it('items leave the journal once Redis confirmed them; a healthy close leaves nothing to recover', async () => {
    const redis = await ownServer();
    const dir = tempDir();
    const namespace = uniqueNamespace('journal-front');
    const delivered: number[] = [];
    const journaled = journal<string, number>({ dir });
    const buffer = new DataBuffer<string, number>({
      interval: 20,
      logger: quiet,
      store: redisStore({ client: redis.client, namespace, journal: journaled }),
      handleFlush: (_key, items) => {
        delivered.push(...items);
      },
    });
    try {
      for (let i = 0; i < 50; i++) buffer.insert(`k${i % 5}`, i);
      await buffer.persisted();
      await until(() => delivered.length === 50, 'all 50 items');
      await until(() => journaled.stats().keys === 0, 'the journal to let go of them');
      expect(buffer.stats().store).toMatchObject({ itemsWritten: 50, pendingItems: 0, recoveredItems: 0 });
      const report = await buffer.close({ timeout: 2000 });
      expect(report).toMatchObject({ unwritten: 0, unreturned: 0, timedOut: false });
      expect(segments(dir)).toBe(0);
      // The next start finds nothing to write again.
      const again = redisStore<string, number>({
        client: redis.client,
        namespace,
        journal: journal({ dir }),
      });
      again.open({ maxSize: 10, interval: 10, partitions: 1 });
      expect(again.stats().recoveredItems).toBe(0);
      await again.close();
    } finally {
      await buffer.close({ timeout: 1000 });
      await redis.close();
      await redis.stop();
    }
  });

  it('serializes a value once: Redis gets the JSON the journal encoded at insert (default serializers)', async () => {
    const redis = await ownServer();
    const dir = tempDir();
    const namespace = uniqueNamespace('journal-front-json');
    let stringified = 0;
    /** A value that counts how often it is turned into JSON. */
    const view = (n: number) => ({
      n,
      text: `é€ ${n}`,
      toJSON() {
        stringified++;
        return { n, text: `é€ ${n}` };
      },
    });
    const delivered: unknown[] = [];
    const buffer = new DataBuffer<string, unknown>({
      interval: 20,
      logger: quiet,
      store: redisStore({ client: redis.client, namespace, journal: journal({ dir }) }),
      handleFlush: (_key, items) => {
        delivered.push(...items);
      },
    });
    try {
      // Objects are JSON in both; strings are stored as they are by the journal and JSON in Redis.
      for (let i = 0; i < 20; i++) buffer.insert(`k${i % 3}`, i % 5 === 0 ? `plain ${i}` : view(i));
      await buffer.persisted();
      await until(() => delivered.length === 20, 'all 20 items');
      expect(stringified).toBe(16);
      expect(delivered).toEqual(
        expect.arrayContaining(
          Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? `plain ${i}` : { n: i, text: `é€ ${i}` })),
        ),
      );
    } finally {
      await buffer.close({ timeout: 1000 });
      await redis.close();
      await redis.stop();
    }
  });

  for (const outage of [true, false]) {
    it(outage
      ? 'kill -9 of a producer during a Redis outage: every id it saw persisted reaches Redis from the next process, in order'
      : 'kill -9 of a producer with Redis up: every id it saw persisted is delivered; duplicates only of ids written again from the journal', {
      timeout: 60_000,
      repeats,
    }, async () => {
      const redis = await ownServer();
      const dir = tempDir();
      const namespace = uniqueNamespace('journal-kill');
      let persisted = 0;
      let ready = false;
      const child = spawnWorker(fixture, [String(redis.port), namespace, dir]);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line);
        if (message.ready) ready = true;
        if (message.persisted) persisted = message.persisted;
      });
      const delivered = new Map<string, string[]>();
      let restarted: ReturnType<typeof restart> | undefined;
      try {
        await until(() => ready, 'the producer to start');
        if (outage) await redis.stop();
        child.stdin!.write('go\n');
        // Killed at a random moment: between a persisted() and the next, or in the middle of a turn.
        const killAt = 40 + Math.floor(Math.random() * 200);
        await until(() => persisted >= killAt, `${killAt} ids per key persisted`);
        child.kill('SIGKILL');
        await exited;
        const saw = persisted;
        if (outage) await redis.start();

        restarted = restart(redis.client, namespace, dir, delivered);
        const recovered = restarted.store.stats().recoveredItems;
        if (outage) expect(recovered).toBeGreaterThanOrEqual(4 * saw); // none of it was in Redis
        await restarted.buffer.persisted();
        const complete = () => {
          for (let k = 0; k < 4; k++) {
            const seen = new Set(delivered.get(`key-${k}`));
            for (let n = 0; n < saw; n++) if (!seen.has(`key-${k}:${n}`)) return false;
          }
          return true;
        };
        const deadline = Date.now() + 20_000;
        while (!complete()) {
          if (Date.now() > deadline) throw new Error('persisted ids were not delivered');
          await restarted.buffer.flushAll(); // the producer's batches fall due only after a minute
          await sleep(20);
        }
        let duplicates = 0;
        for (let k = 0; k < 4; k++) {
          const items = delivered.get(`key-${k}`)!.map((item) => Number(item.split(':')[1]));
          // First deliveries come in insert order; a duplicate is an id delivered again later.
          const firsts = items.filter((n, i) => items.indexOf(n) === i);
          expect(firsts).toEqual(Array.from({ length: firsts.length }, (_, n) => n));
          duplicates += items.length - firsts.length;
        }
        // A duplicate is an id Redis had confirmed whose release from the journal the kill cut off:
        // written again from the journal. During the outage Redis confirmed nothing: none at all.
        expect(duplicates).toBeLessThanOrEqual(recovered);
        if (outage) expect(duplicates).toBe(0);
        await restarted.buffer.close({ timeout: 5000 });
        expect(segments(dir)).toBe(0);
        console.log(
          `journal in front, kill -9 ${outage ? 'during an outage' : 'with Redis up'}: ${4 * saw} ids persisted, ${recovered} recovered from the journal, ${duplicates} delivered twice`,
        );
      } finally {
        await restarted?.buffer.close({ timeout: 1000 });
        await redis.close();
        await redis.stop();
      }
    });
  }
});
