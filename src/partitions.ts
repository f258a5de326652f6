/**
 * The partitions: each runs its deliveries one at a time, oldest first, in slices of time that let the
 * event loop turn. A partition owns its queue of deliveries waiting for their turn, its running attempt
 * (the handler's promise, the attempt's `info`), and its flush timeout (a {@link Watchdog}).
 *
 * Invariants: at most one attempt per partition is running (`current`); a partition is `running` from
 * the moment a delivery is queued in an idle partition until its queue is empty; an interrupted
 * attempt's promise reaches nothing when it settles later (the partition got new callbacks). What an
 * attempt's end leads to (settle, retry, `handleError`) is decided by the parts the context names.
 * @module
 */
import {
  AttemptInfo,
  type Delivery,
  nativeThen,
  RUNNING,
  settlementOf,
  tracedSettlement,
} from './delivery.js';
import { channels, hasFlushSubscribers } from './diagnostics.js';
import { FlushTimeoutError, toError } from './errors.js';
import { LinkedQueue } from './linked-queue.js';
import type { FailureReason, FlushInfo, ResolvedOptions } from './options.js';
import type { Counters } from './stats.js';
import { now, onNextTurn, SLICE_MS } from './timers.js';
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
  /**
   * Batches being handed to `handleError` now (not counted in `inFlight`). Usually 0 or 1; after a
   * `close()` deadline, every batch then undelivered is handed over at once.
   */
  readonly handlingErrors: number;
  /** Batches waiting for their turn in this partition. */
  readonly queued: number;
  /** Batches waiting out a retry delay. */
  readonly retrying: number;
}

/**
 * Deliveries a partition may have waiting before batches whose interval is over wait as open batches
 * instead: a million keys expiring together then never become a million deliveries at once.
 */
export const PARTITION_BACKLOG = 1024;

/** What the partitions need from the other parts, handed over when they are built. */
export interface PartitionsContext<K, V, M> {
  /** The public buffer, named in diagnostics messages. */
  readonly buffer: object;
  readonly counters: Counters;
  /** The `handleFlush` override point. */
  handleFlush(key: K, items: V[], info: FlushInfo<M>): unknown;
  batchIdOf(delivery: Delivery<K, V>): string;
  /** A delivery's first attempt starts: its items can no longer be dropped. */
  started(delivery: Delivery<K, V>): void;
  /**
   * Before a delivery's first attempt: `undefined` when it may start now, else a promise to wait for
   * (with a `store`: until the backend has recorded the batch as taken, so that a batch delivered
   * before a crash comes back under its own id).
   */
  recorded(delivery: Delivery<K, V>): Promise<void> | undefined;
  /** The attempt succeeded: the delivery is done. */
  delivered(delivery: Delivery<K, V>): void;
  /** The attempt failed: retry (returns undefined) or give up (returns `handleError`'s settling). */
  failed(delivery: Delivery<K, V>, error: Error): Promise<void> | undefined;
  /** Hands a delivery to `handleError` (when deciding on a retry itself threw). */
  giveUp(delivery: Delivery<K, V>, error: Error, reason: FailureReason): Promise<void>;
  /** The partition's queue is short: take the batches waiting for room into it. */
  refill(partition: number): void;
}

/*
 * A class, not an object literal: every buffer makes its own, and objects from a class keep one shape
 * across buffers, so the optimized delivery code stays valid for the next buffer.
 */
/** One partition: runs its deliveries one at a time, oldest first. */
class Partition<K, V, M> {
  readonly index: number;
  /** Deliveries waiting for their turn, oldest first; one that leaves the buffer first leaves it too. */
  readonly queue = new LinkedQueue<Delivery<K, V>>();
  /** The queue's head, taken off it, waiting for the store to record its take (see `recorded`). */
  held: Delivery<K, V> | undefined = undefined;
  /** Whether the partition is at work: running an attempt, or about to go on to the next. */
  running = false;
  /** Times out the running attempt (`flushTimeout`); undefined when there is no timeout. */
  watchdog: Watchdog | undefined = undefined;
  /** The delivery whose attempt waits on its handler's promise, its info, and when it started (ms). */
  current: Delivery<K, V> | undefined = undefined;
  currentInfo: AttemptInfo<M> | undefined = undefined;
  startedAt = 0;
  /** Where the running attempt's promise settles; replaced when an attempt is interrupted (see `interrupt`). */
  fulfilled: () => void = noop;
  rejected: (error: unknown) => void = noop;
  /** Starts (or, after a slice, resumes) the partition on a fresh slice of time. */
  resume: () => void = noop;
  /** When the partition's current slice of time began, and deliveries run in it (checked every 16). */
  sliceStart = 0;
  /**
   * The partition's clock: the time its last attempt ended, or it resumed. The next attempt starts
   * from it (the code between them runs no handler): one clock read per delivery, not two.
   */
  clock = 0;
  runs = 0;

  constructor(index: number) {
    this.index = index;
  }
}

/** Every partition of a buffer. */
export class Partitions<K, V, M> {
  readonly #context: PartitionsContext<K, V, M>;
  readonly #options: ResolvedOptions<K, V, M>;
  readonly #partitions: Partition<K, V, M>[];

  constructor(context: PartitionsContext<K, V, M>, options: ResolvedOptions<K, V, M>) {
    this.#context = context;
    this.#options = options;
    this.#partitions = Array.from({ length: options.partitions }, (_, index) => this.#newPartition(index));
  }

  /** Number of partitions. */
  get count(): number {
    return this.#partitions.length;
  }

  /** Deliveries waiting for their turn in the partition. */
  queued(index: number): number {
    return (this.#partitions[index] as Partition<K, V, M>).queue.length;
  }

  /** Queues a delivery in its partition, and starts the partition if it was idle. */
  schedule(delivery: Delivery<K, V>): void {
    const partition = this.#partitions[delivery.partition] as Partition<K, V, M>;
    partition.queue.push(delivery);
    if (partition.running) return;
    partition.running = true;
    // Start on a microtask: a handler must never run inside the `insert` that filled its batch.
    queueMicrotask(partition.resume);
  }

  /**
   * Takes a delivery out of its partition's queue if it waits there: it left the buffer before its turn
   * (dumped, dropped, or given up by close). O(1); does nothing for a delivery not queued.
   */
  unqueue(delivery: Delivery<K, V>): void {
    const partition = this.#partitions[delivery.partition] as Partition<K, V, M>;
    if (partition.held === delivery) partition.held = undefined;
    else partition.queue.remove(delivery);
  }

  /** Fails the delivery's attempt now if it is the one its partition is running (close gave up on it). */
  interruptIfRunning(delivery: Delivery<K, V>, reason: Error): void {
    const partition = this.#partitions[delivery.partition] as Partition<K, V, M>;
    if (partition.current === delivery) this.#interrupt(partition, reason);
  }

  /** From now on the flush timeouts hold the process open (closing, or exiting). */
  keepAlive(): void {
    for (const partition of this.#partitions) partition.watchdog?.keepAlive();
  }

  /** A partition, idle. */
  #newPartition(index: number): Partition<K, V, M> {
    const partition = new Partition<K, V, M>(index);
    partition.resume = () => {
      partition.sliceStart = partition.clock = now();
      this.#pump(partition);
    };
    const { flushTimeout } = this.#options;
    if (flushTimeout !== Number.POSITIVE_INFINITY) {
      partition.watchdog = new Watchdog(flushTimeout, () => {
        this.#context.counters.timedOut++;
        this.#interrupt(partition, new FlushTimeoutError(flushTimeout));
      });
    }
    this.#arm(partition);
    return partition;
  }

  /**
   * Gives the partition new settle callbacks. Each checks that it is still the partition's own before
   * it acts: the promise of an attempt that was interrupted keeps the old ones, which then reach nothing.
   */
  #arm(partition: Partition<K, V, M>): void {
    const fulfilled = () => {
      if (partition.fulfilled === fulfilled) this.#attemptSettled(partition, false, undefined);
    };
    const rejected = (error: unknown) => {
      if (partition.rejected === rejected) this.#attemptSettled(partition, true, error);
    };
    partition.fulfilled = fulfilled;
    partition.rejected = rejected;
  }

  /**
   * Runs a partition's deliveries one at a time, until its queue is empty or an attempt waits on a
   * promise (whose settling runs the partition on). No `async` function and no `await` per attempt: a
   * delivery costs what its handler's promise costs, and a few field writes.
   */
  #pump(partition: Partition<K, V, M>): void {
    try {
      for (;;) {
        // A short queue takes in the batches that waited for room, first.
        if (partition.queue.length < PARTITION_BACKLOG / 2) this.#context.refill(partition.index);
        const delivery = partition.held ?? partition.queue.shift();
        partition.held = undefined;
        if (delivery === undefined) {
          partition.running = false;
          partition.watchdog?.idle();
          return;
        }
        if (delivery.attempt === 0) {
          const recording = this.#context.recorded(delivery);
          if (recording !== undefined) {
            // Held at the head of the queue; the partition runs on once the take is recorded.
            partition.held = delivery;
            recording.then(partition.resume, partition.resume);
            return;
          }
        }
        if (!this.#attempt(partition, delivery)) return;
        if (this.#sliceIsOver(partition)) return;
      }
    } catch (error) {
      this.#runOnDespite(partition, error);
    }
  }

  /**
   * Something threw in the partition's own work, outside any handler (a bug, or a user callback we did
   * not expect to throw). The partition must not stall on it: it runs on at the next turn, and the
   * error surfaces (as an uncaught exception) instead of being swallowed.
   */
  #runOnDespite(partition: Partition<K, V, M>, error: unknown): never {
    onNextTurn(partition.resume);
    throw error;
  }

  /** The partition's attempt ended and what it started (a retry, `handleError`) is done: run it on. */
  #runOn(partition: Partition<K, V, M>): void {
    if (!this.#sliceIsOver(partition)) this.#pump(partition);
  }

  /**
   * Counts a delivery the partition ran; once it has run for {@link SLICE_MS}, it lets the event loop
   * turn (I/O, timers) before it goes on. Without this, handlers that resolve at once would chain
   * deliveries on microtasks and starve the loop. Returns whether it handed the partition over.
   */
  #sliceIsOver(partition: Partition<K, V, M>): boolean {
    if ((++partition.runs & 15) !== 0 || partition.clock - partition.sliceStart <= SLICE_MS) return false;
    onNextTurn(partition.resume);
    return true;
  }

  /**
   * Starts one `handleFlush` attempt. Returns true when it ended at once (the handler returned or
   * threw) and the partition may go on; false when it waits on the handler's promise, whose settling
   * (or the flush timeout, or close) ends it through {@link #attemptSettled} and runs the partition on.
   */
  #attempt(partition: Partition<K, V, M>, delivery: Delivery<K, V>): boolean {
    const context = this.#context;
    delivery.state = RUNNING;
    const attempt = ++delivery.attempt;
    const started = partition.clock;
    if (attempt === 1) {
      delivery.firstAttemptAt = started;
      context.started(delivery);
    }
    const info = new AttemptInfo(
      attempt + delivery.attemptBase,
      delivery.partition,
      this.#options.meta,
      context.batchIdOf(delivery),
    );
    context.counters.inFlight += delivery.items.length;
    let settlement: Promise<unknown> | undefined;
    try {
      settlement = hasFlushSubscribers()
        ? channels.flush.tracePromise(
            () => tracedSettlement(() => context.handleFlush(delivery.key, delivery.items, info)),
            {
              buffer: context.buffer,
              key: delivery.key,
              items: delivery.items,
              batchId: info.batchId,
              attempt: info.attempt,
              partition: delivery.partition,
            },
          )
        : settlementOf(context.handleFlush(delivery.key, delivery.items, info));
    } catch (thrown) {
      // The handler threw, or reading its result did (a `then` getter, a revoked Proxy): `await` would reject.
      return this.#attemptEnded(partition, delivery, started, true, thrown);
    }
    if (settlement === undefined) return this.#attemptEnded(partition, delivery, started, false, undefined);
    partition.current = delivery;
    partition.currentInfo = info;
    partition.startedAt = started;
    partition.watchdog?.watch(started);
    nativeThen.call(settlement, partition.fulfilled, partition.rejected);
    return false;
  }

  /** The running attempt's promise settled (or it was interrupted): end it and run the partition on. */
  #attemptSettled(partition: Partition<K, V, M>, failed: boolean, failure: unknown): void {
    const delivery = partition.current as Delivery<K, V>;
    partition.current = undefined;
    partition.currentInfo = undefined;
    partition.watchdog?.stop();
    let runOn = false;
    try {
      runOn = this.#attemptEnded(partition, delivery, partition.startedAt, failed, failure);
    } catch (error) {
      this.#runOnDespite(partition, error);
    }
    if (runOn) this.#runOn(partition);
  }

  /**
   * Fails the partition's running attempt now (flush timeout, or close gave up on it). Its promise may
   * still settle later (a "zombie"): the partition gets new callbacks first, so that late outcome
   * reaches nothing.
   */
  #interrupt(partition: Partition<K, V, M>, reason: Error): void {
    if (partition.current === undefined) return;
    this.#arm(partition);
    partition.currentInfo?.abort(reason);
    this.#attemptSettled(partition, true, reason);
  }

  /**
   * What follows an attempt: success, a retry, or `handleError`. Returns whether the partition may go
   * on now; false when it must wait for `handleError` (then it runs on once that is done).
   */
  #attemptEnded(
    partition: Partition<K, V, M>,
    delivery: Delivery<K, V>,
    started: number,
    failed: boolean,
    failure: unknown,
  ): boolean {
    const context = this.#context;
    const counters = context.counters;
    const count = delivery.items.length;
    const ended = now();
    partition.clock = ended;
    counters.inFlight -= count;
    // close() gave up on this attempt while it ran: the delivery is being handed to handleError.
    if (delivery.state !== RUNNING) return true;
    if (!failed) {
      counters.flushed += count;
      counters.batches++;
      counters.recordLatency(ended - started);
      context.delivered(delivery);
      return true;
    }
    let givingUp: Promise<void> | undefined;
    try {
      givingUp = context.failed(delivery, toError(failure));
    } catch (bug) {
      // Deciding on a retry threw (a logger that throws while reporting a throwing `isRetryable`, say):
      // hand the batch to handleError rather than leave it stuck, unsettled, at the head of its key.
      givingUp = context.giveUp(delivery, toError(bug), 'non-retryable');
    }
    if (givingUp === undefined) return true;
    void givingUp.then(() => {
      // handleError took its time: the next attempt starts now.
      partition.clock = now();
      this.#runOn(partition);
    });
    return false;
  }
}

function noop(): void {}
