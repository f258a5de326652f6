/**
 * The delivery record: one batch on its way to `handleFlush`, from the moment it is taken out of the
 * local stage (or recovered from a backend, or, later, claimed from a shared store) until it settles.
 * It carries its own id and its own byte count; no part tells batches apart by their items array.
 *
 * Invariants: a delivery's `state` only moves forward (QUEUED ⇄ RUNNING ⇄ RETRYING, then FAILING or
 * ABANDONED, then SETTLED); its items count toward the budget until it is handed to `handleError`
 * ({@link isCounted}); a key has at most one delivery that has started (the first of its line).
 * @module
 */
import type { InQueue } from './linked-queue.js';
import type { FlushInfo } from './options.js';
import type { InLine } from './pipelines.js';
import type { Timer } from './timers.js';

export const QUEUED = 0;
export const RUNNING = 1;
export const RETRYING = 2;
export const FAILING = 3;
export const ABANDONED = 4;
export const SETTLED = 5;
/** Where a delivery is in its life; see the module comment for the order. */
export type DeliveryState =
  | typeof QUEUED
  | typeof RUNNING
  | typeof RETRYING
  | typeof FAILING
  | typeof ABANDONED
  | typeof SETTLED;

/*
 * Deliveries are class instances, not object literals: every buffer makes its own, and objects from a
 * class keep one shape across buffers and garbage collections, so the optimized delivery code stays
 * valid for the next buffer instead of being thrown away and rebuilt.
 */
/** A batch taken for delivery, with its id, its items and their estimated bytes. */
export class Delivery<K, V> implements InLine<K, Delivery<K, V>>, InQueue<Delivery<K, V>> {
  readonly key: K;
  /** Only `onFull: 'drop-oldest'` changes these, and only before the first attempt. */
  readonly items: V[];
  bytes: number;
  readonly partition: number;
  /** Take order; flushAll and close wait for every delivery up to a given seq. */
  readonly seq: number;
  /**
   * The batch id given to handlers and backends; made from the buffer's prefix and `seq` when first
   * asked for (most deliveries never are), or given up front for a recovered (or claimed) batch.
   */
  id: string | undefined;
  /** Attempts in this buffer (retries included); `attempt + attemptBase` is what handlers see. */
  attempt = 0;
  /**
   * Attempts made before this buffer got the batch: 0, or for a batch claimed from a shared store,
   * the claim's attempt - 1 (its earlier deliveries, in this process or others).
   */
  attemptBase = 0;
  firstAttemptAt = 0;
  state: DeliveryState = QUEUED;
  lastError: Error | undefined = undefined;
  retryTimer: Timer | undefined = undefined;
  /** Resolved once the delivery settles; created only when someone waits. */
  waiters: (() => void)[] | undefined = undefined;
  next: Delivery<K, V> | undefined = undefined;
  last: Delivery<K, V> | undefined = undefined;
  /** Its neighbours while it waits in its partition's queue. */
  queuePrev: Delivery<K, V> | undefined = undefined;
  queueNext: Delivery<K, V> | undefined = undefined;

  constructor(key: K, items: V[], bytes: number, partition: number, seq: number, id: string | undefined) {
    this.key = key;
    this.items = items;
    this.bytes = bytes;
    this.partition = partition;
    this.seq = seq;
    this.id = id;
  }
}

/**
 * Whether the delivery's items still count toward the buffer's size and budget: they stop counting once
 * handed to `handleError` (so that `inserted = flushed + failed + dropped + dumped + buffered` holds while
 * it runs), and once settled.
 */
export function isCounted(delivery: Delivery<unknown, unknown>): boolean {
  return delivery.state !== FAILING && delivery.state !== SETTLED;
}

/** The `info` object given to `handleFlush`; its `signal` is created only when a handler reads it. */
export class AttemptInfo<M> implements FlushInfo<M> {
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

  /** Aborts the signal (now, or when it is first read) with `reason`; later calls do nothing. */
  abort(reason: Error): void {
    if (this.#abortedWith !== undefined) return;
    this.#abortedWith = reason;
    this.#controller?.abort(reason);
  }
}

/** `Promise.prototype.then` as the engine has it, whatever a promise's own `then` property says. */
export const nativeThen = Promise.prototype.then;

/** Whether a handler returned something to wait for. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * What a handler's result comes to, read once as `await` reads it: `undefined` when it is no thenable
 * (the attempt succeeded at once), else a native promise of its outcome. Everything read from the
 * result is user code (a `then` getter, a revoked Proxy, a native promise's `constructor` getter) and
 * may throw: this throws what it throws, and the caller fails the attempt, as `await` would reject.
 *
 * A native promise is used as it is, and only through the engine's own `then` ({@link nativeThen}): a
 * promise's own `then` property is not trusted. A thenable's own `then` is called on a later microtask
 * by `Promise.resolve`, with callbacks that act once, so one that calls back at once, twice, or throws
 * cannot run the partition on inside the attempt or settle a later one.
 */
export function settlementOf(result: unknown): Promise<unknown> | undefined {
  if (!isThenable(result)) return undefined;
  return Promise.resolve(result);
}

/**
 * {@link settlementOf} for a traced attempt (a `data-buffer:flush` subscriber): always a native
 * promise, never a throw, and with the same outcome as the untraced attempt, so that who observes never
 * changes what happens. A result that is no thenable resolves to `undefined`: reading it again could
 * run a getter a second time.
 */
export function tracedSettlement(call: () => unknown): Promise<unknown> {
  try {
    const settlement = settlementOf(call());
    return settlement === undefined ? Promise.resolve(undefined) : nativeThen.call(settlement, identity);
  } catch (error) {
    return Promise.reject(error);
  }
}

function identity<T>(value: T): T {
  return value;
}
