/**
 * The one place the library touches the clock. Everything time-based goes through here, so that a
 * timer never keeps an idle process alive by accident, and tests can drive it all with fake timers.
 * @module
 */
/** Largest delay `setTimeout` honours, in ms (2^31 - 1, about 24.8 days). */
const MAX_TIMER_DELAY = 2_147_483_647;

/** A pending timer: cancel it, or let it hold the process open. */
export interface Timer {
  /** Stops the timer; calling it after the timer fired does nothing. */
  cancel(): void;
  /** Makes the timer keep the process alive until it fires (timers start unref'd unless asked). */
  keepAlive(): void;
}

/**
 * Milliseconds on a monotonic clock: only differences between two readings mean anything. Reads the
 * global `performance` at each call (not an import binding), so fake timers in tests can drive it.
 */
export function now(): number {
  return performance.now();
}

/**
 * Calls `callback` once after `delay` ms. The timer is unref'd, so it never keeps an otherwise idle
 * process running, unless `keepAlive` is set (used while the buffer is closing or the process exits).
 */
export function startTimer(callback: () => void, delay: number, keepAlive = false): Timer {
  // Node fires a longer delay after 1 ms (TimeoutOverflowWarning): a `close({ timeout })` of 30 days
  // would abandon everything at once. Clamped, it fires after 24.8 days instead.
  const handle = setTimeout(callback, Math.min(delay, MAX_TIMER_DELAY));
  if (!keepAlive) handle.unref();
  return {
    cancel: () => clearTimeout(handle),
    keepAlive: () => {
      handle.ref();
    },
  };
}

/** Resolves on a later turn of the event loop, after pending I/O: used to slice long loops. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => onNextTurn(resolve));
}

/** Calls `callback` on a later turn of the event loop, after pending I/O (`setImmediate`). */
export function onNextTurn(callback: () => void): void {
  setImmediate(callback);
}

/**
 * How long a synchronous loop may run before it yields to the event loop, in ms. Keeps the event-loop
 * delay low while a million keys expire or flush at once. 2, not 5: a garbage collection that falls in
 * a slice adds its pause to it, and with 5 ms slices the p99 delay of such a storm was 20-25 ms, with
 * 2 ms slices 10-13 ms, for the same time to deliver everything (`npm run bench`, flush scenario).
 */
export const SLICE_MS = 2;

/**
 * The retry and `handleError` timers of one buffer, known until they fire or are cancelled: once the
 * buffer closes (or the process is exiting), they must all hold the process open.
 */
export class TimerGroup {
  readonly #timers = new Set<Timer>();
  #keepAlive = false;

  /** Starts a timer of the group: unref'd until {@link keepAlive}, held open after it. */
  start(callback: () => void, delay: number): Timer {
    const timer = startTimer(
      () => {
        this.#timers.delete(timer);
        callback();
      },
      delay,
      this.#keepAlive,
    );
    this.#timers.add(timer);
    return timer;
  }

  /** Cancels a timer of the group. */
  cancel(timer: Timer): void {
    timer.cancel();
    this.#timers.delete(timer);
  }

  /** From now on the group's timers, pending and future, hold the process open. */
  keepAlive(): void {
    this.#keepAlive = true;
    for (const timer of this.#timers) timer.keepAlive();
  }
}
