import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/** A partition runs one attempt at a time; odd user code must neither stall it nor confuse its attempts. */
describe('a partition faced with odd user code', () => {
  it('hands a batch to handleError when deciding on a retry throws, and keeps delivering other keys', async () => {
    const delivered: string[] = [];
    const handleError = vi.fn();
    const loggerDown = new Error('logger down');
    const buffer = new DataBuffer<string, number>({
      interval: 60_000,
      retryDelay: 1,
      handleFlush: async (key) => {
        if (key === 'a') throw new Error('db down');
        delivered.push(key);
      },
      isRetryable: () => {
        throw new Error('predicate bug');
      },
      handleError,
      logger: {
        warn: () => {
          throw loggerDown;
        },
        error: () => {},
      },
    });
    buffer.insert('a', 1);
    await buffer.flush('a');
    expect(handleError).toHaveBeenCalledOnce();
    expect(handleError.mock.calls[0]?.slice(0, 3)).toEqual(['a', [1], loggerDown]);
    buffer.insert('b', 2);
    await buffer.flush('b');
    expect(delivered).toEqual(['b']);
    expect(buffer.stats()).toMatchObject({ flushed: 1, failed: 1, buffered: 0 });
    await buffer.close();
  });

  it("goes by a native promise's real outcome, not by a `then` property set on it", async () => {
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      interval: 60_000,
      retryMax: 1,
      handleFlush: () => {
        const rejected = Promise.reject(new Error('write failed'));
        // Claims success, at once and again later: must count for nothing.
        return Object.assign(rejected, {
          // biome-ignore lint/suspicious/noThenProperty: the point of the test
          then: (onFulfilled: () => void) => {
            onFulfilled();
            setTimeout(onFulfilled, 10);
          },
        });
      },
      handleError,
    });
    buffer.insert('a', 1);
    await buffer.flush('a');
    expect(handleError).toHaveBeenCalledOnce();
    expect(handleError.mock.calls[0]?.[2]).toMatchObject({ message: 'write failed' });
    expect(buffer.stats()).toMatchObject({ flushed: 0, failed: 1 });
    await buffer.close();
  });

  it('settles an attempt once when a thenable calls back twice, and the next attempt on its own outcome', async () => {
    const handleError = vi.fn();
    let calls = 0;
    const buffer = new DataBuffer<string, number>({
      interval: 60_000,
      retryMax: 1,
      handleFlush: () => {
        calls++;
        if (calls === 1) {
          // A thenable that reports success twice: at once, and again 10 ms later.
          return {
            // biome-ignore lint/suspicious/noThenProperty: a thenable is the point of the test
            then: (onFulfilled: () => void) => {
              onFulfilled();
              setTimeout(onFulfilled, 10);
            },
          };
        }
        return new Promise((_, reject) => setTimeout(() => reject(new Error('b failed')), 30));
      },
      handleError,
    });
    buffer.insert('a', 1);
    await buffer.flush('a');
    buffer.insert('b', 2);
    const flushed = buffer.flush('b');
    await vi.advanceTimersByTimeAsync(30);
    await flushed;
    expect(handleError).toHaveBeenCalledOnce();
    expect(handleError.mock.calls[0]?.[0]).toBe('b');
    expect(buffer.stats()).toMatchObject({ flushed: 1, failed: 1, batches: 1 });
    await buffer.close();
  });
});
