/**
 * A buffer as an object-mode `Writable`, so that `await pipeline(source, toWritable(buffer, keyOf))`
 * feeds it with the buffer's backpressure and ends once what it wrote is flushed.
 * @module
 */
import { Writable } from 'node:stream';
import type { DataBuffer } from './data-buffer.js';
import { describe } from './errors.js';

/** What {@link toWritable} needs of a buffer. */
export type WritableTarget<K, V> = Pick<DataBuffer<K, V>, 'insert' | 'ready' | 'flush'>;

/** Options of {@link toWritable}. */
export interface ToWritableOptions {
  /**
   * Items the stream itself may queue while the buffer is full, before `write()` returns `false` on
   * that account too (the stream's own `highWaterMark`).
   * @default 16
   */
  highWaterMark?: number;
}

/**
 * An object-mode `Writable` that inserts each item it is written into `buffer` under `keyOf(item)`.
 *
 * - **Backpressure.** `write()` returns `false` once `insert` did (the buffer is full), and the stream
 *   emits `'drain'` once `buffer.ready()` says there is room again; the item that filled the buffer is
 *   stored, as with `insert`. `pipeline` and `pipe` wait for `'drain'` on their own.
 * - **End.** `final` (after `end()`, or the source's end in `pipeline`) flushes every key the stream
 *   wrote to and resolves once those items are handled: delivered, or handed to `handleError`. Other
 *   keys of the buffer keep their schedule; the buffer stays open.
 * - **Errors.** The stream fails with what `keyOf` or `insert` throws (`BufferClosedError` after
 *   `close()`, `BufferFullError` under `onFull: 'throw'`). A failed flush does not fail the stream:
 *   the buffer retries it and hands it to `handleError`, as for any insert.
 *
 * The stream remembers each key it wrote to until `final`, for that flush.
 *
 * @param buffer - the buffer to insert into.
 * @param keyOf - the key of an item.
 * @param options - the stream's own queue.
 * @returns a new object-mode `Writable`; each call makes another.
 * @throws TypeError when `keyOf` is not a function or an option is invalid.
 *
 * @example
 * ```ts
 * import { pipeline } from 'node:stream/promises';
 * await pipeline(rows, toWritable(buffer, (row) => row.path)); // resolves once the rows are flushed
 * ```
 */
export function toWritable<K, V>(
  buffer: WritableTarget<K, V>,
  keyOf: (item: V) => K,
  options: ToWritableOptions = {},
): Writable {
  if (typeof (buffer as Partial<WritableTarget<K, V>> | null)?.insert !== 'function') {
    throw new TypeError(`Expected \`buffer\` to be a DataBuffer, got ${describe(buffer)}`);
  }
  if (typeof keyOf !== 'function') {
    throw new TypeError(
      `Expected \`keyOf\` to be a function that returns an item's key, got ${describe(keyOf)}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected the options to be an object, got ${describe(options)}`);
  }
  const { highWaterMark = 16 } = options;
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
    throw new TypeError(`Expected \`highWaterMark\` to be an integer >= 1, got ${describe(highWaterMark)}`);
  }
  return new BufferWritable(buffer, keyOf, highWaterMark);
}

/** The stream of {@link toWritable}. */
class BufferWritable<K, V> extends Writable {
  readonly #buffer: WritableTarget<K, V>;
  readonly #keyOf: (item: V) => K;
  /** Keys written to since the start: `final` flushes them. */
  readonly #keys = new Set<K>();
  /** Ends a wait for room when the stream is destroyed. */
  readonly #destroyed = new AbortController();
  /** The buffer said it is full, and has not had room since. */
  #full = false;
  /** `write()` returned `false` because the buffer was full: emit 'drain' once it has room. */
  #owesDrain = false;

  constructor(buffer: WritableTarget<K, V>, keyOf: (item: V) => K, highWaterMark: number) {
    super({ objectMode: true, highWaterMark });
    this.#buffer = buffer;
    this.#keyOf = keyOf;
  }

  // The stream's own `write()` answers from its queue alone, computed before `_write` runs; the
  // buffer's answer comes from `insert`, inside `_write`. Both must say "go on".
  override write(
    chunk: V,
    encoding?: BufferEncoding | ((error?: Error | null) => void),
    callback?: (error?: Error | null) => void,
  ): boolean {
    const queueHasRoom = super.write(chunk, encoding as BufferEncoding, callback);
    if (queueHasRoom && this.#full) {
      this.#owesDrain = true;
      return false;
    }
    return queueHasRoom;
  }

  override _write(item: V, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let hasRoom: boolean;
    try {
      const key = this.#keyOf(item);
      hasRoom = this.#buffer.insert(key, item);
      this.#keys.add(key);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (hasRoom) {
      callback();
      return;
    }
    // Full: the item is stored (or dropped under 'drop-newest'); take the next one once there is room.
    this.#full = true;
    this.#buffer.ready({ signal: this.#destroyed.signal }).then(
      () => {
        this.#full = false;
        callback(); // may write queued items at once, and fill the buffer again
        if (this.#owesDrain && !this.#full) {
          this.#owesDrain = false;
          this.emit('drain');
        }
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    const keys = [...this.#keys];
    this.#keys.clear();
    Promise.all(keys.map((key) => this.#buffer.flush(key))).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#destroyed.abort(error ?? new Error('The stream was destroyed'));
    callback(error);
  }
}
