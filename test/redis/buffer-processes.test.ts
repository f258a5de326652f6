/**
 * Four processes share a namespace through `DataBuffer` on the Redis store (the fixture
 * `fixtures/buffer-worker.ts`); each inserts its own ids into six shared keys, and each delivers the
 * batches it claims. One is killed with SIGKILL inside `handleFlush` (it holds that claimed batch, and
 * maybe more, queued behind it). In the end every id a process saw persisted is delivered at least
 * once, each producer's ids of a key in insert order; every duplicate is an item of a batch the killed
 * process had received, delivered again under the same batch id with the next attempt.
 * `REDIS_KILL_REPEATS=99` repeats it (100 kills) for a manual run; `REDIS_CLIENT=ioredis` switches client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { REDIS_URL, redisAvailable, singleServer, sleep, uniqueNamespace } from './server.js';

const fixture = fileURLToPath(new URL('./fixtures/buffer-worker.ts', import.meta.url));
const available = await redisAvailable('test/redis/buffer-processes.test.ts');
const PER_KEY = 150;
const KEYS = 6;
const repeats = Number(process.env.REDIS_KILL_REPEATS ?? 0);
const clientKind = process.env.REDIS_CLIENT ?? 'redis';

interface Flushed {
  key: string;
  items: string[];
  batchId: string;
  attempt: number;
  by: number;
}

/** The claim's fence, from the store's batch id (`partition-fence-time`): claim order within a partition. */
const fenceOf = (batchId: string) => Number(batchId.split('-')[1]);

let children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
});

it.skipIf(!available)(
  '4 processes through DataBuffer, one killed inside handleFlush: every persisted id delivered, in order per producer',
  { timeout: 60_000, repeats },
  async () => {
    const namespace = uniqueNamespace('buffer-processes');
    const persisted = [0, 0, 0, 0];
    const deliveries: Flushed[] = [];
    let victimStuck: string | undefined;
    const exited = [0, 1, 2, 3].map((id) => {
      const args = [fixture, REDIS_URL, namespace, String(id), String(PER_KEY), clientKind];
      if (id === 0) args.push('stuck');
      const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line);
        if (message.persisted) persisted[id] = message.persisted;
        if (message.delivered) deliveries.push({ ...message.delivered, by: id });
        if (message.stuck) victimStuck = message.stuck;
      });
      return new Promise((resolve) => child.once('exit', resolve));
    });
    const connection = await singleServer.redis.connect();
    try {
      const start = Date.now();
      while (!victimStuck) {
        if (Date.now() - start > 30_000) throw new Error('process 0 never got stuck');
        await sleep(1);
      }
      children[0]!.kill('SIGKILL');
      await exited[0];
      const missing = () => {
        const seen = new Set(deliveries.flatMap((d) => d.items));
        let count = 0;
        for (let id = 0; id < 4; id++) {
          for (let k = 0; k < KEYS; k++) {
            for (let n = 0; n < persisted[id]!; n++) if (!seen.has(`${id}:key-${k}:${n}`)) count++;
          }
        }
        return count;
      };
      // The killed process's own delivery counts as seen: wait for its batch to come back too (its lease
      // must run out first), or the others might close before it does.
      const retakenYet = () => deliveries.some((d) => d.batchId === victimStuck && d.by !== 0);
      const deadline = Date.now() + 30_000;
      while (!persisted.slice(1).every((n) => n === PER_KEY) || missing() > 0 || !retakenYet()) {
        if (Date.now() > deadline) throw new Error(`${missing()} persisted ids were not delivered`);
        await sleep(50);
      }
      for (const child of children.slice(1)) child.stdin!.end();
      await Promise.all(exited);

      // At least once: every id a producer saw persisted.
      const seen = new Map<string, number>();
      for (const d of deliveries) for (const item of d.items) seen.set(item, (seen.get(item) ?? 0) + 1);
      for (let id = 0; id < 4; id++) {
        for (let k = 0; k < KEYS; k++) {
          for (let n = 0; n < persisted[id]!; n++) expect(seen.has(`${id}:key-${k}:${n}`)).toBe(true);
        }
      }
      // Order: a key's batches in claim order (fence), each batch once, give each producer's ids in order.
      for (let k = 0; k < KEYS; k++) {
        const batches = deliveries
          .filter((d) => d.key === `key-${k}`)
          .sort((a, b) => fenceOf(a.batchId) - fenceOf(b.batchId));
        const items = [...new Map(batches.map((d) => [d.batchId, d])).values()].flatMap((d) => d.items);
        for (let id = 0; id < 4; id++) {
          const mine = items
            .filter((item) => item.startsWith(`${id}:`))
            .map((item) => Number(item.split(':')[2]));
          expect(mine).toEqual(Array.from({ length: mine.length }, (_, n) => n));
        }
      }
      // The kill: the batch it was inside handleFlush with came back, same id, next attempt, by another.
      const stuck = deliveries.find((d) => d.by === 0 && d.batchId === victimStuck)!;
      const retaken = deliveries.find((d) => d.batchId === stuck.batchId && d.by !== 0);
      expect(retaken).toMatchObject({ items: stuck.items, attempt: stuck.attempt + 1 });
      // Every duplicate is an item of a batch the killed process had received (delivered again).
      const victimBatches = new Set(deliveries.filter((d) => d.by === 0).map((d) => d.batchId));
      const duplicates = [...seen].filter(([, n]) => n > 1).map(([item]) => item);
      const ofVictim = new Set(
        deliveries.filter((d) => victimBatches.has(d.batchId)).flatMap((d) => d.items),
      );
      for (const item of duplicates) expect(ofVictim.has(item)).toBe(true);
      expect(duplicates.length).toBeGreaterThanOrEqual(stuck.items.length);
      const redelivered = new Set(deliveries.filter((d) => d.attempt > 1).map((d) => d.batchId));
      console.log(
        `buffer processes: ${seen.size} ids delivered, ${duplicates.length} delivered twice (all of the killed process's batches), ${redelivered.size} batch(es) delivered again`,
      );
    } finally {
      await connection.cleanup(namespace);
      await connection.close();
    }
  },
);
