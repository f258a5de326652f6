/**
 * The behaviour every local backend (the `store` option's `kind: 'local'`) must have, as the buffer
 * relies on it: shared by the test backend and the journal. A backend that keeps items across a
 * restart passes `reopen` (a new backend on what the last one left, as after `kill -9`), and the rows
 * about recovery run for it.
 */
import { describe, expect, it } from 'vitest';
import type { LocalBackend, RecoveredBatch, Staged } from '../../src/index.js';

/** How to make the backend under test. */
export interface LocalBackendFactory {
  /** A fresh backend, on nothing an earlier one left. */
  create(): LocalBackend<string, number> | Promise<LocalBackend<string, number>>;
  /** A new backend on what `previous` left (it is abandoned, as after kill -9), for durable backends. */
  reopen?(previous: LocalBackend<string, number>): LocalBackend<string, number>;
}

const CONTEXT = { maxSize: 100, interval: 1000, partitions: 1 };

function staged(entries: ReadonlyArray<readonly [string, number]>): Staged<string, number> {
  return {
    length: entries.length,
    keys: entries.map(([key]) => key),
    values: entries.map(([, value]) => value),
    firstSeq: 0,
  };
}

function plain(batches: Iterable<RecoveredBatch<string, number>>) {
  return [...batches].map(({ key, items, batchId }) => ({ key, items: [...items], batchId }));
}

/** Registers the conformance tests for the local backend made by `factory`. */
export function describeLocalBackendConformance(name: string, factory: LocalBackendFactory): void {
  const opened = async () => {
    const backend = await factory.create();
    backend.open(CONTEXT);
    return backend;
  };

  describe(`${name} conforms to LocalBackend`, () => {
    it("is of kind 'local', with every method the buffer calls", async () => {
      const backend = await factory.create();
      expect(backend.kind).toBe('local');
      for (const method of [
        'open',
        'write',
        'durable',
        'close',
        'recover',
        'taken',
        'settled',
        'dropped',
        'trimmed',
      ]) {
        expect(typeof (backend as unknown as Record<string, unknown>)[method], method).toBe('function');
      }
    });

    it('recovers nothing when new; write, durable and close resolve', async () => {
      const backend = await opened();
      expect(plain(backend.recover())).toEqual([]);
      await expect(backend.write(staged([['a', 1]]))).resolves.toBeUndefined();
      await expect(backend.durable()).resolves.toBeUndefined();
      backend.taken('a', 1, 'b1');
      backend.settled('b1');
      await expect(backend.close()).resolves.toBeUndefined();
    });

    it('accepts the bookkeeping calls in any order the buffer makes them, including about nothing', async () => {
      const backend = await opened();
      backend.recover();
      void backend.write(
        staged([
          ['a', 1],
          ['a', 2],
          ['b', 3],
        ]),
      );
      backend.taken('a', 2, 'b1');
      backend.trimmed('b1', 1);
      backend.dropped('b', 1);
      backend.settled('b1');
      // Nothing left to take, trim, drop or settle: ignored, not an error.
      backend.taken('a', 1, 'b2');
      backend.trimmed('b9', 1);
      backend.dropped('z', 1);
      backend.settled('b9');
      await backend.durable();
      await backend.close();
    });

    it('reads `staged` before write returns (the ring is reused)', async () => {
      if (factory.reopen === undefined) return;
      const backend = await opened();
      const ring = staged([['a', 1]]);
      const written = backend.write(ring);
      (ring.keys as string[])[0] = 'z';
      (ring.values as number[])[0] = 99;
      await written;
      await backend.durable();
      const after = factory.reopen(backend);
      after.open(CONTEXT);
      expect(plain(after.recover())).toEqual([{ key: 'a', items: [1], batchId: undefined }]);
      await after.close();
    });

    it('hands back, after a restart, exactly what was not settled: per key, taken batches with their ids, then untaken items', async () => {
      if (factory.reopen === undefined) return;
      const backend = await opened();
      void backend.write(
        staged([
          ['a', 1],
          ['b', 2],
          ['a', 3],
          ['a', 4],
          ['c', 5],
          ['a', 6],
          ['b', 7],
        ]),
      );
      backend.taken('a', 2, 'a-1'); // a: 1, 3
      backend.taken('a', 1, 'a-2'); // a: 4
      backend.settled('a-2');
      backend.taken('b', 2, 'b-1'); // b: 2, 7
      backend.trimmed('b-1', 1); // 2 dropped from the taken batch
      backend.dropped('c', 1); // 5
      await backend.durable();
      const after = factory.reopen(backend);
      after.open(CONTEXT);
      expect(plain(after.recover())).toEqual([
        { key: 'a', items: [1, 3], batchId: 'a-1' },
        { key: 'a', items: [6], batchId: undefined },
        { key: 'b', items: [7], batchId: 'b-1' },
      ]);
      // The recovered state goes on: settling it leaves nothing for the next run.
      after.settled('a-1');
      after.settled('b-1');
      after.taken('a', 1, 'a-3');
      after.settled('a-3');
      await after.durable();
      const last = factory.reopen(after);
      last.open(CONTEXT);
      expect(plain(last.recover())).toEqual([]);
      await last.close();
    });
  });
}
