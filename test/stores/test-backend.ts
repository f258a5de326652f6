/**
 * A local backend for tests: it records every call the buffer makes, in order, copying what it is
 * handed (the staging ring's arrays are reused), and lets a test decide when writes and `durable()`
 * settle, or make them fail.
 */
import type { BackendContext, LocalBackend, RecoveredBatch, Staged } from '../../src/index.js';
import { deferred } from '../helpers.js';

/** One call the buffer made, as recorded. */
export type BackendCall<K, V> =
  | { op: 'open'; context: BackendContext }
  | { op: 'write'; firstSeq: number; entries: [K, V][]; keys: readonly K[] }
  | { op: 'durable' }
  | { op: 'close' }
  | { op: 'taken'; key: K; count: number; batchId: string }
  | { op: 'settled'; batchId: string }
  | { op: 'dropped'; key: K; count: number }
  | { op: 'trimmed'; batchId: string; count: number };

/** How the test backend behaves. */
export interface TestBackendOptions<K, V> {
  /** What `recover()` hands back. */
  recovered?: RecoveredBatch<K, V>[];
  /** Writes settle only when the test calls `resolveWrite(i)` / `rejectWrite(i)`. @default false */
  manualWrites?: boolean;
  /** `durable()` settles only when the test calls `resolveDurable()`. @default false */
  manualDurable?: boolean;
  /** Every write rejects with this error. */
  failWrites?: Error;
}

/** A recording local backend, and the handles a test steers it with. */
export function testBackend<K, V>(options: TestBackendOptions<K, V> = {}) {
  const calls: BackendCall<K, V>[] = [];
  const writes: ReturnType<typeof deferred<void>>[] = [];
  const durables: ReturnType<typeof deferred<void>>[] = [];
  const backend: LocalBackend<K, V> = {
    kind: 'local',
    open(context) {
      calls.push({ op: 'open', context });
    },
    recover() {
      return options.recovered ?? [];
    },
    write(staged: Staged<K, V>) {
      const entries: [K, V][] = [];
      for (let i = 0; i < staged.length; i++) entries.push([staged.keys[i] as K, staged.values[i] as V]);
      calls.push({ op: 'write', firstSeq: staged.firstSeq, entries, keys: staged.keys });
      if (options.failWrites !== undefined) return Promise.reject(options.failWrites);
      if (!options.manualWrites) return Promise.resolve();
      const write = deferred();
      writes.push(write);
      return write.promise;
    },
    durable() {
      calls.push({ op: 'durable' });
      if (!options.manualDurable) return Promise.resolve();
      const durable = deferred();
      durables.push(durable);
      return durable.promise;
    },
    close() {
      calls.push({ op: 'close' });
      return Promise.resolve();
    },
    taken(key, count, batchId) {
      calls.push({ op: 'taken', key, count, batchId });
    },
    settled(batchId) {
      calls.push({ op: 'settled', batchId });
    },
    dropped(key, count) {
      calls.push({ op: 'dropped', key, count });
    },
    trimmed(batchId, count) {
      calls.push({ op: 'trimmed', batchId, count });
    },
  };
  return {
    backend,
    calls,
    /** The calls of one kind, in order. */
    ops: <O extends BackendCall<K, V>['op']>(op: O) =>
      calls.filter((call): call is Extract<BackendCall<K, V>, { op: O }> => call.op === op),
    /** The order of the calls, by name. */
    names: () => calls.map((call) => call.op),
    resolveWrite: (index: number) => writes[index]?.resolve(),
    rejectWrite: (index: number, error: Error) => writes[index]?.reject(error),
    resolveDurable: (index: number) => durables[index]?.resolve(),
  };
}
