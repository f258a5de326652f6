/**
 * The default byte estimate, sampled: the estimated bytes per item of a buffer, from a sample of its
 * items, erring high. The budget turns it into an item limit (`maxBufferedBytes / bytesPerItem`).
 *
 * Why a sample: estimating an object walks it, which costs more than the insert itself; one item in
 * {@link STRIDE} on average (more at first) is enough to know the bytes per item of a stream. Why it
 * errs high: the figure is the mean plus three standard errors of the mean, so a stream of varied
 * sizes gets a limit below what its mean would allow, and a stream of one size gets exactly that
 * size. What it cannot promise: a sample sees a rare large item only in proportion, so the items held
 * may be larger than the sample says (see the README: with 1% of items 1000x larger, some runs hold
 * up to about 1.1x `maxBufferedBytes`). Why a random stride: a stream whose sizes repeat with a
 * period cannot line up with the samples.
 * @module
 */

/** Items measured one by one at first, before the sample is thinned out. */
const WARM_UP = 64;
/** One item in this many is measured once the sample is large, on average. */
export const STRIDE = 32;
/**
 * The stride grows by one every this many items measured, up to {@link STRIDE}: the first 130k items or
 * so are measured densely. What a buffer holds when it first fills up was inserted early, and a rare
 * large item is only seen by a sample of some thousands.
 */
const RAMP = 256;
/** Samples the estimate remembers, at most: older ones fade out in halves, so a stream that changes is followed. */
const WINDOW = 4096;
/** Standard errors of the mean added to it: the margin that makes the estimate err high. */
const MARGIN = 3;

/** A running estimate of the bytes per item, from the items measured. */
export class ByteSampler {
  #count = 0;
  #sum = 0;
  #sumOfSquares = 0;
  #measured = 0;

  /** Adds a measured item of `bytes`; returns the estimate of bytes per item, at least 1. */
  add(bytes: number): number {
    this.#measured++;
    if (this.#count >= WINDOW) {
      this.#count /= 2;
      this.#sum /= 2;
      this.#sumOfSquares /= 2;
    }
    this.#count++;
    this.#sum += bytes;
    this.#sumOfSquares += bytes * bytes;
    return this.estimate();
  }

  /** The estimate of bytes per item: the mean of the sample plus {@link MARGIN} standard errors; 1 with no sample. */
  estimate(): number {
    const count = this.#count;
    if (count === 0) return 1;
    const mean = this.#sum / count;
    const variance = Math.max(0, this.#sumOfSquares / count - mean * mean);
    return Math.max(1, mean + MARGIN * Math.sqrt(variance / count));
  }

  /**
   * Inserts to let pass before the next item is measured: 0 while warming up, then a random 0..2·mean,
   * the mean growing from 0 to STRIDE - 1 (one item in {@link STRIDE} measured).
   */
  stride(): number {
    const measured = this.#measured;
    if (measured < WARM_UP) return 0;
    const mean = Math.min(STRIDE - 1, Math.floor(measured / RAMP));
    return Math.floor(Math.random() * (2 * mean + 1));
  }
}
