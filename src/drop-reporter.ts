/**
 * Reports dropped items through the logger at most once per second, so a buffer that drops a million
 * items under load writes a handful of lines, not a million.
 * @module
 */
import type { Logger, OnFullPolicy } from './options.js';
import { startTimer, type Timer } from './timers.js';

/** Gap between two drop warnings, in ms. */
const REPORT_EVERY = 1000;

/** Counts drops and warns with the count since the last warning. */
export class DropReporter {
  readonly #logger: Logger;
  readonly #policy: OnFullPolicy;
  #unreported = 0;
  #timer: Timer | undefined;

  /**
   * @param logger - where warnings go.
   * @param policy - the `onFull` policy, named in the warning.
   */
  constructor(logger: Logger, policy: OnFullPolicy) {
    this.#logger = logger;
    this.#policy = policy;
  }

  /** Notes `count` dropped items; the first drop is reported at once, later ones once a second. */
  add(count: number): void {
    this.#unreported += count;
    if (this.#timer === undefined) {
      this.#report();
      this.#timer = startTimer(() => this.#tick(), REPORT_EVERY);
    }
  }

  /** Reports what is still unreported and stops the timer. */
  flush(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#report();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#unreported > 0) {
      this.#report();
      this.#timer = startTimer(() => this.#tick(), REPORT_EVERY);
    }
  }

  #report(): void {
    if (this.#unreported === 0) return;
    const count = this.#unreported;
    this.#unreported = 0;
    try {
      this.#logger.warn(
        this.#policy === 'backpressure'
          ? `data-buffer: refused ${count} item(s): the buffer is at its hard ceiling (twice maxBuffered / maxBufferedBytes) because inserts went on without waiting for ready() (onFull: 'backpressure')`
          : `data-buffer: dropped ${count} item(s): the buffer is full (onFull: '${this.#policy}')`,
        {
          dropped: count,
        },
      );
    } catch {
      // A broken logger must not break the insert path.
    }
  }
}
