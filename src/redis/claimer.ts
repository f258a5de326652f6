/**
 * The claim side of the Redis store: finding due keys (`due`, `pending`), claiming a key's batch
 * under a lease, extending that lease, and returning the batch (`ack`, `release`), each one script
 * (`DUE`, `PENDING`, `CLAIM`, `EXTEND`, `ACK`, `RELEASE` in `scripts.ts`), and reading a claimed
 * batch's items back with `deserialize`. The write side is `write-side.ts`; `store.ts` joins the two.
 *
 * Invariants:
 * - **Every claim handed out is tracked until Redis answered its return:** it is held from `claim`
 *   until its `ack` or `release` is sent, then returning until Redis replies. `close()` gives back
 *   the held ones ({@link Claimer.releaseHeld}); `abandon()` counts both as unreturned.
 * - **A claim never fails for its items:** a text `deserialize` throws for goes to the claim's
 *   `error` (a {@link RedisDeserializeError}), for `handleError`; the batch is leased already, and a
 *   claim that rejected would be claimed again after every lease, forever.
 * - **The fence decides:** an ack or extension of a claim whose lease ran out is refused by Redis,
 *   and counted (`lateAcks`, `extendsRefused`), never thrown.
 * - **Nothing runs after close:** every script checks with the store first ({@link ClaimerContext}).
 * @module
 */
import type { Claim } from '../backend.js';
import { now, SLICE_MS, yieldToEventLoop } from '../timers.js';
import type { ScriptRunner } from './client.js';
import { RedisDeserializeError } from './errors.js';
import { decodeMember, describe, encodeKey, type KeyNames, partitionOf, type RedisKey } from './keys.js';
import type { ResolvedRedisStoreOptions } from './options.js';
import { ACK, CLAIM, DUE, EXTEND, PENDING, RELEASE } from './scripts.js';
import type { RedisStoreStats } from './stats.js';

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

/** What the claimer needs from its store, handed over when it is built. */
export interface ClaimerContext<V>
  extends Pick<
    ResolvedRedisStoreOptions<V>,
    'namespace' | 'partitions' | 'leaseMs' | 'maxRedeliveries' | 'deserialize'
  > {
  readonly runner: ScriptRunner;
  readonly names: KeyNames;
  readonly stats: RedisStoreStats;
  /** Throws `ERR_REDIS_CLOSED`, naming `operation`, once the store is closed. */
  assertOpen(operation: string): void;
  /** Checks the namespace's layout before the first script and after a failed check; rejects to refuse. */
  prepare(): Promise<void>;
}

/** Claims, extends and returns batches; see the module comment. */
export class Claimer<K extends RedisKey, V> {
  readonly #context: ClaimerContext<V>;
  #maxSize = '0';
  #interval = '0';
  readonly #leaseMs: string;
  /** Claims handed out and neither acked nor released: `close()` gives them back. */
  readonly #held = new Set<Claim<V>>();
  /** Claims whose ack or release was sent and not answered yet. */
  readonly #returning = new Set<Claim<V>>();

  constructor(context: ClaimerContext<V>) {
    this.#context = context;
    this.#leaseMs = String(context.leaseMs);
  }

  /** The batch limits a claim takes by (from the buffer's `open`). */
  configure(interval: number, maxSize: number): void {
    this.#maxSize = Number.isFinite(maxSize) ? String(maxSize) : '0';
    this.#interval = String(interval);
  }

  #checkPartition(partition: number, limit: number): void {
    const { partitions } = this.#context;
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
      throw new RangeError(
        `Expected \`partition\` to be an integer from 0 to ${partitions - 1}, got ${describe(partition)}`,
      );
    }
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Expected \`limit\` to be an integer >= 1, got ${describe(limit)}`);
    }
  }

  async due(partition: number, limit: number): Promise<DueKeys<K>> {
    this.#checkPartition(partition, limit);
    const n = this.#context.names;
    const reply = (await this.#run(
      DUE,
      [n.due(partition), n.lease(partition)],
      [String(limit)],
    )) as unknown[];
    const nextIn = Number(reply[0]);
    const keys = reply.slice(1).map((member) => decodeMember(String(member)) as K);
    return { keys, nextIn: nextIn < 0 ? undefined : nextIn };
  }

  async pending(partition: number, limit: number): Promise<K[]> {
    this.#checkPartition(partition, limit);
    const n = this.#context.names;
    const reply = (await this.#run(PENDING, [n.due(partition)], [String(limit)])) as unknown[];
    return reply.map((member) => decodeMember(String(member)) as K);
  }

  async claim(key: K, force: boolean): Promise<RedisClaim<V> | undefined> {
    const { names: n, stats, deserialize, maxRedeliveries } = this.#context;
    const member = encodeKey(key);
    const p = partitionOf(member, this.#context.partitions);
    const reply = (await this.#run(
      CLAIM,
      [n.items(p, member), n.inFlight(p, member), n.due(p), n.lease(p), n.meta(p), n.fence(p)],
      [member, this.#maxSize, this.#leaseMs, force ? '1' : '0', this.#interval, String(p)],
    )) as [unknown, unknown, unknown, unknown, unknown[]] | null;
    if (reply === null || reply === undefined) return undefined;
    const [fence, attempt, lost, batchId, texts] = reply;
    const items: V[] = [];
    // A text `deserialize` throws for must not fail the claim (see the module comment).
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
        error: new RedisDeserializeError(this.#context.namespace, key, id, unreadable, texts.length, cause),
      }),
    };
    this.#held.add(claim);
    stats.claims++;
    if (claim.attempt > 1) stats.redeliveries++;
    if (claim.poisoned || unreadable !== undefined) stats.poisoned++;
    return claim;
  }

  async extend(claim: Claim<V>): Promise<boolean> {
    const { member, p } = this.#claimed(claim);
    const n = this.#context.names;
    const ok = await this.#run(EXTEND, [n.lease(p), n.meta(p)], [member, String(claim.fence), this.#leaseMs]);
    if (Number(ok) === 1) return true;
    this.#context.stats.extendsRefused++;
    return false;
  }

  async ack(claim: Claim<V>): Promise<boolean> {
    const { member, p } = this.#claimed(claim);
    const n = this.#context.names;
    const ok = await this.#return(
      claim,
      ACK,
      [n.inFlight(p, member), n.lease(p), n.meta(p)],
      [member, String(claim.fence)],
    );
    if (Number(ok) === 1) {
      this.#context.stats.acks++;
      return true;
    }
    this.#context.stats.lateAcks++;
    return false;
  }

  async release(claim: Claim<V>): Promise<void> {
    const { member, p } = this.#claimed(claim);
    const n = this.#context.names;
    const ok = await this.#return(claim, RELEASE, [n.lease(p), n.meta(p)], [member, String(claim.fence)]);
    if (Number(ok) === 1) this.#context.stats.releases++;
  }

  /** Gives back every claim still held (for another process, at once, instead of after its lease). */
  async releaseHeld(): Promise<void> {
    await Promise.allSettled([...this.#held].map((claim) => this.release(claim)));
  }

  /** Items of the claims held or returning: they come back after their lease if Redis never hears of them. */
  unreturnedItems(): number {
    let unreturned = 0;
    for (const claim of [...this.#held, ...this.#returning]) unreturned += claim.items.length;
    return unreturned;
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
    return { member, p: partitionOf(member, this.#context.partitions) };
  }

  async #run(script: typeof CLAIM, keys: string[], args: string[]): Promise<unknown> {
    this.#context.assertOpen(script.name);
    await this.#context.prepare();
    this.#context.stats.roundTrips++;
    return this.#context.runner.run({ script, keys, args });
  }
}
