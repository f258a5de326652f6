/**
 * Builds the one INSERT statement a sink runs for every batch, from its validated options. Everything
 * interpolated into the SQL text is either quoted here (identifiers) or checked against a strict
 * pattern (type names); row values only ever travel as parameters.
 * @module
 */
import { describe, invalidArgType, invalidArgValue } from '../errors.js';

/** A table name: `'events'`, `'analytics.events'`, or `{ schema, name }` for names that contain a dot. */
export type TableName =
  | string
  | {
      /** The schema; the connection's `search_path` decides when absent. */
      readonly schema?: string;
      /** The table's name, taken as it is (no dot splitting). */
      readonly name: string;
    };

/**
 * What happens when a row conflicts with a unique constraint or primary key:
 * - `'error'`: the statement fails (SQLSTATE 23505), and with it the whole batch;
 * - `'do-nothing'`: conflicting rows are skipped (`ON CONFLICT DO NOTHING`), which makes a retried
 *   batch idempotent as long as each row carries a unique id;
 * - `{ action: 'do-nothing', target }`: the same, limited to a conflict on `target`'s columns;
 * - `{ action: 'update', target, set }`: an upsert: `ON CONFLICT (target) DO UPDATE SET col =
 *   EXCLUDED.col` for each column of `set` (by default every inserted column not in `target`).
 *   Two rows of one batch with the same `target` values make PostgreSQL fail the statement
 *   (SQLSTATE 21000): merge them before they reach the sink.
 */
export type OnConflict =
  | 'error'
  | 'do-nothing'
  | {
      /** Skip the conflicting rows. */
      readonly action: 'do-nothing';
      /** The columns of the unique constraint to watch; any constraint when absent. */
      readonly target?: readonly string[];
    }
  | {
      /** Update the existing row instead. */
      readonly action: 'update';
      /** The columns of the unique constraint that identifies the row. */
      readonly target: readonly string[];
      /** The columns to overwrite with the new row's values. @defaultValue every inserted column not in `target` */
      readonly set?: readonly string[];
    };

/**
 * A type name the sink accepts: words, digits, underscores, spaces and dots (`double precision`,
 * `timestamp with time zone`, `public.mood`), with an optional `(n)` or `(p, s)` modifier.
 */
const TYPE_PATTERN =
  /^[A-Za-z_][A-Za-z0-9_]*(?:[ .][A-Za-z_][A-Za-z0-9_]*)*(?:\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\))?$/;

/**
 * Quotes an identifier for PostgreSQL: wraps it in double quotes and doubles the quotes inside, so any
 * name is safe to interpolate. Quoted names are case-sensitive: `'PageViews'` is not `pageviews`.
 * @throws TypeError when `name` is not a non-empty string or holds a NUL character.
 */
export function quoteIdentifier(name: string, what = 'identifier'): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\u0000')) {
    throw (typeof name === 'string' ? invalidArgValue : invalidArgType)(
      `Expected the ${what} to be a non-empty string without NUL characters, got ${describe(name)}`,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The quoted, possibly schema-qualified name of `table`: `'analytics.events'` becomes
 * `"analytics"."events"`. A string with more than one dot is ambiguous: pass `{ schema, name }`.
 * @throws TypeError naming what was received and what is allowed.
 */
export function quoteTable(table: TableName): string {
  if (typeof table === 'string') {
    const parts = table.split('.');
    if (parts.length > 2 || parts.some((part) => part.length === 0)) {
      throw invalidArgValue(
        `Expected \`table\` to be 'name' or 'schema.name', got ${describe(table)}; for names that contain a dot, pass { schema, name }`,
      );
    }
    return parts.map((part) => quoteIdentifier(part, '`table`')).join('.');
  }
  if (typeof table !== 'object' || table === null || typeof table.name !== 'string') {
    throw invalidArgType(
      `Expected \`table\` to be a string ('events', 'analytics.events') or { schema?, name }, got ${describe(table)}`,
    );
  }
  const name = quoteIdentifier(table.name, '`table.name`');
  return table.schema === undefined ? name : `${quoteIdentifier(table.schema, '`table.schema`')}.${name}`;
}

/**
 * Checks a column's type name, which goes into the SQL text as `$n::type[]`.
 * @throws TypeError when the name does not look like a type, or is an array type (which `unnest`
 * cannot carry: it would flatten the arrays of every row into one).
 */
export function checkTypeName(type: unknown, column: string): string {
  if (typeof type === 'string' && type.trim().endsWith('[]')) {
    throw invalidArgValue(
      `Column \`${column}\`: array types such as ${describe(type)} cannot be inserted through unnest (it flattens them); store the list as jsonb instead`,
    );
  }
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type.trim())) {
    throw (typeof type === 'string' ? invalidArgValue : invalidArgType)(
      `Column \`${column}\`: expected \`type\` to be a PostgreSQL type name such as 'text', 'int8', 'timestamptz', 'jsonb' or 'numeric(12,2)', got ${describe(type)}`,
    );
  }
  return type.trim();
}

/**
 * The statement for a batch: `INSERT INTO t (a, b) SELECT * FROM unnest($1::ta[], $2::tb[])`, with
 * one array parameter per column, so its text and its parameter count do not depend on the batch size.
 * @param table - already quoted.
 * @param columns - column names (unquoted) and their checked types, in parameter order.
 */
export function insertStatement(
  table: string,
  columns: readonly { readonly name: string; readonly type: string }[],
  onConflict: OnConflict,
): string {
  const names = columns.map((column) => quoteIdentifier(column.name, 'column name')).join(', ');
  const arrays = columns.map((column, i) => `$${i + 1}::${column.type}[]`).join(', ');
  const conflict = conflictClause(
    onConflict,
    columns.map((column) => column.name),
  );
  return `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${arrays})${conflict}`;
}

/** The `ON CONFLICT …` clause (with its leading space), or `''` for `'error'`. */
function conflictClause(onConflict: OnConflict, inserted: readonly string[]): string {
  if (onConflict === 'error') return '';
  if (onConflict === 'do-nothing') return ' ON CONFLICT DO NOTHING';
  if (typeof onConflict !== 'object' || onConflict === null) {
    throw (typeof onConflict === 'string' ? invalidArgValue : invalidArgType)(
      `Expected \`onConflict\` to be 'error', 'do-nothing', { action: 'do-nothing', target? } or { action: 'update', target, set? }, got ${describe(onConflict)}`,
    );
  }
  if (onConflict.action === 'do-nothing') {
    if (onConflict.target === undefined) return ' ON CONFLICT DO NOTHING';
    return ` ON CONFLICT (${columnList(onConflict.target, '`onConflict.target`')}) DO NOTHING`;
  }
  if (onConflict.action === 'update') {
    const target = onConflict.target;
    const targetList = columnList(target, '`onConflict.target`');
    const set = onConflict.set ?? inserted.filter((name) => !target.includes(name));
    for (const name of set) {
      if (!inserted.includes(name)) {
        throw invalidArgValue(
          `\`onConflict.set\` names ${describe(name)}, which is not one of the inserted columns (${inserted.join(', ')})`,
        );
      }
    }
    if (set.length === 0) {
      throw invalidArgValue(
        "`onConflict` { action: 'update' } has no column to update: every inserted column is in `target`; use 'do-nothing'",
      );
    }
    const assignments = set
      .map((name) => `${quoteIdentifier(name)} = EXCLUDED.${quoteIdentifier(name)}`)
      .join(', ');
    return ` ON CONFLICT (${targetList}) DO UPDATE SET ${assignments}`;
  }
  throw invalidArgValue(
    `Expected \`onConflict.action\` to be 'do-nothing' or 'update', got ${describe((onConflict as { action?: unknown }).action)}`,
  );
}

function columnList(names: unknown, what: string): string {
  if (!Array.isArray(names) || names.length === 0) {
    throw (Array.isArray(names) ? invalidArgValue : invalidArgType)(
      `Expected ${what} to be a non-empty array of column names, got ${describe(names)}`,
    );
  }
  return names.map((name: string) => quoteIdentifier(name, `column name in ${what}`)).join(', ');
}

/**
 * What follows `COPY` for a batch: `t (a, b)`, the quoted table and column names.
 * @param table - already quoted.
 */
export function copyTarget(table: string, columns: readonly { readonly name: string }[]): string {
  return `${table} (${columns.map((column) => quoteIdentifier(column.name, 'column name')).join(', ')})`;
}
