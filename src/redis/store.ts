/**
 * `redisStore`: the shared store on Redis, a {@link SharedBackend}. Every buffer built on the same
 * namespace appends to the same per-key lists, claims due batches under leases, and acknowledges
 * them with a fence, so that a batch whose holder died is delivered again and per-key order holds
 * across processes. Layout: `keys.ts`; scripts: `scripts.ts`; the write path: `writer.ts`.
 * @module
 */
import type {
  BackendContext,
  Claim,
  LocalBackend,
  RecoveredBatch,
  SharedBackend,
  Staged,
  StoreLeftovers,
} from '../backend.js';
import { jsonTextStart } from '../journal/codec.js';
import { now, SLICE_MS, yieldToEventLoop } from '../timers.js';
import { createScriptRunner, type ScriptRunner } from './client.js';
import { RedisDeserializeError, RedisStoreError } from './errors.js';
import { JournalFront } from './journal-front.js';
import {
  decodeMember,
  describe,
  encodeKey,
  KeyNames,
  LAYOUT_VERSION,
  partitionOf,
  type RedisKey,
} from './keys.js';
import {
  type RedisStoreOptions,
  type ResolvedRedisStoreOptions,
  resolveRedisStoreOptions,
} from './options.js';
import { ACK, APPEND_FULL, APPEND_OPENED, CLAIM, CONFIG, DUE, EXTEND, PENDING, RELEASE } from './scripts.js';
import { createRedisStoreStats, type RedisStoreStats } from './stats.js';
import { EncodedItems } from './text-run.js';
import { Writer } from './writer.js';

/** Keys whose encoded name and partition the store keeps between writes (see `#members`). */
const MEMBER_CACHE_SIZE = 10_000;

/** A batch claimed from Redis. */
export interface RedisClaim<V> extends Claim<V> {
  /** The buffer key the batch belongs to. */
  readonly key: RedisKey;
  /**
   * `true` when the batch lost its lease more than `maxRedeliveries` times: its holders keep dying
   * or stalling on it. Hand it to `handleError` (then `ack` it) rather than to `handleFlush` again.
   */
  readonly poisoned: boolean;
}

/** What {@link RedisStore.due} finds in a partition. */
export interface DueKeys<K> {
  /** Keys to claim now: those whose lease ran out first, then those due. */
  keys: K[];
  /** Ms until the next key of the partition falls due (0: more are due now); `undefined`: none scheduled. */
  nextIn: number | undefined;
}

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
  readonly #options: ResolvedRedisStoreOptions<V, K>;
  /** With a journal in front: the journal's side of every write. */
  readonly #front: JournalFront<K, V> | undefined;
  readonly #runner: ScriptRunner;
  readonly #names: KeyNames;
  readonly #stats = createRedisStoreStats();
  readonly #writer: Writer;
  #context: BackendContext | undefined;
  #maxSize = '0';
  #interval = '0';
  #leaseMs: string;
  /** The layout check, once it passed (a failed one is tried again on the next use). */
  #checked: Promise<void> | undefined;
  #closed = false;
  /** Claims handed out and neither acked nor released: `close()` gives them back. */
  readonly #held = new Set<Claim<V>>();
  /** Claims whose ack or release was sent and not answered yet. */
  readonly #returning = new Set<Claim<V>>();
  #warnedOfEviction = false;
  /**
   * Keys recently written, encoded, and their partitions: `write` runs once per turn over every staged
   * insert, and encoding and hashing each insert's key again was a third of its work. Cleared when it
   * reaches {@link MEMBER_CACHE_SIZE} keys, so that it stays small with keys that are never reused.
   */
  readonly #members = new Map<K, { readonly member: string; readonly partition: number }>();
  /** With a journal in front and the default `serialize`: the items the journal encoded as JSON. */
  #encoded: EncodedItems | undefined;

  constructor(options: ResolvedRedisStoreOptions<V, K>) {
    this.#options = options;
    this.journal = options.journal;
    this.#front = options.journal === undefined ? undefined : new JournalFront(options.journal);
    this.durableBeforeWritten = this.#front !== undefined;
    this.#runner = createScriptRunner(options.client);
    this.partitions = options.partitions;
    this.leaseMs = options.leaseMs;
    this.namespace = options.namespace;
    this.#names = new KeyNames(options.namespace, options.partitions);
    this.#leaseMs = String(options.leaseMs);
    this.#writer = new Writer({
      runner: this.#runner,
      names: this.#names,
      stats: this.#stats,
      store: this,
      namespace: options.namespace,
      prepare: () => this.#checkLayout(),
      forgetLayout: () => {
        this.#checked = undefined;
      },
      appended: (member, reply) => {
        this.#context?.appended?.(
          decodeMember(member),
          (reply & APPEND_OPENED) !== 0,
          (reply & APPEND_FULL) !== 0,
        );
      },
    });
  }

  open(context: BackendContext): void {
    if (this.#context !== undefined) {
      throw new Error(
        `redisStore(${this.namespace}): a store belongs to one buffer, and this one is already open`,
      );
    }
    this.#context = context;
    this.#maxSize = Number.isFinite(context.maxSize) ? String(context.maxSize) : '0';
    this.#interval = String(context.interval);
    this.#writer.configure(context.interval, context.maxSize);
    const front = this.#front;
    if (front === undefined) return;
    // What an earlier run journaled and Redis never confirmed goes first: before any new item of its key.
    for (const batch of front.open(context)) this.#writeRecovered(front, batch);
  }

  /** Writes a batch the journal handed back to Redis; it leaves the journal once Redis has it. */
  #writeRecovered(front: JournalFront<K, V>, batch: RecoveredBatch<K, V>): void {
    const count = batch.items.length;
    if (count === 0) return;
    const member = encodeKey(batch.key);
    const partition = partitionOf(member, this.partitions);
    const texts = batch.items.map((item) => this.#serialize(item, batch.key));
    this.#stats.recoveredItems += count;
    this.#writer.add(new Array(count).fill(member), new Array(count).fill(partition), texts).then(
      () => front.recoveredInRedis(batch),
      // The writer failed for good: every later write fails too, and the buffer stops with it; the
      // items stay in the journal for the next start.
      () => {},
    );
  }

  /** `serialize`, checked: it must return a string. */
  #serialize(value: V, key: unknown): string {
    const text = this.#options.serialize(value);
    if (typeof text !== 'string') {
      throw new TypeError(
        `redisStore: \`serialize\` must return a string, got ${describe(text)} for an item of the key ${describe(key)}`,
      );
    }
    return text;
  }

  partitionOf(key: K): number {
    return partitionOf(encodeKey(key), this.partitions);
  }

  /**
   * Checks a key at insert time, so that a key Redis cannot share (not a string or finite number)
   * makes `insert` throw instead of the write failing later. Values are checked when written.
   */
  admit(key: K, value: V): void {
    encodeKey(key);
    this.#front?.admit(key, value);
  }

  write(staged: Staged<K, V>): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError('write'));
    if (this.#context === undefined) return Promise.reject(new Error('redisStore: `write` before `open`'));
    const { length, keys, values } = staged;
    if (length === 0) return this.#writer.drained();
    const members: string[] = new Array(length);
    const partitions: number[] = new Array(length);
    const texts: Array<string | undefined> = new Array(length);
    const front = this.#front;
    let journaled: Promise<void> | undefined;
    let encoded: EncodedItems | undefined;
    if (front !== undefined && this.#options.serialize === JSON.stringify) {
      // The journal encodes values as JSON too (its default codec, for values that are neither strings
      // nor bytes), at insert: the same text, copied here instead of serializing the value again.
      encoded = this.#encoded ??= new EncodedItems();
      encoded.reset(length);
      const into = encoded;
      journaled = front.write(staged, (i, bytes, start, end) => {
        const from = jsonTextStart(bytes, start);
        if (from >= 0) into.set(i, bytes, from, end);
      });
    }
    // Everything is read now: the staging ring reuses its arrays once this returns.
    try {
      const cache = this.#members;
      for (let i = 0; i < length; i++) {
        const key = keys[i]!;
        let known = cache.get(key);
        if (known === undefined) {
          const member = encodeKey(key);
          known = { member, partition: partitionOf(member, this.partitions) };
          if (cache.size >= MEMBER_CACHE_SIZE) cache.clear();
          cache.set(key, known);
        }
        members[i] = known.member;
        partitions[i] = known.partition;
        if (encoded === undefined || encoded.starts[i]! < 0) texts[i] = this.#serialize(values[i]!, key);
      }
    } catch (error) {
      // The journal's write already started: the buffer hears of the failure from this rejection.
      journaled?.catch(() => {});
      return Promise.reject(error);
    }
    if (front === undefined) return this.#writer.add(members, partitions, texts);
    const counts = front.count(staged);
    journaled ??= front.write(staged);
    const inRedis = this.#writer.add(members, partitions, texts, encoded).then(() => front.inRedis(counts));
    // Settles once Redis has the items (the buffer's budget counts them until then), and fails if
    // either side fails.
    return Promise.all([journaled, inRedis]).then(() => {});
  }

  /**
   * Without a journal: resolves once every write so far is in Redis. With one: once every write so
   * far is in the journal, at its `sync` level (Redis may not have it yet).
   */
  durable(): Promise<void> {
    return this.#front?.durable() ?? this.#writer.drained();
  }

  /**
   * Waits until everything written reached Redis, then gives back every claim still held (for
   * another process, at once, instead of after its lease). Leaves the client connected: it is yours.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#writer.keepAlive();
    try {
      await this.#writer.drained();
      await Promise.allSettled([...this.#held].map((claim) => this.release(claim)));
    } finally {
      this.#closed = true;
      // What Redis confirmed has left the journal; what it did not stays for the next start.
      await this.#front?.close();
    }
  }

  /**
   * The buffer's close deadline passed with Redis not answering: stops the writer (no more retries;
   * pending writes reject with `ERR_REDIS_CLOSED`) and counts what is left: items Redis never
   * confirmed, and items of claims whose ack or release it never confirmed (they come back after their
   * lease). Every later call rejects with `ERR_REDIS_CLOSED`.
   */
  async abandon(): Promise<StoreLeftovers> {
    const unwritten = this.#writer.abandon(
      new RedisStoreError(
        'ERR_REDIS_CLOSED',
        `redisStore(${this.namespace}): closed before Redis confirmed ${this.#stats.pendingItems} item(s)`,
      ),
    );
    this.#closed = true;
    let unreturned = 0;
    for (const claim of [...this.#held, ...this.#returning]) unreturned += claim.items.length;
    await this.#front?.close();
    return { unwritten, unreturned };
  }

  stats(): Readonly<RedisStoreStats> {
    return { ...this.#stats };
  }

  #checkPartition(partition: number, limit: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new RangeError(
        `Expected \`partition\` to be an integer from 0 to ${this.partitions - 1}, got ${describe(partition)}`,
      );
    }
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Expected \`limit\` to be an integer >= 1, got ${describe(limit)}`);
    }
  }

  async due(partition: number, limit: number): Promise<DueKeys<K>> {
    this.#checkPartition(partition, limit);
    const reply = (await this.#run(
      DUE,
      [this.#names.due(partition), this.#names.lease(partition)],
      [String(limit)],
    )) as unknown[];
    const nextIn = Number(reply[0]);
    const keys = reply.slice(1).map((member) => decodeMember(String(member)) as K);
    return { keys, nextIn: nextIn < 0 ? undefined : nextIn };
  }

  async pending(partition: number, limit: number): Promise<K[]> {
    this.#checkPartition(partition, limit);
    const reply = (await this.#run(PENDING, [this.#names.due(partition)], [String(limit)])) as unknown[];
    return reply.map((member) => decodeMember(String(member)) as K);
  }

  async claim(key: K, force: boolean): Promise<RedisClaim<V> | undefined> {
    const member = encodeKey(key);
    const p = partitionOf(member, this.partitions);
    const n = this.#names;
    const reply = (await this.#run(
      CLAIM,
      [n.items(p, member), n.inFlight(p, member), n.due(p), n.lease(p), n.meta(p), n.fence(p)],
      [member, this.#maxSize, this.#leaseMs, force ? '1' : '0', this.#interval, String(p)],
    )) as [unknown, unknown, unknown, unknown, unknown[]] | null;
    if (reply === null || reply === undefined) return undefined;
    const [fence, attempt, lost, batchId, texts] = reply;
    const { deserialize, maxRedeliveries } = this.#options;
    const items: V[] = [];
    // A text `deserialize` throws for must not fail the claim: the batch is leased now, and a claim
    // that rejects would be claimed again after every lease, forever. It goes to handleError instead.
    let unreadable: string[] | undefined;
    let cause: unknown;
    // A large batch is read in slices of SLICE_MS, with turns of the event loop between them: 10,000
    // items at once would hold the loop for several ms (JSON.parse, about 1 µs for an item of 70 bytes).
    let sliceStart = now();
    for (let i = 0; i < texts.length; i++) {
      if ((i & 255) === 255 && now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = now();
      }
      const text = String(texts[i]);
      try {
        items.push(deserialize(text));
      } catch (error) {
        if (unreadable === undefined) {
          unreadable = [];
          cause = error;
        }
        unreadable.push(text);
      }
    }
    const id = String(batchId);
    const claim: RedisClaim<V> = {
      key,
      items,
      fence: Number(fence),
      attempt: Number(attempt),
      batchId: id,
      poisoned: Number(lost) > maxRedeliveries,
      ...(unreadable !== undefined && {
        error: new RedisDeserializeError(this.namespace, key, id, unreadable, texts.length, cause),
      }),
    };
    this.#held.add(claim);
    this.#stats.claims++;
    if (claim.attempt > 1) this.#stats.redeliveries++;
    if (claim.poisoned || unreadable !== undefined) this.#stats.poisoned++;
    return claim;
  }

  async extend(claim: Claim<V>): Promise<boolean> {
    const { member, p } = this.#claimed(claim);
    const ok = await this.#run(
      EXTEND,
      [this.#names.lease(p), this.#names.meta(p)],
      [member, String(claim.fence), this.#leaseMs],
    );
    if (Number(ok) === 1) return true;
    this.#stats.extendsRefused++;
    return false;
  }

  async ack(claim: Claim<V>): Promise<boolean> {
    const { member, p } = this.#claimed(claim);
    const n = this.#names;
    const ok = await this.#return(
      claim,
      ACK,
      [n.inFlight(p, member), n.lease(p), n.meta(p)],
      [member, String(claim.fence)],
    );
    if (Number(ok) === 1) {
      this.#stats.acks++;
      return true;
    }
    this.#stats.lateAcks++;
    return false;
  }

  async release(claim: Claim<V>): Promise<void> {
    const { member, p } = this.#claimed(claim);
    const ok = await this.#return(
      claim,
      RELEASE,
      [this.#names.lease(p), this.#names.meta(p)],
      [member, String(claim.fence)],
    );
    if (Number(ok) === 1) this.#stats.releases++;
  }

  /** Sends a claim's ack or release; the claim counts as unreturned until Redis answers. */
  async #return(claim: Claim<V>, script: typeof ACK, keys: string[], args: string[]): Promise<unknown> {
    this.#held.delete(claim);
    this.#returning.add(claim);
    try {
      return await this.#run(script, keys, args);
    } finally {
      this.#returning.delete(claim);
    }
  }

  /** The member and partition of a claim this store handed out. */
  #claimed(claim: Claim<V>): { member: string; p: number } {
    const key = (claim as Partial<RedisClaim<V>>).key;
    if (key === undefined) {
      throw new TypeError(`Expected a claim returned by this store's \`claim\`, got ${describe(claim)}`);
    }
    const member = encodeKey(key);
    return { member, p: partitionOf(member, this.partitions) };
  }

  async #run(script: typeof CLAIM, keys: string[], args: string[]): Promise<unknown> {
    if (this.#closed) throw this.#closedError(script.name);
    await this.#checkLayout();
    this.#stats.roundTrips++;
    return this.#runner.run({ script, keys, args });
  }

  #closedError(operation: string): RedisStoreError {
    return new RedisStoreError(
      'ERR_REDIS_CLOSED',
      `redisStore(${this.namespace}): \`${operation}\` after close()`,
    );
  }

  /**
   * Warns once when the server may evict keys that have no expiry (`allkeys-*`): it would delete item
   * lists, schedules and leases to make room, and items would vanish without a trace. (`volatile-*`
   * policies only evict keys with an expiry: of the store's, only the writers' append records, whose
   * loss can at worst let an append whose reply was lost be applied twice; docs/redis.md says so.)
   */
  #warnOfEviction(policy: string): void {
    if (this.#warnedOfEviction || !policy.startsWith('allkeys')) return;
    this.#warnedOfEviction = true;
    process.emitWarning(
      `redisStore(${this.namespace}): Redis runs with maxmemory-policy ${policy}, which may evict buffered items without a trace when memory runs out; set maxmemory-policy noeviction`,
      { code: 'DATA_BUFFER_REDIS_EVICTION' },
    );
  }

  /**
   * Fixes the namespace's partition count on first use and refuses a store with another one: with
   * another count, the same key would live in two partitions and lose its order.
   */
  #checkLayout(): Promise<void> {
    if (this.#checked === undefined) this.#stats.roundTrips++;
    this.#checked ??= this.#runner
      .run({ script: CONFIG, keys: [this.#names.config], args: [String(this.partitions), LAYOUT_VERSION] })
      .then((reply) => {
        const [partitions, layout, policy = ''] = (reply as unknown[]).map(String);
        this.#warnOfEviction(policy);
        if (partitions !== String(this.partitions) || layout !== LAYOUT_VERSION) {
          throw new RedisStoreError(
            'ERR_REDIS_PARTITIONS',
            `redisStore: the namespace \`${this.namespace}\` is laid out in ${partitions} partitions (layout ${layout}) in Redis, but this store was given \`partitions: ${this.partitions}\` (layout ${LAYOUT_VERSION}). Every process on a namespace must use the same count; to change it, use a new namespace`,
          );
        }
      });
    const checked = this.#checked;
    // A connection error is worth another try on the next use; a mismatch stays.
    checked.catch((error: unknown) => {
      if (!(error instanceof RedisStoreError) && this.#checked === checked) this.#checked = undefined;
    });
    return checked;
  }
}
