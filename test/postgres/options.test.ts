/**
 * postgresSink's options and the statement it builds, without a database: misuse throws at once with
 * a message that names the option; identifiers are quoted; values only travel as parameters.
 */
import { describe, expect, it } from 'vitest';
import {
  isRetryablePostgresError,
  type PostgresFlushHandler,
  postgresSink,
  type Queryable,
  quoteIdentifier,
  sqlState,
} from '../../src/postgres/index.js';

/** A database that records what it is asked to run. */
function recorder() {
  const calls: { text: string; params: unknown[] }[] = [];
  const db: Queryable = {
    query: async (text, params = []) => {
      calls.push({ text, params });
      return { rowCount: 0 };
    },
  };
  return { db, calls };
}

describe('postgresSink options', () => {
  const { db } = recorder();
  const columns = { name: 'text' };

  it.each([
    [{ table: 't', columns }, /Expected `pool` to have a query\(text, params\) method.*got `undefined`/],
    [{ pool: {}, table: 't', columns }, /Expected `pool` to have a query/],
    [{ pool: db, table: '', columns }, /Expected `table` to be 'name' or 'schema.name', got `''`/],
    [{ pool: db, table: 'a.b.c', columns }, /pass \{ schema, name \}/],
    [{ pool: db, table: 42, columns }, /Expected `table` to be a string.*got `42` \(number\)/],
    [{ pool: db, table: 't', columns: {} }, /at least one column/],
    [
      { pool: db, table: 't', columns: { a: 'text; DROP TABLE x' } },
      /Column `a`: expected `type` to be a PostgreSQL type name/,
    ],
    [{ pool: db, table: 't', columns: { a: 'text[]' } }, /array types .* cannot be inserted through unnest/],
    [
      { pool: db, table: 't', columns: { a: { type: 'text', value: 'a' } } },
      /Column `a`: expected `value` to be a function \(item, key, row\) => unknown, got `'a'` \(string\)/,
    ],
    [
      { pool: db, table: 't', columns: { a: 42 } },
      /Column `a`: expected \{ type, value: .*, \{ type, optional\? \}/,
    ],
    [
      { pool: db, table: 't', columns: { a: { type: 'text', optional: 'yes' } } },
      /Column `a`: expected `optional` to be a boolean, got `'yes'` \(string\)/,
    ],
    [
      { pool: db, table: 't', columns: { a: { type: 'text', value: () => 1, optional: true } } },
      /Column `a`: `optional` applies to columns read from the item's property/,
    ],
    [
      { pool: db, table: 't', columns, copy: 'yes' },
      /Expected `copy` to be a boolean, got `'yes'` \(string\)/,
    ],
    [
      { pool: db, table: 't', columns, onConflict: 'ignore' },
      /Expected `onConflict` to be 'error', 'do-nothing'/,
    ],
    [
      { pool: db, table: 't', columns, onConflict: { action: 'update', target: [] } },
      /`onConflict.target` to be a non-empty array/,
    ],
    [
      { pool: db, table: 't', columns, onConflict: { action: 'update', target: ['name'] } },
      /no column to update/,
    ],
    [
      { pool: db, table: 't', columns, onConflict: { action: 'update', target: ['id'], set: ['age'] } },
      /`onConflict.set` names `'age'` \(string\), which is not one of the inserted columns \(name\)/,
    ],
    [{ pool: db, table: 't', columns, classifyErrors: 'yes' }, /Expected `classifyErrors` to be a boolean/],
    [
      { pool: db, table: 't', columns, batchSize: 10 },
      /Unknown option `batchSize` of postgresSink; the options are: pool, table/,
    ],
  ])('refuses %o', (options, message) => {
    expect(() => postgresSink(options as never)).toThrow(message);
  });

  it.each([
    [null, 'ERR_INVALID_ARG_TYPE'],
    [{ pool: db, table: 't', columns, batchSize: 10 }, 'ERR_INVALID_ARG_VALUE'],
    [{ pool: {}, table: 't', columns }, 'ERR_INVALID_ARG_TYPE'],
    [{ pool: db, table: 42, columns }, 'ERR_INVALID_ARG_TYPE'],
    [{ pool: db, table: 'a.b.c', columns }, 'ERR_INVALID_ARG_VALUE'],
    [{ pool: db, table: { name: '' }, columns }, 'ERR_INVALID_ARG_VALUE'],
    [{ pool: db, table: 't', columns: { a: 'text[]' } }, 'ERR_INVALID_ARG_VALUE'],
    [{ pool: db, table: 't', columns: { a: 'text; DROP TABLE x' } }, 'ERR_INVALID_ARG_VALUE'],
    [{ pool: db, table: 't', columns, copy: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    [{ pool: db, table: 't', columns, classifyErrors: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ pool: db, table: 't', columns, onConflict: 'ignore' }, 'ERR_INVALID_ARG_VALUE'],
    [{ pool: db, table: 't', columns, onConflict: 7 }, 'ERR_INVALID_ARG_TYPE'],
    [{ pool: db, table: 't', columns, onConflict: { action: 'merge' } }, 'ERR_INVALID_ARG_VALUE'],
    [
      { pool: db, table: 't', columns, onConflict: { action: 'update', target: [] } },
      'ERR_INVALID_ARG_VALUE',
    ],
    [
      { pool: db, table: 't', columns, onConflict: { action: 'update', target: 'id' } },
      'ERR_INVALID_ARG_TYPE',
    ],
    [
      { pool: db, table: 't', columns, onConflict: { action: 'update', target: ['name'] } },
      'ERR_INVALID_ARG_VALUE',
    ],
  ])('gives the misuse %o a Node-style code (%s)', (options, code) => {
    expect(() => postgresSink(options as never)).toThrow(expect.objectContaining({ code }));
  });
});

describe('the statement', () => {
  it('is one INSERT … SELECT * FROM unnest with one array parameter per column, whatever the batch size', async () => {
    const { db, calls } = recorder();
    const sink: PostgresFlushHandler<string, { n: number }> = postgresSink({
      pool: db,
      table: { schema: 'My Schema', name: 'odd"name' },
      columns: {
        path: { type: 'text', value: (_item, key) => key },
        n: 'int8',
        'amount (€)': { type: 'numeric(12, 2)', value: (item) => item.n / 100 },
        at: { type: 'timestamp with time zone', value: () => null },
      },
      onConflict: { action: 'update', target: ['path', 'n'] },
    });
    await sink('/a', [{ n: 1 }], { batchId: 'b' });
    await sink(
      '/a',
      Array.from({ length: 500 }, (_, n) => ({ n })),
      { batchId: 'c' },
    );

    const expected =
      'INSERT INTO "My Schema"."odd""name" ("path", "n", "amount (€)", "at") ' +
      'SELECT * FROM unnest($1::text[], $2::int8[], $3::numeric(12, 2)[], $4::timestamp with time zone[]) ' +
      'ON CONFLICT ("path", "n") DO UPDATE SET "amount (€)" = EXCLUDED."amount (€)", "at" = EXCLUDED."at"';
    expect(calls.map((call) => call.text)).toEqual([expected, expected]);
    expect(calls[0]?.params).toEqual(['{"/a"}', '{"1"}', '{"0.01"}', '{NULL}']);
    expect(calls[1]?.params).toHaveLength(4);
  });

  it('escapes quotes and backslashes inside array elements, and keeps NULL apart from "NULL"', async () => {
    const { db, calls } = recorder();
    const sink = postgresSink<string, unknown>({
      pool: db,
      table: 't',
      columns: { v: { type: 'text', value: (item) => item } },
    });
    await sink('k', ['a"b', 'c\\d', 'NULL', null, undefined, '{x,y}', ''], { batchId: 'b' });

    expect(calls[0]?.params).toEqual(['{"a\\"b","c\\\\d","NULL",NULL,NULL,"{x,y}",""}']);
  });

  it('sends nothing for an empty batch', async () => {
    const { db, calls } = recorder();
    const sink = postgresSink({ pool: db, table: 't', columns: { v: { type: 'text', value: String } } });
    expect(await sink('k', [], { batchId: 'b' })).toEqual({ rows: 0, inserted: 0 });
    expect(calls).toEqual([]);
  });

  it('does not start when the signal has already aborted', async () => {
    const { db, calls } = recorder();
    const sink = postgresSink({ pool: db, table: 't', columns: { v: { type: 'text', value: String } } });
    const reason = new Error('flush timed out');
    await expect(sink('k', [{ v: 1 }], { batchId: 'b', signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(calls).toEqual([]);
  });
});

describe('quoteIdentifier', () => {
  it('double-quotes and doubles inner quotes', () => {
    expect(quoteIdentifier('plain')).toBe('"plain"');
    expect(quoteIdentifier('a"; DROP TABLE x; --')).toBe('"a""; DROP TABLE x; --"');
  });

  it('refuses empty names and NUL characters', () => {
    expect(() => quoteIdentifier('')).toThrow(TypeError);
    expect(() => quoteIdentifier('a\u0000b')).toThrow(/without NUL characters/);
  });
});

describe('isRetryablePostgresError', () => {
  const pgError = (code: string) => Object.assign(new Error(code), { code, severity: 'ERROR' });

  it.each([
    ['23505', false], // unique violation
    ['23502', false], // not null violation
    ['22P02', false], // invalid text representation
    ['42703', false], // undefined column
    ['42P01', false], // undefined table
    ['21000', false], // upsert hitting a row twice
    ['40001', true], // serialization failure
    ['40P01', true], // deadlock
    ['57014', true], // query cancelled
    ['57P01', true], // admin shutdown
    ['08006', true], // connection failure
    ['53300', true], // too many connections
  ])('SQLSTATE %s: retryable %s', (code, retryable) => {
    expect(isRetryablePostgresError(pgError(code))).toBe(retryable);
  });

  it('retries network errors, which carry no SQLSTATE', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(sqlState(refused)).toBeUndefined();
    expect(sqlState(pipe)).toBeUndefined();
    expect(isRetryablePostgresError(refused)).toBe(true);
    expect(isRetryablePostgresError(pipe)).toBe(true);
  });

  it('looks through wrapping errors for the SQLSTATE', () => {
    const wrapped = new Error('insert failed', { cause: pgError('23505') });
    expect(sqlState(wrapped)).toBe('23505');
    expect(isRetryablePostgresError(wrapped)).toBe(false);
  });
});
