/**
 * The public class: it wires the parts together, keeps the insert quick path, and turns each public
 * method into a call on the part that owns the job. An item's path through the parts:
 *
 *   insert → budget (room? else on-full) → intake (open batch, interval, take) → a delivery, lined up
 *   in settling and queued in its partition → partitions (attempt) → retry / give-up → settling.
 *
 * Parts know each other only through the context each is given when built here; dependencies run one
 * way, from the public class down the data path. See CONTRIBUTING.md for the map.
 * @module
 */
import type { Writable } from 'node:stream';
import type { Budget, ReadyOptions } from './budget.js';
import type { Claims } from './claims.js';
import { CLOSE_TIMEOUT, type CloseOptions, type CloseReport, type Closing } from './closing.js';
import { isCounted, QUEUED } from './delivery.js';
import { channels } from './diagnostics.js';
import { BufferClosedError, describe, invalidArgType } from './errors.js';
import type { Intake } from './intake.js';
import { registerLive, unregisterLive } from './live-buffers.js';
import type { OnFull } from './on-full.js';
import { checkTimeout } from './option-checks.js';
import {
  type DataBufferOptions,
  type ErrorInfo,
  type FlushInfo,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { partitionInfo } from './partition-info.js';
import type { PartitionInfo, Partitions } from './partitions.js';
import { buildParts } from './parts.js';
import type { Settling } from './settling.js';
import type { Counters, DataBufferStats } from './stats.js';
import { Appended, type BatchStore } from './store.js';
import { type ToWritableOptions, toWritable } from './writable.js';
import type { WriteBehind } from './write-behind.js';

export type { CloseOptions, CloseReport, PartitionInfo, ReadyOptions };

/**
 * Buffers items per key and flushes each key's list to `handleFlush` after `interval` ms (plus jitter)
 * or as soon as it holds `maxSize` items, retrying failed flushes and handing what still fails to
 * `handleError`.
 *
 * @typeParam K - keys; any value, compared as `Map` keys are (primitives by value, objects by identity).
 * @typeParam V - the buffered items.
 * @typeParam M - the type of the `meta` option.
 *
 * @example
 * ```ts
 * const buffer = new DataBuffer<string, PageView>({
 *   handleFlush: async (path, views) => db.insertViews(path, views),
 *   interval: 10_000,
 * });
 * buffer.insert('/home', view);
 * ```
 *
 * Or, as in the Elixir original, subclass it and override `handleFlush` (and `handleError`).
 */
export class DataBuffer<K = unknown, V = unknown, M = unknown> implements AsyncDisposable {
  readonly #options: ResolvedOptions<K, V, M>;
  readonly #counters: Counters;
  readonly #budget: Budget<V>;
  /** The intake's store, held here too for the insert quick path. */
  readonly #store: BatchStore<K, V>;
  readonly #intake: Intake<K, V>;
  readonly #onFull: OnFull<K, V>;
  readonly #partitions: Partitions<K, V, M>;
  readonly #settling: Settling<K, V>;
  readonly #closing: Closing<K, V>;
  /** Only with a `store`: a buffer without one checks this field on the checked insert path, and that is all. */
  readonly #writeBehind: WriteBehind<K, V> | undefined;
  /** Only with a shared `store`: deliveries are claimed from it, and inserts form no local batches. */
  readonly #claims: Claims<K, V> | undefined;
  #closed = false;

  /**
   * @param options - see {@link DataBufferOptions}; `handleFlush` is required unless a subclass overrides it.
   * @throws TypeError / RangeError when an option is invalid, naming the option, the value and what is allowed.
   */
  constructor(options?: DataBufferOptions<K, V, M>) {
    const resolved = resolveOptions(options);
    if (resolved.handleFlush === undefined && this.handleFlush === DataBuffer.prototype.handleFlush) {
      throw invalidArgType(
        'Expected `handleFlush` to be a function (or a subclass to override the `handleFlush` method), got `undefined` (undefined)',
      );
    }
    this.#options = resolved;
    const parts = buildParts<K, V, M>(this, resolved);
    this.#counters = parts.counters;
    this.#budget = parts.budget;
    this.#intake = parts.intake;
    this.#store = parts.intake.store;
    this.#onFull = parts.onFull;
    this.#partitions = parts.partitions;
    this.#settling = parts.settling;
    this.#closing = parts.closing;
    this.#writeBehind = parts.writeBehind;
    this.#claims = parts.claims;
    registerLive(this);
  }

  /**
   * Writes one batch. Calls the `handleFlush` option; a subclass may override this method instead.
   * It succeeds when it returns or resolves, and fails when it throws, rejects or runs past `flushTimeout`.
   * Do not mutate `items`: a retry and `handleError` receive the same array.
   */
  handleFlush(key: K, items: V[], info: FlushInfo<M>): unknown {
    return (this.#options.handleFlush as NonNullable<ResolvedOptions<K, V, M>['handleFlush']>)(
      key,
      items,
      info,
    );
  }

  /**
   * Receives a batch that could not be delivered. Calls the `handleError` option; a subclass may
   * override this method instead. Without either, the loss is reported through `logger.error`.
   */
  handleError(key: K, items: V[], error: Error, info: ErrorInfo<M>): unknown {
    const handler = this.#options.handleError;
    if (handler !== undefined) return handler(key, items, error, info);
    this.#options.logger.error(
      `data-buffer: lost ${items.length} item(s) of key ${describe(key)} (${info.reason} after ${info.attempts} attempt(s)); no handleError is set: ${error.message}`,
      { key, count: items.length, reason: info.reason, batchId: info.batchId, error },
    );
    // Counted after logging: if the logger throws, the caller counts the loss (once).
    this.#counters.lost += items.length;
    return undefined;
  }

  /**
   * Adds an item to the key's list. Synchronous and O(1).
   * @returns `false` when the buffer is full after this insert (wait for {@link ready}) or when
   * `onFull: 'drop-newest'` dropped the item; `true` otherwise.
   * @throws {@link BufferClosedError} after `close()`; {@link BufferFullError} under `onFull: 'throw'`.
   */
  insert(key: K, value: V): boolean {
    const budget = this.#budget;
    // The common case in one comparison: open, below `maxBuffered`, no byte estimate to make (with the
    // default `sizeOf`, the bound also stops at the next item to sample: see Budget.rearm).
    if (budget.held < budget.quickInsertsBelow && !channels.insert.hasSubscribers) {
      // `#append` written out: one call level less keeps the whole path within V8's inlining budget.
      budget.held++;
      const appended = this.#store.append(key, value, 0);
      if (appended !== Appended.ADDED) this.#intake.openedOrFull(key, appended);
      return budget.held < budget.maxBuffered;
    }
    return this.#insertChecked(key, value);
  }

  /**
   * {@link insert} when the buffer is closed, full, measures this item's bytes, has a diagnostics
   * subscriber, or has a store (every insert of which is admitted and staged for it).
   */
  #insertChecked(key: K, value: V): boolean {
    if (this.#closed) throw new BufferClosedError('insert');
    const writeBehind = this.#writeBehind;
    const budget = this.#budget;
    if (writeBehind !== undefined) {
      writeBehind.admit(key, value);
      // A local store's common case, as the quick path's: below the bound (no sample due, room left;
      // 0 with a shared store and once closed), the item is staged and appended with no other check.
      // Taking the full path below (measure, isFullFor, rearm, hasRoom) for every item cost about 170
      // instructions of the ~6,900 a journaled item takes outside GC and compilation (cachegrind).
      if (budget.held < budget.stagedInsertsBelow && !channels.insert.hasSubscribers) {
        this.#append(key, value, 0);
        return budget.held < budget.maxBuffered;
      }
    }
    const bytes = budget.measure(value);
    if (budget.isFullFor(bytes) && !this.#onFull.admit(key, value, bytes)) return false;
    this.#append(key, value, bytes);
    budget.rearm();
    if (channels.insert.hasSubscribers) channels.insert.publish({ buffer: this, key, items: [value] });
    return budget.hasRoom();
  }

  /** Adds an accepted item to the key's open batch (with a shared store: to the ring, for the store). */
  #append(key: K, value: V, bytes: number): void {
    this.#budget.add(1, bytes);
    if (this.#claims !== undefined) {
      (this.#writeBehind as WriteBehind<K, V>).stage(key, value, bytes);
      this.#counters.written = (this.#counters.written ?? 0) + 1;
      return;
    }
    this.#writeBehind?.stage(key, value);
    const appended = this.#store.append(key, value, bytes);
    // OVER (`maxBatchBytes`) only in the cold branch: an item that joins its batch pays nothing for it.
    if (appended !== Appended.ADDED) this.#intake.appended(key, value, bytes, appended);
  }

  /**
   * Adds several items to the key's list, in order; a batch never grows past `maxSize` (nor past
   * `maxBatchBytes`, but for a single larger item), so a long list is split across batches. Under `onFull: 'throw'`, nothing is inserted unless everything fits.
   * @returns as {@link insert}: `false` when the buffer is full afterwards or items were dropped.
   */
  insertMany(key: K, values: Iterable<V>): boolean {
    if (this.#closed) throw new BufferClosedError('insertMany');
    const budget = this.#budget;
    const list = Array.isArray(values) ? (values as V[]) : toArray(values);
    const writeBehind = this.#writeBehind;
    // Every value is admitted before any is stored: a list with an item the store refuses stores nothing.
    if (writeBehind !== undefined) {
      if (writeBehind.failure !== undefined) throw writeBehind.failure;
      for (const value of list) writeBehind.admit(key, value);
    }
    if (this.#options.onFull === 'throw') budget.assertFits(list);
    let allStored = true;
    let stored: V[] | undefined;
    const publishing = channels.insert.hasSubscribers;
    for (const value of list) {
      // As on insert's quick path: below the bound, this item is not one to measure (with sampled bytes,
      // no sample is due; without a byte budget, there is nothing to count). Measuring every item of a
      // list halved insertMany's rate under the default options.
      const measured = budget.held >= budget.uncheckedBelow;
      const bytes = measured ? budget.measure(value) : 0;
      if (budget.isFullFor(bytes) && !this.#onFull.admit(key, value, bytes)) {
        allStored = false;
        continue;
      }
      this.#append(key, value, bytes);
      if (measured) budget.rearm();
      if (publishing) {
        stored ??= [];
        stored.push(value);
      }
    }
    if (stored !== undefined) channels.insert.publish({ buffer: this, key, items: stored });
    return allStored && budget.hasRoom();
  }

  /**
   * Items held under `key`: buffered, queued, in flight or waiting for a retry; 0 when none.
   * **Local:** with a shared store, the items of the key's batches this buffer claimed and has not
   * settled; items in the store (unclaimed, or claimed by other processes) and items not yet written
   * are not counted.
   */
  count(key: K): number {
    let count = this.#store.items(key)?.length ?? 0;
    for (const delivery of this.#settling.lines.of(key)) {
      if (isCounted(delivery)) count += delivery.items.length;
    }
    return count;
  }

  /**
   * Items held under all keys: buffered, queued, in flight or waiting for a retry (not those handed to
   * `handleError`). **Local:** with a shared store, the items this process inserted that are not in
   * the store yet, plus the items of the batches it claimed and has not settled (what its budget,
   * `maxBuffered`, bounds); what the store holds is not counted.
   */
  get size(): number {
    return this.#budget.held;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Flushes the key now, without waiting for its interval. Resolves once every item inserted under
   * the key before the call is handled: delivered, or handed to `handleError`.
   *
   * With a shared store: waits until this buffer's inserts are in the store, then claims the key's
   * unclaimed items at once (due or not), batch by batch, and resolves once the batches it claimed
   * settled. Items of the key that another process holds under a lease are that process's to deliver.
   */
  flush(key: K): Promise<void> {
    const claims = this.#claims;
    if (claims !== undefined) return this.persisted().then(() => claims.flushKey(key));
    this.#intake.take(key);
    return this.#settling.settledKey(key);
  }

  /**
   * Flushes every key now and resolves once everything held before the call is handled. With a shared
   * store: claims every key with unclaimed items in the store, as {@link flush} does one key (the
   * items of every process on the namespace, not only this one's).
   */
  async flushAll(): Promise<void> {
    const claims = this.#claims;
    if (claims !== undefined) {
      await this.persisted();
      await claims.flushAll();
    } else {
      await this.#intake.takeAllOpen();
    }
    await this.#settling.everySettled(this.#intake.seq);
  }

  /**
   * Takes every item that has not started delivery out of the buffer, without calling `handleFlush`,
   * grouped by key in insertion order. Batches in flight or waiting for a retry stay in the buffer.
   * @throws TypeError (`ERR_INVALID_STATE`) with a shared store: its items belong to every process on
   *   the namespace and are written as they are inserted, so there is nothing that is this buffer's
   *   alone to take out. Use `close()` (claimed batches go back to the store) or `flushAll()`.
   */
  dump(): Map<K, V[]> {
    if (this.#claims !== undefined) {
      throw invalidState(
        'dump() is not available on a buffer with a shared store: its items are in the store, shared by every process on the namespace; use close() or flushAll()',
      );
    }
    const dumped = new Map<K, V[]>();
    const settling = this.#settling;
    const counters = this.#counters;
    // Only batches whose first attempt has not started; not those being handed to handleError by a
    // shutdown either (they are not QUEUED any more). Collected first: removing changes the lines.
    const unstarted = [...settling.lines].filter((d) => d.state === QUEUED && d.attempt === 0);
    for (const delivery of unstarted) {
      appendTo(dumped, delivery.key, delivery.items);
      counters.dumped += delivery.items.length;
      settling.remove(delivery);
    }
    this.#intake.dumpOpen((key, items, bytes) => {
      appendTo(dumped, key, items);
      counters.dumped += items.length;
      this.#budget.remove(items.length, bytes);
      this.#writeBehind?.dropped(key, items.length);
    });
    settling.afterRelease();
    return dumped;
  }

  /**
   * One entry per partition: its keys, items, and the flushes running, queued and retrying.
   * **Local:** per partition of this buffer (its `partitions` option, not the store's); with a shared
   * store, the batches this buffer claimed and has not settled.
   */
  info(): PartitionInfo[] {
    return partitionInfo(this.#partitions.count, this.#store, this.#intake.partitionOf, this.#settling.lines);
  }

  /**
   * Counters since the buffer was created, in items and batches, and the flush latency. **Local:**
   * what this buffer did (with a shared store, `inserted` counts this buffer's inserts and `flushed`
   * the items of the batches it delivered, which other processes may have inserted: across processes,
   * sum them); with a `store` that keeps counters, those too, under `store` (this process's calls to it).
   */
  stats(): DataBufferStats {
    return this.#counters.snapshot(this.#budget.held, this.#options.store?.stats?.());
  }

  /**
   * Resolves once everything inserted before the call is durable in the `store` backend: written, and
   * the backend's `durable()` resolved. At once without a `store`. One promise per call, not per insert.
   * Rejects with a {@link StoreFailedError} once the backend has failed (and the buffer stopped
   * accepting inserts).
   */
  persisted(): Promise<void> {
    return this.#writeBehind === undefined ? Promise.resolve() : this.#writeBehind.persisted();
  }

  /**
   * Resolves once the buffer has room for more items (under `maxBuffered` and `maxBufferedBytes`).
   * Pair it with `insert`'s return value: `if (!buffer.insert(k, v)) await buffer.ready();`.
   * Rejects with {@link ReadyTimeoutError} after `timeout` ms, {@link BufferClosedError} if the buffer
   * closes, or the signal's reason once it aborts (at once if it already has).
   * @throws TypeError / RangeError, synchronously, when an option is invalid, whatever the buffer's state.
   */
  ready(options: ReadyOptions = {}): Promise<void> {
    checkOptionsObject('ready', options);
    const timeout = checkTimeout(options.timeout);
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw invalidArgType(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
    }
    if (this.#closed) return Promise.reject(new BufferClosedError('ready'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.#budget.waitForRoom(timeout, signal);
  }

  /**
   * An object-mode `Writable` that inserts each item written to it under `keyOf(item)`, with this
   * buffer's backpressure, and whose `final` waits for the flush of what it wrote: `toWritable(this,
   * keyOf, options)`, see {@link toWritable}. `await pipeline(rows, buffer.writable((row) => row.path))`.
   * @param keyOf - the key of an item.
   * @param options - the stream's own queue (`highWaterMark`, default 16).
   * @returns a new object-mode `Writable`; each call makes another.
   * @throws TypeError when `keyOf` is not a function or an option is invalid.
   */
  writable(keyOf: (item: V) => K, options?: ToWritableOptions): Writable {
    return toWritable(this, keyOf, options);
  }

  /**
   * Stops accepting items, stops the timers, flushes everything and waits for every delivery,
   * retries included, until `timeout` (default 25 s); what is undelivered then
   * goes to `handleError` with a {@link ShutdownError}. Idempotent: later calls return the first call's promise.
   * @returns what happened while closing.
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    const closing = this.#closing.promise;
    if (closing !== undefined) return closing;
    checkOptionsObject('close', options);
    const timeout = options.timeout === undefined ? CLOSE_TIMEOUT : checkTimeout(options.timeout);
    this.#closed = true;
    this.#budget.stopQuickInserts();
    unregisterLive(this);
    return this.#closing.start(timeout);
  }

  /** `await using buffer = new DataBuffer(…)` closes the buffer at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Misuse, not a runtime failure: a method's options must be an object (or left out). */
function checkOptionsObject(method: string, options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgType(`Expected the options of \`${method}\` to be an object, got ${describe(options)}`);
  }
}

/** `ERR_INVALID_STATE`: a method that the buffer's configuration does not allow, as Node's own errors say it. */
function invalidState(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_STATE' });
}

function toArray<V>(values: Iterable<V>): V[] {
  if (values === null || typeof (values as Iterable<V>)?.[Symbol.iterator] !== 'function') {
    throw invalidArgType(`Expected \`values\` to be an array or another iterable, got ${describe(values)}`);
  }
  return [...values];
}

function appendTo<K, V>(map: Map<K, V[]>, key: K, items: V[]): void {
  const existing = map.get(key);
  if (existing === undefined) map.set(key, items);
  else for (const item of items) existing.push(item);
}
