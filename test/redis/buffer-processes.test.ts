/**
 * Four processes share a namespace through `DataBuffer` on the Redis store (the fixture
 * `fixtures/buffer-worker.ts`); each inserts its own ids into six shared keys, and each delivers the
 * batches it claims. One is killed with SIGKILL inside `handleFlush` (it holds that claimed batch, and
 * maybe more, queued behind it). In the end every id a process saw persisted is delivered at least
 * once, each producer's ids of a key in insert order; the batch it was killed in is delivered again
 * under the same batch id with the next attempt, and every duplicate is an item of a batch delivered
 * again: one the killed process had received, or one whose holder lost its lease (a process stalled
 * past `leaseMs` on a loaded machine), which that holder counted as a refused ack or extension.
 * `REDIS_KILL_REPEATS=99` repeats it (100 kills) for a manual run; `REDIS_CLIENT=ioredis` switches client.
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
  PRODUCERS,
  startWorkers,
  waitFor,
} from './kill-run.js';
import { REDIS_URL, redisAvailable, singleServer, uniqueNamespace } from './server.js';

const fixture = fileURLToPath(new URL('./fixtures/buffer-worker.ts', import.meta.url));
const available = await redisAvailable('test/redis/buffer-processes.test.ts');
const PER_KEY = 150;
const repeats = Number(process.env.REDIS_KILL_REPEATS ?? 0);
const clientKind = process.env.REDIS_CLIENT ?? 'redis';

/** The claim's fence, from the store's batch id (`partition-fence-time`): claim order within a partition. */
const fenceOf = (d: Delivered) => Number(d.batchId.split('-')[1]);

killWorkersAfterEach();

it.skipIf(!available)(
  '4 processes through DataBuffer, one killed inside handleFlush: every persisted id delivered, in order per producer',
  { timeout: 60_000, repeats },
  async () => {
    const namespace = uniqueNamespace('buffer-processes');
    const run = startWorkers(fixture, (id) => {
      const args = [REDIS_URL, namespace, String(id), String(PER_KEY), clientKind];
      return id === 0 ? [...args, 'stuck'] : args;
    });
    const connection = await singleServer.redis.connect();
    try {
      await waitFor(
        () => run.stuck !== undefined,
        30_000,
        () => 'process 0 never got stuck',
      );
      const victimStuck = run.stuck;
      run.children[0]!.kill('SIGKILL');
      await run.exited[0];
      // The killed process's own delivery counts as seen: wait for its batch to come back too (its lease
      // must run out first), or the others might close before it does.
      const retakenYet = () => run.deliveries.some((d) => d.batchId === victimStuck && d.by !== 0);
      await waitFor(
        () => run.persisted.slice(1).every((n) => n === PER_KEY) && missingIds(run) === 0 && retakenYet(),
        30_000,
        () => `${missingIds(run)} persisted ids were not delivered`,
      );
      for (const child of run.children.slice(1)) child.stdin!.end();
      await Promise.all(run.exited);

      expectEveryPersistedIdDelivered(run);
      expectProducerOrder(run.deliveries, fenceOf);
      // The kill: the batch it was inside handleFlush with came back, same id, next attempt, by another.
      const { deliveries } = run;
      const stuck = deliveries.find((d) => d.by === 0 && d.batchId === victimStuck)!;
      const retaken = deliveries.find((d) => d.batchId === stuck.batchId && d.by !== 0);
      expect(retaken).toMatchObject({ items: stuck.items, attempt: stuck.attempt + 1 });
      // Every duplicate is an item of a batch delivered again: one the killed process had received, or
      // one whose holder lost its lease, which the holder counted (a refused ack or extension).
      const seen = deliveryCounts(deliveries);
      const duplicates = [...seen].filter(([, n]) => n > 1).map(([item]) => item);
      const victimBatches = new Set(deliveries.filter((d) => d.by === 0).map((d) => d.batchId));
      const again = new Set(deliveries.filter((d) => d.attempt > 1).map((d) => d.batchId));
      const itemsOf = (batches: Set<string>) =>
        new Set(deliveries.filter((d) => batches.has(d.batchId)).flatMap((d) => d.items));
      const ofVictim = itemsOf(victimBatches);
      const ofLostLeases = itemsOf(new Set([...again].filter((id) => !victimBatches.has(id))));
      const leasesLost = run.done.slice(1).reduce((sum, stats) => {
        const store = (stats?.store ?? {}) as Record<string, number>;
        return sum + (stats?.lateAcks as number) + store.extendsRefused!;
      }, 0);
      for (const item of duplicates) {
        expect(ofVictim.has(item) || ofLostLeases.has(item)).toBe(true);
        if (!ofVictim.has(item)) expect(leasesLost).toBeGreaterThan(0);
      }
      expect(duplicates.length).toBeGreaterThanOrEqual(stuck.items.length);
      expect(run.done.slice(1).every((stats) => stats !== undefined)).toBe(true);
      console.log(
        `buffer processes: ${seen.size} ids delivered, ${duplicates.length} delivered twice (${duplicates.filter((item) => ofVictim.has(item)).length} of the killed process's batches), ${again.size} batch(es) delivered again, ${leasesLost} lease(s) lost by the ${PRODUCERS - 1} others`,
      );
    } finally {
      await connection.cleanup(namespace);
      await connection.close();
    }
  },
);
