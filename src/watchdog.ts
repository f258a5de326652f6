/**
 * Flush timeouts for a partition, which runs one `handleFlush` at a time: one timer serves every attempt.
 * Arming a `setTimeout` per attempt (and clearing it when the attempt ends) was 40% of the cost of a
 * delivery; here starting and ending an attempt only writes two fields, and the timer is re-armed when
 * it fires, at most once per timeout while the partition is busy.
 * @module
 */
import { now, startTimer, type Timer } from './timers.js';

/** Calls the watched operation's `onTimeout` once it has run `timeout` ms, unless it stopped first. */
export class Watchdog {
  readonly #timeout: number;
  #deadline = 0;
  #onTimeout: (() => void) | undefined;
  #timer: Timer | undefined;
  #keepAlive = false;

  /** @param timeout - ms an operation may run; finite. */
  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  /** Watches an operation that started at `startedAt` (ms on the {@link now} clock), in place of the previous one. */
  watch(onTimeout: () => void, startedAt: number): void {
    this.#deadline = startedAt + this.#timeout;
    this.#onTimeout = onTimeout;
    if (this.#timer === undefined) this.#arm(this.#deadline - now());
  }

  /** The operation ended. Only its own watch: a late ("zombie") end must not stop its successor's. */
  stop(onTimeout: () => void): void {
    if (this.#onTimeout !== onTimeout) return;
    this.#onTimeout = undefined;
  }

  /** The partition has run out of work: a timer that holds the process open goes, or closing and exiting would wait for it. */
  idle(): void {
    if (this.#keepAlive && this.#onTimeout === undefined) this.#disarm();
  }

  /** From now on the timer holds the process open while an operation is watched (closing, or exiting). */
  keepAlive(): void {
    this.#keepAlive = true;
    // Idle, the timer would only hold the process open for nothing until it fires.
    if (this.#onTimeout === undefined) this.#disarm();
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
    const onTimeout = this.#onTimeout;
    if (onTimeout === undefined) return;
    const left = this.#deadline - now();
    if (left > 0) {
      this.#arm(left); // armed by an earlier operation: wait out the rest of this one's time
      return;
    }
    this.#onTimeout = undefined;
    onTimeout();
  }
}
