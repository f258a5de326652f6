/**
 * The buffers of this process that are not closed yet, held weakly: a buffer nobody references can
 * still be collected. `closeOnSignals()` closes them all, whichever copy of the package (ESM or
 * CommonJS build) made them.
 * @module
 */
import type { CloseOptions, CloseReport } from './data-buffer.js';
import { processWide } from './process-state.js';

/** Anything that closes like a DataBuffer. */
export interface Closable {
  /** Delivers what it holds within `options.timeout` ms, as {@link DataBuffer.close} does. */
  close(options?: CloseOptions): Promise<CloseReport>;
}

/**
 * The live buffers of every copy of the package in this process (see {@link processWide}): the
 * registry below and the `WeakRef`s are this copy's, the set is shared.
 */
const live = processWide('live-buffers', () => new Set<WeakRef<Closable>>());
const forgetCollected = new FinalizationRegistry<WeakRef<Closable>>((ref) => live.delete(ref));
const refs = new WeakMap<Closable, WeakRef<Closable>>();

/** Records a new buffer as live. */
export function registerLive(buffer: Closable): void {
  const ref = new WeakRef(buffer);
  refs.set(buffer, ref);
  live.add(ref);
  forgetCollected.register(buffer, ref, ref);
}

/** Records that a buffer closed. */
export function unregisterLive(buffer: Closable): void {
  const ref = refs.get(buffer);
  if (ref === undefined) return;
  live.delete(ref);
  forgetCollected.unregister(ref);
  refs.delete(buffer);
}

/** The live buffers now. */
export function liveBuffers(): Closable[] {
  const buffers: Closable[] = [];
  for (const ref of live) {
    const buffer = ref.deref();
    if (buffer !== undefined) buffers.push(buffer);
  }
  return buffers;
}
