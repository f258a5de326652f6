/**
 * How long to wait before the next attempt of a failed batch.
 * @module
 */
import { describe, invalidReturnValue } from './errors.js';
import type { RetryBackoff } from './options.js';

/**
 * The wait before attempt `attempt + 1`, in ms, after attempt `attempt` (1 based) failed with `error`.
 * `'fixed'` waits `retryDelay` every time (the seed's behaviour). `'exponential'` uses full jitter:
 * a random wait between 0 and `min(retryDelayMax, retryDelay * 2 ** (attempt - 1))`, which spreads the
 * retries of many failing keys instead of sending them back to the database in one wave.
 *
 * A function's result is capped at `retryDelayMax`: a huge wait (`2 ** 40`, `Infinity`) would hold a
 * batch, and `close()`, for as long. A result that is not a number >= 0 (`NaN`, `-1`, `'10'`) is refused.
 * @throws TypeError / RangeError (`ERR_INVALID_RETURN_VALUE`) when the function returns no usable wait;
 *   the caller then waits `retryDelay` and logs it.
 */
export function retryWait(
  backoff: RetryBackoff,
  attempt: number,
  error: Error,
  retryDelay: number,
  retryDelayMax: number,
): number {
  if (backoff === 'fixed') return retryDelay;
  if (backoff === 'exponential') {
    const ceiling = Math.min(retryDelayMax, retryDelay * 2 ** (attempt - 1));
    return Math.floor(Math.random() * (ceiling + 1));
  }
  const wait: unknown = backoff(attempt, error);
  // `typeof` first: a numeric string passes `>= 0`.
  if (typeof wait !== 'number' || !(wait >= 0)) {
    throw invalidReturnValue(
      `Expected \`retryBackoff\` to return a number >= 0, got ${describe(wait)}`,
      typeof wait === 'number',
    );
  }
  return Math.min(wait, retryDelayMax);
}
