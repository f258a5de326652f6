/**
 * The journal's segment files over their life: a new one at each rotation, the oldest deleted once all
 * its items settled (in order: see `Lines.collect`), and the oldest compacted when it holds few
 * unsettled items but keeps every later segment on disk. Deletions and compactions run as writer tasks,
 * after what made them possible is written (and synced, where the level syncs).
 * @module
 */
import path from 'node:path';
import type { CommitBuilder } from './commit.js';
import { copyForward, worthCompacting } from './compaction.js';
import type { Lines } from './lines.js';
import type { ResolvedJournalOptions } from './options.js';
import { newSegment, type Segment } from './segments.js';
import { channels, type JournalCounters } from './telemetry.js';
import type { Writer } from './writer.js';

/** What the segment files need of their journal, read when needed: the writer and builder exist once it is open. */
export interface SegmentFilesContext {
  readonly writer: Writer | undefined;
  readonly builder: CommitBuilder | undefined;
  /** The next free sequence number. */
  readonly nextSeq: number;
  /** Whether the journal still writes (open, not closing, not failed). */
  writable(): boolean;
}

/** Creates, deletes and compacts a journal's segment files; the segments themselves are listed in `lines.segments`. */
export class SegmentFiles<K> {
  readonly #options: Pick<ResolvedJournalOptions<unknown, unknown>, 'fs' | 'dir' | 'sync'>;
  readonly #lines: Lines<K>;
  readonly #counters: JournalCounters;
  readonly #context: SegmentFilesContext;
  #nextId: number;
  #compacting = false;

  /** @param nextId - the first free segment id (after those read back). */
  constructor(
    options: Pick<ResolvedJournalOptions<unknown, unknown>, 'fs' | 'dir' | 'sync'>,
    lines: Lines<K>,
    counters: JournalCounters,
    context: SegmentFilesContext,
    nextId: number,
  ) {
    this.#options = options;
    this.#lines = lines;
    this.#counters = counters;
    this.#context = context;
    this.#nextId = nextId;
  }

  /** A new segment, the current one from now on: at open, and at each rotation. */
  start(): Segment {
    const segment = newSegment(this.#options.dir, this.#nextId++, this.#context.nextSeq);
    segment.bytes = 8;
    this.#lines.segments.push(segment);
    // The segment that was current may have become deletable, or the oldest worth compacting.
    if (this.#context.builder !== undefined) {
      this.collect(segment);
      this.#maybeCompact();
    }
    return segment;
  }

  /**
   * Deletes the oldest segments whose items all settled (never `current`), as a writer task, or at
   * once when `now` (at open, before anything is written). Returns how many go.
   */
  collect(current: Segment | undefined, now = false): number {
    const removed = this.#lines.collect(current);
    if (removed.length === 0) return 0;
    const { fs, dir, sync } = this.#options;
    this.#counters.segmentsDeleted += removed.length;
    if (now) {
      // At open, before anything is written: synchronous, and synced with the first writes' directory sync.
      for (const segment of removed) fs.unlinkSync(segment.path);
      return removed.length;
    }
    const writer = this.#context.writer!;
    writer.task(async () => {
      // What made the segments deletable (a relocation's copies above all) is written, and synced
      // where the level syncs, before they go.
      await writer.flush();
      for (const segment of removed) {
        if (writer.isOpen(segment)) await writer.closeSegment();
        try {
          await fs.unlink(segment.path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
            throw writer.fail(error, `delete ${segment.path}`);
        }
        if (channels.segment.hasSubscribers)
          channels.segment.publish({ dir, action: 'deleted', file: segment.path });
      }
      if (sync === 'interval' || sync === 'always') await this.syncDir();
    });
    return removed.length;
  }

  /** Syncs the directory, so that files created and deleted stay so; a failure fails the writer. */
  async syncDir(): Promise<void> {
    try {
      await this.#options.fs.syncDir(this.#options.dir);
    } catch (error) {
      throw this.#context.writer!.fail(error, `sync the directory ${path.resolve(this.#options.dir)}`);
    }
  }

  /**
   * Compaction: when the oldest segment holds few unsettled items (at most 1 in
   * `COMPACT_RATIO` of what was put into it) and keeps later segments from being deleted,
   * its unsettled items are copied forward (a RELOCATED record) and it is deleted once the copy is
   * durable. Checked at each rotation: one segment goes for each one that comes, so a long-lived item
   * no longer holds everything written after it.
   */
  #maybeCompact(): void {
    const oldest = this.#lines.segments[0];
    const writer = this.#context.writer;
    if (this.#compacting || writer === undefined || oldest === undefined) return;
    if (!worthCompacting(this.#lines.segments)) return;
    this.#compacting = true;
    writer.task(async () => {
      try {
        let data: Buffer;
        try {
          data = await this.#options.fs.readFile(oldest.path);
        } catch (error) {
          throw writer.fail(error, `read ${oldest.path} to compact it`);
        }
        this.#relocate(oldest, data);
      } finally {
        this.#compacting = false;
      }
    });
  }

  /** Copies the unsettled items of `oldest` (read back as `data`) into the segment being written. */
  #relocate(oldest: Segment, data: Buffer): void {
    const context = this.#context;
    if (!context.writable() || !this.#lines.segments.includes(oldest)) return;
    const builder = context.builder!;
    const copied = copyForward(this.#lines, builder, oldest, data, context.nextSeq);
    if (copied === 0) return;
    this.#counters.relocatedItems += copied;
    this.#counters.compactions++;
    this.collect(builder.segment);
    context.writer!.kick();
  }
}
