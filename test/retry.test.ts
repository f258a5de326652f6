import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DataBuffer, type ErrorInfo, FlushTimeoutError, NonRetryableError } from '../src/index.js';
import { recordingSink, silentLogger } from './helpers.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('retries and handleError', () => {
  it('retries after retryDelay up to retryMax attempts in total, then calls handleError with the items', async () => {
    const { calls, handleFlush } = recordingSink<string, number>(() => {
      throw new Error('database down');
    });
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush,
      handleError,
      interval: 10,
      retryDelay: 100,
      retryMax: 3,
    });
    buffer.insertMany('k', [1, 2]);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.map((c) => c.info.attempt)).toEqual([1, 2, 3]);
    expect(new Set(calls.map((c) => c.info.batchId)).size).toBe(1);
    expect(handleError).toHaveBeenCalledTimes(1);
    const [key, items, error, info] = handleError.mock.calls[0] as [string, number[], Error, ErrorInfo];
    expect([key, items, error.message]).toEqual(['k', [1, 2], 'database down']);
    expect(info).toMatchObject({ attempts: 3, reason: 'retries-exhausted', batchId: calls[0]?.info.batchId });
    expect(buffer.size).toBe(0);
  });

  it('delivers when a retry succeeds, and handleError is not called', async () => {
    let failures = 2;
    const { calls, handleFlush } = recordingSink<string, number>(() => {
      if (failures-- > 0) return Promise.reject(new Error('flaky'));
    });
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({ handleFlush, handleError, interval: 10, retryDelay: 50 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(200);
    expect(calls.map((c) => c.info.attempt)).toEqual([1, 2, 3]);
    expect(handleError).not.toHaveBeenCalled();
    expect(buffer.stats()).toMatchObject({ flushed: 1, failed: 0, retried: 2, batches: 1 });
  });

  it('uses the seed default of 5 attempts, 1 s apart', async () => {
    const { calls, handleFlush } = recordingSink(() => {
      throw new Error('x');
    });
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({ handleFlush, handleError, interval: 10 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10 + 4 * 1000);
    expect(calls).toHaveLength(5);
    expect(handleError).toHaveBeenCalledTimes(1);
  });

  it('turns a non-Error throw into an Error that keeps the value as cause', async () => {
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {
        throw 42;
      },
      handleError,
      interval: 10,
      retryMax: 1,
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10);
    const error = handleError.mock.calls[0]?.[2] as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.cause).toBe(42);
    expect(error.message).toContain('`42` (number)');
  });

  it('sends a NonRetryableError straight to handleError', async () => {
    const { calls, handleFlush } = recordingSink(() => {
      throw new NonRetryableError('constraint violated');
    });
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({ handleFlush, handleError, interval: 10 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    expect(handleError.mock.calls[0]?.[3]).toMatchObject({ reason: 'non-retryable', attempts: 1 });
  });

  it('lets isRetryable decide which errors are retried', async () => {
    const { calls, handleFlush } = recordingSink(() => {
      throw Object.assign(new Error('bad row'), { code: '23505' });
    });
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush,
      handleError,
      interval: 10,
      isRetryable: (error) => (error as Error & { code?: string }).code !== '23505',
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    expect(handleError).toHaveBeenCalledOnce();
  });

  it('backs off exponentially with full jitter, capped by retryDelayMax', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    const { calls, handleFlush } = recordingSink(() => {
      throw new Error('x');
    });
    const times: number[] = [];
    handleFlush.mockImplementation(() => {
      times.push(Date.now());
      throw new Error('x');
    });
    const buffer = new DataBuffer<string, number>({
      handleFlush,
      handleError: () => {},
      interval: 10,
      retryBackoff: 'exponential',
      retryDelay: 100,
      retryDelayMax: 300,
      retryMax: 5,
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(2000);
    const waits = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(waits).toEqual([100, 200, 300, 300]);
    expect(calls).toHaveLength(0); // handleFlush was re-mocked; the recorder saw nothing
  });

  it('fails an attempt that runs past flushTimeout, aborts info.signal, and retries with the same batchId', async () => {
    const signals: AbortSignal[] = [];
    const ids: string[] = [];
    const buffer = new DataBuffer<string, number>({
      interval: 10,
      flushTimeout: 1000,
      retryDelay: 10,
      handleFlush: (_key, _items, info) => {
        signals.push(info.signal);
        ids.push(info.batchId);
        if (info.attempt === 1) return new Promise(() => {}); // hangs
      },
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10 + 999);
    expect(signals[0]?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(FlushTimeoutError);
    await vi.advanceTimersByTimeAsync(10);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
    expect(buffer.stats()).toMatchObject({ flushed: 1, timedOut: 1, retried: 1 });
  });

  it('reports the loss through the logger when handleError is missing, with the key and count', async () => {
    const logger = silentLogger();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => Promise.reject(new Error('down')),
      interval: 10,
      retryMax: 1,
      logger,
    });
    buffer.insertMany('orders', [1, 2, 3]);
    await vi.advanceTimersByTimeAsync(10);
    expect(logger.error).toHaveBeenCalledOnce();
    expect(logger.error.mock.calls[0]?.[0]).toMatch(/lost 3 item\(s\) of key `'orders'`/);
    expect(logger.error.mock.calls[0]?.[1]).toMatchObject({ key: 'orders', count: 3 });
    expect(buffer.stats()).toMatchObject({ failed: 3, lost: 3 });
  });

  it('reports the loss through the logger when handleError itself throws, without an unhandled rejection', async () => {
    const logger = silentLogger();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => Promise.reject(new Error('down')),
      handleError: async () => {
        throw new Error('disk full');
      },
      interval: 10,
      retryMax: 1,
      logger,
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(logger.error).toHaveBeenCalledOnce();
    expect(logger.error.mock.calls[0]?.[1]).toMatchObject({ key: 'k', count: 1 });
    expect(buffer.stats()).toMatchObject({ failed: 1, lost: 1, buffered: 0 });
  });

  it('gives up once deliveryTimeout would be exceeded', async () => {
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => Promise.reject(new Error('down')),
      handleError,
      interval: 10,
      retryDelay: 400,
      retryMax: 100,
      deliveryTimeout: 1000,
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10 + 1000);
    expect(handleError).toHaveBeenCalledOnce();
    const [, , error, info] = handleError.mock.calls[0] as [string, number[], Error, ErrorInfo];
    expect(info).toMatchObject({ reason: 'delivery-timeout', attempts: 3 });
    expect(error).toMatchObject({ code: 'ERR_DELIVERY_TIMEOUT' });
    expect((error.cause as Error).message).toBe('down');
  });
});

describe('a retryBackoff function', () => {
  /** A buffer whose first attempt fails and second succeeds, retrying after whatever `retryBackoff` says. */
  function failingOnce(options: { retryBackoff: () => unknown; retryDelayMax?: number }) {
    const logger = silentLogger();
    const { calls, handleFlush } = recordingSink<string, number>((call) => {
      if (call.info.attempt === 1) throw new Error('database down');
    });
    const buffer = new DataBuffer<string, number>({
      handleFlush,
      logger,
      interval: 10,
      retryDelay: 100,
      flushOnExit: false,
      ...(options as { retryBackoff: () => number }),
    });
    buffer.insert('k', 1);
    return { buffer, calls, logger };
  }

  it.each([
    ['2 ** 40', 2 ** 40],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('waits at most retryDelayMax (default 30 s) when it returns %s', async (_label, wait) => {
    const { buffer, calls, logger } = failingOnce({ retryBackoff: () => wait });
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(buffer.size).toBe(0);
    expect(logger.warn).not.toHaveBeenCalled();
    await buffer.close();
  });

  it('waits at most the retryDelayMax given', async () => {
    const { buffer, calls } = failingOnce({ retryBackoff: () => 2 ** 40, retryDelayMax: 5000 });
    await vi.advanceTimersByTimeAsync(10 + 4999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await buffer.close();
  });

  it('still waits what it asks below retryDelayMax', async () => {
    const { buffer, calls } = failingOnce({ retryBackoff: () => 20_000 });
    await vi.advanceTimersByTimeAsync(10 + 19_999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await buffer.close();
  });

  it.each([
    ['NaN', Number.NaN, RangeError, '`NaN` (number)'],
    ['-1', -1, RangeError, '`-1` (number)'],
    ["'10'", '10', TypeError, "`'10'` (string)"],
    ['undefined', undefined, TypeError, '`undefined` (undefined)'],
  ])(
    'is refused when it returns %s: retryDelay is used and the refusal logged',
    async (_label, wait, type, shown) => {
      const { buffer, calls, logger } = failingOnce({ retryBackoff: () => wait });
      await vi.advanceTimersByTimeAsync(10 + 99);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(2);
      expect(logger.warn).toHaveBeenCalledTimes(1);
      const error = (logger.warn.mock.calls[0] as [string, { error: Error & { code?: string } }])[1].error;
      expect(error.constructor).toBe(type);
      expect(error.code).toBe('ERR_INVALID_RETURN_VALUE');
      expect(error.message).toBe(`Expected \`retryBackoff\` to return a number >= 0, got ${shown}`);
      await buffer.close();
    },
  );
});
