/**
 * Scenario 7: `postgresSink` writing 500k rows (`path text, user text, at timestamptz`) into the local
 * PostgreSQL (`DATABASE_URL`), against a hand-written `COPY … FROM STDIN` of the same rows in 10k-row
 * chunks through pg-copy-streams, the usual way to COPY from Node. Arms, interleaved, each into an
 * emptied table (TRUNCATE outside the timing), each checked to have stored every row:
 * - the baseline: one connection, each chunk formatted as COPY text (`path\tuser\tISO date\n`, no
 *   escaping: the least work that is correct for these rows) and streamed;
 * - the sink called with the same 10k-row batches, one after the other, on a pg `Pool` (COPY, its default);
 * - the same through a `DataBuffer` (one key, `maxSize: 10_000`, otherwise default options): insert
 *   every row, then `close()`;
 * - the sink with `copy: false` (`INSERT … SELECT FROM unnest(…)`), for reference.
 * Needs the server: unreachable, it throws under `REQUIRE_SERVICES=1` (CI) and reports a skipped row
 * otherwise.
 * @module
 */
import { pipeline } from 'node:stream/promises';
import { DataBuffer } from 'data-buffer';
import { postgresSink } from 'data-buffer/postgres';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { compare } from './harness.mjs';
import { compactCount, rate, row } from './report.mjs';

export const title = '7. PostgreSQL sink';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `count` page views over 1,000 paths and 10,000 users, one millisecond apart. */
function pageViews(count) {
  const start = Date.UTC(2026, 0, 1);
  return Array.from({ length: count }, (_, i) => ({
    path: `/articles/${(i * 7919) % 1000}/comments`,
    user: `user-${(i * 104_729) % 10_000}`,
    at: new Date(start + i),
  }));
}

/** The baseline's formatting: the same text the sink sends for these rows, without its escaping checks. */
function copyText(views, from, to) {
  let text = '';
  for (let i = from; i < to; i++) {
    const view = views[i];
    text += `${view.path}\t${view.user}\t${view.at.toISOString()}\n`;
  }
  return text;
}

async function reachable() {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch (error) {
    if (process.env.REQUIRE_SERVICES === '1') {
      throw new Error(
        `${title}: PostgreSQL at ${DATABASE_URL} is required (REQUIRE_SERVICES=1): ${error.message}`,
      );
    }
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function run({ ci }) {
  const count = ci ? 2_000 : 500_000;
  const chunk = ci ? 500 : 10_000;
  const rounds = ci ? 2 : 7;
  if (!(await reachable())) {
    return [
      row({
        scenario: title,
        arm: `skipped: PostgreSQL at ${DATABASE_URL} is unreachable`,
        figure: '',
        baseline: '',
        ratio: undefined,
      }),
    ];
  }
  const table = `data_buffer_bench_${process.pid}`;
  const quoted = `"${table}"`;
  const views = pageViews(count);
  const batches = [];
  for (let from = 0; from < count; from += chunk) batches.push(views.slice(from, from + chunk));

  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP TABLE IF EXISTS ${quoted}`);
  await admin.query(`CREATE TABLE ${quoted} (path text, "user" text, at timestamptz)`);
  const copyClient = new pg.Client({ connectionString: DATABASE_URL });
  await copyClient.connect();
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const columns = { path: 'text', user: 'text', at: 'timestamptz' };
  const sink = postgresSink({ pool, table, columns });
  const insertSink = postgresSink({ pool, table, columns, copy: false });

  const emptyTable = () => admin.query(`TRUNCATE ${quoted}`);
  const stored = async () => (await admin.query(`SELECT count(*)::int AS n FROM ${quoted}`)).rows[0].n;
  const sinkArm = (name, write) => ({
    name,
    setup: emptyTable,
    run: async () => {
      for (let b = 0; b < batches.length; b++)
        await write('views', batches[b], { batchId: `b${b}`, attempt: 1 });
    },
    count: stored,
  });

  try {
    const [base, direct, buffered, unnest] = await compare({
      rounds,
      warmup: 1,
      arms: [
        {
          name: 'COPY FROM STDIN (pg-copy-streams)',
          setup: emptyTable,
          run: async () => {
            for (let from = 0; from < count; from += chunk) {
              const stream = copyClient.query(
                copyStreams.from(`COPY ${quoted} (path, "user", at) FROM STDIN`),
              );
              await pipeline(async function* () {
                yield copyText(views, from, Math.min(count, from + chunk));
              }, stream);
            }
          },
          count: stored,
        },
        sinkArm('postgresSink', sink),
        {
          name: 'DataBuffer + postgresSink',
          setup: emptyTable,
          run: async () => {
            const buffer = new DataBuffer({ maxSize: chunk, flushOnExit: false, handleFlush: sink });
            for (const view of views) buffer.insert('views', view);
            const report = await buffer.close();
            if (report.delivered !== count) throw new Error(`delivered ${report.delivered} of ${count}`);
          },
          count: stored,
        },
        sinkArm('postgresSink, copy: false', insertSink),
      ],
    });
    const n = compactCount(count);
    const baseline = `COPY FROM STDIN, ${compactCount(chunk)}-row chunks: ${rate(count, base.ms, 'rows')}`;
    return [
      {
        ...row({
          scenario: title,
          arm: `postgresSink (COPY), ${n} rows in ${compactCount(chunk)}-row batches, pg Pool`,
          figure: rate(count, direct.ms, 'rows'),
          baseline,
          ratio: direct.ratio,
          min: 0.8,
        }),
        chart: { label: 'postgresSink (x raw COPY rate)', target: 0.8 },
      },
      row({
        scenario: title,
        arm: `DataBuffer (maxSize ${compactCount(chunk)}, one key, default options) + postgresSink, insert to close()`,
        figure: rate(count, buffered.ms, 'rows'),
        baseline,
        ratio: buffered.ratio,
      }),
      row({
        scenario: title,
        arm: 'postgresSink, copy: false (INSERT … SELECT FROM unnest)',
        figure: rate(count, unnest.ms, 'rows'),
        baseline,
        ratio: unnest.ratio,
      }),
    ];
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${quoted}`);
    await Promise.all([admin.end(), copyClient.end(), pool.end()]);
  }
}
