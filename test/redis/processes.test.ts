/**
 * Four processes share a namespace; each produces its own ids into shared keys and claims batches.
 * One is killed with SIGKILL while it holds a claimed batch that reached the sink but was not acked
 * yet. In the end every id that a producer saw persisted is delivered at least once, each producer's
 * items of a key in insert order; that batch is delivered again after its lease ran out (same batch
 * id, attempt 2), and every duplicate is an item of a re-delivered batch.
 * `REDIS_KILL_REPEATS=99` repeats the test (100 kills) for a manual run.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import {
  type Delivered,
  deliveryCounts,
  expectEveryPersistedIdDelivered,
  expectProducerOrder,
  killWorkersAfterEach,
  missingIds,
  startWorkers,
  waitFor,
} from './kill-run.js';
import { REDIS_URL, redisAvailable, singleServer, uniqueNamespace } from './server.js';

const fixture = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const available = await redisAvailable('test/redis/processes.test.ts');
const PER_KEY = 150;
const repeats = Number(process.env.REDIS_KILL_REPEATS ?? 0);

/** A delivery as this fixture reports it: with the claim's fence. */
interface FencedDelivery extends Delivered {
  readonly fence: number;
}

killWorkersAfterEach();

it.skipIf(!available)(
  '4 processes, one killed mid-delivery: every persisted id delivered, in order per producer',
  { timeout: 40_000, repeats },
  async () => {
    const namespace = uniqueNamespace('processes');
    const run = startWorkers<FencedDelivery>(fixture, (id) => {
      const args = [REDIS_URL, namespace, String(id), String(PER_KEY)];
      return id === 0 ? [...args, 'stuck'] : args;
    });
    const connection = await singleServer.redis.connect();
    try {
      // Kill process 0 while it holds a batch that reached the sink but was not acked.
      await waitFor(
        () => run.stuck !== undefined,
        30_000,
        () => 'process 0 never got stuck',
      );
      run.children[0]!.kill('SIGKILL');
      await run.exited[0];
      // Wait until the others persisted everything and every persisted id was delivered.
      await waitFor(
        () => run.persisted.slice(1).every((n) => n === PER_KEY) && missingIds(run) === 0,
        20_000,
        () => `${missingIds(run)} persisted ids were not delivered`,
      );
      for (const child of run.children.slice(1)) child.stdin!.end();
      await Promise.all(run.exited);

      expectEveryPersistedIdDelivered(run);
      expectProducerOrder(run.deliveries, (d) => d.fence);
      // The kill left one batch behind: delivered again after its lease ran out. Every duplicate is an
      // item of a re-delivered batch (here that one; a process stalled past its lease would add more).
      const { deliveries } = run;
      const stuck = deliveries.filter((d) => d.by === 0).at(-1)!;
      const again = deliveries.filter((d) => d.attempt > 1);
      const retaken = again.find((d) => d.batchId === stuck.batchId)!;
      expect(retaken).toMatchObject({ items: stuck.items, attempt: 2 });
      expect(retaken.fence).toBeGreaterThan(stuck.fence);
      const seen = deliveryCounts(deliveries);
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
