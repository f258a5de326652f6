/**
 * Errors raised by data-buffer. Runtime failures use the classes below, each with a stable `code` to
 * branch on; misuse (bad options, wrong argument types) throws `TypeError` / `RangeError` instead.
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
 * | `ERR_JOURNAL_FAILED`, `ERR_JOURNAL_LOCKED`, `ERR_JOURNAL_CLOSED` | `JournalError` (`data-buffer/journal`) | the journal's I/O failed, its directory is locked by another process, or it was used after `close()` |
 *
 * Misuse errors carry Node's codes, as Node's own `TypeError`s and `RangeError`s do:
 *
 * | code | class | when |
 * |---|---|---|
 * | `ERR_INVALID_ARG_TYPE` | `TypeError` | an option or argument of the wrong type |
 * | `ERR_INVALID_ARG_VALUE` | `TypeError` | the right type, not an allowed value (an unknown option, a policy name) |
 * | `ERR_OUT_OF_RANGE` | `RangeError` | a number out of its range, alone or against another option |
 * | `ERR_INVALID_RETURN_VALUE` | `TypeError` / `RangeError` | a callback (`sizeOf`, `retryBackoff`) returned something unusable |
 *
 * @module
 */
import { inspect, types } from 'node:util';

/** Stable codes of every error class the library throws or passes to `handleError`. */
export type DataBufferErrorCode =
  | 'ERR_BUFFER_CLOSED'
  | 'ERR_BUFFER_FULL'
  | 'ERR_READY_TIMEOUT'
  | 'ERR_FLUSH_TIMEOUT'
  | 'ERR_DELIVERY_TIMEOUT'
  | 'ERR_SHUTDOWN'
  | 'ERR_NON_RETRYABLE'
  | 'ERR_STORE_FAILED'
  | 'ERR_JOURNAL_FAILED'
  | 'ERR_JOURNAL_LOCKED'
  | 'ERR_JOURNAL_CLOSED';

/** The `code` of a misuse error (a `TypeError` or `RangeError`), as Node's own errors have it. */
export type MisuseErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_RETURN_VALUE';

/** A misuse error: a plain `TypeError` or `RangeError` with a Node-style `code`. */
export type MisuseError<E extends Error = TypeError | RangeError> = E & {
  /** What was wrong, as Node's own errors say it. */
  readonly code: MisuseErrorCode;
};

/** `ERR_INVALID_ARG_TYPE`: an option or argument of the wrong type. */
export function invalidArgType(message: string): MisuseError<TypeError> {
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_TYPE', invalidArgType);
}

/** `ERR_INVALID_ARG_VALUE`: the right type but not an allowed value. */
export function invalidArgValue(message: string): MisuseError<TypeError> {
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_VALUE', invalidArgValue);
}

/** `ERR_OUT_OF_RANGE`: a number out of its range, alone or against another option. */
export function outOfRange(message: string): MisuseError<RangeError> {
  return withCode(new RangeError(message), 'ERR_OUT_OF_RANGE', outOfRange);
}

/**
 * `ERR_INVALID_RETURN_VALUE`: a callback returned something unusable; a `TypeError` for the wrong
 * type, a `RangeError` for a number out of range.
 */
export function invalidReturnValue(message: string, outOfRangeNumber: boolean): MisuseError {
  const error = outOfRangeNumber ? new RangeError(message) : new TypeError(message);
  return withCode(error, 'ERR_INVALID_RETURN_VALUE', invalidReturnValue);
}

function withCode<E extends Error>(error: E, code: MisuseErrorCode, factory: Function): MisuseError<E> {
  // The stack starts where the misuse was found, not in this module's factory.
  Error.captureStackTrace(error, factory);
  return Object.assign(error, { code });
}

/**
 * The brand of the library's errors: an instance's code under a key that every copy of the package
 * shares (`Symbol.for`), so `instanceof` holds across copies (an app that loads both the ESM and the
 * CommonJS build gets two of each class), as undici does it.
 */
const kCode: unique symbol = Symbol.for('data-buffer.error.code') as never;

/**
 * The code each of the library's classes requires of an instance (or the codes, for a class with
 * several); `'any'` for the base class.
 */
const brands = new WeakMap<Function, DataBufferErrorCode | 'any' | ReadonlySet<string>>();

/** Registers a subclass defined in another module (the journal's) with the codes its instances carry. @internal */
export function brandErrorClass(type: Function, codes: readonly DataBufferErrorCode[]): void {
  brands.set(type, new Set(codes));
}

/**
 * `instanceof` for the error classes: the library's own classes check the brand, so an instance from
 * another copy of the package passes; a user's subclass checks its prototype chain as usual. A Proxy
 * is never an instance (its traps do not run).
 */
function hasInstance(type: Function, instance: unknown): boolean {
  if (typeof instance !== 'object' || instance === null || types.isProxy(instance)) return false;
  const brand = brands.get(type);
  if (brand === undefined) return Function.prototype[Symbol.hasInstance].call(type, instance);
  const code = (instance as { [kCode]?: unknown })[kCode];
  if (brand === 'any') return typeof code === 'string';
  return typeof brand === 'string' ? code === brand : typeof code === 'string' && brand.has(code);
}

/** Base class of the library's runtime errors: check `instanceof DataBufferError` or `error.code`. */
export class DataBufferError extends Error {
  /** Stable, documented identifier of the failure. */
  readonly code: DataBufferErrorCode;

  /** Whether `instance` is one of this class, from this copy of the package or another (see the brand). */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses inherit it; `this` is the class asked about.
    return hasInstance(this, instance);
  }

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

  /** The brand that `instanceof` reads, in every copy of the package. @internal */
  get [kCode](): DataBufferErrorCode {
    return this.code;
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

brands.set(DataBufferError, 'any');
brands.set(BufferClosedError, 'ERR_BUFFER_CLOSED');
brands.set(BufferFullError, 'ERR_BUFFER_FULL');
brands.set(ReadyTimeoutError, 'ERR_READY_TIMEOUT');
brands.set(FlushTimeoutError, 'ERR_FLUSH_TIMEOUT');
brands.set(DeliveryTimeoutError, 'ERR_DELIVERY_TIMEOUT');
brands.set(ShutdownError, 'ERR_SHUTDOWN');
brands.set(NonRetryableError, 'ERR_NON_RETRYABLE');
brands.set(StoreFailedError, 'ERR_STORE_FAILED');

/** Turns anything thrown into an `Error`, so handlers and logs always get one (`throw 42` included). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const error = new Error(`handleFlush threw a non-Error value: ${describe(thrown)}`, { cause: thrown });
  return error;
}

/** How values are printed in messages: one line, shallow, and without running the value's own code. */
const INSPECT_OPTIONS = {
  depth: 2,
  breakLength: Number.POSITIVE_INFINITY,
  maxArrayLength: 10,
  maxStringLength: 60,
  customInspect: false,
  getters: false,
  showProxy: false,
} as const;
/** Longest value shown in a message, in characters. */
const MAX_SHOWN = 80;

/**
 * A short, safe description of any value for error messages, printed with `util.inspect` and capped
 * at 80 characters: `` `-1` (number) ``, `` `'5s'` (string) ``, `` `{ error: 1 }` (object) ``. Never
 * throws and runs none of the value's code (getters, custom inspect, Proxy traps).
 */
export function describe(value: unknown): string {
  let shown: string;
  try {
    shown =
      typeof value === 'string' && value.length > 60
        ? `${inspect(value.slice(0, 60), INSPECT_OPTIONS)}...`
        : inspect(value, INSPECT_OPTIONS);
  } catch {
    shown = '<uninspectable>';
  }
  if (shown.length > MAX_SHOWN) shown = `${shown.slice(0, MAX_SHOWN - 3)}...`;
  return `\`${shown}\` (${typeName(value)})`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  // `Array.isArray` throws on a revoked Proxy.
  if (typeof value === 'object' && !types.isProxy(value) && Array.isArray(value)) return 'array';
  return typeof value;
}
