/**
 * The journal's counters (for `stats()`) and its `node:diagnostics_channel` channels. Channels are
 * created once, here; every publish is behind `hasSubscribers`.
 *
 * | channel | payload | when |
 * |---|---|---|
 * | `data-buffer:journal:recover` | {@link RecoverMessage} | `open` read an earlier run back |
 * | `data-buffer:journal:discard` | {@link DiscardMessage} | recovery cut a torn tail or quarantined bad bytes |
 * | `data-buffer:journal:sync` | {@link SyncMessage} | an fdatasync finished |
 * | `data-buffer:journal:segment` | {@link SegmentMessage} | a segment was created or deleted |
 * | `data-buffer:journal:failed` | {@link FailedMessage} | the journal failed and stopped |
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Payload of `data-buffer:journal:recover`. */
export interface RecoverMessage {
  /** The journal's directory, as given to `journal({ dir })`. */
  readonly dir: string;
  /** Unsettled items handed back. */
  readonly items: number;
  /** Of which in batches that had been taken. */
  readonly takenBatches: number;
  /** Bytes cut off a torn tail of the newest segment. */
  readonly truncatedBytes: number;
  /** Bad bytes moved into `quarantine/`. */
  readonly quarantinedBytes: number;
  /** Files written into `quarantine/`. */
  readonly quarantineFiles: readonly string[];
}

/** Payload of `data-buffer:journal:discard`. */
export interface DiscardMessage {
  /** The journal's directory, as given to `journal({ dir })`. */
  readonly dir: string;
  /** `'truncated'`: a torn tail of the newest segment; `'quarantined'`: bad bytes moved aside. */
  readonly kind: 'truncated' | 'quarantined';
  /** Bytes discarded. */
  readonly bytes: number;
  /** The quarantine files, for `'quarantined'`. */
  readonly files: readonly string[];
}

/** Payload of `data-buffer:journal:sync`. */
export interface SyncMessage {
  /** The journal's directory, as given to `journal({ dir })`. */
  readonly dir: string;
  /** How long the fdatasync took, in ms. */
  readonly duration: number;
}

/** Payload of `data-buffer:journal:segment`. */
export interface SegmentMessage {
  /** The journal's directory, as given to `journal({ dir })`. */
  readonly dir: string;
  /** Whether the segment was created or deleted. */
  readonly action: 'created' | 'deleted';
  /** The segment's path. */
  readonly file: string;
}

/** Payload of `data-buffer:journal:failed`. */
export interface FailedMessage {
  /** The journal's directory, as given to `journal({ dir })`. */
  readonly dir: string;
  /** The failure (a `JournalError` with code `ERR_JOURNAL_FAILED`, its `cause` the file-system error). */
  readonly error: Error;
}

/** Names of the journal's channels. */
export const journalChannelNames = Object.freeze({
  /** {@link RecoverMessage}: `open` read an earlier run back. */
  recover: 'data-buffer:journal:recover',
  /** {@link DiscardMessage}: recovery cut a torn tail or quarantined bad bytes. */
  discard: 'data-buffer:journal:discard',
  /** {@link SyncMessage}: an fdatasync finished. */
  sync: 'data-buffer:journal:sync',
  /** {@link SegmentMessage}: a segment was created or deleted. */
  segment: 'data-buffer:journal:segment',
  /** {@link FailedMessage}: the journal failed and stopped. */
  failed: 'data-buffer:journal:failed',
});

/** @internal */
export const channels = {
  recover: diagnosticsChannel.channel(journalChannelNames.recover),
  discard: diagnosticsChannel.channel(journalChannelNames.discard),
  sync: diagnosticsChannel.channel(journalChannelNames.sync),
  segment: diagnosticsChannel.channel(journalChannelNames.segment),
  failed: diagnosticsChannel.channel(journalChannelNames.failed),
};

/** What the journal's `stats()` returns; all numbers, flat. Durations in ms. */
export type JournalStats = {
  /** Bytes written to segments. */
  readonly bytesWritten: number;
  /** Items written (puts). */
  readonly itemsWritten: number;
  /** Group commits written (one `writev` each, or more at a rotation). */
  readonly writes: number;
  /** fdatasync calls finished. */
  readonly syncs: number;
  /** fdatasync latency, median, in ms (0 before the first sync). */
  readonly syncP50: number;
  /** fdatasync latency, 99th percentile, in ms. */
  readonly syncP99: number;
  /** fdatasync latency, slowest, in ms. */
  readonly syncMax: number;
  /** Items handed back by `recover()`. */
  readonly recoveredItems: number;
  /** Bytes cut off a torn tail at open. */
  readonly truncatedBytes: number;
  /** Bytes moved into `quarantine/` at open. */
  readonly quarantinedBytes: number;
  /** Segments on disk now. */
  readonly segments: number;
  /** Segments deleted because all their items settled (or were copied forward). */
  readonly segmentsDeleted: number;
  /** Oldest segments compacted: their few unsettled items copied forward so that they could go. */
  readonly compactions: number;
  /** Items copied forward by compactions. */
  readonly relocatedItems: number;
  /** Keys with untaken items (what the journal tracks). */
  readonly keys: number;
  /** Taken batches not settled yet. */
  readonly batches: number;
  /** 1 once the journal failed (fail-stop), else 0. */
  readonly failed: number;
};

/** The mutable counters behind {@link JournalStats}. @internal */
export class JournalCounters {
  bytesWritten = 0;
  itemsWritten = 0;
  writes = 0;
  recoveredItems = 0;
  truncatedBytes = 0;
  quarantinedBytes = 0;
  segmentsDeleted = 0;
  compactions = 0;
  relocatedItems = 0;
  // Created at the first sync: journals that never sync ('process', 'none') do not pay for one.
  #syncs: RecordableHistogram | undefined;

  /** Records one fdatasync's duration in ms. */
  recordSync(ms: number): void {
    this.#syncs ??= createHistogram();
    // The histogram counts integers: keep microseconds.
    this.#syncs.record(Math.max(1, Math.round(ms * 1000)));
  }

  /** A snapshot, with what only the journal knows filled in. */
  snapshot(extra: { segments: number; keys: number; batches: number; failed: boolean }): JournalStats {
    const histogram = this.#syncs;
    const ms = (read: (h: RecordableHistogram) => number) =>
      histogram === undefined ? 0 : read(histogram) / 1000;
    return {
      bytesWritten: this.bytesWritten,
      itemsWritten: this.itemsWritten,
      writes: this.writes,
      syncs: histogram?.count ?? 0,
      syncP50: ms((h) => h.percentile(50)),
      syncP99: ms((h) => h.percentile(99)),
      syncMax: ms((h) => h.max),
      recoveredItems: this.recoveredItems,
      truncatedBytes: this.truncatedBytes,
      quarantinedBytes: this.quarantinedBytes,
      segments: extra.segments,
      segmentsDeleted: this.segmentsDeleted,
      compactions: this.compactions,
      relocatedItems: this.relocatedItems,
      keys: extra.keys,
      batches: extra.batches,
      failed: extra.failed ? 1 : 0,
    };
  }
}
