/**
 * `redisStore`: the shared store on Redis, a {@link SharedBackend}. Every buffer built on the same
 * namespace appends to the same per-key lists, claims due batches under leases, and acknowledges
 * them with a fence, so that a batch whose holder died is delivered again and per-key order holds
 * across processes.
 *
 * This module is the public face: {@link redisStore} and the store's state (open, closed), over three
 * collaborators that it builds and hands a narrow context to: the write side (`write-side.ts`, in front
 * of the ordered write path, `writer.ts`), the claim side (`claimer.ts`) and the namespace's layout
 * check (`layout-check.ts`), which both sides run before their first script. Key layout: `keys.ts`;
 * scripts: `scripts.ts`.
 *
 * Invariants: a store belongs to one buffer (a second `open` throws); after `close()` or `abandon()`
 * every write and every script rejects with `ERR_REDIS_CLOSED`; `close()` waits until Redis has every
 * write, then gives back every claim still held.
 * @module
 */
import type {
  BackendContext,
  Claim,
  LocalBackend,
  SharedBackend,
  Staged,
  StoreLeftovers,
} from '../backend.js';
import { Claimer, type DueKeys, type RedisClaim } from './claimer.js';
import { createScriptRunner } from './client.js';
import { RedisStoreError } from './errors.js';
import { encodeKey, KeyNames, partitionOf, type RedisKey } from './keys.js';
import { LayoutCheck } from './layout-check.js';
import {
  type RedisStoreOptions,
  type ResolvedRedisStoreOptions,
  resolveRedisStoreOptions,
} from './options.js';
import { createRedisStoreStats, type RedisStoreStats } from './stats.js';
import { WriteSide } from './write-side.js';

/** The Redis store, as {@link redisStore} returns it. */
export interface RedisStore<K extends RedisKey, V> extends SharedBackend<K, V> {
  /** The namespace's partition count: `due` takes partitions `0 .. partitions - 1`. */
  readonly partitions: number;
  /** How long a claim holds its batch without a heartbeat, in ms. */
  readonly leaseMs: number;
  /** The namespace. */
  readonly namespace: string;
  /** The partition a key's batches live in. */
  partitionOf(key: K): number;
  /**
   * Keys of `partition` (0 ≤ partition < {@link RedisStore.partitions}) to claim now, at most `limit`,
   * and when the next one falls due, on Redis's clock.
   */
  due(partition: number, limit: number): Promise<DueKeys<K>>;
  /**
   * Claims the key's batch: the batch whose lease ran out (delivered again), or its due items (any
   * items when `force`), at most `maxSize`; `undefined` when the key is leased elsewhere, empty, or
   * not due.
   */
  claim(key: K, force: boolean): Promise<RedisClaim<V> | undefined>;
  /** Keys of `partition` with unclaimed items, due or not, soonest due first (at most `limit`). */
  pending(partition: number, limit: number): Promise<K[]>;
  /** The journal in front of Redis (the `journal` option), if any: its `stats()` has its counters. */
  readonly journal: LocalBackend<K, V> | undefined;
  /**
   * `true` with a journal in front: `durable()` (what `persisted()` waits for) covers every write
   * handed over once it is journaled, whether Redis confirmed it yet or not. `false` without one:
   * durable means in Redis.
   */
  readonly durableBeforeWritten: boolean;
  /** Counters: round trips, items written, claims, late acks, redeliveries, outages, … */
  stats(): Readonly<RedisStoreStats>;
}

/**
 * A shared store on Redis for the buffer's `store` option. Keys must be strings or finite numbers;
 * values go through `serialize` / `deserialize` (JSON by default).
 *
 * @example
 * ```ts
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const buffer = new DataBuffer<string, PageView>({
 *   handleFlush, interval: 5_000, maxSize: 1_000,
 *   store: redisStore({ client, namespace: 'page-views' }),
 * });
 * ```
 * @example The journal in front: items survive the process's death while Redis is down or before
 * their write reached it, and `persisted()` resolves once they are journaled.
 * ```ts
 * import { journal } from 'data-buffer/journal';
 *
 * const store = redisStore({ client, namespace: 'page-views', journal: journal({ dir: './var/page-views' }) });
 * ```
 * @throws TypeError or RangeError for bad options, naming the option, the value and what is allowed.
 */
export function redisStore<K extends RedisKey, V>(options: RedisStoreOptions<V, K>): RedisStore<K, V> {
  return new RedisSharedStore<K, V>(resolveRedisStoreOptions<V, K>(options));
}

class RedisSharedStore<K extends RedisKey, V> implements RedisStore<K, V> {
  readonly kind = 'shared';
  readonly partitions: number;
  readonly leaseMs: number;
  readonly namespace: string;
  readonly journal: LocalBackend<K, V> | undefined;
  readonly durableBeforeWritten: boolean;
  readonly #stats = createRedisStoreStats();
  readonly #layout: LayoutCheck;
  readonly #writes: WriteSide<K, V>;
  readonly #claimer: Claimer<K, V>;
  #opened = false;
  #closed = false;

  constructor(options: ResolvedRedisStoreOptions<V, K>) {
    const { namespace, partitions, leaseMs, journal } = options;
    this.journal = journal;
    this.durableBeforeWritten = journal !== undefined;
    this.partitions = partitions;
    this.leaseMs = leaseMs;
    this.namespace = namespace;
    // What every collaborator shares: the connection, the key names, the counters.
    const parts = {
      runner: createScriptRunner(options.client),
      names: new KeyNames(namespace, partitions),
      stats: this.#stats,
      namespace,
      partitions,
    };
    this.#layout = new LayoutCheck(parts);
    const prepare = () => this.#layout.check();
    this.#writes = new WriteSide<K, V>({
      ...parts,
      store: this,
      serialize: options.serialize,
      journal,
      prepare,
      forgetLayout: () => this.#layout.forget(),
    });
    this.#claimer = new Claimer<K, V>({
      ...parts,
      leaseMs,
      maxRedeliveries: options.maxRedeliveries,
      deserialize: options.deserialize,
      assertOpen: (operation) => {
        if (this.#closed) throw this.#closedError(operation);
      },
      prepare,
    });
  }

  open(context: BackendContext): void {
    if (this.#opened) {
      throw new Error(
        `redisStore(${this.namespace}): a store belongs to one buffer, and this one is already open`,
      );
    }
    this.#opened = true;
    this.#claimer.configure(context.interval, context.maxSize);
    this.#writes.open(context);
  }

  partitionOf(key: K): number {
    return partitionOf(encodeKey(key), this.partitions);
  }

  /**
   * Checks a key at insert time, so that a key Redis cannot share (not a string or finite number)
   * makes `insert` throw instead of the write failing later. Values are checked when written.
   */
  admit(key: K, value: V): void {
    this.#writes.admit(key, value);
  }

  write(staged: Staged<K, V>): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError('write'));
    if (!this.#opened) return Promise.reject(new Error('redisStore: `write` before `open`'));
    return this.#writes.write(staged);
  }

  /**
   * Without a journal: resolves once every write so far is in Redis. With one: once every write so
   * far is in the journal, at its `sync` level (Redis may not have it yet).
   */
  durable(): Promise<void> {
    return this.#writes.durable();
  }

  /**
   * Waits until everything written reached Redis, then gives back every claim still held (for
   * another process, at once, instead of after its lease). Leaves the client connected: it is yours.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#writes.keepAlive();
    try {
      await this.#writes.drained();
      await this.#claimer.releaseHeld();
    } finally {
      this.#closed = true;
      await this.#writes.closeJournal();
    }
  }

  /**
   * The buffer's close deadline passed with Redis not answering: stops the writer (no more retries;
   * pending writes reject with `ERR_REDIS_CLOSED`) and counts what is left: items Redis never
   * confirmed, and items of claims whose ack or release it never confirmed (they come back after their
   * lease). Every later call rejects with `ERR_REDIS_CLOSED`.
   */
  async abandon(): Promise<StoreLeftovers> {
    const unwritten = this.#writes.abandon();
    this.#closed = true;
    const unreturned = this.#claimer.unreturnedItems();
    await this.#writes.closeJournal();
    return { unwritten, unreturned };
  }

  stats(): Readonly<RedisStoreStats> {
    return { ...this.#stats };
  }

  due(partition: number, limit: number): Promise<DueKeys<K>> {
    return this.#claimer.due(partition, limit);
  }

  pending(partition: number, limit: number): Promise<K[]> {
    return this.#claimer.pending(partition, limit);
  }

  claim(key: K, force: boolean): Promise<RedisClaim<V> | undefined> {
    return this.#claimer.claim(key, force);
  }

  extend(claim: Claim<V>): Promise<boolean> {
    return this.#claimer.extend(claim);
  }

  ack(claim: Claim<V>): Promise<boolean> {
    return this.#claimer.ack(claim);
  }

  release(claim: Claim<V>): Promise<void> {
    return this.#claimer.release(claim);
  }

  #closedError(operation: string): RedisStoreError {
    return new RedisStoreError(
      'ERR_REDIS_CLOSED',
      `redisStore(${this.namespace}): \`${operation}\` after close()`,
    );
  }
}
