/**
 * Retries: after a failed attempt, whether to try again, when (the backoff formula), and the timers
 * of the deliveries waiting out their delay. Giving up is `give-up.ts`.
 * @module
 */
import { type Delivery, QUEUED, RETRYING } from './delivery.js';
import { channels } from './diagnostics.js';
import { DeliveryTimeoutError, describe, invalidReturnValue, NonRetryableError } from './errors.js';
import type { FailureReason, ResolvedOptions, RetryBackoff } from './options.js';
import type { Counters } from './stats.js';
import { now, type TimerGroup } from './timers.js';

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

/** What the retry decision needs from the buffer, handed over when it is built. */
export interface RetryContext<K, V> {
  /** The public buffer, named in diagnostics messages. */
  readonly buffer: object;
  readonly counters: Counters;
  /** The buffer's retry and `handleError` timers. */
  readonly timers: TimerGroup;
  /** Queues a delivery for its next attempt in its partition. */
  schedule(delivery: Delivery<K, V>): void;
  /** Hands a delivery to `handleError` (see `give-up.ts`). */
  giveUp(delivery: Delivery<K, V>, error: Error, reason: FailureReason): Promise<void>;
  batchIdOf(delivery: Delivery<K, V>): string;
}

/**
 * After a failed attempt: retry (when, and under which limits) or give up. Owns the retry timers of
 * deliveries waiting out a delay (`delivery.retryTimer`). Invariants: a delivery waits in RETRYING
 * with exactly one timer; when it fires, the delivery is queued again unless something (close) took
 * it out of RETRYING meanwhile; a retry never starts past `deliveryTimeout`.
 */
export class Retries<K, V> {
  readonly #context: RetryContext<K, V>;
  readonly #options: ResolvedOptions<K, V, unknown>;

  constructor(context: RetryContext<K, V>, options: ResolvedOptions<K, V, unknown>) {
    this.#context = context;
    this.#options = options;
  }

  /** A failed attempt: schedules a retry (returns undefined), or gives up (returns `handleError`'s settling). */
  failed(delivery: Delivery<K, V>, error: Error): Promise<void> | undefined {
    delivery.lastError = error;
    const options = this.#options;
    const context = this.#context;
    if (error instanceof NonRetryableError || !this.#isRetryable(error)) {
      return context.giveUp(delivery, error, 'non-retryable');
    }
    if (delivery.attempt >= options.retryMax) return context.giveUp(delivery, error, 'retries-exhausted');
    let delay: number;
    try {
      delay = retryWait(
        options.retryBackoff,
        delivery.attempt,
        error,
        options.retryDelay,
        options.retryDelayMax,
      );
    } catch (backoffError) {
      options.logger.warn('data-buffer: retryBackoff failed; using retryDelay', { error: backoffError });
      delay = options.retryDelay;
    }
    if (now() + delay - delivery.firstAttemptAt > options.deliveryTimeout) {
      return context.giveUp(
        delivery,
        new DeliveryTimeoutError(options.deliveryTimeout, error),
        'delivery-timeout',
      );
    }
    context.counters.retried++;
    if (channels.retry.hasSubscribers) {
      channels.retry.publish({
        buffer: context.buffer,
        key: delivery.key,
        batchId: context.batchIdOf(delivery),
        attempt: delivery.attempt,
        count: delivery.items.length,
        error,
        delay,
      });
    }
    delivery.state = RETRYING;
    delivery.retryTimer = context.timers.start(() => {
      delivery.retryTimer = undefined;
      if (delivery.state !== RETRYING) return;
      delivery.state = QUEUED;
      context.schedule(delivery);
    }, delay);
    return undefined;
  }

  /** Stops a delivery's pending retry (close gave up on it). */
  cancel(delivery: Delivery<K, V>): void {
    if (delivery.retryTimer !== undefined) this.#context.timers.cancel(delivery.retryTimer);
    delivery.retryTimer = undefined;
  }

  #isRetryable(error: Error): boolean {
    try {
      return this.#options.isRetryable(error) !== false;
    } catch (predicateError) {
      this.#options.logger.warn('data-buffer: isRetryable threw; retrying', { error: predicateError });
      return true;
    }
  }
}
