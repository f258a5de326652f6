/**
 * The typed way to make a buffer from options: `handleFlush` is required by the type, so forgetting it
 * is a compile error, which `new DataBuffer({…})` cannot give (see {@link createDataBuffer}).
 * @module
 */
import { DataBuffer } from './data-buffer.js';
import type { DataBufferOptions, FlushHandler } from './options.js';

/** {@link DataBufferOptions} with `handleFlush` required: the options of {@link createDataBuffer}. */
export type DataBufferOptionsWithFlush<K, V, M = unknown> = DataBufferOptions<K, V, M> & {
  /** Writes a batch: see {@link DataBufferOptions.handleFlush}. Required here. */
  handleFlush: FlushHandler<K, V, M>;
};

/**
 * `new DataBuffer(options)`, with `handleFlush` required by the type.
 *
 * Why a function: a subclass without a constructor of its own inherits `DataBuffer`'s constructor
 * signature, and the README's module form (`class X extends DataBuffer { handleFlush() {…} }`, then
 * `new X({ interval })`) must compile. So the constructor's type cannot require `handleFlush`, and
 * `new DataBuffer({ interval })` compiles; it throws a `TypeError` (`ERR_INVALID_ARG_TYPE`) when run.
 * This function has no subclasses to serve, so here the omission is a type error.
 *
 * @example
 * ```ts
 * const buffer = createDataBuffer<string, PageView>({
 *   handleFlush: async (path, views) => db.insertViews(path, views),
 *   interval: 10_000,
 * });
 * ```
 * @throws TypeError / RangeError when an option is invalid, as the constructor does.
 */
export function createDataBuffer<K = unknown, V = unknown, M = unknown>(
  options: DataBufferOptionsWithFlush<K, V, M>,
): DataBuffer<K, V, M> {
  return new DataBuffer<K, V, M>(options);
}
