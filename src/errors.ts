/**
 * Runtime errors raised by data-buffer. Each has a stable `code` to branch on; misuse (bad options,
 * wrong argument types) throws plain `TypeError` / `RangeError` instead.
 *
 * | code | class | when |
 * |---|---|---|
 * | `ERR_BUFFER_CLOSED` | {@link BufferClosedError} | `insert`, `insertMany` or `ready` after `close()` |
 * | `ERR_BUFFER_FULL` | {@link BufferFullError} | an insert into a full buffer with `onFull: 'throw'` |
 * | `ERR_READY_TIMEOUT` | {@link ReadyTimeoutError} | `ready({ timeout })` found no room in time |
 * | `ERR_FLUSH_TIMEOUT` | {@link FlushTimeoutError} | one `handleFlush` attempt ran past `flushTimeout` |
 * | `ERR_DELIVERY_TIMEOUT` | {@link DeliveryTimeoutError} | a batch spent `deliveryTimeout` ms in retries |
 * | `ERR_SHUTDOWN` | {@link ShutdownError} | `close({ timeout })` reached its deadline with the batch undelivered |
 * | `ERR_NON_RETRYABLE` | {@link NonRetryableError} | thrown by a handler to skip the remaining retries |
 * | `ERR_STORE_FAILED` | {@link StoreFailedError} | the `store` backend failed: inserts and `persisted()` fail from then on |
 *
 * @module
 */

/** Stable codes of every error class the library throws or passes to `handleError`. */
export type DataBufferErrorCode =
  | 'ERR_BUFFER_CLOSED'
  | 'ERR_BUFFER_FULL'
  | 'ERR_READY_TIMEOUT'
  | 'ERR_FLUSH_TIMEOUT'
  | 'ERR_DELIVERY_TIMEOUT'
  | 'ERR_SHUTDOWN'
  | 'ERR_NON_RETRYABLE'
  | 'ERR_STORE_FAILED';

/** Base class of the library's runtime errors: check `instanceof DataBufferError` or `error.code`. */
export class DataBufferError extends Error {
  /** Stable, documented identifier of the failure. */
  readonly code: DataBufferErrorCode;

  /**
   * @param code - the stable code.
   * @param message - what happened, for people.
   * @param options - `cause`: the error that led to this one, if any.
   */
  constructor(code: DataBufferErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The class name, such as `'ShutdownError'`. */
  override get name(): string {
    return this.constructor.name;
  }
}

/** Thrown by `insert`, `insertMany` and `ready` once `close()` has been called. */
export class BufferClosedError extends DataBufferError {
  /** @param operation - the method that was called on the closed buffer. */
  constructor(operation: string) {
    super('ERR_BUFFER_CLOSED', `Cannot call \`${operation}\`: the buffer is closed`);
  }
}

/** Thrown by an insert into a buffer that holds its `maxBuffered` / `maxBufferedBytes` under `onFull: 'throw'`. */
export class BufferFullError extends DataBufferError {
  /**
   * @param detail - which budget is exhausted.
   * @param outcome - what was not stored (`insertMany` stores nothing of a list that does not fit).
   */
  constructor(detail: string, outcome = 'the item was not inserted') {
    super('ERR_BUFFER_FULL', `The buffer is full (${detail}); ${outcome}`);
  }
}

/** Rejects `ready({ timeout })` when no room was made within `timeout` ms. */
export class ReadyTimeoutError extends DataBufferError {
  /** @param timeout - the timeout that passed, in ms. */
  constructor(timeout: number) {
    super('ERR_READY_TIMEOUT', `The buffer had no room within ${timeout} ms`);
  }
}

/** One `handleFlush` attempt ran past `flushTimeout`; `info.signal` is aborted with this error. */
export class FlushTimeoutError extends DataBufferError {
  /** @param timeout - `flushTimeout`, in ms. */
  constructor(timeout: number) {
    super('ERR_FLUSH_TIMEOUT', `handleFlush did not settle within flushTimeout (${timeout} ms)`);
  }
}

/** A batch was still undelivered after `deliveryTimeout` ms; `cause` is the last attempt's error. */
export class DeliveryTimeoutError extends DataBufferError {
  /**
   * @param timeout - `deliveryTimeout`, in ms.
   * @param cause - the last attempt's error.
   */
  constructor(timeout: number, cause: unknown) {
    super('ERR_DELIVERY_TIMEOUT', `The batch was not delivered within deliveryTimeout (${timeout} ms)`, {
      cause,
    });
  }
}

/** `close({ timeout })` reached its deadline before the batch was delivered. */
export class ShutdownError extends DataBufferError {
  /**
   * @param timeout - the close timeout, in ms.
   * @param cause - the last attempt's error, if an attempt had failed.
   */
  constructor(timeout: number, cause?: unknown) {
    super('ERR_SHUTDOWN', `The buffer closed (timeout ${timeout} ms) before the batch was delivered`, {
      cause,
    });
  }
}

/**
 * Throw this from `handleFlush` (or wrap the real error in it) when retrying cannot help, such as a
 * constraint violation: the batch goes straight to `handleError` with this error.
 *
 * @example
 * ```ts
 * catch (error) { if (isConstraintViolation(error)) throw new NonRetryableError('bad row', { cause: error }); throw error; }
 * ```
 */
export class NonRetryableError extends DataBufferError {
  /**
   * @param message - what went wrong.
   * @param options - `cause`: the underlying error.
   */
  constructor(message = 'The flush failed and must not be retried', options?: { cause?: unknown }) {
    super('ERR_NON_RETRYABLE', message, options);
  }
}

/**
 * The `store` backend failed (a write, `durable()`, or telling it of a take, settle or drop). Fail-stop:
 * from then on `insert`, `insertMany` and `persisted()` throw this error, since what they accept could
 * no longer be kept safe; the items already held are still delivered. Its `cause` is the backend's error.
 */
export class StoreFailedError extends DataBufferError {
  /**
   * @param operation - what the backend was doing (`write`, `durable`, …).
   * @param cause - the backend's error.
   */
  constructor(operation: string, cause: unknown) {
    super(
      'ERR_STORE_FAILED',
      `The store failed (${operation}: ${cause instanceof Error ? cause.message : describe(cause)}); the buffer accepts no more items`,
      { cause },
    );
  }
}

/** Turns anything thrown into an `Error`, so handlers and logs always get one (`throw 42` included). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const error = new Error(`handleFlush threw a non-Error value: ${describe(thrown)}`, { cause: thrown });
  return error;
}

/** A short, safe description of any value for error messages: `` `-1` (number) ``. */
export function describe(value: unknown): string {
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}
