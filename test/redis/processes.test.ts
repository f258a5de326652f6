/**
 * Four processes share a namespace; each produces its own ids into shared keys and claims batches.
 * One is killed with SIGKILL while it holds claimed batches (mid-delivery). In the end every id that a
 * producer saw persisted is delivered at least once, each producer's items of a key in insert order;
 * every duplicate is a re-delivery (same batch id, higher attempt) of a batch the killed process held.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { REDIS_URL, redisAvailable, singleServer, sleep, uniqueNamespace } from './server.js';

const fixture = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const available = await redisAvailable('test/redis/processes.test.ts');
const PER_KEY = 150;

interface Delivery {
  key: string;
  items: string[];
  batchId: string;
  attempt: number;
  fence: number;
  by: number;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

it.skipIf(!available)(
  '4 processes, one killed mid-delivery: every persisted id delivered, in order per producer',
  async () => {
    const namespace = uniqueNamespace('processes');
    const persisted = [0, 0, 0, 0];
    const deliveries: Delivery[] = [];
    const exited: Array<Promise<unknown>> = [];
    let victimHolding = false;
    for (let id = 0; id < 4; id++) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', fixture, REDIS_URL, namespace, String(id), String(PER_KEY)],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      children.push(child);
      exited.push(new Promise((resolve) => child.once('exit', resolve)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line);
        if (message.persisted) persisted[id] = message.persisted;
        if (message.holding && id === 0) victimHolding = true;
        if (message.delivered) deliveries.push({ ...message.delivered, by: id });
      });
    }
    const connection = await singleServer.redis.connect();
    try {
      // Kill process 0 once it has persisted something and holds a claim it has not delivered yet.
      while (!(persisted[0]! > 30 && victimHolding)) await sleep(1);
      children[0]!.kill('SIGKILL');
      await exited[0];
      const killedAt = deliveries.length;
      // Wait until the others persisted everything and every persisted id was delivered.
      const expected = () => persisted.reduce((sum, n) => sum + n * 6, 0);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const seen = new Set(deliveries.flatMap((d) => d.items));
        if (persisted.slice(1).every((n) => n === PER_KEY) && seen.size >= expected()) break;
        if (Date.now() > deadline)
          throw new Error(`only ${seen.size} of ${expected()} persisted ids delivered`);
        await sleep(50);
      }
      for (const child of children.slice(1)) child.stdin!.end();
      await Promise.all(exited);

      // At least once: every id a producer saw persisted.
      const seen = new Map<string, number>();
      for (const d of deliveries) for (const item of d.items) seen.set(item, (seen.get(item) ?? 0) + 1);
      for (let id = 0; id < 4; id++) {
        for (let k = 0; k < 6; k++) {
          for (let n = 0; n < persisted[id]!; n++) expect(seen.has(`${id}:key-${k}:${n}`)).toBe(true);
        }
      }
      // Order: a key's batches in claim order (fence), each batch once, give each producer's ids in order.
      for (let k = 0; k < 6; k++) {
        const key = `key-${k}`;
        const batches = deliveries.filter((d) => d.key === key).sort((a, b) => a.fence - b.fence);
        const once = new Map(batches.map((d) => [d.batchId, d]));
        const items = [...once.values()].flatMap((d) => d.items);
        for (let id = 0; id < 4; id++) {
          const mine = items
            .filter((item) => item.startsWith(`${id}:`))
            .map((item) => Number(item.split(':')[2]));
          expect(mine).toEqual(Array.from({ length: mine.length }, (_, n) => n));
        }
      }
      // The kill left a claim behind: it was delivered again after its lease ran out.
      expect(deliveries.some((d) => d.attempt > 1)).toBe(true);
      // Duplicates: only re-deliveries of a batch delivered first by the killed process.
      const duplicates = deliveries.filter((d) => d.attempt > 1);
      for (const d of duplicates) {
        const first = deliveries.find((other) => other.batchId === d.batchId && other.attempt === 1);
        if (first) expect(first.by).toBe(0);
      }
      const duplicated = [...seen.values()].filter((n) => n > 1).length;
      expect(duplicated).toBe(
        duplicates.reduce(
          (sum, d) =>
            sum +
            (deliveries.some((o) => o.batchId === d.batchId && o.attempt < d.attempt) ? d.items.length : 0),
          0,
        ),
      );
      console.log(
        `processes: ${seen.size} ids delivered, ${duplicated} duplicated by the kill, ${killedAt} deliveries before it`,
      );
    } finally {
      await connection.cleanup(namespace);
      await connection.close();
    }
  },
  40_000,
);
