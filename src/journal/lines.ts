/**
 * The journal's model of what is unsettled, while it runs. Per key: a line of untaken items (their
 * sequence numbers, oldest first); a take closes the oldest items into a batch, and batches settle by
 * id. Per segment: how many of its items are unsettled, so that a segment can go once that is zero.
 * Values are not kept here: the buffer holds them; the journal keeps only what it needs to write
 * records and to know when a segment may be deleted.
 * @module
 */
import { type Segment, segmentOf } from './segments.js';

/** One key's untaken items. */
export interface Line {
  /** The key's encoded field, copied into every record about the key. */
  readonly keyField: Buffer;
  /** Sequence numbers of untaken items, oldest first, from `head` on. */
  seqs: number[];
  head: number;
  /**
   * Whether this is the key's line still: false once its last untaken item was taken or dropped (a
   * later put starts a new line), so that a line held elsewhere (an admitted entry) can be checked
   * without looking the key up again.
   */
  live: boolean;
}

/** Item counts per key and batch, and unsettled counts per segment. */
export class Lines<K> {
  readonly #lines = new Map<K, Line>();
  readonly #batches = new Map<string, number[]>();
  /** Live segments, oldest first. */
  readonly segments: Segment[] = [];
  /** Items copied forward out of their segment (compaction): where they live now. */
  readonly #moved = new Map<number, Segment>();

  /** Keys with untaken items. */
  get keys(): number {
    return this.#lines.size;
  }

  /** Batches taken and not settled. */
  get batches(): number {
    return this.#batches.size;
  }

  /** The key's line, `undefined` when it has no untaken items. */
  get(key: K): Line | undefined {
    return this.#lines.get(key);
  }

  /** Starts the line of a key that has none, with its encoded field. */
  add(key: K, keyField: Buffer): Line {
    // `Array.of`, not a `[]` literal: lines live long, so V8 pretenures the literal's arrays, and every
    // push that grows one then pays for it in old space (as for the memory stores' batches). Measured:
    // 14-25% less main-thread CPU per journaled insert.
    const line: Line = { keyField, seqs: Array.of<number>(), head: 0, live: true };
    this.#lines.set(key, line);
    return line;
  }

  /** Sets a line as an earlier run left it (recovery). */
  restoreLine(key: K, keyField: Buffer, seqs: number[]): void {
    this.#lines.set(key, { keyField, seqs, head: 0, live: true });
  }

  /** Sets a batch as an earlier run left it (recovery). */
  restoreBatch(batchId: string, seqs: number[]): void {
    this.#batches.set(batchId, seqs);
  }

  /**
   * Closes the key's oldest `count` untaken items into batch `batchId`.
   * @returns the key's field, the items closed and the last one's sequence number; `undefined` when
   * the key has no untaken items (nothing to record).
   */
  take(
    key: K,
    count: number,
    batchId: string,
  ): { keyField: Buffer; count: number; through: number } | undefined {
    const taken = this.#shift(key, count);
    if (taken === undefined) return undefined;
    this.#batches.set(batchId, taken.seqs);
    return {
      keyField: taken.keyField,
      count: taken.seqs.length,
      through: taken.seqs[taken.seqs.length - 1]!,
    };
  }

  /** Settles batch `batchId`; `false` when no such batch is unsettled. */
  settle(batchId: string): boolean {
    const seqs = this.#batches.get(batchId);
    if (seqs === undefined) return false;
    this.#batches.delete(batchId);
    this.#release(seqs);
    return true;
  }

  /**
   * Settles the oldest `count` items of batch `batchId`, which stays taken with the rest.
   * @returns how many items were settled and the last one's sequence number; `undefined` when no
   * such batch is unsettled (nothing to record).
   */
  trim(batchId: string, count: number): { count: number; through: number } | undefined {
    const seqs = this.#batches.get(batchId);
    if (seqs === undefined || count <= 0) return undefined;
    const trimmed = seqs.splice(0, count);
    this.#release(trimmed);
    if (seqs.length === 0) this.#batches.delete(batchId);
    return { count: trimmed.length, through: trimmed[trimmed.length - 1]! };
  }

  /** Settles the key's oldest `count` untaken items; like {@link take}, without a batch. */
  drop(key: K, count: number): { keyField: Buffer; count: number; through: number } | undefined {
    const dropped = this.#shift(key, count);
    if (dropped === undefined) return undefined;
    this.#release(dropped.seqs);
    return {
      keyField: dropped.keyField,
      count: dropped.seqs.length,
      through: dropped.seqs[dropped.seqs.length - 1]!,
    };
  }

  #shift(key: K, count: number): { keyField: Buffer; seqs: number[] } | undefined {
    const line = this.#lines.get(key);
    if (line === undefined || count <= 0) return undefined;
    const end = Math.min(line.head + count, line.seqs.length);
    const seqs = line.seqs.slice(line.head, end);
    line.head = end;
    if (line.head === line.seqs.length) {
      this.#lines.delete(key);
      line.live = false;
    } else if (line.head > 1024 && line.head * 2 > line.seqs.length) {
      line.seqs = line.seqs.slice(line.head);
      line.head = 0;
    }
    return seqs.length === 0 ? undefined : { keyField: line.keyField, seqs };
  }

  #release(seqs: readonly number[]): void {
    let segment: Segment | undefined;
    let end = 0;
    // Items are moved only by a compaction, which is rare: without any, skip the lookup (a `Map.get`
    // by number for every settled item: some 40 instructions per journaled item, cachegrind).
    const moved = this.#moved.size > 0 ? this.#moved : undefined;
    for (const seq of seqs) {
      const place = moved?.get(seq);
      if (place !== undefined) {
        (moved as Map<number, Segment>).delete(seq);
        place.unsettled--;
        continue;
      }
      // Items of one batch mostly share a segment: look up again only when leaving it, `[firstSeq, end)`.
      if (segment === undefined || seq < segment.firstSeq || seq >= end) {
        segment = segmentOf(this.segments, seq);
        end = segment === undefined ? seq : this.#endOf(segment);
      }
      if (segment !== undefined) segment.unsettled--;
    }
  }

  /** The segment that holds item `seq` now. */
  segmentFor(seq: number): Segment | undefined {
    return this.#moved.get(seq) ?? segmentOf(this.segments, seq);
  }

  /** Records that item `seq` lives in `segment` now (restored from a relocation at recovery). */
  placeMoved(seq: number, segment: Segment): void {
    this.#moved.set(seq, segment);
  }

  /**
   * The unsettled items held in `segment`: sequence number → the batch id when taken, else `undefined`. Walks everything unsettled: compaction is rare (at most once per segment rotation).
   */
  liveIn(segment: Segment): Map<number, string | undefined> {
    const live = new Map<number, string | undefined>();
    for (const line of this.#lines.values()) {
      for (let i = line.head; i < line.seqs.length; i++) {
        const seq = line.seqs[i]!;
        if (this.segmentFor(seq) === segment) live.set(seq, undefined);
      }
    }
    for (const [batchId, seqs] of this.#batches) {
      for (const seq of seqs) if (this.segmentFor(seq) === segment) live.set(seq, batchId);
    }
    return live;
  }

  /** Moves items from `from` to `to` (their copies were written there). */
  move(seqs: readonly number[], from: Segment, to: Segment): void {
    for (const seq of seqs) this.#moved.set(seq, to);
    from.unsettled -= seqs.length;
    to.unsettled += seqs.length;
    to.items += seqs.length;
  }

  /** One past the last sequence number `segment` holds: the next segment's first (none for the last). */
  #endOf(segment: Segment): number {
    const next = this.segments[this.segments.indexOf(segment) + 1];
    return next === undefined ? Number.POSITIVE_INFINITY : next.firstSeq;
  }

  /**
   * Removes and returns the oldest segments that may go: all their items settled, and every older
   * segment gone (records in a segment speak of items in it or in older ones, so deleting out of
   * order could bring settled items back). `current` (still being written) always stays.
   */
  collect(current: Segment | undefined): Segment[] {
    const removed: Segment[] = [];
    while (this.segments.length > 0) {
      const oldest = this.segments[0]!;
      if (oldest === current || oldest.unsettled > 0) break;
      removed.push(this.segments.shift()!);
    }
    return removed;
  }
}
