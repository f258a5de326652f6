/**
 * The default byte estimate, sampled: the estimated bytes per item of a buffer, from a sample of its
 * items, erring high. The budget turns it into an item limit (`maxBufferedBytes / bytesPerItem`).
 *
 * Why a sample: estimating an object walks it, which costs more than the insert itself; one item in
 * {@link STRIDE} on average is enough to know the bytes per item of a stream. Why it errs high: the
 * figure is the mean plus three standard errors of the mean, so a stream of varied sizes (say 1% of
 * items 1000x larger) gets a limit below what its true mean would allow, and a stream of one size
 * gets exactly that size. Why a random stride: a stream whose sizes repeat with a period cannot line
 * up with the samples.
 * @module
 */

/** Items measured one by one at first, before the sample is thinned out. */
const WARM_UP = 64;
/** One item in this many is measured once warmed up, on average. */
export const STRIDE = 32;
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

  /** Inserts to let pass before the next item is measured: 0 while warming up, then 0..2·STRIDE-2 at random. */
  stride(): number {
    return this.#measured < WARM_UP ? 0 : Math.floor(Math.random() * (2 * STRIDE - 1));
  }
}
