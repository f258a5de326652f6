import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalError, journal } from '../../src/journal/index.js';

const fixture = fileURLToPath(new URL('./fixtures/hold-journal.ts', import.meta.url));
const context = { maxSize: 100, interval: 1000, partitions: 1 };
const directories: string[] = [];
/** Linux tells the boot id; the lock records it so that a reboot frees every lock. */
const hasBootId = existsSync('/proc/sys/kernel/random/boot_id');

function temporaryDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'data-buffer-journal-'));
  directories.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts the fixture and resolves once it holds the lock, with its pid. */
function holdInChild(dir: string, count: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, String(count), 'process'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const ready = new Promise<number>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      const match = /ready (\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('exit', () => reject(new Error(`the fixture exited early: ${stderr}`)));
  });
  return { child, ready, exited };
}

describe('journal directory lock', () => {
  it('refuses a second journal on the same directory in this process, until the first closes', async () => {
    const dir = temporaryDir();
    const first = journal({ dir });
    first.open(context);
    const second = journal({ dir });
    expect(() => second.open(context)).toThrow(JournalError);
    expect(() => second.open(context)).toThrow(/already open in this process/);
    await first.close();
    const third = journal({ dir });
    third.open(context);
    await third.close();
  });

  it('refuses a directory a live process holds; takes it over once that process was killed with SIGKILL', async () => {
    const dir = temporaryDir();
    const { child, ready, exited } = holdInChild(dir, 250);
    const pid = await ready;
    let thrown: unknown;
    try {
      journal({ dir }).open(context);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(JournalError);
    expect(thrown).toMatchObject({ code: 'ERR_JOURNAL_LOCKED' });
    expect((thrown as Error).message).toContain(`in use by process ${pid}`);

    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(readFileSync(path.join(dir, 'LOCK'), 'utf8')).toMatch(new RegExp(`^${pid}\\n`));

    const backend = journal<string, string>({ dir });
    backend.open(context);
    // What the killed process had written is all there, in order, per key.
    const batches = [...backend.recover()];
    expect(batches.map((batch) => batch.key)).toEqual(['key-0', 'key-1', 'key-2', 'key-3', 'key-4']);
    expect(batches.flatMap((batch) => batch.items)).toHaveLength(250);
    expect(batches[1]!.items.slice(0, 3)).toEqual(['item-1', 'item-6', 'item-11']);
    expect(readFileSync(path.join(dir, 'LOCK'), 'utf8')).toMatch(new RegExp(`^${process.pid}\\n`));
    await backend.close();
  });

  it.runIf(hasBootId)('takes over a lock of a pid that is not running, and a lock cut short', async () => {
    const dir = temporaryDir();
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // Pids are below 2^22 on Linux: this one cannot be running.
    writeFileSync(path.join(dir, 'LOCK'), `${2 ** 22 + 17}\n${bootId}\n`);
    const first = journal({ dir });
    first.open(context);
    await first.close();
    writeFileSync(path.join(dir, 'LOCK'), '12');
    const second = journal({ dir });
    second.open(context);
    await second.close();
  });

  it.runIf(hasBootId)(
    'treats a lock from before a reboot as stale even when its pid is running again',
    async () => {
      const dir = temporaryDir();
      writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}\nan-earlier-boot\n`);
      const backend = journal({ dir });
      backend.open(context);
      await backend.close();
    },
  );
});
