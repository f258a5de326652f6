/**
 * The seam between the buffer's logic and where buffered items live. The buffer decides when a batch
 * flushes; a store keeps the open batches, one per key, and says when one opened or filled up. The
 * in-memory stores are the default; an on-disk journal or a shared store implements the same
 * interface, and one conformance suite (`test/stores/conformance.ts`) runs against every implementation.
 *
 * The interface is keyed, not handle-based, so that the hot path is one `append` call and the memory
 * store can keep a plain `Map` of arrays. An open batch is told apart from the key's later batches by
 * an opaque token ({@link BatchStore.batch}); a taken batch comes out with its items and bytes together
 * and becomes a delivery record with its own id (`delivery.ts`).
 * @module
 */

/** Bit flags returned by {@link BatchStore.append}. */
export const Appended = Object.freeze({
  /** The item joined the key's open batch, which has room left. */
  ADDED: 0,
  /** The item opened a new batch for the key: schedule its interval. */
  OPENED: 1,
  /**
   * The batch has reached its item limit, or its byte limit (`maxBatchBytes`): take it. Set together
   * with `OPENED` when the limit is 1 item, or when the item alone reaches the byte limit.
   */
  FULL: 2,
  /**
   * Not added: the item would take the key's open batch past its byte limit. Take the batch, then
   * append the item again: it opens the next batch. Only a store given a byte limit returns it, and
   * never for a batch's first item (an item larger than the limit goes alone in a batch of its own).
   */
  OVER: 4,
});

/** What an open batch is known by while it is open (see {@link BatchStore.batch}). */
export type BatchToken = object;

/** Receives a batch closed by {@link BatchStore.take}: its key, its items (oldest first) and their bytes. */
export type Taker<K, V, R> = (key: K, items: V[], bytes: number) => R;

/** Keeps the open batches, one per key. */
export interface BatchStore<K, V> {
  /** Open batches. */
  readonly size: number;
  /**
   * Appends `item` (estimated at `bytes`) to the key's open batch, opening one when the key has none.
   * @returns {@link Appended} flags: `OPENED` for the first item of a batch, `FULL` once the batch
   *   holds its item limit (the store's `maxSize`, plus jitter when it has some) or its byte limit;
   *   `OVER` alone, appending nothing, when the item would take a non-empty batch past its byte limit.
   */
  append(key: K, item: V, bytes: number): number;
  /** The key's open batch's items, oldest first; the same array until the batch is taken. */
  items(key: K): V[] | undefined;
  /**
   * The key's open batch as an opaque token: the same value until the batch is taken, another one for
   * the key's next batch. The deadline queue keeps it to tell a batch from the key's later ones.
   */
  batch(key: K): BatchToken | undefined;
  /**
   * The token of the batch opened by the last `append` that returned `OPENED`: the intake schedules its
   * deadline with it, without looking the key up again.
   */
  readonly opened: BatchToken | undefined;
  /**
   * Closes the key's open batch and hands it to `into` with its estimated bytes (the sum of the `bytes`
   * given with its items; 0 without byte accounting), returning what `into` returns; the key's next
   * `append` opens a new batch. The items come in a new array, and the batch's token is left closed
   * (see {@link takeDue}): the deadline queue still holds it, and must not keep the items alive for up to
   * an interval. A callback, not a pair object: a million keys expiring together take a million
   * batches, and the delivery they become is the only record they need.
   */
  take<R>(key: K, into: Taker<K, V, R>): R | undefined;
  /**
   * Closes the batch whose token is `batch` (its deadline passed) as {@link take} does, if it is still
   * the key's open batch, handing `into` the batch's own items array; `undefined` when it was taken
   * meanwhile by {@link take}. Called at most once per token (a batch has one deadline). The token
   * tells an open batch from a taken one, so the memory stores need no lookup.
   */
  takeDue<R>(key: K, batch: BatchToken, into: Taker<K, V, R>): R | undefined;
  /** Removes the oldest item of the key's open batch, `bytes` being its estimate (for `onFull: 'drop-oldest'`). */
  shift(key: K, bytes: number): V | undefined;
  /** The key whose open batch was opened first: it holds the oldest buffered item. */
  oldestKey(): K | undefined;
  /** Keys with an open batch, oldest batch first. Taking batches while iterating is allowed. */
  keys(): IterableIterator<K>;
}
