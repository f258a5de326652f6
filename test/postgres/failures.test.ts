/**
 * postgresSink when the statement fails: errors a retry cannot fix go to `handleError` after one
 * attempt, the others are retried first, and `handleError` always gets the batch intact.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBuffer, type ErrorInfo, NonRetryableError } from '../../src/index.js';
import { type PostgresFlushHandler, postgresSink } from '../../src/postgres/index.js';
import { closedPortUrl, createPool, postgresAvailable, uniqueTableName } from './database.js';

const available = await postgresAvailable('test/postgres/failures.test.ts');

interface Event {
  id: number;
  name: string | null;
}

interface Failure {
  key: string;
  items: Event[];
  error: Error;
  info: ErrorInfo;
}

describe.skipIf(!available)('postgresSink failures', () => {
  const pool = createPool({ max: 4 });
  const table = uniqueTableName('failures');

  beforeAll(async () => {
    await pool.query(`CREATE TABLE ${table} (
      id int4 PRIMARY KEY,
      name text NOT NULL CHECK (name <> 'forbidden')
    )`);
  });

  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  const columns = { id: 'int4', name: 'text' } as const;

  /** Flushes `events` under one key through `sink`, and returns every attempt and failure. */
  async function deliver(
    sink: PostgresFlushHandler<string, Event>,
    events: Event[],
    retryMax = 3,
  ): Promise<{ attempts: number; failures: Failure[] }> {
    let attempts = 0;
    const failures: Failure[] = [];
    const buffer = new DataBuffer<string, Event>({
      retryMax,
      retryDelay: 5,
      flushOnExit: false,
      handleFlush: (key, items, info) => {
        attempts++;
        return sink(key, items, info);
      },
      handleError: (key, items, error, info) => {
        failures.push({ key, items, error, info });
      },
    });
    buffer.insertMany('events', events);
    await buffer.close();
    return { attempts, failures };
  }

  async function storedIds(): Promise<number[]> {
    const { rows } = await pool.query(`SELECT id FROM ${table} ORDER BY id`);
    return rows.map((row) => row.id);
  }

  const batch = (): Event[] => [
    { id: 1, name: 'one' },
    { id: 2, name: 'two' },
  ];

  it.each([
    ['a unique violation', [{ id: 7, name: 'again' }], '23505'],
    ['a NOT NULL violation', [{ id: 10, name: null }], '23502'],
    ['a CHECK violation', [{ id: 11, name: 'forbidden' }], '23514'],
  ])('%s fails the whole batch once, without retries, items intact', async (_, extra, code) => {
    await pool.query(`TRUNCATE ${table}`);
    await pool.query(`INSERT INTO ${table} VALUES (7, 'already there')`);
    const events = [...batch(), ...extra];
    const { attempts, failures } = await deliver(postgresSink({ pool, table, columns }), events);

    expect(attempts).toBe(1);
    expect(failures).toHaveLength(1);
    const failure = failures[0] as Failure;
    expect(failure.items).toEqual(events);
    expect(failure.info).toMatchObject({ reason: 'non-retryable', attempts: 1 });
    expect(failure.error).toBeInstanceOf(NonRetryableError);
    expect(failure.error.cause).toMatchObject({ code });
    // One statement: none of the batch was written, not even its valid rows.
    expect(await storedIds()).toEqual([7]);
  });

  it('a column that does not exist is not retried', async () => {
    const sink = postgresSink<string, Event>({
      pool,
      table,
      columns: {
        id: { type: 'int4', value: (event) => event.id },
        nickname: { type: 'text', value: () => 'x' },
      },
    });
    const { attempts, failures } = await deliver(sink, batch());

    expect(attempts).toBe(1);
    expect(failures[0]?.items).toEqual(batch());
    expect(failures[0]?.error.message).toMatch(/SQLSTATE 42703.*nickname/);
  });

  it('a value the column type rejects is not retried', async () => {
    await pool.query(`TRUNCATE ${table}`);
    const sink = postgresSink<string, Event>({
      pool,
      table,
      columns: {
        id: { type: 'int4', value: (event) => (event.id === 2 ? 'two' : event.id) },
        name: { type: 'text', value: (event) => event.name },
      },
    });
    const { attempts, failures } = await deliver(sink, batch());

    expect(attempts).toBe(1);
    expect(failures[0]?.error.cause).toMatchObject({ code: '22P02' });
    expect(await storedIds()).toEqual([]);
  });

  it('a value function that throws fails the batch without retries, naming the column and row', async () => {
    const sink: PostgresFlushHandler<string, Event> = postgresSink({
      pool,
      table,
      columns: {
        id: 'int4',
        name: {
          type: 'text',
          value: (event) => {
            if (event.id === 2) throw new Error('no name for 2');
            return event.name;
          },
        },
      },
    });
    const { attempts, failures } = await deliver(sink, batch());

    expect(attempts).toBe(1);
    expect(failures[0]?.items).toEqual(batch());
    expect(failures[0]?.error.message).toBe('Column `name` of row 1 of the batch: no name for 2');
  });

  it('with classifyErrors: false, a constraint violation is retried until retryMax', async () => {
    await pool.query(`TRUNCATE ${table}`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 'taken')`);
    const sink: PostgresFlushHandler<string, Event> = postgresSink({
      pool,
      table,
      columns,
      classifyErrors: false,
    });
    const { attempts, failures } = await deliver(sink, batch(), 3);

    expect(attempts).toBe(3);
    expect(failures[0]?.info).toMatchObject({ reason: 'retries-exhausted', attempts: 3 });
    expect(failures[0]?.error).toMatchObject({ code: '23505' });
    expect(failures[0]?.items).toEqual(batch());
  });

  it('an unreachable server is retried, then the batch reaches handleError intact', async () => {
    const down = createPool({ connectionString: await closedPortUrl(), connectionTimeoutMillis: 1000 });
    try {
      const { attempts, failures } = await deliver(postgresSink({ pool: down, table, columns }), batch(), 3);

      expect(attempts).toBe(3);
      expect(failures).toHaveLength(1);
      expect(failures[0]?.info).toMatchObject({ reason: 'retries-exhausted', attempts: 3 });
      expect(failures[0]?.error).toMatchObject({ code: 'ECONNREFUSED' });
      expect(failures[0]?.items).toEqual(batch());
    } finally {
      await down.end();
    }
  });

  it('a server that comes back within the retries gets the batch', async () => {
    await pool.query(`TRUNCATE ${table}`);
    const down = createPool({ connectionString: await closedPortUrl() });
    let calls = 0;
    // The first attempt goes to a server that is down; the retry to the one that is up.
    const flaky = {
      query: (text: string, params?: unknown[]) => (++calls === 1 ? down : pool).query(text, params),
    } as pg.Pool;
    try {
      const { attempts, failures } = await deliver(postgresSink({ pool: flaky, table, columns }), batch());
      expect(attempts).toBe(2);
      expect(failures).toEqual([]);
      expect(await storedIds()).toEqual([1, 2]);
    } finally {
      await down.end();
    }
  });
});
