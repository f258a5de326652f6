/**
 * A delivery taken out before its turn (by `dump()`, by `onFull: 'drop-oldest'`, or abandoned by
 * `close`) leaves its partition's queue at once: `info()` counts what really waits, and a partition
 * whose queue was emptied that way takes in due batches again, without waiting for its running flush.
 */
import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { deferred, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/** More than a partition's backlog (1024): enough stale entries would have kept due batches out. */
const KEYS = 1100;

/** One partition whose first flush hangs until `gate` opens; every key gets a full batch of 2 items. */
function stuckPartition(options: { onFull?: 'drop-oldest'; maxBufferedBytes?: number } = {}) {
  const gate = deferred();
  const delivered: string[] = [];
  let calls = 0;
  const buffer = new DataBuffer<string, number>({
    interval: 100,
    maxSize: 2,
    maxBuffered: Number.POSITIVE_INFINITY,
    sizeOf: (value) => value,
    flushOnExit: false,
    ...options,
    handleFlush: async (key) => {
      if (++calls === 1) await gate.promise;
      delivered.push(key);
    },
  });
  for (let key = 0; key < KEYS; key++) buffer.insertMany(`k${key}`, [1, 1]);
  return { buffer, gate, delivered };
}

describe("a delivery taken out before its turn leaves its partition's queue", () => {
  it('after dump(), info() counts nothing queued, and a batch falling due is queued at once', async () => {
    const { buffer, gate, delivered } = stuckPartition();
    await vi.advanceTimersByTimeAsync(0);
    expect(buffer.info()).toEqual([
      {
        partition: 0,
        keys: KEYS,
        items: 2 * KEYS,
        inFlight: 1,
        handlingErrors: 0,
        queued: KEYS - 1,
        retrying: 0,
      },
    ]);
    expect([...buffer.dump().values()].flat()).toHaveLength(2 * (KEYS - 1));
    expect(buffer.info()).toEqual([
      { partition: 0, keys: 1, items: 2, inFlight: 1, handlingErrors: 0, queued: 0, retrying: 0 },
    ]);

    buffer.insert('late', 1);
    await vi.advanceTimersByTimeAsync(100); // its interval is over while the first flush still hangs
    expect(buffer.info()).toEqual([
      { partition: 0, keys: 2, items: 3, inFlight: 1, handlingErrors: 0, queued: 1, retrying: 0 },
    ]);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual(['k0', 'late']);
    expect(buffer.info()).toEqual([
      { partition: 0, keys: 0, items: 0, inFlight: 0, handlingErrors: 0, queued: 0, retrying: 0 },
    ]);
  });

  it('after drop-oldest evicts whole deliveries, info() counts only those left, and due batches get in', async () => {
    const { buffer, gate, delivered } = stuckPartition({ onFull: 'drop-oldest', maxBufferedBytes: 4000 });
    await vi.advanceTimersByTimeAsync(0);
    // 2,200 bytes held of 4,000: 3,000 more fit once 1,200 (600 waiting deliveries of 2 items) are dropped.
    buffer.insert('late', 3000);
    expect(buffer.count('late')).toBe(1);
    expect(buffer.stats().dropped).toBe(1200);
    expect(buffer.info()).toEqual([
      {
        partition: 0,
        keys: KEYS - 600 + 1,
        items: 2 * (KEYS - 600) + 1,
        inFlight: 1,
        handlingErrors: 0,
        queued: KEYS - 601,
        retrying: 0,
      },
    ]);

    await vi.advanceTimersByTimeAsync(100); // 'late' falls due behind the 499 still waiting
    expect(buffer.info()[0]).toMatchObject({ queued: KEYS - 600, inFlight: 1 });
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toHaveLength(KEYS - 600 + 1);
    expect(delivered.at(-1)).toBe('late');
    expect(buffer.size).toBe(0);
  });
});
