/**
 * Counters of what the buffer has done, and the flush latency distribution.
 * @module
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Flush latency figures, in ms: the time `handleFlush` took on attempts that succeeded. */
export interface LatencyStats {
  /** Successful attempts measured. */
  readonly count: number;
  /** Median, in ms (0 until an attempt succeeded). */
  readonly p50: number;
  /** 90th percentile, in ms. */
  readonly p90: number;
  /** 99th percentile, in ms. */
  readonly p99: number;
  /** Slowest successful attempt, in ms. */
  readonly max: number;
  /** Mean, in ms. */
  readonly mean: number;
}

/**
 * What {@link DataBuffer.stats} returns. Item counters obey, at every moment:
 * `inserted = flushed + failed + dropped + dumped + buffered`.
 */
export interface DataBufferStats {
  /** Items accepted by `insert` / `insertMany` since start. */
  readonly inserted: number;
  /** Items delivered: their `handleFlush` succeeded. */
  readonly flushed: number;
  /** Items handed to `handleError` (or reported lost through the logger when it is missing or threw). */
  readonly failed: number;
  /** Items dropped under the `onFull` policy (including items refused by `'drop-newest'`). */
  readonly dropped: number;
  /** Items taken out by `dump()`. */
  readonly dumped: number;
  /** Items held now: buffered, queued, in flight or waiting for a retry. */
  readonly buffered: number;
  /** Items in `handleFlush` attempts running now. */
  readonly inFlight: number;
  /** Batches delivered. */
  readonly batches: number;
  /** Batches handed to `handleError`. */
  readonly failedBatches: number;
  /** Attempts that failed and were retried. */
  readonly retried: number;
  /** Attempts that ran past `flushTimeout`. */
  readonly timedOut: number;
  /** Items lost because `handleError` was missing or itself failed (included in `failed`). */
  readonly lost: number;
  /** Flush latency of successful attempts. */
  readonly latency: LatencyStats;
  /**
   * The `store` backend's own counters (its `stats()`), only when the buffer has a store that keeps
   * some: for the journal, a `JournalStats` (bytes and items written, fsyncs and their latency,
   * recovered items, quarantined bytes, …).
   */
  readonly store?: Readonly<Record<string, number>>;
}

/** Durations the counters hold before they pass them to the histogram. */
const UNRECORDED_MAX = 256;

/** The mutable counters behind {@link DataBufferStats}. @internal */
export class Counters {
  // No `inserted` field: it is the sum of the others (see `snapshot`), which spares every insert a store.
  flushed = 0;
  failed = 0;
  dropped = 0;
  dumped = 0;
  inFlight = 0;
  batches = 0;
  failedBatches = 0;
  retried = 0;
  timedOut = 0;
  lost = 0;
  readonly #latency: RecordableHistogram = createHistogram();
  /**
   * Durations not yet in the histogram, in ms. Node gives every histogram an object shape of its own, so
   * a call to `record` on the delivery path would make V8 drop the optimized code around it for each new
   * buffer; a typed array costs a store, and the histogram takes the durations in bulk.
   */
  readonly #unrecorded = new Float64Array(UNRECORDED_MAX);
  #unrecordedCount = 0;

  /** Records one successful attempt's duration, in ms. */
  recordLatency(ms: number): void {
    this.#unrecorded[this.#unrecordedCount++] = ms;
    if (this.#unrecordedCount === UNRECORDED_MAX) this.#recordPending();
  }

  #recordPending(): void {
    const h = this.#latency;
    // The histogram takes integers >= 1: record microseconds.
    for (let i = 0; i < this.#unrecordedCount; i++) {
      h.record(Math.max(1, Math.round((this.#unrecorded[i] as number) * 1000)));
    }
    this.#unrecordedCount = 0;
  }

  /** A frozen snapshot, with `buffered` supplied by the buffer, and the store's counters when it has a store. */
  snapshot(buffered: number, store?: Readonly<Record<string, number>>): DataBufferStats {
    this.#recordPending();
    const h = this.#latency;
    const count = h.count;
    // An empty histogram's percentile walks every bucket (~60 µs each): skip it when there is nothing.
    const ms = (micros: () => number) => (count === 0 ? 0 : micros() / 1000);
    return Object.freeze({
      // Every accepted or refused item ends up in exactly one of these, or is still held.
      inserted: this.flushed + this.failed + this.dropped + this.dumped + buffered,
      flushed: this.flushed,
      failed: this.failed,
      dropped: this.dropped,
      dumped: this.dumped,
      buffered,
      inFlight: this.inFlight,
      batches: this.batches,
      failedBatches: this.failedBatches,
      retried: this.retried,
      timedOut: this.timedOut,
      lost: this.lost,
      latency: Object.freeze({
        count,
        p50: ms(() => h.percentile(50)),
        p90: ms(() => h.percentile(90)),
        p99: ms(() => h.percentile(99)),
        max: ms(() => h.max),
        mean: ms(() => h.mean),
      }),
      ...(store === undefined ? undefined : { store: Object.freeze({ ...store }) }),
    });
  }
}
