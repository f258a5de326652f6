/**
 * Entries (key field, then value field: a put's payload) encoded by `admit` on the insert path, kept
 * until `write` meets them, so that a value is serialized once, not twice (`admit` must encode it to
 * know that it can be stored; measured, doing it again in `write` cost about 35% of the journal's
 * throughput with small JSON values), and so that `write` copies a whole turn's entries with one copy
 * where they lie back to back, instead of one per item (profiled: the per-item copies and the views
 * they needed were some 10% of the journal's insert path).
 *
 * `write` takes the entries in order, matching key and value by identity: the buffer admits each insert
 * before it stages it, so staged items are the admitted ones, in the same order, less the few whose
 * insert failed after `admit` (a full buffer); those are skipped. An item that was never admitted is
 * encoded afresh. The stored bytes are the value as it was at insert.
 * @module
 */
import type { Line } from './lines.js';
import { Output } from './output.js';

/** How far past a stale entry `take` looks for a match. */
const LOOK_AHEAD = 8;
/** Entries (or bytes) kept at most without a write taking them: beyond, the cache starts over. */
const MAX_ENTRIES = 65_536;
const MAX_BYTES = 16 * 1024 * 1024;

/** Encoded entries waiting for `write`, in admit order. */
export class AdmittedEntries {
  /** The entries' bytes, back to back: encode the next one here, between {@link begin} and {@link add}. */
  readonly out = new Output(16 * 1024);
  // Per entry, by index (`#count` in use): the arrays keep their room from one turn to the next.
  #keys: unknown[] = [];
  #values: unknown[] = [];
  /** The line whose key field the entry copied; `undefined` when the key was encoded afresh. */
  #lines: Array<Line | undefined> = [];
  #starts: number[] = [];
  #valueStarts: number[] = [];
  #count = 0;
  #head = 0;

  /** Starts an entry at `out.pos` (first starting over when too much was kept); returns where. */
  begin(): number {
    if (this.#count - this.#head >= MAX_ENTRIES || this.out.pos >= MAX_BYTES) this.clear();
    return this.out.pos;
  }

  /**
   * Keeps the entry encoded in `out` since {@link begin} returned `start`.
   * @param line - the line whose key field was copied, `undefined` when the key was encoded afresh.
   * @param valueStart - where the value field starts.
   */
  add(key: unknown, value: unknown, line: Line | undefined, start: number, valueStart: number): void {
    const index = this.#count++;
    this.#keys[index] = key;
    this.#values[index] = value;
    this.#lines[index] = line;
    this.#starts[index] = start;
    this.#valueStarts[index] = valueStart;
  }

  /** Forgets the entry begun at `start` (its encoding threw). */
  discard(start: number): void {
    this.out.pos = start;
  }

  /**
   * The index of the entry of `key` and `value` if it is among the next admitted ones (dropping stale
   * ones before it), else -1.
   */
  take(key: unknown, value: unknown): number {
    const limit = Math.min(this.#count, this.#head + LOOK_AHEAD);
    for (let index = this.#head; index < limit; index++) {
      if (this.#values[index] !== value || !Object.is(this.#keys[index], key)) continue;
      this.#head = index + 1;
      return index;
    }
    return -1;
  }

  /** Where entry `index` starts (its key field). */
  start(index: number): number {
    return this.#starts[index]!;
  }

  /** Where entry `index`'s value field starts. */
  valueStart(index: number): number {
    return this.#valueStarts[index]!;
  }

  /** One past entry `index`'s last byte. */
  end(index: number): number {
    return index + 1 < this.#count ? this.#starts[index + 1]! : this.out.pos;
  }

  /** The line whose key field entry `index` copied, `undefined` when its key was encoded afresh. */
  line(index: number): Line | undefined {
    return this.#lines[index];
  }

  /** Starts over when everything was taken (called after a write has copied its bytes). */
  settle(): void {
    if (this.#head >= this.#count) this.clear();
  }

  /** Forgets everything (and lets go of the keys and values, which the buffer may release). */
  clear(): void {
    const count = this.#count;
    this.#keys.fill(undefined, 0, count);
    this.#values.fill(undefined, 0, count);
    this.#lines.fill(undefined, 0, count);
    this.out.pos = 0;
    this.#count = 0;
    this.#head = 0;
  }
}
