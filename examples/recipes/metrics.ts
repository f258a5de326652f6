/**
 * Recipe: watch a buffer at work. React to its events through `node:diagnostics_channel`, log its
 * `stats()` every second, and export the same figures as OpenTelemetry metrics.
 *
 *   npx tsx examples/recipes/metrics.ts
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { channelNames, DataBuffer, type ErrorMessage, type RetryMessage } from 'data-buffer';
import { instrumentDataBuffer } from 'data-buffer/opentelemetry';

interface PageView {
  path: string;
  user: string;
}

const views = new DataBuffer<string, PageView>({
  interval: 500,
  retryDelay: 200,
  retryMax: 2,
  handleFlush: async () => {
    await sleep(20); // the database write; one attempt in five fails
    if (Math.random() < 0.2) throw new Error('database busy');
  },
  handleError: () => {}, // the error channel below reports these
});

// 1. Events as they happen. Any module can subscribe; nothing is published while nobody does.
diagnosticsChannel.subscribe(channelNames.retry, (message) => {
  const { key, attempt, count, delay, error } = message as RetryMessage;
  console.warn(
    `retry: attempt ${attempt} of ${count} view(s) of ${String(key)} failed (${error.message}); next in ${delay} ms`,
  );
});
diagnosticsChannel.subscribe(channelNames.error, (message) => {
  const { key, items, reason } = message as ErrorMessage;
  console.error(`gave up on ${items.length} view(s) of ${String(key)}: ${reason}`);
});

// 2. Counters since start, and the flush latency in ms.
const statsLine = setInterval(() => {
  const { inserted, flushed, failed, buffered, retried, latency } = views.stats();
  console.log(
    `stats: ${inserted} inserted, ${flushed} flushed, ${failed} failed, ${buffered} buffered, ${retried} retried, flush p99 ${latency.p99.toFixed(1)} ms`,
  );
}, 1000);

// 3. OpenTelemetry metrics (data_buffer.items.inserted, data_buffer.flush.duration...). In an app
//    whose SDK registered a global MeterProvider, `instrumentDataBuffer(views, { name })` is enough.
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 5000 }),
  ],
});
const instrumentation = instrumentDataBuffer(views, { meterProvider, name: 'page-views' });

// Three seconds of traffic, then a clean stop.
const paths = ['/', '/pricing', '/docs'];
const traffic = setInterval(() => {
  for (let i = 0; i < 30; i++) {
    const path = paths[i % paths.length]!;
    views.insert(path, { path, user: `user-${i}` });
  }
}, 10);
await sleep(3000);
clearInterval(traffic);
await views.close();
clearInterval(statsLine);
await meterProvider.shutdown(); // exports the final figures
instrumentation.stop();
