/**
 * From open batch to delivery: the local stage (each key's open batch, in a {@link BatchStore}), each
 * open batch's interval (the {@link DeadlineQueue}), taking a batch when it is full, due or flushed, and
 * the due backlog (batches whose interval is over, waiting, still open, for room in their partition).
 *
 * Owns the store, the deadline queue, the per-partition due backlogs, the take order (`seq`) and the
 * batch ids. Invariants: a key has at most one open batch; an item is in exactly one place (its key's
 * open batch, or one delivery); every delivery enters through {@link Intake.deliver}, whether it was
 * taken here or handed back by a backend (and, later, claimed from a shared store); a partition never
 * holds more than {@link PARTITION_BACKLOG} queued deliveries that came from expiry.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { RecoveredBatch } from './backend.js';
import type { Budget } from './budget.js';
import { DeadlineQueue, resolutionFor } from './deadline-queue.js';
import { Delivery } from './delivery.js';
import type { ResolvedOptions } from './options.js';
import { createPartitioner, type Partitioner } from './partition.js';
import { PARTITION_BACKLOG } from './partitions.js';
import { Queue } from './queue.js';
import { Appended, type BatchStore, type BatchToken, type Taker } from './store.js';
import { createMemoryStore } from './stores/memory.js';
import { now, SLICE_MS, yieldToEventLoop } from './timers.js';

/** What intake needs from the parts downstream of it, handed over when it is built. */
export interface IntakeContext<K, V> {
  readonly budget: Budget<V>;
  /** Deliveries queued in the partition (how much room it has). */
  queued(partition: number): number;
  /** Number of partitions. */
  readonly partitions: number;
  /** Puts a new delivery in its key's line; returns whether it is first (may be scheduled now). */
  lineUp(delivery: Delivery<K, V>): boolean;
  /** Queues a delivery in its partition. */
  schedule(delivery: Delivery<K, V>): void;
  /** A new delivery exists (`'drop-oldest'` may drop it until it starts; a backend is told of a take). */
  taken(delivery: Delivery<K, V>, recovered: boolean): void;
  /**
   * Watches for the process running out of work while the buffer holds items: started when a batch
   * opens and it is not on yet. An object with a field, not a callback: read on every batch opened.
   */
  readonly exitWatch: { readonly watching: boolean; watch(): void };
}

/** The local stage and the way out of it. */
export class Intake<K, V> {
  readonly #context: IntakeContext<K, V>;
  readonly #options: ResolvedOptions<K, V, unknown>;
  /** The open batches. Public for the insert quick path, which appends without a call. */
  readonly store: BatchStore<K, V>;
  /** Each open batch's interval: its key, and the store's token that tells it from the key's later batches. */
  readonly #deadlines: DeadlineQueue<K, BatchToken>;
  /**
   * Per partition: batches whose interval is over, waiting for room in the partition's queue while
   * other partitions go on taking theirs (see `#expire`); still open. Each is its key, then its batch
   * token (which tells it from the key's later batches).
   */
  readonly #due: Queue<K | BatchToken>[];
  /** Where {@link #anyPartitionHasRoom} looks first: the partition it last found with room. */
  #partitionWithRoom = 0;
  readonly partitionOf: Partitioner;
  readonly #batchIdPrefix = randomUUID();
  /** Take order of the last delivery. */
  seq = 0;

  constructor(context: IntakeContext<K, V>, options: ResolvedOptions<K, V, unknown>) {
    this.#context = context;
    this.#options = options;
    this.store = createMemoryStore<K, V>({
      maxSize: options.maxSize,
      maxSizeJitter: options.maxSizeJitter,
      measureBytes: context.budget.measureBytes,
      maxBatchBytes: options.maxBatchBytes,
    });
    this.#deadlines = new DeadlineQueue(resolutionFor(options.interval), (key, batch) =>
      this.#expire(key, batch),
    );
    this.#due = Array.from({ length: context.partitions }, () => new Queue<K | BatchToken>());
    this.partitionOf = createPartitioner(context.partitions);
  }

  /** The batch id of a delivery: stable, unique across buffers and runs. */
  batchIdOf(delivery: Delivery<K, V>): string {
    delivery.id ??= `${this.#batchIdPrefix}-${delivery.seq}`;
    return delivery.id;
  }

  /**
   * Appends an accepted item of `bytes` to its key's open batch (recovery; the checked insert path writes
   * this out, to keep its common case one call).
   * An item that would take the batch past `maxBatchBytes` first closes it: the batch is taken and the
   * item opens the key's next one.
   */
  append(key: K, value: V, bytes: number): void {
    const appended = this.store.append(key, value, bytes);
    if (appended !== Appended.ADDED) this.appended(key, value, bytes, appended);
  }

  /** What follows an append that did more than add the item (`appended` is not `ADDED`); see {@link append}. */
  appended(key: K, value: V, bytes: number, appended: number): void {
    if (appended === Appended.OVER) {
      this.take(key);
      appended = this.store.append(key, value, bytes);
    }
    this.openedOrFull(key, appended);
  }

  /** The cold path of an insert: a batch opened (schedule its interval) or filled up (take it). */
  openedOrFull(key: K, appended: number): void {
    if ((appended & Appended.OPENED) !== 0) {
      const { interval, jitter } = this.#options;
      const batch = this.store.opened as BatchToken;
      this.#deadlines.add(key, batch, now() + interval + (jitter === 0 ? 0 : Math.random() * jitter));
      const exitWatch = this.#context.exitWatch;
      if (!exitWatch.watching) exitWatch.watch();
    }
    if ((appended & Appended.FULL) !== 0) this.take(key);
  }

  /** Moves the key's open batch, if it has one, into a delivery, behind any delivery the key already has. */
  take(key: K): void {
    this.store.take(key, this.#deliver);
  }

  /** A taken batch: its items become the delivery's. */
  readonly #deliver: Taker<K, V, void> = (key, items, bytes) => {
    this.deliver(key, items, bytes, undefined);
  };

  /**
   * The one way a delivery comes to be: from a batch taken here, a batch a backend handed back from an
   * earlier run (with its original `batchId`), or (later) a batch claimed from a shared store.
   */
  deliver(key: K, items: V[], bytes: number, batchId: string | undefined): Delivery<K, V> {
    const context = this.#context;
    const delivery = new Delivery(key, items, bytes, this.partitionOf(key), ++this.seq, batchId);
    context.taken(delivery, batchId !== undefined);
    if (context.lineUp(delivery)) context.schedule(delivery);
    return delivery;
  }

  /**
   * Re-enters what a backend kept from an earlier run, before the first insert: batches that had been
   * taken become deliveries again under their original ids (ahead of the key's new items), and items
   * that were still open re-enter their key's open batch. Neither is staged for the backend again.
   */
  recover(batches: Iterable<RecoveredBatch<K, V>>): void {
    const budget = this.#context.budget;
    for (const { key, items, batchId } of batches) {
      if (batchId !== undefined) {
        let bytes = 0;
        for (const item of items) bytes += budget.measure(item);
        budget.add(items.length, bytes);
        this.deliver(key, items, bytes, batchId);
        continue;
      }
      for (const item of items) {
        const bytes = budget.measure(item);
        budget.add(1, bytes);
        this.append(key, item, bytes);
      }
    }
  }

  /**
   * A batch's interval is over: take it (unless maxSize, flush() or dump() took it meanwhile), unless
   * its partition already has {@link PARTITION_BACKLOG} deliveries waiting. Then, if another partition
   * has room, it waits, still open, in its own partition's due backlog, oldest first, so that a slow
   * partition does not hold up the others' expiry. If no partition has room, it is refused (returns
   * false): it stays in the deadline queue, which hands out no more until a partition's queue is half
   * empty and its due backlog empty (see {@link refill}). So when every partition is busy (always, with
   * one partition), a million keys expiring together wait where they already are, instead of being
   * copied into the backlog a million at once.
   */
  #expire(key: K, batch: BatchToken): boolean {
    const partition = this.#due.length === 1 ? 0 : this.partitionOf(key);
    if (this.#takesDue(partition)) {
      // Unless maxSize, flush() or dump() took it meanwhile: the token tells, without a lookup.
      this.store.takeDue(key, batch, this.#deliver);
      return true;
    }
    if (!this.#anyPartitionHasRoom()) return false;
    const due = this.#due[partition] as Queue<K | BatchToken>;
    due.push(key);
    due.push(batch);
    return true;
  }

  /** Whether the partition takes a due batch now (not the budget's room): nothing due waits for it, and its backlog is not full. */
  #takesDue(partition: number): boolean {
    return (
      (this.#due[partition] as Queue<K | BatchToken>).length === 0 &&
      this.#context.queued(partition) < PARTITION_BACKLOG
    );
  }

  /**
   * Whether some partition would take a due batch now. Starts from the last one found with room, so
   * that while one partition is full and another is not, the check costs one look, not a scan.
   */
  #anyPartitionHasRoom(): boolean {
    const count = this.#due.length;
    for (let i = 0; i < count; i++) {
      const index = (this.#partitionWithRoom + i) % count;
      if (this.#takesDue(index)) {
        this.#partitionWithRoom = index;
        return true;
      }
    }
    return false;
  }

  /**
   * The partition's queue is short: take the due batches that waited for room, and let the deadline
   * queue hand out more if it paused for want of room.
   */
  refill(partition: number): void {
    const due = this.#due[partition] as Queue<K | BatchToken>;
    const queued = this.#context.queued;
    while (due.length > 0) {
      const key = due.shift() as K;
      const batch = due.shift() as BatchToken;
      // Unless maxSize, flush() or dump() took it meanwhile.
      this.store.takeDue(key, batch, this.#deliver);
      if (queued(partition) >= PARTITION_BACKLOG) break;
    }
    // In this call: the drain it starts runs no user code, and stops at the first batch no partition has room for.
    if (due.length === 0 && queued(partition) < PARTITION_BACKLOG / 2) this.#deadlines.resume();
  }

  /** Takes every open batch, yielding to the event loop between slices. */
  async takeAllOpen(): Promise<void> {
    const store = this.store;
    // Batches opened while we yield are not part of this call: stop after the ones there now.
    let remaining = store.size;
    while (remaining > 0 && store.size > 0) {
      const sliceStart = now();
      let taken = 0;
      for (const key of store.keys()) {
        this.take(key);
        remaining--;
        if (remaining === 0 || ((++taken & 255) === 0 && now() - sliceStart > SLICE_MS)) break;
      }
      if (remaining > 0 && store.size > 0) await yieldToEventLoop();
    }
  }

  /**
   * Takes every open batch out without delivering it (`dump()`), calling `each` with its key, items
   * and bytes; no interval or due entry is left.
   */
  dumpOpen(each: Taker<K, V, void>): void {
    const store = this.store;
    for (const key of store.keys()) store.take(key, each);
    this.#deadlines.clear();
    for (const due of this.#due) due.clear(); // every batch in them was just taken
  }

  /** No open batch expires any more: closing takes them all. */
  stopExpiring(): void {
    this.#deadlines.clear();
  }
}
