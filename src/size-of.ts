/**
 * The default `sizeOf`: a cheap estimate of the heap bytes one buffered item holds, for `maxBufferedBytes`.
 * @module
 */

/** Fields and elements looked at per object; past it, the rest are assumed to be as large on average. */
const MAX_FIELDS = 64;
/** Nesting looked into; deeper objects count as a flat 64 bytes. */
const MAX_DEPTH = 3;

/**
 * Estimates the bytes an item keeps alive: strings by length, Buffers and typed arrays by byte length,
 * arrays and plain objects by a shallow walk (at most 64 fields, 3 levels deep). It is an estimate that
 * errs high, made to be cheap on the insert path, not a heap snapshot.
 */
export function estimateSize(value: unknown): number {
  // It runs on every insert under the default `maxBufferedBytes`: numbers and strings skip the switch.
  if (typeof value === 'number') return 8;
  if (typeof value === 'string') return 16 + value.length * 2;
  return sizeAt(value, 0);
}

/** {@link sizeAt} for a field or an element, with the common primitives inline (no recursive call). */
function fieldSize(value: unknown, depth: number): number {
  if (typeof value === 'number') return 8;
  if (typeof value === 'string') return 16 + value.length * 2;
  return sizeAt(value, depth);
}

function sizeAt(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'undefined':
    case 'symbol':
      return 8;
    case 'boolean':
      return 4;
    case 'bigint':
      return 16 + Math.ceil(value.toString(16).length / 2);
    case 'function':
      return 64;
    default:
      return value === null ? 8 : objectSize(value as object, depth);
  }
}

function objectSize(value: object, depth: number): number {
  if (ArrayBuffer.isView(value)) return 64 + value.byteLength;
  if (value instanceof ArrayBuffer) return 32 + value.byteLength;
  if (depth >= MAX_DEPTH) return 64;
  if (Array.isArray(value)) {
    const seen = Math.min(value.length, MAX_FIELDS);
    let total = 0;
    for (let i = 0; i < seen; i++) total += fieldSize(value[i], depth + 1);
    return 16 + (seen === 0 ? 0 : (total / seen) * value.length) + value.length * 8;
  }
  if (value instanceof Date) return 32;
  let total = 32;
  let fields = 0;
  for (const name in value) {
    if (fields++ === MAX_FIELDS) break;
    total += 8 + fieldSize((value as Record<string, unknown>)[name], depth + 1);
  }
  return total;
}
