/**
 * The behaviour every BatchStore must have. Each store's test file calls `describeStoreConformance`
 * with a factory; a new store (journal, shared) passes this suite before the buffer may use it.
 */
import { describe, expect, it } from 'vitest';
import type { BatchStore } from '../../src/store.js';

/** Registers the conformance tests for the store made by `create`. */
export function describeStoreConformance(name: string, create: () => BatchStore<unknown, unknown>): void {
  describe(`${name} conforms to BatchStore`, () => {
    it('opens one batch per key, holding the first item', () => {
      const store = create();
      expect(store.get('a')).toBeUndefined();
      const batch = store.open('a', 1, 8, 10);
      expect(batch).toMatchObject({ key: 'a', items: [1], bytes: 8, limit: 10, open: true });
      expect(store.get('a')).toBe(batch);
      expect(store.size).toBe(1);
    });

    it('appends in order and adds up bytes', () => {
      const store = create();
      const batch = store.open('a', 1, 8, 10);
      store.push(batch, 2, 4);
      store.push(batch, 3, 4);
      expect(batch.items).toEqual([1, 2, 3]);
      expect(batch.bytes).toBe(16);
    });

    it('take closes the batch, returns its items and frees the key for a new batch', () => {
      const store = create();
      const batch = store.open('a', 1, 0, 10);
      store.push(batch, 2, 0);
      expect(store.take(batch)).toEqual([1, 2]);
      expect(batch.open).toBe(false);
      expect(store.get('a')).toBeUndefined();
      expect(store.size).toBe(0);
      const next = store.open('a', 3, 0, 10);
      expect(next).not.toBe(batch);
      expect(next.items).toEqual([3]);
    });

    it('shift removes the oldest item of a batch and its bytes', () => {
      const store = create();
      const batch = store.open('a', 1, 5, 10);
      store.push(batch, 2, 7);
      expect(store.shift(batch, 5)).toBe(1);
      expect(batch.items).toEqual([2]);
      expect(batch.bytes).toBe(7);
    });

    it('oldest and values follow the order batches were opened in, reopened keys last', () => {
      const store = create();
      const a = store.open('a', 1, 0, 10);
      store.open('b', 2, 0, 10);
      store.open('c', 3, 0, 10);
      expect(store.oldest()?.key).toBe('a');
      store.take(a);
      store.open('a', 4, 0, 10);
      expect([...store.values()].map((batch) => batch.key)).toEqual(['b', 'c', 'a']);
      expect(store.oldest()?.key).toBe('b');
    });

    it('allows taking batches while iterating', () => {
      const store = create();
      for (let i = 0; i < 5; i++) store.open(i, i, 0, 10);
      const seen: unknown[] = [];
      for (const batch of store.values()) {
        seen.push(batch.key);
        store.take(batch);
      }
      expect(seen).toEqual([0, 1, 2, 3, 4]);
      expect(store.size).toBe(0);
      expect(store.oldest()).toBeUndefined();
    });

    it('keys any value as a Map does', () => {
      const store = create();
      const objectKey = {};
      store.open(Number.NaN, 1, 0, 10);
      store.open(objectKey, 2, 0, 10);
      store.open(undefined, 3, 0, 10);
      expect(store.get(Number.NaN)?.items).toEqual([1]);
      expect(store.get(objectKey)?.items).toEqual([2]);
      expect(store.get({})).toBeUndefined();
      expect(store.get(undefined)?.items).toEqual([3]);
    });
  });
}
