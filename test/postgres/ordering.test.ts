/**
 * Several partitions write at once, through several connections, with batches that fail and are
 * retried: the rows of each key must still land in insertion order, as the serial id shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBuffer } from '../../src/index.js';
import { type PostgresFlushHandler, postgresSink } from '../../src/postgres/index.js';
import { createPool, postgresAvailable, sleep, uniqueTableName } from './database.js';

const available = await postgresAvailable('test/postgres/ordering.test.ts');

interface Step {
  seq: number;
}

describe.skipIf(!available)('postgresSink with concurrent partitions', () => {
  const pool = createPool({ max: 8 });
  const table = uniqueTableName('ordering');

  beforeAll(async () => {
    await pool.query(
      `CREATE TABLE ${table} (id bigserial PRIMARY KEY, key text NOT NULL, seq int4 NOT NULL)`,
    );
  });

  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('keeps each key in order while partitions run in parallel and batches retry', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    const perKey = 300;
    const sink: PostgresFlushHandler<string, Step> = postgresSink({
      pool,
      table,
      columns: { key: { type: 'text', value: (_step, key) => key }, seq: 'int4' },
    });
    let running = 0;
    let mostRunning = 0;
    let failedAttempts = 0;
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const buffer = new DataBuffer<string, Step>({
      partitions: 6,
      maxSize: 25,
      interval: 5,
      retryDelay: 2,
      retryMax: 10,
      flushOnExit: false,
      handleFlush: async (key, steps, info) => {
        running++;
        mostRunning = Math.max(mostRunning, running);
        try {
          // Uneven latency, so that partitions overtake each other.
          await sleep(random() * 4);
          if (random() < 0.2) {
            failedAttempts++;
            throw new Error('transient failure');
          }
          await sink(key, steps, info);
        } finally {
          running--;
        }
      },
    });
    // Interleave the keys, in several rounds, so that each key has many batches in flight over time.
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) buffer.insert(key, { seq });
      if (seq % 50 === 49) await sleep(3);
    }
    const report = await buffer.close();

    expect(report.failed).toBe(0);
    expect(failedAttempts).toBeGreaterThan(10);
    expect(mostRunning).toBeGreaterThan(1);
    const { rows } = await pool.query<{ key: string; seqs: number[] }>(
      `SELECT key, array_agg(seq ORDER BY id) AS seqs FROM ${table} GROUP BY key ORDER BY key`,
    );
    expect(rows).toHaveLength(keys.length);
    const inOrder = Array.from({ length: perKey }, (_, i) => i);
    for (const row of rows) expect(row.seqs, row.key).toEqual(inOrder);
    // Keys did interleave in the table: the partitions really wrote concurrently.
    const { rows: switches } = await pool.query(
      `SELECT count(*)::int AS n FROM (SELECT key, lag(key) OVER (ORDER BY id) AS previous FROM ${table}) s
       WHERE key <> previous`,
    );
    expect(switches[0].n).toBeGreaterThan(keys.length);
  });
});
