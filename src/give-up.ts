/**
 * Handing a batch that could not be delivered to `handleError`: the error and loss reporting, and a
 * timeout of its own for `handleError`'s promise.
 *
 * Owns nothing but the calls it has running. Invariants: a delivery handed over stops counting toward
 * the budget at once (its key's next batch still waits for `handleError` to finish); it settles once
 * `handleError` returned, failed or timed out, whatever happened; a failed `handleError` is counted as
 * lost and logged, never thrown.
 * @module
 */
import { AttemptInfo, type Delivery, FAILING, nativeThen, settlementOf } from './delivery.js';
import { channels } from './diagnostics.js';
import { describe, FlushTimeoutError } from './errors.js';
import type { ErrorInfo, FailureReason, ResolvedOptions } from './options.js';
import type { Settling } from './settling.js';
import type { Counters } from './stats.js';
import type { Timer, TimerGroup } from './timers.js';

/** What giving up needs from the buffer, handed over when it is built. */
export interface GiveUpContext<K, V, M> {
  /** The public buffer, named in diagnostics messages. */
  readonly buffer: object;
  readonly counters: Counters;
  /** Only what giving up does to a delivery's life: stop counting it, then settle it. */
  readonly settling: Pick<Settling<K, V>, 'uncount' | 'afterRelease' | 'settle'>;
  /** The buffer's retry and `handleError` timers. */
  readonly timers: TimerGroup;
  /** The `handleError` override point. */
  handleError(key: K, items: V[], error: Error, info: ErrorInfo<M>): unknown;
  batchIdOf(delivery: Delivery<K, V>): string;
}

/** Hands undeliverable batches to `handleError`. */
export class GiveUp<K, V, M> {
  readonly #context: GiveUpContext<K, V, M>;
  readonly #options: ResolvedOptions<K, V, M>;

  constructor(context: GiveUpContext<K, V, M>, options: ResolvedOptions<K, V, M>) {
    this.#context = context;
    this.#options = options;
  }

  /** Hands a delivery to `handleError` and settles it, whatever `handleError` does. */
  async giveUp(delivery: Delivery<K, V>, error: Error, reason: FailureReason): Promise<void> {
    const { counters, settling } = this.#context;
    const count = delivery.items.length;
    counters.failed += count;
    counters.failedBatches++;
    // Handed over: the items leave `size` now, so `inserted = flushed + failed + dropped + dumped +
    // buffered` holds while handleError runs. The key's next batch still waits for it to finish, and a
    // partition runs one handleError at a time, so what it holds stays bounded.
    settling.uncount(delivery);
    delivery.state = FAILING;
    settling.afterRelease();
    const batchId = this.#context.batchIdOf(delivery);
    if (channels.error.hasSubscribers) {
      channels.error.publish({
        buffer: this.#context.buffer,
        key: delivery.key,
        items: delivery.items,
        batchId,
        error,
        reason,
      });
    }
    const { meta } = this.#options;
    const info: ErrorInfo<M> = {
      attempts: delivery.attempt + delivery.attemptBase,
      partition: delivery.partition,
      meta,
      batchId,
      reason,
    };
    try {
      const result = this.#context.handleError(delivery.key, delivery.items, error, info);
      // Read as a flush's result is (settlementOf): a `then` getter that throws is a failed handleError.
      const settlement = settlementOf(result);
      if (settlement !== undefined) {
        await this.#settleInTime(settlement, new AttemptInfo<M>(0, delivery.partition, meta, batchId));
      }
    } catch (handlerError) {
      counters.lost += count;
      try {
        this.#options.logger.error(
          `data-buffer: lost ${count} item(s) of key ${describe(delivery.key)}: handleError failed (${reason}: ${error.message})`,
          { key: delivery.key, count, reason, batchId, error, handlerError },
        );
      } catch {
        // Nothing is left to report to.
      }
    }
    settling.settle(delivery);
  }

  /**
   * Waits for `handleError`'s promise, for at most `flushTimeout`. A timer of its own, not the
   * partition's watchdog: while closing, `handleError` calls run side by side.
   */
  #settleInTime(result: Promise<unknown>, info: AttemptInfo<M>): Promise<void> {
    const timers = this.#context.timers;
    return new Promise<void>((resolve, reject) => {
      const { flushTimeout } = this.#options;
      let timer: Timer | undefined;
      const stop = () => {
        if (timer !== undefined) timers.cancel(timer);
        timer = undefined;
      };
      if (flushTimeout !== Number.POSITIVE_INFINITY) {
        timer = timers.start(() => {
          timer = undefined;
          const reason = new FlushTimeoutError(flushTimeout);
          info.abort(reason);
          reject(reason);
        }, flushTimeout);
      }
      nativeThen.call(
        result,
        () => {
          stop();
          resolve();
        },
        (error: unknown) => {
          stop();
          reject(error);
        },
      );
    });
  }
}
