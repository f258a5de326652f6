/**
 * The fault matrix: one test per way a handler, a caller or the shutdown can go wrong, each asserting
 * exact item accounting with the queue checker (nothing lost, duplicated or unexpected, and the
 * conservation law after every step).
 */
import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, FlushTimeoutError, NonRetryableError, ShutdownError } from '../../src/index.js';
import { deferred, useFakeTimersInEveryTest } from '../helpers.js';
import { never, setup } from './setup.js';

useFakeTimersInEveryTest();

describe('fault matrix: the handler', () => {
  it('throws an Error on every attempt: retried retryMax times with one batchId, then handed to handleError', async () => {
    const boom = new Error('database down');
    const { checker, buffer } = setup({
      outcome: () => {
        throw boom;
      },
    });
    checker.insert('a', 3);
    await checker.advance(100);
    expect(checker.calls).toHaveLength(1);
    await checker.advance(10);
    await checker.advance(10);
    expect(checker.calls.map((c) => c.info.attempt)).toEqual([1, 2, 3]);
    expect(new Set(checker.calls.map((c) => c.info.batchId)).size).toBe(1);
    expect(checker.errors).toHaveLength(1);
    expect(checker.errors[0]).toMatchObject({ key: 'a', ids: [0, 1, 2], error: boom });
    expect(checker.errors[0]?.info).toMatchObject({ reason: 'retries-exhausted', attempts: 3 });
    expect(checker.errors[0]?.info.batchId).toBe(checker.calls[0]?.info.batchId);
    expect(checker.checkDrained()).toMatchObject({ inserted: 3, errored: 3, delivered: 0 });
    expect(buffer.stats()).toMatchObject({ retried: 2, failedBatches: 1, lost: 0 });
  });

  it('throws a non-Error (`throw 42`): handleError gets an Error naming the value, with it as cause', async () => {
    const { checker } = setup({
      retryMax: 2,
      outcome: () => {
        throw 42;
      },
    });
    checker.insert('a', 2);
    await checker.advance(110);
    const error = checker.errors[0]?.error;
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toBe('handleFlush threw a non-Error value: `42` (number)');
    expect(error?.cause).toBe(42);
    expect(checker.checkDrained()).toMatchObject({ inserted: 2, errored: 2 });
  });

  it('rejects twice, then resolves: delivered once, after two retries', async () => {
    let calls = 0;
    const { checker, buffer } = setup({
      outcome: async () => {
        if (++calls < 3) throw new Error(`attempt ${calls} failed`);
      },
    });
    checker.insert('a', 4);
    await checker.advance(100);
    await checker.advance(10);
    expect(checker.report().delivered).toBe(0);
    await checker.advance(10);
    expect(checker.checkDrained()).toMatchObject({ inserted: 4, delivered: 4, errored: 0 });
    expect(buffer.stats()).toMatchObject({ retried: 2, batches: 1 });
  });

  it('throws synchronously: the insert path is unaffected and the batch is retried like a rejection', async () => {
    let calls = 0;
    const { checker } = setup({
      maxSize: 2,
      outcome: () => {
        if (++calls === 1) throw new TypeError('bad row');
      },
    });
    // The batch fills here; the handler must not run (and throw) inside insert.
    expect(() => checker.insert('a', 2)).not.toThrow();
    expect(checker.calls).toHaveLength(0);
    await checker.advance(0);
    expect(checker.calls).toHaveLength(1);
    await checker.advance(10);
    expect(checker.checkDrained()).toMatchObject({ inserted: 2, delivered: 2 });
  });

  it('throws a NonRetryableError: straight to handleError, no retry', async () => {
    const { checker } = setup({
      outcome: () => {
        throw new NonRetryableError('constraint violation');
      },
    });
    checker.insert('a', 2);
    await checker.advance(100);
    expect(checker.calls).toHaveLength(1);
    expect(checker.errors[0]?.info).toMatchObject({ reason: 'non-retryable', attempts: 1 });
    checker.checkDrained();
  });

  it('hangs: each attempt fails after flushTimeout with its signal aborted, then handleError', async () => {
    const { checker, buffer } = setup({ flushTimeout: 50, outcome: () => never() });
    checker.insert('a', 2);
    await checker.advance(100);
    const first = checker.calls[0]?.info;
    expect(first?.signal.aborted).toBe(false);
    await checker.advance(49);
    expect(first?.signal.aborted).toBe(false);
    await checker.advance(1);
    expect(first?.signal.reason).toBeInstanceOf(FlushTimeoutError);
    expect(checker.report().errored).toBe(0);
    // Two more attempts of 50 ms, 10 ms apart.
    await checker.advance(10 + 50 + 10 + 50);
    expect(checker.calls).toHaveLength(3);
    expect(checker.errors[0]?.error).toBeInstanceOf(FlushTimeoutError);
    expect(checker.errors[0]?.error.message).toBe('handleFlush did not settle within flushTimeout (50 ms)');
    expect(checker.checkDrained()).toMatchObject({ errored: 2 });
    expect(buffer.stats().timedOut).toBe(3);
  });

  it('is slow (3 intervals per flush): batches queue in order, never overlap, and all arrive', async () => {
    const { checker, buffer } = setup({
      outcome: () => new Promise((resolve) => setTimeout(resolve, 300)),
    });
    for (let tick = 0; tick < 20; tick++) {
      checker.insert('a', 5);
      checker.insert('b', 1);
      await checker.advance(50);
    }
    expect(buffer.size).toBeGreaterThan(0);
    const before = checker.report().delivered;
    const report = await checker.until(buffer.close());
    expect(report).toMatchObject({ delivered: 120 - before, failed: 0, timedOut: false });
    expect(checker.checkDrained()).toMatchObject({ inserted: 120, delivered: 120 });
    expect(checker.deliveredIds('a')).toEqual([...checker.deliveredIds('a')].sort((x, y) => x - y));
  });

  it('succeeds after its timeout fired: the zombie success is not counted, and the retry has the same batchId', async () => {
    const late = deferred<void>();
    let calls = 0;
    const { checker, buffer } = setup({
      flushTimeout: 50,
      outcome: () => (++calls === 1 ? late.promise : undefined),
    });
    checker.insert('a', 3);
    await checker.advance(100 + 50 + 10);
    expect(checker.calls).toHaveLength(2);
    expect(checker.calls[1]?.info.batchId).toBe(checker.calls[0]?.info.batchId);
    expect(checker.report().delivered).toBe(3);
    late.resolve();
    await checker.advance(0);
    expect(checker.checkDrained()).toMatchObject({ delivered: 3, zombies: 1 });
    expect(buffer.stats()).toMatchObject({ flushed: 3, batches: 1, timedOut: 1 });
  });

  it('a zombie that settles during the next attempt does not disarm that attempt’s flush timeout', async () => {
    const late = deferred<void>();
    let calls = 0;
    const { checker, buffer } = setup({
      flushTimeout: 50,
      outcome: () => {
        calls++;
        if (calls === 1) return late.promise;
        if (calls === 2) return never();
        return undefined;
      },
    });
    checker.insert('a', 1);
    // Attempt 1 at 100 times out at 150; attempt 2 starts at 160.
    await checker.advance(160);
    expect(checker.calls).toHaveLength(2);
    late.resolve(); // the zombie of attempt 1 settles while attempt 2 hangs
    await checker.advance(50);
    expect(checker.calls[1]?.info.signal.aborted).toBe(true);
    await checker.advance(10);
    expect(checker.calls).toHaveLength(3);
    expect(checker.checkDrained()).toMatchObject({ delivered: 1, zombies: 1 });
    expect(buffer.stats().timedOut).toBe(2);
  });

  it('returns a thenable whose then() throws: the attempt fails at once, and its timer cannot disarm the retry', async () => {
    // Not through the checker's sink: it would turn the thenable into a promise before the buffer sees it.
    const signals: AbortSignal[] = [];
    const handled: number[][] = [];
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryDelay: 10,
      flushTimeout: 50,
      flushOnExit: false,
      handleFlush: (_key, _items, info) => {
        signals.push(info.signal);
        if (signals.length === 1) {
          return {
            // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point of the test
            then() {
              throw new Error('broken thenable');
            },
          };
        }
        if (signals.length === 2) return never();
        return undefined;
      },
      handleError: (_key, items) => {
        handled.push(items);
      },
    });
    buffer.insert('a', 1);
    await vi.advanceTimersByTimeAsync(100); // attempt 1 fails at once
    await vi.advanceTimersByTimeAsync(10); // attempt 2 starts and hangs
    expect(signals).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(50); // attempt 2 times out
    expect(signals[1]?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(10);
    expect(signals).toHaveLength(3);
    expect(handled).toEqual([]);
    expect(buffer.stats()).toMatchObject({ inserted: 1, flushed: 1, buffered: 0, timedOut: 1, retried: 2 });
  });

  it('calls insert, flush and flushAll re-entrantly (without awaiting them): every item arrives once', async () => {
    let depth = 0;
    const { checker, buffer } = setup({
      outcome: (call) => {
        if (depth++ < 3) {
          checker.insert(call.key, 2);
          checker.insert('other', 1);
          void buffer.flush(call.key);
          void buffer.flushAll();
        }
      },
    });
    checker.insert('a', 1);
    await checker.advance(100);
    await checker.advance(0);
    expect(checker.checkDrained()).toMatchObject({ inserted: 1 + 3 * 3, delivered: 10 });
  });

  it('fails for some keys only: the others keep flowing, in the same partition, while it retries', async () => {
    const { checker } = setup({
      retryMax: 1000,
      retryDelay: 30,
      outcome: (call) => {
        if (call.key === 'bad') throw new Error('bad key');
      },
    });
    for (let round = 0; round < 10; round++) {
      checker.insert('bad', 1);
      checker.insert('good', 2);
      await checker.advance(100);
      expect(checker.deliveredIds('good')).toHaveLength(2 * (round + 1));
    }
    const report = checker.check();
    expect(report.delivered).toBe(20);
    expect(report.pending).toBe(10);
    expect(checker.calls.filter((c) => c.key === 'bad').length).toBeGreaterThan(10);
  });
});

describe('fault matrix: handleError', () => {
  it('throws: the loss is reported through logger.error with the key and count, and nothing crashes', async () => {
    const { checker, buffer } = setup({
      retryMax: 1,
      outcome: () => {
        throw new Error('down');
      },
      handleError: (key, items, error, info) => {
        checker.handleError(key, items, error, info);
        throw new Error('dead-letter queue down too');
      },
    });
    checker.insert('a', 3);
    await checker.advance(100);
    expect(checker.lossReports).toEqual([{ key: 'a', count: 3 }]);
    expect(checker.logs('error')[0]?.message).toContain("lost 3 item(s) of key `'a'` (string)");
    expect(checker.checkDrained()).toMatchObject({ errored: 3 });
    expect(buffer.stats()).toMatchObject({ failed: 3, lost: 3 });
  });

  it('rejects: same as throwing', async () => {
    const { checker, buffer } = setup({
      retryMax: 1,
      outcome: () => Promise.reject(new Error('down')),
      handleError: async () => {
        throw new Error('dead-letter queue down too');
      },
    });
    checker.insert('a', 2);
    await checker.advance(100);
    expect(checker.lossReports).toEqual([{ key: 'a', count: 2 }]);
    expect(checker.checkDrained()).toMatchObject({ errored: 2 });
    expect(buffer.stats().lost).toBe(2);
  });

  it('is missing: the loss is reported through logger.error with the key, count and batchId', async () => {
    const { checker, buffer } = setup({
      retryMax: 1,
      withoutHandleError: true,
      outcome: () => {
        throw new Error('down');
      },
    });
    checker.insert('a', 2);
    checker.insert('b', 1);
    await checker.advance(100);
    expect(checker.lossReports).toEqual([
      { key: 'a', count: 2 },
      { key: 'b', count: 1 },
    ]);
    expect(checker.logs('error')[0]?.details).toMatchObject({
      key: 'a',
      count: 2,
      reason: 'retries-exhausted',
      batchId: checker.calls[0]?.info.batchId,
    });
    expect(checker.checkDrained()).toMatchObject({ errored: 3 });
    expect(buffer.stats()).toMatchObject({ failed: 3, lost: 3 });
  });

  it('is missing and the logger throws too: the loss is counted once', async () => {
    const { checker, buffer } = setup({
      retryMax: 1,
      withoutHandleError: true,
      outcome: () => {
        throw new Error('down');
      },
    });
    checker.loggerThrows = true;
    checker.insert('a', 2);
    // The checker learns of losses through the logger, which fails here: check the stats alone.
    await vi.advanceTimersByTimeAsync(100);
    expect(checker.logs('error').length).toBeGreaterThan(0);
    expect(buffer.stats()).toMatchObject({ inserted: 2, failed: 2, lost: 2, buffered: 0 });
  });

  it('hangs: it is given up after flushTimeout, the loss is logged, and the key moves on', async () => {
    let errorCalls = 0;
    const { checker, buffer } = setup({
      retryMax: 1,
      flushTimeout: 150,
      outcome: (call) => {
        if (call.ids[0] === 0) throw new Error('down');
      },
      handleError: (key, items, error, info) => {
        errorCalls++;
        checker.handleError(key, items, error, info);
        return never();
      },
    });
    checker.insert('a', 2);
    await checker.advance(100);
    checker.insert('a', 1); // due at 200, it waits behind the batch in handleError until 250
    await checker.advance(100);
    expect(checker.calls).toHaveLength(1);
    await checker.advance(50);
    expect(checker.logs('error')[0]?.message).toBe(
      "data-buffer: lost 2 item(s) of key `'a'` (string): handleError failed (retries-exhausted: down)",
    );
    expect(checker.calls).toHaveLength(2);
    expect(errorCalls).toBe(1);
    expect(checker.checkDrained()).toMatchObject({ errored: 2, delivered: 1 });
    expect(buffer.stats()).toMatchObject({ lost: 2, timedOut: 0 });
  });

  it('hangs while close({ timeout }) hands batches over: close still resolves, after at most flushTimeout more', async () => {
    const { checker, buffer } = setup({
      flushTimeout: 1000,
      outcome: () => never(),
      handleError: (key, items, error, info) => {
        checker.handleError(key, items, error, info);
        return never();
      },
    });
    checker.insert('a', 2);
    await checker.advance(100);
    let report: unknown;
    void buffer.close({ timeout: 100 }).then((r) => {
      report = r;
    });
    await checker.advance(100);
    expect(checker.report().errored).toBe(2); // handed over at the deadline
    await checker.advance(990);
    expect(report).toBeUndefined();
    await checker.advance(10);
    expect(report).toEqual({
      delivered: 0,
      failed: 2,
      abandoned: 2,
      dropped: 0,
      unwritten: 0,
      unreturned: 0,
      timedOut: true,
    });
    expect(buffer.stats().lost).toBe(2);
    checker.checkDrained();
  });

  it('is slow: its items count as handed over at once, so the law holds while it runs', async () => {
    const dlq = deferred<void>();
    const { checker, buffer } = setup({
      retryMax: 1,
      outcome: () => {
        throw new Error('down');
      },
      handleError: (key, items, error, info) => {
        checker.handleError(key, items, error, info);
        return dlq.promise;
      },
    });
    checker.insert('a', 2);
    checker.insert('b', 1);
    await checker.advance(100);
    expect(checker.report().errored).toBe(2);
    expect(buffer.stats()).toMatchObject({ failed: 2, buffered: 1 });
    dlq.resolve();
    await checker.advance(0);
    expect(checker.checkDrained()).toMatchObject({ errored: 3 });
  });
});

describe('fault matrix: callers and shutdown', () => {
  it('inserts into a key during its flush: the new items wait behind it, in order', async () => {
    const gate = deferred<void>();
    const { checker, buffer } = setup({ outcome: (call) => (call.ids[0] === 0 ? gate.promise : undefined) });
    checker.insert('a', 2);
    await checker.advance(100);
    checker.insert('a', 3);
    await checker.advance(100);
    expect(checker.calls).toHaveLength(1); // the second batch waits for the first
    expect(buffer.count('a')).toBe(5);
    gate.resolve();
    await checker.advance(0);
    expect(checker.deliveredIds('a')).toEqual([0, 1, 2, 3, 4]);
    checker.checkDrained();
  });

  it('flushes during close: both resolve once everything is delivered', async () => {
    const { checker, buffer } = setup({ outcome: () => new Promise((resolve) => setTimeout(resolve, 20)) });
    checker.insert('a', 2);
    checker.insert('b', 2);
    const closing = buffer.close();
    const flushing = buffer.flush('a');
    const flushingAll = buffer.flushAll();
    await checker.until(Promise.all([flushing, flushingAll]));
    expect(await checker.until(closing)).toEqual({
      delivered: 4,
      failed: 0,
      abandoned: 0,
      dropped: 0,
      unwritten: 0,
      unreturned: 0,
      timedOut: false,
    });
    checker.checkDrained();
  });

  it('closes during a retry wait: close waits for the retry, which delivers', async () => {
    let calls = 0;
    const { checker, buffer } = setup({
      retryDelay: 1000,
      outcome: () => {
        if (++calls === 1) throw new Error('blip');
      },
    });
    checker.insert('a', 3);
    await checker.advance(100);
    const closing = buffer.close();
    await checker.advance(999);
    expect(checker.calls).toHaveLength(1);
    expect(await checker.until(closing)).toMatchObject({ delivered: 3, failed: 0, timedOut: false });
    checker.checkDrained();
  });

  it('closes with a deadline during a retry wait: the batch goes to handleError as shutdown, with the last error', async () => {
    const blip = new Error('blip');
    const { checker, buffer } = setup({
      retryDelay: 1000,
      outcome: () => {
        throw blip;
      },
    });
    checker.insert('a', 3);
    checker.insert('b', 1);
    await checker.advance(100);
    expect(checker.calls).toHaveLength(2);
    const report = await checker.until(buffer.close({ timeout: 200 }));
    expect(report).toEqual({
      delivered: 0,
      failed: 4,
      abandoned: 4,
      dropped: 0,
      unwritten: 0,
      unreturned: 0,
      timedOut: true,
    });
    expect(checker.errors.map((e) => e.info.reason)).toEqual(['shutdown', 'shutdown']);
    const error = checker.errors[0]?.error;
    expect(error).toBeInstanceOf(ShutdownError);
    expect(error?.cause).toBe(blip);
    expect(checker.checkDrained()).toMatchObject({ errored: 4 });
  });

  it('closes with a deadline while a flush hangs: the attempt is aborted and its batch handed over', async () => {
    const { checker, buffer } = setup({ flushTimeout: Number.POSITIVE_INFINITY, outcome: () => never() });
    checker.insert('a', 2);
    await checker.advance(100);
    checker.insert('a', 1);
    const report = await checker.until(buffer.close({ timeout: 500 }));
    expect(report).toMatchObject({ failed: 3, abandoned: 3, timedOut: true });
    expect(checker.calls[0]?.info.signal.reason).toBeInstanceOf(ShutdownError);
    expect(checker.errors.map((e) => [e.ids, e.info.attempts])).toEqual([
      [[0, 1], 1],
      [[2], 0],
    ]);
    checker.checkDrained();
  });

  it('dumps while close hands batches to a slow handleError: those items are not dumped too', async () => {
    const dlq = deferred<void>();
    const { checker, buffer } = setup({
      flushTimeout: Number.POSITIVE_INFINITY,
      outcome: () => never(),
      handleError: (key, items, error, info) => {
        checker.handleError(key, items, error, info);
        return dlq.promise;
      },
    });
    checker.insert('a', 2);
    await checker.advance(100);
    checker.insert('a', 1);
    checker.insert('b', 1);
    const closing = buffer.close({ timeout: 50 });
    await checker.advance(50);
    expect(checker.report().errored).toBe(4);
    expect(checker.dump().size).toBe(0);
    checker.check();
    dlq.resolve();
    expect(await checker.until(closing)).toMatchObject({ failed: 4, abandoned: 4 });
    checker.checkDrained();
  });

  it('flush(key) waits for every batch of the key, even when dump() takes a later one first', async () => {
    const gate = deferred<void>();
    const { checker, buffer } = setup({ outcome: (call) => (call.ids[0] === 0 ? gate.promise : undefined) });
    checker.insert('a', 2);
    await checker.advance(100); // batch [0, 1] in flight
    checker.insert('a', 1);
    let flushed = false;
    void buffer.flush('a').then(() => {
      flushed = true;
    });
    await checker.advance(0); // batch [2] waits behind it
    expect(
      checker
        .dump()
        .get('a')
        ?.map((item) => item.id),
    ).toEqual([2]);
    await checker.advance(0);
    expect(flushed).toBe(false); // items 0 and 1 are still in flight
    gate.resolve();
    await checker.advance(0);
    expect(flushed).toBe(true);
    checker.checkDrained();
  });

  it('close({ timeout }) longer than a timer can wait (2^31 ms) waits instead of abandoning at once', async () => {
    const { checker, buffer } = setup({ flushTimeout: Number.POSITIVE_INFINITY, outcome: () => never() });
    checker.insert('a', 1);
    let closed = false;
    void buffer.close({ timeout: 2 ** 31 + 1000 }).then(() => {
      closed = true;
    });
    await checker.advance(1000);
    expect(closed).toBe(false);
    expect(checker.report().errored).toBe(0);
  });

  it('ready({ timeout }) longer than a timer can wait (2^31 ms) does not reject at once', async () => {
    const { checker, buffer } = setup({
      maxBuffered: 1,
      flushTimeout: Number.POSITIVE_INFINITY,
      outcome: () => never(),
    });
    checker.insert('a', 1);
    let outcome = 'waiting';
    buffer.ready({ timeout: 2 ** 31 }).then(
      () => {
        outcome = 'resolved';
      },
      () => {
        outcome = 'rejected';
      },
    );
    await checker.advance(1000);
    expect(outcome).toBe('waiting');
  });

  it('is closed twice at once: one shutdown, one report, every item delivered once', async () => {
    const { checker, buffer } = setup({ outcome: () => new Promise((resolve) => setTimeout(resolve, 20)) });
    checker.insert('a', 3);
    const first = buffer.close();
    const second = buffer.close({ timeout: 1 });
    expect(second).toBe(first);
    const [a, b] = await checker.until(Promise.all([first, second]));
    expect(a).toBe(b);
    expect(a).toMatchObject({ delivered: 3, timedOut: false });
    expect(checker.calls).toHaveLength(1);
    checker.checkDrained();
  });
});
