import { describe, expect, it } from 'vitest';
import { FakeFs } from './fake-fs.js';
import { openJournal, recovered, segmentFiles, staged } from './helpers.js';

describe('journal recovery', () => {
  it('hands back taken batches (with their ids) before untaken items, keys by their oldest unsettled item', async () => {
    const fs = new FakeFs();
    const first = openJournal(fs);
    expect(recovered(first)).toEqual([]);
    await first.write(
      staged([
        ['a', 'a1'],
        ['b', 'b1'],
        ['a', 'a2'],
        ['c', 'c1'],
      ]),
    );
    await first.write(
      staged([
        ['a', 'a3'],
        ['b', 'b2'],
      ]),
    );
    first.taken('a', 2, 'batch-a');
    first.taken('b', 1, 'batch-b');
    first.settled('batch-b');
    first.dropped('c', 1);
    await first.durable();
    // kill -9: nothing closed; the page cache keeps what was written.
    const second = openJournal(fs.kill());
    expect(recovered(second)).toEqual([
      { key: 'a', items: ['a1', 'a2'], batchId: 'batch-a' },
      { key: 'a', items: ['a3'], batchId: undefined },
      { key: 'b', items: ['b2'], batchId: undefined },
    ]);
    expect(second.stats()).toMatchObject({ recoveredItems: 4, truncatedBytes: 0, quarantinedBytes: 0 });
  });

  it('orders keys by their oldest unsettled item, not by first insert', async () => {
    const fs = new FakeFs();
    const first = openJournal(fs);
    await first.write(
      staged([
        ['x', 1],
        ['y', 2],
        ['x', 3],
      ]),
    );
    first.taken('x', 1, 'x-1');
    first.settled('x-1');
    await first.durable();
    const second = openJournal(fs.kill());
    expect(recovered(second).map((batch) => batch.key)).toEqual(['y', 'x']);
  });

  it('keeps batch ids across several restarts until the batch settles, and then forgets it', async () => {
    const fs = new FakeFs();
    const first = openJournal(fs);
    await first.write(staged([['k', 'v1']]));
    first.taken('k', 1, 'id-1');
    await first.durable();

    const secondDisk = fs.kill();
    const second = openJournal(secondDisk);
    expect(recovered(second)).toEqual([{ key: 'k', items: ['v1'], batchId: 'id-1' }]);
    await second.write(staged([['k', 'v2']]));
    await second.durable();

    const thirdDisk = secondDisk.kill();
    const third = openJournal(thirdDisk);
    expect(recovered(third)).toEqual([
      { key: 'k', items: ['v1'], batchId: 'id-1' },
      { key: 'k', items: ['v2'], batchId: undefined },
    ]);
    third.settled('id-1');
    await third.durable();

    const fourth = openJournal(thirdDisk.kill());
    expect(recovered(fourth)).toEqual([{ key: 'k', items: ['v2'], batchId: undefined }]);
  });

  it('recovered items are not written again; new items follow them; settling them all empties the directory', async () => {
    const fs = new FakeFs();
    const first = openJournal(fs);
    await first.write(
      staged([
        ['k', 'old-1'],
        ['k', 'old-2'],
      ]),
    );
    first.taken('k', 1, 'first-batch');
    await first.durable();

    const disk = fs.kill();
    const second = openJournal(disk);
    expect(recovered(second)).toEqual([
      { key: 'k', items: ['old-1'], batchId: 'first-batch' },
      { key: 'k', items: ['old-2'], batchId: undefined },
    ]);
    const before = second.stats().bytesWritten;
    await second.write(staged([['k', 'new-1']]));
    expect(second.stats().itemsWritten).toBe(1);
    expect(second.stats().bytesWritten).toBeGreaterThan(before);

    const thirdDisk = disk.kill();
    const third = openJournal(thirdDisk);
    expect(recovered(third)).toEqual([
      { key: 'k', items: ['old-1'], batchId: 'first-batch' },
      { key: 'k', items: ['old-2', 'new-1'], batchId: undefined },
    ]);
    third.settled('first-batch');
    third.taken('k', 2, 'second-batch');
    third.settled('second-batch');
    await third.close();
    expect(segmentFiles(thirdDisk)).toEqual([]);
    expect(thirdDisk.readdirSync('/journal')).toEqual([]);
  });
});

describe('journal recovery across segments', () => {
  it('settles recovered items held in an older segment when the newest one holds only records about them', async () => {
    const fs = new FakeFs();
    const first = openJournal<string, string>(fs, { segmentBytes: 4096 });
    const pad = 'x'.repeat(300);
    for (let turn = 0; turn < 16; turn++) await first.write(staged([['k', `${turn}-${pad}`]]));
    await first.durable();
    // A second run only takes: its segment holds a record, no items.
    const secondDisk = fs.kill();
    const second = openJournal<string, string>(secondDisk, { segmentBytes: 4096 });
    expect(recovered(second)[0]!.items).toHaveLength(16);
    second.taken('k', 4, 'four');
    await second.durable();

    const thirdDisk = secondDisk.kill();
    expect(segmentFiles(thirdDisk).length).toBeGreaterThanOrEqual(3);
    const third = openJournal<string, string>(thirdDisk, { segmentBytes: 4096 });
    expect(recovered(third).map((batch) => [batch.batchId, batch.items.length])).toEqual([
      ['four', 4],
      [undefined, 12],
    ]);
    third.settled('four');
    third.taken('k', 12, 'rest');
    third.settled('rest');
    await third.close();
    expect(thirdDisk.readdirSync('/journal')).toEqual([]);
  });
});
