/**
 * The seam between the buffer's logic and where buffered items live. The buffer decides when a batch
 * flushes; a store keeps the open batches, one per key, and says when one opened or filled up. The
 * in-memory stores are the default; an on-disk journal or a shared store implements the same
 * interface, and one conformance suite (`test/stores/conformance.ts`) runs against every implementation.
 *
 * The interface is keyed, not handle-based, so that the hot path is one `append` call and the memory
 * store can keep a plain `Map` of arrays. A batch is told apart from the key's later batches by its
 * items array: taking a batch closes it, and the key's next batch is a new array.
 * @module
 */

/** Bit flags returned by {@link BatchStore.append}. */
export const Appended = Object.freeze({
  /** The item joined the key's open batch, which has room left. */
  ADDED: 0,
  /** The item opened a new batch for the key: schedule its interval. */
  OPENED: 1,
  /** The batch has reached its item limit: take it. Set together with `OPENED` when the limit is 1. */
  FULL: 2,
});

/** Keeps the open batches, one per key. */
export interface BatchStore<K, V> {
  /** Open batches. */
  readonly size: number;
  /**
   * Appends `item` (estimated at `bytes`) to the key's open batch, opening one when the key has none.
   * @returns {@link Appended} flags: `OPENED` for the first item of a batch, `FULL` once the batch
   *   holds its item limit (the store's `maxSize`, plus jitter when it has some).
   */
  append(key: K, item: V, bytes: number): number;
  /** The key's open batch's items, oldest first; the same array until the batch is taken. */
  items(key: K): V[] | undefined;
  /**
   * Closes the key's open batch and returns its items; the key's next `append` opens a new batch.
   * Its estimated bytes are then in {@link takenBytes} (a field, not a pair object: a million keys
   * expiring together take a million batches).
   */
  take(key: K): V[] | undefined;
  /** Bytes of the batch the last `take` returned: the sum of the `bytes` given with its items (0 without byte accounting). */
  readonly takenBytes: number;
  /** Removes the oldest item of the key's open batch, `bytes` being its estimate (for `onFull: 'drop-oldest'`). */
  shift(key: K, bytes: number): V | undefined;
  /** The key whose open batch was opened first: it holds the oldest buffered item. */
  oldestKey(): K | undefined;
  /** Keys with an open batch, oldest batch first. Taking batches while iterating is allowed. */
  keys(): IterableIterator<K>;
}
