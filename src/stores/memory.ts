/**
 * The default stores: open batches in a `Map`, whose insertion order makes the oldest batch the first.
 * Two shapes, picked by {@link createMemoryStore}: plain arrays when batches carry nothing but their
 * items, and small batch records when each batch also counts its bytes or has a limit of its own (an
 * item limit with `maxSizeJitter`, a byte limit with `maxBatchBytes`).
 * @module
 */
import { Appended, type BatchStore, type BatchToken, type Taker } from '../store.js';

/** What {@link createMemoryStore} needs to know of the buffer's options. */
export interface MemoryStoreOptions {
  /** Items at which a batch is full (`Infinity` for none). */
  readonly maxSize: number;
  /** A random 0..`maxSizeJitter` added to `maxSize` for each batch. */
  readonly maxSizeJitter: number;
  /** Whether the buffer estimates bytes (a finite `maxBufferedBytes`): batches must then add them up. */
  readonly measureBytes: boolean;
  /** Estimated bytes at which a batch is full (`Infinity` for none); see {@link RecordStore}. */
  readonly maxBatchBytes: number;
}

/** The fitting memory store for a buffer's options. */
export function createMemoryStore<K, V>(options: MemoryStoreOptions): BatchStore<K, V> {
  const { maxSize, maxSizeJitter, measureBytes, maxBatchBytes } = options;
  return measureBytes || maxSizeJitter > 0 || maxBatchBytes !== Number.POSITIVE_INFINITY
    ? new RecordStore<K, V>(maxSize, maxSizeJitter, maxBatchBytes)
    : new ListStore<K, V>(maxSize);
}

/**
 * Open batches as plain arrays in a `Map`: exactly what a hand-written buffer keeps, so an insert costs
 * one `Map` lookup and one `push`. For buffers without byte accounting or per-batch limits.
 */
export class ListStore<K, V> implements BatchStore<K, V> {
  readonly #lists = new Map<K, V[]>();
  readonly #limit: number;
  opened: BatchToken | undefined;

  /** @param limit - items at which a batch is full (`Infinity` for none). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#lists.size;
  }

  append(key: K, item: V, _bytes: number): number {
    const items = this.#lists.get(key);
    if (items !== undefined) return items.push(item) >= this.#limit ? Appended.FULL : Appended.ADDED;
    const opened = listOf(item);
    this.#lists.set(key, opened);
    this.opened = opened;
    return this.#limit <= 1 ? Appended.OPENED | Appended.FULL : Appended.OPENED;
  }

  items(key: K): V[] | undefined {
    return this.#lists.get(key);
  }

  /** The batch's items array: a new array opens with each batch. */
  batch(key: K): BatchToken | undefined {
    return this.#lists.get(key);
  }

  /**
   * Bytes are always 0: this store is for buffers without byte accounting. The token (the batch's
   * array) is left empty: an open batch is never empty (`onFull` takes one it emptied), so an empty
   * token is a taken batch.
   */
  take<R>(key: K, into: Taker<K, V, R>): R | undefined {
    const items = this.#lists.get(key);
    if (items === undefined) return undefined;
    this.#lists.delete(key);
    return into(key, items.splice(0), 0);
  }

  /** One `Map.delete`: the token is the batch's array, empty once {@link take} took it. */
  takeDue<R>(key: K, batch: BatchToken, into: Taker<K, V, R>): R | undefined {
    const items = batch as V[];
    if (items.length === 0) return undefined;
    this.#lists.delete(key);
    return into(key, items, 0);
  }

  shift(key: K, _bytes: number): V | undefined {
    return this.#lists.get(key)?.shift();
  }

  oldestKey(): K | undefined {
    return firstKey(this.#lists);
  }

  keys(): IterableIterator<K> {
    return this.#lists.keys();
  }
}

/**
 * Item count standing for "no limit" in {@link BatchRecord.limit}: a small integer (an infinite number
 * field would be boxed in a heap object of its own, 16 more bytes per batch), and out of reach, since
 * V8 caps an array at about 2^27 elements.
 */
const NO_LIMIT = 2 ** 30 - 1;

/** An open batch with its byte count and item limit: three fields, as a million live keys means a million of them. */
class BatchRecord<V> {
  readonly items: V[];
  bytes: number;
  readonly limit: number;

  constructor(first: V, bytes: number, limit: number) {
    this.items = listOf(first);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * Open batches as {@link BatchRecord}s in a `Map`: for byte accounting, `maxSizeJitter` and
 * `maxBatchBytes`. With a byte limit, a batch is full once its bytes reach the limit; an item that would
 * take a batch past it is refused with `OVER` (the caller takes the batch and appends it again, so it
 * opens the next one), unless it is the batch's first: an item larger than the limit goes alone.
 */
export class RecordStore<K, V> implements BatchStore<K, V> {
  readonly #batches = new Map<K, BatchRecord<V>>();
  opened: BatchToken | undefined;
  readonly #maxSize: number;
  readonly #jitter: number;
  readonly #maxBytes: number;

  /**
   * @param maxSize - items at which a batch is full (`Infinity` for none).
   * @param jitter - a random 0..`jitter` added to `maxSize` for each batch.
   * @param maxBytes - estimated bytes at which a batch is full (`Infinity` for none).
   */
  constructor(maxSize: number, jitter: number, maxBytes = Number.POSITIVE_INFINITY) {
    this.#maxSize = maxSize;
    this.#jitter = maxSize === Number.POSITIVE_INFINITY ? 0 : jitter;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#batches.size;
  }

  append(key: K, item: V, bytes: number): number {
    const batch = this.#batches.get(key);
    const maxBytes = this.#maxBytes;
    if (batch !== undefined) {
      // Both byte comparisons are false without a byte limit (Infinity): no branch of their own then.
      // An open batch is never empty (drop-oldest takes a batch it empties): OVER always has one to take.
      if (batch.bytes + bytes > maxBytes) return Appended.OVER;
      batch.bytes += bytes;
      return batch.items.push(item) >= batch.limit || batch.bytes >= maxBytes
        ? Appended.FULL
        : Appended.ADDED;
    }
    const limit = this.#nextLimit();
    const opened = new BatchRecord(item, bytes, limit);
    this.#batches.set(key, opened);
    this.opened = opened;
    return limit <= 1 || bytes >= maxBytes ? Appended.OPENED | Appended.FULL : Appended.OPENED;
  }

  #nextLimit(): number {
    if (this.#maxSize === Number.POSITIVE_INFINITY) return NO_LIMIT;
    return this.#jitter === 0
      ? this.#maxSize
      : this.#maxSize + Math.floor(Math.random() * (this.#jitter + 1));
  }

  items(key: K): V[] | undefined {
    return this.#batches.get(key)?.items;
  }

  /** The batch's record. */
  batch(key: K): BatchToken | undefined {
    return this.#batches.get(key);
  }

  /** The record's items array is left empty: an empty record is a taken batch (see {@link ListStore.take}). */
  take<R>(key: K, into: Taker<K, V, R>): R | undefined {
    const batch = this.#batches.get(key);
    if (batch === undefined) return undefined;
    this.#batches.delete(key);
    return into(key, batch.items.splice(0), batch.bytes);
  }

  takeDue<R>(key: K, batch: BatchToken, into: Taker<K, V, R>): R | undefined {
    const record = batch as BatchRecord<V>;
    if (record.items.length === 0) return undefined;
    this.#batches.delete(key);
    return into(key, record.items, record.bytes);
  }

  shift(key: K, bytes: number): V | undefined {
    const batch = this.#batches.get(key);
    if (batch === undefined) return undefined;
    batch.bytes -= bytes;
    return batch.items.shift();
  }

  oldestKey(): K | undefined {
    return firstKey(this.#batches);
  }

  keys(): IterableIterator<K> {
    return this.#batches.keys();
  }
}

/**
 * A new batch's items: an array of one, with no spare capacity, for keys that only ever see one insert.
 *
 * Built as `new Array(1)` and filled, because the two obvious ways each lose a benchmark (median of two
 * runs of `npm run bench -- insert-keys live-keys`, load 4.5, ratios to the `Map` baselines):
 * - a `[item]` literal: V8 pretenures a literal's arrays once it sees them survive (a buffer's always do),
 *   and each later `push` of a new object into such an old-space array is an old-to-young pointer the
 *   garbage collector must track. 10k keys of fresh objects: 0.77 of the baseline, against 0.87 here.
 * - `Array.of(item)`: a builtin call, whose arrays start young and are copied by each scavenge. A
 *   million live keys: 0.44 of the baseline, against 0.60 here (cachegrind: 3,000 instructions more per
 *   key than a literal).
 * The array is "holey" to V8 (it was made with a length); no element is ever missing.
 */
function listOf<V>(item: V): V[] {
  const items = new Array<V>(1);
  items[0] = item;
  return items;
}

/** The key inserted first (a `Map` keeps insertion order): the key of the oldest open batch. */
function firstKey<K>(map: Map<K, unknown>): K | undefined {
  for (const key of map.keys()) return key;
  return undefined;
}
