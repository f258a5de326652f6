/**
 * Which PostgreSQL failures a retry can fix. A batch that violates a constraint, holds a value the
 * column cannot take, or names a column that does not exist fails the same way every time: retrying
 * it only delays `handleError`. Connection errors, timeouts, deadlocks and a busy server may pass.
 * @module
 */

/**
 * SQLSTATE classes whose errors a retry of the same statement cannot fix:
 * - `21` cardinality violation (an upsert batch that hits one row twice);
 * - `22` data exception (a value the column type rejects, a string too long);
 * - `23` integrity constraint violation (unique, foreign key, not null, check);
 * - `42` syntax error or access rule violation (unknown table or column, no privilege).
 */
export const NON_RETRYABLE_SQLSTATE_CLASSES: readonly string[] = Object.freeze(['21', '22', '23', '42']);

// Five digits or capitals, at least one a digit: every SQLSTATE has one; errno codes (`EPIPE`) do not.
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

/**
 * The SQLSTATE code carried by `error` (pg and PGlite put it on `error.code`), looking through its
 * `cause` chain, or `undefined` when there is none (a network error, for instance).
 */
export function sqlState(error: unknown): string | undefined {
  for (
    let current = error, depth = 0;
    current !== null && typeof current === 'object' && depth < 8;
    depth++
  ) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether a failed statement is worth retrying: `false` when its SQLSTATE is in one of
 * {@link NON_RETRYABLE_SQLSTATE_CLASSES}, `true` otherwise (connection refused or reset, query
 * cancelled, deadlock, serialization failure, server shutting down, errors without a SQLSTATE).
 *
 * The sink applies it already (see `classifyErrors`); use it as the buffer's `isRetryable` option
 * when you write your own `handleFlush` against PostgreSQL.
 *
 * @example
 * ```ts
 * new DataBuffer({ handleFlush: myInsert, isRetryable: isRetryablePostgresError });
 * ```
 */
export function isRetryablePostgresError(error: unknown): boolean {
  const code = sqlState(error);
  return code === undefined || !NON_RETRYABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2));
}
