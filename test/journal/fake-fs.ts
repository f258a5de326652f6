/**
 * An in-memory {@link JournalFs} that models what a power loss keeps. Each file has its current bytes
 * (what the process sees: the page cache) and its synced bytes (what fdatasync made durable); the
 * directory has its current names and the names as of its last fsync. `powerLoss` builds the disk a
 * machine would find after a crash: unsynced bytes and names kept fully, partly or not at all.
 * `kill` models `kill -9`: the page cache survives, so everything written is kept.
 */
import path from 'node:path';
import type { JournalFs } from '../../src/journal/index.js';

interface Inode {
  data: Buffer;
  synced: Buffer;
}

/** Which unsynced state survives a power loss. */
export type LossMode = 'all' | 'none' | 'partial';

/** File-system operations a test can make fail. */
export type FakeOperation = 'write' | 'fdatasync' | 'syncDir' | 'openSync' | 'unlink' | 'close' | 'readFile';

function errno(code: string, message: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

/** A deterministic random source (mulberry32). */
export { seeded as random } from '../seeded-random.js';

/** The fake. */
export class FakeFs implements JournalFs {
  /** Current names → files. */
  readonly names = new Map<string, Inode>();
  /** Names as of each directory's last sync. */
  readonly durableNames = new Map<string, Inode>();
  readonly #dirs = new Set<string>();
  readonly #fds = new Map<number, { inode: Inode; path: string }>();
  #nextFd = 3;
  readonly #failures = new Map<FakeOperation, NodeJS.ErrnoException>();
  /** Calls made, by name. */
  readonly calls: Record<string, number> = {};
  /** Once set, every async call hangs forever: the machine stopped. */
  halted = false;
  /** Halts the machine after this many more async calls, if set. */
  haltAfter: number | undefined;
  /** Called when an fdatasync starts (tests note what it will cover). */
  onSyncStart: (() => void) | undefined;

  #count(name: string): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
  }

  /** The next call of `operation` fails with `code`. */
  failNext(operation: FakeOperation, code = 'EIO'): void {
    this.#failures.set(operation, errno(code, `injected failure of ${operation}`));
  }

  #maybeFail(operation: FakeOperation): void {
    const error = this.#failures.get(operation);
    if (error !== undefined) {
      this.#failures.delete(operation);
      throw error;
    }
  }

  /** An async step: hangs once halted, may fail when told to. */
  async #step(operation: FakeOperation): Promise<void> {
    this.#count(operation);
    if (this.haltAfter !== undefined && this.haltAfter-- <= 0) this.halted = true;
    if (this.halted) await new Promise(() => {});
    await Promise.resolve();
    this.#maybeFail(operation);
  }

  #inode(file: string): Inode {
    const inode = this.names.get(path.normalize(file));
    if (inode === undefined) throw errno('ENOENT', `no such file, '${file}'`);
    return inode;
  }

  mkdirSync(dir: string): void {
    this.#dirs.add(path.normalize(dir));
  }

  readdirSync(dir: string): string[] {
    const normal = path.normalize(dir);
    const names: string[] = [];
    for (const name of this.names.keys()) if (path.dirname(name) === normal) names.push(path.basename(name));
    return names.sort();
  }

  readFileSync(file: string): Buffer {
    return Buffer.from(this.#inode(file).data);
  }

  writeFileSync(file: string, data: Uint8Array): void {
    const normal = path.normalize(file);
    const inode = this.names.get(normal);
    if (inode) inode.data = Buffer.from(data);
    else this.names.set(normal, { data: Buffer.from(data), synced: Buffer.alloc(0) });
  }

  openSync(file: string, flags: 'wx' | 'a'): number {
    this.#count('openSync');
    this.#maybeFail('openSync');
    const normal = path.normalize(file);
    let inode = this.names.get(normal);
    if (flags === 'wx' && inode !== undefined) throw errno('EEXIST', `file already exists, '${file}'`);
    if (inode === undefined) {
      inode = { data: Buffer.alloc(0), synced: Buffer.alloc(0) };
      this.names.set(normal, inode);
    }
    const fd = this.#nextFd++;
    this.#fds.set(fd, { inode, path: normal });
    return fd;
  }

  closeSync(fd: number): void {
    this.#fds.delete(fd);
  }

  linkSync(existing: string, created: string): void {
    const normal = path.normalize(created);
    if (this.names.has(normal)) throw errno('EEXIST', `file already exists, '${created}'`);
    this.names.set(normal, this.#inode(existing));
  }

  renameSync(from: string, to: string): void {
    const inode = this.#inode(from);
    this.names.delete(path.normalize(from));
    this.names.set(path.normalize(to), inode);
  }

  unlinkSync(file: string): void {
    this.#inode(file);
    this.names.delete(path.normalize(file));
  }

  truncateSync(file: string, length: number): void {
    const inode = this.#inode(file);
    inode.data = Buffer.from(inode.data.subarray(0, length));
  }

  async write(fd: number, buffers: readonly Uint8Array[]): Promise<number> {
    await this.#step('write');
    const open = this.#fds.get(fd);
    if (open === undefined) throw errno('EBADF', 'bad file descriptor');
    const bytes = Buffer.concat(buffers.map((buffer) => Buffer.from(buffer)));
    open.inode.data = Buffer.concat([open.inode.data, bytes]);
    return bytes.length;
  }

  async fdatasync(fd: number): Promise<void> {
    this.onSyncStart?.();
    const open = this.#fds.get(fd);
    const snapshot = open ? Buffer.from(open.inode.data) : undefined;
    await this.#step('fdatasync');
    if (open === undefined || snapshot === undefined) throw errno('EBADF', 'bad file descriptor');
    // What the sync covers is what was written when it started.
    open.inode.synced = snapshot;
  }

  async syncDir(dir: string): Promise<void> {
    const normal = path.normalize(dir);
    const entries = [...this.names].filter(([name]) => path.dirname(name) === normal);
    await this.#step('syncDir');
    for (const name of [...this.durableNames.keys()]) {
      if (path.dirname(name) === normal) this.durableNames.delete(name);
    }
    for (const [name, inode] of entries) this.durableNames.set(name, inode);
  }

  async close(fd: number): Promise<void> {
    await this.#step('close');
    this.#fds.delete(fd);
  }

  async readFile(file: string): Promise<Buffer> {
    await this.#step('readFile');
    return this.readFileSync(file);
  }

  async unlink(file: string): Promise<void> {
    await this.#step('unlink');
    this.unlinkSync(file);
  }

  /** The disk after `kill -9` of the process: all written bytes and names survive (the page cache does). */
  kill(): FakeFs {
    return this.powerLoss('all', () => 0);
  }

  /** The disk a machine finds after a power loss. */
  powerLoss(mode: LossMode, rand: () => number): FakeFs {
    const after = new FakeFs();
    for (const dir of this.#dirs) after.#dirs.add(dir);
    const survivors = new Map<Inode, Inode>();
    const survive = (inode: Inode): Inode => {
      let kept = survivors.get(inode);
      if (kept !== undefined) return kept;
      let data: Buffer;
      if (mode === 'all') data = inode.data;
      else if (mode === 'none') data = inode.synced;
      else if (
        inode.data.length >= inode.synced.length &&
        inode.data.subarray(0, inode.synced.length).equals(inode.synced)
      ) {
        const extra = Math.floor(rand() * (inode.data.length - inode.synced.length + 1));
        data = inode.data.subarray(0, inode.synced.length + extra);
      } else {
        data = rand() < 0.5 ? inode.synced : inode.data;
      }
      kept = { data: Buffer.from(data), synced: Buffer.from(data) };
      survivors.set(inode, kept);
      return kept;
    };
    const names = new Set([...this.names.keys(), ...this.durableNames.keys()]);
    for (const name of names) {
      const current = this.names.get(name);
      const durable = this.durableNames.get(name);
      const pick = mode === 'all' ? current : mode === 'none' ? durable : rand() < 0.5 ? current : durable;
      if (pick !== undefined) after.names.set(name, survive(pick));
    }
    for (const [name, inode] of after.names) after.durableNames.set(name, inode);
    return after;
  }
}
