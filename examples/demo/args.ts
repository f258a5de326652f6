/**
 * The demo's command line: `npm run demo -- --seconds 5 --rate 50000 --fail-rate 0.1`.
 */
import { parseArgs } from 'node:util';

/** What the demo was asked to do. */
export interface DemoArgs {
  /** How long to produce page views, in seconds (a duration: fewer views when the database cannot keep up). */
  seconds: number;
  /** Page views produced per second, at most. */
  rate: number;
  /** Distinct paths (the buffer's keys). */
  paths: number;
  /** Probability that a flush attempt fails, 0 to 1. */
  failRate: number;
  /** A PostgreSQL URL; the embedded PGlite when absent. */
  database: string | undefined;
  /**
   * A journal directory: buffered views survive kill -9, and the next start on the same directory
   * delivers them first. The embedded database is kept there too, so the count adds up across runs.
   */
  journal: string | undefined;
  /** Print the summary as one JSON object. */
  json: boolean;
  /** Draw the progress line even when standard error is not a terminal. */
  progress: boolean;
  help: boolean;
}

export const HELP = `Usage: npm run demo -- [options]

Simulates a busy web service: page views (path, user, time) go into a DataBuffer keyed by path,
which flushes them into PostgreSQL in batches, one INSERT … SELECT * FROM unnest(…) per batch.
Ends with a summary: events produced, rows stored (they must match), statements issued, latency.

Options:
  --seconds <n>     how long to produce page views, in seconds (default 10); when the
                    database cannot keep up, the full buffer slows production down and
                    fewer views than rate x seconds are produced
  --rate <n>        page views per second, at most (default 10000)
  --paths <n>       distinct paths, the buffer's keys (default 100)
  --fail-rate <p>   probability that a flush fails, 0 to 1 (default 0): retries and
                    handleError keep the stored count exact
  --database <url>  write to this PostgreSQL server instead of the embedded PGlite
                    (recreates the table data_buffer_demo_page_views, and leaves it
                    there to query)
  --journal <dir>   keep buffered views in a durable journal (data-buffer/journal) in <dir>:
                    kill the demo with kill -9, start it again with the same <dir>, and the
                    views it held are delivered first; the embedded database lives in <dir>
                    too (with --database, the table is kept), so the final count covers
                    every run
  --json            print the summary as one JSON object on standard output (everything
                    else goes to standard error); npm prints its own banner on standard
                    output, so pipe with \`npm run -s demo -- --json | jq .\`
  --progress        draw the progress line even when standard error is not a terminal
  --help            show this help

Ctrl-C stops production at once (also while it waits for room in a full buffer): the buffer
is closed gracefully and the summary still printed. A second Ctrl-C leaves without one.`;

/**
 * Parses `argv` (without the node and script paths).
 * @throws TypeError or RangeError naming the option, the value and what is allowed.
 */
export function parseDemoArgs(argv: string[]): DemoArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: 'string' },
      rate: { type: 'string' },
      paths: { type: 'string' },
      'fail-rate': { type: 'string' },
      database: { type: 'string' },
      journal: { type: 'string' },
      json: { type: 'boolean', default: false },
      progress: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const database = values.database;
  if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) {
    throw new TypeError(`Expected --database to be a postgres:// URL, got '${database}'`);
  }
  return {
    seconds: numberOption('--seconds', values.seconds, 10, { min: 0, max: 3600 }),
    rate: numberOption('--rate', values.rate, 10_000, { min: 1, max: 10_000_000 }),
    paths: numberOption('--paths', values.paths, 100, { min: 1, max: 1_000_000, integer: true }),
    failRate: numberOption('--fail-rate', values['fail-rate'], 0, { min: 0, max: 1 }),
    database,
    journal: values.journal === '' ? undefined : values.journal,
    json: values.json,
    progress: values.progress,
    help: values.help,
  };
}

function numberOption(
  name: string,
  text: string | undefined,
  fallback: number,
  rule: { min: number; max: number; integer?: boolean },
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  const kind = rule.integer ? 'an integer' : 'a number';
  if (text.trim() === '' || !Number.isFinite(value) || (rule.integer && !Number.isInteger(value))) {
    throw new TypeError(`Expected ${name} to be ${kind}, got '${text}'`);
  }
  if (value < rule.min || value > rule.max) {
    throw new RangeError(`Expected ${name} to be ${kind} from ${rule.min} to ${rule.max}, got ${value}`);
  }
  return value;
}
