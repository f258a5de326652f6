import { describe, expect, it } from 'vitest';
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
    const store = (measureBytes: boolean, maxSizeJitter: number) =>
      createMemoryStore({ maxSize: 100, maxSizeJitter, measureBytes });
    expect(store(false, 0)).toBeInstanceOf(ListStore);
    expect(store(true, 0)).toBeInstanceOf(RecordStore);
    expect(store(false, 10)).toBeInstanceOf(RecordStore);
  });
});
