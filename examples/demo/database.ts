/**
 * Where the demo writes: an embedded PostgreSQL (PGlite, in memory) or a real server. Each driver is
 * imported only when chosen, so `--database` works without PGlite and the default without `pg`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import type { Queryable } from '../../src/postgres/index.js';
import type { PageView } from './traffic.js';

/** The demo's database: what the sink writes through, and what the summary reads. */
export interface DemoDatabase {
  /** What the sink and the queries run on. */
  readonly db: Queryable;
  /** The table the page views go to (already quoted where needed). */
  readonly table: string;
  /** For people: "embedded PostgreSQL (PGlite)" or the server's address. */
  readonly label: string;
  /** `'pglite'` or `'postgres'`. */
  readonly kind: 'pglite' | 'postgres';
  /** `SELECT count(*)` of the table. */
  countRows(): Promise<number>;
  /** The `event_id`s stored from `from` through `through`. */
  idsBetween(from: number, through: number): Promise<number[]>;
  close(): Promise<void>;
}

const COLUMNS = `
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id int8 NOT NULL UNIQUE,
  path text NOT NULL,
  user_id text NOT NULL,
  viewed_at timestamptz NOT NULL`;

/**
 * Opens the database and creates a fresh page-view table. `event_id` is unique, so a batch retried
 * after a commit whose acknowledgement was lost cannot store a view twice.
 * @param notice - told about slow steps, such as the first start of the embedded database.
 * @param keepIn - with `--journal`: the directory the embedded database is kept in (and a server's
 *   table is kept rather than recreated), so that the count adds up across runs.
 */
export async function openDemoDatabase(
  url: string | undefined,
  notice: (message: string) => void,
  keepIn?: string,
): Promise<DemoDatabase> {
  if (url === undefined) {
    const pglite = await openEmbeddedPostgres(
      notice,
      keepIn === undefined ? undefined : path.join(keepIn, 'pglite'),
    );
    await pglite.exec(`CREATE TABLE IF NOT EXISTS page_views (${COLUMNS})`);
    await warmUp(pglite);
    return {
      db: {
        // PGlite runs each statement on this thread, and chains them without returning to the event
        // loop: step out first, so the simulated web service keeps serving while batches are written.
        query: async (text, params) => {
          await new Promise((resolve) => setImmediate(resolve));
          return pglite.query(text, params);
        },
      },
      table: 'page_views',
      label:
        keepIn === undefined
          ? 'embedded PostgreSQL (PGlite, in memory)'
          : `embedded PostgreSQL (PGlite, in ${path.join(keepIn, 'pglite')})`,
      kind: 'pglite',
      countRows: async () => countOf(pglite, 'page_views'),
      idsBetween: (from, through) => idsBetween(pglite, 'page_views', from, through),
      close: () => pglite.close(),
    };
  }
  const { default: pg } = await import('pg');
  // Partitions + 1: a timed-out flush cancels its statement through a free connection.
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  // An idle connection that breaks is dropped by the pool; without a listener, it would crash the demo.
  pool.on('error', (error) => console.error(`demo: an idle connection failed: ${error.message}`));
  const table = 'data_buffer_demo_page_views';
  // With a journal, the runs add up: the table of the earlier runs stays.
  if (keepIn === undefined) await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (${COLUMNS})`);
  return {
    db: pool,
    table,
    label: `PostgreSQL at ${redact(url)}`,
    kind: 'postgres',
    countRows: () => countOf(pool, table),
    idsBetween: (from, through) => idsBetween(pool, table, from, through),
    close: () => pool.end(),
  };
}

/**
 * PGlite is WebAssembly: its first thousands of rows run slowly while the engine compiles its hot
 * code. Insert and drop some scratch rows first, so the demo's figures show the database warm.
 */
async function warmUp(pglite: PGlite): Promise<void> {
  await pglite.exec(`CREATE TEMP TABLE warm_up (${COLUMNS})`);
  const ids = Array.from({ length: 500 }, (_, i) => i);
  for (let round = 0; round < 20; round++) {
    await pglite.query(
      `INSERT INTO warm_up (event_id, path, user_id, viewed_at)
       SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT (event_id) DO NOTHING`,
      [
        `{${ids.map((i) => round * 500 + i).join(',')}}`,
        `{${ids.map(() => '"/warm-up"').join(',')}}`,
        `{${ids.map(() => '"user"').join(',')}}`,
        `{${ids.map(() => `"${new Date().toISOString()}"`).join(',')}}`,
      ],
    );
  }
  await pglite.exec('DROP TABLE warm_up');
}

async function countOf(db: Queryable, table: string): Promise<number> {
  const result = (await db.query(`SELECT count(*)::int AS n FROM ${table}`)) as { rows?: { n: number }[] };
  return result.rows?.[0]?.n ?? Number.NaN;
}

async function idsBetween(db: Queryable, table: string, from: number, through: number): Promise<number[]> {
  const result = (await db.query(
    `SELECT event_id::text AS id FROM ${table} WHERE event_id BETWEEN $1 AND $2`,
    [from, through],
  )) as { rows?: { id: string }[] };
  return (result.rows ?? []).map((row) => Number(row.id));
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/**
 * A fresh in-memory PGlite. Creating its cluster (initdb) takes seconds of CPU, so the first start
 * saves the new cluster as a template (`node_modules/.cache/data-buffer-demo/`, or the directory in
 * `DATA_BUFFER_DEMO_CACHE`) and later starts load that instead, in well under a second. The first
 * start creates the cluster on a worker thread: initdb holds its thread for seconds at a time, and
 * the demo's own thread keeps drawing that it is at work.
 * @param notice - told about slow steps, such as the first start of the embedded database.
 * @param dataDir - a directory to keep the database in (created from the template the first time);
 *   in memory without.
 */
export async function openEmbeddedPostgres(
  notice: (message: string) => void = () => {},
  dataDir?: string,
): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  // Kept on disk (--journal), and created by an earlier run: open it as it is.
  if (dataDir !== undefined && existsSync(path.join(dataDir, 'PG_VERSION')))
    return PGlite.create({ dataDir });
  const { template, entry } = await templatePath();
  const saved = await readFile(template).catch(() => undefined);
  if (saved !== undefined) {
    try {
      return await PGlite.create({
        ...(dataDir === undefined ? {} : { dataDir }),
        loadDataDir: new Blob([saved]),
      });
    } catch {
      // A damaged or foreign template: build a new one below.
    }
  }
  notice('Creating the embedded PostgreSQL cluster (first run only, a few seconds)');
  const created = await createClusterOnWorker(entry);
  try {
    await mkdir(path.dirname(template), { recursive: true });
    // Write then rename: a concurrent demo never loads a half-written template.
    const partial = `${template}.${process.pid}.partial`;
    await writeFile(partial, created);
    await rename(partial, template);
  } catch {
    // No cache (read-only install): every start pays initdb, nothing else changes.
  }
  return PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), loadDataDir: new Blob([created]) });
}

/** Runs initdb on a worker thread and returns the new cluster's data directory, gzipped. */
function createClusterOnWorker(pgliteEntry: string): Promise<Uint8Array> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.entry).then(async ({ PGlite }) => {
      const db = await PGlite.create();
      const dump = await db.dumpDataDir('gzip');
      await db.close();
      parentPort.postMessage(new Uint8Array(await dump.arrayBuffer()));
    });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { entry: pgliteEntry } });
    worker.once('message', (data: Uint8Array) => {
      resolve(data);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the PGlite worker exited with code ${code}`)));
  });
}

/** The template's file, named after the PGlite version it was made with, and PGlite's entry point. */
async function templatePath(): Promise<{ template: string; entry: string }> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@electric-sql/pglite'); // …/node_modules/@electric-sql/pglite/dist/index.cjs
  let cacheDir = path.join(tmpdir(), 'data-buffer-demo');
  let version = 'unknown';
  try {
    const packageDir = path.resolve(path.dirname(entry), '..');
    const manifest = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8'));
    version = String(manifest.version);
    cacheDir = path.resolve(packageDir, '..', '..', '.cache', 'data-buffer-demo');
  } catch {
    // Unusual layout: fall back to the temporary directory.
  }
  cacheDir = process.env.DATA_BUFFER_DEMO_CACHE || cacheDir;
  return { template: path.join(cacheDir, `pglite-${version}.tgz`), entry: pathToFileURL(entry).href };
}

/** What the demo table stores of a page view (the path is the buffer's key). */
type StoredView = Pick<PageView, 'id' | 'user' | 'at'>;

/**
 * How a page view fills the demo table, for `postgresSink`: its columns, and the conflict rule that
 * makes a retry harmless. A retry after a lost acknowledgement sends rows already stored: the table
 * skips them by their unique `event_id`, so the final count stays exact.
 */
export const pageViewTable = {
  columns: {
    event_id: { type: 'int8', value: (view: StoredView) => view.id },
    path: { type: 'text', value: (_view: StoredView, path: string) => path },
    user_id: { type: 'text', value: (view: StoredView) => view.user },
    viewed_at: { type: 'timestamptz', value: (view: StoredView) => view.at },
  },
  onConflict: { action: 'do-nothing', target: ['event_id'] },
} as const;
