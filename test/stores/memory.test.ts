import { describe, expect, it } from 'vitest';
import { Appended } from '../../src/store.js';
import { createMemoryStore, ListStore, RecordStore } from '../../src/stores/memory.js';
import { describeStoreConformance } from './conformance.js';

describeStoreConformance('ListStore', ({ maxSize }) => new ListStore(maxSize), {
  countsBytes: false,
  jitter: false,
});
describeStoreConformance(
  'RecordStore',
  ({ maxSize, maxSizeJitter }) => new RecordStore(maxSize, maxSizeJitter),
  { countsBytes: true, jitter: true },
);

describe('createMemoryStore', () => {
  it('keeps plain lists only when batches need neither a byte count nor a limit of their own', () => {
    const store = (measureBytes: boolean, maxSizeJitter: number, maxBatchBytes = Number.POSITIVE_INFINITY) =>
      createMemoryStore({ maxSize: 100, maxSizeJitter, measureBytes, maxBatchBytes });
    expect(store(false, 0)).toBeInstanceOf(ListStore);
    expect(store(true, 0)).toBeInstanceOf(RecordStore);
    expect(store(false, 10)).toBeInstanceOf(RecordStore);
    expect(store(false, 0, 1000)).toBeInstanceOf(RecordStore);
  });
});

describe('RecordStore with a byte limit', () => {
  const { ADDED, OPENED, FULL, OVER } = Appended;

  it('is full once its bytes reach the limit', () => {
    const store = new RecordStore<string, number>(Number.POSITIVE_INFINITY, 0, 100);
    expect(store.append('k', 1, 40)).toBe(OPENED);
    expect(store.append('k', 2, 40)).toBe(ADDED);
    expect(store.append('k', 3, 20)).toBe(FULL);
    expect(store.take('k', (_key, items, bytes) => ({ items, bytes }))).toEqual({
      items: [1, 2, 3],
      bytes: 100,
    });
  });

  it('refuses, appending nothing, an item that would take a batch past the limit', () => {
    const store = new RecordStore<string, number>(Number.POSITIVE_INFINITY, 0, 100);
    store.append('k', 1, 60);
    expect(store.append('k', 2, 41)).toBe(OVER);
    expect(store.items('k')).toEqual([1]);
    store.take('k', () => undefined);
    expect(store.append('k', 2, 41)).toBe(OPENED);
  });

  it('takes an item larger than the limit as a full batch of its own', () => {
    const store = new RecordStore<string, number>(Number.POSITIVE_INFINITY, 0, 100);
    expect(store.append('k', 1, 500)).toBe(OPENED | FULL);
  });

  it('is full at maxSize items even below the byte limit', () => {
    const store = new RecordStore<string, number>(2, 0, 100);
    store.append('k', 1, 1);
    expect(store.append('k', 2, 1)).toBe(FULL);
  });
});
