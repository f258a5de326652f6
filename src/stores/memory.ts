/**
 * The default store: open batches in a `Map`, whose insertion order makes the oldest batch the first.
 * @module
 */
import type { BatchStore, OpenBatch } from '../store.js';

const EMPTY: never[] = [];
/** `limit` of a batch without one (`Infinity`), kept as a small integer: see {@link MemoryBatch}. */
const NO_LIMIT = -1;

/**
 * An open batch in four fields, since a million live keys means a million of them: `open` is derived
 * from `items`, and an infinite `limit` is stored as a small integer (V8 boxes a non-integer number
 * field in a heap object of its own, 16 more bytes per batch).
 */
class MemoryBatch<K, V> implements OpenBatch<K, V> {
  readonly key: K;
  items: V[];
  bytes: number;
  readonly #limit: number;

  constructor(key: K, first: V, bytes: number, limit: number) {
    this.key = key;
    // A one-item array literal: no spare capacity for keys that only ever see one insert.
    this.items = [first];
    this.bytes = bytes;
    this.#limit = limit === Number.POSITIVE_INFINITY ? NO_LIMIT : limit;
  }

  get limit(): number {
    return this.#limit === NO_LIMIT ? Number.POSITIVE_INFINITY : this.#limit;
  }

  /** `take` swaps in the shared empty list: that is what closes a batch. */
  get open(): boolean {
    return this.items !== EMPTY;
  }
}

/** Keeps open batches in process memory. */
export class MemoryStore<K, V> implements BatchStore<K, V> {
  readonly #batches = new Map<K, OpenBatch<K, V>>();

  get size(): number {
    return this.#batches.size;
  }

  get(key: K): OpenBatch<K, V> | undefined {
    return this.#batches.get(key);
  }

  open(key: K, first: V, bytes: number, limit: number): OpenBatch<K, V> {
    const batch = new MemoryBatch(key, first, bytes, limit);
    this.#batches.set(key, batch);
    return batch;
  }

  push(batch: OpenBatch<K, V>, item: V, bytes: number): void {
    batch.items.push(item);
    batch.bytes += bytes;
  }

  shift(batch: OpenBatch<K, V>, bytes: number): V | undefined {
    batch.bytes -= bytes;
    return batch.items.shift();
  }

  take(batch: OpenBatch<K, V>): V[] {
    const items = batch.items;
    // Closes the batch (see `open`) and, as it may still sit in a deadline slot, frees its items.
    batch.items = EMPTY;
    this.#batches.delete(batch.key);
    return items;
  }

  oldest(): OpenBatch<K, V> | undefined {
    for (const batch of this.#batches.values()) return batch;
    return undefined;
  }

  values(): IterableIterator<OpenBatch<K, V>> {
    return this.#batches.values();
  }
}
