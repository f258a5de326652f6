/**
 * The write path to Redis: what the buffer stages once per turn goes out as one append script per
 * round (on a Cluster, one per partition), carrying the items of every key, and the write settles
 * once Redis replied.
 *
 * Invariants:
 * - **One round at a time.** While a round is out, new writes gather into the next one (a key's items
 *   of many turns become one append). A key's items therefore reach Redis in insert order, even
 *   across a reconnect: no later write can overtake one that failed and is sent again.
 * - **Connection loss is not a failure.** The appends that failed stay in this process, before any
 *   newer items of their keys, and are sent again with a growing wait (50 ms doubling to 2 s, with
 *   jitter), while `stats().pendingItems` and the `data-buffer:redis:outage` channel say so. A process
 *   that dies during an outage loses what it held, unless the journal is in front (the `journal`
 *   option, `journal-front.ts`).
 * - **A lost reply does not append twice.** A call that failed may have run (its reply lost to a
 *   command timeout or a dropped connection): it is sent again alone and unchanged, under its number,
 *   and the script recognises a number it recorded already (`APPEND` in `scripts.ts`).
 * - **Waiting items are bytes** (`TextRun`, grouped and merged into rounds in `pending-writes.ts`),
 *   outside the JavaScript heap: strings only while a turn serializes them and while a round is sent.
 * - **A reply that retrying cannot fix** (a key of the wrong type, a script error) stops the writer:
 *   this write and every later one reject with a `RedisStoreError` (the buffer fails stop).
 * - **Outages are visible:** a failed round, or one without a reply for {@link STALLED_WRITE_MS}
 *   (clients with an offline queue hold commands while they reconnect), counts in `stats().outages`
 *   and publishes on `data-buffer:redis:outage`; the next round that succeeds publishes `recovered`.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { startTimer, type Timer } from '../timers.js';
import type { CallResult, ScriptCall, ScriptRunner } from './client.js';
import { redisChannels } from './diagnostics.js';
import { isRetryableRedisError, RedisStoreError } from './errors.js';
import type { KeyNames } from './keys.js';
import {
  mergeWrites,
  type PendingKey,
  type PendingWrite,
  pendingWrite,
  ROUND_BYTES,
  ROUND_ITEMS,
  type Segment,
  takePart,
} from './pending-writes.js';
import { APPEND, type APPEND_FULL, type APPEND_OPENED, WRITE_RECORD_TTL_MS } from './scripts.js';
import type { RedisStoreStats } from './stats.js';
import type { EncodedItems } from './text-run.js';

/** One append call of a round. */
interface AppendCall extends ScriptCall {
  /** The members it carries, in order. */
  readonly members: string[];
  /** Its call group (its partition on a Cluster, 0 on a single server), and its number. */
  readonly group: number;
  readonly number: number;
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

/** The keys a failed append call carried, for its error: the first few, and how many more. */
function describeMembers(members: readonly string[]): string {
  const named = members
    .slice(0, 3)
    .map((member) => `\`${member}\``)
    .join(', ');
  const more = members.length > 3 ? ` and ${members.length - 3} more` : '';
  return `${members.length === 1 ? 'the key' : 'the keys'} ${named}${more}`;
}
/** Orders, batches and retries appends; see the module comment. */
export class Writer {
  readonly #context: WriterContext;
  /** This writer's name in its records in Redis, and the number of its last append call. */
  readonly #id = randomBytes(9).toString('base64url');
  #callNumber = 0;
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
   * Queues one write: `values[i]` (serialized) under `members[i]` in partition `partitions[i]`; an
   * item whose value is `undefined` is item `i` of `encoded`, already UTF-8. Reads everything now.
   * Resolves once Redis holds them and every earlier write.
   */
  add(
    members: readonly string[],
    partitions: readonly number[],
    values: ReadonlyArray<string | undefined>,
    encoded?: EncodedItems,
  ): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const write = pendingWrite(this.#accepted + 1, members, partitions, values, encoded);
    const seq = ++this.#accepted;
    this.#queue.push(write);
    this.#context.stats.pendingItems += members.length;
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

  /**
   * Merges the oldest waiting writes into one round, up to {@link ROUND_ITEMS} items and
   * {@link ROUND_BYTES} bytes. When the oldest alone is larger, the round takes its first items
   * (in key order, a key's oldest first) and leaves the rest first in line: the round then completes
   * only the writes before it.
   */
  #takeRound(): PendingWrite {
    const queue = this.#queue;
    const head = queue[0]!;
    if (head.sent !== undefined) return queue.shift()!; // sent before: again as it was
    if (head.count > ROUND_ITEMS || head.bytes > ROUND_BYTES) {
      const part = takePart(head);
      if (head.count > 0) return part;
      queue.shift(); // a single item larger than a round: taken whole
      return { ...part, seq: head.seq };
    }
    let taken = 1;
    let count = head.count;
    let bytes = head.bytes;
    while (taken < queue.length) {
      const next = queue[taken]!;
      if (count + next.count > ROUND_ITEMS || bytes + next.bytes > ROUND_BYTES) break;
      count += next.count;
      bytes += next.bytes;
      taken++;
    }
    if (taken === 1) return queue.shift()!;
    return mergeWrites(queue.splice(0, taken));
  }

  async #round(): Promise<void> {
    this.#busy = true;
    this.#retry = undefined;
    const round = this.#takeRound();
    const { seq, keys: batch } = round;
    const { runner, stats } = this.#context;
    try {
      await this.#context.prepare();
    } catch (error) {
      this.#afterFailure(round, error);
      return;
    }
    const calls = this.#calls(batch, round.sent);
    stats.roundTrips++;
    let results: CallResult[];
    const stalled = startTimer(
      () => this.#outage(new Error(`Redis has not answered a write for ${STALLED_WRITE_MS} ms`)),
      STALLED_WRITE_MS,
    );
    try {
      results = await runner.runAll(calls);
    } catch (error) {
      const sent = new Map(calls.map((call) => [call.group, call.number]));
      this.#afterFailure({ ...round, sent }, error);
      return;
    } finally {
      stalled.cancel();
    }
    let failed: Map<string, PendingKey> | undefined;
    let failedCalls: Map<number, number> | undefined;
    let failedCount = 0;
    let failedBytes = 0;
    let firstError: unknown;
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      const members = calls[i]!.members;
      if (result.ok) {
        const replies = result.value as unknown[];
        if (Number(replies[0]) === 1) stats.repeatedWrites++;
        for (let j = 0; j < members.length; j++) {
          const member = members[j]!;
          const count = batch.get(member)!.count;
          stats.appends++;
          stats.itemsWritten += count;
          stats.pendingItems -= count;
          const reply = Number(replies[j + 1] ?? 0);
          if (reply !== 0) this.#context.appended(member, reply);
        }
        continue;
      }
      if (!isRetryableRedisError(result.error)) {
        this.#fail(
          new RedisStoreError(
            'ERR_REDIS_REPLY',
            `Redis refused to append to ${describeMembers(members)}: ${(result.error as Error).message}`,
            { cause: result.error },
          ),
        );
        return;
      }
      failed ??= new Map();
      failedCalls ??= new Map();
      failedCalls.set(calls[i]!.group, calls[i]!.number);
      for (const member of members) {
        const entry = batch.get(member)!;
        failed.set(member, entry);
        failedCount += entry.count;
        failedBytes += entry.bytes;
      }
      firstError ??= result.error;
    }
    if (failed !== undefined) {
      this.#afterFailure(
        { seq, keys: failed, count: failedCount, bytes: failedBytes, sent: failedCalls! },
        firstError,
      );
      return;
    }
    this.#succeeded(seq);
  }

  /**
   * The round's append calls: one for every key on a single server; on a Cluster, one per partition
   * (a partition's keys share one hash tag, so that its call stays in one slot). Each call takes the
   * next number, or the number it was sent under before (`sent`).
   */
  #calls(batch: Map<string, PendingKey>, sent: ReadonlyMap<number, number> | undefined): AppendCall[] {
    const { names, runner } = this.#context;
    const groups = new Map<number, string[]>();
    for (const [member, { partition }] of batch) {
      const group = runner.cluster ? partition : 0;
      const members = groups.get(group);
      if (members === undefined) groups.set(group, [member]);
      else members.push(member);
    }
    const calls: AppendCall[] = [];
    for (const [group, members] of groups) {
      const number = sent?.get(group) ?? ++this.#callNumber;
      const keys: string[] = [names.writes(group, this.#id)];
      const args = [this.#interval, this.#maxSize, String(number), String(WRITE_RECORD_TTL_MS)];
      for (const member of members) {
        const { partition, first, count } = batch.get(member)!;
        keys.push(names.items(partition, member), names.due(partition));
        args.push(member, String(count));
        for (let segment: Segment | undefined = first; segment !== undefined; segment = segment.next) {
          for (let i = segment.from; i < segment.to; i++) args.push(segment.run.text(i));
        }
      }
      calls.push({ script: APPEND, keys, args, members, group, number });
    }
    return calls;
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
