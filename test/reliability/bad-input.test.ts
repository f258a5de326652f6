/**
 * The bad-input table: each bad option, call or callback result, and the exact error it gets (class
 * and message). `docs/bad-input.md` is generated from the rows below and checked against them:
 * after changing a row, run `WRITE_DOCS=1 npx vitest run test/reliability/bad-input.test.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import {
  BufferClosedError,
  BufferFullError,
  closeOnSignals,
  DataBuffer,
  type DataBufferOptions,
  ReadyTimeoutError,
} from '../../src/index.js';
import { useFakeTimersInEveryTest } from '../helpers.js';

const handleFlush = () => {};
const DOC = fileURLToPath(new URL('../../docs/bad-input.md', import.meta.url));

/** The codes of misuse errors, as Node's own `TypeError`s and `RangeError`s have them. */
type MisuseCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_RETURN_VALUE';

/** Any error class; misuse throws TypeError / RangeError, runtime failures the library's own. */
type ErrorClass = new (...args: never[]) => Error;

interface Row {
  /** What the caller does, as shown in the table. */
  readonly input: string;
  /** How the error reaches the caller. */
  readonly how: 'throws' | 'rejects' | 'logger.warn' | 'logger.error' | 'handleError';
  readonly error: ErrorClass;
  /** The Node-style `code` every misuse error (`TypeError`, `RangeError`) carries. */
  readonly code?: MisuseCode;
  readonly message: string;
  /** Runs the input and returns the error it produced. */
  readonly run: () => Promise<unknown>;
}

/** The error `new DataBuffer(options)` throws. */
const construct = (options: unknown) => async () =>
  thrown(() => new DataBuffer(options as DataBufferOptions<unknown, unknown>));

/** The error `fn` throws synchronously (a sync throw, not a rejection, is what these rows promise). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The reason `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A buffer whose logger records; returns what was logged at `level` after `act`. */
async function logged(
  level: 'warn' | 'error',
  options: Partial<DataBufferOptions<string, number>>,
  act: (buffer: DataBuffer<string, number>) => Promise<void> | void,
) {
  const entries: { message: string; details: { error?: unknown } }[] = [];
  const logger = {
    warn: (message: string, details: { error?: unknown }) =>
      level === 'warn' && entries.push({ message, details }),
    error: (message: string, details: { error?: unknown }) =>
      level === 'error' && entries.push({ message, details }),
  };
  const buffer = new DataBuffer<string, number>({ handleFlush, logger, flushOnExit: false, ...options });
  await act(buffer);
  const entry = entries[0];
  // The row's error is the one the log entry carries; its message is checked with the entry's.
  return entry === undefined
    ? undefined
    : Object.assign(entry.details.error as Error, { logged: entry.message });
}

const option = (name: string, value: unknown, error: ErrorClass, code: MisuseCode, message: string): Row => ({
  input: `\`new DataBuffer({ handleFlush, ${name}: ${show(value)} })\``,
  how: 'throws',
  error,
  code,
  message,
  run: construct({ handleFlush, [name]: value }),
});

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return value.toString();
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === 2 ** 31) return '2 ** 31';
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const NUMBER_0_TO_MAX = 'a finite number >= 0 and <= 2147483647';

const rows: Row[] = [
  // ---- the options --------------------------------------------------------------------------------
  {
    input: '`new DataBuffer(42)`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'Expected the options to be an object, got `42` (number)',
    run: construct(42),
  },
  {
    input: '`new DataBuffer(null)`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'Expected the options to be an object, got `null` (null)',
    run: construct(null),
  },
  {
    input: '`new DataBuffer({})`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message:
      'Expected `handleFlush` to be a function (or a subclass to override the `handleFlush` method), got `undefined` (undefined)',
    run: construct({}),
  },
  {
    input: '`new DataBuffer({ handleFlush, intervall: 10 })`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    message:
      'Unknown option `intervall`; the options are: handleFlush, handleError, interval, jitter, maxSize, maxSizeJitter, maxBatchBytes, partitions, retryDelay, retryMax, retryBackoff, retryDelayMax, deliveryTimeout, flushTimeout, isRetryable, meta, maxBuffered, maxBufferedBytes, sizeOf, onFull, onDrop, logger, flushOnExit, store',
    run: construct({ handleFlush, intervall: 10 }),
  },
  {
    input: "`new DataBuffer({ handleFlush: 'db.insert' })`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: "Expected `handleFlush` to be a function, got `'db.insert'` (string)",
    run: construct({ handleFlush: 'db.insert' }),
  },
  option(
    'handleError',
    'nope',
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    "Expected `handleError` to be a function, got `'nope'` (string)",
  ),
  option(
    'interval',
    -1,
    RangeError,
    'ERR_OUT_OF_RANGE',
    `Expected \`interval\` to be ${NUMBER_0_TO_MAX}, got \`-1\` (number)`,
  ),
  option(
    'interval',
    '5s',
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `Expected \`interval\` to be ${NUMBER_0_TO_MAX}, got \`'5s'\` (string)`,
  ),
  option(
    'interval',
    Number.NaN,
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `Expected \`interval\` to be ${NUMBER_0_TO_MAX}, got \`NaN\` (number)`,
  ),
  option(
    'interval',
    Number.POSITIVE_INFINITY,
    RangeError,
    'ERR_OUT_OF_RANGE',
    `Expected \`interval\` to be ${NUMBER_0_TO_MAX}, got \`Infinity\` (number)`,
  ),
  option(
    'interval',
    2 ** 31,
    RangeError,
    'ERR_OUT_OF_RANGE',
    `Expected \`interval\` to be ${NUMBER_0_TO_MAX}, got \`2147483648\` (number)`,
  ),
  option(
    'jitter',
    -5,
    RangeError,
    'ERR_OUT_OF_RANGE',
    `Expected \`jitter\` to be ${NUMBER_0_TO_MAX}, got \`-5\` (number)`,
  ),
  option(
    'maxSize',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `maxSize` to be an integer >= 1 or Infinity, got `0` (number)',
  ),
  option(
    'maxSize',
    1.5,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `maxSize` to be an integer >= 1 or Infinity, got `1.5` (number)',
  ),
  option(
    'maxSize',
    '100',
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    "Expected `maxSize` to be an integer >= 1 or Infinity, got `'100'` (string)",
  ),
  option(
    'maxSizeJitter',
    -1,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `maxSizeJitter` to be an integer >= 0, got `-1` (number)',
  ),
  option(
    'maxBatchBytes',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `maxBatchBytes` to be a finite number >= 1 or Infinity, got `0` (number)',
  ),
  option(
    'maxBatchBytes',
    '480kb',
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    "Expected `maxBatchBytes` to be a finite number >= 1 or Infinity, got `'480kb'` (string)",
  ),
  {
    input: '`new DataBuffer({ handleFlush, maxBatchBytes: 2048, maxBufferedBytes: 1024 })`',
    how: 'throws',
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    message:
      'Expected `maxBatchBytes` (2048) to be at most `maxBufferedBytes` (1024): a batch could never fill up',
    run: construct({ handleFlush, maxBatchBytes: 2048, maxBufferedBytes: 1024 }),
  },
  option(
    'partitions',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `partitions` to be an integer >= 1 and <= 1024, got `0` (number)',
  ),
  option(
    'partitions',
    2000,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `partitions` to be an integer >= 1 and <= 1024, got `2000` (number)',
  ),
  option(
    'retryDelay',
    -1,
    RangeError,
    'ERR_OUT_OF_RANGE',
    `Expected \`retryDelay\` to be ${NUMBER_0_TO_MAX}, got \`-1\` (number)`,
  ),
  option(
    'retryMax',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `retryMax` to be an integer >= 1, got `0` (number)',
  ),
  option(
    'retryMax',
    Number.POSITIVE_INFINITY,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `retryMax` to be an integer >= 1, got `Infinity` (number)',
  ),
  option(
    'retryBackoff',
    'linear',
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    "Expected `retryBackoff` to be 'fixed', 'exponential' or a function (attempt, error) => ms, got `'linear'` (string)",
  ),
  option(
    'retryDelayMax',
    -1,
    RangeError,
    'ERR_OUT_OF_RANGE',
    `Expected \`retryDelayMax\` to be ${NUMBER_0_TO_MAX}, got \`-1\` (number)`,
  ),
  {
    input:
      "`new DataBuffer({ handleFlush, retryBackoff: 'exponential', retryDelay: 5000, retryDelayMax: 1000 })`",
    how: 'throws',
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    message:
      "Expected `retryDelayMax` (1000) to be at least `retryDelay` (5000) with `retryBackoff: 'exponential'`",
    run: construct({ handleFlush, retryBackoff: 'exponential', retryDelay: 5000, retryDelayMax: 1000 }),
  },
  option(
    'deliveryTimeout',
    -1,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `deliveryTimeout` to be a finite number >= 0 or Infinity, got `-1` (number)',
  ),
  option(
    'flushTimeout',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `flushTimeout` to be a finite number >= 1 and <= 2147483647 or Infinity, got `0` (number)',
  ),
  option(
    'isRetryable',
    true,
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'Expected `isRetryable` to be a function, got `true` (boolean)',
  ),
  option(
    'maxBuffered',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `maxBuffered` to be an integer >= 1 or Infinity, got `0` (number)',
  ),
  option(
    'maxBufferedBytes',
    0,
    RangeError,
    'ERR_OUT_OF_RANGE',
    'Expected `maxBufferedBytes` to be a finite number >= 1 or Infinity, got `0` (number)',
  ),
  {
    input: '`new DataBuffer({ handleFlush, maxSize: 500, maxBuffered: 100 })`',
    how: 'throws',
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    message: 'Expected `maxSize` (500) to be at most `maxBuffered` (100): a batch could never fill up',
    run: construct({ handleFlush, maxSize: 500, maxBuffered: 100 }),
  },
  option(
    'sizeOf',
    8,
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'Expected `sizeOf` to be a function, got `8` (number)',
  ),
  option(
    'onFull',
    'wait',
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    "Expected `onFull` to be one of 'backpressure', 'drop-oldest', 'drop-newest', 'throw', 'block', got `'wait'` (string)",
  ),
  {
    input: "`new DataBuffer({ handleFlush, onFull: 'throw', onDrop: () => {} })`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    message:
      "`onDrop` is never called under `onFull: 'throw'`, which drops nothing; got `onFull` `'throw'` (string) with an `onDrop`",
    run: construct({ handleFlush, onFull: 'throw', onDrop: () => {} }),
  },
  {
    input: "`new DataBuffer({ handleFlush, onFull: 'drop-oldest', onDrop: 'log' })`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: "Expected `onDrop` to be a function, got `'log'` (string)",
    run: construct({ handleFlush, onFull: 'drop-oldest', onDrop: 'log' }),
  },
  option(
    'logger',
    {},
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    'Expected `logger` to be an object with `error` and `warn` methods, got `{}` (object)',
  ),
  option(
    'flushOnExit',
    'yes',
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    "Expected `flushOnExit` to be a boolean, got `'yes'` (string)",
  ),

  // ---- the methods --------------------------------------------------------------------------------
  {
    input: "`buffer.insert('k', 1)` after `close()`",
    how: 'throws',
    error: BufferClosedError,
    message: 'Cannot call `insert`: the buffer is closed',
    run: async () => {
      const buffer = new DataBuffer({ handleFlush, flushOnExit: false });
      await buffer.close();
      return thrown(() => buffer.insert('k', 1));
    },
  },
  {
    input: "`buffer.insertMany('k', [1])` after `close()`",
    how: 'throws',
    error: BufferClosedError,
    message: 'Cannot call `insertMany`: the buffer is closed',
    run: async () => {
      const buffer = new DataBuffer({ handleFlush, flushOnExit: false });
      await buffer.close();
      return thrown(() => buffer.insertMany('k', [1]));
    },
  },
  {
    input: "`buffer.insertMany('k', 5)`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'Expected `values` to be an array or another iterable, got `5` (number)',
    run: async () => thrown(() => new DataBuffer({ handleFlush }).insertMany('k', 5 as never)),
  },
  {
    input: "`buffer.insertMany('k', null)`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'Expected `values` to be an array or another iterable, got `null` (null)',
    run: async () => thrown(() => new DataBuffer({ handleFlush }).insertMany('k', null as never)),
  },
  {
    input: "`buffer.insert('k', 3)` with `onFull: 'throw'` and 2 of `maxBuffered: 2` held",
    how: 'throws',
    error: BufferFullError,
    message: 'The buffer is full (maxBuffered is 2 items); the item was not inserted',
    run: async () => {
      const buffer = new DataBuffer({ handleFlush, onFull: 'throw', maxBuffered: 2 });
      buffer.insertMany('k', [1, 2]);
      return thrown(() => buffer.insert('k', 3));
    },
  },
  {
    input: "`buffer.insert('k', 'ab')` with `onFull: 'throw'`, `maxBufferedBytes: 40`, 30 bytes held",
    how: 'throws',
    error: BufferFullError,
    message:
      'The buffer is full (maxBufferedBytes is 40, 30 held, the item is 20); the item was not inserted',
    run: async () => {
      const buffer = new DataBuffer<string, string>({
        handleFlush,
        onFull: 'throw',
        maxBufferedBytes: 40,
        sizeOf: (value) => value.length * 10,
      });
      buffer.insert('k', 'abc');
      return thrown(() => buffer.insert('k', 'ab'));
    },
  },
  {
    input: "`buffer.insertMany('k', [3, 4])` with `onFull: 'throw'` and 1 of `maxBuffered: 2` held",
    how: 'throws',
    error: BufferFullError,
    message:
      'The buffer is full (2 item(s) of 0 bytes do not fit: 1/2 items, 0/Infinity bytes held); nothing was inserted',
    run: async () => {
      const buffer = new DataBuffer({
        handleFlush,
        onFull: 'throw',
        maxBuffered: 2,
        maxBufferedBytes: Number.POSITIVE_INFINITY,
      });
      buffer.insert('k', 1);
      return thrown(() => buffer.insertMany('k', [3, 4]));
    },
  },
  {
    input: "`buffer.insert('k', v)` with a `sizeOf` that returns `'12'`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_RETURN_VALUE',
    message: "Expected `sizeOf` to return a finite number >= 0, got `'12'` (string)",
    run: async () =>
      thrown(() => new DataBuffer({ handleFlush, sizeOf: () => '12' as unknown as number }).insert('k', 1)),
  },
  {
    input: "`buffer.insert('k', v)` with a `sizeOf` that returns `-1`",
    how: 'throws',
    error: RangeError,
    code: 'ERR_INVALID_RETURN_VALUE',
    message: 'Expected `sizeOf` to return a finite number >= 0, got `-1` (number)',
    run: async () => thrown(() => new DataBuffer({ handleFlush, sizeOf: () => -1 }).insert('k', 1)),
  },
  {
    input:
      "`buffer.insert('k', v)` with a `sizeOf` that throws `new Error('sizeOf failed')` (nothing is inserted)",
    how: 'throws',
    error: Error,
    message: 'sizeOf failed',
    run: async () => {
      const buffer = new DataBuffer({
        handleFlush,
        sizeOf: () => {
          throw new Error('sizeOf failed');
        },
      });
      const error = thrown(() => buffer.insert('k', 1));
      expect(buffer.stats()).toMatchObject({ inserted: 0, buffered: 0 });
      return error;
    },
  },
  {
    input: '`buffer.ready({ timeout: -1 })`',
    how: 'throws',
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    message: 'Expected `timeout` to be a number >= 0 or Infinity, got `-1` (number)',
    run: async () => thrown(() => new DataBuffer({ handleFlush }).ready({ timeout: -1 })),
  },
  {
    input: "`buffer.ready({ timeout: '1s' })`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: "Expected `timeout` to be a number >= 0 or Infinity, got `'1s'` (string)",
    run: async () => thrown(() => new DataBuffer({ handleFlush }).ready({ timeout: '1s' as never })),
  },
  {
    input: "`buffer.ready({ signal: 'stop' })`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: "Expected `signal` to be an AbortSignal, got `'stop'` (string)",
    run: async () => thrown(() => new DataBuffer({ handleFlush }).ready({ signal: 'stop' as never })),
  },
  {
    input: '`buffer.ready(null)`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'Expected the options of `ready` to be an object, got `null` (null)',
    run: async () => thrown(() => new DataBuffer({ handleFlush }).ready(null as never)),
  },
  {
    input: '`buffer.ready({ timeout: 50 })` while full, and no room is made within 50 ms',
    how: 'rejects',
    error: ReadyTimeoutError,
    message: 'The buffer had no room within 50 ms',
    run: async () => {
      const buffer = new DataBuffer({ handleFlush: () => new Promise(() => {}), maxBuffered: 1 });
      buffer.insert('k', 1);
      const waiting = rejection(buffer.ready({ timeout: 50 }));
      await vi.advanceTimersByTimeAsync(50);
      return waiting;
    },
  },
  {
    input: '`buffer.ready({ signal })` with an aborted signal',
    how: 'rejects',
    error: Error,
    message: 'the reason given to controller.abort(reason)',
    run: async () => {
      const controller = new AbortController();
      controller.abort(new Error('the reason given to controller.abort(reason)'));
      return rejection(new DataBuffer({ handleFlush }).ready({ signal: controller.signal }));
    },
  },
  {
    input: '`buffer.ready()` after `close()`',
    how: 'rejects',
    error: BufferClosedError,
    message: 'Cannot call `ready`: the buffer is closed',
    run: async () => {
      const buffer = new DataBuffer({ handleFlush, flushOnExit: false });
      await buffer.close();
      return rejection(buffer.ready());
    },
  },
  {
    input: '`buffer.close({ timeout: -5 })`',
    how: 'throws',
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    message: 'Expected `timeout` to be a number >= 0 or Infinity, got `-5` (number)',
    run: async () => thrown(() => new DataBuffer({ handleFlush }).close({ timeout: -5 })),
  },
  {
    input: "`buffer.close({ timeout: '10s' })`",
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: "Expected `timeout` to be a number >= 0 or Infinity, got `'10s'` (string)",
    run: async () => thrown(() => new DataBuffer({ handleFlush }).close({ timeout: '10s' as never })),
  },
  {
    input: '`buffer.close(null)`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'Expected the options of `close` to be an object, got `null` (null)',
    run: async () => thrown(() => new DataBuffer({ handleFlush }).close(null as never)),
  },
  {
    input: '`closeOnSignals({ signals: [] })`',
    how: 'throws',
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    message: 'Expected `signals` to be a non-empty array of signal names, got `[]` (array)',
    run: async () => thrown(() => closeOnSignals({ signals: [] })),
  },
  {
    input: '`closeOnSignals({ timeout: -1 })`',
    how: 'throws',
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    message: 'Expected `timeout` to be a number >= 0 or Infinity, got `-1` (number)',
    run: async () => thrown(() => closeOnSignals({ timeout: -1 })),
  },

  // ---- callbacks that misbehave ------------------------------------------------------------------
  {
    input: '`handleFlush` throws 42 (not an Error)',
    how: 'handleError',
    error: Error,
    message: 'handleFlush threw a non-Error value: `42` (number)',
    run: async () => {
      let received: unknown;
      const buffer = new DataBuffer<string, number>({
        handleFlush: () => {
          throw 42;
        },
        handleError: (_key, _items, error) => {
          received = error;
        },
        retryMax: 1,
      });
      buffer.insert('k', 1);
      await buffer.flush('k');
      return received;
    },
  },
  {
    input: '`retryBackoff` returns -1',
    how: 'logger.warn',
    error: RangeError,
    code: 'ERR_INVALID_RETURN_VALUE',
    message: 'Expected `retryBackoff` to return a number >= 0, got `-1` (number)',
    run: () =>
      logged(
        'warn',
        {
          retryBackoff: () => -1,
          retryDelay: 10,
          handleFlush: () => {
            throw new Error('down');
          },
          handleError: () => {},
        },
        async (buffer) => {
          buffer.insert('k', 1);
          void buffer.flush('k');
          await vi.advanceTimersByTimeAsync(0);
        },
      ),
  },
  {
    input: "`retryBackoff` returns '10' (a wait above `retryDelayMax` is cut to it, not refused)",
    how: 'logger.warn',
    error: TypeError,
    code: 'ERR_INVALID_RETURN_VALUE',
    message: "Expected `retryBackoff` to return a number >= 0, got `'10'` (string)",
    run: () =>
      logged(
        'warn',
        {
          retryBackoff: () => '10' as unknown as number,
          retryDelay: 10,
          handleFlush: () => {
            throw new Error('down');
          },
          handleError: () => {},
        },
        async (buffer) => {
          buffer.insert('k', 1);
          void buffer.flush('k');
          await vi.advanceTimersByTimeAsync(0);
        },
      ),
  },
  {
    input: '`isRetryable` throws',
    how: 'logger.warn',
    error: Error,
    message: 'predicate bug',
    run: () =>
      logged(
        'warn',
        {
          isRetryable: () => {
            throw new Error('predicate bug');
          },
          handleFlush: () => {
            throw new Error('down');
          },
          handleError: () => {},
        },
        async (buffer) => {
          buffer.insert('k', 1);
          void buffer.flush('k');
          await vi.advanceTimersByTimeAsync(0);
        },
      ),
  },
  {
    input: '`onDrop` throws',
    how: 'logger.error',
    error: Error,
    message: 'drop sink down',
    run: () =>
      logged(
        'error',
        {
          maxBuffered: 1,
          onFull: 'drop-newest',
          onDrop: () => {
            throw new Error('drop sink down');
          },
        },
        (buffer) => {
          buffer.insert('k', 1);
          buffer.insert('k', 2);
        },
      ),
  },
];

useFakeTimersInEveryTest();

describe('bad input', () => {
  it.each(rows.map((row) => [row.input, row] as const))('%s', async (_input, row) => {
    const error = await row.run();
    expect(error).toBeInstanceOf(row.error);
    expect((error as Error).constructor).toBe(row.error);
    expect((error as Error).message).toBe(row.message);
    if (row.error === TypeError || row.error === RangeError) {
      expect(row.code).toBeDefined();
      expect((error as { code?: unknown }).code).toBe(row.code);
    }
  });

  it('docs/bad-input.md is the table of these rows', () => {
    const table = renderTable(rows);
    if (process.env.WRITE_DOCS) writeFileSync(DOC, table);
    expect(readFileSync(DOC, 'utf8')).toBe(table);
  });
});

function renderTable(all: Row[]): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const lines = [
    '# Bad input and the errors it gets',
    '',
    'Every misuse of the API, and what the caller gets: the class, the code and the exact message. Misuse',
    '(a bad option, a wrong argument type) throws `TypeError` or `RangeError` synchronously, with the code',
    "Node's own errors use: `ERR_INVALID_ARG_TYPE` (wrong type), `ERR_INVALID_ARG_VALUE` (right type, value",
    'not allowed), `ERR_OUT_OF_RANGE` (a number out of range, alone or against another option) or',
    '`ERR_INVALID_RETURN_VALUE` (a callback returned something unusable). The value received is printed with',
    '`util.inspect` (one line, 2 levels deep, no getters or custom inspect run) and cut at 80 characters.',
    'Runtime failures use the library\'s own classes, each with a stable `code` (see the README\'s "Errors"',
    'section). A callback that misbehaves never crashes the buffer: what it did is reported where the',
    '"How" column says.',
    '',
    'Rules that accept odd input rather than refuse it:',
    '',
    '- `retryBackoff` returning a wait above `retryDelayMax` (`2 ** 40`, `Infinity`): the wait is cut to',
    '  `retryDelayMax` (default 30000 ms). A result that is not a number >= 0 is refused (rows below): the',
    '  buffer waits `retryDelay` and logs the error.',
    '- The default `sizeOf` (`estimateSize`) never calls a getter nor runs a Proxy trap, and never throws:',
    '  an accessor counts 64 bytes, a Proxy (revoked or not) 4 KiB, an item it cannot walk 1 MiB; cycles',
    "  are walked until its bounds (8 levels, 4096 values) stop them. See the README's `sizeOf` section.",
    '',
    'Generated from `test/reliability/bad-input.test.ts`, which runs one test per row (regenerate with',
    '`WRITE_DOCS=1 npx vitest run test/reliability/bad-input.test.ts`).',
    '',
    '| Input | How | Error | Code | Message |',
    '|---|---|---|---|---|',
  ];
  for (const row of all) {
    const code = row.code === undefined ? '' : `\`${row.code}\``;
    lines.push(
      `| ${cell(row.input)} | ${row.how} | \`${row.error.name}\` | ${code} | ${cell(row.message)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
