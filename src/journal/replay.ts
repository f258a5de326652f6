/**
 * Rebuilding what an earlier run left unsettled from the frames of its segments, in order: puts add
 * items to their key's line, takes close the oldest of them into batches, settles and drops remove
 * them. A take closes every untaken item up to the last one it names; a drop removes the `count`
 * newest of those (the same items when nothing is missing; see `drop` for when something is); a trim
 * removes a taken batch's oldest items. Records about items that are no longer on disk (their segment was deleted once they all
 * settled) find nothing and change nothing: takes and drops name the last item they cover.
 * @module
 */
import type { RecoveredBatch } from '../backend.js';
import type { Codec } from './codec.js';
import { RecordType, skipField } from './frame.js';
import { Input } from './output.js';
import type { ScannedSegment } from './scan.js';

/** An unsettled item found on disk: where its value field is, not yet decoded. */
interface Item {
  readonly seq: number;
  readonly buffer: Buffer;
  readonly field: number;
  readonly segment: number;
  /** Read from a RELOCATED record: lives in `segment`, not where its sequence number falls. */
  readonly moved?: boolean;
}

interface KeyState {
  readonly keyField: Buffer;
  readonly untaken: Item[];
  head: number;
  readonly batches: Array<{ id: string; items: Item[] }>;
}

/** What replay hands back: the batches for `recover()`, and the model for the run that starts. */
export interface Replayed<K, V> {
  /** Per key in order of its oldest unsettled item: taken batches in take order, then untaken items. */
  readonly batches: RecoveredBatch<K, V>[];
  /** Per key: its field and the untaken items' sequence numbers. */
  readonly lines: Array<{ key: K; keyField: Buffer; seqs: number[] }>;
  /** Taken, unsettled batches with their items' sequence numbers. */
  readonly taken: Array<{ batchId: string; seqs: number[] }>;
  /** Per segment id: unsettled items, items in all, and the sequence number of its first item. */
  readonly segments: Map<number, { unsettled: number; items: number; firstSeq: number | undefined }>;
  /** Unsettled items that live in a segment other than the one their sequence number falls in (copied forward). */
  readonly moved: Array<{ seq: number; segment: number }>;
  /** The first sequence number above every one on disk. */
  readonly nextSeq: number;
  /** Unsettled items found. */
  readonly items: number;
  /** Frames with a good crc whose contents could not be read (written by another version?), skipped. */
  readonly unreadable: number;
}

/** Replays `segments` (oldest first). Decoding errors of the user's deserializers propagate. */
export function replay<K, V>(
  segments: readonly ScannedSegment[],
  keyCodec: Codec<K>,
  valueCodec: Codec<V>,
): Replayed<K, V> {
  const keys = new Map<string, KeyState>();
  const batchOwners = new Map<string, KeyState>();
  const segmentInfo = new Map<number, { unsettled: number; items: number; firstSeq: number | undefined }>();
  // Sequence numbers put by the PUTS frames read so far, as merged ranges: a relocated copy of an item
  // whose original is still on disk (the process died before deleting it) is skipped.
  const ranges: Array<[number, number]> = [];
  // And sequence numbers of copies read so far: a later compaction copies an item again before the
  // segment with its first copy is deleted.
  const copied = new Set<number>();
  const seen = (seq: number): boolean => {
    if (copied.has(seq)) return true;
    for (let i = ranges.length - 1; i >= 0; i--) {
      const [start, end] = ranges[i]!;
      if (seq >= start && seq < end) return true;
      if (seq >= end) return false;
    }
    return false;
  };
  const insertSorted = (items: Item[], from: number, item: Item): void => {
    let index = items.length;
    while (index > from && items[index - 1]!.seq > item.seq) index--;
    items.splice(index, 0, item);
  };
  let nextSeq = 0;
  let unreadable = 0;

  const stateOf = (buffer: Buffer, [start, end]: [number, number]): KeyState => {
    const name = buffer.toString('latin1', start, end);
    let state = keys.get(name);
    if (state === undefined) {
      state = { keyField: Buffer.from(buffer.subarray(start, end)), untaken: [], head: 0, batches: [] };
      keys.set(name, state);
    }
    return state;
  };
  const shift = (state: KeyState, through: number): Item[] => {
    const start = state.head;
    while (state.head < state.untaken.length && state.untaken[state.head]!.seq <= through) state.head++;
    return state.untaken.slice(start, state.head);
  };

  // Drops the `count` newest untaken items up to `through`. Exactly the oldest untaken ones when the
  // records are complete; when a take before it was lost to corruption, the items of that take stay
  // (a duplicate delivery) rather than being dropped in place of the ones that were.
  const drop = (state: KeyState, count: number, through: number): void => {
    let end = state.head;
    while (end < state.untaken.length && state.untaken[end]!.seq <= through) end++;
    const start = Math.max(state.head, end - count);
    if (start === state.head) state.head = end;
    else state.untaken.splice(start, end - start);
  };

  for (const segment of segments) {
    const info = { unsettled: 0, items: 0, firstSeq: undefined as number | undefined };
    segmentInfo.set(segment.id, info);
    for (const frame of segment.frames) {
      const input = new Input(segment.buffer, frame.payload, frame.end);
      try {
        if (frame.type === RecordType.PUTS) {
          info.firstSeq ??= frame.firstSeq;
          for (let i = 0; i < frame.count; i++) {
            const state = stateOf(segment.buffer, skipField(input));
            const [field] = skipField(input);
            state.untaken.push({
              seq: frame.firstSeq + i,
              buffer: segment.buffer,
              field,
              segment: segment.id,
            });
          }
          info.items += frame.count;
          const last = ranges[ranges.length - 1];
          if (last !== undefined && last[1] === frame.firstSeq) last[1] += frame.count;
          else ranges.push([frame.firstSeq, frame.firstSeq + frame.count]);
          nextSeq = Math.max(nextSeq, frame.firstSeq + frame.count);
        } else if (frame.type === RecordType.TAKEN) {
          for (let i = 0; i < frame.count; i++) {
            const state = stateOf(segment.buffer, skipField(input));
            input.u32();
            const items = shift(state, input.f64());
            const id = input.string();
            if (items.length > 0) {
              state.batches.push({ id, items });
              batchOwners.set(id, state);
            }
          }
        } else if (frame.type === RecordType.RELOCATED) {
          for (let i = 0; i < frame.count; i++) {
            const state = stateOf(segment.buffer, skipField(input));
            const [field] = skipField(input);
            const seq = input.f64();
            const batchId = input.u8() === 1 ? input.string() : undefined;
            info.items++;
            if (seen(seq)) continue;
            copied.add(seq);
            const item = { seq, buffer: segment.buffer, field, segment: segment.id, moved: true };
            if (batchId === undefined) {
              insertSorted(state.untaken, state.head, item);
              continue;
            }
            let batch = state.batches.find((candidate) => candidate.id === batchId);
            if (batch === undefined) {
              batch = { id: batchId, items: [] };
              state.batches.push(batch);
              batchOwners.set(batchId, state);
            }
            insertSorted(batch.items, 0, item);
          }
        } else if (frame.type === RecordType.SETTLED) {
          for (let i = 0; i < frame.count; i++) {
            const id = input.string();
            const state = batchOwners.get(id);
            if (state === undefined) continue;
            batchOwners.delete(id);
            const index = state.batches.findIndex((batch) => batch.id === id);
            if (index >= 0) state.batches.splice(index, 1);
          }
        } else if (frame.type === RecordType.TRIMMED) {
          for (let i = 0; i < frame.count; i++) {
            const id = input.string();
            input.u32();
            // By sequence number, not count: some of the batch's items may arrive later, copied
            // forward by a compaction (their first segment is gone); those were not trimmed.
            const through = input.f64();
            const state = batchOwners.get(id);
            const index = state?.batches.findIndex((batch) => batch.id === id) ?? -1;
            if (state === undefined || index < 0) continue;
            const batch = state.batches[index]!;
            batch.items = batch.items.filter((item) => item.seq > through);
            if (batch.items.length === 0) {
              state.batches.splice(index, 1);
              batchOwners.delete(id);
            }
          }
        } else {
          for (let i = 0; i < frame.count; i++) {
            const state = stateOf(segment.buffer, skipField(input));
            const count = input.u32();
            drop(state, count, input.f64());
          }
        }
        nextSeq = Math.max(nextSeq, frame.type === RecordType.PUTS ? 0 : frame.firstSeq);
      } catch {
        unreadable++;
      }
    }
  }

  const live = [...keys.values()].filter(
    (state) => state.batches.length > 0 || state.head < state.untaken.length,
  );
  // Copies come in after later takes: take order within a key is the order of the batches' items.
  for (const state of live) state.batches.sort((a, b) => a.items[0]!.seq - b.items[0]!.seq);
  const oldest = (state: KeyState) => state.batches[0]?.items[0]?.seq ?? state.untaken[state.head]!.seq;
  live.sort((a, b) => oldest(a) - oldest(b));

  const batches: RecoveredBatch<K, V>[] = [];
  const lines: Array<{ key: K; keyField: Buffer; seqs: number[] }> = [];
  const taken: Array<{ batchId: string; seqs: number[] }> = [];
  let items = 0;
  const moved: Array<{ seq: number; segment: number }> = [];
  const decodeValue = (item: Item): V => {
    const info = segmentInfo.get(item.segment)!;
    info.unsettled++;
    items++;
    if (item.moved) moved.push({ seq: item.seq, segment: item.segment });
    return valueCodec.decode(new Input(item.buffer, item.field, item.buffer.length));
  };
  for (const state of live) {
    const key = keyCodec.decode(new Input(state.keyField, 0, state.keyField.length));
    for (const batch of state.batches) {
      batches.push({ key, items: batch.items.map(decodeValue), batchId: batch.id });
      taken.push({ batchId: batch.id, seqs: batch.items.map((item) => item.seq) });
    }
    const untaken = state.untaken.slice(state.head);
    if (untaken.length > 0) {
      batches.push({ key, items: untaken.map(decodeValue), batchId: undefined });
      lines.push({ key, keyField: state.keyField, seqs: untaken.map((item) => item.seq) });
    }
  }
  return { batches, lines, taken, segments: segmentInfo, moved, nextSeq, items, unreadable };
}
