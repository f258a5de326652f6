/**
 * The behaviour every BatchStore must have. Each store's test file calls `describeStoreConformance`
 * with a factory; a new store (journal, shared) passes this suite before the buffer may use it. The
 * factory may be async (a store that opens a file or a connection), and so is every row.
 */
import { describe, expect, it } from 'vitest';
import { Appended, type BatchStore } from '../../src/store.js';

/** The batch limits a store is built with. */
export interface StoreLimits {
  readonly maxSize: number;
  readonly maxSizeJitter: number;
}

/** What a store keeps beyond items: the rows that need it run only for stores that have it. */
export interface StoreCapabilities {
  /** Adds up the bytes given with each item (a store for a buffer without byte accounting need not). */
  readonly countsBytes: boolean;
  /** Gives each batch its own limit within `maxSize..maxSize + maxSizeJitter`. */
  readonly jitter: boolean;
}

const { ADDED, OPENED, FULL } = Appended;

/** `store.take` with its batch as a value: the items and bytes it was handed over with. */
function take(
  store: BatchStore<unknown, unknown>,
  key: unknown,
): { items: unknown[]; bytes: number } | undefined {
  return store.take(key, (_key, items, bytes) => ({ items, bytes }));
}
const NO_LIMITS: StoreLimits = { maxSize: Number.POSITIVE_INFINITY, maxSizeJitter: 0 };

/** Registers the conformance tests for the store made by `create`. */
export function describeStoreConformance(
  name: string,
  create: (limits: StoreLimits) => BatchStore<unknown, unknown> | Promise<BatchStore<unknown, unknown>>,
  capabilities: StoreCapabilities,
): void {
  describe(`${name} conforms to BatchStore`, () => {
    it('opens one batch per key with the first item, then appends in order', async () => {
      const store = await create(NO_LIMITS);
      expect(store.items('a')).toBeUndefined();
      expect(store.append('a', 1, 8)).toBe(OPENED);
      expect(store.items('a')).toEqual([1]);
      expect(store.size).toBe(1);
      expect(store.append('a', 2, 4)).toBe(ADDED);
      expect(store.append('b', 3, 4)).toBe(OPENED);
      expect(store.append('a', 4, 4)).toBe(ADDED);
      expect(store.items('a')).toEqual([1, 2, 4]);
      expect(store.items('b')).toEqual([3]);
      expect(store.size).toBe(2);
    });

    it('keeps the same items array and batch token for a batch until it is taken', async () => {
      const store = await create(NO_LIMITS);
      expect(store.batch('a')).toBeUndefined();
      store.append('a', 1, 0);
      const items = store.items('a');
      const token = store.batch('a');
      expect(token).toBeDefined();
      store.append('a', 2, 0);
      expect(store.items('a')).toBe(items);
      expect(store.batch('a')).toBe(token);
      take(store, 'a');
      expect(store.batch('a')).toBeUndefined();
      store.append('a', 3, 0);
      expect(store.items('a')).not.toBe(items);
      expect(store.batch('a')).not.toBe(token);
      // take hands the items over in a new array: the old one, which a deadline entry may still hold, is let go.
      expect(items).toEqual([]);
    });

    it('names the batch the last append opened, by the token batch() gives', async () => {
      const store = await create(NO_LIMITS);
      store.append('a', 1, 0);
      expect(store.opened).toBe(store.batch('a'));
      store.append('b', 2, 0);
      store.append('a', 3, 0);
      expect(store.opened).toBe(store.batch('b'));
    });

    it('takeDue takes a batch by its token while it is open, and not once take took it', async () => {
      const store = await create(NO_LIMITS);
      store.append('a', 1, 5);
      store.append('a', 2, 7);
      const first = store.batch('a') as object;
      expect(store.takeDue('a', first, (_key, items, bytes) => ({ items, bytes }))).toEqual({
        items: [1, 2],
        bytes: capabilities.countsBytes ? 12 : 0,
      });
      expect(store.items('a')).toBeUndefined();
      store.append('a', 3, 0);
      const second = store.batch('a') as object;
      take(store, 'a');
      store.append('a', 4, 0);
      // Taken by take: its token is stale, and the key's new batch stays, untouched.
      expect(store.takeDue('a', second, () => 'taken')).toBeUndefined();
      expect(store.items('a')).toEqual([4]);
      expect(store.size).toBe(1);
    });

    it('says FULL when a batch reaches maxSize, and OPENED | FULL when maxSize is 1', async () => {
      const store = await create({ maxSize: 3, maxSizeJitter: 0 });
      expect(store.append('a', 1, 0)).toBe(OPENED);
      expect(store.append('a', 2, 0)).toBe(ADDED);
      expect(store.append('a', 3, 0)).toBe(FULL);
      take(store, 'a');
      expect(store.append('a', 4, 0)).toBe(OPENED);
      const single = await create({ maxSize: 1, maxSizeJitter: 0 });
      expect(single.append('a', 1, 0)).toBe(OPENED | FULL);
    });

    it('take closes the batch, returns its items and frees the key for a new batch', async () => {
      const store = await create(NO_LIMITS);
      store.append('a', 1, 5);
      store.append('a', 2, 7);
      expect(take(store, 'a')).toEqual({ items: [1, 2], bytes: capabilities.countsBytes ? 12 : 0 });
      expect(store.items('a')).toBeUndefined();
      expect(take(store, 'a')).toBeUndefined();
      expect(store.size).toBe(0);
      expect(store.append('a', 3, 0)).toBe(OPENED);
      expect(store.items('a')).toEqual([3]);
    });

    it('shift removes the oldest item of a batch and its bytes', async () => {
      const store = await create(NO_LIMITS);
      store.append('a', 1, 5);
      store.append('a', 2, 7);
      const items = store.items('a');
      expect(store.shift('a', 5)).toBe(1);
      // In place: the array is the batch's identity, and the buffer reads it after shifting.
      expect(store.items('a')).toBe(items);
      expect(items).toEqual([2]);
      expect(take(store, 'a')?.bytes).toBe(capabilities.countsBytes ? 7 : 0);
      expect(store.shift('a', 0)).toBeUndefined();
    });

    it('oldestKey and keys follow the order batches were opened in, reopened keys last', async () => {
      const store = await create(NO_LIMITS);
      expect(store.oldestKey()).toBeUndefined();
      for (const key of ['a', 'b', 'c']) store.append(key, 0, 0);
      expect(store.oldestKey()).toBe('a');
      take(store, 'a');
      store.append('a', 1, 0);
      store.append('b', 2, 0); // appending does not reorder
      expect([...store.keys()]).toEqual(['b', 'c', 'a']);
      expect(store.oldestKey()).toBe('b');
    });

    it('allows taking batches while iterating', async () => {
      const store = await create(NO_LIMITS);
      for (let i = 0; i < 5; i++) store.append(i, i, 0);
      const seen: unknown[] = [];
      for (const key of store.keys()) {
        seen.push(key);
        take(store, key);
      }
      expect(seen).toEqual([0, 1, 2, 3, 4]);
      expect(store.size).toBe(0);
      expect(store.oldestKey()).toBeUndefined();
    });

    it('keys any value as a Map does', async () => {
      const store = await create(NO_LIMITS);
      const objectKey = {};
      store.append(Number.NaN, 1, 0);
      store.append(objectKey, 2, 0);
      store.append(undefined, 3, 0);
      expect(store.items(Number.NaN)).toEqual([1]);
      expect(store.items(objectKey)).toEqual([2]);
      expect(store.items({})).toBeUndefined();
      expect(store.items(undefined)).toEqual([3]);
    });

    // A store without per-batch limits has no such row, rather than a skipped one.
    if (capabilities.jitter)
      it('gives each batch a limit within maxSize..maxSize + maxSizeJitter', async () => {
        const store = await create({ maxSize: 10, maxSizeJitter: 5 });
        const limits = new Set<number>();
        for (let key = 0; key < 200; key++) {
          // Bounded, so that a store that never says FULL fails the row instead of hanging it.
          let count = 0;
          let appended: number = ADDED;
          while (count < 100 && (appended & FULL) === 0) appended = store.append(key, ++count, 0);
          limits.add(count);
        }
        expect(Math.min(...limits)).toBeGreaterThanOrEqual(10);
        expect(Math.max(...limits)).toBeLessThanOrEqual(15);
        expect(limits.size).toBeGreaterThan(1);
      });
  });
}
