/**
 * The write path to Redis: what the buffer stages once per turn goes out as one append script per
 * key, all of them in one pipeline, and the write settles once Redis replied.
 *
 * Invariants:
 * - **One round at a time.** While a round is out, new writes gather into the next one (a key's items
 *   of many turns become one append). A key's items therefore reach Redis in insert order, even
 *   across a reconnect: no later write can overtake one that failed and is sent again.
 * - **Connection loss is not a failure.** The appends that failed stay in this process, before any
 *   newer items of their keys, and are sent again with a growing wait (50 ms doubling to 2 s, with
 *   jitter), while `stats().pendingItems` and the `data-buffer:redis:outage` channel say so. An
 *   append whose reply was lost with the connection may have run: sent again, its items are in Redis
 *   twice (at least once, never lost while this process lives). A process that dies during an outage
 *   loses what it held, unless the journal is in front (the `journal` option, `journal-front.ts`).
 * - **A reply that retrying cannot fix** (a key of the wrong type, a script error) stops the writer:
 *   this write and every later one reject with a `RedisStoreError` (the buffer fails stop).
 * - **Outages are visible:** a failed round, or one without a reply for {@link STALLED_WRITE_MS}
 *   (clients with an offline queue hold commands while they reconnect), counts in `stats().outages`
 *   and publishes on `data-buffer:redis:outage`; the next round that succeeds publishes `recovered`.
 * @module
 */
import { startTimer, type Timer } from '../timers.js';
import type { CallResult, ScriptCall, ScriptRunner } from './client.js';
import { redisChannels } from './diagnostics.js';
import { isRetryableRedisError, RedisStoreError } from './errors.js';
import type { KeyNames } from './keys.js';
import { APPEND, type APPEND_FULL, type APPEND_OPENED } from './scripts.js';
import type { RedisStoreStats } from './stats.js';

/** One key's items waiting to be written. */
interface PendingKey {
  readonly partition: number;
  values: string[];
}

/** One accepted write (or what failed of a round, sent again), its items grouped per key. */
interface PendingWrite {
  /** The last write it carries: once it is in Redis, so are all writes up to this one. */
  readonly seq: number;
  readonly keys: Map<string, PendingKey>;
  readonly count: number;
}

/** What the writer needs from its store, handed over when it is built. */
export interface WriterContext {
  readonly runner: ScriptRunner;
  readonly names: KeyNames;
  readonly stats: RedisStoreStats;
  /** The store, as the diagnostics payloads name it. */
  readonly store: object;
  readonly namespace: string;
  /** Checks the namespace's layout before the first round and after an outage; rejects to refuse. */
  prepare(): Promise<void>;
  /** Makes the next `prepare` check again: a restarted Redis may have forgotten the layout. */
  forgetLayout(): void;
  /** A member's append is in Redis; its reply (the {@link APPEND_OPENED} / {@link APPEND_FULL} bits). */
  appended(member: string, reply: number): void;
}

const FIRST_RETRY_MS = 50;
/**
 * A round without a reply for this long counts as an outage too (reported once, not cancelled): a
 * client with an offline queue holds commands while it reconnects instead of failing them.
 */
export const STALLED_WRITE_MS = 1000;
const MAX_RETRY_MS = 2000;
/**
 * A round gathers waiting writes up to about this many items (one write at least): it bounds the
 * synchronous work of building and encoding one pipeline, which runs on the event loop.
 */
export const ROUND_ITEMS = 10_000;

/** Orders, batches and retries appends; see the module comment. */
export class Writer {
  readonly #context: WriterContext;
  #interval = '0';
  #maxSize = '0';
  /** Writes waiting for a round, oldest first. */
  #queue: PendingWrite[] = [];
  /** Writes accepted so far, and how many of them Redis holds (all writes up to that one). */
  #accepted = 0;
  #written = 0;
  #waiters: Array<{ seq: number; resolve: () => void; reject: (error: unknown) => void }> = [];
  /** A round is out, or waits for its retry. */
  #busy = false;
  #retry: Timer | undefined;
  #keepAlive = false;
  #failures = 0;
  #outageSince: number | undefined;
  #failure: RedisStoreError | undefined;

  constructor(context: WriterContext) {
    this.#context = context;
  }

  /** The batch limits the appends schedule by (from the buffer's `open`). */
  configure(interval: number, maxSize: number): void {
    this.#interval = String(interval);
    this.#maxSize = Number.isFinite(maxSize) ? String(maxSize) : '0';
  }

  /**
   * Queues one write: `values[i]` (serialized) under `members[i]` in partition `partitions[i]`.
   * Resolves once Redis holds them and every earlier write.
   */
  add(members: readonly string[], partitions: readonly number[], values: readonly string[]): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const keys = new Map<string, PendingKey>();
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      const entry = keys.get(member);
      if (entry === undefined) keys.set(member, { partition: partitions[i]!, values: [values[i]!] });
      else entry.values.push(values[i]!);
    }
    this.#context.stats.pendingItems += members.length;
    const seq = ++this.#accepted;
    this.#queue.push({ seq, keys, count: members.length });
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
    if (!this.#busy) void this.#round();
    return done;
  }

  /** Resolves once every write accepted so far is in Redis. */
  drained(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#written === this.#accepted) return Promise.resolve();
    const seq = this.#accepted;
    return new Promise<void>((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
  }

  /** From now on, a pending retry keeps the process alive (the store is closing and waits for it). */
  keepAlive(): void {
    this.#keepAlive = true;
    this.#retry?.keepAlive();
  }

  /**
   * Stops for good (the buffer's close gave up on a Redis that does not answer): no more rounds or
   * retries, and every write not yet in Redis rejects with `error`.
   * @returns the items Redis never confirmed.
   */
  abandon(error: RedisStoreError): number {
    const unwritten = this.#context.stats.pendingItems;
    if (this.#failure === undefined) this.#fail(error);
    return unwritten;
  }

  /** Merges the oldest waiting writes, up to {@link ROUND_ITEMS} items, into one round. */
  #takeRound(): PendingWrite {
    const queue = this.#queue;
    let taken = 1;
    let count = queue[0]!.count;
    while (taken < queue.length && count + queue[taken]!.count <= ROUND_ITEMS) count += queue[taken++]!.count;
    if (taken === 1) return queue.shift()!;
    const seq = queue[taken - 1]!.seq;
    const keys = new Map<string, PendingKey>();
    for (const write of queue.splice(0, taken)) {
      for (const [member, entry] of write.keys) {
        const merged = keys.get(member);
        if (merged === undefined) keys.set(member, { partition: entry.partition, values: entry.values });
        else merged.values = merged.values.concat(entry.values);
      }
    }
    return { seq, keys, count };
  }

  async #round(): Promise<void> {
    this.#busy = true;
    this.#retry = undefined;
    const round = this.#takeRound();
    const { seq, keys: batch } = round;
    const { runner, names, stats } = this.#context;
    try {
      await this.#context.prepare();
    } catch (error) {
      this.#afterFailure(round, error);
      return;
    }
    const members = [...batch.keys()];
    const calls: ScriptCall[] = members.map((member) => {
      const { partition, values } = batch.get(member)!;
      return {
        script: APPEND,
        keys: [names.items(partition, member), names.due(partition)],
        args: [member, this.#interval, this.#maxSize, ...values],
      };
    });
    stats.roundTrips++;
    let results: CallResult[];
    const stalled = startTimer(
      () => this.#outage(new Error(`Redis has not answered a write for ${STALLED_WRITE_MS} ms`)),
      STALLED_WRITE_MS,
    );
    try {
      results = await runner.runAll(calls);
    } catch (error) {
      this.#afterFailure(round, error);
      return;
    } finally {
      stalled.cancel();
    }
    let failed: Map<string, PendingKey> | undefined;
    let failedCount = 0;
    let firstError: unknown;
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      const member = members[i]!;
      const entry = batch.get(member)!;
      if (result.ok) {
        stats.appends++;
        stats.itemsWritten += entry.values.length;
        stats.pendingItems -= entry.values.length;
        const reply = Number(result.value);
        if (reply !== 0) this.#context.appended(member, reply);
        continue;
      }
      if (!isRetryableRedisError(result.error)) {
        this.#fail(
          new RedisStoreError(
            'ERR_REDIS_REPLY',
            `Redis refused to append to the key \`${member}\`: ${(result.error as Error).message}`,
            { cause: result.error },
          ),
        );
        return;
      }
      failed ??= new Map();
      failed.set(member, entry);
      failedCount += entry.values.length;
      firstError ??= result.error;
    }
    if (failed !== undefined) {
      this.#afterFailure({ seq, keys: failed, count: failedCount }, firstError);
      return;
    }
    this.#succeeded(seq);
  }

  #succeeded(seq: number): void {
    if (this.#outageSince !== undefined) {
      if (redisChannels.recovered.hasSubscribers) {
        redisChannels.recovered.publish({
          store: this.#context.store,
          namespace: this.#context.namespace,
          downtime: Date.now() - this.#outageSince,
          retries: this.#failures,
        });
      }
      this.#outageSince = undefined;
    }
    this.#failures = 0;
    this.#written = seq;
    let settled = 0;
    while (settled < this.#waiters.length && this.#waiters[settled]!.seq <= seq)
      this.#waiters[settled++]!.resolve();
    if (settled > 0) this.#waiters.splice(0, settled);
    this.#busy = false;
    if (this.#queue.length > 0 && this.#failure === undefined) void this.#round();
  }

  /** Puts `failed` back in front of the writes that came since, and sends it all again after a wait. */
  #afterFailure(failed: PendingWrite, error: unknown): void {
    if (this.#failure !== undefined) return; // stopped meanwhile: nothing is sent again
    if (error instanceof RedisStoreError || !isRetryableRedisError(error)) {
      this.#fail(
        error instanceof RedisStoreError
          ? error
          : new RedisStoreError(
              'ERR_REDIS_REPLY',
              `Redis refused a write: ${String((error as Error)?.message ?? error)}`,
              {
                cause: error,
              },
            ),
      );
      return;
    }
    this.#queue.unshift(failed);
    this.#context.forgetLayout();
    this.#outage(error);
    this.#failures++;
    this.#context.stats.writeRetries++;
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.#failures - 1));
    // Jitter: processes that lost the same server do not all come back in the same millisecond.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#retry = startTimer(() => void this.#round(), delay, this.#keepAlive);
  }

  /** Counts and reports an outage, once until a write succeeds again. */
  #outage(error: unknown): void {
    if (this.#outageSince !== undefined) return;
    const stats = this.#context.stats;
    stats.outages++;
    this.#outageSince = Date.now();
    if (redisChannels.outage.hasSubscribers) {
      redisChannels.outage.publish({
        store: this.#context.store,
        namespace: this.#context.namespace,
        error,
        pendingItems: stats.pendingItems,
      });
    }
  }

  #fail(error: RedisStoreError): void {
    this.#failure = error;
    this.#retry?.cancel();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}
