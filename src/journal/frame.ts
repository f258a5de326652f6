/**
 * The on-disk format. A segment file starts with an 8-byte magic (`DBJRNL` + format version `0x00 0x01`),
 * then holds frames back to back:
 *
 * ```
 * [u32 length][u32 crc32][u8 type][u64 firstSeq][u32 count][payload]
 * ```
 * `length` counts the bytes after the crc (13 + payload); the crc (`zlib.crc32`) covers `length` and
 * everything after the crc, so a flipped bit in the length is caught as surely as one in the payload.
 * All integers are little-endian. Every field of an entry is `[u8 tag][u32 length][bytes]`.
 *
 * | type | firstSeq | count | payload entries |
 * |---|---|---|---|
 * | `PUTS` (1) | sequence number of the first item; the others follow one by one | items | key, value |
 * | `TAKEN` (2) | the next sequence number at the time (a watermark) | entries | key, u32 count, f64 throughSeq, batchId |
 * | `SETTLED` (3) | watermark | entries | batchId |
 * | `DROPPED` (4) | watermark | entries | key, u32 count, f64 throughSeq |
 * | `TRIMMED` (6) | watermark | entries | batchId, u32 count, f64 throughSeq (the batch's items up to `throughSeq` were dropped) |
 * | `RELOCATED` (5) | watermark | entries | key, value, f64 seq, u8 taken, [batchId when taken] |
 *
 * Take and drop records name the sequence number of the last item they cover (`throughSeq`), not only a
 * count: once old segments are deleted, a count alone would no longer say which items it meant.
 *
 * `RELOCATED` copies the few unsettled items of the oldest segment forward, with their sequence
 * numbers and whether (and into which batch) they were taken, so that the oldest segment can be
 * deleted instead of holding every later one on disk (compaction).
 * @module
 */
import zlib from 'node:zlib';
import type { Input, Output } from './output.js';

/** The magic every segment starts with. */
export const SEGMENT_MAGIC: Buffer = Buffer.from('DBJRNL\u0000\u0001', 'latin1');

/** Bytes of a frame header (length, crc, type, firstSeq, count). */
export const FRAME_HEADER = 21;

/** Largest frame the reader accepts (1 GiB): a bigger length is corruption. */
export const MAX_FRAME = 1024 * 1024 * 1024;

/** Record types. Stable: they are on disk. */
export const RecordType = Object.freeze({
  PUTS: 1,
  TAKEN: 2,
  SETTLED: 3,
  DROPPED: 4,
  RELOCATED: 5,
  TRIMMED: 6,
});

/** Highest record type. */
export const LAST_RECORD_TYPE = 6;

/** A crc32, continuing from `initial`. */
type Crc32 = (data: Uint8Array, initial?: number) => number;

/** `zlib.crc32`, or `undefined` on a Node without it (before 20.15 / 22.2). */
export const crc32: Crc32 | undefined = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** Starts a frame at `out.pos`; returns where it starts, for {@link endFrame}. */
export function beginFrame(out: Output): number {
  const start = out.pos;
  out.ensure(FRAME_HEADER);
  out.pos += FRAME_HEADER;
  return start;
}

/** Fills in the header of the frame begun at `start` and seals it with its crc. */
export function endFrame(out: Output, start: number, type: number, firstSeq: number, count: number): void {
  const buffer = out.buffer;
  buffer.writeUInt32LE(out.pos - start - 8, start);
  buffer[start + 8] = type;
  buffer.writeUInt32LE(firstSeq % 0x1_0000_0000, start + 9);
  buffer.writeUInt32LE(Math.floor(firstSeq / 0x1_0000_0000), start + 13);
  buffer.writeUInt32LE(count, start + 17);
  buffer.writeUInt32LE(checksum(buffer, start, out.pos), start + 4);
}

function checksum(buffer: Buffer, start: number, end: number): number {
  const crc = crc32!;
  return crc(buffer.subarray(start + 8, end), crc(buffer.subarray(start, start + 4)));
}

/** A verified frame inside a segment's bytes. */
export interface Frame {
  readonly type: number;
  readonly firstSeq: number;
  readonly count: number;
  /** Offset of the frame's first byte. */
  readonly start: number;
  /** Offset of the payload. */
  readonly payload: number;
  /** One past the frame's last byte. */
  readonly end: number;
}

/**
 * The frame at `offset`, or `undefined` when the bytes there are not a whole, intact frame (too short,
 * a length past the end, an unknown type, a crc mismatch).
 */
export function readFrame(buffer: Buffer, offset: number): Frame | undefined {
  if (offset + FRAME_HEADER > buffer.length) return undefined;
  const length = buffer.readUInt32LE(offset);
  const type = buffer[offset + 8]!;
  if (length < FRAME_HEADER - 8 || length > MAX_FRAME || type < 1 || type > LAST_RECORD_TYPE)
    return undefined;
  const end = offset + 8 + length;
  if (end > buffer.length) return undefined;
  if (checksum(buffer, offset, end) !== buffer.readUInt32LE(offset + 4)) return undefined;
  return {
    type,
    firstSeq: buffer.readUInt32LE(offset + 9) + buffer.readUInt32LE(offset + 13) * 0x1_0000_0000,
    count: buffer.readUInt32LE(offset + 17),
    start: offset,
    payload: offset + FRAME_HEADER,
    end,
  };
}

/** Skips one tagged field; returns `[start, end)` of the whole field (tag included). */
export function skipField(input: Input): [number, number] {
  const start = input.pos;
  input.u8();
  input.bytes(input.u32());
  return [start, input.pos];
}
