import type { Staged } from '../../src/backend.js';
import { type Journal, type JournalOptions, journal } from '../../src/journal/index.js';
import { FakeFs } from './fake-fs.js';

/** A stretch of inserts, as the buffer's staging ring hands it over. */
export function staged<K, V>(entries: ReadonlyArray<readonly [K, V]>): Staged<K, V> {
  return {
    length: entries.length,
    keys: entries.map(([key]) => key),
    values: entries.map(([, value]) => value),
    firstSeq: 0,
  };
}

/** What `recover()` returned, as plain data. */
export function recovered<K, V>(backend: Journal<K, V>) {
  return [...backend.recover()].map(({ key, items, batchId }) => ({ key, items, batchId }));
}

/** Opens a journal in `/journal` on `fs` (a fresh fake by default). */
export function openJournal<K = string, V = unknown>(
  fs: FakeFs = new FakeFs(),
  options: Partial<JournalOptions<K, V>> = {},
): Journal<K, V> {
  const backend = journal<K, V>({ dir: '/journal', fs, ...options });
  backend.open({ maxSize: 100, interval: 1000, partitions: 1 });
  return backend;
}

/** Segment files in `/journal`. */
export function segmentFiles(fs: FakeFs): string[] {
  return fs.readdirSync('/journal').filter((name) => name.endsWith('.seg'));
}
