/**
 * One process per journal directory: a lock file, `LOCK`, holding the owner's pid. It is created
 * with its content in one step (written to a private file, then hard-linked into place, which fails
 * if `LOCK` exists), so a reader never sees an empty lock. It holds the owner's pid and the machine's
 * boot id. A lock whose pid is not a live process, or that was written before the machine restarted
 * (pids are reused after a reboot), is stale and taken over.
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { JournalError } from './errors.js';
import { type JournalFs, REAL_FS } from './fs.js';

const LOCK = 'LOCK';

/** Directories locked by journals of this process (shared by the package's ESM and CJS builds). */
const LOCKS = Symbol.for('data-buffer.journal.locks');
const registry = globalThis as Record<symbol, unknown>;
if (!(registry[LOCKS] instanceof Set)) registry[LOCKS] = new Set<string>();
const heldOnDisk = registry[LOCKS] as Set<string>;
/** For file systems other than the real one (fakes in tests): held directories per file system. */
const heldElsewhere = new WeakMap<JournalFs, Set<string>>();

function heldIn(fs: JournalFs): Set<string> {
  if ((fs as unknown as Record<symbol, unknown>)[REAL_FS] === true) return heldOnDisk;
  let held = heldElsewhere.get(fs);
  if (held === undefined) {
    held = new Set();
    heldElsewhere.set(fs, held);
  }
  return held;
}

/** A held lock. */
export interface Lock {
  /** Removes the lock file. */
  release(): void;
}

/**
 * Takes the lock of `dir`.
 * @throws JournalError `ERR_JOURNAL_LOCKED` when a live process, or another journal of this
 * process, holds it.
 */
export function acquireLock(fs: JournalFs, dir: string): Lock {
  const key = path.resolve(dir);
  const held = heldIn(fs);
  const file = path.join(dir, LOCK);
  if (held.has(key)) {
    throw new JournalError(
      'ERR_JOURNAL_LOCKED',
      `The journal in ${dir} is already open in this process (pid ${process.pid})`,
    );
  }
  const mine = path.join(dir, `${LOCK}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(mine, Buffer.from(`${process.pid}\n${bootId()}\n`));
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(mine, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
      }
      const owner = readOwner(fs, file);
      if (owner !== undefined && owner !== process.pid && alive(owner)) {
        throw new JournalError(
          'ERR_JOURNAL_LOCKED',
          `The journal in ${dir} is in use by process ${owner} (lock file ${file}); one process per directory`,
        );
      }
      // Stale: its process is gone (or it is our own pid from an earlier life, as pid 1 in a
      // container). Move it aside, atomically, so that two processes taking over do not both win.
      const aside = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      fs.unlinkSync(aside);
    }
  } finally {
    fs.unlinkSync(mine);
  }
  held.add(key);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      held.delete(key);
      try {
        fs.unlinkSync(file);
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
}

/**
 * The pid in a lock file, when the lock may still be held: `undefined` for a lock written before the
 * machine restarted (another boot id), or cut short (its file data was not synced before a power
 * loss; a running system never shows a partial lock, as it is linked into place whole).
 */
function readOwner(fs: JournalFs, file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file).toString('utf8');
  } catch {
    return undefined;
  }
  const match = /^(\d+)\n([^\n]*)\n$/.exec(text);
  if (match === null) return undefined;
  const pid = Number(match[1]);
  if (match[2] !== bootId()) return undefined;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

let cachedBootId: string | undefined;

/** This boot of the machine (Linux); empty elsewhere, where pids alone decide. */
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

/** Whether a process with this pid exists (`EPERM`: it does, under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
