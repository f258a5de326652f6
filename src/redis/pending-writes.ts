/**
 * The writes waiting for Redis, and the rounds made of them: each write's items as UTF-8 bytes in one
 * {@link TextRun}, grouped per key as chains of segments, so that merging writes into a round links
 * chains and splitting one off a large write cuts a chain, never copying an item. Per-key order holds
 * through both: a key's items of a write are one segment, in insert order, and chains join oldest first.
 * @module
 */
import { type EncodedItems, TextRun } from './text-run.js';

/** Items `from` to `to - 1` of a write's run: one key's items of that write, or the first of them. */
export interface Segment {
  readonly run: TextRun;
  from: number;
  readonly to: number;
  /** The key's next items, of a later write, once writes are merged into a round. */
  next: Segment | undefined;
}

/** One key's items waiting to be written: a chain of segments, oldest first. */
export interface PendingKey {
  readonly partition: number;
  first: Segment;
  last: Segment;
  /** Its items, and their size in bytes. */
  count: number;
  bytes: number;
}

/** One accepted write (or what failed of a round, sent again), its items grouped per key. */
export interface PendingWrite {
  /** The last write it carries whole: once it is in Redis, so are all writes up to this one. */
  readonly seq: number;
  readonly keys: Map<string, PendingKey>;
  /** Its items, and their size in bytes (UTF-8). */
  count: number;
  bytes: number;
  /**
   * Set when its calls were sent and failed: the number of each call, by call group (partition on a
   * Cluster, 0 on a single server). It is sent again alone, unchanged, under the same numbers, so that
   * a call that did run is recognised (see `APPEND` in `scripts.ts`).
   */
  readonly sent?: ReadonlyMap<number, number>;
}

/**
 * A round carries at most this many items, and at most {@link ROUND_BYTES} bytes of serialized items
 * (one item at least). It bounds the synchronous work of one round on the event loop: building
 * it and, above all, the client encoding it, which node-redis does for one command at once (10,000
 * items of 70 bytes took it 4 to 20 ms, 4,000 about 1.5 ms). A write larger than that is sent in
 * several rounds, one after the other, in order.
 */
export const ROUND_ITEMS = 4000;
/** See {@link ROUND_ITEMS}: 256 KiB (UTF-8), 4,000 items of 64 bytes. */
export const ROUND_BYTES = 256 * 1024;

/**
 * Splits the first `n` items (0 < n < entry.count) off `entry`, which keeps the rest.
 * @returns the first `n` items, as a key of their own.
 */
function splitKey(entry: PendingKey, n: number): PendingKey {
  let first: Segment | undefined;
  let last: Segment | undefined;
  let bytes = 0;
  let left = n;
  while (left > 0) {
    const segment = entry.first;
    const size = segment.to - segment.from;
    let taken: Segment;
    if (size <= left) {
      // Whole: the segment moves over (never the last one, since some items stay).
      entry.first = segment.next!;
      segment.next = undefined;
      taken = segment;
    } else {
      taken = { run: segment.run, from: segment.from, to: segment.from + left, next: undefined };
      segment.from = taken.to;
    }
    bytes += taken.run.bytes(taken.from, taken.to);
    left -= taken.to - taken.from;
    if (last === undefined) first = taken;
    else last.next = taken;
    last = taken;
  }
  entry.count -= n;
  entry.bytes -= bytes;
  return { partition: entry.partition, first: first!, last: last!, count: n, bytes };
}

/**
 * A round of the first items of `write`, which is larger than a round, up to {@link ROUND_ITEMS} items
 * and {@link ROUND_BYTES} bytes (one item at least); `write` keeps the rest. The round completes the
 * writes before `write` only.
 */
export function takePart(write: PendingWrite): PendingWrite {
  const keys = new Map<string, PendingKey>();
  let count = 0;
  let bytes = 0;
  for (const [member, entry] of write.keys) {
    let n = 0;
    let taken = 0;
    let full = false;
    for (
      let segment: Segment | undefined = entry.first;
      segment !== undefined && !full;
      segment = segment.next
    ) {
      for (let i = segment.from; i < segment.to; i++) {
        const size = segment.run.bytes(i, i + 1);
        if (count + n >= ROUND_ITEMS || (count + n > 0 && bytes + taken + size > ROUND_BYTES)) {
          full = true;
          break;
        }
        taken += size;
        n++;
      }
    }
    if (n === 0) break;
    count += n;
    bytes += taken;
    if (n === entry.count) {
      keys.set(member, entry);
      write.keys.delete(member);
      continue;
    }
    keys.set(member, splitKey(entry, n));
    break;
  }
  write.count -= count;
  write.bytes -= bytes;
  return { seq: write.seq - 1, keys, count, bytes };
}

/**
 * Write `seq`: `values[i]` (serialized) under `members[i]` in partition `partitions[i]`; an item whose
 * value is `undefined` is item `i` of `encoded`, already UTF-8. Reads everything now.
 */
export function pendingWrite(
  seq: number,
  members: readonly string[],
  partitions: readonly number[],
  values: ReadonlyArray<string | undefined>,
  encoded: EncodedItems | undefined,
): PendingWrite {
  // Each key's items go into the write's run one after the other, so that a key's items of the write
  // are one segment of it.
  const groups = new Map<string, { readonly partition: number; readonly indices: number[] }>();
  let chars = 0;
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!;
    const group = groups.get(member);
    if (group === undefined) groups.set(member, { partition: partitions[i]!, indices: [i] });
    else group.indices.push(i);
    chars += values[i]?.length ?? encoded!.ends[i]! - encoded!.starts[i]!;
  }
  const run = new TextRun(chars, members.length);
  const keys = new Map<string, PendingKey>();
  let bytes = 0;
  for (const [member, { partition, indices }] of groups) {
    const from = run.length;
    let size = 0;
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j]!;
      const value = values[i];
      size +=
        value !== undefined
          ? run.push(value)
          : run.pushBytes(encoded!.bytes, encoded!.starts[i]!, encoded!.ends[i]!);
    }
    const segment: Segment = { run, from, to: run.length, next: undefined };
    keys.set(member, { partition, first: segment, last: segment, count: indices.length, bytes: size });
    bytes += size;
  }
  return { seq, keys, count: members.length, bytes };
}

/**
 * One round of `writes` (oldest first, taken off the queue), which completes the last of them: their
 * keys' chains are linked up in place, each key's items oldest first.
 */
export function mergeWrites(writes: readonly PendingWrite[]): PendingWrite {
  const keys = new Map<string, PendingKey>();
  let count = 0;
  let bytes = 0;
  for (const write of writes) {
    count += write.count;
    bytes += write.bytes;
    for (const [member, entry] of write.keys) {
      const merged = keys.get(member);
      if (merged === undefined) keys.set(member, entry);
      else {
        merged.last.next = entry.first;
        merged.last = entry.last;
        merged.count += entry.count;
        merged.bytes += entry.bytes;
      }
    }
  }
  return { seq: writes[writes.length - 1]!.seq, keys, count, bytes };
}
