/**
 * What the demo shows: a live progress line while it runs (only on a terminal), then a summary, for
 * people or as one JSON object.
 */
import type { DataBufferStats, LatencyStats } from '../../src/index.js';

/** Everything the summary reports. */
export interface DemoSummary {
  /**
   * With `--journal`: views of earlier runs (acknowledged by `persisted()`, or found to have survived
   * a kill), views recovered from the journal at this start and delivered first, and this run's own.
   * `events` then counts every run.
   */
  journal?: { earlierEvents: number; recoveredEvents: number; eventsThisRun: number };
  /** `'pglite'` or `'postgres'`. */
  database: string;
  /** Seconds of production asked for. */
  seconds: number;
  /** Seconds production actually ran (less after Ctrl-C). */
  producedSeconds: number;
  /** Page views per second asked for (`--rate`), at most. */
  rate: number;
  /** Page views per second produced: less than `rate` when the buffer was full and production waited. */
  producedPerSecond: number;
  /** Of `producedSeconds`, the time production waited for room in the full buffer (backpressure). */
  waitedSeconds: number;
  paths: number;
  failRate: number;
  /** Page views produced. */
  events: number;
  /** `SELECT count(*)` of the table at the end: must equal `events`. */
  rowsStored: number;
  /** INSERT statements the demo sent to the database: batches, retries and re-inserts. */
  statements: number;
  /** Computed, not measured: one INSERT per page view would be `events` statements. */
  statementsOnePerEvent: number;
  /** Batches delivered by the buffer. */
  batches: number;
  /** Attempts that failed and were retried. */
  retried: number;
  /** Batches (and their events) that ran out of retries and reached `handleError`. */
  failedBatches: number;
  failedEvents: number;
  /** Of those events, the ones re-inserted after the buffer closed. */
  reinsertedEvents: number;
  /** Rows a retry sent again and `ON CONFLICT DO NOTHING` skipped. */
  duplicatesSkipped: number;
  /** Flush latency (successful `handleFlush` attempts), in ms. */
  latencyMs: LatencyStats;
  /** Events still buffered when production stopped, which `close()` delivered. */
  bufferedAtClose: number;
  /** How long `close()` took to deliver them, in ms. */
  closeMs: number;
  /** Whether Ctrl-C stopped production early. */
  interrupted: boolean;
  /** `rowsStored === events`. */
  ok: boolean;
  /** Whether there was anything to check: `false` when no event was produced (`--seconds 0`). */
  checked: boolean;
}

/**
 * Redraws one status line on a terminal; does nothing when the stream is not one, unless `force`
 * (`--progress`) asks for the line anyway.
 */
export class ProgressLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #enabled: boolean;
  #drawn = false;

  constructor(stream: NodeJS.WriteStream, force = false) {
    this.#stream = stream;
    this.#enabled = force || stream.isTTY === true;
  }

  /** Whether the line is drawn. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Replaces the line with `text`, cut to the terminal's width. */
  update(text: string): void {
    if (!this.#enabled) return;
    const width = this.#stream.columns > 0 ? this.#stream.columns : 100; // 0 or undefined when unknown
    this.#stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
    this.#drawn = true;
  }

  /** Erases the line, so that what follows starts clean. */
  clear(): void {
    if (!this.#enabled || !this.#drawn) return;
    this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }
}

/** What the progress line shows. */
export interface ProgressState {
  /** Since the demo started, in ms. */
  readonly elapsedMs: number;
  /** Page views produced so far. */
  readonly events: number;
  /** Production rate, views per second. */
  readonly perSecond: number;
  /** Whether production is over and the buffer is closing. */
  readonly closing: boolean;
  readonly stats: DataBufferStats;
  /** Rows the database reported as written. */
  readonly rowsStored: number;
}

/** The progress line's text: events/s, buffered items, flushes, rows stored, failures; fits 80 columns. */
export function progressText(state: ProgressState): string {
  const { stats } = state;
  return [
    `${(state.elapsedMs / 1000).toFixed(1).padStart(5)}s`,
    state.closing
      ? `closing, ${k(state.events)} events`
      : `${k(state.events)} events ${k(state.perSecond)}/s`,
    `buffered ${k(stats.buffered)}`,
    `flushes ${k(stats.batches)}`,
    `stored ${k(state.rowsStored)}`,
    `failures ${k(stats.retried + stats.failedBatches)}`,
  ].join('  ');
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** 12,345 as `12.3K`: the live line changes too fast for every digit to matter. */
function k(value: number): string {
  return compact.format(Math.round(value));
}

/** The summary for people, as lines. */
export function summaryText(summary: DemoSummary, label: string): string {
  const s = summary;
  const latency = s.latencyMs;
  const header = `data-buffer demo: ${s.producedSeconds.toFixed(1)} s of page views (asked ${n(s.rate)}/s, produced ${n(s.producedPerSecond)}/s) over ${n(s.paths)} paths, into ${label}${s.failRate > 0 ? `, fail rate ${s.failRate}` : ''}${s.interrupted ? ' (stopped early by Ctrl-C)' : ''}`;
  if (s.events === 0) {
    return ['', header, '', '  no page views were produced, so there was nothing to store or check', ''].join(
      '\n',
    );
  }
  const fewer = s.statements > 0 ? s.statementsOnePerEvent / s.statements : 0;
  const lines = [
    '',
    header,
    '',
    row(
      'events produced',
      n(s.events),
      s.waitedSeconds > 0
        ? `production waited ${s.waitedSeconds.toFixed(1)} s for room in the full buffer`
        : '',
    ),
    ...(s.journal === undefined
      ? []
      : [
          row(
            'from the journal',
            n(s.journal.recoveredEvents),
            `recovered at start and delivered first; ${n(s.journal.earlierEvents)} events by earlier runs, ${n(s.journal.eventsThisRun)} by this one`,
          ),
        ]),
    row(
      'rows in the table',
      n(s.rowsStored),
      s.ok
        ? 'SELECT count(*): every event stored, exactly once'
        : `MISMATCH: ${n(s.events - s.rowsStored)} missing`,
    ),
    row(
      'INSERT statements',
      n(s.statements),
      `one per event would be ${n(s.statementsOnePerEvent)} (computed, not run)${fewer > 0 ? `: ${fewer >= 10 ? Math.round(fewer) : fewer.toFixed(1)}× fewer` : ''}`,
    ),
    row('batches delivered', n(s.batches), `${n(s.retried)} attempt(s) failed and retried`),
  ];
  if (s.failRate > 0 || s.failedBatches > 0) {
    lines.push(
      row(
        'to handleError',
        `${n(s.failedBatches)} batch(es)`,
        `${n(s.failedEvents)} events parked, ${n(s.reinsertedEvents)} re-inserted after close`,
      ),
      row(
        'duplicates skipped',
        n(s.duplicatesSkipped),
        'retries after a lost acknowledgement (ON CONFLICT DO NOTHING)',
      ),
    );
  }
  lines.push(
    row(
      'flush latency',
      `p50 ${ms(latency.p50)}`,
      `p90 ${ms(latency.p90)}  p99 ${ms(latency.p99)}  max ${ms(latency.max)}  mean ${ms(latency.mean)}  (${n(latency.count)} flushes)`,
    ),
    row('close()', ms(s.closeMs), `to deliver the ${n(s.bufferedAtClose)} events still buffered`),
    '',
  );
  return lines.join('\n');
}

function row(label: string, value: string, note = ''): string {
  return `  ${label.padEnd(20)}${value.padStart(12)}   ${note}`.trimEnd();
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}
