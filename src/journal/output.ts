/**
 * A growable byte buffer that a turn's frames are encoded into, so that one group commit is one
 * contiguous write with no allocation per item.
 * @module
 */

/** Buffer's own utf-8 writer (undocumented, in every Node release): `write` without its argument checks. */
interface Utf8Writer {
  utf8Write(text: string, offset: number): number;
}

/**
 * Writes `text` as utf-8 at `offset` (the caller made room: 3 bytes per UTF-16 unit); returns the bytes
 * written. `utf8Write` skips what `write` does first (argument checks, looking the encoding up): with
 * small JSON values that was about 8% of the instructions of a journaled insert (cachegrind). `write`
 * where a Node lacks it.
 */
const writeUtf8: (buffer: Buffer, text: string, offset: number) => number =
  typeof (Buffer.prototype as unknown as Partial<Utf8Writer>).utf8Write === 'function'
    ? (buffer, text, offset) => (buffer as unknown as Utf8Writer).utf8Write(text, offset)
    : (buffer, text, offset) => buffer.write(text, offset);

/** Appends bytes; `take()` hands the filled part over and starts afresh. */
export class Output {
  #buffer: Buffer;
  /** Buffers {@link take} handed out and {@link recycle} took back. */
  readonly #spares: Buffer[] = [];
  /** Bytes filled so far. */
  pos = 0;

  /** @param initial - starting capacity, in bytes. */
  constructor(initial = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(initial);
  }

  /** The underlying buffer (valid until the next write that grows it). */
  get buffer(): Buffer {
    return this.#buffer;
  }

  /** Makes room for `bytes` more bytes. */
  ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buffer.copy(grown, 0, 0, this.pos);
    this.#buffer = grown;
  }

  /** Appends one byte. */
  u8(value: number): void {
    this.ensure(1);
    this.#buffer[this.pos++] = value;
  }

  /** Appends an unsigned 32-bit little-endian integer. */
  u32(value: number): void {
    this.ensure(4);
    this.#buffer.writeUInt32LE(value, this.pos);
    this.pos += 4;
  }

  /** Appends a float64, little-endian (sequence numbers: exact up to 2^53). */
  f64(value: number): void {
    this.ensure(8);
    this.#buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Appends raw bytes. */
  bytes(data: Uint8Array): void {
    // `length`, not `byteLength` (the same for bytes): V8 11 (Node 20) inlines the one, but looks the
    // other up on every call (an inline-cache miss and a builtin call).
    const length = data.length;
    this.ensure(length);
    this.#buffer.set(data, this.pos);
    this.pos += length;
  }

  /** Appends `source[start, end)`, copied without making a view of it. */
  copy(source: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    this.pos += source.copy(this.#buffer, this.pos, start, end);
  }

  /** Appends `[u32 byteLength][utf-8 bytes]`. */
  string(text: string): void {
    this.ensure(4 + text.length * 3);
    const written = writeUtf8(this.#buffer, text, this.pos + 4);
    this.#buffer.writeUInt32LE(written, this.pos);
    this.pos += 4 + written;
  }

  /**
   * The bytes filled so far; the output starts again, empty, in a fresh buffer (or one handed back to
   * {@link recycle}).
   */
  take(): Buffer {
    const filled = this.#buffer.subarray(0, this.pos);
    const size = Math.max(64 * 1024, Math.min(this.#buffer.length, 16 * 1024 * 1024));
    const spare = this.#spares.pop();
    this.#buffer = spare !== undefined && spare.length === size ? spare : Buffer.allocUnsafe(size);
    this.pos = 0;
    return filled;
  }

  /**
   * Takes back what {@link take} returned, once nothing reads it any more (it was written), for a later
   * `take` to fill again: a journal writing every turn then reuses two buffers instead of allocating one
   * a turn (each a fresh 64 KiB or more, outside the heap; cachegrind: 2-3% of the instructions of a
   * journaled insert). Keeps at most two, of the size `take` would allocate.
   */
  recycle(filled: Buffer): void {
    const whole = filled.buffer;
    if (filled.byteOffset !== 0 || this.#spares.length >= MAX_SPARES) return;
    if (whole.byteLength !== this.#buffer.length || whole.byteLength < 64 * 1024) return;
    this.#spares.push(Buffer.from(whole, 0, whole.byteLength));
  }
}

/** Buffers an output keeps for reuse (one being written, one being filled, one to spare). */
const MAX_SPARES = 2;

/** Reads what {@link Output} wrote. Throws `RangeError` past the end (the frame was verified first). */
export class Input {
  /** Read position. */
  pos: number;

  /**
   * @param buffer - the bytes.
   * @param start - first byte to read.
   * @param end - one past the last byte.
   */
  constructor(
    readonly buffer: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  #need(bytes: number): void {
    if (this.pos + bytes > this.end) throw new RangeError('frame payload ends early');
  }

  /** One byte. */
  u8(): number {
    this.#need(1);
    return this.buffer[this.pos++]!;
  }

  /** An unsigned 32-bit integer. */
  u32(): number {
    this.#need(4);
    const value = this.buffer.readUInt32LE(this.pos);
    this.pos += 4;
    return value;
  }

  /** A float64. */
  f64(): number {
    this.#need(8);
    const value = this.buffer.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** `length` raw bytes (a view, not a copy). */
  bytes(length: number): Buffer {
    this.#need(length);
    const view = this.buffer.subarray(this.pos, this.pos + length);
    this.pos += length;
    return view;
  }

  /** A `[u32 byteLength][utf-8]` string. */
  string(): string {
    const length = this.u32();
    this.#need(length);
    const text = this.buffer.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }
}
