import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { deferred, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/**
 * When thousands of keys fall due while their partition is busy, only a backlog of them become
 * deliveries; the rest wait as open batches. Nothing may be lost, reordered or delivered twice.
 */
describe('many keys due at once while the partition is busy', () => {
  const KEYS = 3000;

  function stormBuffer() {
    const gate = deferred();
    const delivered = new Map<number, number[]>();
    const batches = new Map<number, number>();
    let calls = 0;
    const buffer = new DataBuffer<number, number>({
      interval: 100,
      maxBuffered: Number.POSITIVE_INFINITY,
      maxBufferedBytes: Number.POSITIVE_INFINITY,
      handleFlush: async (key, items) => {
        calls++;
        if (calls === 1) await gate.promise;
        delivered.set(key, [...(delivered.get(key) ?? []), ...items]);
        batches.set(key, (batches.get(key) ?? 0) + 1);
      },
    });
    for (let key = 0; key < KEYS; key++) buffer.insert(key, key * 10);
    return { buffer, gate, delivered, batches, calls: () => calls };
  }

  it('delivers every key exactly once, keeping what was inserted into a waiting key in its batch', async () => {
    const { buffer, gate, delivered, batches, calls } = stormBuffer();
    await vi.advanceTimersByTimeAsync(100);
    expect(calls()).toBe(1); // the first flush hangs; every other key waits
    // Only a bounded backlog became deliveries; the rest wait as open batches.
    expect(buffer.info()[0]?.queued).toBeLessThanOrEqual(1024);
    // The last keys are still waiting as open batches: a new insert joins their batch.
    buffer.insert(KEYS - 1, (KEYS - 1) * 10 + 1);
    expect(buffer.count(KEYS - 1)).toBe(2);
    expect(buffer.size).toBe(KEYS + 1);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered.size).toBe(KEYS);
    for (let key = 0; key < KEYS - 1; key++) expect(delivered.get(key)).toEqual([key * 10]);
    expect(delivered.get(KEYS - 1)).toEqual([(KEYS - 1) * 10, (KEYS - 1) * 10 + 1]);
    expect(batches.get(KEYS - 1)).toBe(1); // one batch: the late insert joined the waiting one
    expect(calls()).toBe(KEYS);
    expect(buffer.stats()).toMatchObject({ inserted: KEYS + 1, flushed: KEYS + 1, buffered: 0 });
  });

  it('dump takes the waiting batches, and they are not delivered afterwards', async () => {
    const { buffer, gate, delivered } = stormBuffer();
    await vi.advanceTimersByTimeAsync(100);
    const dumped = buffer.dump();
    gate.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    let dumpedItems = 0;
    for (const [key, items] of dumped) {
      dumpedItems += items.length;
      expect(delivered.has(key)).toBe(false);
    }
    expect(dumpedItems + [...delivered.values()].flat().length).toBe(KEYS);
    expect(dumpedItems).toBeGreaterThan(KEYS / 2);
    expect(buffer.stats()).toMatchObject({ inserted: KEYS, dumped: dumpedItems, buffered: 0 });
  });

  it('close delivers the waiting batches too', async () => {
    const { buffer, gate, delivered } = stormBuffer();
    await vi.advanceTimersByTimeAsync(100);
    const closing = buffer.close();
    gate.resolve();
    const report = await closing;
    expect(report).toMatchObject({ delivered: KEYS, failed: 0 });
    expect(delivered.size).toBe(KEYS);
  });
});

/**
 * A buffer of `partitions` partitions (numbers hash to `key % partitions`) whose first flush in each
 * partition listed in `stuck` hangs until `gate` opens; the other partitions deliver at once.
 */
function withStuckPartitions(partitions: number, stuck: readonly number[]) {
  const gate = deferred();
  const delivered: number[] = [];
  const hung = new Set<number>();
  const buffer = new DataBuffer<number, number>({
    interval: 100,
    partitions,
    maxBuffered: Number.POSITIVE_INFINITY,
    maxBufferedBytes: Number.POSITIVE_INFINITY,
    handleFlush: async (key, items) => {
      const partition = key % partitions;
      if (stuck.includes(partition) && !hung.has(partition)) {
        hung.add(partition);
        await gate.promise;
      }
      delivered.push(...items);
    },
  });
  return { buffer, gate, delivered };
}

describe('many keys due at once over two partitions, one of them stuck', () => {
  it('delivers the other partition’s keys at their interval, and the stuck one’s once it moves', async () => {
    // Partition 0's first flush hangs; more of its keys fall due than its backlog holds, interleaved
    // with partition 1's.
    const KEYS = 6000;
    const { buffer, gate, delivered } = withStuckPartitions(2, [0]);
    for (let key = 0; key < KEYS; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(100);
    const odd = delivered.filter((key) => key % 2 === 1);
    expect(odd).toHaveLength(KEYS / 2);
    expect(delivered).toHaveLength(KEYS / 2);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(new Set(delivered).size).toBe(KEYS);
    expect(delivered).toHaveLength(KEYS);
    expect(buffer.stats()).toMatchObject({ flushed: KEYS, buffered: 0 });
  });
});

describe('many keys due at once while every partition is busy', () => {
  /** Every partition's first flush hangs until `gate` opens. */
  const busyEverywhere = (partitions: number) =>
    withStuckPartitions(
      partitions,
      Array.from({ length: partitions }, (_, partition) => partition),
    );

  it('delivers every batch once the partitions move again', async () => {
    const { buffer, gate, delivered } = busyEverywhere(2);
    for (let key = 0; key < 6000; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered).toHaveLength(0);
    expect(buffer.info().map((partition) => partition.queued)).toEqual([1023, 1023]); // a backlog each, the rest still open
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered.sort((a, b) => a - b)).toEqual(Array.from({ length: 6000 }, (_, key) => key));
  });

  it('flushAll meanwhile: the batches it took are not delivered twice, and later keys expire as usual', async () => {
    const { buffer, gate, delivered } = busyEverywhere(2);
    for (let key = 0; key < 6000; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(100);
    const flushed = buffer.flushAll();
    for (let key = 10_000; key < 16_000; key++) buffer.insert(key, key);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    expect(delivered).toHaveLength(12_000);
    expect(new Set(delivered).size).toBe(12_000);
  });

  it('dump meanwhile: later keys still expire and are delivered', async () => {
    const { buffer, gate, delivered } = busyEverywhere(1);
    for (let key = 0; key < 3000; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(100);
    const dumped = [...buffer.dump().values()].flat();
    for (let key = 10_000; key < 13_000; key++) buffer.insert(key, key);
    await vi.advanceTimersByTimeAsync(100);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(delivered.filter((key) => key >= 10_000)).toHaveLength(3000);
    expect(dumped.length + delivered.length).toBe(6000);
    expect(buffer.size).toBe(0);
  });
});
