/**
 * Turns a column's values into one PostgreSQL array literal (`{"a","b",NULL}`), sent as a single text
 * parameter. Building the literal here, rather than handing a JS array to the driver, makes the sink
 * behave the same on `pg` and PGlite, whose array serializers differ.
 * @module
 */

/**
 * The text PostgreSQL parses for one value, or `null` for SQL NULL:
 * - `null` and `undefined` are NULL; strings pass unchanged (so a string for a json column must
 *   already be JSON);
 * - numbers, bigints and booleans become their text (`NaN` and `Infinity` included);
 * - a `Date` becomes its ISO 8601 UTC text (fits `timestamptz`, `timestamp` and `date`);
 * - a `Uint8Array` (a `Buffer`) becomes bytea hex (`\x00ff`);
 * - any other object or array becomes its JSON (fits `json` and `jsonb`).
 * @throws TypeError for an invalid `Date`, a symbol or a function.
 */
export function toPostgresText(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return null;
    case 'object': {
      if (value === null) return null;
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new TypeError('got an invalid Date');
        return isoDate(value);
      }
      if (value instanceof Uint8Array) {
        return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      }
      return JSON.stringify(value);
    }
    default:
      throw new TypeError(`got a ${typeof value}, which has no PostgreSQL representation`);
  }
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `date.toISOString()` for a valid date, built from its UTC fields: two to three times faster than
 * the built-in, which matters at one call per row (it was the largest item of a COPY profile). Years
 * outside 0–9999, which `toISOString` writes with six digits and a sign, go to the built-in.
 */
export function isoDate(date: Date): string {
  const year = date.getUTCFullYear();
  if (year < 1000 || year > 9999) return date.toISOString();
  return `${year}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${pad3(date.getUTCMilliseconds())}Z`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/**
 * Appends one element to an array literal under construction. Every non-NULL element is double
 * quoted, with `"` and `\` backslash-escaped, so commas, braces, spaces and the word NULL inside a
 * value are taken literally.
 */
export function arrayElement(text: string | null): string {
  if (text === null) return 'NULL';
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPED, '\\$&')}"` : `"${text}"`;
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIALS = /[\\\n\r\t]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};
const copyEscape = (char: string): string => COPY_ESCAPES[char] as string;

/**
 * One field of COPY's text format: `\N` for NULL; otherwise the text with backslash, newline,
 * carriage return and tab backslash-escaped (the characters COPY gives a meaning: escape, row end,
 * column separator), so a value such as `\N` or `\.` is taken literally. Everything else passes
 * unchanged, bytea's `\x…` hex included (its backslash is escaped like any other).
 */
export function copyField(text: string | null): string {
  if (text === null) return '\\N';
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, copyEscape) : text;
}
