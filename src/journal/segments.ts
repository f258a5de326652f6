/**
 * Segment files: their names, and what the journal knows about each while it runs. A segment is
 * named by its id, zero-padded so that names sort like ids: `000000000007.seg`.
 * @module
 */
import path from 'node:path';

/** File-name suffix of segments. */
export const SEGMENT_SUFFIX = '.seg';

/** The folder (inside the journal's `dir`) that bad bytes are moved to. */
export const QUARANTINE_DIR = 'quarantine';

/** One segment, as the journal tracks it. */
export interface Segment {
  /** Increasing id; also the file name. */
  readonly id: number;
  /** The file's path. */
  readonly path: string;
  /**
   * Sequence number of the first item put into it (items of later segments have higher ones). A
   * segment without items has its successor's, or the next free one.
   */
  firstSeq: number;
  /** Items put into it that are not settled yet (or copied out of it to a newer one). */
  unsettled: number;
  /** Items put into it (or copied into it) in all. */
  items: number;
  /** Bytes assigned to it so far (written or waiting to be). */
  bytes: number;
}

/** The file name of segment `id`. */
export function segmentName(id: number): string {
  return `${String(id).padStart(12, '0')}${SEGMENT_SUFFIX}`;
}

/** The ids of the segment files in `names`, ascending. */
export function segmentIds(names: readonly string[]): number[] {
  const ids: number[] = [];
  for (const name of names) {
    if (!name.endsWith(SEGMENT_SUFFIX)) continue;
    const id = Number(name.slice(0, -SEGMENT_SUFFIX.length));
    if (Number.isSafeInteger(id) && id >= 0 && segmentName(id) === name) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

/** A new segment record for `id` in `dir`. */
export function newSegment(dir: string, id: number, firstSeq: number): Segment {
  return { id, path: path.join(dir, segmentName(id)), firstSeq, unsettled: 0, items: 0, bytes: 0 };
}

/**
 * The segment holding sequence number `seq`: the last one whose `firstSeq` is at most `seq`
 * (segments are ordered by id and by `firstSeq` alike). `undefined` when `seq` is older than all.
 */
export function segmentOf(segments: readonly Segment[], seq: number): Segment | undefined {
  let low = 0;
  let high = segments.length - 1;
  let found: Segment | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const segment = segments[middle]!;
    if (segment.firstSeq <= seq) {
      found = segment;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
