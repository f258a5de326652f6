/**
 * The memory budget: how many items and estimated bytes the buffer holds, whether one more fits, and
 * the callers waiting in `ready()` for room.
 *
 * Owns `held` and `heldBytes`, and nothing else writes them. Invariants: `held` is the number of items
 * buffered, queued, in flight or waiting for a retry (the buffer's `size`), not those handed to
 * `handleError`; `startedHeld` / `startedBytes` are the part of it whose delivery has started (what
 * `onFull: 'drop-oldest'` may not drop); while `held < quickInsertsBelow`, an insert needs no check.
 * @module
 */
import { ByteSampler } from './byte-sampler.js';
import { BufferFullError, describe, invalidReturnValue, ReadyTimeoutError } from './errors.js';
import { startTimer, type Timer } from './timers.js';

/** Options of {@link DataBuffer.ready}. */
export interface ReadyOptions {
  /** Reject with a {@link ReadyTimeoutError} when no room was made in time, in ms. @default Infinity */
  timeout?: number;
  /** Stop waiting when this signal aborts (rejects with its reason). */
  signal?: AbortSignal;
}

/** The hard ceiling of `onFull: 'backpressure'`, as a multiple of the budget (both limits). */
export const CEILING = 2;

/**
 * Held items and bytes against `maxBuffered` / `maxBufferedBytes`.
 *
 * Bytes are counted in one of two ways. With a `sizeOf` of the user's, every item is measured and
 * counted (`measureBytes`): exact to that function, at its cost on every insert. With the default
 * estimate, a sample of the items is measured ({@link ByteSampler}) and the byte budget becomes an
 * item limit, `maxBufferedBytes / estimated bytes per item`: inserts then need no byte count, batches
 * no byte record, and the quick path stays one comparison.
 */
export class Budget<V> {
  /**
   * The item limit in force: the `maxBuffered` option, lowered to what the byte budget allows at the
   * sampled estimate per item when bytes are sampled. Read by the insert quick path and `onFull`.
   */
  maxBuffered: number;
  /** The `maxBuffered` option. */
  readonly maxItems: number;
  readonly maxBytes: number;
  /**
   * Whether every item is measured and counted in `heldBytes`: a finite `maxBufferedBytes` with the
   * user's `sizeOf`, or `maxBatchBytes` (batches count their bytes).
   */
  readonly measureBytes: boolean;
  /** With the default `sizeOf` and a finite `maxBufferedBytes`: the sample the item limit comes from. */
  readonly #sampler: ByteSampler | undefined;
  /** Whether inserts may skip the checks below a bound at all (no backend or a local one, not closed). */
  #quick: boolean;
  /** Whether that bound is {@link stagedInsertsBelow} (a local store) rather than {@link quickInsertsBelow}. */
  readonly #staged: boolean;
  /**
   * With sampled bytes and no bound (a buffer with a shared store, whose every insert is checked):
   * inserts to let pass unmeasured before the next sample, as the bound does otherwise. Measuring every
   * insert there cost about 10% of the journal's insert rate (profiled).
   */
  #unsampled = 0;
  /** Items held: public for the insert quick path, which counts an item in without a call. */
  held = 0;
  heldBytes = 0;
  /**
   * While `held` is below this, an insert needs no check beyond it: `maxBuffered` for a buffer without
   * byte accounting or backend, 0 (never) for one with either and once closed. One comparison instead
   * of four on the hot path measured 10-15% of the insert rate over 10k keys.
   */
  quickInsertsBelow: number;
  /**
   * The same bound for a buffer with a local store (the journal), whose inserts are admitted and staged
   * for it (so never take the quick path): below it, that is all they need. 0 for any other buffer.
   */
  stagedInsertsBelow = 0;
  /** Of `held` / `heldBytes`, what deliveries whose first attempt started hold: 'drop-oldest' cannot drop it. */
  startedHeld = 0;
  startedBytes = 0;
  readonly #sizeOf: (value: V) => number;
  #readyWaiters: ((error?: unknown) => void)[] = [];

  /**
   * @param quick - whether inserts may skip the checks while under `maxBuffered` (false when each
   *   insert must also be measured or staged for a backend).
   * @param measureItems - estimate every item even without a byte budget: batches count their bytes
   *   (`maxBatchBytes`).
   * @param sampled - whether `sizeOf` is the default estimate, whose figures may be sampled rather than
   *   taken for every item (see the class) when nothing else needs every item measured.
   * @param staged - with `quick`: the inserts that skip the checks are those of a local store's staged
   *   path ({@link stagedInsertsBelow}), not the quick path.
   */
  constructor(
    maxBuffered: number,
    maxBytes: number,
    sizeOf: (value: V) => number,
    quick: boolean,
    measureItems = false,
    sampled = false,
    staged = false,
  ) {
    this.maxBuffered = maxBuffered;
    this.maxItems = maxBuffered;
    this.maxBytes = maxBytes;
    const finite = maxBytes !== Number.POSITIVE_INFINITY;
    const sampling = finite && sampled && !measureItems;
    this.measureBytes = measureItems || (finite && !sampling);
    this.#sampler = sampling ? new ByteSampler() : undefined;
    this.#quick = quick && !this.measureBytes;
    this.#staged = staged;
    this.quickInsertsBelow = 0;
    this.#sizeOf = sizeOf;
    // The first items are all measured: the bound opens once the sample says something.
    this.#setBound(this.#quick && this.#sampler === undefined ? maxBuffered : 0);
  }

  /** Sets the bound of whichever path skips the checks (see {@link quickInsertsBelow}). */
  #setBound(bound: number): void {
    if (this.#staged) this.stagedInsertsBelow = bound;
    else this.quickInsertsBelow = bound;
  }

  /** Below this `held`, an insert needs no check (other than staging for a local store). */
  get uncheckedBelow(): number {
    return this.#staged ? this.stagedInsertsBelow : this.quickInsertsBelow;
  }

  /**
   * After a checked insert: with sampled bytes, the quick path is open again until the next sample is
   * due, `held + stride` (a bound, not a counter: the quick path stays one comparison).
   */
  rearm(): void {
    const sampler = this.#sampler;
    if (sampler === undefined || !this.#quick) return;
    this.#setBound(Math.min(this.maxBuffered, this.held + sampler.stride()));
  }

  /** No insert skips the checks any more (the buffer closes). */
  stopQuickInserts(): void {
    this.#quick = false;
    this.quickInsertsBelow = 0;
    this.stagedInsertsBelow = 0;
  }

  /** Whether the buffer has room: under both limits. */
  hasRoom(): boolean {
    return this.held < this.maxBuffered && this.heldBytes < this.maxBytes;
  }

  /**
   * Whether an item of `bytes` stays under the hard ceiling of `onFull: 'backpressure'`: twice the item
   * limit in force (`maxBuffered`, or what the byte budget allows at the sampled estimate) and twice
   * `maxBufferedBytes` for measured items. Past it, items are refused (and reported), so a producer that
   * ignores `insert`'s `false` cannot grow the buffer without bound.
   */
  underCeilingFor(bytes: number): boolean {
    return this.held < this.maxBuffered * CEILING && this.heldBytes + bytes <= this.maxBytes * CEILING;
  }

  /** Whether an item of `bytes` finds the buffer full. */
  isFullFor(bytes: number): boolean {
    return this.held >= this.maxBuffered || this.heldBytes + bytes > this.maxBytes;
  }

  /** `count` accepted items of `bytes` in all join the buffer. */
  add(count: number, bytes: number): void {
    this.held += count;
    this.heldBytes += bytes;
  }

  /** `count` items of `bytes` left the buffer without having started delivery. */
  remove(count: number, bytes: number): void {
    this.held -= count;
    this.heldBytes -= bytes;
    // Keep the distance to the next sample: a steady `held` must not stop the sampling.
    if (this.#sampler !== undefined) this.#lowerBound(count);
  }

  #lowerBound(count: number): void {
    if (this.#staged) this.stagedInsertsBelow -= count;
    else this.quickInsertsBelow -= count;
  }

  /** A delivery's first attempt starts: its items become undroppable. */
  start(count: number, bytes: number): void {
    this.startedHeld += count;
    this.startedBytes += bytes;
  }

  /** `count` items of `bytes` left the buffer; `started` says whether their delivery had started. */
  release(count: number, bytes: number, started: boolean): void {
    this.held -= count;
    this.heldBytes -= bytes;
    if (this.#sampler !== undefined) this.#lowerBound(count);
    if (started) {
      this.startedHeld -= count;
      this.startedBytes -= bytes;
    }
  }

  /**
   * The item's estimated size, checked: a bad `sizeOf` result would corrupt the accounting. With
   * sampled bytes, the item joins the sample (which may lower the item limit) and 0 is returned: the
   * item's bytes are in the limit, not in `heldBytes`.
   */
  measure(value: V): number {
    if (!this.measureBytes) {
      const sampler = this.#sampler;
      if (sampler === undefined) return 0;
      if (this.#quick) {
        // The bound (see rearm) already let the items between samples pass.
        this.#sample(value);
      } else if (this.#unsampled > 0) {
        this.#unsampled--;
      } else {
        this.#sample(value);
        this.#unsampled = sampler.stride();
      }
      return 0;
    }
    return this.#size(value);
  }

  #sample(value: V): void {
    const perItem = (this.#sampler as ByteSampler).add(this.#size(value));
    // At least 1: an empty buffer has room, or a `ready()` caller could wait for ever.
    this.maxBuffered = Math.max(1, Math.min(this.maxItems, Math.floor(this.maxBytes / perItem)));
  }

  #size(value: V): number {
    const bytes = this.#sizeOf(value);
    // `typeof` first: a numeric string passes `>= 0` and would turn the byte count into a string.
    if (typeof bytes !== 'number') {
      throw invalidReturnValue(
        `Expected \`sizeOf\` to return a finite number >= 0, got ${describe(bytes)}`,
        false,
      );
    }
    if (!(bytes >= 0) || bytes === Number.POSITIVE_INFINITY) {
      throw invalidReturnValue(
        `Expected \`sizeOf\` to return a finite number >= 0, got ${describe(bytes)}`,
        true,
      );
    }
    return bytes;
  }

  /** Which limit an item of `bytes` runs into, for a {@link BufferFullError}. */
  fullness(bytes: number): string {
    if (this.held >= this.maxBuffered && this.maxBuffered < this.maxItems) {
      const perItem = Math.ceil(this.maxBytes / Math.max(1, this.maxBuffered));
      return `maxBufferedBytes is ${this.maxBytes}, about ${perItem} bytes per item as sampled: ${this.maxBuffered} items`;
    }
    return this.held >= this.maxBuffered
      ? `maxBuffered is ${this.maxBuffered} items`
      : `maxBufferedBytes is ${this.maxBytes}, ${this.heldBytes} held, the item is ${bytes}`;
  }

  /** Throws a {@link BufferFullError} unless all of `values` fit (`insertMany` under `onFull: 'throw'`). */
  assertFits(values: V[]): void {
    let bytes = 0;
    if (this.measureBytes) for (const value of values) bytes += this.measure(value);
    if (this.held + values.length > this.maxBuffered || this.heldBytes + bytes > this.maxBytes) {
      throw new BufferFullError(
        `${values.length} item(s) of ${bytes} bytes do not fit: ${this.held}/${this.maxBuffered} items, ${this.heldBytes}/${this.maxBytes} bytes held`,
        'nothing was inserted',
      );
    }
  }

  /** Resolves once there is room; see {@link DataBuffer.ready}. Options are checked by the caller. */
  waitForRoom(timeout: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: Timer | undefined;
      const done = (error?: unknown) => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        this.#readyWaiters = this.#readyWaiters.filter((waiter) => waiter !== done);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => done(signal?.reason);
      if (timeout !== Number.POSITIVE_INFINITY) {
        // Ref'd: the caller is waiting on it, so it must not let the process exit under them.
        timer = startTimer(() => done(new ReadyTimeoutError(timeout)), timeout, true);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readyWaiters.push(done);
    });
  }

  /** After items left: wake the `ready()` callers if there is room now. */
  wakeIfRoom(): void {
    if (this.#readyWaiters.length > 0 && this.hasRoom()) {
      for (const wake of [...this.#readyWaiters]) wake();
    }
  }

  /** The buffer closes: no insert is quick any more, and every `ready()` caller gets `error`. */
  close(error: Error): void {
    this.stopQuickInserts();
    for (const wake of [...this.#readyWaiters]) wake(error);
  }
}
