/**
 * Serialized items waiting for Redis, kept as UTF-8 bytes outside the JavaScript heap. A write's items
 * stay in the process until their round's reply, which under load spans several turns: as strings they
 * survived the young generation's collections, and each scavenge copied every waiting item again (the
 * 5 to 30 ms pauses that set the store's event-loop p99). As bytes in a `Buffer` the garbage collector
 * does not touch them; a string lives only for the turn that serializes it and for the turn that sends
 * it.
 * @module
 */

/** Bytes a run starts with when it is not told better (it grows by doubling). */
const MIN_CAPACITY = 256;

/** The serialized items of one write, in order; item `i` is `text(i)`. Append-only. */
export class TextRun {
  #bytes: Buffer;
  /** `#ends[i]`: the byte offset where item `i` ends (item `i` starts where item `i - 1` ends). */
  #ends: Uint32Array;
  #count = 0;
  #size = 0;
  /** Every item so far is ASCII (as many bytes as characters): read back as latin1, a plain copy. */
  #ascii = true;

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
    if (this.#count === this.#ends.length) {
      const ends = new Uint32Array(this.#ends.length * 2);
      ends.set(this.#ends);
      this.#ends = ends;
    }
    this.#ends[this.#count++] = this.#size;
    return written;
  }

  /** Item `i` (0 ≤ i < length), as a string again. */
  text(i: number): string {
    const start = i === 0 ? 0 : this.#ends[i - 1];
    // UTF-8 decoding checks every byte; for ASCII, latin1 gives the same string by copying them.
    return this.#bytes.toString(this.#ascii ? 'latin1' : 'utf8', start, this.#ends[i]);
  }

  /** The size in bytes of items `from` to `to - 1`. */
  bytes(from: number, to: number): number {
    if (to <= from) return 0;
    return this.#ends[to - 1]! - (from === 0 ? 0 : this.#ends[from - 1]!);
  }

  #grow(size: number): void {
    const bytes = Buffer.allocUnsafe(Math.max(size, this.#bytes.length * 2));
    this.#bytes.copy(bytes, 0, 0, this.#size);
    this.#bytes = bytes;
  }
}
