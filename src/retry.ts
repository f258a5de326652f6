/**
 * How long to wait before the next attempt of a failed batch.
 * @module
 */
import { describe } from './errors.js';
import type { RetryBackoff } from './options.js';

/**
 * The wait before attempt `attempt + 1`, in ms, after attempt `attempt` (1 based) failed with `error`.
 * `'fixed'` waits `retryDelay` every time (the seed's behaviour). `'exponential'` uses full jitter:
 * a random wait between 0 and `min(retryDelayMax, retryDelay * 2 ** (attempt - 1))`, which spreads the
 * retries of many failing keys instead of sending them back to the database in one wave.
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
  const wait = backoff(attempt, error);
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) {
    throw new RangeError(`Expected \`retryBackoff\` to return a finite number >= 0, got ${describe(wait)}`);
  }
  return wait;
}
