/**
 * Power loss on the fake file system: the machine stops after a random number of file-system calls
 * (calls after that never return), and the disk keeps unsynced bytes and names fully, partly or not
 * at all. What each sync level promises must hold on the disk that is left.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Journal, SyncLevel } from '../../src/journal/index.js';
import { FakeFs, type LossMode, random } from './fake-fs.js';
import { openJournal, recovered, staged } from './helpers.js';

interface Item {
  key: string;
  id: number;
}

const KEYS = ['a', 'b', 'c', 'd', 'e'];

/** Inserts turn by turn; tells `onWritten` / `onDurable` which ids a resolved promise covered. */
async function workload(
  backend: Journal<string, Item>,
  rand: () => number,
  next: () => Promise<void>,
  events: {
    written: (ids: number[]) => void;
    durable: (ids: number[]) => void;
    settled: (ids: number[]) => void;
  },
) {
  let id = 0;
  const batches = new Map<string, number[]>();
  const untaken = new Map<string, number[]>(KEYS.map((key) => [key, []]));
  for (let turn = 0; turn < 40; turn++) {
    const entries: Array<[string, Item]> = [];
    const count = 1 + Math.floor(rand() * 30);
    for (let i = 0; i < count; i++) {
      const key = KEYS[Math.floor(rand() * KEYS.length)]!;
      entries.push([key, { key, id, pad: 'p'.repeat(Math.floor(rand() * 200)) } as Item]);
      untaken.get(key)!.push(id++);
    }
    const ids = entries.map(([, item]) => item.id);
    const all = Array.from({ length: id }, (_, i) => i);
    backend.write(staged(entries)).then(
      () => events.written(ids),
      () => {},
    );
    // Several producers awaiting persisted() at once.
    for (let p = 0; p < 3; p++) {
      backend.durable().then(
        () => events.durable(all),
        () => {},
      );
    }
    if (rand() < 0.4) {
      const key = KEYS[Math.floor(rand() * KEYS.length)]!;
      const line = untaken.get(key)!;
      const taken = line.splice(0, Math.ceil(rand() * line.length));
      if (taken.length > 0) {
        backend.taken(key, taken.length, `t${turn}`);
        batches.set(`t${turn}`, taken);
      }
    }
    if (rand() < 0.3 && batches.size > 0) {
      const [batchId, ids] = [...batches][0]!;
      batches.delete(batchId);
      backend.settled(batchId);
      events.settled(ids);
    }
    await next();
  }
}

function recoveredIds(fs: FakeFs): Set<number> {
  const backend = openJournal<string, Item>(fs, { segmentBytes: 4096 });
  const ids = new Set<number>();
  for (const batch of recovered(backend)) {
    let last = -1;
    for (const item of batch.items) {
      expect(item.key).toBe(batch.key);
      expect(item.id).toBeGreaterThan(last);
      last = item.id;
      ids.add(item.id);
    }
  }
  return ids;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('journal under power loss', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(['none', 'partial', 'all'] as LossMode[])(
    "'always' loses nothing durable() acknowledged (loss mode %s, 60 crash points)",
    async (mode) => {
      let lostUnacknowledged = 0;
      for (let seed = 0; seed < 60; seed++) {
        const rand = random(seed * 7 + 1);
        const fs = new FakeFs();
        const backend = openJournal<string, Item>(fs, { sync: 'always', segmentBytes: 4096 });
        fs.haltAfter = Math.floor(rand() * 120);
        const acknowledged = new Set<number>();
        const written = new Set<number>();
        const settled = new Set<number>();
        await workload(backend, rand, turn, {
          written: (ids) => {
            for (const id of ids) written.add(id);
          },
          durable: (ids) => {
            for (const id of ids) acknowledged.add(id);
          },
          settled: (ids) => {
            for (const id of ids) settled.add(id);
          },
        });
        const survivors = recoveredIds(fs.powerLoss(mode, rand));
        for (const id of acknowledged) if (!settled.has(id)) expect(survivors.has(id)).toBe(true);
        for (const id of written) if (!acknowledged.has(id) && !survivors.has(id)) lostUnacknowledged++;
      }
      // The fake is not vacuous: without a sync, written bytes can vanish.
      if (mode === 'none') expect(lostUnacknowledged).toBeGreaterThan(0);
    },
  );

  it("'interval' loses at most what was written after the last finished sync", async () => {
    vi.useFakeTimers();
    let lostAfterSync = 0;
    for (let seed = 0; seed < 100; seed++) {
      const rand = random(seed * 13 + 5);
      const fs = new FakeFs();
      const backend = openJournal<string, Item>(fs, {
        sync: 'interval',
        syncInterval: 50,
        segmentBytes: 4096,
      });
      const written = new Set<number>();
      const settled = new Set<number>();
      let synced = new Set<number>();
      const fdatasync = fs.fdatasync.bind(fs);
      fs.fdatasync = async (fd: number) => {
        const covered = new Set(written);
        await fdatasync(fd);
        synced = covered;
      };
      fs.haltAfter = Math.floor(rand() * 100);
      const next = async () => {
        await vi.advanceTimersByTimeAsync(Math.floor(rand() * 40));
      };
      await workload(backend, rand, next, {
        written: (ids) => {
          for (const id of ids) written.add(id);
        },
        durable: () => {},
        settled: (ids) => {
          for (const id of ids) settled.add(id);
        },
      });
      const survivors = recoveredIds(fs.powerLoss(rand() < 0.5 ? 'none' : 'partial', rand));
      for (const id of synced) if (!settled.has(id)) expect(survivors.has(id)).toBe(true);
      for (const id of written) if (!synced.has(id) && !survivors.has(id)) lostAfterSync++;
      // The machine stopped: its journal's sync timer goes with it.
      vi.clearAllTimers();
    }
    expect(lostAfterSync).toBeGreaterThan(0);
  });

  it.each(['process', 'interval', 'always'] as SyncLevel[])(
    "'%s' keeps everything write() acknowledged when only the process dies (kill -9)",
    async (sync) => {
      for (let seed = 0; seed < 30; seed++) {
        const rand = random(seed + 1000);
        const fs = new FakeFs();
        const backend = openJournal<string, Item>(fs, { sync, segmentBytes: 4096 });
        fs.haltAfter = Math.floor(rand() * 80);
        const written = new Set<number>();
        const settled = new Set<number>();
        await workload(backend, rand, turn, {
          written: (ids) => {
            for (const id of ids) written.add(id);
          },
          durable: () => {},
          settled: (ids) => {
            for (const id of ids) settled.add(id);
          },
        });
        const survivors = recoveredIds(fs.kill());
        for (const id of written) if (!settled.has(id)) expect(survivors.has(id)).toBe(true);
      }
    },
  );
});
