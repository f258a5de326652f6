import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, type DataBufferStats, FlushTimeoutError } from '../src/index.js';
import { deferred, silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/** Every item offered is in exactly one place: delivered, failed, dropped, dumped, or still held. */
function expectConserved(stats: DataBufferStats, offered: number): void {
  expect(stats.flushed + stats.failed + stats.dropped + stats.dumped + stats.buffered).toBe(offered);
  expect(stats.inserted).toBe(offered);
}

/** Resolves after `ms` of (fake) time: a handler that takes that long. */
function takes(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('stats()', () => {
  it('starts at zero, with empty latency figures', () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    expect(buffer.stats()).toEqual({
      inserted: 0,
      flushed: 0,
      failed: 0,
      dropped: 0,
      dumped: 0,
      buffered: 0,
      inFlight: 0,
      batches: 0,
      failedBatches: 0,
      retried: 0,
      timedOut: 0,
      lost: 0,
      latency: { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 },
      lateAcks: 0,
      store: undefined,
    });
  });

  it('returns a frozen snapshot that later activity does not change', () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    const before = buffer.stats();
    buffer.insert('k', 1);
    expect(before.inserted).toBe(0);
    expect(Object.isFrozen(before)).toBe(true);
    expect(Object.isFrozen(before.latency)).toBe(true);
  });

  it('follows items from buffered to in flight to flushed, and counts batches', async () => {
    const write = deferred();
    const buffer = new DataBuffer<string, number>({ interval: 100, handleFlush: () => write.promise });
    buffer.insertMany('a', [1, 2]);
    buffer.insert('b', 3);
    expect(buffer.stats()).toMatchObject({ inserted: 3, buffered: 3, inFlight: 0, flushed: 0, batches: 0 });

    await vi.advanceTimersByTimeAsync(100);
    // One partition: 'a' runs, 'b' waits its turn; both are still held.
    expect(buffer.stats()).toMatchObject({ inserted: 3, buffered: 3, inFlight: 2, flushed: 0 });
    expectConserved(buffer.stats(), 3);

    write.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(buffer.stats()).toMatchObject({ inserted: 3, buffered: 0, inFlight: 0, flushed: 3, batches: 2 });
    expectConserved(buffer.stats(), 3);
  });

  it('counts retried attempts, failed items and batches, and keeps retrying items buffered', async () => {
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 3,
      retryDelay: 50,
      handleError: () => {},
      handleFlush: async (key, _items, info) => {
        if (key === 'bad' || info.attempt === 1) throw new Error('down');
      },
    });
    buffer.insertMany('bad', [1, 2]);
    buffer.insertMany('flaky', [3, 4, 5]);
    await vi.advanceTimersByTimeAsync(100);
    // Both first attempts failed and wait for a retry: held, not in flight.
    expect(buffer.stats()).toMatchObject({ retried: 2, buffered: 5, inFlight: 0, failed: 0, flushed: 0 });

    await vi.advanceTimersByTimeAsync(50);
    expect(buffer.stats()).toMatchObject({ retried: 3, flushed: 3, batches: 1, buffered: 2 });

    await vi.advanceTimersByTimeAsync(50);
    expect(buffer.stats()).toMatchObject({
      retried: 3,
      flushed: 3,
      batches: 1,
      failed: 2,
      failedBatches: 1,
      buffered: 0,
      lost: 0,
    });
    expectConserved(buffer.stats(), 5);
  });

  it('counts attempts that ran past flushTimeout', async () => {
    const handleError = vi.fn();
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      flushTimeout: 1000,
      retryMax: 2,
      retryDelay: 10,
      handleError,
      handleFlush: () => new Promise(() => {}),
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(100 + 1000 + 10 + 1000);
    expect(handleError).toHaveBeenCalledOnce();
    expect(handleError.mock.calls[0]![2]).toBeInstanceOf(FlushTimeoutError);
    expect(buffer.stats()).toMatchObject({ timedOut: 2, retried: 1, failed: 1, inFlight: 0, buffered: 0 });
  });

  it('counts dropped items under both drop policies, refused ones in inserted too', () => {
    const newest = new DataBuffer<string, number>({
      handleFlush: () => {},
      maxBuffered: 2,
      onFull: 'drop-newest',
      logger: silentLogger(),
    });
    newest.insertMany('k', [1, 2, 3, 4]);
    expect(newest.stats()).toMatchObject({ inserted: 4, dropped: 2, buffered: 2 });
    expectConserved(newest.stats(), 4);

    const oldest = new DataBuffer<string, number>({
      handleFlush: () => {},
      maxBuffered: 2,
      onFull: 'drop-oldest',
      logger: silentLogger(),
    });
    oldest.insertMany('k', [1, 2, 3, 4]);
    expect(oldest.stats()).toMatchObject({ inserted: 4, dropped: 2, buffered: 2 });
    expectConserved(oldest.stats(), 4);
  });

  it('counts dumped items', () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    buffer.insertMany('a', [1, 2]);
    buffer.insert('b', 3);
    buffer.dump();
    expect(buffer.stats()).toMatchObject({ inserted: 3, dumped: 3, buffered: 0 });
    expectConserved(buffer.stats(), 3);
  });

  it('counts items lost when handleError is missing or throws, within failed', async () => {
    const logger = silentLogger();
    const withoutHandler = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 1,
      logger,
      handleFlush: async () => {
        throw new Error('down');
      },
    });
    const throwingHandler = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 1,
      logger,
      handleError: () => {
        throw new Error('also down');
      },
      handleFlush: async () => {
        throw new Error('down');
      },
    });
    withoutHandler.insertMany('k', [1, 2]);
    throwingHandler.insertMany('k', [1, 2, 3]);
    await vi.advanceTimersByTimeAsync(100);
    expect(withoutHandler.stats()).toMatchObject({ failed: 2, lost: 2, failedBatches: 1 });
    expect(throwingHandler.stats()).toMatchObject({ failed: 3, lost: 3, failedBatches: 1 });
    expect(logger.error).toHaveBeenCalledTimes(2);
  });

  it('measures the latency of successful attempts only, in ms', async () => {
    const buffer = new DataBuffer<number, number>({
      interval: 100,
      partitions: 10,
      retryMax: 1,
      handleError: () => {},
      // Key n takes n * 10 ms; key 0 fails at once and must not count.
      handleFlush: async (key) => {
        if (key === 0) throw new Error('down');
        await takes(key * 10);
      },
    });
    for (let key = 0; key <= 10; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(100 + 300);
    const { latency } = buffer.stats();
    expect(latency.count).toBe(10);
    expect(latency.max).toBeCloseTo(100, 0);
    expect(latency.mean).toBeCloseTo(55, 0);
    expect(latency.p50).toBeCloseTo(50, 0);
    expect(latency.p90).toBeCloseTo(90, 0);
    expect(latency.p99).toBeCloseTo(100, 0);
  });

  it('accounts for every item offered (flushed + failed + dropped + dumped + buffered) over random schedules', async () => {
    type Operation =
      | { kind: 'insert'; key: number }
      | { kind: 'insertMany'; key: number; count: number }
      | { kind: 'advance'; ms: number }
      | { kind: 'dump' }
      | { kind: 'flushAll' };
    type OnFull = 'block' | 'drop-oldest' | 'drop-newest';
    const operation: fc.Arbitrary<Operation> = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), key: fc.integer({ min: 0, max: 4 }) }),
      fc.record({
        kind: fc.constant('insertMany' as const),
        key: fc.integer({ min: 0, max: 4 }),
        count: fc.integer({ min: 0, max: 8 }),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 120 }) }),
      fc.record({ kind: fc.constant('dump' as const) }),
      fc.record({ kind: fc.constant('flushAll' as const) }),
    );
    // One schedule that goes through every path counted in `seen`, run before the random ones, so
    // the coverage check below holds whatever the random runs happen to draw. Flush attempts fail
    // by the pattern, in turn: the first batch fails all three attempts (retried, then failed),
    // the next one succeeds (flushed).
    const everyPath: [Operation[], OnFull, boolean[], number] = [
      [
        { kind: 'insertMany', key: 0, count: 2 },
        { kind: 'dump' },
        { kind: 'insert', key: 1 },
        { kind: 'advance', ms: 120 },
        { kind: 'advance', ms: 120 },
        { kind: 'insert', key: 2 },
        { kind: 'advance', ms: 120 },
        { kind: 'insertMany', key: 3, count: 8 },
        { kind: 'insertMany', key: 4, count: 8 },
      ],
      'drop-newest',
      [true, true, true, false],
      Number.POSITIVE_INFINITY,
    ];
    // What the runs went through, so the property cannot pass by never reaching a path.
    const seen = { flushed: 0, failed: 0, dropped: 0, dumped: 0, retried: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { maxLength: 40 }),
        fc.constantFrom<OnFull>('block', 'drop-oldest', 'drop-newest'),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        fc.constantFrom(Number.POSITIVE_INFINITY, 0, 30),
        async (operations, onFull, failurePattern, closeTimeout) => {
          let attempts = 0;
          const buffer = new DataBuffer<number, number>({
            interval: 50,
            maxSize: 4,
            partitions: 2,
            retryMax: 2,
            retryDelay: 20,
            maxBuffered: 8,
            onFull,
            logger: silentLogger(),
            handleError: () => {},
            handleFlush: async () => {
              await takes(5);
              if (failurePattern[attempts++ % failurePattern.length]) throw new Error('random failure');
            },
          });
          let next = 0;
          for (const op of operations) {
            if (op.kind === 'insert') buffer.insert(op.key, next++);
            else if (op.kind === 'insertMany')
              buffer.insertMany(
                op.key,
                Array.from({ length: op.count }, () => next++),
              );
            else if (op.kind === 'advance') await vi.advanceTimersByTimeAsync(op.ms);
            else if (op.kind === 'dump') buffer.dump();
            else void buffer.flushAll();
            const stats = buffer.stats();
            expectConserved(stats, next);
            expect(stats.inFlight).toBeLessThanOrEqual(stats.buffered);
          }
          const closing = buffer.close({ timeout: closeTimeout });
          await vi.advanceTimersByTimeAsync(10_000);
          await closing;
          const stats = buffer.stats();
          for (const name of Object.keys(seen) as (keyof typeof seen)[]) seen[name] += stats[name];
          expect(stats.buffered).toBe(0);
          expect(stats.inFlight).toBe(0);
          expectConserved(stats, next);
        },
      ),
      { numRuns: 60, examples: [everyPath] },
    );
    for (const total of Object.values(seen)) expect(total).toBeGreaterThan(0);
  });
});
