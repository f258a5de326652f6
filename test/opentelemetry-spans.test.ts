/**
 * `data-buffer/opentelemetry` spans: one per flush attempt, recorded into the SDK's in-memory exporter.
 */
import { createRequire } from 'node:module';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { FLUSH_SPAN_NAME, flushSpanAttributes, instrumentDataBuffer } from '../src/opentelemetry/index.js';
import { deferred, silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

class DatabaseDown extends Error {
  override name = 'DatabaseDown';
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers(); // a close({ timeout: 0 }) of a hung buffer needs its timer to fire
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A tracer provider whose spans land in memory, and a buffer instrumented with it. */
function tracedBuffer<K = string>(options: ConstructorParameters<typeof DataBuffer<K, number>>[0]) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const buffer = new DataBuffer<K, number>({ logger: silentLogger(), flushOnExit: false, ...options });
  const instrumentation = instrumentDataBuffer(buffer, { tracerProvider, name: 'views' });
  cleanups.push(
    () => instrumentation.stop(),
    () => buffer.close({ timeout: 0 }),
    () => tracerProvider.shutdown(),
  );
  return { buffer, instrumentation, spans: () => exporter.getFinishedSpans() };
}

/** A span's own attributes, the flush ones by their short names. */
function flushAttributes(span: ReadableSpan) {
  const a = span.attributes;
  return {
    key: a[flushSpanAttributes.key],
    items: a[flushSpanAttributes.items],
    attempt: a[flushSpanAttributes.attempt],
    partition: a[flushSpanAttributes.partition],
    outcome: a[flushSpanAttributes.outcome],
  };
}

describe('flush spans', () => {
  it('records one root span per delivered attempt, with the batch, its key, and the scope version', async () => {
    const { buffer, spans } = tracedBuffer({ handleFlush: () => {}, partitions: 4 });
    buffer.insertMany('/home', [1, 2, 3]);

    // Flushed inside another span: the flush span still does not become its child.
    const request = trace.getTracer('test').startSpan('request');
    await context.with(trace.setSpan(context.active(), request), () => buffer.flushAll());
    request.end();

    const [span] = spans();
    expect(spans()).toHaveLength(1);
    expect(span?.name).toBe(FLUSH_SPAN_NAME);
    expect(flushAttributes(span!)).toEqual({
      key: '/home',
      items: 3,
      attempt: 1,
      partition: expect.any(Number),
      outcome: 'delivered',
    });
    expect(span?.attributes[flushSpanAttributes.batchId]).toEqual(expect.any(String));
    expect(span?.attributes['data_buffer.name']).toBe('views');
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.instrumentationScope).toMatchObject({ name: 'data-buffer', version });
  });

  it('records a failed attempt with its error, and the retry as a second span of the same batch', async () => {
    let calls = 0;
    const { buffer, spans } = tracedBuffer({
      retryDelay: 100,
      handleFlush: () => {
        calls++;
        if (calls === 1) throw new DatabaseDown('connection refused');
      },
    });
    buffer.insert('k', 1);
    const flushed = buffer.flush('k');
    await vi.advanceTimersByTimeAsync(100);
    await flushed;

    const [failed, delivered] = spans();
    expect(spans()).toHaveLength(2);
    expect(flushAttributes(failed!)).toMatchObject({ attempt: 1, outcome: 'failed' });
    expect(failed?.attributes['error.type']).toBe('DatabaseDown');
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'connection refused' });
    expect(failed?.events.map((event) => event.name)).toEqual(['exception']);
    expect(flushAttributes(delivered!)).toMatchObject({ attempt: 2, outcome: 'delivered' });
    expect(delivered?.attributes[flushSpanAttributes.batchId]).toBe(
      failed?.attributes[flushSpanAttributes.batchId],
    );
  });

  it('ends the span of an attempt that runs past flushTimeout then, not when the handler settles', async () => {
    const hung = deferred();
    let calls = 0;
    const { buffer, spans } = tracedBuffer({
      flushTimeout: 1000,
      retryDelay: 10,
      handleFlush: () => {
        calls++;
        return calls === 1 ? hung.promise : undefined;
      },
    });
    buffer.insert('k', 1);
    const flushed = buffer.flush('k');

    await vi.advanceTimersByTimeAsync(1000);
    expect(spans().map(flushAttributes)).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'timed-out' }),
    ]);
    expect(spans()[0]?.attributes['error.type']).toBe('ERR_FLUSH_TIMEOUT');

    await vi.advanceTimersByTimeAsync(10);
    await flushed;
    hung.resolve(); // the abandoned attempt settles late: no second end, no extra span
    await vi.advanceTimersByTimeAsync(0);
    expect(spans().map((span) => flushAttributes(span).outcome)).toEqual(['timed-out', 'delivered']);
  });

  it('marks an attempt abandoned by close({ timeout }) as such', async () => {
    const hung = deferred();
    const { buffer, spans } = tracedBuffer({ handleFlush: () => hung.promise });
    buffer.insert('k', 1);
    void buffer.flush('k').catch(() => {});
    await vi.advanceTimersByTimeAsync(0);

    const closed = buffer.close({ timeout: 500 });
    await vi.advanceTimersByTimeAsync(500);
    await closed;

    expect(spans().map(flushAttributes)).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'abandoned' }),
    ]);
    expect(spans()[0]?.attributes['error.type']).toBe('ERR_SHUTDOWN');
  });

  it('traces only its own buffer, renders non-string keys readably, and stops with stop()', async () => {
    const { buffer, instrumentation, spans } = tracedBuffer<object>({ handleFlush: () => {} });
    const other = new DataBuffer<string, number>({ handleFlush: () => {}, flushOnExit: false });
    other.insert('other', 1);
    await other.flushAll();
    buffer.insert({ tenant: 7 }, 1);
    await buffer.flushAll();
    expect(spans().map((span) => flushAttributes(span).key)).toEqual(['{ tenant: 7 }']);

    instrumentation.stop();
    buffer.insert({ tenant: 7 }, 2);
    await buffer.flushAll();
    expect(spans()).toHaveLength(1);
  });

  it('records no span with spans: false, and rejects a bad tracer option by name', () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, flushOnExit: false });
    const startSpan = vi.fn();
    instrumentDataBuffer(buffer, { tracer: { startSpan } as never, spans: false }).stop();
    expect(() => instrumentDataBuffer(buffer, { tracer: {} as never })).toThrow(
      'Expected `tracer` to be an OpenTelemetry Tracer, got',
    );
    expect(() => instrumentDataBuffer(buffer, { spans: 'yes' as never })).toThrow(
      'Expected `spans` to be a boolean, got',
    );
  });

  it('gives the meter scope the package version too', () => {
    const getMeter = vi.fn(() => ({
      createObservableCounter: () => ({}),
      createObservableUpDownCounter: () => ({}),
      createHistogram: () => ({ record() {} }),
      addBatchObservableCallback() {},
      removeBatchObservableCallback() {},
    }));
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, flushOnExit: false });
    instrumentDataBuffer(buffer, { meterProvider: { getMeter } as never, spans: false }).stop();
    expect(getMeter).toHaveBeenCalledWith('data-buffer', version);
  });
});
