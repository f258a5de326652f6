/**
 * `postgresSink`: a ready `handleFlush` that writes each batch into a PostgreSQL table in one statement.
 * @module
 */
import { describe, invalidArgType, invalidArgValue, NonRetryableError } from '../errors.js';
import type { FlushInfo } from '../options.js';
import { type Queryable, type QueryResultLike, runStatement, type Statement } from './connection.js';
import { copyCapability, copyWithPGlite, copyWithPg, looksLikePg } from './copy.js';
import { isRetryablePostgresError, sqlState } from './errors.js';
import { CopyEncoder, columnArrays, type ResolvedColumn, type RowContext, resolveColumns } from './rows.js';
import { copyTarget, insertStatement, type OnConflict, quoteTable, type TableName } from './sql.js';

export type { RowContext } from './rows.js';

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

/**
 * A column read from the item's property of the same name, written as a type name (`at:
 * 'timestamptz'`) or as `{ type, optional }`. A row whose property is `undefined` is refused (the
 * batch fails without retries, naming the column and the key), since a missing property is more often
 * a typo or a renamed field than a NULL; `null` is written as NULL. `optional: true` says that a
 * missing property means NULL.
 */
export interface PropertyColumn {
  /** The column's PostgreSQL type, as in {@link ColumnSpec.type}. */
  readonly type: string;
  /** Write NULL for an item whose property is `undefined`, instead of refusing the batch. @default false */
  readonly optional?: boolean;
}

/**
 * What the type checker shows for a type-name column whose name is not a property of the item type.
 * A column that is not an item property needs `{ type, value }`.
 */
export type NotAnItemProperty<Name extends PropertyKey> =
  `column "${Name & string}" is not a property of the item type: give it { type, value }`;

/**
 * The `columns` option, checked against the item type `V` once TypeScript knows the column names
 * (it infers them when the sink's types come from the buffer it is given to, or from a
 * `PostgresFlushHandler<K, V>` annotation):
 * - a name that is a property of `V` takes a type name or `{ type, optional? }` (an optional property,
 *   or one whose type includes `undefined`, needs `{ type, optional: true }`), or `{ type, value }`;
 * - any other name needs `{ type, value }`.
 * Called with explicit type arguments only (`postgresSink<K, V>(…)`), TypeScript cannot know the
 * names, and only `{ type, value }` columns pass: let it infer them instead.
 */
export type PostgresColumns<K, V, C> = string extends keyof C
  ? Readonly<Record<string, ColumnSpec<K, V> | NamesUnknown>>
  : {
      readonly [Name in keyof C]: Name extends keyof V
        ? undefined extends V[Name]
          ?
              | ColumnSpec<K, V>
              | (PropertyColumn & {
                  /** Required for an optional property: a missing one means NULL. */ readonly optional: true;
                })
          : ColumnSpec<K, V> | PropertyColumn | string
        : ColumnSpec<K, V> | NotAnItemProperty<Name>;
    };

/**
 * What the type checker shows for a type-name column when the column names are not known (explicit
 * type arguments `postgresSink<K, V>(…)`): they cannot be checked against the item type.
 */
export type NamesUnknown =
  "type-name columns are checked against the item type: call postgresSink without type arguments, inside the buffer's options or as `const sink: PostgresFlushHandler<K, V> = postgresSink({…})`";

/** Any `columns` object, before it is checked against an item type. */
export type AnyColumns<K, V> = Readonly<Record<string, ColumnSpec<K, V> | PropertyColumn | string>>;

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

/**
 * Options of {@link postgresSink}.
 * @typeParam C - the `columns` object, inferred, so that its names can be checked against `V`.
 */
export interface PostgresSinkOptions<K, V, C = AnyColumns<K, V>> {
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
   * The columns to fill, by name, in order. Each is a {@link ColumnSpec} (`{ type, value }`), or a
   * {@link PropertyColumn} that reads the item's property of the same name: a type name
   * (`{ path: 'text' }` reads `item.path`) or `{ type, optional: true }` when a missing property
   * means NULL. Columns left out get their default (an identity or `serial` id, `now()`). See
   * {@link PostgresColumns} for how the names are type-checked.
   */
  readonly columns: PostgresColumns<K, V, C>;
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
  /**
   * Write with `COPY … FROM STDIN` when the sink can: no `onConflict` (COPY has no ON CONFLICT), and
   * a `pg` `Pool` or `Client` or a PGlite instance (other handles cannot stream COPY data). COPY
   * costs about half the server and Node CPU per row of `INSERT … SELECT FROM unnest(…)`, which the
   * sink uses otherwise. Set `false` to always use the INSERT: for a table with row-level security
   * (COPY FROM refuses it) or rules (COPY ignores them).
   * @default true
   */
  readonly copy?: boolean;
}

const KNOWN_OPTIONS = new Set([
  'pool',
  'table',
  'columns',
  'onConflict',
  'classifyErrors',
  'cancelVia',
  'copy',
]);

/** Whether the process was told once that a pg client could not COPY. */
let copyNoticeGiven = false;

/** The warning code of that notice, for `process.on('warning')` filters. */
export const COPY_UNAVAILABLE_WARNING = 'DATA_BUFFER_PG_NO_COPY';

/**
 * Creates a `handleFlush` that writes each batch into `table` in one statement, whatever its size:
 * - by default `COPY t (a, b) FROM STDIN` (text format), streamed over the connection (pg) or handed
 *   over as a blob (PGlite);
 * - with `onConflict`, `copy: false`, or a handle that cannot COPY (your own `{ query }` wrapper):
 *   `INSERT INTO t (a, b) SELECT * FROM unnest($1::ta[], $2::tb[])`, one array parameter per column.
 * Either way a batch is all or nothing, and rows go in batch order, so a serial or identity id
 * follows insertion order within a key.
 *
 * - Works with `pg` (`Pool` or `Client`) and PGlite, found by shape: no driver is imported here.
 * - Honours `info.signal`: a flush timeout cancels the statement on the server (a `pg` `Pool`, or a
 *   `Client` with `cancelVia`); a COPY still sending its rows also stops sending and fails itself
 *   (CopyFail), with any `Client`. PGlite cannot cancel a statement: it runs to its end, and the
 *   retry waits behind it.
 * - Fails fast on errors a retry cannot fix (see `classifyErrors`), and on an item missing a property
 *   that a type-name column reads (see {@link PropertyColumn}).
 * - For exactly-once writes across retries, give each row a unique id (your own, or
 *   {@link batchIdColumn} + {@link batchIndexColumn} under a unique constraint) and set
 *   `onConflict: 'do-nothing'`: a retry after a commit whose acknowledgement was lost then skips the
 *   rows already written. (That turns COPY off: COPY has no ON CONFLICT.)
 *
 * Through `INSERT … unnest`, a batch is bounded by PostgreSQL's 1 GB limit per parameter; COPY has no
 * such limit. Bound batches with the buffer's `maxSize` anyway: a batch is held in memory as text.
 *
 * @typeParam K - the buffer's keys.
 * @typeParam V - the buffer's items.
 * @typeParam C - the `columns` object, inferred: leave it out, and let the buffer (or a
 *   `PostgresFlushHandler<K, V>` annotation) give `K` and `V`, so that type-name columns are checked
 *   against `V` (see {@link PostgresColumns}).
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
 *   handleFlush: postgresSink({
 *     pool,
 *     table: 'analytics.page_views',
 *     columns: {
 *       event_id: { type: 'uuid', value: (view) => view.id },
 *       path: { type: 'text', value: (_view, path) => path },
 *       user_id: 'text', // item.user_id, which PageView must have
 *       referrer: { type: 'text', optional: true }, // item.referrer, NULL when missing
 *       viewed_at: { type: 'timestamptz', value: (view) => view.at },
 *     },
 *   }),
 * });
 * ```
 */
export function postgresSink<K = unknown, V = unknown, C = AnyColumns<K, V>>(
  options: PostgresSinkOptions<K, V, C>,
): PostgresFlushHandler<K, V> {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgType(`Expected the options of postgresSink to be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      throw invalidArgValue(
        `Unknown option \`${name}\` of postgresSink; the options are: ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }
  const { pool, cancelVia, onConflict = 'error', classifyErrors = true, copy = true } = options;
  checkQueryable(pool, 'pool');
  if (cancelVia !== undefined) checkQueryable(cancelVia, 'cancelVia');
  if (typeof classifyErrors !== 'boolean') {
    throw invalidArgType(`Expected \`classifyErrors\` to be a boolean, got ${describe(classifyErrors)}`);
  }
  if (typeof copy !== 'boolean') {
    throw invalidArgType(`Expected \`copy\` to be a boolean, got ${describe(copy)}`);
  }
  const table = quoteTable(options.table);
  const columns = resolveColumns<K, V>(options.columns);
  const text = insertStatement(table, columns, onConflict);
  const target = copyTarget(table, columns);
  const useCopy = copy && onConflict === 'error';
  const tableName = typeof options.table === 'string' ? options.table : options.table.name;

  return async function postgresFlush(key, items, info) {
    if (items.length === 0) return { rows: 0, inserted: 0 };
    const context = { key, batchId: info.batchId, attempt: info.attempt ?? 0, classifyErrors };
    const statement: Statement = useCopy
      ? copyStatement(target, columns, items, context, info.signal, text)
      : insertWith(text, columnArrays(columns, items, context));
    let result: QueryResultLike;
    try {
      result = await runStatement(pool, statement, info.signal, cancelVia);
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

/** The `INSERT … unnest` statement with its parameters. */
function insertWith(text: string, params: string[]): Statement {
  return (connection) => connection.query(text, params);
}

/**
 * COPY on the connection the statement gets (a pool's is known only once checked out), or the INSERT
 * when that connection cannot COPY. On pg the rows are encoded as they are sent, so that the server
 * parses while Node encodes; a row that cannot be encoded then fails the COPY, which the server rolls
 * back, and the batch fails with that row's error as it would before any statement.
 */
function copyStatement<K, V>(
  target: string,
  columns: readonly ResolvedColumn<K, V>[],
  items: readonly V[],
  context: ConstructorParameters<typeof CopyEncoder<K, V>>[2],
  signal: AbortSignal | undefined,
  insertText: string,
): Statement {
  return (connection) => {
    const capability = copyCapability(connection);
    if (capability === 'pg') {
      return copyWithPg(connection, target, new CopyEncoder(columns, items, context), signal);
    }
    if (capability === 'pglite') {
      return copyWithPGlite(connection, target, new CopyEncoder(columns, items, context).all());
    }
    if (!copyNoticeGiven && looksLikePg(connection)) {
      copyNoticeGiven = true;
      process.emitWarning(
        'postgresSink: this pg client cannot stream COPY (pg-native, or pipeline mode); writing with INSERT … unnest instead, at about half the speed. Pass copy: false to silence this.',
        { code: COPY_UNAVAILABLE_WARNING },
      );
    }
    return connection.query(insertText, columnArrays(columns, items, context));
  };
}

function checkQueryable(db: unknown, option: string): void {
  if (typeof (db as Partial<Queryable> | null)?.query !== 'function') {
    throw invalidArgType(
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
