/**
 * Closing a buffer: the close sequence (stop intake, take every open batch, wait for every delivery),
 * its deadline (then every undelivered batch goes to `handleError` with a {@link ShutdownError}), and
 * keeping the process alive while there is work that must finish: after `close()`, and when the
 * process runs out of work with items still buffered (`flushOnExit`).
 *
 * Owns the close promise, the keep-alive switch and the exit watch. Invariants: the sequence runs once;
 * once keep-alive is on, every timer of the buffer holds the process open; the exit watch is on exactly
 * while the buffer holds items (and `flushOnExit` is set).
 * @module
 */
import type { StoreLeftovers } from './backend.js';
import { ABANDONED, type Delivery, FAILING, RUNNING, SETTLED } from './delivery.js';
import { ShutdownError } from './errors.js';
import { drainBeforeExit, forgetExitDrain } from './exit-hook.js';
import type { FailureReason } from './options.js';
import type { DataBufferStats } from './stats.js';
import { now, startTimer, type Timer } from './timers.js';

/**
 * Default deadline of {@link DataBuffer.close}, in ms: 25 s. Kubernetes sends SIGKILL 30 s after SIGTERM
 * (`terminationGracePeriodSeconds`); 25 s leaves 5 s for what the deadline starts (the undelivered
 * batches' `handleError` calls, by default a log line each) and for the process to exit. Against a
 * hung sink, the defaults (`flushTimeout` 60 s, 5 attempts) would otherwise keep `close()` waiting for
 * minutes.
 */
export const CLOSE_TIMEOUT = 25_000;

/** Options of {@link DataBuffer.close}. */
export interface CloseOptions {
  /**
   * How long to wait for deliveries, in ms. Batches still undelivered then go to `handleError` with a
   * {@link ShutdownError} (reason `'shutdown'`), and the close waits for those `handleError` calls
   * too, each for at most `flushTimeout`. `Infinity` waits for every retry.
   * @default 25000: inside Kubernetes' 30 s grace period, with 5 s left for
   *   `handleError` and exit
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
  /**
   * Items this buffer had accepted for its `store` that the store never confirmed before the deadline
   * (a Redis that does not answer): without a journal in front they are lost; with one, the next start
   * on its directory writes them. 0 without a store, or when the store does not count them.
   */
  readonly unwritten: number;
  /**
   * Items of batches claimed from a shared store whose ack or give-back the store never confirmed before
   * the deadline: they stay leased there, and another buffer delivers them once the lease runs out (a
   * duplicate, if this one had delivered them). 0 without a shared store.
   */
  readonly unreturned: number;
  /** Whether the deadline was reached (by the deliveries, or by the store's close). */
  readonly timedOut: boolean;
}

/**
 * What the store's close gets when the deliveries took the whole deadline (or more, with the
 * `handleError` calls it started), in ms: enough for a healthy store to take back the batches given
 * back at the deadline, short enough to stay inside a platform's grace period.
 */
export const STORE_CLOSE_GRACE = 1000;

/** What closing needs from the other parts, handed over when it is built. */
export interface ClosingContext<K, V> {
  stats(): DataBufferStats;
  /** Items held (buffered, queued, in flight or waiting for a retry). */
  held(): number;
  /** Stops intake: no more inserts, `ready()` callers are told, no open batch expires. */
  stopIntake(): void;
  /** Takes every open batch into a delivery. */
  takeAllOpen(): Promise<void>;
  /** Resolves once every delivery there is now has settled. */
  everySettled(): Promise<void>;
  /** Every delivery not yet settled. */
  deliveries(): Iterable<Delivery<K, V>>;
  /** Stops a delivery's pending retry. */
  cancelRetry(delivery: Delivery<K, V>): void;
  /** Takes a delivery out of its partition's queue, if it waits there. */
  unqueue(delivery: Delivery<K, V>): void;
  /** Fails the delivery's attempt now if it is running. */
  interruptIfRunning(delivery: Delivery<K, V>, reason: Error): void;
  giveUp(delivery: Delivery<K, V>, error: Error, reason: FailureReason): Promise<void>;
  /** Makes every timer of the buffer hold the process open. */
  keepAlive(): void;
  /** What is left to do once deliveries are done: report drops, write to and close a backend. */
  finish(): Promise<void>;
  /**
   * `finish` ran past the deadline (a store that does not answer): stop waiting for the store, let go
   * of the timers that hold the process open for it, and say what was left undone.
   */
  abandonFinish(): Promise<StoreLeftovers>;
  /** Delivers everything held (`flushAll`), when the process runs out of work. */
  flushAll(): Promise<void>;
}

/** The close sequence and the process's life around it. */
export class Closing<K, V> {
  readonly #context: ClosingContext<K, V>;
  readonly #flushOnExit: boolean;
  #closing: Promise<CloseReport> | undefined;
  #keepAlive = false;
  /** Whether the exit watch is on: read on every batch opened, so a field, not a call. */
  watching = false;

  constructor(context: ClosingContext<K, V>, flushOnExit: boolean) {
    this.#context = context;
    this.#flushOnExit = flushOnExit;
  }

  /** The close sequence's promise, once started. */
  get promise(): Promise<CloseReport> | undefined {
    return this.#closing;
  }

  /** Starts the close sequence (once; the caller returns `promise` on later calls). */
  start(timeout: number): Promise<CloseReport> {
    this.#closing = this.#run(timeout);
    return this.#closing;
  }

  async #run(timeout: number): Promise<CloseReport> {
    const context = this.#context;
    const deadline = now() + timeout;
    const before = context.stats();
    this.holdProcessOpen();
    context.stopIntake();
    // The snapshot is taken once the code that called close() has returned: close() may be called from
    // user code an insert runs (`onDrop`, `sizeOf`, an `insertMany` iterable), and the rest of that
    // insert's items must be taken too, not left in an open batch nothing takes any more.
    await undefined;
    await context.takeAllOpen();
    let timedOut = !(await within(context.everySettled(), deadline - now()));
    let abandoned = 0;
    if (timedOut) abandoned = await this.#abandonAll(timeout);
    // The store gets the rest of the deadline: a store that never answers must not hold close() forever.
    const grace = Math.max(deadline - now(), Math.min(timeout, STORE_CLOSE_GRACE));
    let leftovers: StoreLeftovers = NOTHING_LEFT;
    if (!(await within(context.finish(), grace))) {
      timedOut = true;
      leftovers = await context.abandonFinish();
    }
    this.stopWatching();
    const after = context.stats();
    return Object.freeze({
      delivered: after.flushed - before.flushed,
      failed: after.failed - before.failed,
      abandoned,
      dropped: after.dropped - before.dropped,
      unwritten: leftovers.unwritten,
      unreturned: leftovers.unreturned,
      timedOut,
    });
  }

  /** The close deadline passed: hand every undelivered batch to `handleError` with a ShutdownError. */
  async #abandonAll(timeout: number): Promise<number> {
    const context = this.#context;
    // Mark them all first: settling one must not start the next delivery of its key.
    const undelivered = [...context.deliveries()]
      .filter((d) => d.state !== FAILING && d.state !== SETTLED)
      .sort((a, b) => a.seq - b.seq); // in take order
    const wasRunning = undelivered.map((delivery) => delivery.state === RUNNING);
    // And out of their partitions' queues: interrupting the running attempt below runs its partition on.
    for (const delivery of undelivered) {
      delivery.state = ABANDONED;
      context.unqueue(delivery);
    }
    let abandoned = 0;
    const handing = undelivered.map((delivery, i) => {
      context.cancelRetry(delivery);
      const error = new ShutdownError(timeout, delivery.lastError);
      if (wasRunning[i]) context.interruptIfRunning(delivery, error);
      abandoned += delivery.items.length;
      return context.giveUp(delivery, error, 'shutdown');
    });
    await Promise.all(handing);
    await context.everySettled();
    return abandoned;
  }

  /** From now on the buffer's timers keep the process alive: there is work that must finish before exit. */
  holdProcessOpen(): void {
    if (this.#keepAlive) return;
    this.#keepAlive = true;
    this.#context.keepAlive();
  }

  /** Items are held: deliver them if the process runs out of work (`flushOnExit`). */
  watch(): void {
    if (!this.#flushOnExit) return;
    this.watching = true;
    drainBeforeExit(this, () => {
      if (this.#context.held() === 0) return;
      this.holdProcessOpen();
      void this.#context.flushAll();
    });
  }

  /** Nothing is held any more (or the buffer closed): stop watching for the process's exit. */
  stopWatching(): void {
    if (!this.watching) return;
    forgetExitDrain(this);
    this.watching = false;
  }
}

const NOTHING_LEFT: StoreLeftovers = Object.freeze({ unwritten: 0, unreturned: 0 });

/**
 * Whether `work` settles within `ms` (`Infinity`: waits for it). The timer holds the process open: the
 * buffer is closing, and the caller must hear how it ends.
 */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Number.POSITIVE_INFINITY) {
    await work;
    return true;
  }
  let timer: Timer | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = startTimer(() => resolve(false), Math.max(0, ms), true);
  });
  try {
    return await Promise.race([work.then(() => true), expired]);
  } finally {
    timer?.cancel();
  }
}
