/**
 * The public class. It owns the life of every item: buffered in its key's open batch, then taken into
 * a delivery that runs in its partition until it is delivered, handed to `handleError`, or dumped.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { channels, hasFlushSubscribers } from './diagnostics.js';
import { DropReporter } from './drop-reporter.js';
import {
  BufferClosedError,
  BufferFullError,
  DeliveryTimeoutError,
  describe,
  FlushTimeoutError,
  invalidArgType,
  invalidReturnValue,
  NonRetryableError,
  ReadyTimeoutError,
  ShutdownError,
  toError,
} from './errors.js';
import { drainBeforeExit, forgetExitDrain } from './exit-hook.js';
import { registerLive, unregisterLive } from './live-buffers.js';
import {
  checkTimeout,
  type DataBufferOptions,
  type DropReason,
  type ErrorInfo,
  type FailureReason,
  type FlushInfo,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { createPartitioner, type Partitioner } from './partition.js';
import { type InLine, Pipelines } from './pipelines.js';
import { Queue } from './queue.js';
import { retryWait } from './retry.js';
import { DeadlineQueue, resolutionFor } from './scheduler.js';
import { Counters, type DataBufferStats } from './stats.js';
import { Appended, type BatchStore } from './store.js';
import { createMemoryStore } from './stores/memory.js';
import { now, onNextTurn, SLICE_MS, startTimer, type Timer, yieldToEventLoop } from './timers.js';
import { Watchdog } from './watchdog.js';

/** What one partition is doing, as reported by {@link DataBuffer.info}. */
export interface PartitionInfo {
  /** The partition's index, 0 based. */
  readonly partition: number;
  /** Keys of this partition holding items (buffered or in delivery). */
  readonly keys: number;
  /** Items held by this partition: buffered, queued, in flight and waiting for a retry. */
  readonly items: number;
  /** `handleFlush` calls running now (0 or 1: a partition runs one at a time). */
  readonly inFlight: number;
  /** Batches waiting for their turn in this partition. */
  readonly queued: number;
  /** Batches waiting out a retry delay. */
  readonly retrying: number;
}

/** Options of {@link DataBuffer.close}. */
export interface CloseOptions {
  /**
   * How long to wait for deliveries, in ms. Batches still undelivered then go to `handleError` with a
   * {@link ShutdownError} (reason `'shutdown'`), and the close waits for those `handleError` calls
   * too, each for at most `flushTimeout`. @default Infinity (wait for every retry)
   */
  timeout?: number;
}

/** What {@link DataBuffer.close} did, counted in items from the moment `close()` was called. */
export interface CloseReport {
  /** Items delivered while closing. */
  readonly delivered: number;
  /** Items handed to `handleError` while closing, for any reason. */
  readonly failed: number;
  /** Of `failed`, the items that were still undelivered at the deadline. */
  readonly abandoned: number;
  /** Items dropped under `onFull` while closing. */
  readonly dropped: number;
  /** Whether the deadline was reached. */
  readonly timedOut: boolean;
}

/** Options of {@link DataBuffer.ready}. */
export interface ReadyOptions {
  /** Reject with a {@link ReadyTimeoutError} when no room was made in time, in ms. @default Infinity */
  timeout?: number;
  /** Stop waiting when this signal aborts (rejects with its reason). */
  signal?: AbortSignal;
}

const QUEUED = 0;
const RUNNING = 1;
const RETRYING = 2;
const FAILING = 3;
const ABANDONED = 4;
const SETTLED = 5;
type DeliveryState =
  | typeof QUEUED
  | typeof RUNNING
  | typeof RETRYING
  | typeof FAILING
  | typeof ABANDONED
  | typeof SETTLED;

/**
 * A batch taken out of the store for delivery. Invariants: a key has at most one delivery that has
 * started (the head of its pipeline), and the others wait behind it in order.
 */
class Delivery<K, V> implements InLine<K, Delivery<K, V>> {
  readonly key: K;
  /** Only `onFull: 'drop-oldest'` changes these, and only before the first attempt. */
  readonly items: V[];
  bytes: number;
  readonly partition: number;
  /** Take order; flushAll and close wait for every delivery up to a given seq. */
  readonly seq: number;
  attempt = 0;
  firstAttemptAt = 0;
  state: DeliveryState = QUEUED;
  lastError: Error | undefined = undefined;
  retryTimer: Timer | undefined = undefined;
  /** Resolved once the delivery settles; created only when someone waits. */
  waiters: (() => void)[] | undefined = undefined;
  next: Delivery<K, V> | undefined = undefined;
  last: Delivery<K, V> | undefined = undefined;

  constructor(key: K, items: V[], bytes: number, partition: number, seq: number) {
    this.key = key;
    this.items = items;
    this.bytes = bytes;
    this.partition = partition;
    this.seq = seq;
  }
}

/** One partition: runs its deliveries one at a time, oldest first. */
/*
 * Lanes and deliveries are class instances, not object literals: every buffer makes its own, and objects
 * from a class keep one shape across buffers and garbage collections, so the optimized delivery code
 * stays valid for the next buffer instead of being thrown away and rebuilt.
 */
class Lane<K, V, M> {
  readonly queue = new Queue<Delivery<K, V>>();
  /**
   * Batches whose interval is over, waiting for room in `queue` while other partitions go on taking
   * theirs (see `#expire`); still open. Each is its key, then its items array (which tells it from the
   * key's later batches).
   */
  readonly due = new Queue<K | V[]>();
  /** Whether the lane is at work: running an attempt, or about to go on to the next. */
  running = false;
  /** Times out the running attempt (`flushTimeout`); undefined when there is no timeout. */
  watchdog: Watchdog | undefined = undefined;
  /** The delivery whose attempt waits on its handler's promise, its info, and when it started (ms). */
  current: Delivery<K, V> | undefined = undefined;
  currentInfo: AttemptInfo<M> | undefined = undefined;
  startedAt = 0;
  /** Where the running attempt's promise settles; replaced when an attempt is interrupted (see `#interrupt`). */
  fulfilled: () => void = noop;
  rejected: (error: unknown) => void = noop;
  /** Starts (or, after a slice, resumes) the lane on a fresh slice of time. */
  resume: () => void = noop;
  /** When the lane's current slice of time began, and deliveries run in it (checked every 16). */
  sliceStart = 0;
  runs = 0;
}

/**
 * Deliveries a partition may have waiting before batches whose interval is over wait as open batches
 * instead: a million keys expiring together then never become a million deliveries at once.
 */
const LANE_BACKLOG = 1024;

/** Whether the lane takes a due batch now: nothing due waits for it, and its backlog is not full. */
function hasRoom(lane: Lane<unknown, unknown, unknown>): boolean {
  return lane.due.length === 0 && lane.queue.length < LANE_BACKLOG;
}

/** Waits for the deliveries taken up to `target` (by `seq`) to settle. */
interface SettleWaiter {
  readonly target: number;
  remaining: number;
  readonly resolve: () => void;
}

/** The `info` object given to `handleFlush`; its `signal` is created only when a handler reads it. */
class AttemptInfo<M> implements FlushInfo<M> {
  readonly attempt: number;
  readonly partition: number;
  readonly meta: M;
  /** An own property, not a getter: a handler that logs `JSON.stringify(info)` must see it. */
  readonly batchId: string;
  #controller: AbortController | undefined;
  #abortedWith: Error | undefined;

  constructor(attempt: number, partition: number, meta: M, batchId: string) {
    this.attempt = attempt;
    this.partition = partition;
    this.meta = meta;
    this.batchId = batchId;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortedWith !== undefined) this.#controller.abort(this.#abortedWith);
    }
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    if (this.#abortedWith !== undefined) return;
    this.#abortedWith = reason;
    this.#controller?.abort(reason);
  }
}

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
  readonly #store: BatchStore<K, V>;
  /** Each open batch's interval: its key, and its items array as the token that tells it from later batches. */
  readonly #deadlines: DeadlineQueue<K, V[]>;
  readonly #lanes: Lane<K, V, M>[];
  /** Where {@link #anyLaneHasRoom} looks first: the partition it last found with room. */
  #laneWithRoom = 0;
  readonly #partitionOf: Partitioner;
  /** Every delivery not yet settled, in its key's line: the first is the one started (or next to start). */
  readonly #pipelines = new Pipelines<K, Delivery<K, V>>();
  /**
   * Under `onFull: 'drop-oldest'` only (what it may drop first): deliveries whose first attempt has
   * not started, in take order. Other policies skip a `Set` insert and delete per batch.
   */
  readonly #unstarted: Set<Delivery<K, V>> | undefined;
  readonly #counters = new Counters();
  readonly #drops: DropReporter;
  readonly #batchIdPrefix = randomUUID();
  /** Hot-path copies of options. */
  readonly #maxBuffered: number;
  readonly #maxBytes: number;
  readonly #measureBytes: boolean;
  #held = 0;
  #heldBytes = 0;
  /**
   * While `#held` is below this, an insert needs no check beyond it: `maxBuffered` for a buffer without
   * byte accounting, 0 (never) for one with it and once closed. One comparison instead of four on the
   * hot path measured 10-15% of the insert rate over 10k keys.
   */
  #quickInsertsBelow: number;
  /** Of `#held` / `#heldBytes`, what deliveries whose first attempt started hold: 'drop-oldest' cannot drop it. */
  #startedHeld = 0;
  #startedBytes = 0;
  #seq = 0;
  #settleWaiters: SettleWaiter[] = [];
  /** Retry and `handleError` timers not yet fired or cancelled: closing makes them hold the process open. */
  readonly #timers = new Set<Timer>();
  #readyWaiters: ((error?: unknown) => void)[] = [];
  #closed = false;
  #closing: Promise<CloseReport> | undefined;
  /** Timers hold the process open while closing or exiting; otherwise they are unref'd. */
  #keepAlive = false;
  #watchedForExit = false;

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
    this.#maxBuffered = resolved.maxBuffered;
    this.#maxBytes = resolved.maxBufferedBytes;
    this.#measureBytes = resolved.maxBufferedBytes !== Number.POSITIVE_INFINITY;
    this.#quickInsertsBelow = this.#measureBytes ? 0 : this.#maxBuffered;
    this.#unstarted = resolved.onFull === 'drop-oldest' ? new Set() : undefined;
    this.#store = createMemoryStore<K, V>({
      maxSize: resolved.maxSize,
      maxSizeJitter: resolved.maxSizeJitter,
      measureBytes: this.#measureBytes,
    });
    this.#deadlines = new DeadlineQueue(resolutionFor(resolved.interval), (key, items) =>
      this.#expire(key, items),
    );
    this.#lanes = Array.from({ length: resolved.partitions }, () => this.#newLane());
    this.#partitionOf = createPartitioner(resolved.partitions);
    this.#drops = new DropReporter(resolved.logger, resolved.onFull);
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
    // The common case in one comparison: open, below `maxBuffered`, no byte estimate to make.
    if (this.#held < this.#quickInsertsBelow && !channels.insert.hasSubscribers) {
      // `#append` written out: one call level less keeps the whole path within V8's inlining budget.
      this.#held++;
      const appended = this.#store.append(key, value, 0);
      if (appended !== Appended.ADDED) this.#openedOrFull(key, appended);
      return this.#held < this.#maxBuffered;
    }
    return this.#insertChecked(key, value);
  }

  /** {@link insert} when the buffer is closed, full, estimates bytes or has a diagnostics subscriber. */
  #insertChecked(key: K, value: V): boolean {
    if (this.#closed) throw new BufferClosedError('insert');
    const bytes = this.#measureBytes ? this.#sizeOf(value) : 0;
    if (this.#isFullFor(bytes) && !this.#admitWhenFull(key, value, bytes)) {
      return false;
    }
    this.#append(key, value, bytes);
    if (channels.insert.hasSubscribers) this.#publishInsert(key, [value]);
    return this.#hasRoom();
  }

  /**
   * Adds several items to the key's list, in order; a batch never grows past `maxSize`, so a long list
   * is split across batches. Under `onFull: 'throw'`, nothing is inserted unless everything fits.
   * @returns as {@link insert}: `false` when the buffer is full afterwards or items were dropped.
   */
  insertMany(key: K, values: Iterable<V>): boolean {
    if (this.#closed) throw new BufferClosedError('insertMany');
    const list = Array.isArray(values) ? (values as V[]) : toArray(values);
    if (this.#options.onFull === 'throw') this.#assertFits(list);
    let allStored = true;
    let stored: V[] | undefined;
    const publishing = channels.insert.hasSubscribers;
    for (const value of list) {
      const bytes = this.#measureBytes ? this.#sizeOf(value) : 0;
      if (this.#isFullFor(bytes) && !this.#admitWhenFull(key, value, bytes)) {
        allStored = false;
        continue;
      }
      this.#append(key, value, bytes);
      if (publishing) {
        stored ??= [];
        stored.push(value);
      }
    }
    if (stored !== undefined) this.#publishInsert(key, stored);
    return allStored && this.#hasRoom();
  }

  /** Items held under `key`: buffered, queued, in flight or waiting for a retry; 0 when none. */
  count(key: K): number {
    let count = this.#store.items(key)?.length ?? 0;
    for (const delivery of this.#pipelines.of(key)) {
      if (delivery.state !== FAILING) count += delivery.items.length;
    }
    return count;
  }

  /** Items held under all keys: buffered, queued, in flight or waiting for a retry (not those handed to `handleError`). */
  get size(): number {
    return this.#held;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Flushes the key now, without waiting for its interval. Resolves once every item inserted under
   * the key before the call is handled: delivered, or handed to `handleError`.
   */
  async flush(key: K): Promise<void> {
    this.#take(key);
    if (!this.#pipelines.has(key)) return;
    // Every delivery of the key, not only the last: dump() and 'drop-oldest' settle unstarted ones
    // while an earlier one is still in flight.
    await Promise.all(
      Array.from(this.#pipelines.of(key), (delivery) => {
        delivery.waiters ??= [];
        const waiters = delivery.waiters;
        return new Promise<void>((resolve) => waiters.push(resolve));
      }),
    );
  }

  /** Flushes every key now and resolves once everything held before the call is handled. */
  async flushAll(): Promise<void> {
    await this.#takeAllOpen();
    await this.#everySettled();
  }

  /**
   * Takes every item that has not started delivery out of the buffer, without calling `handleFlush`,
   * grouped by key in insertion order. Batches in flight or waiting for a retry stay in the buffer.
   */
  dump(): Map<K, V[]> {
    const dumped = new Map<K, V[]>();
    // Only batches whose first attempt has not started; not those being handed to handleError by a
    // shutdown either (they are not QUEUED any more). Collected first: removing changes the lines.
    const unstarted = [...this.#pipelines].filter((d) => d.state === QUEUED && d.attempt === 0);
    for (const delivery of unstarted) {
      appendTo(dumped, delivery.key, delivery.items);
      this.#counters.dumped += delivery.items.length;
      // A delivery that comes first in line after this one has started already, or is dumped too.
      this.#pipelines.remove(delivery);
      this.#release(delivery);
    }
    for (const key of this.#store.keys()) {
      const items = this.#store.take(key) as V[];
      appendTo(dumped, key, items);
      this.#counters.dumped += items.length;
      this.#held -= items.length;
      this.#heldBytes -= this.#store.takenBytes;
    }
    this.#deadlines.clear();
    for (const lane of this.#lanes) lane.due.clear(); // every batch in them was just taken
    this.#afterRelease();
    return dumped;
  }

  /** One entry per partition: its keys, items, and the flushes running, queued and retrying. */
  info(): PartitionInfo[] {
    const parts = this.#lanes.map((_, partition) => ({
      partition,
      keys: 0,
      items: 0,
      inFlight: 0,
      queued: 0,
      retrying: 0,
    }));
    for (const key of this.#store.keys()) {
      const part = parts[this.#partitionOf(key)]!;
      part.items += this.#store.items(key)?.length ?? 0;
      if (!this.#pipelines.has(key)) part.keys++;
    }
    for (const first of this.#pipelines.firsts()) {
      const part = parts[first.partition]!;
      part.keys++;
      for (const delivery of this.#pipelines.of(first.key)) {
        if (delivery.state !== FAILING) part.items += delivery.items.length;
        if (delivery.state === RUNNING || delivery.state === FAILING) part.inFlight++;
        else if (delivery.state === RETRYING) part.retrying++;
        else if (delivery.state === QUEUED) part.queued++;
      }
    }
    return parts;
  }

  /** Counters since the buffer was created, in items and batches, and the flush latency. */
  stats(): DataBufferStats {
    return this.#counters.snapshot(this.#held);
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
    if (this.#hasRoom()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: Timer | undefined;
      const done = (error?: unknown) => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        this.#readyWaiters = this.#readyWaiters.filter((waiter) => waiter !== done);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => done(signal?.reason);
      if (timeout !== Number.POSITIVE_INFINITY) {
        // Ref'd: the caller is waiting on it, so it must not let the process exit under them.
        timer = startTimer(() => done(new ReadyTimeoutError(timeout)), timeout, true);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readyWaiters.push(done);
    });
  }

  /**
   * Stops accepting items, stops the timers, flushes everything and waits for every delivery,
   * retries included. Idempotent: later calls return the first call's promise.
   * @returns what happened while closing.
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.#closing !== undefined) return this.#closing;
    checkOptionsObject('close', options);
    const timeout = checkTimeout(options.timeout);
    this.#closed = true;
    this.#quickInsertsBelow = 0;
    unregisterLive(this);
    this.#closing = this.#shutdown(timeout);
    return this.#closing;
  }

  /** `await using buffer = new DataBuffer(…)` closes the buffer at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- inserting ----------------------------------------------------------------------------------

  #sizeOf(value: V): number {
    const bytes = this.#options.sizeOf(value);
    // `typeof` first: a numeric string passes `>= 0` and would turn the byte count into a string.
    if (typeof bytes !== 'number') {
      throw invalidReturnValue(
        `Expected \`sizeOf\` to return a finite number >= 0, got ${describe(bytes)}`,
        false,
      );
    }
    if (!(bytes >= 0) || bytes === Number.POSITIVE_INFINITY) {
      throw invalidReturnValue(
        `Expected \`sizeOf\` to return a finite number >= 0, got ${describe(bytes)}`,
        true,
      );
    }
    return bytes;
  }

  /** Adds an accepted item to the key's open batch: the hot path of every insert, small enough for V8 to inline whole. */
  #append(key: K, value: V, bytes: number): void {
    this.#held++;
    this.#heldBytes += bytes;
    const appended = this.#store.append(key, value, bytes);
    if (appended !== Appended.ADDED) this.#openedOrFull(key, appended);
  }

  /** The cold path of an insert: a batch opened (schedule its interval) or filled up (take it). */
  #openedOrFull(key: K, appended: number): void {
    if ((appended & Appended.OPENED) !== 0) {
      const { interval, jitter } = this.#options;
      const items = this.#store.items(key) as V[];
      this.#deadlines.add(key, items, now() + interval + (jitter === 0 ? 0 : Math.random() * jitter));
      if (!this.#watchedForExit) this.#watchForExit();
    }
    if ((appended & Appended.FULL) !== 0) this.#take(key);
  }

  #publishInsert(key: K, items: V[]): void {
    channels.insert.publish({ buffer: this, key, items });
  }

  #hasRoom(): boolean {
    return this.#held < this.#maxBuffered && this.#heldBytes < this.#maxBytes;
  }

  /** The buffer is full: apply `onFull`. Returns whether the item should be stored. */
  #admitWhenFull(key: K, value: V, bytes: number): boolean {
    switch (this.#options.onFull) {
      case 'block':
        return true;
      case 'throw':
        throw new BufferFullError(this.#fullness(bytes));
      case 'drop-newest':
        this.#dropped(key, [value], 'drop-newest');
        return false;
      case 'drop-oldest':
        if (this.#evictOldest(bytes)) return true;
        this.#dropped(key, [value], 'drop-newest');
        return false;
    }
  }

  #fullness(bytes: number): string {
    return this.#held >= this.#maxBuffered
      ? `maxBuffered is ${this.#maxBuffered} items`
      : `maxBufferedBytes is ${this.#maxBytes}, ${this.#heldBytes} held, the item is ${bytes}`;
  }

  #assertFits(values: V[]): void {
    let bytes = 0;
    if (this.#measureBytes) for (const value of values) bytes += this.#sizeOf(value);
    if (this.#held + values.length > this.#maxBuffered || this.#heldBytes + bytes > this.#maxBytes) {
      throw new BufferFullError(
        `${values.length} item(s) of ${bytes} bytes do not fit: ${this.#held}/${this.#maxBuffered} items, ${this.#heldBytes}/${this.#maxBytes} bytes held`,
        'nothing was inserted',
      );
    }
  }

  #isFullFor(bytes: number): boolean {
    return this.#held >= this.#maxBuffered || this.#heldBytes + bytes > this.#maxBytes;
  }

  /**
   * Drops the oldest items not yet handed to `handleFlush` until an item of `bytes` fits: first from
   * batches waiting for their first attempt (oldest taken first), then from the open batches (oldest
   * opened first). Items whose delivery started stay. Returns false, dropping nothing, when even
   * dropping all of those would not make room.
   */
  #evictOldest(bytes: number): boolean {
    if (this.#startedHeld >= this.#maxBuffered || this.#startedBytes + bytes > this.#maxBytes) return false;
    while (this.#isFullFor(bytes)) {
      const delivery: Delivery<K, V> | undefined = this.#unstarted?.values().next().value;
      if (delivery !== undefined) {
        this.#evictFromDelivery(delivery, bytes);
        continue;
      }
      const key = this.#store.oldestKey();
      if (key === undefined) return false;
      const items = this.#store.items(key) as V[];
      const [count, evictedBytes] = this.#evictable(items, bytes);
      const evicted: V[] = [];
      // The store learns the bytes of the whole run with its last item.
      for (let i = 0; i < count; i++)
        evicted.push(this.#store.shift(key, i === count - 1 ? evictedBytes : 0) as V);
      this.#held -= count;
      this.#heldBytes -= evictedBytes;
      if (items.length === 0) {
        // What is left of the batch's byte count is the estimate's drift: it leaves with the batch.
        this.#store.take(key);
        this.#heldBytes -= this.#store.takenBytes;
      }
      this.#dropped(key, evicted, 'drop-oldest');
    }
    return true;
  }

  /** Drops a delivery's first items until an item of `bytes` fits; an emptied delivery settles. */
  #evictFromDelivery(delivery: Delivery<K, V>, bytes: number): void {
    const [count, evictedBytes] = this.#evictable(delivery.items, bytes);
    const evicted = delivery.items.splice(0, count);
    delivery.bytes -= evictedBytes;
    this.#held -= count;
    this.#heldBytes -= evictedBytes;
    // Emptied: it leaves its key's pipeline (the next batch of the key may start) and its waiters wake.
    if (delivery.items.length === 0) this.#settle(delivery);
    this.#dropped(delivery.key, evicted, 'drop-oldest');
  }

  /**
   * How many of `items`, from the first, must go for an item of `bytes` to fit (all of them at most),
   * and their bytes. Changes nothing, so a throwing `sizeOf` leaves the accounting intact.
   */
  #evictable(items: V[], bytes: number): [count: number, bytes: number] {
    let count = 0;
    let evictedBytes = 0;
    while (
      count < items.length &&
      (this.#held - count >= this.#maxBuffered || this.#heldBytes - evictedBytes + bytes > this.#maxBytes)
    ) {
      if (this.#measureBytes) evictedBytes += this.#sizeOf(items[count] as V);
      count++;
    }
    return [count, evictedBytes];
  }

  /** Counts, reports and hands out dropped items. */
  #dropped(key: K, items: V[], reason: DropReason): void {
    this.#counters.dropped += items.length;
    if (channels.drop.hasSubscribers) channels.drop.publish({ buffer: this, key, items, reason });
    this.#drops.add(items.length);
    const onDrop = this.#options.onDrop;
    if (onDrop === undefined) return;
    try {
      onDrop(key, items, reason);
    } catch (error) {
      this.#options.logger.error('data-buffer: onDrop threw', { key, count: items.length, error });
    }
  }

  // ---- flushing -----------------------------------------------------------------------------------

  /**
   * Moves the key's open batch, if it has one, into a delivery, behind any delivery the key already has.
   * `due` says the batch's deadline has passed; see below for why that matters.
   */
  #take(key: K, due = false): void {
    const taken = this.#store.take(key);
    if (taken === undefined) return;
    const bytes = this.#store.takenBytes;
    // Until its deadline passes, the deadline queue holds the batch's items array (the token that tells
    // it from the key's later batches). Taken before then (maxSize, flush), the delivery gets the items in
    // a new array and the token is left empty: delivered items must not stay alive for up to an interval.
    const items = due ? taken : taken.splice(0);
    const delivery = new Delivery(key, items, bytes, this.#partitionOf(key), ++this.#seq);
    this.#unstarted?.add(delivery);
    if (this.#pipelines.add(delivery)) this.#schedule(delivery);
  }

  /**
   * A batch's interval is over: take it (unless maxSize, flush() or dump() took it meanwhile), unless
   * its partition already has {@link LANE_BACKLOG} deliveries waiting. Then, if another partition has
   * room, it waits, still open, in its own partition's `due` list, oldest first, so that a slow
   * partition does not hold up the others' expiry. If no partition has room, it is refused (returns
   * false): it stays in the deadline queue, which hands out no more until a partition's queue is half
   * empty and its `due` list empty (see `#next`). So when every partition is busy (always, with one
   * partition), a million keys expiring together wait where they already are, instead of being copied
   * into `due` a million at once.
   */
  #expire(key: K, items: V[]): boolean {
    if (this.#store.items(key) !== items) return true;
    const lanes = this.#lanes;
    const lane = (lanes.length === 1 ? lanes[0] : lanes[this.#partitionOf(key)]) as Lane<K, V, M>;
    if (hasRoom(lane)) {
      this.#take(key, true);
      return true;
    }
    if (!this.#anyLaneHasRoom()) return false;
    lane.due.push(key);
    lane.due.push(items);
    return true;
  }

  /**
   * Whether some partition would take a due batch now. Starts from the last one found with room, so
   * that while one partition is full and another is not, the check costs one look, not a scan.
   */
  #anyLaneHasRoom(): boolean {
    const lanes = this.#lanes;
    for (let i = 0; i < lanes.length; i++) {
      const index = (this.#laneWithRoom + i) % lanes.length;
      if (hasRoom(lanes[index] as Lane<K, V, M>)) {
        this.#laneWithRoom = index;
        return true;
      }
    }
    return false;
  }

  /** Takes the batch whose items are `items`, unless maxSize, flush() or dump() took it meanwhile. */
  #takeIfOpen(key: K, items: V[]): void {
    if (this.#store.items(key) === items) this.#take(key, true);
  }

  /**
   * The lane's next delivery, after taking the due batches that waited for room, and letting the
   * deadline queue hand out more if it paused for want of room.
   */
  #next(lane: Lane<K, V, M>): Delivery<K, V> | undefined {
    if (lane.queue.length < LANE_BACKLOG / 2) {
      while (lane.due.length > 0) {
        const key = lane.due.shift() as K;
        this.#takeIfOpen(key, lane.due.shift() as V[]);
        if (lane.queue.length >= LANE_BACKLOG) break;
      }
      // In this call: the drain it starts runs no user code, and stops at the first batch no partition has room for.
      if (lane.due.length === 0 && lane.queue.length < LANE_BACKLOG / 2) this.#deadlines.resume();
    }
    return lane.queue.shift();
  }

  /** Takes every open batch, yielding to the event loop between slices. */
  async #takeAllOpen(): Promise<void> {
    // Batches opened while we yield are not part of this call: stop after the ones there now.
    let remaining = this.#store.size;
    while (remaining > 0 && this.#store.size > 0) {
      const sliceStart = now();
      let taken = 0;
      for (const key of this.#store.keys()) {
        this.#take(key);
        remaining--;
        if (remaining === 0 || ((++taken & 255) === 0 && now() - sliceStart > SLICE_MS)) break;
      }
      if (remaining > 0 && this.#store.size > 0) await yieldToEventLoop();
    }
  }

  /** A partition's lane, idle. */
  #newLane(): Lane<K, V, M> {
    const lane = new Lane<K, V, M>();
    lane.resume = () => {
      lane.sliceStart = now();
      this.#pump(lane);
    };
    const { flushTimeout } = this.#options;
    if (flushTimeout !== Number.POSITIVE_INFINITY) {
      lane.watchdog = new Watchdog(flushTimeout, () => {
        this.#counters.timedOut++;
        this.#interrupt(lane, new FlushTimeoutError(flushTimeout));
      });
    }
    this.#armLane(lane);
    return lane;
  }

  /**
   * Gives the lane new settle callbacks. Each checks that it is still the lane's own before it acts:
   * the promise of an attempt that was interrupted keeps the old ones, which then reach nothing.
   */
  #armLane(lane: Lane<K, V, M>): void {
    const fulfilled = () => {
      if (lane.fulfilled === fulfilled) this.#attemptSettled(lane, false, undefined);
    };
    const rejected = (error: unknown) => {
      if (lane.rejected === rejected) this.#attemptSettled(lane, true, error);
    };
    lane.fulfilled = fulfilled;
    lane.rejected = rejected;
  }

  #schedule(delivery: Delivery<K, V>): void {
    const lane = this.#lanes[delivery.partition] as Lane<K, V, M>;
    lane.queue.push(delivery);
    if (lane.running) return;
    lane.running = true;
    // Start on a microtask: a handler must never run inside the `insert` that filled its batch.
    queueMicrotask(lane.resume);
  }

  /**
   * Runs a partition's deliveries one at a time, until its queue is empty or an attempt waits on a
   * promise (whose settling runs the lane on). No `async` function and no `await` per attempt: a
   * delivery costs what its handler's promise costs, and a few field writes.
   */
  #pump(lane: Lane<K, V, M>): void {
    try {
      for (;;) {
        const delivery = this.#next(lane);
        if (delivery === undefined) {
          lane.running = false;
          lane.watchdog?.idle();
          return;
        }
        if (delivery.state !== QUEUED) continue; // dumped or abandoned while it waited
        if (!this.#attempt(lane, delivery)) return;
        if (this.#sliceIsOver(lane)) return;
      }
    } catch (error) {
      this.#runOnDespite(lane, error);
    }
  }

  /**
   * Something threw in the lane's own work, outside any handler (a bug, or a user callback we did not
   * expect to throw). The partition must not stall on it: it runs on at the next turn, and the error
   * surfaces (as an uncaught exception) instead of being swallowed.
   */
  #runOnDespite(lane: Lane<K, V, M>, error: unknown): never {
    onNextTurn(lane.resume);
    throw error;
  }

  /** The lane's attempt ended and what it started (a retry, `handleError`) is done: run the lane on. */
  #runOn(lane: Lane<K, V, M>): void {
    if (!this.#sliceIsOver(lane)) this.#pump(lane);
  }

  /**
   * Counts a delivery the lane ran; once the lane has run for {@link SLICE_MS}, it lets the event loop
   * turn (I/O, timers) before it goes on. Without this, handlers that resolve at once would chain
   * deliveries on microtasks and starve the loop. Returns whether it handed the lane over.
   */
  #sliceIsOver(lane: Lane<K, V, M>): boolean {
    if ((++lane.runs & 15) !== 0 || now() - lane.sliceStart <= SLICE_MS) return false;
    onNextTurn(lane.resume);
    return true;
  }

  /**
   * Starts one `handleFlush` attempt. Returns true when it ended at once (the handler returned or
   * threw) and the lane may go on; false when it waits on the handler's promise, whose settling (or the
   * flush timeout, or close) ends it through {@link #attemptSettled} and runs the lane on.
   */
  #attempt(lane: Lane<K, V, M>, delivery: Delivery<K, V>): boolean {
    delivery.state = RUNNING;
    const attempt = ++delivery.attempt;
    const started = now();
    if (attempt === 1) {
      delivery.firstAttemptAt = started;
      this.#unstarted?.delete(delivery);
      this.#startedHeld += delivery.items.length;
      this.#startedBytes += delivery.bytes;
    }
    const info = new AttemptInfo(attempt, delivery.partition, this.#options.meta, this.#batchIdOf(delivery));
    this.#counters.inFlight += delivery.items.length;
    let result: unknown;
    try {
      result = hasFlushSubscribers()
        ? channels.flush.tracePromise(async () => this.handleFlush(delivery.key, delivery.items, info), {
            buffer: this,
            key: delivery.key,
            items: delivery.items,
            batchId: info.batchId,
            attempt,
            partition: delivery.partition,
          })
        : this.handleFlush(delivery.key, delivery.items, info);
    } catch (thrown) {
      return this.#attemptEnded(lane, delivery, started, true, thrown);
    }
    if (!isThenable(result)) return this.#attemptEnded(lane, delivery, started, false, undefined);
    lane.current = delivery;
    lane.currentInfo = info;
    lane.startedAt = started;
    lane.watchdog?.watch(started);
    // The native `then` of a native promise: a thenable's own `then` is called on a later microtask, with
    // callbacks that act once, so one that calls back at once, twice, or throws cannot run the lane on
    // inside this call or settle a later attempt; a promise's own `then` property is not trusted either.
    nativeThen.call(Promise.resolve(result), lane.fulfilled, lane.rejected);
    return false;
  }

  /** The running attempt's promise settled (or it was interrupted): end it and run the lane on. */
  #attemptSettled(lane: Lane<K, V, M>, failed: boolean, failure: unknown): void {
    const delivery = lane.current as Delivery<K, V>;
    lane.current = undefined;
    lane.currentInfo = undefined;
    lane.watchdog?.stop();
    let runOn = false;
    try {
      runOn = this.#attemptEnded(lane, delivery, lane.startedAt, failed, failure);
    } catch (error) {
      this.#runOnDespite(lane, error);
    }
    if (runOn) this.#runOn(lane);
  }

  /**
   * Fails the lane's running attempt now (flush timeout, or close gave up on it). Its promise may still
   * settle later (a "zombie"): the lane gets new callbacks first, so that late outcome reaches nothing.
   */
  #interrupt(lane: Lane<K, V, M>, reason: Error): void {
    if (lane.current === undefined) return;
    this.#armLane(lane);
    lane.currentInfo?.abort(reason);
    this.#attemptSettled(lane, true, reason);
  }

  /**
   * What follows an attempt: success, a retry, or `handleError`. Returns whether the lane may go on
   * now; false when it must wait for `handleError` (then the lane runs on once that is done).
   */
  #attemptEnded(
    lane: Lane<K, V, M>,
    delivery: Delivery<K, V>,
    started: number,
    failed: boolean,
    failure: unknown,
  ): boolean {
    const count = delivery.items.length;
    this.#counters.inFlight -= count;
    // close() gave up on this attempt while it ran: the delivery is being handed to handleError.
    if (delivery.state !== RUNNING) return true;
    if (!failed) {
      this.#counters.flushed += count;
      this.#counters.batches++;
      this.#counters.recordLatency(now() - started);
      this.#settle(delivery);
      return true;
    }
    let givingUp: Promise<void> | undefined;
    try {
      givingUp = this.#attemptFailed(delivery, toError(failure));
    } catch (bug) {
      // Deciding on a retry threw (a logger that throws while reporting a throwing `isRetryable`, say):
      // hand the batch to handleError rather than leave it stuck, unsettled, at the head of its key.
      givingUp = this.#giveUp(delivery, toError(bug), 'non-retryable');
    }
    if (givingUp === undefined) return true;
    void givingUp.then(() => this.#runOn(lane));
    return false;
  }

  /**
   * Waits for `handleError`'s promise, for at most `flushTimeout`. A timer of its own, not the
   * partition's watchdog: while closing, `handleError` calls run side by side.
   */
  #settleInTime(result: PromiseLike<unknown>, info: AttemptInfo<M>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { flushTimeout } = this.#options;
      let timer: Timer | undefined;
      const stop = () => {
        if (timer !== undefined) this.#cancelTimer(timer);
        timer = undefined;
      };
      if (flushTimeout !== Number.POSITIVE_INFINITY) {
        timer = this.#startTimer(() => {
          timer = undefined;
          const reason = new FlushTimeoutError(flushTimeout);
          info.abort(reason);
          reject(reason);
        }, flushTimeout);
      }
      try {
        result.then(
          () => {
            stop();
            resolve();
          },
          (error: unknown) => {
            stop();
            reject(error);
          },
        );
      } catch (thenError) {
        // A thenable whose `then` throws: handleError failed, and its timer must not outlive it.
        stop();
        reject(thenError);
      }
    });
  }

  /** A failed attempt: schedules a retry (returns undefined), or gives up (returns `handleError`'s settling). */
  #attemptFailed(delivery: Delivery<K, V>, error: Error): Promise<void> | undefined {
    delivery.lastError = error;
    const options = this.#options;
    if (error instanceof NonRetryableError || !this.#isRetryable(error)) {
      return this.#giveUp(delivery, error, 'non-retryable');
    }
    if (delivery.attempt >= options.retryMax) return this.#giveUp(delivery, error, 'retries-exhausted');
    let delay: number;
    try {
      delay = retryWait(
        options.retryBackoff,
        delivery.attempt,
        error,
        options.retryDelay,
        options.retryDelayMax,
      );
    } catch (backoffError) {
      options.logger.warn('data-buffer: retryBackoff failed; using retryDelay', { error: backoffError });
      delay = options.retryDelay;
    }
    if (now() + delay - delivery.firstAttemptAt > options.deliveryTimeout) {
      return this.#giveUp(
        delivery,
        new DeliveryTimeoutError(options.deliveryTimeout, error),
        'delivery-timeout',
      );
    }
    this.#counters.retried++;
    if (channels.retry.hasSubscribers) {
      channels.retry.publish({
        buffer: this,
        key: delivery.key,
        batchId: this.#batchIdOf(delivery),
        attempt: delivery.attempt,
        count: delivery.items.length,
        error,
        delay,
      });
    }
    delivery.state = RETRYING;
    delivery.retryTimer = this.#startTimer(() => {
      delivery.retryTimer = undefined;
      if (delivery.state !== RETRYING) return;
      delivery.state = QUEUED;
      this.#schedule(delivery);
    }, delay);
    return undefined;
  }

  /** A retry or `handleError` timer, known to `#timers` until it fires or is cancelled. */
  #startTimer(callback: () => void, delay: number): Timer {
    const timer = startTimer(
      () => {
        this.#timers.delete(timer);
        callback();
      },
      delay,
      this.#keepAlive,
    );
    this.#timers.add(timer);
    return timer;
  }

  #cancelTimer(timer: Timer): void {
    timer.cancel();
    this.#timers.delete(timer);
  }

  #isRetryable(error: Error): boolean {
    try {
      return this.#options.isRetryable(error) !== false;
    } catch (predicateError) {
      this.#options.logger.warn('data-buffer: isRetryable threw; retrying', { error: predicateError });
      return true;
    }
  }

  /** Hands a delivery to `handleError` and settles it, whatever `handleError` does. */
  async #giveUp(delivery: Delivery<K, V>, error: Error, reason: FailureReason): Promise<void> {
    delivery.state = FAILING;
    const count = delivery.items.length;
    this.#counters.failed += count;
    this.#counters.failedBatches++;
    // Handed over: the items leave `size` now, so `inserted = flushed + failed + dropped + dumped +
    // buffered` holds while handleError runs. The key's next batch still waits for it to finish, and a
    // partition runs one handleError at a time, so what it holds stays bounded.
    this.#held -= count;
    this.#heldBytes -= delivery.bytes;
    this.#forgetStarted(delivery);
    this.#afterRelease();
    const batchId = this.#batchIdOf(delivery);
    if (channels.error.hasSubscribers) {
      channels.error.publish({
        buffer: this,
        key: delivery.key,
        items: delivery.items,
        batchId,
        error,
        reason,
      });
    }
    const info: ErrorInfo<M> = {
      attempts: delivery.attempt,
      partition: delivery.partition,
      meta: this.#options.meta,
      batchId,
      reason,
    };
    try {
      const result = this.handleError(delivery.key, delivery.items, error, info);
      if (isThenable(result)) {
        await this.#settleInTime(
          result,
          new AttemptInfo<M>(0, delivery.partition, this.#options.meta, this.#batchIdOf(delivery)),
        );
      }
    } catch (handlerError) {
      this.#counters.lost += count;
      try {
        this.#options.logger.error(
          `data-buffer: lost ${count} item(s) of key ${describe(delivery.key)}: handleError failed (${reason}: ${error.message})`,
          { key: delivery.key, count, reason, batchId, error, handlerError },
        );
      } catch {
        // Nothing is left to report to.
      }
    }
    this.#settle(delivery);
  }

  #batchIdOf(delivery: Delivery<K, V>): string {
    return `${this.#batchIdPrefix}-${delivery.seq}`;
  }

  // ---- settling -----------------------------------------------------------------------------------

  /** A delivery is done: let its key's next delivery start, and release what it held. */
  #settle(delivery: Delivery<K, V>): void {
    const nowFirst = this.#pipelines.remove(delivery);
    if (nowFirst !== undefined && nowFirst.state === QUEUED) this.#schedule(nowFirst);
    this.#release(delivery);
    this.#afterRelease();
  }

  /** Gives back what a delivery held and wakes whoever waits for it. */
  #release(delivery: Delivery<K, V>): void {
    // A failing delivery's items left the count when they were handed to handleError.
    if (delivery.state !== FAILING) {
      this.#held -= delivery.items.length;
      this.#heldBytes -= delivery.bytes;
      this.#forgetStarted(delivery);
    }
    delivery.state = SETTLED;
    if (delivery.waiters !== undefined) for (const wake of delivery.waiters) wake();
    // In place: close() and flushAll() keep a waiter while every delivery settles.
    let kept = 0;
    for (const waiter of this.#settleWaiters) {
      if (delivery.seq <= waiter.target && --waiter.remaining === 0) waiter.resolve();
      else this.#settleWaiters[kept++] = waiter;
    }
    this.#settleWaiters.length = kept;
  }

  /** The delivery's items leave the count: take them out of the started or the unstarted share. */
  #forgetStarted(delivery: Delivery<K, V>): void {
    if (delivery.attempt > 0) {
      this.#startedHeld -= delivery.items.length;
      this.#startedBytes -= delivery.bytes;
    } else {
      this.#unstarted?.delete(delivery);
    }
  }

  /** After items left the buffer: wake `ready()` callers, and stop the exit hook when idle. */
  #afterRelease(): void {
    if (this.#readyWaiters.length > 0 && this.#hasRoom()) {
      for (const wake of [...this.#readyWaiters]) wake();
    }
    if (this.#held === 0 && this.#pipelines.size === 0) this.#stopWatchingForExit();
  }

  /** Resolves once every delivery there is now has settled; deliveries taken later do not count. */
  #everySettled(): Promise<void> {
    // Every delivery there is has a seq up to #seq, and is in a pipeline until it settles.
    const remaining = this.#pipelines.size;
    if (remaining === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settleWaiters.push({ target: this.#seq, remaining, resolve }));
  }

  // ---- shutdown -----------------------------------------------------------------------------------

  async #shutdown(timeout: number): Promise<CloseReport> {
    const deadline = now() + timeout;
    const before = this.stats();
    this.#holdProcessOpen();
    this.#deadlines.clear();
    for (const wake of [...this.#readyWaiters]) wake(new BufferClosedError('ready'));
    await this.#takeAllOpen();
    const everything = this.#everySettled();
    let timedOut = false;
    if (timeout === Number.POSITIVE_INFINITY) {
      await everything;
    } else {
      let timer: Timer | undefined;
      const expired = new Promise<boolean>((resolve) => {
        timer = startTimer(() => resolve(true), Math.max(0, deadline - now()), true);
      });
      timedOut = await Promise.race([everything.then(() => false), expired]);
      timer?.cancel();
    }
    let abandoned = 0;
    if (timedOut) abandoned = await this.#abandonAll(timeout);
    this.#drops.flush();
    this.#stopWatchingForExit();
    const after = this.stats();
    return Object.freeze({
      delivered: after.flushed - before.flushed,
      failed: after.failed - before.failed,
      abandoned,
      dropped: after.dropped - before.dropped,
      timedOut,
    });
  }

  /** The close deadline passed: hand every undelivered batch to `handleError` with a ShutdownError. */
  async #abandonAll(timeout: number): Promise<number> {
    // Mark them all first: settling one must not start the next delivery of its key.
    const undelivered = [...this.#pipelines]
      .filter((d) => d.state !== FAILING && d.state !== SETTLED)
      .sort((a, b) => a.seq - b.seq); // in take order
    const wasRunning = undelivered.map((delivery) => delivery.state === RUNNING);
    for (const delivery of undelivered) delivery.state = ABANDONED;
    let abandoned = 0;
    const handing = undelivered.map((delivery, i) => {
      if (delivery.retryTimer !== undefined) this.#cancelTimer(delivery.retryTimer);
      const error = new ShutdownError(timeout, delivery.lastError);
      const lane = this.#lanes[delivery.partition] as Lane<K, V, M>;
      if (wasRunning[i] && lane.current === delivery) this.#interrupt(lane, error);
      abandoned += delivery.items.length;
      return this.#giveUp(delivery, error, 'shutdown');
    });
    await Promise.all(handing);
    await this.#everySettled();
    return abandoned;
  }

  /** From now on our timers keep the process alive: there is work that must finish before exit. */
  #holdProcessOpen(): void {
    if (this.#keepAlive) return;
    this.#keepAlive = true;
    for (const lane of this.#lanes) lane.watchdog?.keepAlive();
    for (const timer of this.#timers) timer.keepAlive();
  }

  #stopWatchingForExit(): void {
    if (!this.#watchedForExit) return;
    forgetExitDrain(this);
    this.#watchedForExit = false;
  }

  #watchForExit(): void {
    if (!this.#options.flushOnExit) return;
    this.#watchedForExit = true;
    drainBeforeExit(this, () => {
      if (this.#held === 0) return;
      this.#holdProcessOpen();
      void this.flushAll();
    });
  }
}

/** Misuse, not a runtime failure: a method's options must be an object (or left out). */
function checkOptionsObject(method: string, options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgType(`Expected the options of \`${method}\` to be an object, got ${describe(options)}`);
  }
}

function noop(): void {}

/** `Promise.prototype.then` as the engine has it, whatever a promise's own `then` property says. */
const nativeThen = Promise.prototype.then;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
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
