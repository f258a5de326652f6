/**
 * The journal: a {@link LocalBackend} on local disk. It keeps every buffered item in append-only
 * segment files until the buffer says it settled, and hands back, at the next start on the same
 * directory, what was left unsettled. See docs/journal.md for the format and the guarantees.
 * @module
 */
import type { BackendContext, LocalBackend, RecoveredBatch, Staged, ValueFields } from '../backend.js';
import { AdmittedEntries } from './admitted.js';
import { type Codec, encodeKey, keyCodec, valueCodec } from './codec.js';
import { CommitBuilder } from './commit.js';
import { JournalError, messageOf } from './errors.js';
import { RecordType } from './frame.js';
import { Lines } from './lines.js';
import { acquireLock, type Lock } from './lock.js';
import { type JournalOptions, type ResolvedJournalOptions, resolveJournalOptions } from './options.js';
import type { Output } from './output.js';
import { readBack } from './read-back.js';
import { SegmentFiles } from './segment-files.js';
import { channels, JournalCounters, type JournalStats } from './telemetry.js';
import { Writer } from './writer.js';

/** The journal as a backend, with the members it adds. */
export interface Journal<K, V> extends LocalBackend<K, V> {
  /** The journal's directory. */
  readonly dir: string;
  /**
   * Throws, synchronously, what would make this key or value impossible to journal (a
   * `TypeError` with code `ERR_JOURNAL_UNSERIALIZABLE` naming it), or the journal's failure
   * (`ERR_JOURNAL_FAILED`). The buffer calls it from `insert` when a store is set, so that the
   * insert of such an item throws instead of being accepted and never written.
   */
  admit(key: K, value: V): void;
  /** The journal's counters. */
  stats(): JournalStats;
}

/**
 * A durable journal for a buffer's `store` option: buffered items survive `kill -9`, and power loss
 * at the level `sync` picks.
 *
 * @example
 * ```ts
 * const buffer = new DataBuffer<string, PageView>({
 *   handleFlush,
 *   store: journal({ dir: './var/page-views', sync: 'process' }),
 * });
 * ```
 * @throws TypeError / RangeError for bad options (see {@link JournalOptions}).
 */
export function journal<K, V>(options: JournalOptions<K, V>): Journal<K, V> {
  return new JournalBackend(resolveJournalOptions(options));
}

type State = 'new' | 'open' | 'closed';

class JournalBackend<K, V> implements Journal<K, V> {
  readonly kind = 'local' as const;
  readonly #options: ResolvedJournalOptions<K, V>;
  readonly #keys: Codec<K>;
  readonly #values: Codec<V>;
  readonly #lines = new Lines<K>();
  readonly #counters = new JournalCounters();
  readonly #admitted = new AdmittedEntries();
  #state: State = 'new';
  #lock: Lock | undefined;
  #builder: CommitBuilder | undefined;
  #writer: Writer | undefined;
  #recovered: RecoveredBatch<K, V>[] = [];
  #nextSeq = 0;
  /** Exists once the earlier run was read back (at open). */
  #files: SegmentFiles<K> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedJournalOptions<K, V>) {
    this.#options = options;
    this.#keys = keyCodec(options.serializeKey, options.deserializeKey);
    this.#values = valueCodec(options.serialize, options.deserialize);
  }

  get dir(): string {
    return this.#options.dir;
  }

  open(_context: BackendContext): void {
    if (this.#state !== 'new') {
      throw new JournalError(
        'ERR_JOURNAL_LOCKED',
        `The journal in ${this.dir} is already open: a journal belongs to one buffer`,
      );
    }
    const { fs, dir } = this.#options;
    fs.mkdirSync(dir);
    this.#lock = acquireLock(fs, dir);
    let discarded = false;
    try {
      discarded = this.#readBack();
    } catch (error) {
      this.#lock.release();
      throw error instanceof JournalError
        ? error
        : new JournalError(
            'ERR_JOURNAL_FAILED',
            `The journal in ${dir} could not be read back: ${messageOf(error)}`,
            {
              cause: error,
            },
          );
    }
    const files = this.#files!;
    const builder = new CommitBuilder(files.start(), this.#options.segmentBytes, () => files.start());
    this.#builder = builder;
    this.#writer = new Writer({
      fs,
      dir,
      sync: this.#options.sync,
      syncInterval: this.#options.syncInterval,
      counters: this.#counters,
      builder,
      onFailure: (error) => {
        if (channels.failed.hasSubscribers) channels.failed.publish({ dir, error });
      },
    });
    this.#state = 'open';
    if (discarded && this.#options.sync !== 'none') this.#writer.task(() => files.syncDir());
  }

  /**
   * Reads the earlier run back (see read-back.ts) and deletes its settled segments; returns whether
   * anything was cut, quarantined or deleted (the directory then needs a sync).
   */
  #readBack(): boolean {
    const { fs, dir } = this.#options;
    const back = readBack({
      fs,
      dir,
      lines: this.#lines,
      counters: this.#counters,
      keys: this.#keys,
      values: this.#values,
    });
    this.#recovered = back.recovered;
    this.#nextSeq = back.nextSeq;
    const journal = this;
    this.#files = new SegmentFiles(
      this.#options,
      this.#lines,
      this.#counters,
      {
        get writer() {
          return journal.#writer;
        },
        get builder() {
          return journal.#builder;
        },
        get nextSeq() {
          return journal.#nextSeq;
        },
        writable: () => !(this.#usable() instanceof Error),
      },
      back.nextSegmentId,
    );
    // Settled segments of the earlier run can go now.
    const deleted = this.#files.collect(undefined, true);
    return deleted > 0 || back.discarded;
  }

  recover(): Iterable<RecoveredBatch<K, V>> {
    const recovered = this.#recovered;
    this.#recovered = [];
    return recovered;
  }

  admit(key: K, value: V): void {
    const failure = this.#writer?.failure;
    if (failure !== undefined) throw failure;
    // The whole entry is encoded now, key field first (copied from the key's line when it has one),
    // so that `write` copies it as it is.
    const admitted = this.#admitted;
    const start = admitted.begin();
    const out = admitted.out;
    const line = this.#lines.get(key);
    try {
      if (line === undefined) this.#keys.encode(out, key);
      else out.bytes(line.keyField);
      const valueStart = out.pos;
      this.#values.encode(out, value);
      admitted.add(key, value, line, start, valueStart);
    } catch (error) {
      admitted.discard(start);
      throw error;
    }
  }

  write(staged: Staged<K, V>, fields?: ValueFields): Promise<void> {
    const writer = this.#usable();
    if (writer instanceof Error) return Promise.reject(writer);
    const builder = this.#builder!;
    const count = staged.length;
    if (count === 0) return writer.whenWritten(builder.appended);
    const firstSeq = this.#nextSeq;
    const out = builder.begin(RecordType.PUTS, firstSeq);
    const segment = builder.segment;
    try {
      this.#encodePuts(out, staged, firstSeq, fields);
    } catch (error) {
      builder.abandon();
      return Promise.reject(writer.fail(error, 'encode an item (call `admit` on insert to refuse it there)'));
    }
    this.#nextSeq += count;
    segment.unsettled += count;
    segment.items += count;
    builder.added(count);
    this.#counters.itemsWritten += count;
    writer.kick();
    return this.#options.sync === 'none' ? Promise.resolve() : writer.whenWritten(builder.appended);
  }

  /**
   * Appends the staged items' entries to `out` and their sequence numbers to their keys' lines.
   * Admitted entries that lie back to back are copied together (a run); an entry is copied on its own,
   * with its line's key field, when its key field may not be the line's (encoded afresh while another
   * line came to be), and an item that was never admitted is encoded here. `fields` hears where each
   * item's value field lies.
   */
  #encodePuts(out: Output, staged: Staged<K, V>, firstSeq: number, fields: ValueFields | undefined): void {
    const admitted = this.#admitted;
    const source = admitted.out.buffer;
    const lines = this.#lines;
    const { keys, values, length } = staged;
    let runStart = 0;
    let runEnd = 0;
    for (let i = 0; i < length; i++) {
      const key = keys[i] as K;
      const index = admitted.take(key, values[i]);
      // The line the entry copied its key field from is the key's line as long as it is live.
      const copied = index < 0 ? undefined : admitted.line(index);
      let line = copied?.live === true ? copied : lines.get(key);
      if (index < 0) {
        out.copy(source, runStart, runEnd);
        runStart = runEnd = 0;
        line ??= lines.add(key, encodeKey(this.#keys, key));
        out.bytes(line.keyField);
        const valueStart = out.pos;
        this.#values.encode(out, values[i] as V);
        fields?.(i, out.buffer, valueStart, out.pos);
      } else {
        const start = admitted.start(index);
        const end = admitted.end(index);
        fields?.(i, source, admitted.valueStart(index), end);
        if (line === undefined) {
          line = lines.add(key, Buffer.from(source.subarray(start, admitted.valueStart(index))));
        } else if (line !== copied) {
          out.copy(source, runStart, runEnd);
          runStart = runEnd = 0;
          out.bytes(line.keyField);
          out.copy(source, admitted.valueStart(index), end);
          line.seqs.push(firstSeq + i);
          continue;
        }
        if (start !== runEnd) {
          out.copy(source, runStart, runEnd);
          runStart = start;
        }
        runEnd = end;
      }
      line.seqs.push(firstSeq + i);
    }
    out.copy(source, runStart, runEnd);
    admitted.settle();
  }

  taken(key: K, count: number, batchId: string): void {
    if (this.#usable() instanceof Error) return;
    const taken = this.#lines.take(key, count, batchId);
    if (taken === undefined) return;
    const out = this.#beginRecord(RecordType.TAKEN);
    out.bytes(taken.keyField);
    out.u32(taken.count);
    out.f64(taken.through);
    out.string(batchId);
    // A take settles nothing: no segment can go.
    this.#endRecord(false);
  }

  settled(batchId: string): void {
    if (this.#usable() instanceof Error) return;
    if (!this.#lines.settle(batchId)) return;
    this.#beginRecord(RecordType.SETTLED).string(batchId);
    this.#endRecord(true);
  }

  dropped(key: K, count: number): void {
    if (this.#usable() instanceof Error) return;
    const dropped = this.#lines.drop(key, count);
    if (dropped === undefined) return;
    const out = this.#beginRecord(RecordType.DROPPED);
    out.bytes(dropped.keyField);
    out.u32(dropped.count);
    out.f64(dropped.through);
    this.#endRecord(true);
  }

  trimmed(batchId: string, count: number): void {
    if (this.#usable() instanceof Error) return;
    const trimmed = this.#lines.trim(batchId, count);
    if (trimmed === undefined) return;
    const out = this.#beginRecord(RecordType.TRIMMED);
    out.string(batchId);
    out.u32(trimmed.count);
    out.f64(trimmed.through);
    this.#endRecord(true);
  }

  /** Starts a settlement record (TAKEN, SETTLED, DROPPED, TRIMMED): its fields go into the returned output. */
  #beginRecord(type: number): Output {
    return this.#builder!.begin(type, this.#nextSeq);
  }

  /** Ends the record begun by {@link #beginRecord}; `settles`: it may have made old segments deletable. */
  #endRecord(settles: boolean): void {
    const builder = this.#builder!;
    builder.added(1);
    if (settles) this.#files!.collect(builder.segment);
    this.#writer!.kick();
  }

  durable(): Promise<void> {
    const writer = this.#usable();
    if (writer instanceof Error) return Promise.reject(writer);
    const ticket = this.#builder!.appended;
    return this.#options.sync === 'always' ? writer.whenSynced(ticket) : writer.whenWritten(ticket);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state !== 'open') {
      this.#state = 'closed';
      return;
    }
    const writer = this.#writer!;
    try {
      await writer.close();
      if (writer.failure === undefined) {
        // Nothing is written any more: the last segment may go too, once all its items settled.
        this.#files!.collect(undefined);
        await writer.idle();
      }
    } finally {
      await writer.closeSegment();
      this.#state = 'closed';
      this.#lock?.release();
    }
    if (writer.failure !== undefined) throw writer.failure;
  }

  stats(): JournalStats {
    return this.#counters.snapshot({
      segments: this.#lines.segments.length,
      keys: this.#lines.keys,
      batches: this.#lines.batches,
      failed: this.#writer?.failure !== undefined,
    });
  }

  /** The writer, or the error to refuse a call with. */
  #usable(): Writer | JournalError {
    const writer = this.#writer;
    if (writer?.failure !== undefined) return writer.failure;
    if (this.#state !== 'open' || this.#closing !== undefined || writer === undefined) {
      return new JournalError(
        'ERR_JOURNAL_CLOSED',
        `The journal in ${this.dir} is ${this.#state === 'new' ? 'not open' : 'closed'}`,
      );
    }
    return writer;
  }
}
