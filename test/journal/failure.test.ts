import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { JournalError } from '../../src/journal/index.js';
import { FakeFs } from './fake-fs.js';
import { openJournal, staged } from './helpers.js';

describe('journal failures (fail-stop)', () => {
  it.each(['EIO', 'ENOSPC'])(
    'a failed write (%s) rejects write and durable, fails inserts, and acknowledges nothing after',
    async (code) => {
      const fs = new FakeFs();
      const backend = openJournal<string, string>(fs);
      await backend.write(staged([['k', 'before']]));
      const failures: unknown[] = [];
      const listener = (message: unknown) => failures.push(message);
      subscribe('data-buffer:journal:failed', listener);
      try {
        fs.failNext('write', code);
        const failed = backend.write(staged([['k', 'lost']]));
        await expect(failed).rejects.toBeInstanceOf(JournalError);
        const error = await failed.catch((thrown: unknown) => thrown);
        expect(error).toMatchObject({ code: 'ERR_JOURNAL_FAILED', cause: { code } });
        expect((error as Error).message).toMatch(
          /failed to write \/journal\/000000000000\.seg .*nothing after this is acknowledged/,
        );
        expect(failures).toEqual([{ dir: '/journal', error }]);
        // The file system works again: the journal still refuses, since what the kernel dropped is unknown.
        await expect(backend.write(staged([['k', 'after']]))).rejects.toBe(error);
        await expect(backend.durable()).rejects.toBe(error);
        expect(() => backend.admit('k', 'next')).toThrow(error);
        expect(backend.stats().failed).toBe(1);
        backend.taken('k', 1, 'ignored');
        await expect(backend.close()).rejects.toBe(error);
        // The lock is released: the directory can be opened again, and what was written before is there.
        const next = openJournal<string, string>(fs);
        expect([...next.recover()].flatMap((batch) => batch.items)).toEqual(['before']);
      } finally {
        unsubscribe('data-buffer:journal:failed', listener);
      }
    },
  );

  it("never retries a failed fdatasync ('always')", async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, string>(fs, { sync: 'always' });
    await backend.write(staged([['k', 'v']]));
    fs.failNext('fdatasync');
    await expect(backend.durable()).rejects.toMatchObject({
      code: 'ERR_JOURNAL_FAILED',
      message: expect.stringMatching(/failed to fdatasync/),
    });
    const attempts = fs.calls.fdatasync;
    await expect(backend.write(staged([['k', 'w']]))).rejects.toMatchObject({ code: 'ERR_JOURNAL_FAILED' });
    await expect(backend.durable()).rejects.toMatchObject({ code: 'ERR_JOURNAL_FAILED' });
    await expect(backend.close()).rejects.toMatchObject({ code: 'ERR_JOURNAL_FAILED' });
    expect(fs.calls.fdatasync).toBe(attempts);
  });

  it('fails when a segment cannot be created, or the directory not synced', async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, string>(fs, { sync: 'interval' });
    fs.failNext('openSync', 'EACCES');
    await expect(backend.write(staged([['k', 'v']]))).rejects.toMatchObject({
      code: 'ERR_JOURNAL_FAILED',
      cause: { code: 'EACCES' },
    });
    const otherFs = new FakeFs();
    const other = openJournal<string, string>(otherFs, { sync: 'always' });
    otherFs.failNext('syncDir');
    await expect(other.write(staged([['k', 'v']]))).rejects.toMatchObject({
      code: 'ERR_JOURNAL_FAILED',
      message: expect.stringMatching(/failed to create/),
    });
  });

  it('rejects calls after close with ERR_JOURNAL_CLOSED', async () => {
    const backend = openJournal<string, string>();
    await backend.close();
    await expect(backend.write(staged([['k', 'v']]))).rejects.toMatchObject({ code: 'ERR_JOURNAL_CLOSED' });
    await expect(backend.durable()).rejects.toMatchObject({ code: 'ERR_JOURNAL_CLOSED' });
    expect(() => backend.open({ maxSize: 1, interval: 1, partitions: 1 })).toThrow(/already open/);
  });
});
