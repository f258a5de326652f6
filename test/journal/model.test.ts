/**
 * Model-based: random writes, takes, settles, drops and kill-and-reopen steps against a plain model
 * of per-key lines. After every reopen, `recover()` must hand back exactly what the model says is
 * unsettled, in the model's order, with the model's batch ids; segment deletion must never take an
 * unsettled item with it; and once everything settled, a closed journal leaves an empty directory.
 */
import { describe, expect, it } from 'vitest';
import type { Journal } from '../../src/journal/index.js';
import { FakeFs, random } from './fake-fs.js';
import { openJournal, recovered, segmentFiles, staged } from './helpers.js';

interface ModelKey {
  batches: Array<{ id: string; items: string[] }>;
  untaken: string[];
}

const KEYS = ['a', 'b', 'c', 'd'];

function expected(model: Map<string, ModelKey>) {
  const live = [...model].filter(([, line]) => line.batches.length > 0 || line.untaken.length > 0);
  const oldest = ([, line]: [string, ModelKey]) =>
    Math.min(
      ...[...line.batches.flatMap((b) => b.items), ...line.untaken].map((item) => Number.parseInt(item, 10)),
    );
  live.sort((x, y) => oldest(x) - oldest(y));
  return live.flatMap(([key, line]) => [
    ...line.batches.map((batch) => ({ key, items: batch.items, batchId: batch.id as string | undefined })),
    ...(line.untaken.length > 0 ? [{ key, items: line.untaken, batchId: undefined }] : []),
  ]);
}

describe('journal against a model', () => {
  it('hands back exactly the unsettled items after every restart (300 random histories)', async () => {
    let totalCompactions = 0;
    for (let seed = 0; seed < 300; seed++) {
      const rand = random(seed + 77);
      const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
      const options = { segmentBytes: 4096, sync: pick(['none', 'process', 'interval', 'always'] as const) };
      let fs = new FakeFs();
      let backend: Journal<string, string> = openJournal<string, string>(fs, options);
      const model = new Map<string, ModelKey>(KEYS.map((key) => [key, { batches: [], untaken: [] }]));
      let nextId = 0;
      let compactions = 0;
      let nextBatch = 0;
      for (let step = 0; step < 120; step++) {
        const draw = rand();
        const key = pick(KEYS);
        const line = model.get(key)!;
        if (draw < 0.35) {
          const entries: Array<[string, string]> = [];
          for (let i = 0, n = 1 + Math.floor(rand() * 12); i < n; i++) {
            const k = pick(KEYS);
            // About 130 bytes an item: segments of 4 KiB rotate often, and compaction comes into play.
            const item = `${nextId++}:`.padEnd(120, '.');
            entries.push([k, item]);
            model.get(k)!.untaken.push(item);
          }
          void backend.write(staged(entries));
        } else if (draw < 0.55 && line.untaken.length > 0) {
          const count = 1 + Math.floor(rand() * line.untaken.length);
          const id = `s${seed}-b${nextBatch++}`;
          line.batches.push({ id, items: line.untaken.splice(0, count) });
          backend.taken(key, count, id);
        } else if (draw < 0.75) {
          const owners = [...model.values()].filter((l) => l.batches.length > 0);
          if (owners.length > 0) {
            const owner = pick(owners);
            const [batch] = owner.batches.splice(Math.floor(rand() * owner.batches.length), 1);
            backend.settled(batch!.id);
          }
        } else if (draw < 0.8 && line.batches.length > 0) {
          // onFull: 'drop-oldest' drops the oldest items of a taken, unstarted batch (not all of them).
          const batch = line.batches[Math.floor(rand() * line.batches.length)]!;
          if (batch.items.length > 1) {
            const count = 1 + Math.floor(rand() * (batch.items.length - 1));
            batch.items.splice(0, count);
            backend.trimmed(batch.id, count);
          }
        } else if (draw < 0.85 && line.untaken.length > 0) {
          const count = 1 + Math.floor(rand() * line.untaken.length);
          line.untaken.splice(0, count);
          backend.dropped(key, count);
        } else if (draw < 0.95) {
          // kill -9 once what was asked for is written, then start again on the same directory.
          await backend.durable();
          compactions += backend.stats().compactions;
          fs = fs.kill();
          backend = openJournal<string, string>(fs, options);
          expect(recovered(backend), `seed ${seed} step ${step}`).toEqual(expected(model));
        } else {
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      // Settle everything (the next run would), close: nothing is left on disk.
      for (const [key, line] of model) {
        for (const batch of line.batches.splice(0)) backend.settled(batch.id);
        if (line.untaken.length > 0) backend.dropped(key, line.untaken.splice(0).length);
      }
      await backend.close();
      expect(segmentFiles(fs), `seed ${seed}`).toEqual([]);
      totalCompactions += compactions + backend.stats().compactions;
    }
    // The histories reach compaction (copying the oldest segment's few live items forward).
    expect(totalCompactions).toBeGreaterThan(30);
  });
});
