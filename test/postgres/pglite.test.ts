/**
 * postgresSink on PGlite, the embedded PostgreSQL (in memory): the same statements, the same error
 * classification, no server needed.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedPostgres } from '../../examples/demo/database.js';
import { DataBuffer, NonRetryableError } from '../../src/index.js';
import { type PostgresFlushHandler, postgresSink, type Queryable } from '../../src/postgres/index.js';

interface Step {
  seq: number;
}

describe('postgresSink on PGlite', () => {
  let pglite: PGlite;

  beforeAll(async () => {
    // The demo's cached cluster: a fresh PGlite costs seconds of initdb on its first start.
    pglite = await openEmbeddedPostgres();
    await pglite.exec(`CREATE TABLE steps (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text NOT NULL, seq int4 NOT NULL,
      UNIQUE (key, seq))`);
  }, 120_000);

  afterAll(async () => {
    await pglite?.close();
  });

  const sink = (): PostgresFlushHandler<string, Step> =>
    postgresSink({
      pool: pglite,
      table: 'steps',
      columns: { key: { type: 'text', value: (_step, key) => key }, seq: 'int4' },
    });

  it('stores every batch once, each key in order, one statement per batch', async () => {
    const write = sink();
    let statements = 0;
    const buffer = new DataBuffer<string, Step>({
      maxSize: 40,
      partitions: 3,
      interval: 60_000,
      flushOnExit: false,
      handleFlush: async (key, steps, info) => {
        statements++;
        const result = await write(key, steps, info);
        expect(result).toEqual({ rows: steps.length, inserted: steps.length });
      },
    });
    for (let seq = 0; seq < 200; seq++) for (const key of ['a', 'b', 'c', 'd']) buffer.insert(key, { seq });
    await buffer.close();

    expect(statements).toBe(20); // 4 keys × 200 steps / maxSize 40
    const { rows } = await pglite.query<{ key: string; seqs: number[] }>(
      'SELECT key, array_agg(seq ORDER BY id) AS seqs FROM steps GROUP BY key ORDER BY key',
    );
    const inOrder = Array.from({ length: 200 }, (_, i) => i);
    expect(rows.map((row) => row.key)).toEqual(['a', 'b', 'c', 'd']);
    for (const row of rows) expect(row.seqs).toEqual(inOrder);
  });

  it('writes through COPY … FROM /dev/blob, with the rows as the blob', async () => {
    const statements: string[] = [];
    const recording = {
      query: (text: string, params?: unknown[], options?: { blob?: Blob }) => {
        statements.push(text);
        return pglite.query(text, params, options);
      },
      exec: pglite.exec.bind(pglite),
      sql: pglite.sql.bind(pglite),
    } as Queryable;
    const write: PostgresFlushHandler<string, Step> = postgresSink({
      pool: recording,
      table: 'steps',
      columns: { key: { type: 'text', value: (_step, key) => key }, seq: 'int4' },
    });
    expect(await write('copied\tkey', [{ seq: 1 }, { seq: 2 }], { batchId: 'b' })).toEqual({
      rows: 2,
      inserted: 2,
    });
    expect(statements).toEqual([`COPY "steps" ("key", "seq") FROM '/dev/blob'`]);
    const { rows } = await pglite.query("SELECT seq FROM steps WHERE key = E'copied\\tkey' ORDER BY seq");
    expect(rows).toEqual([{ seq: 1 }, { seq: 2 }]);
  });

  it('classifies PGlite errors too: a duplicate goes to handleError without retries', async () => {
    let attempts = 0;
    const failures: { items: Step[]; error: Error }[] = [];
    const write = sink();
    const buffer = new DataBuffer<string, Step>({
      retryDelay: 1,
      flushOnExit: false,
      handleFlush: (key, steps, info) => {
        attempts++;
        return write(key, steps, info);
      },
      handleError: (_key, items, error) => {
        failures.push({ items, error });
      },
    });
    buffer.insertMany('a', [{ seq: 1000 }, { seq: 0 }]); // seq 0 of key 'a' is stored already
    await buffer.close();

    expect(attempts).toBe(1);
    expect(failures[0]?.items).toEqual([{ seq: 1000 }, { seq: 0 }]);
    expect(failures[0]?.error).toBeInstanceOf(NonRetryableError);
    expect(failures[0]?.error.cause).toMatchObject({ code: '23505' });
    const { rows } = await pglite.query('SELECT count(*)::int AS n FROM steps WHERE seq = 1000');
    expect(rows).toEqual([{ n: 0 }]);
  });
});
