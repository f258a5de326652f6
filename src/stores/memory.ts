/**
 * The default store: open batches in a `Map`, whose insertion order makes the oldest batch the first.
 * @module
 */
import type { BatchStore, OpenBatch } from '../store.js';

const EMPTY: never[] = [];

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
    // A one-item array literal: no spare capacity for keys that only ever see one insert.
    const batch: OpenBatch<K, V> = { key, items: [first], bytes, limit, open: true };
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
    // The batch may still sit in a deadline slot; drop its items so they can be collected.
    batch.items = EMPTY;
    batch.open = false;
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
