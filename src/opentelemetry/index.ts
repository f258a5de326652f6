/**
 * `data-buffer/opentelemetry`: records a buffer's {@link DataBufferStats} and flush durations as
 * OpenTelemetry metrics, and each flush attempt as a span, through `@opentelemetry/api` (an optional
 * peer dependency).
 *
 * @example
 * ```ts
 * import { instrumentDataBuffer } from 'data-buffer/opentelemetry';
 *
 * const instrumentation = instrumentDataBuffer(buffer, { name: 'page-views' });
 * // later, if the buffer goes away before the process does:
 * instrumentation.stop();
 * ```
 * @module data-buffer/opentelemetry
 */
import type * as OpenTelemetryApi from '@opentelemetry/api';
import type {
  Attributes,
  BatchObservableCallback,
  Histogram,
  Meter,
  MeterProvider,
  Observable,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import type { DataBuffer } from '../data-buffer.js';
import { describe, invalidArgType, invalidArgValue } from '../errors.js';
import type { DataBufferStats } from '../stats.js';
import { VERSION } from '../version.js';
import { timeFlushes } from './flush-timer.js';
import { requirePeer } from './require-peer.js';
import { traceFlushes } from './spans.js';

export { MissingPeerError } from './require-peer.js';
export { FLUSH_SPAN_NAME, type FlushOutcome, flushSpanAttributes } from './spans.js';

/** Options of {@link instrumentDataBuffer}. */
export interface InstrumentDataBufferOptions {
  /** The meter that creates the instruments. @default `meterProvider.getMeter('data-buffer', version)` */
  meter?: Meter;
  /** Where to get the meter when `meter` is not given. @default the global provider, `metrics.getMeterProvider()` */
  meterProvider?: MeterProvider;
  /** The tracer that records a span per flush attempt. @default `tracerProvider.getTracer('data-buffer', version)` */
  tracer?: Tracer;
  /** Where to get the tracer when `tracer` is not given. @default the global provider, `trace.getTracerProvider()` */
  tracerProvider?: TracerProvider;
  /** Record a span per flush attempt. @default true */
  spans?: boolean;
  /**
   * Recorded as the `data_buffer.name` attribute on every measurement. Give each instrumented buffer
   * its own, or their series merge.
   */
  name?: string;
  /** More attributes for every measurement. Keep their values few: each combination is a series. */
  attributes?: Attributes;
}

/** What {@link instrumentDataBuffer} returns: stop recording with `stop()` or a `using` declaration. */
export interface DataBufferInstrumentation extends Disposable {
  /** Stops observing the buffer, timing its flushes and recording spans (open ones end). Idempotent. */
  stop(): void;
}

/** The metrics recorded by {@link instrumentDataBuffer}, by the {@link DataBufferStats} field they report. */
export const metricNames = Object.freeze({
  /** Observable counter, `{item}`: {@link DataBufferStats.inserted}. */
  inserted: 'data_buffer.items.inserted',
  /** Observable counter, `{item}`: {@link DataBufferStats.flushed}. */
  flushed: 'data_buffer.items.flushed',
  /** Observable counter, `{item}`: {@link DataBufferStats.failed}. */
  failed: 'data_buffer.items.failed',
  /** Observable counter, `{item}`: {@link DataBufferStats.dropped}. */
  dropped: 'data_buffer.items.dropped',
  /** Observable counter, `{item}`: {@link DataBufferStats.dumped}. */
  dumped: 'data_buffer.items.dumped',
  /** Observable counter, `{item}`: {@link DataBufferStats.lost}. */
  lost: 'data_buffer.items.lost',
  /** Observable counter, `{batch}`: {@link DataBufferStats.batches}. */
  batches: 'data_buffer.batches.flushed',
  /** Observable counter, `{batch}`: {@link DataBufferStats.failedBatches}. */
  failedBatches: 'data_buffer.batches.failed',
  /** Observable counter, `{attempt}`: {@link DataBufferStats.retried}. */
  retried: 'data_buffer.attempts.retried',
  /** Observable counter, `{attempt}`: {@link DataBufferStats.timedOut}. */
  timedOut: 'data_buffer.attempts.timed_out',
  /** Observable up-down counter, `{item}`: {@link DataBufferStats.buffered}. */
  buffered: 'data_buffer.items.buffered',
  /** Observable up-down counter, `{item}`: {@link DataBufferStats.inFlight}. */
  inFlight: 'data_buffer.items.in_flight',
  /** Histogram, `s`: the duration of each `handleFlush` attempt; `error.type` is set on failed ones. */
  flushDuration: 'data_buffer.flush.duration',
  /** Observable counter, `By`: the store's `bytesWritten` (the journal's bytes written to segments). */
  storeBytesWritten: 'data_buffer.store.bytes_written',
  /** Observable counter, `{item}`: the store's `itemsWritten`. */
  storeItemsWritten: 'data_buffer.store.items_written',
  /** Observable counter, `{sync}`: the store's `syncs` (fdatasyncs finished). */
  storeSyncs: 'data_buffer.store.syncs',
  /** Observable counter, `{item}`: the store's `recoveredItems` (handed back at start). */
  storeRecoveredItems: 'data_buffer.store.items_recovered',
  /** Observable counter, `By`: the store's `quarantinedBytes` (bad bytes moved aside at start). */
  storeQuarantinedBytes: 'data_buffer.store.bytes_quarantined',
  /** Observable counter, `By`: the store's `truncatedBytes` (a torn tail cut off at start). */
  storeTruncatedBytes: 'data_buffer.store.bytes_truncated',
  /**
   * Observable gauge, `s`: the store's fdatasync latency; `data_buffer.quantile` is `0.5`, `0.99` or
   * `1` (the slowest).
   */
  storeSyncDuration: 'data_buffer.store.sync.duration',
});

/** The store counters reported, by the field of the store's `stats()` they read (the journal's names). */
const STORE_COUNTERS: readonly {
  field: string;
  name: keyof typeof metricNames;
  unit: string;
  description: string;
}[] = [
  { field: 'bytesWritten', name: 'storeBytesWritten', unit: 'By', description: 'Bytes the store wrote.' },
  { field: 'itemsWritten', name: 'storeItemsWritten', unit: '{item}', description: 'Items the store wrote.' },
  { field: 'syncs', name: 'storeSyncs', unit: '{sync}', description: 'fdatasyncs the store finished.' },
  {
    field: 'recoveredItems',
    name: 'storeRecoveredItems',
    unit: '{item}',
    description: 'Items an earlier run left unsettled, handed back at start.',
  },
  {
    field: 'quarantinedBytes',
    name: 'storeQuarantinedBytes',
    unit: 'By',
    description: 'Bad bytes moved aside at start.',
  },
  {
    field: 'truncatedBytes',
    name: 'storeTruncatedBytes',
    unit: 'By',
    description: 'Bytes of a torn tail cut off at start.',
  },
];

/** The sync latency fields of the store's `stats()` (ms), by the quantile they stand for. */
const STORE_SYNC_QUANTILES: readonly { field: string; quantile: number }[] = [
  { field: 'syncP50', quantile: 0.5 },
  { field: 'syncP99', quantile: 0.99 },
  { field: 'syncMax', quantile: 1 },
];

/** The instrumentation scope of the meter and tracer taken from a provider; its version is the package's. */
const SCOPE = 'data-buffer';

type Counted = Exclude<keyof DataBufferStats, 'latency' | 'buffered' | 'inFlight' | 'store'>;

/** Monotonic counters: the stats fields that only grow. */
const COUNTERS: readonly { field: Counted; unit: string; description: string }[] = [
  { field: 'inserted', unit: '{item}', description: 'Items accepted by insert and insertMany.' },
  { field: 'flushed', unit: '{item}', description: 'Items delivered: their handleFlush attempt succeeded.' },
  { field: 'failed', unit: '{item}', description: 'Items handed to handleError.' },
  { field: 'dropped', unit: '{item}', description: 'Items dropped by the onFull policy.' },
  { field: 'dumped', unit: '{item}', description: 'Items taken out by dump().' },
  {
    field: 'lost',
    unit: '{item}',
    description: 'Failed items with no handleError, or whose handleError threw.',
  },
  { field: 'batches', unit: '{batch}', description: 'Batches delivered.' },
  { field: 'failedBatches', unit: '{batch}', description: 'Batches handed to handleError.' },
  { field: 'retried', unit: '{attempt}', description: 'handleFlush attempts that failed and were retried.' },
  { field: 'timedOut', unit: '{attempt}', description: 'handleFlush attempts that ran past flushTimeout.' },
];

/** Levels that go up and down; additive across buffers and processes, hence up-down counters. */
const LEVELS: readonly { field: 'buffered' | 'inFlight'; description: string }[] = [
  { field: 'buffered', description: 'Items held now: buffered, queued, in flight or waiting for a retry.' },
  { field: 'inFlight', description: 'Items in handleFlush attempts running now.' },
];

/** The semantic conventions' default boundaries for durations in seconds (5 ms to 10 s). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Records a buffer's stats as OpenTelemetry metrics (see {@link metricNames}):
 *
 * - observable counters, read from `buffer.stats()` at each collection, for the item, batch and
 *   attempt counters (`data_buffer.items.inserted`, unit `{item}`, and so on);
 * - observable up-down counters for the items held now and in flight;
 * - the histogram `data_buffer.flush.duration` (unit `s`) of every `handleFlush` attempt, timed
 *   through the `data-buffer:flush` tracing channel, with `error.type` set on failed attempts;
 * - with a `store` that keeps counters (the journal), `data_buffer.store.*`: bytes and items written,
 *   fdatasyncs and their latency by quantile, items recovered, bytes quarantined and truncated.
 *
 * And, unless `spans: false`, one span per `handleFlush` attempt, named {@link FLUSH_SPAN_NAME},
 * with the attributes of {@link flushSpanAttributes} (key, items, batch id, attempt, partition,
 * outcome) and `error.type` and an error status on failure. Flush spans are roots: the code that
 * happened to trigger a flush is not its parent.
 *
 * Every measurement and span carries `attributes`, plus `data_buffer.name` when `name` is given. The
 * meter and tracer taken from a provider have the scope `data-buffer` with the package's version.
 *
 * @param buffer - the buffer to observe.
 * @param options - where to record and which attributes to add.
 * @returns a handle whose `stop()` (or `Symbol.dispose`) unregisters the callbacks and the channel
 * subscriptions.
 * @throws TypeError on invalid options; {@link MissingPeerError} when a meter or tracer is to come
 * from the global providers and `@opentelemetry/api` is not installed.
 */
export function instrumentDataBuffer(
  buffer: Pick<DataBuffer, 'stats'>,
  options: InstrumentDataBufferOptions = {},
): DataBufferInstrumentation {
  if (typeof (buffer as Partial<DataBuffer> | null)?.stats !== 'function') {
    throw invalidArgType(`Expected \`buffer\` to be a DataBuffer, got ${describe(buffer)}`);
  }
  const meter = resolveMeter(options);
  const tracer = resolveTracer(options);
  const attributes = resolveAttributes(options);

  const counters = COUNTERS.map(({ field, unit, description }) => ({
    field,
    instrument: meter.createObservableCounter(metricNames[field], { unit, description }),
  }));
  const levels = LEVELS.map(({ field, description }) => ({
    field,
    instrument: meter.createObservableUpDownCounter(metricNames[field], { unit: '{item}', description }),
  }));
  const storeCounters = STORE_COUNTERS.map(({ field, name, unit, description }) => ({
    field,
    instrument: meter.createObservableCounter(metricNames[name], { unit, description }),
  }));
  // Observable gauges came with @opentelemetry/api 1.x later than counters: without one, no sync latency.
  const syncDuration =
    typeof meter.createObservableGauge === 'function'
      ? meter.createObservableGauge(metricNames.storeSyncDuration, {
          unit: 's',
          description: "The store's fdatasync latency, by quantile (data_buffer.quantile).",
        })
      : undefined;
  const quantileAttributes = STORE_SYNC_QUANTILES.map(({ field, quantile }) => ({
    field,
    attributes: Object.freeze({ ...attributes, 'data_buffer.quantile': quantile }),
  }));
  const observables: Observable[] = [
    ...[...counters, ...levels, ...storeCounters].map(({ instrument }) => instrument),
    ...(syncDuration === undefined ? [] : [syncDuration]),
  ];
  // One stats() snapshot per collection, so the figures of one export agree with each other.
  const observe: BatchObservableCallback = (result) => {
    const stats = buffer.stats();
    for (const { field, instrument } of counters) result.observe(instrument, stats[field], attributes);
    for (const { field, instrument } of levels) result.observe(instrument, stats[field], attributes);
    // Only for a buffer with a store that keeps counters (the journal); fields it lacks are skipped.
    const store = stats.store;
    if (store === undefined) return;
    for (const { field, instrument } of storeCounters) {
      const value = store[field];
      if (value !== undefined) result.observe(instrument, value, attributes);
    }
    if (syncDuration === undefined || (store.syncs ?? 0) === 0) return;
    for (const { field, attributes: withQuantile } of quantileAttributes) {
      const ms = store[field];
      if (ms !== undefined) result.observe(syncDuration, ms / 1000, withQuantile);
    }
  };
  meter.addBatchObservableCallback(observe, observables);

  const durations: Histogram = meter.createHistogram(metricNames.flushDuration, {
    unit: 's',
    description: 'Duration of handleFlush attempts, from the call until the returned promise settles.',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const failedAttributes = new Map<string, Attributes>();
  const stopTiming = timeFlushes(buffer, ({ seconds, failed, error }) => {
    if (!failed) return durations.record(seconds, attributes);
    const type = errorType(error);
    let withError = failedAttributes.get(type);
    if (withError === undefined) {
      withError = Object.freeze({ ...attributes, 'error.type': type });
      failedAttributes.set(type, withError);
    }
    durations.record(seconds, withError);
  });

  const stopTracing = tracer === undefined ? () => {} : traceFlushes(buffer, tracer, attributes, errorType);

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stopTiming();
    stopTracing();
    meter.removeBatchObservableCallback(observe, observables);
  };
  return { stop, [Symbol.dispose]: stop };
}

function resolveMeter(options: InstrumentDataBufferOptions): Meter {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgType(`Expected the options to be an object, got ${describe(options)}`);
  }
  const { meter, meterProvider } = options;
  if (meter !== undefined && meterProvider !== undefined) {
    throw invalidArgValue('Expected one of `meter` and `meterProvider`, got both');
  }
  if (meter !== undefined) {
    if (typeof meter?.createObservableCounter !== 'function') {
      throw invalidArgType(`Expected \`meter\` to be an OpenTelemetry Meter, got ${describe(meter)}`);
    }
    return meter;
  }
  if (meterProvider !== undefined) {
    if (typeof meterProvider?.getMeter !== 'function') {
      throw invalidArgType(
        `Expected \`meterProvider\` to be an OpenTelemetry MeterProvider, got ${describe(meterProvider)}`,
      );
    }
    return meterProvider.getMeter(SCOPE, VERSION);
  }
  const api = requirePeer<typeof OpenTelemetryApi>('@opentelemetry/api', 'data-buffer/opentelemetry');
  return api.metrics.getMeterProvider().getMeter(SCOPE, VERSION);
}

/** The tracer for flush spans, or `undefined` with `spans: false`. */
function resolveTracer(options: InstrumentDataBufferOptions): Tracer | undefined {
  const { tracer, tracerProvider, spans = true } = options;
  if (typeof spans !== 'boolean') {
    throw new TypeError(`Expected \`spans\` to be a boolean, got ${describe(spans)}`);
  }
  if (tracer !== undefined && tracerProvider !== undefined) {
    throw new TypeError('Expected one of `tracer` and `tracerProvider`, got both');
  }
  if (tracer !== undefined && typeof tracer?.startSpan !== 'function') {
    throw new TypeError(`Expected \`tracer\` to be an OpenTelemetry Tracer, got ${describe(tracer)}`);
  }
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') {
    throw new TypeError(
      `Expected \`tracerProvider\` to be an OpenTelemetry TracerProvider, got ${describe(tracerProvider)}`,
    );
  }
  if (!spans) return undefined;
  if (tracer !== undefined) return tracer;
  if (tracerProvider !== undefined) return tracerProvider.getTracer(SCOPE, VERSION);
  const api = requirePeer<typeof OpenTelemetryApi>('@opentelemetry/api', 'data-buffer/opentelemetry');
  return api.trace.getTracerProvider().getTracer(SCOPE, VERSION);
}

function resolveAttributes(options: InstrumentDataBufferOptions): Attributes {
  const { name, attributes = {} } = options;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw invalidArgType(
      `Expected \`attributes\` to be an object of attribute values, got ${describe(attributes)}`,
    );
  }
  if (name === undefined) return Object.freeze({ ...attributes });
  if (typeof name !== 'string' || name === '') {
    throw invalidArgType(`Expected \`name\` to be a non-empty string, got ${describe(name)}`);
  }
  return Object.freeze({ ...attributes, 'data_buffer.name': name });
}

/** `error.type` as the semantic conventions define it: the error's class, or `_OTHER` for a non-error. */
function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // A stable code (`ERR_FLUSH_TIMEOUT`, a driver's error code) says more than the class name.
    return typeof code === 'string' && code !== '' ? code : error.name;
  }
  return '_OTHER';
}
