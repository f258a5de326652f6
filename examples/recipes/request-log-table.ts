/**
 * What the two request-logging recipes share: the `request_log` table, and a `handleFlush` that writes
 * a whole batch of requests into it in one statement.
 */

import { type PostgresFlushHandler, postgresSink } from 'data-buffer/postgres';
import pg from 'pg';

/** One logged HTTP request. */
export interface RequestLog {
  at: Date;
  method: string;
  /** The route pattern (`/users/:id`), not the raw URL: it keeps the table groupable. */
  route: string;
  status: number;
  durationMs: number;
}

/** The buffer's key: every request goes to one table, so there is one batch per flush. */
export const REQUEST_LOG = 'request_log';

/** Connections are opened on the first query, not here. */
export const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 4,
});

/** Creates the table when it is missing. */
export async function createRequestLogTable(): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS request_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    method text NOT NULL,
    route text NOT NULL,
    status int2 NOT NULL,
    duration_ms float4 NOT NULL
  )`);
}

/** `COPY request_log (…) FROM STDIN`: one statement per batch, whatever its size. */
export const writeRequestLogs: PostgresFlushHandler<string, RequestLog> = postgresSink({
  pool,
  table: 'request_log',
  columns: {
    at: 'timestamptz', // reads `log.at`
    method: 'text',
    route: 'text',
    status: 'int2',
    duration_ms: { type: 'float4', value: (log) => log.durationMs },
  },
});
