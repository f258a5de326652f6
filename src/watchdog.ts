/**
 * Flush timeouts for a partition, which runs one `handleFlush` at a time: one timer serves every attempt.
 * Arming a `setTimeout` per attempt (and clearing it when the attempt ends) was 40% of the cost of a
 * delivery; here starting and ending an attempt only writes two fields, and the timer is re-armed when
 * it fires, at most once per timeout while the partition is busy.
 * @module
 */
import { now, startTimer, type Timer } from './timers.js';

/**
 * Calls `onTimeout` once the watched operation has run `timeout` ms, unless it stopped first. One
 * operation at a time: its owner ignores a late end of an operation it already gave up on.
 */
export class Watchdog {
  readonly #timeout: number;
  readonly #onTimeout: () => void;
  #deadline = 0;
  #watching = false;
  #timer: Timer | undefined;
  #keepAlive = false;

  /**
   * @param timeout - ms an operation may run; finite.
   * @param onTimeout - called when the watched operation runs past `timeout`.
   */
  constructor(timeout: number, onTimeout: () => void) {
    this.#timeout = timeout;
    this.#onTimeout = onTimeout;
  }

  /** Watches an operation that started at `startedAt` (ms on the {@link now} clock), in place of the previous one. */
  watch(startedAt: number): void {
    this.#deadline = startedAt + this.#timeout;
    this.#watching = true;
    if (this.#timer === undefined) this.#arm(this.#deadline - now());
  }

  /** The watched operation ended in time. */
  stop(): void {
    this.#watching = false;
  }

  /** The partition has run out of work: a timer that holds the process open goes, or closing and exiting would wait for it. */
  idle(): void {
    if (this.#keepAlive && !this.#watching) this.#disarm();
  }

  /** From now on the timer holds the process open while an operation is watched (closing, or exiting). */
  keepAlive(): void {
    this.#keepAlive = true;
    // Idle, the timer would only hold the process open for nothing until it fires.
    if (!this.#watching) this.#disarm();
    else this.#timer?.keepAlive();
  }

  #arm(delay: number): void {
    this.#timer = startTimer(() => this.#fire(), Math.max(0, delay), this.#keepAlive);
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    if (!this.#watching) return;
    const left = this.#deadline - now();
    if (left > 0) {
      this.#arm(left); // armed by an earlier operation: wait out the rest of this one's time
      return;
    }
    this.#watching = false;
    this.#onTimeout();
  }
}
