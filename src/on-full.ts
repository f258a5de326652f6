/**
 * What an insert does when the budget is full: the four `onFull` policies (and the hard ceiling of `'backpressure'`), eviction under
 * `'drop-oldest'`, and the reporting of dropped items (counters, diagnostics, `onDrop`, the logger).
 *
 * Owns the deliveries that `'drop-oldest'` may still drop (those whose first attempt has not started,
 * in take order) and the drop reporter. Invariants: it never drops an item whose delivery started; an
 * eviction changes the budget only through {@link Budget}, and a delivery it empties settles.
 * @module
 */
import type { Budget } from './budget.js';
import type { Delivery } from './delivery.js';
import { channels } from './diagnostics.js';
import { DropReporter } from './drop-reporter.js';
import { BufferFullError } from './errors.js';
import type { DropReason, ResolvedOptions } from './options.js';
import type { Counters } from './stats.js';
import type { BatchStore } from './store.js';

/** What the on-full policies need from the buffer, handed over when they are built. */
export interface OnFullContext<K, V> {
  /** The public buffer, named in diagnostics messages. */
  readonly buffer: object;
  readonly counters: Counters;
  readonly budget: Budget<V>;
  /** The local stage, whose open batches hold the oldest items after the unstarted deliveries. */
  readonly store: Pick<BatchStore<K, V>, 'oldestKey' | 'items' | 'shift' | 'take'>;
  /** A delivery emptied by eviction is done. */
  settle(delivery: Delivery<K, V>): void;
  /** The key's oldest `count` open items were dropped (a backend is told). */
  droppedOpen(key: K, count: number): void;
  /** The oldest `count` items of a taken, unstarted delivery were dropped, and some are left (a backend is told). */
  trimmed(delivery: Delivery<K, V>, count: number): void;
}

/** The `onFull` policy of one buffer. */
export class OnFull<K, V> {
  readonly #context: OnFullContext<K, V>;
  readonly #options: ResolvedOptions<K, V, unknown>;
  readonly #reporter: DropReporter;
  /**
   * Under `onFull: 'drop-oldest'` only (what it may drop first): deliveries whose first attempt has
   * not started, in take order. Other policies skip a `Set` insert and delete per batch.
   */
  readonly #unstarted: Set<Delivery<K, V>> | undefined;

  constructor(context: OnFullContext<K, V>, options: ResolvedOptions<K, V, unknown>) {
    this.#context = context;
    this.#options = options;
    this.#reporter = new DropReporter(options.logger, options.onFull);
    this.#unstarted = options.onFull === 'drop-oldest' ? new Set() : undefined;
  }

  /** A delivery was taken: it may be dropped until its first attempt starts. */
  taken(delivery: Delivery<K, V>): void {
    this.#unstarted?.add(delivery);
  }

  /** A delivery started, or left the buffer: it can no longer be dropped. */
  forget(delivery: Delivery<K, V>): void {
    this.#unstarted?.delete(delivery);
  }

  /** The buffer is full for an item of `bytes`: apply `onFull`. Returns whether the item should be stored. */
  admit(key: K, value: V, bytes: number): boolean {
    switch (this.#options.onFull) {
      case 'backpressure':
        // Over the budget, the producer is told (`false`) and should wait for ready(); one that does
        // not is refused at the hard ceiling, so memory stays bounded whatever it does with `false`.
        if (this.#context.budget.underCeilingFor(bytes)) return true;
        this.dropped(key, [value], 'backpressure');
        return false;
      case 'throw':
        throw new BufferFullError(this.#context.budget.fullness(bytes));
      case 'drop-newest':
        this.dropped(key, [value], 'drop-newest');
        return false;
      case 'drop-oldest':
        if (this.#evictOldest(bytes)) return true;
        this.dropped(key, [value], 'drop-newest');
        return false;
    }
  }

  /**
   * Drops the oldest items not yet handed to `handleFlush` until an item of `bytes` fits: first from
   * batches waiting for their first attempt (oldest taken first), then from the open batches (oldest
   * opened first). Items whose delivery started stay. Returns false, dropping nothing, when even
   * dropping all of those would not make room.
   */
  #evictOldest(bytes: number): boolean {
    const { budget, store } = this.#context;
    if (budget.startedHeld >= budget.maxBuffered || budget.startedBytes + bytes > budget.maxBytes) {
      return false;
    }
    while (budget.isFullFor(bytes)) {
      const delivery: Delivery<K, V> | undefined = this.#unstarted?.values().next().value;
      if (delivery !== undefined) {
        this.#evictFromDelivery(delivery, bytes);
        continue;
      }
      const key = store.oldestKey();
      if (key === undefined) return false;
      const items = store.items(key) as V[];
      const [count, evictedBytes] = this.#evictable(items, bytes);
      const evicted: V[] = [];
      // The store learns the bytes of the whole run with its last item.
      for (let i = 0; i < count; i++) evicted.push(store.shift(key, i === count - 1 ? evictedBytes : 0) as V);
      budget.remove(count, evictedBytes);
      this.#context.droppedOpen(key, count);
      if (items.length === 0) {
        // What is left of the batch's byte count is the estimate's drift: it leaves with the batch.
        store.take(key, this.#dropDrift);
      }
      this.dropped(key, evicted, 'drop-oldest');
    }
    return true;
  }

  /** Drops a delivery's first items until an item of `bytes` fits; an emptied delivery settles. */
  #evictFromDelivery(delivery: Delivery<K, V>, bytes: number): void {
    const [count, evictedBytes] = this.#evictable(delivery.items, bytes);
    const evicted = delivery.items.splice(0, count);
    delivery.bytes -= evictedBytes;
    this.#context.budget.remove(count, evictedBytes);
    // Emptied: it leaves its key's pipeline (the next batch of the key may start) and its waiters wake.
    if (delivery.items.length === 0) this.#context.settle(delivery);
    else this.#context.trimmed(delivery, count);
    this.dropped(delivery.key, evicted, 'drop-oldest');
  }

  /**
   * How many of `items`, from the first, must go for an item of `bytes` to fit (all of them at most),
   * and their bytes. Changes nothing, so a throwing `sizeOf` leaves the accounting intact.
   */
  #evictable(items: V[], bytes: number): [count: number, bytes: number] {
    const budget = this.#context.budget;
    let count = 0;
    let evictedBytes = 0;
    while (
      count < items.length &&
      (budget.held - count >= budget.maxBuffered || budget.heldBytes - evictedBytes + bytes > budget.maxBytes)
    ) {
      if (budget.measureBytes) evictedBytes += budget.measure(items[count] as V);
      count++;
    }
    return [count, evictedBytes];
  }

  /** What is left of an emptied batch's byte count is the estimate's drift: it leaves with the batch. */
  readonly #dropDrift = (_key: K, _items: V[], drift: number): void => this.#context.budget.remove(0, drift);

  /** Counts, reports and hands out dropped items. */
  dropped(key: K, items: V[], reason: DropReason): void {
    this.#context.counters.dropped += items.length;
    if (channels.drop.hasSubscribers) {
      channels.drop.publish({ buffer: this.#context.buffer, key, items, reason });
    }
    this.#reporter.add(items.length);
    const onDrop = this.#options.onDrop;
    if (onDrop === undefined) return;
    try {
      onDrop(key, items, reason);
    } catch (error) {
      this.#options.logger.error('data-buffer: onDrop threw', { key, count: items.length, error });
    }
  }

  /** Reports the drops not reported yet (on close). */
  flushReport(): void {
    this.#reporter.flush();
  }
}
