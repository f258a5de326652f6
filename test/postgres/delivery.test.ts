/**
 * postgresSink against the real server: every batch lands exactly once, in one statement, with its
 * values intact, and `onConflict` makes a retried batch idempotent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBuffer, type FlushInfo } from '../../src/index.js';
import {
  batchIdColumn,
  batchIndexColumn,
  type PostgresFlushHandler,
  type PostgresSinkResult,
  postgresSink,
} from '../../src/postgres/index.js';
import { createPool, postgresAvailable, uniqueTableName } from './database.js';

const available = await postgresAvailable('test/postgres/delivery.test.ts');

interface View {
  id: number;
  user: string;
}

describe.skipIf(!available)('postgresSink delivers batches', () => {
  const pool = createPool({ max: 6 });
  const table = uniqueTableName('delivery');
  const schema = uniqueTableName('schema');

  beforeAll(async () => {
    await pool.query(`CREATE TABLE ${table} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id int8 NOT NULL UNIQUE,
      path text NOT NULL,
      user_id text NOT NULL
    )`);
    await pool.query(`CREATE SCHEMA ${schema}`);
  });

  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  function viewsSink(onConflict: 'error' | 'do-nothing' = 'error') {
    return postgresSink<string, View>({
      pool,
      table,
      columns: {
        event_id: { type: 'int8', value: (view) => view.id },
        path: { type: 'text', value: (_view, path) => path },
        user_id: { type: 'text', value: (view) => view.user },
      },
      onConflict,
    });
  }

  it('writes every item exactly once, one statement per batch', async () => {
    await pool.query(`TRUNCATE ${table}`);
    const sink = viewsSink();
    const results: PostgresSinkResult[] = [];
    const buffer = new DataBuffer<string, View>({
      maxSize: 50,
      partitions: 4,
      interval: 60_000,
      flushOnExit: false,
      handleFlush: async (path, views, info) => {
        results.push(await sink(path, views, info));
      },
    });
    for (let id = 0; id < 2000; id++) buffer.insert(`/page/${id % 20}`, { id, user: `u${id % 7}` });
    const report = await buffer.close();

    expect(report).toMatchObject({ delivered: 2000, failed: 0 });
    const { rows } = await pool.query(
      `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct_events,
              min(event_id)::int AS first, max(event_id)::int AS last FROM ${table}`,
    );
    expect(rows[0]).toEqual({ rows: 2000, distinct_events: 2000, first: 0, last: 1999 });
    // 20 keys × 100 items, cut at maxSize 50: 40 batches, each one statement reporting all its rows.
    expect(results).toHaveLength(40);
    expect(results.every((result) => result.rows === 50 && result.inserted === 50)).toBe(true);
    const paths = await pool.query(`SELECT path, count(*)::int AS n FROM ${table} GROUP BY path`);
    expect(paths.rows).toHaveLength(20);
    expect(paths.rows.every((row) => row.n === 100)).toBe(true);
  });

  it.each([
    ['COPY', true],
    ['INSERT … unnest', false],
  ])('round-trips every kind of value through %s', async (_, copy) => {
    const types = uniqueTableName('types');
    await pool.query(`CREATE TABLE ${types} (
      n int4, t text, b bool, f float8, big int8, at timestamptz, doc jsonb, bytes bytea, price numeric(12,2),
      d double precision, ts timestamp with time zone
    )`);
    interface Row {
      n: number;
      t: string | null;
      b?: boolean | null;
      f?: number;
      big?: bigint;
      at?: Date;
      doc?: unknown;
      bytes?: Uint8Array;
      price?: string;
    }
    const tricky = [
      'plain',
      'with "quotes" and \\backslashes\\',
      'commas, {braces}, and spaces ',
      'NULL',
      '\\N',
      '\\.',
      '',
      'ünïcødé ✓ 🚀',
      'line\nbreak\ttab\r\nwindows',
      'a literal \\n and \\t',
    ];
    const at = new Date('2024-02-29T12:34:56.789Z');
    const rows: Row[] = [
      ...tricky.map((t, n) => ({ n, t })),
      {
        n: 100,
        t: null,
        b: true,
        f: -1.5e-10,
        big: 9_007_199_254_740_993n,
        at,
        doc: { a: [1, 'two', null], 'quote"key': 'x\\y', 'tab\tkey': 'line\nbreak' },
        bytes: Buffer.from([0, 1, 9, 10, 13, 92, 254, 255]),
        price: '12345.67',
      },
      { n: 101, t: null, b: false, f: Number.POSITIVE_INFINITY, doc: [1, 2] },
    ];
    const sink: PostgresFlushHandler<string, Row> = postgresSink({
      pool,
      table: types,
      copy,
      columns: {
        n: 'int4',
        t: 'text',
        b: { type: 'bool', optional: true },
        f: { type: 'float8', optional: true },
        big: { type: 'int8', optional: true },
        at: { type: 'timestamptz', optional: true },
        doc: { type: 'jsonb', optional: true },
        bytes: { type: 'bytea', optional: true },
        price: { type: 'numeric(12,2)', optional: true },
        d: { type: 'double precision', value: (row) => row.f },
        ts: { type: 'timestamp with time zone', value: (row) => row.at },
      },
    });
    try {
      expect(await sink('k', rows, { batchId: 'b1' })).toEqual({ rows: rows.length, inserted: rows.length });
      const stored = await pool.query(
        `SELECT n, t, b, f, big::text AS big, at, doc, bytes, price::text AS price, d, ts FROM ${types} ORDER BY n`,
      );
      expect(stored.rows.slice(0, tricky.length).map((row) => row.t)).toEqual(tricky);
      expect(stored.rows[tricky.length]).toEqual({
        n: 100,
        t: null,
        b: true,
        f: -1.5e-10,
        big: '9007199254740993',
        at,
        doc: { a: [1, 'two', null], 'quote"key': 'x\\y', 'tab\tkey': 'line\nbreak' },
        bytes: Buffer.from([0, 1, 9, 10, 13, 92, 254, 255]),
        price: '12345.67',
        d: -1.5e-10,
        ts: at,
      });
      expect(stored.rows[tricky.length + 1]).toMatchObject({
        n: 101,
        t: null,
        b: false,
        f: Number.POSITIVE_INFINITY,
        big: null,
        at: null,
        doc: [1, 2],
      });
    } finally {
      await pool.query(`DROP TABLE ${types}`);
    }
  });

  it("with onConflict 'do-nothing', a retry after a lost acknowledgement writes no duplicate", async () => {
    await pool.query(`TRUNCATE ${table}`);
    const sink = viewsSink('do-nothing');
    const results: PostgresSinkResult[] = [];
    const buffer = new DataBuffer<string, View>({
      retryDelay: 1,
      flushOnExit: false,
      handleFlush: async (path, views, info) => {
        results.push(await sink(path, views, info));
        // The statement committed, but the connection dropped before the client heard of it.
        if (info.attempt === 1) throw new Error('connection lost after commit');
      },
    });
    buffer.insertMany('/a', [
      { id: 1, user: 'x' },
      { id: 2, user: 'y' },
    ]);
    await buffer.close();

    expect(results).toEqual([
      { rows: 2, inserted: 2 },
      { rows: 2, inserted: 0 },
    ]);
    const { rows } = await pool.query(`SELECT event_id::int FROM ${table} ORDER BY id`);
    expect(rows).toEqual([{ event_id: 1 }, { event_id: 2 }]);
  });

  it('without onConflict, that retry hits the unique key and goes to handleError at once', async () => {
    await pool.query(`TRUNCATE ${table}`);
    const sink = viewsSink();
    const failures: { items: View[]; error: Error; attempts: number; reason: string }[] = [];
    const buffer = new DataBuffer<string, View>({
      retryDelay: 1,
      retryMax: 5,
      flushOnExit: false,
      handleFlush: async (path, views, info) => {
        await sink(path, views, info);
        if (info.attempt === 1) throw new Error('connection lost after commit');
      },
      handleError: (_path, items, error, info) => {
        failures.push({ items, error, attempts: info.attempts, reason: info.reason });
      },
    });
    buffer.insert('/a', { id: 1, user: 'x' });
    await buffer.close();

    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      items: [{ id: 1, user: 'x' }],
      attempts: 2,
      reason: 'non-retryable',
    });
    expect(failures[0]?.error).toMatchObject({ code: 'ERR_NON_RETRYABLE', cause: { code: '23505' } });
  });

  it('makes retries idempotent with batchIdColumn + batchIndexColumn under a unique constraint', async () => {
    const log = uniqueTableName('log');
    await pool.query(
      `CREATE TABLE ${log} (id bigint GENERATED ALWAYS AS IDENTITY, batch_id text, row_in_batch int4, message text,
       UNIQUE (batch_id, row_in_batch))`,
    );
    const sink = postgresSink<string, string>({
      pool,
      table: log,
      columns: {
        batch_id: batchIdColumn(),
        row_in_batch: batchIndexColumn(),
        message: { type: 'text', value: (message) => message },
      },
      onConflict: { action: 'do-nothing', target: ['batch_id', 'row_in_batch'] },
    });
    const seen: FlushInfo[] = [];
    const buffer = new DataBuffer<string, string>({
      retryDelay: 1,
      flushOnExit: false,
      handleFlush: async (key, messages, info) => {
        seen.push(info);
        await sink(key, messages, info);
        if (info.attempt < 3) throw new Error('acknowledgement lost');
      },
    });
    try {
      buffer.insertMany('app', ['started', 'ready', 'stopped']);
      await buffer.close();
      const { rows } = await pool.query(`SELECT batch_id, row_in_batch, message FROM ${log} ORDER BY id`);
      expect(seen).toHaveLength(3);
      const batchId = seen[0]?.batchId;
      expect(rows).toEqual([
        { batch_id: batchId, row_in_batch: 0, message: 'started' },
        { batch_id: batchId, row_in_batch: 1, message: 'ready' },
        { batch_id: batchId, row_in_batch: 2, message: 'stopped' },
      ]);
    } finally {
      await pool.query(`DROP TABLE ${log}`);
    }
  });

  it("upserts with onConflict { action: 'update' }", async () => {
    const counts = uniqueTableName('counts');
    await pool.query(`CREATE TABLE ${counts} (path text PRIMARY KEY, views int8 NOT NULL, seen_by text)`);
    const sink: PostgresFlushHandler<string, { path: string; views: number; by: string }> = postgresSink({
      pool,
      table: counts,
      columns: { path: 'text', views: 'int8', seen_by: { type: 'text', value: (row) => row.by } },
      onConflict: { action: 'update', target: ['path'], set: ['views'] },
    });
    try {
      await sink('k', [{ path: '/a', views: 1, by: 'first' }], { batchId: 'b1' });
      const second = await sink(
        'k',
        [
          { path: '/a', views: 5, by: 'second' },
          { path: '/b', views: 2, by: 'second' },
        ],
        { batchId: 'b2' },
      );
      expect(second).toEqual({ rows: 2, inserted: 2 });
      const { rows } = await pool.query(`SELECT path, views::int, seen_by FROM ${counts} ORDER BY path`);
      // `set: ['views']` updates the count only: seen_by keeps the first writer.
      expect(rows).toEqual([
        { path: '/a', views: 5, seen_by: 'first' },
        { path: '/b', views: 2, seen_by: 'second' },
      ]);
    } finally {
      await pool.query(`DROP TABLE ${counts}`);
    }
  });

  it('writes into schema-qualified tables whose names need quoting', async () => {
    const name = 'Page "Views".2024';
    await pool.query(`CREATE TABLE ${schema}."Page ""Views"".2024" ("User Id" text)`);
    await pool.query(`CREATE TABLE ${schema}.plain (user_id text)`);
    const quoted = postgresSink<string, string>({
      pool,
      table: { schema, name },
      columns: { 'User Id': { type: 'text', value: (user) => user } },
    });
    const dotted = postgresSink<string, string>({
      pool,
      table: `${schema}.plain`,
      columns: { user_id: { type: 'text', value: (user) => user } },
    });
    await quoted('k', ['a', 'b'], { batchId: 'b' });
    await dotted('k', ['c'], { batchId: 'b' });
    const first = await pool.query(`SELECT "User Id" AS u FROM ${schema}."Page ""Views"".2024"`);
    const second = await pool.query(`SELECT user_id AS u FROM ${schema}.plain`);
    expect(first.rows).toEqual([{ u: 'a' }, { u: 'b' }]);
    expect(second.rows).toEqual([{ u: 'c' }]);
  });
});
