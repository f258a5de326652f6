/**
 * The options of a {@link DataBuffer}: their types, their defaults and the one function that checks them.
 * @module
 */
import type { Backend, LocalBackend, SharedBackend } from './backend.js';
import { describe, invalidArgType, invalidArgValue, outOfRange } from './errors.js';
import { boolean, MAX_TIMER_DELAY, number, optionalFunction } from './option-checks.js';
import { estimateSize } from './size-of.js';
import { checkStore } from './write-behind.js';

/** Why a batch ended up in `handleError` instead of being delivered. */
export type FailureReason =
  /** Every one of `retryMax` attempts failed. */
  | 'retries-exhausted'
  /** The handler threw a {@link NonRetryableError} or `isRetryable` returned `false`. */
  | 'non-retryable'
  /** The batch spent more than `deliveryTimeout` ms in retries. */
  | 'delivery-timeout'
  /** `close({ timeout })` reached its deadline first. */
  | 'shutdown'
  /** A batch claimed from a shared store lost its lease too many times ({@link PoisonedBatchError}). */
  | 'poisoned';

/**
 * What an insert into a full buffer does; see the README's "Memory budget" section. `'backpressure'`
 * stores the item and returns `false` (wait for `ready()`), and refuses items past a hard ceiling of
 * twice the budget; `'block'` is its former name, still accepted.
 */
export type OnFullPolicy = 'backpressure' | 'block' | 'drop-oldest' | 'drop-newest' | 'throw';

/**
 * Why items were dropped: the `onFull` policy that dropped them. `'backpressure'`: refused at the hard
 * ceiling (twice `maxBuffered` / `maxBufferedBytes`) by a producer that did not wait for `ready()`.
 */
export type DropReason = 'backpressure' | 'drop-oldest' | 'drop-newest';

/** How the wait before a retry grows: the seed's fixed delay, exponential with full jitter, or your own (ms). */
export type RetryBackoff = 'fixed' | 'exponential' | ((attempt: number, error: Error) => number);

/** Where the buffer reports what it cannot hand to a callback (lost batches, drops). `console` fits. */
export interface Logger {
  /** Data was lost: `handleError` is missing or threw. */
  error(message: string, details?: unknown): void;
  /** Something degraded but nothing was lost silently, such as items dropped under `onFull`. */
  warn(message: string, details?: unknown): void;
}

/** Passed to every `handleFlush` call. */
export interface FlushInfo<M = unknown> {
  /** 1 for the first attempt, 2 for the first retry, and so on up to `retryMax`. */
  readonly attempt: number;
  /** The partition (0 based) the key hashes to; flushes of one partition run one at a time. */
  readonly partition: number;
  /** The `meta` option, as given. */
  readonly meta: M;
  /** Aborted with a {@link FlushTimeoutError} after `flushTimeout` ms, or when `close()` times out. */
  readonly signal: AbortSignal;
  /** Identifies the batch; the same on every retry of it, so a sink can drop a duplicate write. */
  readonly batchId: string;
}

/** Passed to `handleError` along with the batch and the last error. */
export interface ErrorInfo<M = unknown> {
  /** How many attempts were made (0 when the batch never got to run before a shutdown deadline). */
  readonly attempts: number;
  /** The partition the key hashes to. */
  readonly partition: number;
  /** The `meta` option, as given. */
  readonly meta: M;
  /** The batch's id, as seen by `handleFlush`. */
  readonly batchId: string;
  /** Why the batch was not delivered. */
  readonly reason: FailureReason;
}

/**
 * Writes one batch: the items inserted under `key`, in insertion order. Succeeds when it returns or
 * resolves; fails when it throws, rejects or runs past `flushTimeout`. The array is the handler's to keep.
 */
export type FlushHandler<K, V, M = unknown> = (key: K, items: V[], info: FlushInfo<M>) => unknown;

/** Receives a batch that could not be delivered. The array is the handler's to keep. */
export type ErrorHandler<K, V, M = unknown> = (
  key: K,
  items: V[],
  error: Error,
  info: ErrorInfo<M>,
) => unknown;

/** Receives items dropped by the `onFull` policy. */
export type DropHandler<K, V> = (key: K, items: V[], reason: DropReason) => void;

/** Options of a {@link DataBuffer}. Durations are in milliseconds. */
export interface DataBufferOptions<K, V, M = unknown> {
  /** Writes a batch. Required unless a subclass overrides the `handleFlush` method. */
  handleFlush?: FlushHandler<K, V, M>;
  /**
   * Receives a batch once its retries are spent. Without it (and without an override), lost batches
   * are reported through `logger.error` with their key and item count.
   */
  handleError?: ErrorHandler<K, V, M>;
  /**
   * Time from a key's first insert (after its last flush) to its flush, in ms. A key is never flushed
   * early; it may be flushed up to 1% of `interval` (at most 50 ms) late, since deadlines share timers.
   * @default 5000
   */
  interval?: number;
  /** A random 0..`jitter` ms added to each batch's interval, so keys do not all flush at once. @default 0 */
  jitter?: number;
  /** A key holding this many items is flushed at once; a batch never holds more. @default Infinity */
  maxSize?: number;
  /** A random 0..`maxSizeJitter` added to `maxSize` for each batch, to spread flush storms. @default 0 */
  maxSizeJitter?: number;
  /**
   * A key's batch is flushed at once when its estimated bytes (by `sizeOf`, as for `maxBufferedBytes`)
   * reach this, for sinks with a request size limit. An item that would take the batch past it goes
   * into the key's next batch instead (the batch is flushed without it); an item larger than the limit
   * goes alone. Setting it makes the buffer estimate every item. @default Infinity
   */
  maxBatchBytes?: number;
  /**
   * Keys hash to this many partitions. Each partition runs one `handleFlush` at a time, so this is the
   * flush concurrency, and a slow key only holds up the keys of its own partition. @default 1
   */
  partitions?: number;
  /** Wait before a retry, in ms (the base of the exponential backoff). @default 1000 */
  retryDelay?: number;
  /** Attempts in total, the first one included (1 disables retries). @default 5 */
  retryMax?: number;
  /**
   * How the retry wait grows with each attempt. A function's result is capped at `retryDelayMax`; one
   * that is not a number >= 0 is refused (logged through `logger.warn`, and `retryDelay` is waited).
   * @default 'fixed'
   */
  retryBackoff?: RetryBackoff;
  /**
   * Cap on one retry wait with `retryBackoff: 'exponential'` or a function, in ms: a function's longer
   * wait is cut to it. @default 30000
   */
  retryDelayMax?: number;
  /**
   * Longest a batch may spend from its first attempt to its last, in ms; once it would be exceeded, the
   * batch goes to `handleError` with a {@link DeliveryTimeoutError}. @default Infinity
   */
  deliveryTimeout?: number;
  /** An attempt that has not settled by then fails and `info.signal` is aborted, in ms. @default 60000 */
  flushTimeout?: number;
  /** Decides whether a failed attempt is worth retrying; {@link NonRetryableError} never is. @default () => true */
  isRetryable?: (error: Error) => boolean;
  /** Passed to every flush as `info.meta`. */
  meta?: M;
  /** Most items held at once under all keys, in flight and retrying included. @default 1_000_000 */
  maxBuffered?: number;
  /** Most bytes held at once, as estimated by `sizeOf`; `Infinity` skips the estimate. @default 268_435_456 (256 MiB) */
  maxBufferedBytes?: number;
  /**
   * Estimated bytes of one item, for `maxBufferedBytes`. Yours runs on every item; the default runs on a
   * sample of them, and the byte budget becomes an item limit (see the README's `maxBufferedBytes`).
   * @default {@link estimateSize}: a bounded walk that errs high and never calls getters (see the README)
   */
  sizeOf?: (value: V) => number;
  /**
   * What an insert into a full buffer does. `'block'` is accepted as the former name of
   * `'backpressure'`. @default 'backpressure'
   */
  onFull?: OnFullPolicy;
  /**
   * Receives the items that `onFull` drops: `'drop-oldest'`, `'drop-newest'`, and `'backpressure'` past
   * its hard ceiling. Not allowed with `'throw'`, which drops nothing.
   */
  onDrop?: DropHandler<K, V>;
  /** Where lost and dropped data is reported (drops at most once a second). @default console */
  logger?: Logger;
  /**
   * Deliver what is still buffered when the process runs out of work and is about to exit (the
   * `beforeExit` event). It cannot help on `process.exit()` or a signal: use `close()` there. @default true
   */
  flushOnExit?: boolean;
  /**
   * A backend that keeps buffered items somewhere safer than this process's memory (such as an on-disk
   * journal), written behind the in-memory stage once per turn of the event loop; `await
   * buffer.persisted()` waits until what was inserted is durable there. A backend of kind `'shared'`
   * (`redisStore` from `data-buffer/redis`) is where batches live instead: inserts are written to it,
   * and any process on its namespace claims due batches from it (see the README's "Shared store on
   * Redis"). A backend belongs to one buffer, which closes it last. @default none
   */
  store?: Backend<K, V>;
}

/** The options with every default filled in; what the buffer runs on. */
export interface ResolvedOptions<K, V, M> {
  readonly handleFlush: FlushHandler<K, V, M> | undefined;
  readonly handleError: ErrorHandler<K, V, M> | undefined;
  readonly interval: number;
  readonly jitter: number;
  readonly maxSize: number;
  readonly maxSizeJitter: number;
  readonly maxBatchBytes: number;
  readonly partitions: number;
  readonly retryDelay: number;
  readonly retryMax: number;
  readonly retryBackoff: RetryBackoff;
  readonly retryDelayMax: number;
  readonly deliveryTimeout: number;
  readonly flushTimeout: number;
  readonly isRetryable: (error: Error) => boolean;
  readonly meta: M;
  readonly maxBuffered: number;
  readonly maxBufferedBytes: number;
  readonly sizeOf: (value: V) => number;
  /** `'block'` is resolved to `'backpressure'`. */
  readonly onFull: Exclude<OnFullPolicy, 'block'>;
  readonly onDrop: DropHandler<K, V> | undefined;
  readonly logger: Logger;
  readonly flushOnExit: boolean;
  readonly store: LocalBackend<K, V> | SharedBackend<K, V> | undefined;
}

/** The default of every option that has one. */
export const defaults = Object.freeze({
  /** Default of {@link DataBufferOptions.interval}. */
  interval: 5000,
  /** Default of {@link DataBufferOptions.jitter}. */
  jitter: 0,
  /** Default of {@link DataBufferOptions.maxSize}. */
  maxSize: Number.POSITIVE_INFINITY,
  /** Default of {@link DataBufferOptions.maxSizeJitter}. */
  maxSizeJitter: 0,
  /** Default of {@link DataBufferOptions.maxBatchBytes}. */
  maxBatchBytes: Number.POSITIVE_INFINITY,
  /** Default of {@link DataBufferOptions.partitions}. */
  partitions: 1,
  /** Default of {@link DataBufferOptions.retryDelay}. */
  retryDelay: 1000,
  /** Default of {@link DataBufferOptions.retryMax}. */
  retryMax: 5,
  /** Default of {@link DataBufferOptions.retryBackoff}. */
  retryBackoff: 'fixed' as RetryBackoff,
  /** Default of {@link DataBufferOptions.retryDelayMax}. */
  retryDelayMax: 30_000,
  /** Default of {@link DataBufferOptions.deliveryTimeout}. */
  deliveryTimeout: Number.POSITIVE_INFINITY,
  /** Default of {@link DataBufferOptions.flushTimeout}. */
  flushTimeout: 60_000,
  /** Default of {@link DataBufferOptions.maxBuffered}. */
  maxBuffered: 1_000_000,
  /** Default of {@link DataBufferOptions.maxBufferedBytes}. */
  maxBufferedBytes: 256 * 1024 * 1024,
  /** Default of {@link DataBufferOptions.onFull}. */
  onFull: 'backpressure' as Exclude<OnFullPolicy, 'block'>,
  /** Default of {@link DataBufferOptions.flushOnExit}. */
  flushOnExit: true,
});

const ON_FULL_POLICIES: readonly OnFullPolicy[] = [
  'backpressure',
  'drop-oldest',
  'drop-newest',
  'throw',
  'block',
];
const KNOWN_OPTIONS = new Set([
  'handleFlush',
  'handleError',
  'interval',
  'jitter',
  'maxSize',
  'maxSizeJitter',
  'maxBatchBytes',
  'partitions',
  'retryDelay',
  'retryMax',
  'retryBackoff',
  'retryDelayMax',
  'deliveryTimeout',
  'flushTimeout',
  'isRetryable',
  'meta',
  'maxBuffered',
  'maxBufferedBytes',
  'sizeOf',
  'onFull',
  'onDrop',
  'logger',
  'flushOnExit',
  'store',
]);

/**
 * Checks every option, alone and against the others, and fills in the defaults.
 * @throws TypeError or RangeError naming the option, the value received and what is allowed, with a
 *   Node-style `code` (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`).
 */
export function resolveOptions<K, V, M>(
  options: DataBufferOptions<K, V, M> | undefined,
): ResolvedOptions<K, V, M> {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw invalidArgType(`Expected the options to be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      throw invalidArgValue(`Unknown option \`${name}\`; the options are: ${[...KNOWN_OPTIONS].join(', ')}`);
    }
  }
  const o = options;
  const resolved: ResolvedOptions<K, V, M> = {
    handleFlush: optionalFunction(o, 'handleFlush'),
    handleError: optionalFunction(o, 'handleError'),
    interval: number(o, 'interval', defaults.interval, { min: 0, max: MAX_TIMER_DELAY }),
    jitter: number(o, 'jitter', defaults.jitter, { min: 0, max: MAX_TIMER_DELAY }),
    maxSize: number(o, 'maxSize', defaults.maxSize, { min: 1, integer: true, infinite: true }),
    maxSizeJitter: number(o, 'maxSizeJitter', defaults.maxSizeJitter, { min: 0, integer: true }),
    maxBatchBytes: number(o, 'maxBatchBytes', defaults.maxBatchBytes, { min: 1, infinite: true }),
    partitions: number(o, 'partitions', defaults.partitions, { min: 1, max: 1024, integer: true }),
    retryDelay: number(o, 'retryDelay', defaults.retryDelay, { min: 0, max: MAX_TIMER_DELAY }),
    retryMax: number(o, 'retryMax', defaults.retryMax, { min: 1, integer: true }),
    retryBackoff: retryBackoff(o.retryBackoff),
    retryDelayMax: number(o, 'retryDelayMax', defaults.retryDelayMax, { min: 0, max: MAX_TIMER_DELAY }),
    deliveryTimeout: number(o, 'deliveryTimeout', defaults.deliveryTimeout, { min: 0, infinite: true }),
    flushTimeout: number(o, 'flushTimeout', defaults.flushTimeout, {
      min: 1,
      max: MAX_TIMER_DELAY,
      infinite: true,
    }),
    isRetryable: optionalFunction(o, 'isRetryable') ?? alwaysRetryable,
    meta: o.meta as M,
    maxBuffered: number(o, 'maxBuffered', defaults.maxBuffered, { min: 1, integer: true, infinite: true }),
    maxBufferedBytes: number(o, 'maxBufferedBytes', defaults.maxBufferedBytes, { min: 1, infinite: true }),
    sizeOf: optionalFunction(o, 'sizeOf') ?? estimateSize,
    onFull: onFull(o.onFull),
    onDrop: optionalFunction(o, 'onDrop'),
    logger: logger(o.logger),
    flushOnExit: boolean(o, 'flushOnExit', defaults.flushOnExit),
    store: checkStore<K, V>(o.store),
  };
  if (resolved.maxSize !== Number.POSITIVE_INFINITY && resolved.maxSize > resolved.maxBuffered) {
    throw outOfRange(
      `Expected \`maxSize\` (${resolved.maxSize}) to be at most \`maxBuffered\` (${resolved.maxBuffered}): a batch could never fill up`,
    );
  }
  if (
    resolved.maxBatchBytes !== Number.POSITIVE_INFINITY &&
    resolved.maxBatchBytes > resolved.maxBufferedBytes
  ) {
    throw outOfRange(
      `Expected \`maxBatchBytes\` (${resolved.maxBatchBytes}) to be at most \`maxBufferedBytes\` (${resolved.maxBufferedBytes}): a batch could never fill up`,
    );
  }
  if (resolved.retryBackoff === 'exponential' && resolved.retryDelayMax < resolved.retryDelay) {
    throw outOfRange(
      `Expected \`retryDelayMax\` (${resolved.retryDelayMax}) to be at least \`retryDelay\` (${resolved.retryDelay}) with \`retryBackoff: 'exponential'\``,
    );
  }
  if (resolved.onDrop !== undefined && resolved.onFull === 'throw') {
    throw invalidArgValue(
      `\`onDrop\` is never called under \`onFull: 'throw'\`, which drops nothing; got \`onFull\` ${describe(resolved.onFull)} with an \`onDrop\``,
    );
  }
  return resolved;
}

function alwaysRetryable(): boolean {
  return true;
}

function retryBackoff(value: unknown): RetryBackoff {
  if (value === undefined) return defaults.retryBackoff;
  if (value === 'fixed' || value === 'exponential' || typeof value === 'function')
    return value as RetryBackoff;
  const report = typeof value === 'string' ? invalidArgValue : invalidArgType;
  throw report(
    `Expected \`retryBackoff\` to be 'fixed', 'exponential' or a function (attempt, error) => ms, got ${describe(value)}`,
  );
}

function onFull(value: unknown): Exclude<OnFullPolicy, 'block'> {
  if (value === undefined) return defaults.onFull;
  if (value === 'block') return 'backpressure'; // its former name
  if (ON_FULL_POLICIES.includes(value as OnFullPolicy)) return value as Exclude<OnFullPolicy, 'block'>;
  const report = typeof value === 'string' ? invalidArgValue : invalidArgType;
  throw report(
    `Expected \`onFull\` to be one of ${ON_FULL_POLICIES.map((p) => `'${p}'`).join(', ')}, got ${describe(value)}`,
  );
}

function logger(value: unknown): Logger {
  if (value === undefined) return console;
  const candidate = value as Partial<Logger> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.error !== 'function' ||
    typeof candidate.warn !== 'function'
  ) {
    throw invalidArgType(
      `Expected \`logger\` to be an object with \`error\` and \`warn\` methods, got ${describe(value)}`,
    );
  }
  return candidate as Logger;
}
