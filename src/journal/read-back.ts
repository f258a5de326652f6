/**
 * Reading a journal back at open: its segments are scanned (a torn tail cut, a bad frame quarantined),
 * their records replayed, and what they say is restored into the journal's lines, segments and
 * counters. What the earlier run left unsettled comes back as batches for the buffer to deliver first.
 * Runs once, before anything is written, on the main thread (open is synchronous).
 * @module
 */
import type { RecoveredBatch } from '../backend.js';
import type { Codec } from './codec.js';
import type { JournalFs } from './fs.js';
import type { Lines } from './lines.js';
import { replay } from './replay.js';
import { scanSegments } from './scan.js';
import { newSegment } from './segments.js';
import { channels, type JournalCounters } from './telemetry.js';

/** What reading back found, beyond what it restored in place. */
export interface ReadBack<K, V> {
  /** The earlier run's unsettled items: taken batches under their ids, then open items, per key in order. */
  readonly recovered: RecoveredBatch<K, V>[];
  /** The next free sequence number. */
  readonly nextSeq: number;
  /** The next free segment id. */
  readonly nextSegmentId: number;
  /** Whether bytes were cut (a torn tail) or quarantined (a bad frame). */
  readonly discarded: boolean;
}

/** Where reading back restores what it finds, and how it decodes keys and values. */
export interface ReadBackTarget<K, V> {
  readonly fs: JournalFs;
  readonly dir: string;
  /** Gets the segments, the keys' lines and the taken batches of the earlier run. */
  readonly lines: Lines<K>;
  /** Gets the recovered item count and the bytes discarded. */
  readonly counters: JournalCounters;
  readonly keys: Codec<K>;
  readonly values: Codec<V>;
}

/** Scans and replays the segments in `target.dir`, restores them into `target`, and reports on it. */
export function readBack<K, V>(target: ReadBackTarget<K, V>): ReadBack<K, V> {
  const { fs, dir, lines, counters } = target;
  const { segments, report } = scanSegments(fs, dir);
  const replayed = replay(segments, target.keys, target.values);
  let nextSegmentId = 0;
  for (const scanned of segments) {
    const info = replayed.segments.get(scanned.id)!;
    const segment = newSegment(dir, scanned.id, info.firstSeq ?? Number.NaN);
    segment.unsettled = info.unsettled;
    segment.items = info.items;
    segment.bytes = scanned.buffer.length;
    lines.segments.push(segment);
    nextSegmentId = scanned.id + 1;
  }
  // A segment without items takes its successor's first sequence number (the next free one for the
  // last), so that a lookup by sequence number lands on the segment that holds the item.
  const restored = lines.segments;
  for (let i = restored.length - 1; i >= 0; i--) {
    const segment = restored[i]!;
    if (Number.isNaN(segment.firstSeq)) segment.firstSeq = restored[i + 1]?.firstSeq ?? replayed.nextSeq;
  }
  for (const line of replayed.lines) lines.restoreLine(line.key, line.keyField, line.seqs);
  for (const batch of replayed.taken) lines.restoreBatch(batch.batchId, batch.seqs);
  for (const { seq, segment } of replayed.moved) {
    lines.placeMoved(seq, restored.find((candidate) => candidate.id === segment)!);
  }
  counters.recoveredItems = replayed.items;
  counters.truncatedBytes = report.truncatedBytes;
  counters.quarantinedBytes = report.quarantinedBytes;
  if (channels.discard.hasSubscribers) {
    if (report.truncatedBytes > 0) {
      channels.discard.publish({ dir, kind: 'truncated', bytes: report.truncatedBytes, files: [] });
    }
    if (report.quarantinedBytes > 0) {
      channels.discard.publish({
        dir,
        kind: 'quarantined',
        bytes: report.quarantinedBytes,
        files: report.quarantineFiles,
      });
    }
  }
  if (channels.recover.hasSubscribers) {
    channels.recover.publish({
      dir,
      items: replayed.items,
      takenBatches: replayed.taken.length,
      truncatedBytes: report.truncatedBytes,
      quarantinedBytes: report.quarantinedBytes,
      quarantineFiles: report.quarantineFiles,
    });
  }
  return {
    recovered: replayed.batches,
    nextSeq: replayed.nextSeq,
    nextSegmentId,
    discarded: report.truncatedBytes > 0 || report.quarantinedBytes > 0,
  };
}
