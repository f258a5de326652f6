/**
 * The journal's errors. Misuse (bad options, a key or value the journal cannot keep) throws a
 * `TypeError` / `RangeError` with a Node-style `code`; run-time failures throw {@link JournalError}.
 *
 * | code | class | when |
 * |---|---|---|
 * | `ERR_JOURNAL_FAILED` | {@link JournalError} | a write, fsync, rotation or recovery I/O failed: the journal stopped (fail-stop), `cause` is the file-system error |
 * | `ERR_JOURNAL_LOCKED` | {@link JournalError} | another live process (or another journal in this one) holds the directory's lock |
 * | `ERR_JOURNAL_CLOSED` | {@link JournalError} | the journal was used after `close()` |
 * | `ERR_JOURNAL_UNSERIALIZABLE` | `TypeError` | a key or value that cannot survive a restart (from `admit`, so `insert` throws it) |
 * | `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` | `TypeError`, `RangeError` | a bad option |
 * | `ERR_JOURNAL_NODE_VERSION` | `Error` | Node has no `zlib.crc32` (needs >= 20.15 / 22.2) |
 * @module
 */
import { inspect } from 'node:util';
import { brandErrorClass, DataBufferError } from '../errors.js';

/** Stable codes of {@link JournalError}. */
export type JournalErrorCode = 'ERR_JOURNAL_FAILED' | 'ERR_JOURNAL_LOCKED' | 'ERR_JOURNAL_CLOSED';

/**
 * A run-time failure of the journal: a {@link DataBufferError}, branded like the core's errors, so that
 * `instanceof JournalError` and `instanceof DataBufferError` hold across the package's ESM and CommonJS
 * builds loaded in one process.
 */
export class JournalError extends DataBufferError {
  /** Stable, documented identifier of the failure. */
  declare readonly code: JournalErrorCode;

  /**
   * @param code - the stable code.
   * @param message - what happened, for people.
   * @param options - `cause`: the error that led to this one.
   */
  constructor(code: JournalErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

brandErrorClass(JournalError, ['ERR_JOURNAL_FAILED', 'ERR_JOURNAL_LOCKED', 'ERR_JOURNAL_CLOSED']);

/** A `TypeError` / `RangeError` carrying a Node-style `code`. */
export type CodedError<E extends Error> = E & { code: string };

/** Builds a `TypeError` with `code`. */
export function typeError(code: string, message: string, cause?: unknown): CodedError<TypeError> {
  const error = new TypeError(message, cause === undefined ? undefined : { cause }) as CodedError<TypeError>;
  error.code = code;
  return error;
}

/** Builds a `RangeError` with `code`. */
export function rangeError(code: string, message: string): CodedError<RangeError> {
  const error = new RangeError(message) as CodedError<RangeError>;
  error.code = code;
  return error;
}

/** A short, safe rendering of any value for error messages: `'fast' (string)`. */
export function show(value: unknown): string {
  let shown: string;
  try {
    shown = inspect(value, {
      depth: 1,
      maxArrayLength: 5,
      maxStringLength: 60,
      breakLength: Number.POSITIVE_INFINITY,
    });
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `${shown} (${type})`;
}

/** The message of anything thrown. */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
