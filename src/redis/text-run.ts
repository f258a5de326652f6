/**
 * Serialized items waiting for Redis, kept as UTF-8 bytes outside the JavaScript heap. A write's items
 * stay in the process until their round's reply, which under load spans several turns: as strings they
 * survived the young generation's collections, and each scavenge copied every waiting item again (the
 * 5 to 30 ms pauses that set the store's event-loop p99). As bytes in a `Buffer` the garbage collector
 * does not touch them; a string lives only for the turn that serializes it and for the turn that sends
 * it.
 * @module
 */

import { isAscii } from 'node:buffer';

/** Bytes a run starts with when it is not told better (it grows by doubling). */
const MIN_CAPACITY = 256;

/** The serialized items of one write, in order; item `i` is `text(i)`. Append-only. */
export class TextRun {
  #bytes: Buffer;
  /** `#ends[i]`: the byte offset where item `i` ends (item `i` starts where item `i - 1` ends). */
  #ends: Uint32Array;
  #count = 0;
  #size = 0;
  /**
   * Every item is ASCII (as many bytes as characters): read back as latin1, a plain copy. `undefined`:
   * not known (items pushed as bytes), found out at the first read.
   */
  #ascii: boolean | undefined = true;

  /**
   * @param chars - the characters the run will hold, if known: UTF-8 takes one byte for each ASCII
   *   character, and the run grows when the items need more.
   * @param items - the items the run will hold, if known.
   */
  constructor(chars = MIN_CAPACITY, items = 16) {
    this.#bytes = Buffer.allocUnsafe(Math.max(chars, MIN_CAPACITY));
    this.#ends = new Uint32Array(Math.max(items, 1));
  }

  /** Items in the run. */
  get length(): number {
    return this.#count;
  }

  /** Appends one item; returns its size in bytes. */
  push(text: string): number {
    const free = this.#bytes.length - this.#size;
    // A character takes at most 3 bytes in UTF-8 (a surrogate pair: 4 bytes for 2 characters).
    if (text.length * 3 > free) {
      const needed = Buffer.byteLength(text);
      if (needed > free) this.#grow(this.#size + needed);
    }
    const written = this.#bytes.write(text, this.#size);
    if (written !== text.length) this.#ascii = false;
    this.#size += written;
    if (this.#count === this.#ends.length) this.#growEnds();
    this.#ends[this.#count++] = this.#size;
    return written;
  }

  /** Appends one item given as its UTF-8 bytes, `bytes[start, end)`; returns its size in bytes. */
  pushBytes(bytes: Buffer, start: number, end: number): number {
    const size = end - start;
    if (size > this.#bytes.length - this.#size) this.#grow(this.#size + size);
    bytes.copy(this.#bytes, this.#size, start, end);
    this.#size += size;
    if (this.#ascii === true) this.#ascii = undefined;
    if (this.#count === this.#ends.length) this.#growEnds();
    this.#ends[this.#count++] = this.#size;
    return size;
  }

  /** Item `i` (0 ≤ i < length), as a string again. */
  text(i: number): string {
    const start = i === 0 ? 0 : this.#ends[i - 1];
    this.#ascii ??= isAscii(this.#bytes.subarray(0, this.#size));
    // UTF-8 decoding checks every byte; for ASCII, latin1 gives the same string by copying them.
    return this.#bytes.toString(this.#ascii ? 'latin1' : 'utf8', start, this.#ends[i]);
  }

  /** The size in bytes of items `from` to `to - 1`. */
  bytes(from: number, to: number): number {
    if (to <= from) return 0;
    return this.#ends[to - 1]! - (from === 0 ? 0 : this.#ends[from - 1]!);
  }

  #growEnds(): void {
    const ends = new Uint32Array(this.#ends.length * 2);
    ends.set(this.#ends);
    this.#ends = ends;
  }

  #grow(size: number): void {
    const bytes = Buffer.allocUnsafe(Math.max(size, this.#bytes.length * 2));
    this.#bytes.copy(bytes, 0, 0, this.#size);
    this.#bytes = bytes;
  }
}

/**
 * The items of one write that arrive already encoded as UTF-8 (the journal in front encodes values as
 * JSON, the Redis store's default): copied here while the journal writes, so that the Redis side need
 * not serialize them again. Reused from one write to the next.
 */
export class EncodedItems {
  #bytes = Buffer.allocUnsafe(16 * 1024);
  #size = 0;
  /** `starts[i]`: where item `i` starts in {@link bytes}, -1 when it was not handed over. */
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);

  /** The bytes of the items handed over since {@link reset}. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  /** Forgets every item, for a write of `length` items. */
  reset(length: number): void {
    if (this.starts.length < length) {
      this.starts = new Int32Array(length);
      this.ends = new Int32Array(length);
    }
    this.starts.fill(-1, 0, length);
    this.#size = 0;
  }

  /** Item `i` is `source[start, end)` (UTF-8). */
  set(i: number, source: Buffer, start: number, end: number): void {
    const size = end - start;
    if (this.#size + size > this.#bytes.length) {
      const bytes = Buffer.allocUnsafe(Math.max(this.#size + size, this.#bytes.length * 2));
      this.#bytes.copy(bytes, 0, 0, this.#size);
      this.#bytes = bytes;
    }
    source.copy(this.#bytes, this.#size, start, end);
    this.starts[i] = this.#size;
    this.#size += size;
    this.ends[i] = this.#size;
  }
}
