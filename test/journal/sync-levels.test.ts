import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { journal } from '../../src/journal/index.js';
import { FakeFs } from './fake-fs.js';
import { openJournal, recovered, staged } from './helpers.js';

const context = { maxSize: 100, interval: 1000, partitions: 1 };

describe('journal sync levels', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("'none' writes lazily: nothing until durable(), 1 MiB or close", async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, string>(fs, { sync: 'none' });
    await backend.write(staged([['k', 'v']]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fs.calls.write ?? 0).toBe(0);
    await backend.durable();
    expect(fs.calls.write).toBe(1);
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 20; i++) await backend.write(staged([['k', big]]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fs.calls.write).toBe(2);
    await backend.close();
    expect(recovered(openJournal<string, string>(fs.kill()))[0]!.items).toHaveLength(21);
    expect(fs.calls.fdatasync ?? 0).toBe(0);
  });

  it("'process' writes each turn and never syncs", async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, string>(fs, { sync: 'process' });
    await backend.write(staged([['k', 'a']]));
    expect(fs.calls.write).toBe(1);
    await backend.durable();
    await backend.close();
    expect(fs.calls.fdatasync ?? 0).toBe(0);
    expect(fs.calls.syncDir ?? 0).toBe(0);
  });

  it("'interval' syncs every syncInterval ms while there is something new, and publishes each sync", async () => {
    vi.useFakeTimers();
    const fs = new FakeFs();
    const syncs: Array<{ duration: number }> = [];
    const listener = (message: unknown) => syncs.push(message as { duration: number });
    subscribe('data-buffer:journal:sync', listener);
    try {
      const backend = openJournal<string, string>(fs, { sync: 'interval', syncInterval: 100 });
      const written = backend.write(staged([['k', 'a']]));
      await vi.advanceTimersByTimeAsync(1);
      await written;
      expect(fs.calls.fdatasync ?? 0).toBe(0);
      await vi.advanceTimersByTimeAsync(100);
      expect(fs.calls.fdatasync).toBe(1);
      // Nothing new: no sync.
      await vi.advanceTimersByTimeAsync(300);
      expect(fs.calls.fdatasync).toBe(1);
      void backend.write(staged([['k', 'b']]));
      await vi.advanceTimersByTimeAsync(100);
      expect(fs.calls.fdatasync).toBe(2);
      expect(syncs).toHaveLength(2);
      expect(backend.stats()).toMatchObject({ syncs: 2 });
      const closed = backend.close();
      await vi.advanceTimersByTimeAsync(1);
      await closed;
    } finally {
      unsubscribe('data-buffer:journal:sync', listener);
    }
  });

  it("'always' groups many concurrent durable() calls into few fdatasyncs", async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, number>(fs, { sync: 'always' });
    const waits: Promise<void>[] = [];
    for (let turn = 0; turn < 10; turn++) {
      void backend.write(
        staged(Array.from({ length: 100 }, (_, i) => ['k', turn * 100 + i] as [string, number])),
      );
      for (let producer = 0; producer < 50; producer++) waits.push(backend.durable());
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(waits);
    expect(fs.calls.fdatasync).toBeLessThanOrEqual(10);
    const stats = backend.stats();
    expect(stats.itemsWritten).toBe(1000);
    expect(stats.syncs).toBe(fs.calls.fdatasync);
    expect(stats.syncMax).toBeGreaterThanOrEqual(stats.syncP50);
  });

  it("'always' resolves a sync's waiters over turns, and syncs what the first ones wrote once the last is resolved", async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, number>(fs, { sync: 'always' });
    await backend.write(staged([['k', 0]]));
    // 40 waiters on one sync: the first slice (16) resumes on its own turn, writes again and waits
    // again; the other 24 do nothing when they resume. The second sync must still come.
    const order: string[] = [];
    const producers = Array.from({ length: 40 }, async (_, producer) => {
      await backend.durable();
      order.push(`resumed ${producer}`);
      if (producer >= 16) return;
      await backend.write(staged([['k', producer + 1]]));
      await backend.durable();
      order.push(`synced again ${producer}`);
    });
    await Promise.all(producers);
    expect(order.slice(0, 16)).toEqual(Array.from({ length: 16 }, (_, i) => `resumed ${i}`));
    // The rest resumed on a later turn, after the first 16 had written: before any second sync.
    expect(order.slice(16, 40).every((entry) => entry.startsWith('resumed'))).toBe(true);
    expect(fs.calls.fdatasync).toBe(2);
    expect(backend.stats().itemsWritten).toBe(17);
    await backend.close();
  });

  it("works on the real file system ('always', rotation, restart)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'data-buffer-journal-'));
    try {
      const first = journal<string, { n: number; pad?: string }>({ dir, sync: 'always', segmentBytes: 4096 });
      first.open(context);
      for (let turn = 0; turn < 30; turn++) {
        await first.write(
          staged(
            Array.from(
              { length: 10 },
              (_, i) =>
                [`k${i % 3}`, { n: turn * 10 + i, pad: 'p'.repeat(40) }] as [
                  string,
                  { n: number; pad: string },
                ],
            ),
          ),
        );
      }
      first.taken('k0', 40, 'taken-k0');
      first.settled('taken-k0');
      first.taken('k1', 5, 'open-k1');
      await first.durable();
      expect(first.stats().syncs).toBeGreaterThan(0);
      const { segments, segmentsDeleted } = first.stats();
      expect(segments + segmentsDeleted).toBeGreaterThanOrEqual(3);
      expect(readdirSync(dir).filter((name) => name.endsWith('.seg'))).toHaveLength(segments);
      await first.close();

      const second = journal<string, { n: number; pad?: string }>({
        dir,
        sync: 'always',
        segmentBytes: 4096,
      });
      second.open(context);
      const batches = [...second.recover()];
      expect(batches[0]).toMatchObject({ key: 'k1', batchId: 'open-k1' });
      expect(batches[0]!.items.map((item) => item.n)).toEqual([1, 4, 7, 11, 14]);
      const count = batches.reduce((sum, batch) => sum + batch.items.length, 0);
      expect(count).toBe(300 - 40);
      expect(second.stats().recoveredItems).toBe(260);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
