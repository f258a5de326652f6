/**
 * Runs one statement on whatever database handle the sink was given, and cancels it on the server
 * when the flush's signal aborts. Nothing here imports a driver: handles are recognised by shape.
 * @module
 */
import { startTimer, type Timer } from '../timers.js';

/** What a query resolves to: pg reports `rowCount`, PGlite `affectedRows`. */
export interface QueryResultLike {
  /** Rows the statement inserted or updated (pg). */
  readonly rowCount?: number | null;
  /** Rows the statement inserted or updated (PGlite). */
  readonly affectedRows?: number;
}

/**
 * Anything that runs a parameterised statement: a `pg` `Pool`, `Client` or `PoolClient`, a PGlite
 * instance or transaction, or your own wrapper.
 */
export interface Queryable {
  /** Runs `text` with `$1…$n` bound to `params`. */
  query(text: string, params?: unknown[]): Promise<QueryResultLike>;
}

/** A connection checked out of a pool, as `pg`'s `PoolClient`. */
interface PooledConnection extends Queryable {
  readonly processID?: number | null;
  release(destroy?: boolean | Error): void;
}

/** A `pg` `Pool`: hands out connections, so a statement can be tied to one backend and cancelled. */
interface PoolLike extends Queryable {
  connect(): Promise<PooledConnection>;
  readonly totalCount: number;
}

/** Whether `db` is a `pg` `Pool` (a `Client` also has `connect`, but it connects itself). */
function isPool(db: Queryable): db is PoolLike {
  const candidate = db as Partial<PoolLike>;
  return typeof candidate.connect === 'function' && typeof candidate.totalCount === 'number';
}

/** The backend process id of a `pg` `Client` or `PoolClient`, when connected. */
function processIdOf(db: Queryable): number | undefined {
  const pid = (db as { processID?: unknown }).processID;
  return typeof pid === 'number' ? pid : undefined;
}

/** Errors after which the connection is known to be in step with the server (see {@link keepsConnection}). */
const connectionKept = new WeakSet<object>();

/**
 * Marks `error` as one after which the connection is still usable, although it is not a server
 * error: a COPY the sink failed itself (CopyFail) because a row could not be encoded, once the server
 * has answered. Without the mark, a pooled connection is destroyed after any non-server error.
 */
export function keepsConnection<E>(error: E): E {
  if (typeof error === 'object' && error !== null) connectionKept.add(error);
  return error;
}

/**
 * After a cancel request, how long a checked-out connection may stay busy before the sink destroys
 * it to get it back into the pool, in ms. A dead network never answers the cancel.
 */
export const CANCEL_GRACE_MS = 5000;

/** One statement, run on the connection it is given (the handle itself, or one checked out of a pool). */
export type Statement = (connection: Queryable) => Promise<QueryResultLike>;

/**
 * Runs `statement` on `db`, and when `signal` aborts, cancels it on the server:
 * - `pg` `Pool`: the statement runs on a connection checked out for it; on abort,
 *   `SELECT pg_cancel_backend(pid)` goes through `cancelVia` (by default the pool itself, which then
 *   needs a free connection: size the pool above the buffer's `partitions`). A connection whose
 *   statement was cancelled is destroyed rather than reused, so a late cancel cannot hit another
 *   statement; one still busy {@link CANCEL_GRACE_MS} ms after the abort is destroyed too;
 * - `pg` `Client` (or `PoolClient`): cancelled through `cancelVia` when it is given, otherwise left
 *   to run (a single connection cannot cancel itself; a COPY still sending stops on its own, see
 *   `copy.ts`);
 * - PGlite and anything else: there is no way to cancel; the statement runs to its end.
 * @throws `signal.reason` when the signal aborted before the statement started.
 */
export async function runStatement(
  db: Queryable,
  statement: Statement,
  signal: AbortSignal | undefined,
  cancelVia: Queryable | undefined,
): Promise<QueryResultLike> {
  signal?.throwIfAborted();
  if (isPool(db)) return runOnPooledConnection(db, statement, signal, cancelVia ?? db);
  if (signal === undefined || cancelVia === undefined) return statement(db);
  const onAbort = () => {
    const pid = processIdOf(db);
    if (pid !== undefined) sendCancel(cancelVia, pid);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await statement(db);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function runOnPooledConnection(
  pool: PoolLike,
  statement: Statement,
  signal: AbortSignal | undefined,
  cancelVia: Queryable,
): Promise<QueryResultLike> {
  const connection = await pool.connect();
  let released = false;
  const release = (destroy?: boolean | Error) => {
    if (released) return;
    released = true;
    connection.release(destroy);
  };
  // The flush may have timed out while we waited for a connection: do not start a statement no one awaits.
  if (signal?.aborted) {
    release();
    throw signal.reason;
  }
  let cancelled = false;
  let grace: Timer | undefined;
  const onAbort = () => {
    cancelled = true;
    const pid = connection.processID;
    if (typeof pid === 'number') sendCancel(cancelVia, pid);
    grace = startTimer(() => release(true), CANCEL_GRACE_MS);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await statement(connection);
    release(cancelled);
    return result;
  } catch (error) {
    // A server-side error leaves the connection usable, unless the server ended the session with it
    // (FATAL, PANIC: a terminated backend); anything else (a socket error) may not.
    const severity = (error as { severity?: unknown })?.severity;
    const serverError =
      (typeof severity === 'string' && severity !== 'FATAL' && severity !== 'PANIC') ||
      (typeof error === 'object' && error !== null && connectionKept.has(error));
    release(cancelled || !serverError ? asError(error) : undefined);
    throw error;
  } finally {
    grace?.cancel();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Fire and forget: the flush has already failed with its timeout, and nobody waits for the cancel. */
function sendCancel(via: Queryable, pid: number): void {
  via.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {
    // Best effort: without a cancel the statement ends on its own (or on `statement_timeout`).
  });
}

function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
