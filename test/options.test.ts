import { describe, expect, it } from 'vitest';
import { DataBuffer, defaults } from '../src/index.js';

const handleFlush = () => {};

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
      'Expected `interval` to be a finite number >= 0 and <= 2147483647, got `"5s"` (string)',
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
      "Expected `onFull` to be one of 'block', 'drop-oldest', 'drop-newest', 'throw', got `\"wait\"` (string)",
    ],
    [{ logger: {} }, TypeError, 'Expected `logger` to be an object with `error` and `warn` methods'],
    [{ handleError: 'nope' }, TypeError, 'Expected `handleError` to be a function, got `"nope"` (string)'],
    [{ intervall: 10 }, TypeError, 'Unknown option `intervall`'],
    [{ maxSize: 10, maxBuffered: 5 }, RangeError, 'Expected `maxSize` (10) to be at most `maxBuffered` (5)'],
    [
      { retryBackoff: 'exponential', retryDelay: 500, retryDelayMax: 100 },
      RangeError,
      "Expected `retryDelayMax` (100) to be at least `retryDelay` (500) with `retryBackoff: 'exponential'`",
    ],
    [
      { onDrop: () => {} },
      TypeError,
      "`onDrop` is only called under `onFull: 'drop-oldest' | 'drop-newest'`",
    ],
  ])(
    'rejects %o with a message naming the option, the value and what is allowed',
    (options, type, message) => {
      expect(() => new DataBuffer({ handleFlush, ...(options as object) })).toThrow(type);
      expect(() => new DataBuffer({ handleFlush, ...(options as object) })).toThrow(message);
    },
  );

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
