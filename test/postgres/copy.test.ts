/**
 * The COPY path against the real server: a flush that times out mid-stream stops sending and leaves
 * nothing behind, a bad row fails the batch without retries, a lost connection is retried, and the
 * batch-id columns travel through COPY like any other.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBuffer, NonRetryableError } from '../../src/index.js';
import {
  batchIdColumn,
  batchIndexColumn,
  isRetryablePostgresError,
  type PostgresFlushHandler,
  postgresSink,
} from '../../src/postgres/index.js';
import { createPool, DATABASE_URL, postgresAvailable, uniqueTableName, waitUntil } from './database.js';

const available = await postgresAvailable('test/postgres/copy.test.ts');

interface Row {
  id: number;
  /** Seconds the insert trigger sleeps for this row. */
  delay: number;
  payload: string;
}

describe.skipIf(!available)('postgresSink through COPY', () => {
  const admin = createPool({ max: 2 });
  const table = uniqueTableName('copy');
  const slow = `${table}_slow`;

  beforeAll(async () => {
    await admin.query(
      `CREATE TABLE ${table} (id int4 PRIMARY KEY, delay float8 NOT NULL, payload text NOT NULL)`,
    );
    await admin.query(`CREATE FUNCTION ${slow}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.delay > 0 THEN PERFORM pg_sleep(NEW.delay); END IF; RETURN NEW; END $$`);
    await admin.query(
      `CREATE TRIGGER ${slow} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${slow}()`,
    );
  });

  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DROP FUNCTION IF EXISTS ${slow}()`);
    await admin.end();
  });

  const columns = { id: 'int4', delay: 'float8', payload: 'text' } as const;

  async function storedCount(): Promise<number> {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0].n;
  }

  /** The backend running a COPY into our table, once it has started. */
  async function copyingBackend(): Promise<number | undefined> {
    const { rows } = await admin.query(
      `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE 'COPY "' || $1 || '"%'`,
      [table],
    );
    return rows[0]?.pid;
  }

  /** `count` rows of about 1 KiB each; the first makes the server sleep `delay` s, so the rest queue up in the socket. */
  const rows = (count: number, delay: number, from = 0): Row[] =>
    Array.from({ length: count }, (_, i) => ({
      id: from + i,
      delay: i === 0 ? delay : 0,
      payload: 'x'.repeat(1000),
    }));

  it('runs COPY by default: the statement on the server is a COPY', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const sink: PostgresFlushHandler<string, Row> = postgresSink({ pool: client, table, columns });
      const pending = sink('k', rows(3, 0.3), { batchId: 'b' });
      expect(await waitUntil(async () => (await copyingBackend()) !== undefined, 2000)).toBe(true);
      expect(await pending).toEqual({ rows: 3, inserted: 3 });
      expect(await storedCount()).toBe(3);
    } finally {
      await client.end();
    }
  });

  it('aborted mid-stream on a Client without cancelVia: stops sending, fails the COPY itself, writes nothing', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const sink: PostgresFlushHandler<string, Row> = postgresSink({ pool: client, table, columns });
      const controller = new AbortController();
      // 30 MiB behind a row that sleeps 1 s: the socket fills up and the sink waits for it to drain.
      const pending = sink('k', rows(30_000, 1), { batchId: 'b', signal: controller.signal });
      expect(await waitUntil(async () => (await copyingBackend()) !== undefined, 2000)).toBe(true);
      controller.abort(new Error('flush timed out'));
      const error = (await pending.catch((thrown: unknown) => thrown)) as Error & { code?: string };

      // CopyFail: the server rolls the COPY back and answers query_canceled (retryable).
      expect(error.message).toMatch(/data-buffer: the flush was cancelled/);
      expect(error.code).toBe('57014');
      expect(isRetryablePostgresError(error)).toBe(true);
      expect(error).not.toBeInstanceOf(NonRetryableError);
      expect(await storedCount()).toBe(0);
      // The client is usable again.
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await sink('k', rows(2, 0, 100), { batchId: 'after' });
      expect(await storedCount()).toBe(2);
    } finally {
      await client.end();
    }
  });

  it('on a flush timeout with a Pool: cancelled on the server mid-stream, retried, delivered once', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const pool = createPool({ max: 3 });
    let attempts = 0;
    const sink: PostgresFlushHandler<string, Row> = postgresSink({ pool, table, columns });
    const buffer = new DataBuffer<string, Row>({
      flushTimeout: 500,
      retryDelay: 1,
      flushOnExit: false,
      handleFlush: (key, items, info) => {
        attempts++;
        // The first attempt sleeps 30 s on the server; the retry does not.
        return sink(key, attempts === 1 ? items : items.map((item) => ({ ...item, delay: 0 })), info);
      },
    });
    try {
      buffer.insertMany('k', rows(5_000, 30));
      const report = await buffer.close();
      expect(report).toMatchObject({ delivered: 5_000, failed: 0 });
      expect(attempts).toBe(2);
      expect(await storedCount()).toBe(5_000);
      expect(await waitUntil(async () => (await copyingBackend()) === undefined, 3000)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('a row the column type or a constraint rejects fails the batch without retries; the connection is reused', async () => {
    await admin.query(`TRUNCATE ${table}`);
    await admin.query(`INSERT INTO ${table} VALUES (7, 0, 'already there')`);
    const pool = createPool({ max: 1 });
    try {
      const sink: PostgresFlushHandler<string, Row> = postgresSink({ pool, table, columns });
      for (const [bad, code] of [
        [{ id: 7, delay: 0, payload: 'duplicate' }, '23505'],
        [{ id: 8, delay: Number.NaN, payload: 'NaN is a float8' }, undefined],
        [{ id: 9, delay: 'soon' as unknown as number, payload: 'not a number' }, '22P02'],
        [{ id: 10, delay: 0, payload: null as unknown as string }, '23502'],
      ] as const) {
        const batch = [...rows(3, 0, 100), bad];
        if (code === undefined) {
          expect(await sink('k', batch, { batchId: 'ok' })).toEqual({ rows: 4, inserted: 4 });
          await admin.query(`DELETE FROM ${table} WHERE id <> 7`);
          continue;
        }
        const error = (await sink('k', batch, { batchId: 'b' }).catch((thrown: unknown) => thrown)) as Error;
        expect(error, code).toBeInstanceOf(NonRetryableError);
        expect(error.cause).toMatchObject({ code });
        expect(await storedCount()).toBe(1);
      }
      // The pool's only connection survived every failure.
      expect(pool.totalCount).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('a row that cannot be encoded, after others were sent, fails the COPY with its own error; the connection is kept', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const pool = createPool({ max: 1 });
    try {
      const sink: PostgresFlushHandler<string, Row> = postgresSink({ pool, table, columns });
      const batch = rows(6_000, 0);
      // Rows are encoded as they are sent: row 5000 is reached once about 5 MB went to the server.
      batch[5_000] = { id: 5_000, delay: 0 } as Row;
      const before = await pool.query('SELECT pg_backend_pid() AS pid');
      const error = (await sink('k', batch, { batchId: 'b' }).catch((thrown: unknown) => thrown)) as Error;

      expect(error).toBeInstanceOf(NonRetryableError);
      expect(error.message).toMatch(
        /^Column `payload` of row 5000 of the batch of key `'k'` \(string\): the item's `payload` is undefined/,
      );
      expect(await storedCount()).toBe(0);
      const after = await pool.query('SELECT pg_backend_pid() AS pid');
      expect(after.rows[0].pid).toBe(before.rows[0].pid);
    } finally {
      await pool.end();
    }
  });

  it('a connection lost mid-COPY is retryable, and the retry delivers', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const pool = createPool({ max: 2 });
    pool.on('error', () => {}); // the terminated connection reports here too
    const errors: unknown[] = [];
    let attempts = 0;
    const sink: PostgresFlushHandler<string, Row> = postgresSink({ pool, table, columns });
    const buffer = new DataBuffer<string, Row>({
      retryDelay: 1,
      flushOnExit: false,
      handleFlush: async (key, items, info) => {
        attempts++;
        try {
          return await sink(key, attempts === 1 ? items : items.map((item) => ({ ...item, delay: 0 })), info);
        } catch (error) {
          errors.push(error);
          throw error;
        }
      },
    });
    try {
      buffer.insertMany('k', rows(1_000, 30));
      const flushed = buffer.flush('k');
      expect(await waitUntil(async () => (await copyingBackend()) !== undefined, 2000)).toBe(true);
      await admin.query('SELECT pg_terminate_backend($1)', [await copyingBackend()]);
      await flushed;
      await buffer.close();

      expect(attempts).toBe(2);
      expect(errors).toHaveLength(1);
      // pg reports the server's 57P01 (admin_shutdown) or the socket's end, whichever it reads first.
      expect((errors[0] as Error).message).toMatch(/terminat/i);
      expect(isRetryablePostgresError(errors[0])).toBe(true);
      expect(errors[0]).not.toBeInstanceOf(NonRetryableError);
      expect(await storedCount()).toBe(1_000);
    } finally {
      await pool.end();
    }
  });

  it('writes batchIdColumn and batchIndexColumn through COPY', async () => {
    const log = uniqueTableName('copylog');
    await admin.query(
      `CREATE TABLE ${log} (batch_id text, row_in_batch int4, message text, UNIQUE (batch_id, row_in_batch))`,
    );
    const pool = createPool({ max: 1 });
    try {
      const sink: PostgresFlushHandler<string, string> = postgresSink({
        pool,
        table: log,
        columns: {
          batch_id: batchIdColumn(),
          row_in_batch: batchIndexColumn(),
          message: { type: 'text', value: (message) => message },
        },
      });
      expect(await sink('app', ['started', 'ready'], { batchId: 'b-1', attempt: 1 })).toEqual({
        rows: 2,
        inserted: 2,
      });
      const { rows: stored } = await admin.query(`SELECT * FROM ${log} ORDER BY row_in_batch`);
      expect(stored).toEqual([
        { batch_id: 'b-1', row_in_batch: 0, message: 'started' },
        { batch_id: 'b-1', row_in_batch: 1, message: 'ready' },
      ]);
      // A retry of the same batch hits the unique key: non-retryable, nothing written twice.
      await expect(sink('app', ['started', 'ready'], { batchId: 'b-1', attempt: 2 })).rejects.toBeInstanceOf(
        NonRetryableError,
      );
    } finally {
      await pool.end();
      await admin.query(`DROP TABLE ${log}`);
    }
  });
});
