import { tracingChannel } from 'node:diagnostics_channel';
import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/** Results whose reading throws, as `await` would find it: the attempt fails, nothing else happens. */
const hostile: [string, () => unknown][] = [
  [
    'a `then` getter that throws',
    () => ({
      // biome-ignore lint/suspicious/noThenProperty: a hostile result is the point of the test
      get then() {
        throw new Error('then getter');
      },
    }),
  ],
  [
    'a revoked Proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
  ],
  [
    'a native promise whose `constructor` getter throws',
    () => {
      const promise = Promise.resolve();
      Object.defineProperty(promise, 'constructor', {
        get() {
          throw new Error('constructor getter');
        },
      });
      return promise;
    },
  ],
];

describe('a handler result that throws when read', () => {
  for (const [name, make] of hostile) {
    it(`${name}: fails the attempt, and flush() and close() settle`, async () => {
      const uncaught = vi.fn();
      process.on('uncaughtException', uncaught);
      try {
        const handleError = vi.fn();
        const buffer = new DataBuffer<string, number>({
          handleFlush: make,
          handleError,
          retryMax: 1,
          retryDelay: 10,
          logger: silentLogger(),
        });
        buffer.insert('a', 1);
        const flushed = buffer.flush('a');
        await vi.advanceTimersByTimeAsync(100);
        await flushed;
        expect(handleError).toHaveBeenCalledTimes(1);
        expect(buffer.stats()).toMatchObject({ failed: 1, flushed: 0, buffered: 0 });
        buffer.insert('b', 2);
        const closing = buffer.close();
        await vi.advanceTimersByTimeAsync(100);
        await expect(closing).resolves.toMatchObject({ failed: 1, timedOut: false });
        expect(uncaught).not.toHaveBeenCalled();
      } finally {
        process.off('uncaughtException', uncaught);
      }
    });
  }
});

describe('a data-buffer:flush subscriber', () => {
  /** A rejected native promise carrying its own `then` that claims success. */
  const lyingPromise = () => {
    const promise = Promise.reject(new Error('rejected'));
    promise.catch(() => {});
    Object.defineProperty(promise, 'then', { value: (ok: (v: unknown) => void) => ok(undefined) });
    return promise;
  };

  async function outcome(subscribed: boolean): Promise<{ flushed: number; failed: number }> {
    const channel = tracingChannel('data-buffer:flush');
    const subscriber = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    if (subscribed) channel.subscribe(subscriber);
    try {
      const buffer = new DataBuffer<string, number>({
        handleFlush: lyingPromise,
        handleError: () => {},
        retryMax: 1,
      });
      buffer.insert('a', 1);
      await buffer.flush('a');
      const { flushed, failed } = buffer.stats();
      await buffer.close();
      return { flushed, failed };
    } finally {
      if (subscribed) channel.unsubscribe(subscriber);
    }
  }

  it('does not change outcomes: a rejected promise with its own `then` fails either way', async () => {
    expect(await outcome(false)).toEqual({ flushed: 0, failed: 1 });
    expect(await outcome(true)).toEqual({ flushed: 0, failed: 1 });
  });

  for (const [name, make] of hostile) {
    it(`${name}: fails the attempt with a subscriber too`, async () => {
      const channel = tracingChannel('data-buffer:flush');
      const subscriber = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
      channel.subscribe(subscriber);
      try {
        const buffer = new DataBuffer<string, number>({
          handleFlush: make,
          handleError: () => {},
          retryMax: 1,
        });
        buffer.insert('a', 1);
        await buffer.flush('a');
        expect(buffer.stats()).toMatchObject({ failed: 1, flushed: 0 });
        await buffer.close();
      } finally {
        channel.unsubscribe(subscriber);
      }
    });
  }
});
