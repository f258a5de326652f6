import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { FakeFs, random } from './fake-fs.js';
import { openJournal, recovered, segmentFiles, staged } from './helpers.js';

const pad = 'x'.repeat(200);

/** Lets the journal's loop finish what it queued (deletions run after the writes that allow them). */
async function idle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Writes `turns` turns of 5 items under key `k`, each about 1 KiB in all. */
async function fill(backend: ReturnType<typeof openJournal<string, string>>, turns: number, from = 0) {
  for (let turn = from; turn < from + turns; turn++) {
    await backend.write(
      staged(Array.from({ length: 5 }, (_, i) => ['k', `${turn}-${i}-${pad}`] as [string, string])),
    );
  }
}

describe('journal segments', () => {
  it('rotates at segmentBytes and deletes segments once all their items settled', async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, string>(fs, { segmentBytes: 4096 });
    await fill(backend, 20);
    const files = segmentFiles(fs);
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const name of files) expect(fs.readFileSync(`/journal/${name}`).length).toBeLessThan(4096 + 1200);
    expect(backend.stats().segments).toBe(files.length);

    backend.taken('k', 50, 'first-half');
    backend.settled('first-half');
    await backend.durable();
    await fill(backend, 1, 20);
    await idle();
    const afterHalf = segmentFiles(fs);
    expect(afterHalf.length).toBeLessThan(files.length);
    expect(afterHalf[0]! > files[0]!).toBe(true);

    backend.taken('k', 55, 'rest');
    backend.settled('rest');
    await backend.durable();
    await fill(backend, 1, 21);
    await idle();
    // All but the segment being written are gone: disk is what is buffered plus one segment.
    expect(segmentFiles(fs)).toHaveLength(1);
    expect(backend.stats().segmentsDeleted).toBe(files.length + 1 - 1);
    await backend.close();
    expect(recovered(openJournal<string, string>(fs.kill()))).toEqual([
      { key: 'k', items: Array.from({ length: 5 }, (_, i) => `21-${i}-${pad}`), batchId: undefined },
    ]);
  });

  it('compacts: a long-lived batch in the oldest segment is copied forward instead of holding every later segment', async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, string>(fs, { segmentBytes: 4096 });
    await backend.write(staged([['slow', 'held']]));
    backend.taken('slow', 1, 'slow-batch');
    await backend.write(staged([['idle', 'never taken']]));
    for (let turn = 0; turn < 60; turn++) {
      await fill(backend, 1, turn);
      backend.taken('k', 5, `k-${turn}`);
      backend.settled(`k-${turn}`);
    }
    await backend.durable();
    await idle();
    const stats = backend.stats();
    expect(stats.compactions).toBeGreaterThanOrEqual(1);
    expect(stats.segmentsDeleted).toBeGreaterThanOrEqual(10);
    // Disk: the two live items, plus the segment being written and the one before it.
    expect(segmentFiles(fs).length).toBeLessThanOrEqual(3);

    const disk = fs.kill();
    const second = openJournal<string, string>(disk, { segmentBytes: 4096 });
    expect(recovered(second)).toEqual([
      { key: 'slow', items: ['held'], batchId: 'slow-batch' },
      { key: 'idle', items: ['never taken'], batchId: undefined },
    ]);
    await second.write(staged([['idle', 'later']]));
    second.settled('slow-batch');
    second.taken('idle', 2, 'idle-batch');
    second.settled('idle-batch');
    await second.close();
    expect(disk.readdirSync('/journal')).toEqual([]);
  });

  it('reads copies and originals once when the process died between copying and deleting', async () => {
    const fs = new FakeFs();
    const images: FakeFs[] = [];
    const unlink = fs.unlink.bind(fs);
    fs.unlink = async (file: string) => {
      images.push(fs.kill());
      await unlink(file);
    };
    const backend = openJournal<string, string>(fs, { segmentBytes: 4096 });
    await backend.write(staged([['slow', 'held']]));
    backend.taken('slow', 1, 'slow-batch');
    for (let turn = 0; turn < 30; turn++) {
      await fill(backend, 1, turn);
      backend.taken('k', 5, `k-${turn}`);
      backend.settled(`k-${turn}`);
    }
    await backend.durable();
    await idle();
    expect(backend.stats().compactions).toBeGreaterThanOrEqual(1);
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) {
      const batches = recovered(openJournal<string, string>(image, { segmentBytes: 4096 }));
      expect(batches.filter((batch) => batch.key === 'slow')).toEqual([
        { key: 'slow', items: ['held'], batchId: 'slow-batch' },
      ]);
    }
  });

  it('deletes what an earlier run left once it settles in this one', async () => {
    const fs = new FakeFs();
    const first = openJournal<string, string>(fs, { segmentBytes: 4096 });
    await fill(first, 12);
    await first.durable();
    const disk = fs.kill();
    const second = openJournal<string, string>(disk, { segmentBytes: 4096 });
    const batches = recovered(second);
    expect(batches[0]!.items).toHaveLength(60);
    const old = segmentFiles(disk);
    second.taken('k', 60, 'recovered');
    second.settled('recovered');
    await second.close();
    expect(segmentFiles(disk).filter((name) => old.includes(name))).toEqual([]);
    expect(disk.readdirSync('/journal')).toEqual([]);
  });

  it("syncs the directory after creating and deleting segments ('always'), so a power loss keeps the new segment", async () => {
    const fs = new FakeFs();
    const events: unknown[] = [];
    const listener = (message: unknown) => events.push(message);
    subscribe('data-buffer:journal:segment', listener);
    try {
      const backend = openJournal<string, string>(fs, { sync: 'always', segmentBytes: 4096 });
      await backend.write(staged([['k', 'first']]));
      await backend.durable();
      expect(fs.calls.syncDir).toBe(1);
      expect(recovered(openJournal<string, string>(fs.powerLoss('none', random(1))))).toEqual([
        { key: 'k', items: ['first'], batchId: undefined },
      ]);
      backend.taken('k', 1, 'b');
      backend.settled('b');
      await fill(backend, 5);
      backend.taken('k', 25, 'c');
      backend.settled('c');
      await backend.durable();
      // Deleting runs after the writes that made it possible.
      for (let i = 0; i < 20 && events.length < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(events).toContainEqual({
        dir: '/journal',
        action: 'deleted',
        file: '/journal/000000000000.seg',
      });
      expect(events).toContainEqual({
        dir: '/journal',
        action: 'created',
        file: '/journal/000000000001.seg',
      });
      expect(fs.calls.syncDir).toBeGreaterThanOrEqual(3);
      const lost = fs.powerLoss('none', random(2));
      expect(segmentFiles(lost)).not.toContain('000000000000.seg');
    } finally {
      unsubscribe('data-buffer:journal:segment', listener);
    }
  });
});
