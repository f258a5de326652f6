/**
 * `data-buffer/postgres`: a ready `handleFlush` that writes each batch into a PostgreSQL table in one
 * statement (`COPY … FROM STDIN`, or `INSERT … SELECT FROM unnest(…)` with `onConflict`), with `pg`
 * or PGlite (optional peers: install the one you use; neither is imported here).
 *
 * @example
 * ```ts
 * import { PGlite } from '@electric-sql/pglite';
 * import { DataBuffer } from 'data-buffer';
 * import { postgresSink } from 'data-buffer/postgres';
 *
 * const db = await PGlite.create();
 * await db.exec('CREATE TABLE page_views (id bigint GENERATED ALWAYS AS IDENTITY, path text, user_id text)');
 * const buffer = new DataBuffer<string, { user_id: string }>({
 *   handleFlush: postgresSink({
 *     pool: db,
 *     table: 'page_views',
 *     columns: {
 *       path: { type: 'text', value: (_view, path) => path },
 *       user_id: 'text', // view.user_id, checked against the item type
 *     },
 *   }),
 * });
 * ```
 * @module data-buffer/postgres
 */
export { CANCEL_GRACE_MS, type Queryable, type QueryResultLike } from './connection.js';
export { isRetryablePostgresError, NON_RETRYABLE_SQLSTATE_CLASSES, sqlState } from './errors.js';
export {
  type AnyColumns,
  batchIdColumn,
  batchIndexColumn,
  COPY_UNAVAILABLE_WARNING,
  type ColumnSpec,
  type NamesUnknown,
  type NotAnItemProperty,
  type PostgresColumns,
  type PostgresFlushHandler,
  type PostgresSinkOptions,
  type PostgresSinkResult,
  type PropertyColumn,
  postgresSink,
  type RowContext,
  type SinkCallInfo,
} from './sink.js';
export { type OnConflict, quoteIdentifier, type TableName } from './sql.js';
