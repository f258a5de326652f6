/**
 * Compaction: copying the few unsettled items of the oldest segment forward, into the segment being
 * written, so that the oldest can be deleted instead of holding every later segment on disk. The copies
 * (a RELOCATED record) keep their sequence numbers and batch ids, so per-key order and ids are
 * unchanged; replay reads each item once, whether its original or an earlier copy is still on disk.
 * @module
 */
import type { CommitBuilder } from './commit.js';
import { RecordType, readFrame, SEGMENT_MAGIC, skipField } from './frame.js';
import type { Lines } from './lines.js';
import { Input } from './output.js';
import type { Segment } from './segments.js';

/** The oldest segment is compacted once at most 1 in this many of the items put into it is unsettled. */
export const COMPACT_RATIO = 8;

/** Whether `segments[0]` is worth compacting: sparse, and holding later segments back. */
export function worthCompacting(segments: readonly Segment[]): boolean {
  const oldest = segments[0];
  if (oldest === undefined || segments.length < 3) return false;
  return oldest.unsettled > 0 && oldest.unsettled * COMPACT_RATIO <= oldest.items;
}

/**
 * Copies the unsettled items of `oldest` (its file read back as `data`) into the builder's current
 * segment and moves them there in `lines`.
 * @returns the items copied; 0 when the file and the bookkeeping disagree (then nothing is written
 * and the segment stays, rather than being deleted on a guess).
 */
export function copyForward<K>(
  lines: Lines<K>,
  builder: CommitBuilder,
  oldest: Segment,
  data: Buffer,
  watermark: number,
): number {
  const live = lines.liveIn(oldest);
  const found: Array<{ seq: number; key: [number, number]; value: [number, number] }> = [];
  for (let offset = SEGMENT_MAGIC.length; offset < data.length; ) {
    const frame = readFrame(data, offset);
    if (frame === undefined) break;
    offset = frame.end;
    const input = new Input(data, frame.payload, frame.end);
    if (frame.type === RecordType.PUTS) {
      for (let i = 0; i < frame.count; i++) {
        const key = skipField(input);
        const value = skipField(input);
        if (live.has(frame.firstSeq + i)) found.push({ seq: frame.firstSeq + i, key, value });
      }
    } else if (frame.type === RecordType.RELOCATED) {
      // Copies made by an earlier compaction, now in the oldest segment themselves.
      for (let i = 0; i < frame.count; i++) {
        const key = skipField(input);
        const value = skipField(input);
        const seq = input.f64();
        if (input.u8() === 1) input.string();
        if (live.has(seq)) found.push({ seq, key, value });
      }
    }
  }
  if (found.length === 0 || found.length !== live.size || found.length !== oldest.unsettled) return 0;
  found.sort((a, b) => a.seq - b.seq);
  const out = builder.begin(RecordType.RELOCATED, watermark);
  const target = builder.segment;
  for (const { seq, key, value } of found) {
    out.bytes(data.subarray(key[0], key[1]));
    out.bytes(data.subarray(value[0], value[1]));
    out.f64(seq);
    const batchId = live.get(seq);
    if (batchId === undefined) {
      out.u8(0);
    } else {
      out.u8(1);
      out.string(batchId);
    }
  }
  builder.added(found.length);
  lines.move(
    found.map((item) => item.seq),
    oldest,
    target,
  );
  return found.length;
}
