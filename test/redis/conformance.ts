/**
 * The behaviour every shared store must have, run against a real server. Each client's test file calls
 * `describeSharedStoreConformance` with a factory; every test uses its own namespace and removes its
 * keys afterwards. Lease timings are a few hundred ms: these run in real time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SharedBackend } from '../../src/backend.js';
import {
  type RedisClaim,
  type RedisStore,
  type RedisStoreOptions,
  redisStore,
} from '../../src/redis/index.js';
import { APPEND } from '../../src/redis/scripts.js';
import { type ClientFactory, sleep, type TestClient, uniqueNamespace } from './server.js';

/** The limits a store is opened with (what a buffer's `open` hands over). */
interface Limits {
  readonly maxSize?: number;
  readonly interval?: number;
}

type Options = Omit<
  RedisStoreOptions<never>,
  'client' | 'namespace' | 'serialize' | 'deserialize' | 'journal'
>;

/** Writes `items` under `key` in one staged stretch, and waits until Redis holds them. */
export async function writeItems<V>(store: SharedBackend<string, V>, key: string, items: V[]): Promise<void> {
  await store.write({ length: items.length, keys: items.map(() => key), values: items, firstSeq: 0 });
}

/**
 * `client` (node-redis or ioredis, single server or Cluster), except that the replies of the first
 * `drops` append calls that ran are lost: the call reaches Redis and runs, then the client reports a
 * timeout, as a command timeout does when the reply comes too late.
 */
function losingAppendReplies(client: unknown, drops: number): { client: unknown; lost: () => number } {
  let lost = 0;
  const isAppend = (args: readonly unknown[]) => args.includes(APPEND.sha) || args.includes(APPEND.source);
  const timeout = () => Object.assign(new Error('Command timed out'), { name: 'TimeoutError' });
  const bound = (target: object, property: string | symbol) => {
    const value = Reflect.get(target, property, target);
    return typeof value === 'function' ? value.bind(target) : value;
  };
  const lossy = new Proxy(client as object, {
    get(target, property) {
      const value = bound(target, property);
      if (property === 'sendCommand') {
        // node-redis: `sendCommand(args)`, or on a Cluster `sendCommand(firstKey, isReadonly, args)`.
        return async (...params: unknown[]) => {
          const reply = await value(...params);
          const args = params.find(Array.isArray) as unknown[] | undefined;
          if (args !== undefined && isAppend(args) && lost < drops) {
            lost++;
            throw timeout();
          }
          return reply;
        };
      }
      if (property === 'pipeline') {
        // ioredis: the store sends its appends as pipelines.
        return () => {
          const pipeline = value() as Record<string, (...args: unknown[]) => unknown>;
          let append = false;
          const wrapped: object = new Proxy(pipeline, {
            get(inner, name) {
              const method = bound(inner, name);
              if (name === 'evalsha' || name === 'eval') {
                return (...args: unknown[]) => {
                  if (isAppend(args)) append = true;
                  method(...args);
                  return wrapped;
                };
              }
              if (name === 'exec') {
                return async () => {
                  const replies = (await method()) as Array<[Error | null, unknown]> | null;
                  if (append && lost < drops && replies?.every(([error]) => !error)) {
                    lost++;
                    throw timeout();
                  }
                  return replies;
                };
              }
              return method;
            },
          });
          return wrapped;
        };
      }
      return value;
    },
  });
  return { client: lossy, lost: () => lost };
}

/** Registers the conformance tests for shared stores built on clients from `factory`. */
export function describeSharedStoreConformance(factory: ClientFactory): void {
  describe(`redisStore on ${factory.name} conforms to SharedBackend`, () => {
    let connection: TestClient;
    let namespace: string;
    const others: TestClient[] = [];

    beforeAll(async () => {
      connection = await factory.connect();
    });
    afterEach(async () => {
      await connection.cleanup(namespace);
    });
    afterAll(async () => {
      await Promise.all(others.map((other) => other.close()));
      await connection?.close();
    });

    /** A store on the test's namespace, opened as a buffer would open it. */
    function store<V = number>(limits: Limits = {}, options: Options = {}, client = connection.client) {
      const created = redisStore<string, V>({ client, namespace, partitions: 8, leaseMs: 300, ...options });
      created.open({
        maxSize: limits.maxSize ?? Number.POSITIVE_INFINITY,
        interval: limits.interval ?? 0,
        partitions: 1,
      });
      return created;
    }

    /** Another connection, as another process would have. */
    async function otherClient(): Promise<unknown> {
      const other = await factory.connect();
      others.push(other);
      return other.client;
    }

    function fresh(test: string) {
      namespace = uniqueNamespace(test);
    }

    it('delivers a claimed batch in insert order, and an ack removes it from Redis', async () => {
      fresh('claim-ack');
      const s = store<{ n: number }>();
      await s.write({
        length: 4,
        keys: ['a', 'b', 'a', 'a'],
        values: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }],
        firstSeq: 0,
      });
      await s.durable();
      const claim = (await s.claim('a', false))!;
      expect(claim).toMatchObject({ items: [{ n: 1 }, { n: 3 }, { n: 4 }], attempt: 1, poisoned: false });
      expect(typeof claim.batchId).toBe('string');
      expect(await s.claim('a', true)).toBeUndefined();
      expect(await s.ack(claim)).toBe(true);
      expect(await s.claim('a', true)).toBeUndefined();
      const b = (await s.claim('b', false))!;
      expect(b.items).toEqual([{ n: 2 }]);
      expect(b.batchId).not.toBe(claim.batchId);
      expect(await s.ack(b)).toBe(true);
      // What stays: the namespace's layout, the fence counters and the writer's record (it expires).
      const left = await connection.keys(namespace);
      expect(left.every((key) => /^\{[^}]+\}:(config|fence|w:[\w-]{12})$/.test(key))).toBe(true);
      expect(s.stats()).toMatchObject({ itemsWritten: 4, claims: 2, acks: 2, lateAcks: 0 });
    });

    it('keys fall due interval ms after their first item reached Redis; force claims earlier', async () => {
      fresh('due');
      const s = store({ interval: 400 });
      await writeItems(s, 'k', [1, 2]);
      const p = s.partitionOf('k');
      const early = await s.due(p, 10);
      expect(early.keys).toEqual([]);
      expect(early.nextIn).toBeGreaterThan(200);
      expect(early.nextIn).toBeLessThanOrEqual(400);
      expect(await s.claim('k', false)).toBeUndefined();
      await sleep(early.nextIn! + 20);
      expect(await s.due(p, 10)).toEqual({ keys: ['k'], nextIn: undefined });
      await writeItems(s, 'other', [3]);
      const forced = (await s.claim('other', true))!;
      expect(forced.items).toEqual([3]);
      // Numbers are keys too, told apart from strings.
      await s.write({ length: 2, keys: [7 as unknown as string, '7'], values: [70, 71], firstSeq: 0 });
      expect((await s.claim(7 as unknown as string, true))?.items).toEqual([70]);
      expect((await s.claim('7', true))?.items).toEqual([71]);
    });

    it('bounds every batch by maxSize exactly, and a full batch is due at once', async () => {
      fresh('max-size');
      const s = store({ maxSize: 3, interval: 60_000 });
      await writeItems(s, 'k', [1, 2]);
      expect((await s.due(s.partitionOf('k'), 10)).keys).toEqual([]);
      await writeItems(s, 'k', [3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await s.due(s.partitionOf('k'), 10)).keys).toEqual(['k']);
      const batches: number[][] = [];
      for (let claim = await s.claim('k', false); claim; claim = await s.claim('k', false)) {
        batches.push(claim.items as number[]);
        expect(await s.ack(claim)).toBe(true);
      }
      // Three full batches; the rest waits for its interval, or a forced claim.
      expect(batches).toEqual([
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ]);
      expect((await s.claim('k', true))?.items).toEqual([10]);
    });

    it('never claims a key under a live lease; extend keeps the lease, and a lapsed one re-delivers the same batch', async () => {
      fresh('lease');
      const holder = store();
      const rival = store({}, {}, await otherClient());
      await writeItems(holder, 'k', [1, 2, 3]);
      const claim = (await holder.claim('k', false))!;
      await writeItems(holder, 'k', [4]);
      expect(await rival.claim('k', true)).toBeUndefined();
      expect((await rival.due(rival.partitionOf('k'), 10)).keys).toEqual([]);
      for (let i = 0; i < 3; i++) {
        await sleep(150);
        expect(await holder.extend(claim)).toBe(true);
      }
      expect(await rival.claim('k', false)).toBeUndefined();
      await sleep(350);
      expect((await rival.due(rival.partitionOf('k'), 10)).keys).toEqual(['k']);
      const again = (await rival.claim('k', false))!;
      expect(again).toMatchObject({ items: [1, 2, 3], batchId: claim.batchId, attempt: 2, poisoned: false });
      expect(again.fence).toBeGreaterThan(claim.fence);
      expect(await holder.extend(claim)).toBe(false);
      expect(await holder.ack(claim)).toBe(false);
      expect(holder.stats()).toMatchObject({ lateAcks: 1, extendsRefused: 1 });
      expect(rival.stats()).toMatchObject({ redeliveries: 1 });
      expect(await rival.ack(again)).toBe(true);
      // The item that arrived while the batch was out comes next.
      expect((await rival.claim('k', true))?.items).toEqual([4]);
    });

    it('release gives the batch back at once, without counting towards maxRedeliveries', async () => {
      fresh('release');
      const holder = store({}, { maxRedeliveries: 0 });
      const other = store({}, { maxRedeliveries: 0 }, await otherClient());
      await writeItems(holder, 'k', [1, 2]);
      const claim = (await holder.claim('k', false))!;
      await holder.release(claim);
      expect((await other.due(other.partitionOf('k'), 10)).keys).toEqual(['k']);
      const again = (await other.claim('k', false))!;
      expect(again).toMatchObject({ items: [1, 2], batchId: claim.batchId, attempt: 2, poisoned: false });
      expect(await holder.ack(claim)).toBe(false);
      expect(await other.ack(again)).toBe(true);
    });

    it('close gives back the claims still held, for another process at once', async () => {
      fresh('close');
      const closing = store();
      const other = store({}, {}, await otherClient());
      await writeItems(closing, 'k', [1, 2]);
      await writeItems(closing, 'j', [3]);
      const held = (await closing.claim('k', false))!;
      const done = (await closing.claim('j', false))!;
      expect(await closing.ack(done)).toBe(true);
      await closing.close();
      expect(closing.stats()).toMatchObject({ releases: 1 });
      expect(await other.claim('k', false)).toMatchObject({
        items: [1, 2],
        batchId: held.batchId,
        attempt: 2,
      });
      await expect(closing.claim('j', true)).rejects.toMatchObject({ code: 'ERR_REDIS_CLOSED' });
    });

    it('flags a batch whose lease was lost more than maxRedeliveries times as poisoned', async () => {
      fresh('poison');
      const s = store({}, { maxRedeliveries: 1, leaseMs: 100 });
      await writeItems(s, 'k', [1]);
      const claims: RedisClaim<number>[] = [(await s.claim('k', false))!];
      for (let i = 0; i < 2; i++) {
        await sleep(130);
        claims.push((await s.claim('k', false))!);
      }
      expect(claims.map((c) => [c.attempt, c.poisoned])).toEqual([
        [1, false],
        [2, false],
        [3, true],
      ]);
      expect(new Set(claims.map((c) => c.batchId)).size).toBe(1);
      expect(await s.ack(claims[2]!)).toBe(true);
      expect(s.stats()).toMatchObject({ poisoned: 1, redeliveries: 2 });
    });

    it('keeps per-key order across producers and concurrent claimers', async () => {
      fresh('order');
      const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
      const producers = [
        store<string>({ maxSize: 7 }),
        store<string>({ maxSize: 7 }, {}, await otherClient()),
      ];
      const claimers = [producers[0]!, producers[1]!, store<string>({ maxSize: 7 }, {}, await otherClient())];
      const delivered = new Map<string, string[]>();
      let producing = true;
      const produce = async (producer: RedisStore<string, string>, id: number) => {
        for (let turn = 0; turn < 20; turn++) {
          const staged = keys.flatMap((key) =>
            [0, 1, 2].map((i) => ({ key, value: `${id}:${key}:${turn * 3 + i}` })),
          );
          await producer.write({
            length: staged.length,
            keys: staged.map((s) => s.key),
            values: staged.map((s) => s.value),
            firstSeq: 0,
          });
          await sleep(2);
        }
      };
      const consume = async (claimer: RedisStore<string, string>) => {
        for (;;) {
          let found = false;
          for (let p = 0; p < claimer.partitions; p++) {
            for (const key of (await claimer.due(p, 10)).keys) {
              const claim = await claimer.claim(key, true);
              if (claim === undefined) continue;
              found = true;
              const list = delivered.get(key) ?? [];
              list.push(...claim.items);
              delivered.set(key, list);
              expect(claim.items.length).toBeLessThanOrEqual(7);
              expect(await claimer.ack(claim)).toBe(true);
            }
          }
          if (!found && !producing) return;
          if (!found) await sleep(5);
        }
      };
      const consumers = claimers.map(consume);
      await Promise.all(producers.map(produce));
      producing = false;
      await Promise.all(consumers);
      for (const key of keys) {
        const items = delivered.get(key) ?? [];
        expect(items).toHaveLength(2 * 60);
        for (const id of [0, 1]) {
          const mine = items.filter((item) => item.startsWith(`${id}:`));
          expect(mine).toEqual(Array.from({ length: 60 }, (_, n) => `${id}:${key}:${n}`));
        }
      }
    }, 20_000);

    it('refuses a store with another partition count on the same namespace', async () => {
      fresh('partitions');
      const s = store();
      await writeItems(s, 'k', [1]);
      const other = redisStore<string, number>({ client: connection.client, namespace, partitions: 16 });
      other.open({ maxSize: 10, interval: 0, partitions: 1 });
      await expect(other.due(0, 1)).rejects.toMatchObject({
        code: 'ERR_REDIS_PARTITIONS',
        message: expect.stringMatching(/laid out in 8 partitions.*`partitions: 16`/),
      });
      await expect(writeItems(other, 'k', [2])).rejects.toMatchObject({ code: 'ERR_REDIS_PARTITIONS' });
      // Nothing of the refused store reached Redis.
      expect((await s.claim('k', true))?.items).toEqual([1]);
    });

    it('counts round trips: one pipeline per write, whatever the number of keys', async () => {
      fresh('round-trips');
      const s = store();
      const length = 300;
      await s.write({
        length,
        keys: Array.from({ length }, (_, i) => `k${i % 30}`),
        values: Array.from({ length }, (_, i) => i),
        firstSeq: 0,
      });
      expect(s.stats()).toMatchObject({ itemsWritten: 300, appends: 30, pendingItems: 0 });
      // One for the write, one for the namespace's layout check.
      expect(s.stats().roundTrips).toBe(2);
    });

    it('stores once the items of an append whose reply was lost after Redis ran it (a command timeout), sent again', async () => {
      fresh('lost-reply');
      const lossy = losingAppendReplies(connection.client, 2);
      const s = store({}, {}, lossy.client);
      // Runs, its reply is lost; sent again, it had run (that reply is lost too); sent a third time,
      // Redis says it had run.
      await writeItems(s, 'a', [1, 2, 3]);
      expect(lossy.lost()).toBe(2);
      expect(s.stats()).toMatchObject({
        writeRetries: 2,
        repeatedWrites: 1,
        itemsWritten: 3,
        pendingItems: 0,
      });
      // The next calls are new: they append.
      await writeItems(s, 'a', [4]);
      await s.write({ length: 3, keys: ['b', 'c', 'a'], values: [5, 6, 7], firstSeq: 0 });
      expect(s.stats()).toMatchObject({ repeatedWrites: 1, itemsWritten: 7 });
      expect((await s.claim('a', true))?.items).toEqual([1, 2, 3, 4, 7]);
      expect((await s.claim('b', true))?.items).toEqual([5]);
      expect((await s.claim('c', true))?.items).toEqual([6]);
    });
  });
}
