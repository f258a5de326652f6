/**
 * The journal through `DataBuffer` (`store: journal(...)`), on the fake file system: inserts are
 * admitted, recovery runs at construction, items dropped from a taken batch stay dropped after a crash,
 * and the journal's counters show in `stats().store`.
 */
import { describe, expect, it } from 'vitest';
import { DataBuffer, DataBufferError } from '../../src/index.js';
import { JournalError, journal } from '../../src/journal/index.js';
import { deferred, silentLogger } from '../helpers.js';
import { FakeFs } from './fake-fs.js';

function journalOn(fs: FakeFs) {
  return journal<string, number>({ dir: '/journal', fs });
}

describe('the buffer with a journal', () => {
  it('refuses, at insert, a key or value the journal cannot keep, naming it, and stores nothing', async () => {
    const buffer = new DataBuffer<unknown, unknown>({
      handleFlush: () => {},
      store: journal<unknown, unknown>({ dir: '/journal', fs: new FakeFs() }),
    });
    expect(() => buffer.insert(Symbol('page'), 1)).toThrow(
      expect.objectContaining({
        code: 'ERR_JOURNAL_UNSERIALIZABLE',
        message: expect.stringContaining('Symbol(page)'),
      }),
    );
    expect(() => buffer.insertMany('a', [1, 2n, 3])).toThrow(
      expect.objectContaining({ code: 'ERR_JOURNAL_UNSERIALIZABLE', message: expect.stringContaining('2n') }),
    );
    expect(buffer.size).toBe(0);
    expect(buffer.insert('a', { fine: true })).toBe(true);
    expect(buffer.size).toBe(1);
    buffer.dump();
    await buffer.close();
  });

  it('hands back, after a kill, what was persisted and not settled: first, with the batch ids of taken batches', async () => {
    let fs = new FakeFs();
    const gate = deferred();
    const first = new DataBuffer<string, number>({
      handleFlush: () => gate.promise, // never settles before the kill
      store: journalOn(fs),
      maxSize: 2,
      interval: 60_000,
    });
    first.insertMany('a', [1, 2]); // full: taken and delivered (in flight at the kill)
    first.insert('b', 3); // still open
    await first.persisted();
    await new Promise((resolve) => setImmediate(resolve));
    fs = fs.kill();

    const delivered: Array<[string, number[], string]> = [];
    const second = new DataBuffer<string, number>({
      handleFlush: (key, items, { batchId }) => {
        delivered.push([key, [...items], batchId]);
      },
      store: journalOn(fs),
      interval: 60_000,
    });
    // Recovery is synchronous, at construction: the recovered items are held before the first insert.
    expect(second.size).toBe(3);
    expect(second.stats().store).toMatchObject({ recoveredItems: 3 });
    second.insert('b', 4);
    await second.close();
    const firstBatchId = delivered[0]?.[2];
    expect(delivered).toEqual([
      ['a', [1, 2], firstBatchId],
      ['b', [3, 4], expect.any(String)],
    ]);
    expect(firstBatchId).toMatch(/-\d+$/);
    // Everything settled: a third run finds nothing.
    const third = new DataBuffer<string, number>({ handleFlush: () => {}, store: journalOn(fs) });
    expect(third.size).toBe(0);
    await third.close();
  });

  it("keeps items dropped from a taken, unstarted batch (onFull: 'drop-oldest') dropped after a kill", async () => {
    let fs = new FakeFs();
    const gate = deferred();
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => gate.promise,
      store: journalOn(fs),
      maxSize: 3,
      maxBuffered: 6,
      onFull: 'drop-oldest',
      interval: 60_000,
    });
    buffer.insertMany('a', [1, 2, 3]); // taken, delivered: in flight
    await buffer.persisted();
    await new Promise((resolve) => setImmediate(resolve));
    buffer.insertMany('b', [4, 5, 6]); // taken, waiting behind it in the one partition
    buffer.insertMany('c', [7, 8]); // the buffer is full: 4 and 5 go, 6 stays in its batch
    expect(buffer.stats().dropped).toBe(2);
    await buffer.persisted();
    await new Promise((resolve) => setImmediate(resolve));
    fs = fs.kill();

    const delivered: Array<[string, number[]]> = [];
    const after = new DataBuffer<string, number>({
      handleFlush: (key, items) => {
        delivered.push([key, [...items]]);
      },
      store: journalOn(fs),
      logger: silentLogger(),
    });
    await after.close();
    expect(delivered).toEqual([
      ['a', [1, 2, 3]],
      ['b', [6]],
      ['c', [7, 8]],
    ]);
  });

  it('reports the journal’s counters in stats().store, and its errors are DataBufferErrors', async () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, store: journalOn(new FakeFs()) });
    buffer.insert('a', 1);
    await buffer.persisted();
    expect(buffer.stats().store).toMatchObject({ itemsWritten: 1, bytesWritten: expect.any(Number) });
    expect(new DataBuffer({ handleFlush: () => {} }).stats().store).toBeUndefined();
    await buffer.close();
    const error = new JournalError('ERR_JOURNAL_LOCKED', 'locked');
    expect(error).toBeInstanceOf(DataBufferError);
    expect(error).toBeInstanceOf(JournalError);
    expect(error.name).toBe('JournalError');
  });
});

describe('the journal in the OpenTelemetry bridge', () => {
  it('reports bytes and items written, syncs and their latency, and recovered items as data_buffer.store.*', async () => {
    const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
    const { instrumentDataBuffer, metricNames } = await import('../../src/opentelemetry/index.js');
    class Reader extends MetricReader {
      protected override onForceFlush(): Promise<void> {
        return Promise.resolve();
      }
      protected override onShutdown(): Promise<void> {
        return Promise.resolve();
      }
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      store: journal<string, number>({ dir: '/journal', fs: new FakeFs(), sync: 'always' }),
    });
    const instrumentation = instrumentDataBuffer(buffer, { meter: provider.getMeter('test'), spans: false });
    buffer.insertMany('a', [1, 2, 3]);
    await buffer.persisted();
    const { resourceMetrics } = await reader.collect();
    const byName = new Map(
      resourceMetrics.scopeMetrics.flatMap((scope) =>
        scope.metrics.map((m) => [m.descriptor.name, m] as const),
      ),
    );
    const value = (name: string) => byName.get(name)?.dataPoints[0]?.value;
    expect(value(metricNames.storeItemsWritten)).toBe(3);
    expect(value(metricNames.storeBytesWritten)).toBeGreaterThan(0);
    expect(value(metricNames.storeSyncs)).toBeGreaterThan(0);
    expect(value(metricNames.storeRecoveredItems)).toBe(0);
    expect(value(metricNames.storeQuarantinedBytes)).toBe(0);
    expect(byName.get(metricNames.storeSyncDuration)?.dataPoints.length).toBe(3);
    instrumentation.stop();
    buffer.dump();
    await buffer.close();
    await provider.shutdown();
  });
});
