/**
 * A flush that runs past `flushTimeout` must not leave its statement running on the server: the sink
 * cancels it (`pg_cancel_backend`) when `info.signal` aborts. A trigger that sleeps makes the INSERT slow.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBuffer, type ErrorInfo, FlushTimeoutError } from '../../src/index.js';
import { type PostgresFlushHandler, postgresSink } from '../../src/postgres/index.js';
import { createPool, DATABASE_URL, postgresAvailable, uniqueTableName, waitUntil } from './database.js';

const available = await postgresAvailable('test/postgres/cancel.test.ts');

interface Row {
  id: number;
  /** Seconds the insert trigger sleeps for this row. */
  delay: number;
}

describe.skipIf(!available)('postgresSink cancels a timed-out statement', () => {
  const admin = createPool({ max: 2 });
  const table = uniqueTableName('cancel');
  const slowInsert = `${table}_slow`;

  beforeAll(async () => {
    await admin.query(`CREATE TABLE ${table} (id int4, delay float8)`);
    await admin.query(`CREATE FUNCTION ${slowInsert}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(NEW.delay); RETURN NEW; END $$`);
    await admin.query(
      `CREATE TRIGGER ${slowInsert} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${slowInsert}()`,
    );
  });

  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DROP FUNCTION IF EXISTS ${slowInsert}()`);
    await admin.end();
  });

  /** Statements on our table still running on the server. */
  async function runningInserts(): Promise<number> {
    const { rows } = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE state = 'active' AND pid <> pg_backend_pid() AND (query LIKE 'INSERT INTO "' || $1 || '"%' OR query LIKE 'COPY "' || $1 || '"%')`,
      [table],
    );
    return rows[0].n;
  }

  async function storedIds(): Promise<number[]> {
    const { rows } = await admin.query(`SELECT id FROM ${table} ORDER BY id`);
    return rows.map((row) => row.id);
  }

  /** A buffer that gives up on an attempt after 300 ms and does not retry. */
  function timingOutBuffer(sink: PostgresFlushHandler<string, Row>) {
    const failures: { items: Row[]; error: Error; info: ErrorInfo }[] = [];
    const buffer = new DataBuffer<string, Row>({
      flushTimeout: 300,
      retryMax: 1,
      flushOnExit: false,
      handleFlush: sink,
      handleError: (_key, items, error, info) => {
        failures.push({ items, error, info });
      },
    });
    return { buffer, failures };
  }

  it('with a pg Pool: the statement stops on the server, and the pool keeps working', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const pool = createPool({ max: 3 });
    const sink: PostgresFlushHandler<string, Row> = postgresSink({
      pool,
      table,
      columns: { id: 'int4', delay: 'float8' },
    });
    const { buffer, failures } = timingOutBuffer(sink);
    try {
      const started = Date.now();
      buffer.insert('k', { id: 1, delay: 30 });
      await buffer.flush('k');

      expect(Date.now() - started).toBeLessThan(5000);
      expect(failures).toHaveLength(1);
      expect(failures[0]?.error).toBeInstanceOf(FlushTimeoutError);
      expect(failures[0]?.items).toEqual([{ id: 1, delay: 30 }]);
      // Without the cancel, the INSERT would sleep on for 30 s.
      expect(await waitUntil(async () => (await runningInserts()) === 0, 3000)).toBe(true);
      expect(await storedIds()).toEqual([]);

      // The connection of the cancelled statement was not put back; the pool still serves new batches.
      await sink('k', [{ id: 2, delay: 0 }], { batchId: 'after' });
      expect(await storedIds()).toEqual([2]);
    } finally {
      await buffer.close();
      await pool.end();
    }
  });

  it('with a pg Client: the statement is cancelled through cancelVia', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    const sink: PostgresFlushHandler<string, Row> = postgresSink({
      pool: client,
      cancelVia: admin,
      table,
      columns: { id: 'int4', delay: 'float8' },
    });
    const { buffer, failures } = timingOutBuffer(sink);
    try {
      buffer.insert('k', { id: 1, delay: 30 });
      await buffer.flush('k');

      expect(failures[0]?.error).toBeInstanceOf(FlushTimeoutError);
      expect(await waitUntil(async () => (await runningInserts()) === 0, 3000)).toBe(true);
      // Cancelled, the client is free again for the next batch.
      await sink('k', [{ id: 3, delay: 0 }], { batchId: 'after' });
      expect(await storedIds()).toEqual([3]);
    } finally {
      await buffer.close();
      await client.end();
    }
  });

  it('does not start the statement when the flush timed out while it waited for a connection', async () => {
    await admin.query(`TRUNCATE ${table}`);
    const pool = createPool({ max: 1 });
    const sink: PostgresFlushHandler<string, Row> = postgresSink({
      pool,
      table,
      columns: { id: 'int4', delay: 'float8' },
    });
    const { buffer, failures } = timingOutBuffer(sink);
    const busy = await pool.connect(); // the pool's only connection
    try {
      buffer.insert('k', { id: 4, delay: 0 });
      await buffer.flush('k');
      expect(failures[0]?.error).toBeInstanceOf(FlushTimeoutError);

      busy.release();
      // The sink gets the connection now, after its flush failed: it must give it back unused.
      expect(await waitUntil(async () => pool.idleCount === 1, 2000)).toBe(true);
      expect(await storedIds()).toEqual([]);
    } finally {
      await buffer.close();
      await pool.end();
    }
  });
});
