/**
 * Builds a buffer of checker items wired to a {@link QueueChecker}, with short test timings.
 */
import { DataBuffer, type DataBufferOptions } from '../../src/index.js';
import { type Item, type Outcome, QueueChecker } from './checker.js';

/** Options of {@link setup}: the buffer's, plus what `handleFlush` does. */
export type SetupOptions = Omit<DataBufferOptions<string, Item>, 'handleFlush'> & {
  outcome?: Outcome;
  /** Leave `handleError` unset (losses then go to the checker's logger). */
  withoutHandleError?: boolean;
};

/**
 * A buffer flushing every 100 ms, retrying 3 times 10 ms apart, whose handlers and logger are the
 * checker's. `flushOnExit` is off: a test process must not drain at exit.
 */
export function setup(options: SetupOptions = {}) {
  const checker = new QueueChecker();
  const { outcome, withoutHandleError, ...rest } = options;
  const buffer = new DataBuffer<string, Item>({
    handleFlush: checker.handleFlush(outcome),
    ...(withoutHandleError ? {} : { handleError: checker.handleError }),
    logger: checker.logger,
    interval: 100,
    retryDelay: 10,
    retryMax: 3,
    flushOnExit: false,
    ...rest,
  });
  checker.watch(buffer);
  return { checker, buffer };
}

/** A promise that never settles: a handler that hangs. */
export function never(): Promise<never> {
  return new Promise<never>(() => {});
}
