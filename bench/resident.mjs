/**
 * Buffers that live for the whole benchmark process, as a buffer lives for hours in a service.
 *
 * Each measured run builds a new DataBuffer, and the harness forces a full garbage collection before every
 * run. With no buffer left alive at that moment, V8 collects the object shapes (maps) of the library's
 * classes, since it holds them weakly; the next run then finds its optimized code keyed on shapes that
 * no longer exist, throws it away (`--trace-deopt`: "wrong map", "insufficient type feedback") and runs
 * cold again. A service never sees that. These buffers, one per store kind, each with a batch in flight
 * and a batch open, keep every shape alive; they never deliver and never hold the process open.
 * @module
 */
import { DataBuffer } from 'data-buffer';

const resident = [];

export function keepResidentBuffers() {
  // Byte budget off, sampled (the defaults; both a Map of arrays) and exact (a sizeOf of one's own: batch records).
  for (const options of [{ maxBufferedBytes: Number.POSITIVE_INFINITY }, {}, { sizeOf: () => 8 }]) {
    const buffer = new DataBuffer({
      handleFlush: () => new Promise(() => {}),
      interval: 3_600_000,
      flushTimeout: Number.POSITIVE_INFINITY,
      flushOnExit: false,
      ...options,
    });
    buffer.insert('in flight', 0);
    void buffer.flush('in flight');
    buffer.insert('open', 0);
    resident.push(buffer);
  }
}
