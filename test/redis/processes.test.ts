/**
 * Four processes share a namespace; each produces its own ids into shared keys and claims batches.
 * One is killed with SIGKILL while it holds a claimed batch that reached the sink but was not acked
 * yet. In the end every id that a producer saw persisted is delivered at least once, each producer's
 * items of a key in insert order; that batch is delivered again after its lease ran out (same batch
 * id, attempt 2), and every duplicate is an item of a re-delivered batch.
 * `REDIS_KILL_REPEATS=99` repeats the test (100 kills) for a manual run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { REDIS_URL, redisAvailable, singleServer, sleep, uniqueNamespace } from './server.js';

const fixture = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const available = await redisAvailable('test/redis/processes.test.ts');
const PER_KEY = 150;
const KEYS = 6;
const repeats = Number(process.env.REDIS_KILL_REPEATS ?? 0);

interface Delivery {
  key: string;
  items: string[];
  batchId: string;
  attempt: number;
  fence: number;
  by: number;
}

let children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
});

it.skipIf(!available)(
  '4 processes, one killed mid-delivery: every persisted id delivered, in order per producer',
  { timeout: 40_000, repeats },
  async () => {
    const namespace = uniqueNamespace('processes');
    const persisted = [0, 0, 0, 0];
    const deliveries: Delivery[] = [];
    let victimStuck = false;
    const exited = [0, 1, 2, 3].map((id) => {
      const args = [
        fixture,
        REDIS_URL,
        namespace,
        String(id),
        String(PER_KEY),
        ...(id === 0 ? ['stuck'] : []),
      ];
      const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line);
        if (message.persisted) persisted[id] = message.persisted;
        if (message.delivered) deliveries.push({ ...message.delivered, by: id });
        if (message.stuck) victimStuck = true;
      });
      return new Promise((resolve) => child.once('exit', resolve));
    });
    const connection = await singleServer.redis.connect();
    try {
      // Kill process 0 while it holds a batch that reached the sink but was not acked.
      while (!victimStuck) await sleep(1);
      children[0]!.kill('SIGKILL');
      await exited[0];
      // Wait until the others persisted everything and every persisted id was delivered.
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
      const deadline = Date.now() + 20_000;
      while (!persisted.slice(1).every((n) => n === PER_KEY) || missing() > 0) {
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
        const batches = deliveries.filter((d) => d.key === `key-${k}`).sort((a, b) => a.fence - b.fence);
        const items = [...new Map(batches.map((d) => [d.batchId, d])).values()].flatMap((d) => d.items);
        for (let id = 0; id < 4; id++) {
          const mine = items
            .filter((item) => item.startsWith(`${id}:`))
            .map((item) => Number(item.split(':')[2]));
          expect(mine).toEqual(Array.from({ length: mine.length }, (_, n) => n));
        }
      }
      // The kill left one batch behind: delivered again after its lease ran out. Every duplicate is an
      // item of a re-delivered batch (here that one; a process stalled past its lease would add more).
      const stuck = deliveries.filter((d) => d.by === 0).at(-1)!;
      const again = deliveries.filter((d) => d.attempt > 1);
      const retaken = again.find((d) => d.batchId === stuck.batchId)!;
      expect(retaken).toMatchObject({ items: stuck.items, attempt: 2 });
      expect(retaken.fence).toBeGreaterThan(stuck.fence);
      const redeliveredItems = new Set(again.flatMap((d) => d.items));
      const duplicates = [...seen].filter(([, n]) => n > 1).map(([item]) => item);
      for (const item of duplicates) expect(redeliveredItems.has(item)).toBe(true);
      expect(duplicates.length).toBeGreaterThanOrEqual(stuck.items.length);
      console.log(
        `processes: ${seen.size} ids delivered, ${duplicates.length} delivered twice, in ${again.length} re-delivered batch(es)`,
      );
    } finally {
      await connection.cleanup(namespace);
      await connection.close();
    }
  },
);
