/**
 * `npm run demo`: a busy web service's page views, buffered per path by a DataBuffer and flushed into
 * PostgreSQL (embedded PGlite by default) through `data-buffer/postgres`, one statement per batch.
 * `npm run demo -- --help` lists the options.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DataBuffer } from '../../src/index.js';
import { journal, type Serialized } from '../../src/journal/index.js';
import { type PostgresSinkResult, postgresSink, type SinkCallInfo } from '../../src/postgres/index.js';
import { type DemoArgs, HELP, parseDemoArgs } from './args.js';
import { type DemoDatabase, openDemoDatabase, pageViewTable } from './database.js';
import { type FaultCounters, withFaults } from './faults.js';
import { Ledger } from './ledger.js';
import { runRedisDemo, runRedisWorker } from './redis.js';
import { type DemoSummary, ProgressLine, progressText, summaryText } from './report.js';
import { type PageView, produceTraffic } from './traffic.js';

/** A batch that ran out of retries, kept to be written again once the buffer is closed. */
interface ParkedBatch {
  readonly path: string;
  readonly views: PageView[];
  readonly batchId: string;
}

/** Attempts to re-insert a parked batch before counting it as lost. */
const REINSERT_ATTEMPTS = 5;

async function main(): Promise<number> {
  let args: DemoArgs;
  try {
    args = parseDemoArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\nRun \`npm run demo -- --help\` for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (args.worker !== undefined) return runRedisWorker(JSON.parse(args.worker));
  if (args.redis !== undefined) {
    return runRedisDemo({
      redis: args.redis,
      workers: args.workers,
      database: args.database,
      seconds: args.seconds,
      rate: args.rate,
      paths: args.paths,
      json: args.json,
    });
  }
  let database: DemoDatabase;
  try {
    if (args.journal !== undefined) mkdirSync(args.journal, { recursive: true });
    database = await openWithProgress(args);
  } catch (error) {
    console.error(`demo: cannot open the database: ${(error as Error).message}`);
    return 1;
  }
  try {
    return await run(args, database);
  } finally {
    await database.close();
  }
}

async function run(args: DemoArgs, database: DemoDatabase): Promise<number> {
  const faults: FaultCounters = { statements: 0, failedBefore: 0, failedAfter: 0 };
  let rowsWritten = 0;
  let duplicatesSkipped = 0;
  const sink = postgresSink<string, PageView>({
    pool: database.db,
    table: database.table,
    ...pageViewTable,
  });
  const write = async (path: string, views: PageView[], info: SinkCallInfo): Promise<PostgresSinkResult> => {
    const result = await sink(path, views, info);
    const inserted = result.inserted ?? result.rows;
    rowsWritten += inserted;
    duplicatesSkipped += result.rows - inserted;
    return result;
  };

  const parked: ParkedBatch[] = [];
  const kept = args.journal === undefined ? undefined : await openJournal(args.journal, database);
  const buffer = new DataBuffer<string, PageView>({
    ...(kept === undefined ? {} : { store: kept.store }),
    interval: 1000,
    jitter: 250,
    maxSize: 1000,
    // PGlite is one connection that runs one statement at a time: more partitions would only queue.
    partitions: database.kind === 'pglite' ? 1 : 4,
    // Two attempts: enough for retries to save most failed flushes, few enough that with --fail-rate
    // some batches still run out of them, and handleError visibly saves those too.
    retryMax: 2,
    retryBackoff: 'exponential',
    retryDelay: 50,
    flushTimeout: 10_000,
    // Small enough that close() after Ctrl-C delivers what is left in about a second; a faster
    // producer than the database waits for room (backpressure), which the summary reports.
    maxBuffered: 20_000,
    handleFlush: withFaults(write, args.failRate, faults),
    // Out of retries: park the batch instead of losing it; it is written again after close().
    handleError: (path, views, _error, info) => {
      parked.push({ path, views, batchId: info.batchId });
    },
  });

  const stop = new AbortController();
  const onInterrupt = () => {
    if (stop.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    stop.abort();
  };
  process.on('SIGINT', onInterrupt);

  const progress = new ProgressLine(process.stderr, args.progress);
  const started = performance.now();
  let events = 0;
  let producedMs = -1;
  const redraw = () => {
    const elapsedMs = performance.now() - started;
    const closing = producedMs >= 0;
    progress.update(
      progressText({
        elapsedMs,
        events,
        perSecond: (events * 1000) / Math.max(1, closing ? producedMs : elapsedMs),
        closing,
        stats: buffer.stats(),
        rowsStored: rowsWritten,
      }),
    );
  };
  const ticker = setInterval(redraw, 200);
  redraw();
  // With a journal: what persisted() acknowledged goes into the ledger, so the next run can count it.
  const recoveredEvents = buffer.size;
  const firstId = kept?.ledger.nextId ?? 0;
  const earlierEvents = kept?.ledger.events ?? 0;
  let lastId = firstId - 1;
  const acknowledge = () => {
    const through = lastId;
    const count = events;
    buffer.persisted().then(
      () => kept?.ledger.acknowledged(through, earlierEvents + count),
      () => {}, // the journal failed: the buffer stopped accepting views, and says why
    );
  };
  const acknowledging = kept === undefined ? undefined : setInterval(acknowledge, 100);
  if (recoveredEvents > 0) {
    console.error(
      `demo: ${recoveredEvents} page views recovered from the journal in ${args.journal}: delivered first`,
    );
  }

  try {
    const traffic = await produceTraffic({
      rate: args.rate,
      durationMs: args.seconds * 1000,
      paths: args.paths,
      signal: stop.signal,
      firstId,
      emit: (view) => {
        kept?.ledger.reserve(view.id);
        lastId = view.id;
        events++;
        return buffer.insert(view.path, view);
      },
      whenReady: (signal) => buffer.ready({ signal }),
    });
    producedMs = traffic.elapsedMs;
    const bufferedAtClose = buffer.size;
    const closing = performance.now();
    await buffer.close();
    const closeMs = performance.now() - closing;
    clearInterval(acknowledging);
    kept?.ledger.acknowledged(lastId, earlierEvents + events);
    redraw();

    let reinsertedEvents = 0;
    for (const batch of parked) {
      if (await reinsert(batch, write, faults)) reinsertedEvents += batch.views.length;
    }
    progress.clear();

    const stats = buffer.stats();
    const rowsStored = await database.countRows();
    const total = earlierEvents + events;
    const summary: DemoSummary = {
      ...(kept === undefined ? {} : { journal: { earlierEvents, recoveredEvents, eventsThisRun: events } }),
      database: database.kind,
      seconds: args.seconds,
      producedSeconds: round(producedMs / 1000),
      rate: args.rate,
      producedPerSecond: producedMs > 0 ? Math.round((events * 1000) / producedMs) : 0,
      waitedSeconds: round(traffic.waitedMs / 1000),
      paths: args.paths,
      failRate: args.failRate,
      events: total,
      rowsStored,
      statements: faults.statements,
      statementsOnePerEvent: events,
      batches: stats.batches,
      retried: stats.retried,
      failedBatches: stats.failedBatches,
      failedEvents: stats.failed,
      reinsertedEvents,
      duplicatesSkipped,
      latencyMs: stats.latency,
      bufferedAtClose,
      closeMs: round(closeMs),
      interrupted: stop.signal.aborted,
      ok: rowsStored === total,
      checked: total > 0,
    };
    console.log(args.json ? JSON.stringify(summary) : summaryText(summary, database.label));
    if (!summary.ok) return 1;
    return summary.interrupted ? 130 : 0;
  } finally {
    clearInterval(ticker);
    clearInterval(acknowledging);
    progress.clear();
    process.off('SIGINT', onInterrupt);
    await buffer.close(); // already closed unless something above threw
  }
}

/**
 * Opens the database, keeping a line on standard error that counts the seconds while a slow step (the
 * first start of the embedded database) runs.
 */
async function openWithProgress(args: DemoArgs): Promise<DemoDatabase> {
  const line = new ProgressLine(process.stderr, args.progress);
  let step: { message: string; started: number } | undefined;
  const draw = () => {
    if (step) line.update(`${step.message}… ${((performance.now() - step.started) / 1000).toFixed(1)} s`);
  };
  const ticker = setInterval(draw, 200);
  try {
    const database = await openDemoDatabase(
      args.database,
      (message) => {
        step = { message, started: performance.now() };
        // Without a progress line, say it once: the next line comes when it is done.
        if (!line.enabled) console.error(`${message}…`);
        draw();
      },
      args.journal,
    );
    if (step) {
      line.clear();
      console.error(`${step.message}: done in ${((performance.now() - step.started) / 1000).toFixed(1)} s`);
    }
    return database;
  } finally {
    clearInterval(ticker);
    line.clear();
  }
}

/**
 * With `--journal DIR`: the ledger of views across runs, and the journal for the buffer. Views an
 * earlier run inserted but had not seen acknowledged when it died count if they survived: in the
 * journal (read once here, before the buffer opens it) or already in the table.
 */
async function openJournal(dir: string, database: DemoDatabase) {
  const ledger = new Ledger(dir);
  const journalDir = path.join(dir, 'journal');
  const options = {
    dir: journalDir,
    sync: 'process' as const,
    // A view's time is a Date: JSON would hand it back as a string.
    serialize: (view: PageView) => JSON.stringify(view),
    deserialize: (text: Serialized) => {
      const view = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString()) as PageView & {
        at: string;
      };
      return { ...view, at: new Date(view.at) };
    },
  };
  const { from, through } = ledger.uncertain;
  if (through >= from) {
    const survivors = new Set(await database.idsBetween(from, through));
    const peek = journal<string, PageView>(options);
    peek.open({ maxSize: 1000, interval: 1000, partitions: 1 });
    for (const batch of peek.recover()) {
      for (const view of batch.items) if (view.id >= from && view.id <= through) survivors.add(view.id);
    }
    await peek.close();
    ledger.resolve(survivors.size);
  }
  return { ledger, store: journal<string, PageView>(options) };
}

/** Three decimals are plenty for ms and seconds in a summary. */
function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Writes a parked batch again, with its batch id; `ON CONFLICT DO NOTHING` skips rows already stored. */
async function reinsert(
  batch: ParkedBatch,
  write: (path: string, views: PageView[], info: SinkCallInfo) => Promise<PostgresSinkResult>,
  faults: FaultCounters,
): Promise<boolean> {
  for (let attempt = 1; attempt <= REINSERT_ATTEMPTS; attempt++) {
    faults.statements++;
    try {
      await write(batch.path, batch.views, { batchId: batch.batchId, attempt });
      return true;
    } catch (error) {
      if (attempt === REINSERT_ATTEMPTS) {
        console.error(`demo: could not re-insert ${batch.views.length} views of ${batch.path}:`, error);
      }
    }
  }
  return false;
}

process.exitCode = await main();
