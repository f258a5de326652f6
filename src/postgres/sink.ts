/**
 * `postgresSink`: a ready `handleFlush` that writes each batch into a PostgreSQL table in one statement.
 * @module
 */
import { describe, NonRetryableError } from '../errors.js';
import type { FlushInfo } from '../options.js';
import { type Queryable, runStatement } from './connection.js';
import { isRetryablePostgresError, sqlState } from './errors.js';
import { arrayElement, toPostgresText } from './literal.js';
import { checkTypeName, insertStatement, type OnConflict, quoteTable, type TableName } from './sql.js';

/** Where a row sits, passed to every column's `value` function. */
export interface RowContext {
  /** The batch's id (`info.batchId`): the same on every retry of the batch. */
  readonly batchId: string;
  /** The row's position in its batch, 0 based: with `batchId`, a unique and stable id for the row. */
  readonly index: number;
  /** The flush attempt, 1 for the first (0 when the sink is called without one). */
  readonly attempt: number;
}

/** One column of the table: its PostgreSQL type and how to read its value from an item. */
export interface ColumnSpec<K, V> {
  /**
   * The column's PostgreSQL type, as you would write it in a cast: `'text'`, `'int8'`, `'float8'`,
   * `'boolean'`, `'timestamptz'`, `'jsonb'`, `'uuid'`, `'numeric(12,2)'`, `'double precision'`.
   * Array types are refused: `unnest` would flatten them; store lists as `jsonb`.
   */
  readonly type: string;
  /**
   * The value for this column, from the item, its key and its place in the batch. Strings go as they
   * are; numbers, bigints and booleans as their text; a `Date` as ISO 8601; a `Buffer` as bytea;
   * other objects as JSON; `null` / `undefined` as NULL. A function that throws fails the batch
   * without retries (a retry would throw again).
   */
  readonly value: (item: V, key: K, row: RowContext) => unknown;
}

/** What the handler resolves to after a batch was written. */
export interface PostgresSinkResult {
  /** Rows sent: the batch's length. */
  readonly rows: number;
  /**
   * Rows the database reports as written (`rowCount`): fewer than `rows` when `onConflict:
   * 'do-nothing'` skipped duplicates; `undefined` when the driver does not report it.
   */
  readonly inserted: number | undefined;
}

/** The `info` a sink reads: a buffer's `FlushInfo` fits, and so does `{ batchId }` for a direct call. */
export type SinkCallInfo = Pick<FlushInfo, 'batchId'> & Partial<Pick<FlushInfo, 'attempt' | 'signal'>>;

/** The `handleFlush` that {@link postgresSink} returns. */
export type PostgresFlushHandler<K, V> = (
  key: K,
  items: readonly V[],
  info: SinkCallInfo,
) => Promise<PostgresSinkResult>;

/** Options of {@link postgresSink}. */
export interface PostgresSinkOptions<K, V> {
  /**
   * Where to write: a `pg` `Pool` (recommended: a flush timeout then cancels the statement on the
   * server), a `pg` `Client`, or a PGlite instance. Neither driver is imported by this module.
   */
  readonly pool: Queryable;
  /**
   * The table: `'page_views'`, `'analytics.page_views'`, or `{ schema, name }`. Names are quoted, so
   * they are case-sensitive and may hold any character.
   */
  readonly table: TableName;
  /**
   * The columns to fill, by name, in order. Each is a {@link ColumnSpec}, or just a type name to take
   * the item's property of the same name: `{ path: 'text' }` reads `item.path`. Columns left out get
   * their default (an identity or `serial` id, `now()`).
   */
  readonly columns: Readonly<Record<string, ColumnSpec<K, V> | string>>;
  /** What a row that hits a unique constraint does; see {@link OnConflict}. @default 'error' */
  readonly onConflict?: OnConflict;
  /**
   * Throw errors that a retry cannot fix (SQLSTATE classes 21, 22, 23 and 42, a `value` function
   * that throws) as a `NonRetryableError` whose `cause` is the original error, so the buffer hands
   * the batch to `handleError` at once instead of retrying it. Set `false` to get the raw errors.
   * @default true
   */
  readonly classifyErrors?: boolean;
  /**
   * Where `SELECT pg_cancel_backend(pid)` is sent when a flush times out. @default the pool itself
   * when `pool` is a `pg` `Pool`; none otherwise, so set it when `pool` is a single `Client`.
   */
  readonly cancelVia?: Queryable;
}

const KNOWN_OPTIONS = new Set(['pool', 'table', 'columns', 'onConflict', 'classifyErrors', 'cancelVia']);

interface ResolvedColumn<K, V> {
  readonly name: string;
  readonly type: string;
  readonly value: (item: V, key: K, row: RowContext) => unknown;
}

/**
 * Creates a `handleFlush` that writes each batch into `table` in one statement, whatever its size:
 * `INSERT INTO t (a, b) SELECT * FROM unnest($1::ta[], $2::tb[])`, with one array parameter per
 * column. Rows go in batch order, so a serial or identity id follows insertion order within a key.
 *
 * - Works with `pg` (`Pool` or `Client`) and PGlite, found by shape: no driver is imported here.
 * - Honours `info.signal`: a flush timeout cancels the statement on the server (a `pg` `Pool`, or a
 *   `Client` with `cancelVia`). PGlite cannot cancel a statement: it runs to its end, and the retry
 *   waits behind it.
 * - Fails fast on errors a retry cannot fix (see `classifyErrors`).
 * - For exactly-once writes across retries, give each row a unique id (your own, or
 *   {@link batchIdColumn} + {@link batchIndexColumn} under a unique constraint) and set
 *   `onConflict: 'do-nothing'`: a retry after a commit whose acknowledgement was lost then skips the
 *   rows already written.
 *
 * A batch is one statement and one parameter per column, so its size is bounded by PostgreSQL's 1 GB
 * limit per parameter: bound it with the buffer's `maxSize`.
 *
 * @typeParam K - the buffer's keys.
 * @typeParam V - the buffer's items.
 * @throws TypeError when an option is invalid, naming it, the value received and what is allowed.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { DataBuffer } from 'data-buffer';
 * import { postgresSink } from 'data-buffer/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 5 });
 * const buffer = new DataBuffer<string, PageView>({
 *   partitions: 4,
 *   flushTimeout: 10_000,
 *   handleFlush: postgresSink<string, PageView>({
 *     pool,
 *     table: 'analytics.page_views',
 *     columns: {
 *       event_id: { type: 'uuid', value: (view) => view.id },
 *       path: { type: 'text', value: (_view, path) => path },
 *       user_id: 'text', // item.user_id
 *       viewed_at: { type: 'timestamptz', value: (view) => view.at },
 *     },
 *     onConflict: 'do-nothing',
 *   }),
 * });
 * ```
 */
export function postgresSink<K = unknown, V = unknown>(
  options: PostgresSinkOptions<K, V>,
): PostgresFlushHandler<K, V> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected the options of postgresSink to be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      throw new TypeError(
        `Unknown option \`${name}\` of postgresSink; the options are: ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }
  const { pool, cancelVia, onConflict = 'error', classifyErrors = true } = options;
  checkQueryable(pool, 'pool');
  if (cancelVia !== undefined) checkQueryable(cancelVia, 'cancelVia');
  if (typeof classifyErrors !== 'boolean') {
    throw new TypeError(`Expected \`classifyErrors\` to be a boolean, got ${describe(classifyErrors)}`);
  }
  const table = quoteTable(options.table);
  const columns = resolveColumns(options.columns);
  const text = insertStatement(table, columns, onConflict);
  const tableName = typeof options.table === 'string' ? options.table : options.table.name;

  return async function postgresFlush(key, items, info) {
    if (items.length === 0) return { rows: 0, inserted: 0 };
    const params = columnArrays(columns, key, items, info, classifyErrors);
    let result: Awaited<ReturnType<Queryable['query']>>;
    try {
      result = await runStatement(pool, text, params, info.signal, cancelVia);
    } catch (error) {
      if (classifyErrors && !isRetryablePostgresError(error)) {
        const message = error instanceof Error ? error.message : String(error);
        throw new NonRetryableError(
          `PostgreSQL refused the batch of ${items.length} row(s) for ${describe(tableName)} (SQLSTATE ${sqlState(error)}): ${message}`,
          { cause: error },
        );
      }
      throw error;
    }
    const inserted = result.rowCount ?? result.affectedRows;
    return { rows: items.length, inserted: typeof inserted === 'number' ? inserted : undefined };
  };
}

/** One array literal per column, built in one pass over the batch per column. */
function columnArrays<K, V>(
  columns: readonly ResolvedColumn<K, V>[],
  key: K,
  items: readonly V[],
  info: SinkCallInfo,
  classifyErrors: boolean,
): string[] {
  const batchId = info.batchId;
  const attempt = info.attempt ?? 0;
  return columns.map((column) => {
    const elements = new Array<string>(items.length);
    for (let index = 0; index < items.length; index++) {
      try {
        const value = column.value(items[index] as V, key, { batchId, index, attempt });
        elements[index] = arrayElement(toPostgresText(value));
      } catch (error) {
        const message = `Column \`${column.name}\` of row ${index} of the batch: ${error instanceof Error ? error.message : String(error)}`;
        // The same item fails the same way on every retry.
        throw classifyErrors
          ? new NonRetryableError(message, { cause: error })
          : new TypeError(message, { cause: error });
      }
    }
    return `{${elements.join(',')}}`;
  });
}

function resolveColumns<K, V>(columns: PostgresSinkOptions<K, V>['columns']): ResolvedColumn<K, V>[] {
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    throw new TypeError(
      `Expected \`columns\` to be an object of column name → { type, value } or type name, got ${describe(columns)}`,
    );
  }
  const resolved = Object.entries(columns).map(([name, spec]): ResolvedColumn<K, V> => {
    if (typeof spec === 'string') {
      return { name, type: checkTypeName(spec, name), value: (item) => propertyOf(item, name) };
    }
    if (typeof spec !== 'object' || spec === null || typeof spec.value !== 'function') {
      throw new TypeError(
        `Column \`${name}\`: expected { type, value: (item, key, row) => unknown } or a type name, got ${describe(spec)}`,
      );
    }
    return { name, type: checkTypeName(spec.type, name), value: spec.value };
  });
  if (resolved.length === 0) {
    throw new TypeError('Expected `columns` to name at least one column, got `{}`');
  }
  return resolved;
}

function propertyOf(item: unknown, name: string): unknown {
  if (typeof item !== 'object' || item === null) {
    throw new TypeError(
      `expected the item to be an object with a \`${name}\` property, got ${describe(item)}`,
    );
  }
  return (item as Record<string, unknown>)[name];
}

function checkQueryable(db: unknown, option: string): void {
  if (typeof (db as Partial<Queryable> | null)?.query !== 'function') {
    throw new TypeError(
      `Expected \`${option}\` to have a query(text, params) method (a pg Pool or Client, or a PGlite instance), got ${describe(db)}`,
    );
  }
}

/**
 * A column holding the batch's id (`info.batchId`), the same on every retry of the batch. With
 * {@link batchIndexColumn} under a unique constraint and `onConflict: 'do-nothing'`, retries cannot
 * write a row twice.
 * @param type - the column's type. @defaultValue `'text'`
 */
export function batchIdColumn<K = unknown, V = unknown>(type = 'text'): ColumnSpec<K, V> {
  return { type, value: (_item, _key, row) => row.batchId };
}

/**
 * A column holding the row's position in its batch (0 based); see {@link batchIdColumn}.
 * @param type - the column's type. @defaultValue `'int4'`
 */
export function batchIndexColumn<K = unknown, V = unknown>(type = 'int4'): ColumnSpec<K, V> {
  return { type, value: (_item, _key, row) => row.index };
}
