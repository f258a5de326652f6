/**
 * The one loop that touches segment files while the journal runs: it writes each turn's group commit
 * with one `writev`, runs fdatasync on the threadpool when the sync level asks for it, rotates and
 * deletes segments. One step at a time, so records reach the disk in the order they were made.
 *
 * Fail-stop: the first failed write, sync, open or delete stops the loop for good. Nothing is retried
 * (after a failed fsync the kernel may have dropped the dirty pages: a retry that succeeds would
 * acknowledge data that is gone), every waiter is rejected, and so is everything after.
 * @module
 */
import { onNextTurn, startTimer, type Timer } from '../timers.js';
import type { CommitBuilder } from './commit.js';
import { JournalError, messageOf } from './errors.js';
import { SEGMENT_MAGIC } from './frame.js';
import type { JournalFs } from './fs.js';
import type { SyncLevel } from './options.js';
import { Release, type Waiter } from './release.js';
import type { Segment } from './segments.js';
import { channels, type JournalCounters } from './telemetry.js';

/** Under `sync: 'none'`, bytes that may pile up before they are written anyway. */
export const LAZY_WRITE_BYTES = 1024 * 1024;

/** What the writer needs from its journal. */
export interface WriterContext {
  readonly fs: JournalFs;
  readonly dir: string;
  readonly sync: SyncLevel;
  readonly syncInterval: number;
  readonly counters: JournalCounters;
  readonly builder: CommitBuilder;
  /** Called when the writer stops on a failure (once). */
  readonly onFailure: (error: JournalError) => void;
}

/** Writes, syncs and deletes, in order, off the main thread. */
export class Writer {
  readonly #context: WriterContext;
  /** Whether this level makes writes survive power loss at some point (then directories are synced too). */
  readonly #syncs: boolean;
  #written = 0;
  #synced = 0;
  #writeWaiters: Waiter[] = [];
  #syncWaiters: Waiter[] = [];
  /**
   * Resolve the waiters a write or a sync covered, a slice per turn; one each, as their callers'
   * continuations differ (under `'always'`, a write's waiters go on to wait for the sync). The next
   * sync for waiters starts once the last sync's waiters are all resolved: what they insert then goes
   * with it, not with a sync of its own.
   */
  readonly #releaseWritten = new Release();
  readonly #releaseSynced = new Release(() => this.kick());
  #tasks: Array<() => Promise<void>> = [];
  #idleWaiters: Array<() => void> = [];
  #open: { segment: Segment; fd: number } | undefined;
  #running = false;
  #scheduled = false;
  #syncDue = false;
  #closing = false;
  #timer: Timer | undefined;
  /** Set once the writer failed; it does nothing after. */
  failure: JournalError | undefined;

  /** @param context - the journal's side. */
  constructor(context: WriterContext) {
    this.#context = context;
    this.#syncs = context.sync === 'interval' || context.sync === 'always';
    if (context.sync === 'interval') this.#armTimer();
  }

  /** Resolves once every record up to `ticket` is written to the OS. */
  whenWritten(ticket: number): Promise<void> {
    return this.#wait(this.#writeWaiters, this.#written, ticket);
  }

  /** Resolves once every record up to `ticket` is written and an fdatasync that started after it finished. */
  whenSynced(ticket: number): Promise<void> {
    return this.#wait(this.#syncWaiters, this.#synced, ticket);
  }

  /** Runs `task` in order with the writes (deleting segments, syncing the directory). */
  task(task: () => Promise<void>): void {
    this.#tasks.push(task);
    this.kick();
  }

  /** Asks for a run on the next turn, after the turn's records are in. */
  kick(): void {
    if (this.#running || this.#scheduled || this.failure !== undefined) return;
    if (!this.#hasWork()) return;
    this.#scheduled = true;
    // On the next turn: the records of this turn (a write, then takes and settles) go out together.
    onNextTurn(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  /** Writes and (at `interval` / `always`) syncs everything, then closes the open segment. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#timer?.cancel();
    await this.idle();
    await this.closeSegment();
  }

  /**
   * Writes what is pending, and syncs it at the levels that sync. For tasks (it runs inside the
   * loop): deleting a segment waits for the records that made it deletable.
   */
  async flush(): Promise<void> {
    const { builder } = this.#context;
    if (builder.appended !== this.#written || builder.pendingBytes > 0) await this.#write();
    if (this.#syncs && this.#synced < this.#written) await this.#sync();
  }

  /** Resolves when the loop has nothing left to do (or failed). */
  idle(): Promise<void> {
    this.kick();
    if (!this.#running && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Closes the open segment's descriptor, if any (also after a failure, to let go of the file). */
  async closeSegment(): Promise<void> {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    try {
      await this.#context.fs.close(open.fd);
    } catch (error) {
      this.fail(error, `close ${open.segment.path}`);
    }
  }

  /** Whether `segment` is the one open for writing. */
  isOpen(segment: Segment): boolean {
    return this.#open?.segment === segment;
  }

  /** Stops for good: rejects every waiter with one `ERR_JOURNAL_FAILED` error. */
  fail(cause: unknown, operation: string): JournalError {
    if (this.failure !== undefined) return this.failure;
    const error =
      cause instanceof JournalError
        ? cause
        : new JournalError(
            'ERR_JOURNAL_FAILED',
            `The journal in ${this.#context.dir} failed to ${operation} (${messageOf(cause)}); it stopped, and nothing after this is acknowledged`,
            { cause },
          );
    this.failure = error;
    this.#timer?.cancel();
    for (const waiter of [...this.#writeWaiters, ...this.#syncWaiters]) waiter.reject(error);
    this.#writeWaiters = [];
    this.#syncWaiters = [];
    this.#tasks = [];
    this.#context.onFailure(error);
    return error;
  }

  #wait(list: Waiter[], done: number, ticket: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (done >= ticket) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      list.push({ ticket, resolve, reject });
      this.kick();
    });
  }

  #armTimer(): void {
    this.#timer = startTimer(() => {
      this.#syncDue = true;
      this.kick();
      if (!this.#closing && this.failure === undefined) this.#armTimer();
    }, this.#context.syncInterval);
  }

  #shouldWrite(): boolean {
    const { builder, sync } = this.#context;
    if (builder.appended === this.#written && builder.pendingBytes === 0) return false;
    if (sync !== 'none') return true;
    return (
      this.#closing ||
      this.#writeWaiters.length > 0 ||
      this.#syncWaiters.length > 0 ||
      builder.pendingBytes >= LAZY_WRITE_BYTES
    );
  }

  #shouldSync(): boolean {
    if (this.#synced >= this.#written || this.#open === undefined) return false;
    if (this.#syncDue || (this.#closing && this.#syncs)) return true;
    if (this.#releaseSynced.pending > 0) return false;
    const first = this.#syncWaiters[0];
    return first !== undefined && first.ticket <= this.#written;
  }

  #hasWork(): boolean {
    return this.#shouldWrite() || this.#shouldSync() || this.#tasks.length > 0;
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.failure === undefined) {
        let worked = false;
        if (this.#shouldWrite()) {
          await this.#write();
          worked = true;
        }
        if (this.#shouldSync()) {
          await this.#sync();
          worked = true;
        } else {
          const task = this.#tasks.shift();
          if (task !== undefined) {
            await task();
            worked = true;
          }
        }
        if (!worked) break;
      }
    } catch (error) {
      // Operations name themselves through `fail`; anything else is a bug, reported the same way.
      this.fail(error, 'run');
    } finally {
      this.#running = false;
      this.#syncDue = false;
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  async #write(): Promise<void> {
    const { builder, fs, counters } = this.#context;
    const ticket = builder.appended;
    for (const part of builder.drain()) {
      const buffers: Uint8Array[] = [part.data];
      if (this.#open?.segment !== part.segment) {
        await this.#switchTo(part.segment);
        buffers.unshift(SEGMENT_MAGIC);
      }
      try {
        counters.bytesWritten += await fs.write(this.#open!.fd, buffers);
      } catch (error) {
        throw this.fail(error, `write ${part.segment.path}`);
      }
      builder.recycle(part);
      counters.writes++;
    }
    this.#written = ticket;
    this.#writeWaiters = this.#releaseWritten.settle(this.#writeWaiters, ticket);
  }

  async #switchTo(segment: Segment): Promise<void> {
    const { fs, dir } = this.#context;
    if (this.#open !== undefined) {
      // Before leaving a segment, make what it holds as durable as the level promises.
      if (this.#syncs) await this.#sync();
      await this.closeSegment();
      if (this.failure !== undefined) throw this.failure;
    }
    try {
      this.#open = { segment, fd: fs.openSync(segment.path, 'wx') };
      if (this.#syncs) await fs.syncDir(dir);
    } catch (error) {
      throw this.fail(error, `create ${segment.path}`);
    }
    if (channels.segment.hasSubscribers)
      channels.segment.publish({ dir, action: 'created', file: segment.path });
  }

  async #sync(): Promise<void> {
    const { fs, counters, dir } = this.#context;
    const open = this.#open;
    this.#syncDue = false;
    if (open === undefined) return;
    const ticket = this.#written;
    const started = performance.now();
    try {
      await fs.fdatasync(open.fd);
    } catch (error) {
      throw this.fail(error, `fdatasync ${open.segment.path}`);
    }
    const duration = performance.now() - started;
    counters.recordSync(duration);
    if (channels.sync.hasSubscribers) channels.sync.publish({ dir, duration });
    this.#synced = Math.max(this.#synced, ticket);
    this.#syncWaiters = this.#releaseSynced.settle(this.#syncWaiters, this.#synced);
  }
}
