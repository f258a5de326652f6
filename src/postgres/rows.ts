/**
 * The columns a sink fills, checked once when it is built, and a batch turned into what each
 * statement sends: one array literal per column for `INSERT … unnest`, or COPY's text rows.
 * @module
 */
import { describe, NonRetryableError } from '../errors.js';
import { arrayElement, copyField, toPostgresText } from './literal.js';
import { checkTypeName } from './sql.js';

/** Where a row sits, passed to every column's `value` function. */
export interface RowContext {
  /** The batch's id (`info.batchId`): the same on every retry of the batch. */
  readonly batchId: string;
  /** The row's position in its batch, 0 based: with `batchId`, a unique and stable id for the row. */
  readonly index: number;
  /** The flush attempt, 1 for the first (0 when the sink is called without one). */
  readonly attempt: number;
}

/** A column checked and ready to read: either an item's property or a `value` function. */
export interface ResolvedColumn<K, V> {
  readonly name: string;
  readonly type: string;
  /** The function of a `{ type, value }` column; `undefined` for a property column. */
  readonly value: ((item: V, key: K, row: RowContext) => unknown) | undefined;
  /** A property column whose property may be missing: `undefined` is then written as NULL. */
  readonly optional: boolean;
}

/** What {@link resolveColumns} accepts for one column (the public types narrow it further). */
type ColumnInput =
  | string
  | {
      readonly type?: unknown;
      readonly value?: unknown;
      readonly optional?: unknown;
    };

/**
 * Checks `columns` and resolves each to its name, type and reader.
 * @throws TypeError naming the column, the value received and what is allowed.
 */
export function resolveColumns<K, V>(columns: unknown): ResolvedColumn<K, V>[] {
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) {
    throw new TypeError(
      `Expected \`columns\` to be an object of column name → { type, value }, { type, optional? } or type name, got ${describe(columns)}`,
    );
  }
  const resolved = Object.entries(columns as Record<string, ColumnInput>).map(
    ([name, spec]): ResolvedColumn<K, V> => {
      if (typeof spec === 'string') {
        return { name, type: checkTypeName(spec, name), value: undefined, optional: false };
      }
      if (typeof spec !== 'object' || spec === null) {
        throw new TypeError(
          `Column \`${name}\`: expected { type, value: (item, key, row) => unknown }, { type, optional? } or a type name, got ${describe(spec)}`,
        );
      }
      const { type, value, optional } = spec;
      if (value !== undefined) {
        if (typeof value !== 'function') {
          throw new TypeError(
            `Column \`${name}\`: expected \`value\` to be a function (item, key, row) => unknown, got ${describe(value)}`,
          );
        }
        if (optional !== undefined) {
          throw new TypeError(
            `Column \`${name}\`: \`optional\` applies to columns read from the item's property (no \`value\`); a \`value\` function decides NULL itself by returning null`,
          );
        }
        return {
          name,
          type: checkTypeName(type, name),
          value: value as ResolvedColumn<K, V>['value'],
          optional: false,
        };
      }
      if (optional !== undefined && typeof optional !== 'boolean') {
        throw new TypeError(
          `Column \`${name}\`: expected \`optional\` to be a boolean, got ${describe(optional)}`,
        );
      }
      return { name, type: checkTypeName(type, name), value: undefined, optional: optional === true };
    },
  );
  if (resolved.length === 0) {
    throw new TypeError('Expected `columns` to name at least one column, got `{}`');
  }
  return resolved;
}

/** How the encoders report a row they cannot encode. */
interface EncodeContext<K> {
  readonly key: K;
  readonly batchId: string;
  readonly attempt: number;
  readonly classifyErrors: boolean;
}

/** The row context a property column never reads: saves one object per row when no column needs it. */
const UNUSED_ROW: RowContext = Object.freeze({ batchId: '', index: -1, attempt: 0 });

/** The text of one cell, or `null` for NULL. Throws what a `value` function throws, or a missing-property error. */
function cellText<K, V>(column: ResolvedColumn<K, V>, item: V, key: K, row: RowContext): string | null {
  if (column.value !== undefined) return toPostgresText(column.value(item, key, row));
  if (typeof item !== 'object' || item === null) {
    throw new TypeError(
      `expected the item to be an object with a \`${column.name}\` property, got ${describe(item)}`,
    );
  }
  const value = (item as Record<string, unknown>)[column.name];
  if (value === undefined && !column.optional) throw new MissingPropertyError(column);
  return toPostgresText(value);
}

/** A property column found no value: a NULL the user did not ask for is refused, not written. */
class MissingPropertyError extends Error {
  constructor(column: { readonly name: string; readonly type: string }) {
    super(
      `the item's \`${column.name}\` is undefined. A column given as a type name reads the item's property of the same name and refuses a missing one rather than write NULL: give every item a \`${column.name}\` (null for NULL), or declare the column { type: '${column.type}', optional: true }`,
    );
  }
}

/**
 * Rethrows an encoding failure naming the column, the row and the key; non-retryable under
 * `classifyErrors`, since the same item fails the same way on every retry.
 */
function encodeFailure<K>(
  error: unknown,
  column: { readonly name: string },
  index: number,
  context: EncodeContext<K>,
): Error {
  const reason = error instanceof Error ? error.message : String(error);
  const where =
    error instanceof MissingPropertyError
      ? `Column \`${column.name}\` of row ${index} of the batch of key ${describe(context.key)}`
      : `Column \`${column.name}\` of row ${index} of the batch`;
  const message = `${where}: ${reason}`;
  return context.classifyErrors
    ? new NonRetryableError(message, { cause: error })
    : new TypeError(message, { cause: error });
}

/** Whether any column reads the row context (only `value` functions do). */
function needsRowContext(columns: readonly ResolvedColumn<unknown, unknown>[]): boolean {
  return columns.some((column) => column.value !== undefined);
}

/**
 * One array literal per column (`{"a","b",NULL}`), the parameters of `INSERT … unnest`.
 * @throws NonRetryableError (or TypeError without `classifyErrors`) for a row it cannot encode.
 */
export function columnArrays<K, V>(
  columns: readonly ResolvedColumn<K, V>[],
  items: readonly V[],
  context: EncodeContext<K>,
): string[] {
  const { key, batchId, attempt } = context;
  const withContext = needsRowContext(columns as readonly ResolvedColumn<unknown, unknown>[]);
  const elements = columns.map(() => new Array<string>(items.length));
  let index = 0;
  let c = 0;
  try {
    for (; index < items.length; index++) {
      const item = items[index] as V;
      const row = withContext ? { batchId, index, attempt } : UNUSED_ROW;
      for (c = 0; c < columns.length; c++) {
        (elements[c] as string[])[index] = arrayElement(
          cellText(columns[c] as ResolvedColumn<K, V>, item, key, row),
        );
      }
    }
  } catch (error) {
    throw encodeFailure(error, columns[c] as ResolvedColumn<K, V>, index, context);
  }
  return elements.map((column) => `{${column.join(',')}}`);
}

/** Characters per piece of COPY data: large enough to keep the per-message cost low, small enough to overlap encoding with the server's parsing. */
const COPY_PIECE = 64 * 1024;

/**
 * Encodes a batch as COPY text rows (tab-separated, `\N` for NULL, one `\n` per row), one piece of
 * about 64 KiB (a whole number of rows) per {@link CopyEncoder.next} call, so that the server parses
 * a piece while the next is encoded.
 */
export class CopyEncoder<K, V> {
  readonly #columns: readonly ResolvedColumn<K, V>[];
  readonly #items: readonly V[];
  readonly #context: EncodeContext<K>;
  readonly #withContext: boolean;
  #index = 0;

  constructor(columns: readonly ResolvedColumn<K, V>[], items: readonly V[], context: EncodeContext<K>) {
    this.#columns = columns;
    this.#items = items;
    this.#context = context;
    this.#withContext = needsRowContext(columns as readonly ResolvedColumn<unknown, unknown>[]);
  }

  /**
   * The next piece, or `undefined` once every row is encoded.
   * @throws NonRetryableError (or TypeError without `classifyErrors`) for a row it cannot encode.
   */
  next(): string | undefined {
    const columns = this.#columns;
    const items = this.#items;
    const { key, batchId, attempt } = this.#context;
    const last = columns.length - 1;
    let piece = '';
    let index = this.#index;
    let c = 0;
    try {
      for (; index < items.length && piece.length < COPY_PIECE; index++) {
        const item = items[index] as V;
        const row = this.#withContext ? { batchId, index, attempt } : UNUSED_ROW;
        for (c = 0; c < last; c++) {
          piece += `${copyField(cellText(columns[c] as ResolvedColumn<K, V>, item, key, row))}\t`;
        }
        piece += `${copyField(cellText(columns[last] as ResolvedColumn<K, V>, item, key, row))}\n`;
      }
    } catch (error) {
      throw encodeFailure(error, columns[c] as ResolvedColumn<K, V>, index, this.#context);
    }
    this.#index = index;
    return piece.length > 0 ? piece : undefined;
  }

  /** Every remaining piece. @throws as {@link CopyEncoder.next} */
  all(): string[] {
    const pieces: string[] = [];
    for (let piece = this.next(); piece !== undefined; piece = this.next()) pieces.push(piece);
    return pieces;
  }
}
