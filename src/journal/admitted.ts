/**
 * Values encoded by `admit` on the insert path, kept until `write` meets them, so that a value is
 * serialized once, not twice (`admit` must encode it to know that it can be stored; measured, doing it
 * again in `write` cost about 35% of the journal's throughput with small JSON values).
 *
 * `write` takes the encodings in order, matching by identity: the buffer admits each insert before it
 * stages it, so staged values are the admitted ones, in the same order, less the few whose insert
 * failed after `admit` (a full buffer); those are skipped. A value that was never admitted is encoded
 * afresh. The stored bytes are the value as it was at insert.
 * @module
 */
import { Output } from './output.js';

/** How far past a stale entry `take` looks for a match. */
const LOOK_AHEAD = 8;
/** Entries (or bytes) kept at most without a write taking them: beyond, the cache starts over. */
const MAX_ENTRIES = 65_536;
const MAX_BYTES = 16 * 1024 * 1024;

/** Encoded values waiting for `write`, in admit order. */
export class AdmittedValues {
  readonly #out = new Output(16 * 1024);
  #values: unknown[] = [];
  #ends: number[] = [];
  #head = 0;

  /** Encodes `value` with `encode` (which may throw) and keeps the bytes for {@link take}. */
  add(value: unknown, encode: (out: Output) => void): void {
    const out = this.#out;
    if (this.#values.length - this.#head >= MAX_ENTRIES || out.pos >= MAX_BYTES) this.clear();
    const start = out.pos;
    try {
      encode(out);
    } catch (error) {
      out.pos = start;
      throw error;
    }
    this.#values.push(value);
    this.#ends.push(out.pos);
  }

  /** The encoding of `value` if it is among the next admitted ones (dropping stale ones before it). */
  take(value: unknown): Buffer | undefined {
    const limit = Math.min(this.#values.length, this.#head + LOOK_AHEAD);
    for (let index = this.#head; index < limit; index++) {
      if (this.#values[index] !== value) continue;
      const start = index === 0 ? 0 : this.#ends[index - 1]!;
      this.#head = index + 1;
      return this.#out.buffer.subarray(start, this.#ends[index]!);
    }
    return undefined;
  }

  /** Starts over when everything was taken (called after a write has copied its bytes). */
  settle(): void {
    if (this.#head >= this.#values.length) this.clear();
  }

  /** Forgets everything. */
  clear(): void {
    this.#out.pos = 0;
    this.#values = [];
    this.#ends = [];
    this.#head = 0;
  }
}
