import { describe, expect, it } from 'vitest';
import { DataBuffer, defaults } from '../src/index.js';

const handleFlush = () => {};

/** What `fn` throws. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('options', () => {
  it('uses the seed defaults', () => {
    expect(defaults).toMatchObject({
      interval: 5000,
      jitter: 0,
      maxSize: Number.POSITIVE_INFINITY,
      partitions: 1,
      retryDelay: 1000,
      retryMax: 5,
      flushTimeout: 60_000,
    });
    expect(Object.isFrozen(defaults)).toBe(true);
  });

  it.each([
    [
      { interval: -1 },
      RangeError,
      'Expected `interval` to be a finite number >= 0 and <= 2147483647, got `-1` (number)',
    ],
    [
      { interval: '5s' },
      TypeError,
      "Expected `interval` to be a finite number >= 0 and <= 2147483647, got `'5s'` (string)",
    ],
    [{ interval: Number.NaN }, TypeError, 'got `NaN` (number)'],
    [{ maxSize: 0 }, RangeError, 'Expected `maxSize` to be an integer >= 1 or Infinity, got `0` (number)'],
    [{ maxSize: 1.5 }, RangeError, '`maxSize`'],
    [
      { partitions: 0 },
      RangeError,
      'Expected `partitions` to be an integer >= 1 and <= 1024, got `0` (number)',
    ],
    [{ retryMax: 0 }, RangeError, 'Expected `retryMax` to be an integer >= 1'],
    [
      { retryBackoff: 'linear' },
      TypeError,
      "Expected `retryBackoff` to be 'fixed', 'exponential' or a function",
    ],
    [{ flushTimeout: 0 }, RangeError, 'Expected `flushTimeout` to be a finite number >= 1'],
    [
      { onFull: 'wait' },
      TypeError,
      "Expected `onFull` to be one of 'backpressure', 'drop-oldest', 'drop-newest', 'throw', 'block', got `'wait'` (string)",
    ],
    [{ logger: {} }, TypeError, 'Expected `logger` to be an object with `error` and `warn` methods'],
    [{ handleError: 'nope' }, TypeError, "Expected `handleError` to be a function, got `'nope'` (string)"],
    [{ intervall: 10 }, TypeError, 'Unknown option `intervall`'],
    [{ maxSize: 10, maxBuffered: 5 }, RangeError, 'Expected `maxSize` (10) to be at most `maxBuffered` (5)'],
    [
      { retryBackoff: 'exponential', retryDelay: 500, retryDelayMax: 100 },
      RangeError,
      "Expected `retryDelayMax` (100) to be at least `retryDelay` (500) with `retryBackoff: 'exponential'`",
    ],
    [
      { onFull: 'throw', onDrop: () => {} },
      TypeError,
      "`onDrop` is never called under `onFull: 'throw'`, which drops nothing",
    ],
  ])(
    'rejects %o with a message naming the option, the value and what is allowed',
    (options, type, message) => {
      expect(() => new DataBuffer({ handleFlush, ...(options as object) })).toThrow(type);
      expect(() => new DataBuffer({ handleFlush, ...(options as object) })).toThrow(message);
      // Node-style codes: a RangeError is out of range; a TypeError has the wrong type or value.
      expect(thrownBy(() => new DataBuffer({ handleFlush, ...(options as object) }))).toMatchObject({
        code:
          type === RangeError ? 'ERR_OUT_OF_RANGE' : expect.stringMatching(/^ERR_INVALID_ARG_(TYPE|VALUE)$/),
      });
    },
  );

  it.each([
    [{ interval: '5s' }, 'ERR_INVALID_ARG_TYPE'],
    [{ interval: Number.NaN }, 'ERR_INVALID_ARG_TYPE'],
    [{ handleError: 'nope' }, 'ERR_INVALID_ARG_TYPE'],
    [{ logger: {} }, 'ERR_INVALID_ARG_TYPE'],
    [{ retryBackoff: 'linear' }, 'ERR_INVALID_ARG_VALUE'],
    [{ onFull: 'wait' }, 'ERR_INVALID_ARG_VALUE'],
    [{ intervall: 10 }, 'ERR_INVALID_ARG_VALUE'],
    [{ onFull: 'throw', onDrop: () => {} }, 'ERR_INVALID_ARG_VALUE'],
    [{ interval: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ maxSize: 10, maxBuffered: 5 }, 'ERR_OUT_OF_RANGE'],
  ])('gives %o the code %s, as Node does', (options, code) => {
    expect(thrownBy(() => new DataBuffer({ handleFlush, ...(options as object) }))).toHaveProperty(
      'code',
      code,
    );
  });

  it('prints a received value with util.inspect, capped in length', () => {
    expect(thrownBy(() => new DataBuffer({ handleFlush, logger: { error: 1 } as never }))).toHaveProperty(
      'message',
      'Expected `logger` to be an object with `error` and `warn` methods, got `{ error: 1 }` (object)',
    );
    const long = thrownBy(() => new DataBuffer({ handleFlush, interval: 'x'.repeat(10_000) as never }));
    expect((long as Error).message).toMatch(/got `'x+'\.\.\.` \(string\)$/);
    expect((long as Error).message.length).toBeLessThan(200);
    const nested = { a: { b: { c: { d: { e: 1 } } } }, list: Array.from({ length: 1000 }, (_, i) => i) };
    expect(
      (thrownBy(() => new DataBuffer({ handleFlush, meta: 1, logger: nested as never })) as Error).message,
    ).not.toContain('[object Object]');
  });

  it('requires handleFlush unless a subclass overrides it', () => {
    expect(() => new DataBuffer({})).toThrow(
      'Expected `handleFlush` to be a function (or a subclass to override the `handleFlush` method), got `undefined` (undefined)',
    );
  });

  it('rejects options that are not an object', () => {
    expect(() => new DataBuffer(42 as never)).toThrow(
      'Expected the options to be an object, got `42` (number)',
    );
  });

  it('accepts Infinity where it means "no limit"', () => {
    expect(
      () =>
        new DataBuffer({
          handleFlush,
          maxSize: Number.POSITIVE_INFINITY,
          maxBuffered: Number.POSITIVE_INFINITY,
          maxBufferedBytes: Number.POSITIVE_INFINITY,
          flushTimeout: Number.POSITIVE_INFINITY,
          deliveryTimeout: Number.POSITIVE_INFINITY,
        }),
    ).not.toThrow();
    expect(() => new DataBuffer({ handleFlush, interval: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
