/**
 * Every file-system call the journal makes, behind one small interface: the real one on `node:fs`,
 * and in tests a fake that keeps unsynced bytes apart to simulate a power loss.
 *
 * Synchronous calls are used only at `open` (recovery must finish before the buffer's first insert)
 * and for quick metadata steps; writes and every sync run on the threadpool, never on the main thread.
 * @module
 */
import fs from 'node:fs';

/** The file-system calls the journal makes. Paths are absolute or relative to the process's cwd. */
export interface JournalFs {
  /** Creates the directory and its parents when missing. */
  mkdirSync(path: string): void;
  /** File names in a directory. */
  readdirSync(path: string): string[];
  /** A whole file. */
  readFileSync(path: string): Buffer;
  /** Creates or replaces a file with `data` (no sync). */
  writeFileSync(path: string, data: Uint8Array): void;
  /** Opens a file: `'wx'` creates it and fails with `EEXIST` if it exists; `'a'` appends. */
  openSync(path: string, flags: 'wx' | 'a'): number;
  /** Closes a descriptor. */
  closeSync(fd: number): void;
  /** Creates `newPath` as a second name of `existingPath`; fails with `EEXIST` (atomic creation with content). */
  linkSync(existingPath: string, newPath: string): void;
  /** Renames, replacing `to`. */
  renameSync(from: string, to: string): void;
  /** Removes a file. */
  unlinkSync(path: string): void;
  /** Cuts a file to `length` bytes. */
  truncateSync(path: string, length: number): void;
  /**
   * Writes all of `buffers` at the end of the file; resolves with the bytes written. The journal reuses
   * the buffers once it resolved: keep no reference to them.
   */
  write(fd: number, buffers: readonly Uint8Array[]): Promise<number>;
  /** `fdatasync(2)`, on the threadpool. */
  fdatasync(fd: number): Promise<void>;
  /** Makes the directory's entries (created, renamed, removed files) durable: open, `fsync`, close. */
  syncDir(path: string): Promise<void>;
  /** Closes a descriptor, on the threadpool. */
  close(fd: number): Promise<void>;
  /** A whole file, on the threadpool (compaction reads the oldest segment while the journal runs). */
  readFile(path: string): Promise<Buffer>;
  /** Removes a file, on the threadpool. */
  unlink(path: string): Promise<void>;
}

/**
 * Marks the real file system, so that the lock registry knows it in either build of the package
 * (ESM and CommonJS loaded in one process each have their own `nodeFs` object).
 */
export const REAL_FS: unique symbol = Symbol.for('data-buffer.journal.nodeFs') as never;

/** The real file system. */
export const nodeFs: JournalFs = Object.freeze({
  [REAL_FS]: true,
  mkdirSync: (path: string) => {
    fs.mkdirSync(path, { recursive: true });
  },
  readdirSync: (path: string) => fs.readdirSync(path),
  readFileSync: (path: string) => fs.readFileSync(path),
  writeFileSync: (path: string, data: Uint8Array) => fs.writeFileSync(path, data),
  openSync: (path: string, flags: 'wx' | 'a') => fs.openSync(path, flags),
  closeSync: (fd: number) => fs.closeSync(fd),
  linkSync: (existingPath: string, newPath: string) => fs.linkSync(existingPath, newPath),
  renameSync: (from: string, to: string) => fs.renameSync(from, to),
  unlinkSync: (path: string) => fs.unlinkSync(path),
  truncateSync: (path: string, length: number) => fs.truncateSync(path, length),
  write: writeAll,
  fdatasync: (fd: number) =>
    new Promise<void>((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()))),
  syncDir: async (path: string) => {
    // Windows cannot open a directory to sync it; NTFS makes its entries durable on its own terms.
    if (process.platform === 'win32') return;
    const handle = await fs.promises.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  close: (fd: number) =>
    new Promise<void>((resolve, reject) => fs.close(fd, (error) => (error ? reject(error) : resolve()))),
  unlink: (path: string) => fs.promises.unlink(path),
  readFile: (path: string) => fs.promises.readFile(path),
});

/** `fs.writev` until every byte is written (a short write happens, e.g. just before the disk fills). */
async function writeAll(fd: number, buffers: readonly Uint8Array[]): Promise<number> {
  const pending = buffers.filter((buffer) => buffer.byteLength > 0) as Uint8Array[];
  let total = 0;
  while (pending.length > 0) {
    const written = await new Promise<number>((resolve, reject) =>
      fs.writev(fd, pending as NodeJS.ArrayBufferView[], (error, bytes) =>
        error ? reject(error) : resolve(bytes),
      ),
    );
    if (written === 0) throw new Error('writev wrote 0 bytes');
    total += written;
    let skip = written;
    while (pending.length > 0 && skip >= pending[0]!.byteLength) skip -= pending.shift()!.byteLength;
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
  return total;
}
