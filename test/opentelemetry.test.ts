import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type HistogramMetricData,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DataBuffer, type DataBufferStats } from '../src/index.js';
import { instrumentDataBuffer, MissingPeerError, metricNames } from '../src/opentelemetry/index.js';
import { requirePeer } from '../src/opentelemetry/require-peer.js';
import { deferred, silentLogger } from './helpers.js';

/** A failure with its own class, to see it as `error.type`. */
class DatabaseDown extends Error {
  override name = 'DatabaseDown';
}

/** Resolves after `ms` of (fake) time. */
function takes(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A provider whose exports land in memory; `collect()` returns the metrics of one export by name. */
function inMemoryProvider() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  const collect = async (): Promise<Map<string, MetricData>> => {
    exporter.reset();
    // The in-memory exporter reports back on a 0 ms timer: let fake time tick by 0 ms until it has.
    let flushed = false;
    const flushing = reader.forceFlush().then(() => {
      flushed = true;
    });
    while (!flushed) await vi.advanceTimersByTimeAsync(0);
    await flushing;
    const exported = exporter.getMetrics().at(-1);
    const byName = new Map<string, MetricData>();
    for (const scope of exported?.scopeMetrics ?? []) {
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  };
  return { provider, collect };
}

/** The value of a sum metric's point with exactly these attributes. */
function pointValue(metric: MetricData | undefined, attributes: object): unknown {
  const point = metric?.dataPoints.find((p) => isEqual(p.attributes, attributes));
  return point?.value;
}

function isEqual(a: object, b: object): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

const STATS_COUNTERS = [
  'inserted',
  'flushed',
  'failed',
  'dropped',
  'dumped',
  'lost',
  'batches',
  'failedBatches',
  'retried',
  'timedOut',
] as const;

/** Every stats field recorded as a metric agrees with `stats`. */
function expectMatchesStats(byName: Map<string, MetricData>, stats: DataBufferStats, attributes: object) {
  for (const field of [...STATS_COUNTERS, 'buffered', 'inFlight'] as const) {
    expect({ field, value: pointValue(byName.get(metricNames[field]), attributes) }).toEqual({
      field,
      value: stats[field],
    });
  }
}

const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('instrumentDataBuffer', () => {
  it('exports the stats as metrics that match buffer.stats() during and after a scripted run', async () => {
    const { provider, collect } = inMemoryProvider();
    const slowWrite = deferred();
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      partitions: 4,
      retryMax: 2,
      retryDelay: 10,
      maxBuffered: 10,
      onFull: 'drop-newest',
      logger: silentLogger(),
      handleError: () => {},
      handleFlush: async (key, _items, info) => {
        await takes(20);
        if (key === 'bad' || (key === 'flaky' && info.attempt === 1)) throw new DatabaseDown('down');
        if (key === 'slow') await slowWrite.promise;
      },
    });
    const instrumentation = instrumentDataBuffer(buffer, {
      meterProvider: provider,
      name: 'page-views',
      attributes: { 'service.tier': 'web' },
    });
    cleanups.push(() => instrumentation.stop());
    const attributes = { 'service.tier': 'web', 'data_buffer.name': 'page-views' };

    buffer.insertMany('ok', [1, 2, 3]);
    buffer.insertMany('flaky', [4, 5]);
    buffer.insertMany('bad', [6, 7]);
    buffer.insertMany('slow', [8, 9, 10, 11]); // 11 does not fit: dropped
    await vi.advanceTimersByTimeAsync(100 + 20);
    // Mid-run: 'slow' is in flight, 'flaky' and 'bad' wait for their retry.
    const midRun = buffer.stats();
    expect(midRun).toMatchObject({ inFlight: 3, retried: 2, flushed: 3, dropped: 1 });
    expectMatchesStats(await collect(), midRun, attributes);

    slowWrite.resolve();
    await vi.advanceTimersByTimeAsync(100);
    buffer.insert('late', 12);
    buffer.dump();
    const end = buffer.stats();
    expect(end).toMatchObject({ inserted: 12, flushed: 8, failed: 2, dropped: 1, dumped: 1, buffered: 0 });
    const byName = await collect();
    expectMatchesStats(byName, end, attributes);

    const inserted = byName.get(metricNames.inserted)!;
    expect(inserted.descriptor).toMatchObject({ unit: '{item}', description: expect.any(String) });
    expect(inserted.dataPointType).toBe(DataPointType.SUM);
    expect(inserted).toMatchObject({ isMonotonic: true });
    expect(byName.get(metricNames.buffered)).toMatchObject({
      dataPointType: DataPointType.SUM,
      isMonotonic: false,
      descriptor: { unit: '{item}' },
    });
    expect(byName.get(metricNames.batches)?.descriptor.unit).toBe('{batch}');
    expect(byName.get(metricNames.retried)?.descriptor.unit).toBe('{attempt}');

    // Flush durations: one point per outcome, in seconds.
    const durations = byName.get(metricNames.flushDuration) as HistogramMetricData;
    expect(durations.descriptor.unit).toBe('s');
    const succeeded = durations.dataPoints.find((p) => isEqual(p.attributes, attributes))!.value;
    const failed = durations.dataPoints.find((p) =>
      isEqual(p.attributes, { ...attributes, 'error.type': 'DatabaseDown' }),
    )!.value;
    expect(succeeded.count).toBe(end.batches);
    expect(succeeded.count).toBe(end.latency.count);
    // stats() keeps its latency in a histogram of 3 significant digits: agree to the half millisecond.
    expect(succeeded.sum).toBeCloseTo((end.latency.mean * end.latency.count) / 1000, 3);
    expect(succeeded.max).toBeCloseTo(end.latency.max / 1000, 3);
    expect(succeeded.min).toBeCloseTo(0.02, 6);
    // 'flaky' failed once, 'bad' twice: each failed attempt took 20 ms.
    expect(failed.count).toBe(3);
    expect(failed.sum).toBeCloseTo(0.06, 6);
  });

  it('records the failure code as error.type when the error has one, and times only its own buffer', async () => {
    const { provider, collect } = inMemoryProvider();
    const failing = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const handleFlush = async (key: string) => {
      await takes(10);
      if (key === 'refused') throw failing;
      if (key === 'odd') throw 'not an error';
    };
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 1,
      handleError: () => {},
      handleFlush,
    });
    const other = new DataBuffer<string, number>({ interval: 100, handleFlush });
    cleanups.push(instrumentDataBuffer(buffer, { meterProvider: provider }).stop);
    buffer.insert('refused', 1);
    buffer.insert('odd', 2);
    other.insert('ok', 3);
    await vi.advanceTimersByTimeAsync(100 + 30);
    const durations = (await collect()).get(metricNames.flushDuration) as HistogramMetricData;
    const byType = Object.fromEntries(
      durations.dataPoints.map((p) => [String(p.attributes['error.type']), p.value.count]),
    );
    expect(byType).toEqual({ ECONNREFUSED: 1, _OTHER: 1 });
  });

  it('tells buffers apart by name on one meter', async () => {
    const { provider, collect } = inMemoryProvider();
    const meter = provider.getMeter('app');
    const views = new DataBuffer<string, number>({ handleFlush: () => {} });
    const clicks = new DataBuffer<string, number>({ handleFlush: () => {} });
    cleanups.push(instrumentDataBuffer(views, { meter, name: 'views' }).stop);
    cleanups.push(instrumentDataBuffer(clicks, { meter, name: 'clicks' }).stop);
    views.insertMany('k', [1, 2]);
    clicks.insert('k', 3);
    const inserted = (await collect()).get(metricNames.inserted);
    expect(pointValue(inserted, { 'data_buffer.name': 'views' })).toBe(2);
    expect(pointValue(inserted, { 'data_buffer.name': 'clicks' })).toBe(1);
  });

  it('stops observing and timing on stop() or dispose, and stop() is idempotent', async () => {
    const { provider, collect } = inMemoryProvider();
    const buffer = new DataBuffer<string, number>({ interval: 100, handleFlush: () => takes(5) });
    const instrumentation = instrumentDataBuffer(buffer, { meterProvider: provider });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(105);
    const before = await collect();
    expect(pointValue(before.get(metricNames.inserted), {})).toBe(1);
    instrumentation.stop();
    instrumentation.stop();

    buffer.insertMany('k', [2, 3]);
    await vi.advanceTimersByTimeAsync(105);
    const after = await collect();
    // Cumulative streams keep their last value, but nothing new reaches them.
    expect(pointValue(after.get(metricNames.inserted), {}) ?? 1).toBe(1);
    const durations = after.get(metricNames.flushDuration) as HistogramMetricData | undefined;
    expect(durations?.dataPoints[0]?.value.count ?? 1).toBe(1);
    expect(buffer.stats().inserted).toBe(3);

    const disposed = (() => {
      using scoped = instrumentDataBuffer(buffer, { meterProvider: provider, name: 'scoped' });
      return scoped;
    })();
    expect(() => disposed.stop()).not.toThrow();
  });

  it('uses the global meter provider by default', async () => {
    const { provider, collect } = inMemoryProvider();
    metrics.setGlobalMeterProvider(provider);
    cleanups.push(() => metrics.disable());
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    cleanups.push(instrumentDataBuffer(buffer).stop);
    buffer.insert('k', 1);
    const scopes = (await collect()).get(metricNames.inserted);
    expect(pointValue(scopes, {})).toBe(1);
  });

  it('rejects invalid arguments, naming what was expected', () => {
    const { provider } = inMemoryProvider();
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {} });
    expect(() => instrumentDataBuffer({} as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: 'Expected `buffer` to be a DataBuffer, got `{}` (object)',
      }),
    );
    expect(() =>
      instrumentDataBuffer(buffer, { meter: provider.getMeter('x'), meterProvider: provider }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_VALUE',
        message: 'Expected one of `meter` and `meterProvider`, got both',
      }),
    );
    expect(() => instrumentDataBuffer(buffer, { meterProvider: {} as never })).toThrow(
      'Expected `meterProvider` to be an OpenTelemetry MeterProvider',
    );
    expect(() => instrumentDataBuffer(buffer, { meterProvider: provider, name: '' })).toThrow(
      "Expected `name` to be a non-empty string, got `''` (string)",
    );
    expect(() => instrumentDataBuffer(buffer, { meterProvider: provider, attributes: [] as never })).toThrow(
      TypeError,
    );
  });
});

describe('requirePeer', () => {
  it('loads an installed peer', () => {
    const api = requirePeer<typeof import('@opentelemetry/api')>(
      '@opentelemetry/api',
      'data-buffer/opentelemetry',
    );
    expect(typeof api.metrics.getMeterProvider).toBe('function');
  });

  it('says what to install when the peer is missing', () => {
    let thrown: unknown;
    try {
      requirePeer('@data-buffer/no-such-peer', 'data-buffer/opentelemetry');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MissingPeerError);
    expect(thrown).toMatchObject({
      name: 'MissingPeerError',
      code: 'ERR_MISSING_PEER',
      packageName: '@data-buffer/no-such-peer',
      message:
        'data-buffer/opentelemetry needs the optional peer dependency `@data-buffer/no-such-peer`, which is not installed: run `npm install @data-buffer/no-such-peer`',
    });
    expect((thrown as Error).cause).toMatchObject({ code: 'MODULE_NOT_FOUND' });
  });
});
