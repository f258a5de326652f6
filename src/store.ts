/**
 * The seam between the buffer's logic and where buffered items live. The buffer decides when a batch
 * opens, fills and flushes; a store only keeps the open batches. The in-memory store is the default;
 * an on-disk journal or a shared store implements the same interface, and one conformance suite
 * (`test/stores/conformance.ts`) runs against every implementation.
 * @module
 */

/** The items a key has gathered since its last flush; new inserts for the key go here. */
export interface OpenBatch<K, V> {
  /** The key the items were inserted under. */
  readonly key: K;
  /** Items in insertion order. */
  items: V[];
  /** Estimated bytes of `items` (0 when byte accounting is off). */
  bytes: number;
  /** Item count at which the batch flushes (`maxSize` plus its jitter). */
  readonly limit: number;
  /** False once the batch has been taken from the store (flushed, dumped or emptied). */
  open: boolean;
}

/** Keeps the open batches, one per key. Invariant: a batch is in the store exactly while `open` is true. */
export interface BatchStore<K, V> {
  /** Open batches. */
  readonly size: number;
  /** The key's open batch, if it has one. */
  get(key: K): OpenBatch<K, V> | undefined;
  /** Opens a batch for `key` holding `first`; the key must not have one. */
  open(key: K, first: V, bytes: number, limit: number): OpenBatch<K, V>;
  /** Appends an item to an open batch. */
  push(batch: OpenBatch<K, V>, item: V, bytes: number): void;
  /** Removes and returns the oldest item of a batch (for `onFull: 'drop-oldest'`). */
  shift(batch: OpenBatch<K, V>, bytes: number): V | undefined;
  /** Closes a batch: removes it from the store and returns its items; the key may open a new one. */
  take(batch: OpenBatch<K, V>): V[];
  /** The open batch that was opened first: it holds the oldest buffered item. */
  oldest(): OpenBatch<K, V> | undefined;
  /** Open batches, oldest first. Taking batches while iterating is allowed. */
  values(): IterableIterator<OpenBatch<K, V>>;
}
