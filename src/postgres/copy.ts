/**
 * `COPY … FROM STDIN` on the handles the sink is given, without a driver import or an extra package:
 * - `pg`: through pg's own extension point, a submittable query (an object with `submit`, the one
 *   pg-cursor and pg-copy-streams plug into), which receives the connection and writes the COPY
 *   sub-protocol's messages with the `sendCopyFromChunk`, `endCopyFrom` and `sendCopyFail` methods of
 *   pg's `Connection` (present in every pg 8 release);
 * - PGlite: `COPY … FROM '/dev/blob'` with the rows handed over as the query's `blob` option.
 * Anything else (a pool wrapper of your own, pg-native, a pg `Client` in pipeline mode) cannot, and
 * the sink uses `INSERT … unnest` instead.
 * @module
 */
import { keepsConnection, type Queryable, type QueryResultLike } from './connection.js';

/** Where COPY data comes from: the next piece of text rows, or `undefined` at the end; throws for a row it cannot encode. */
export interface CopySource {
  next(): string | undefined;
}

/** The methods of pg's `Connection` (pg/lib/connection.js) that the COPY sub-protocol needs. */
interface PgConnection {
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  readonly stream?: NodeJS.WritableStream & { readonly writableNeedDrain?: boolean };
}

/** A pg `Client` (or `PoolClient`) as far as COPY is concerned. */
interface PgClient {
  readonly connection: PgConnection;
  query(submittable: CopyFromStdin): unknown;
}

/** A PGlite instance or transaction: its `query` takes a third `options` argument with `blob`. */
interface PGliteLike {
  query(text: string, params: unknown[], options: { blob: Blob }): Promise<QueryResultLike>;
}

/** How a handle can run COPY, or `undefined` when it cannot. */
export type CopyCapability = 'pg' | 'pglite' | undefined;

/** Whether `db` can run `COPY … FROM STDIN` (pg) or `FROM '/dev/blob'` (PGlite). */
export function copyCapability(db: Queryable): CopyCapability {
  const candidate = db as unknown as Partial<PgClient> & {
    pipeline?: unknown;
    exec?: unknown;
    sql?: unknown;
  };
  const connection = candidate.connection as Partial<PgConnection> | undefined;
  if (
    typeof connection === 'object' &&
    connection !== null &&
    typeof connection.sendCopyFromChunk === 'function' &&
    typeof connection.endCopyFrom === 'function' &&
    typeof connection.sendCopyFail === 'function' &&
    // pg refuses custom submittables in pipeline mode.
    candidate.pipeline !== true
  ) {
    return 'pg';
  }
  // PGlite and its transactions; pg's clients have neither `exec` nor `sql`.
  if (typeof candidate.exec === 'function' && typeof candidate.sql === 'function') return 'pglite';
  return undefined;
}

/** Whether `db` looks like a pg client that cannot COPY (pg-native, pipeline mode): worth a notice. */
export function looksLikePg(db: Queryable): boolean {
  const candidate = db as { processID?: unknown; connect?: unknown; native?: unknown };
  return 'processID' in candidate || candidate.native !== undefined;
}

/**
 * Runs `COPY {target} FROM STDIN` on a pg client, streaming the pieces of `source` as it encodes
 * them (the server parses one while the next is encoded), and resolves with the rows copied. The
 * COPY is abandoned with a CopyFail message, which makes the server roll it back, when `signal`
 * aborts while pieces are still being sent (it then rejects with the server's SQLSTATE 57014,
 * query_canceled) or when `source` throws (it then rejects with what `source` threw).
 */
export function copyWithPg(
  client: Queryable,
  target: string,
  source: CopySource,
  signal: AbortSignal | undefined,
): Promise<QueryResultLike> {
  return new Promise((resolve, reject) => {
    (client as unknown as PgClient).query(
      new CopyFromStdin(`COPY ${target} FROM STDIN`, source, signal, resolve, reject),
    );
  });
}

/** Runs `COPY {target} FROM '/dev/blob'` on PGlite with `pieces` as the blob. */
export function copyWithPGlite(
  db: Queryable,
  target: string,
  pieces: readonly string[],
): Promise<QueryResultLike> {
  return (db as unknown as PGliteLike).query(`COPY ${target} FROM '/dev/blob'`, [], {
    blob: new Blob(pieces as string[]),
  });
}

/**
 * pg's submittable protocol: `submit(connection)` when the client is ready, then `handle…` calls for
 * the server's messages. A server error arrives as `handleError` (then pg skips `handleReadyForQuery`);
 * a lost connection arrives as `handleError` too, with no message after it.
 */
class CopyFromStdin {
  /** pg sets this when a `query_timeout` applies, and clears its timer when it is called. */
  callback: ((error: Error | null, result?: QueryResultLike) => void) | undefined;
  #text: string;
  #source: CopySource;
  /** What the source threw: the COPY was failed for it, and the query rejects with it. */
  #sourceError: unknown;
  #signal: AbortSignal | undefined;
  #resolve: (result: QueryResultLike) => void;
  #reject: (error: unknown) => void;
  #rowCount: number | null = null;
  #settled = false;

  constructor(
    text: string,
    source: CopySource,
    signal: AbortSignal | undefined,
    resolve: (result: QueryResultLike) => void,
    reject: (error: unknown) => void,
  ) {
    this.#text = text;
    this.#source = source;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  submit(connection: PgConnection & { query(text: string): void }): void {
    connection.query(this.#text);
  }

  handleCopyInResponse(connection: PgConnection): void {
    this.#send(connection).catch((error: unknown) => this.#fail(error));
  }

  /** Sends the pieces, waiting for the socket to drain between them, and stops early on abort or failure. */
  async #send(connection: PgConnection): Promise<void> {
    for (;;) {
      if (this.#settled) return; // failed meanwhile: the server ignores the rest anyway
      if (this.#signal?.aborted) {
        connection.sendCopyFail('data-buffer: the flush was cancelled');
        return;
      }
      let piece: string | undefined;
      try {
        piece = this.#source.next();
      } catch (error) {
        this.#sourceError = error;
        connection.sendCopyFail('data-buffer: a row of the batch could not be encoded');
        return;
      }
      if (piece === undefined) break;
      connection.sendCopyFromChunk(Buffer.from(piece, 'utf8'));
      const stream = connection.stream;
      if (stream?.writableNeedDrain === true) await drained(stream, this.#signal);
    }
    if (this.#settled) return;
    if (this.#signal?.aborted) connection.sendCopyFail('data-buffer: the flush was cancelled');
    else connection.endCopyFrom();
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)/.exec(message.text ?? '');
    if (match !== null) this.#rowCount = Number(match[1]);
  }

  handleReadyForQuery(): void {
    if (this.#settled) return;
    this.#settled = true;
    const result = { rowCount: this.#rowCount };
    this.callback?.(null, result);
    this.#resolve(result);
  }

  handleError(error: Error): void {
    // After our CopyFail the server's answer is an ordinary error: the connection stays in step.
    this.#fail(this.#sourceError === undefined ? error : keepsConnection(this.#sourceError));
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.callback?.(error instanceof Error ? error : new Error(String(error)));
    this.#reject(error);
  }

  // Messages a COPY FROM never gets; pg calls them on any active query.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Resolves when `stream` drains, closes or errors, or `signal` aborts: whichever comes first. */
function drained(stream: NodeJS.WritableStream, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.removeListener('drain', done);
      stream.removeListener('close', done);
      stream.removeListener('error', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
    stream.once('error', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
