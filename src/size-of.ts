/**
 * The default `sizeOf`: an estimate of the heap bytes one buffered item keeps alive, for
 * `maxBufferedBytes`. It runs on every insert, so it is bounded in cost; it reads only data
 * properties, so no user code runs (getters, Proxy traps); and where it cannot look, it assumes a
 * large figure, so it errs high rather than low.
 * @module
 */
import { types } from 'node:util';

/** Nesting looked into; an object deeper than this counts {@link UNSEEN} bytes. */
const MAX_DEPTH = 8;
/**
 * Values (fields, elements, entries) looked at per item. Past it, the rest of an array, `Map` or
 * `Set` is assumed to be as large on average as what was seen, and any object not yet looked into
 * counts {@link UNSEEN} bytes.
 */
const MAX_VISITS = 4096;
/** Bytes assumed for an object the walk does not look into: past the bounds, a Proxy, a `WeakMap`. */
const UNSEEN = 4096;
/** Bytes assumed for an accessor property, whose getter is never called. */
const ACCESSOR = 64;
/** Bytes assumed for an Error's stack when the engine keeps it behind an accessor (formatted lazily). */
const STACK = 2048;
/** What an item counts when walking it failed in a way not foreseen (an exotic host object). */
const FALLBACK = 1024 * 1024;
/** Node's pool for small Buffers: a view onto an ArrayBuffer of at most this size counts its own bytes only. */
const POOL_SIZE = 8192;

/** Values left to look at in the current estimate; reset by {@link estimateSize}, which never re-enters. */
let visitsLeft = 0;

// The engine's own accessors, read once: a subclass or an own property cannot stand in for them.
const getOwn = Object.getOwnPropertyDescriptor;
const getProto = Object.getPrototypeOf;
const ObjectPrototype = Object.prototype;
const mapSize = intrinsicGetter(Map.prototype, 'size');
const mapEntries = Map.prototype.entries;
const setSize = intrinsicGetter(Set.prototype, 'size');
const setValues = Set.prototype.values;
const TypedArrayPrototype = getProto(Uint8Array.prototype) as object;
const typedArrayBuffer = intrinsicGetter(TypedArrayPrototype, 'buffer');
const typedArrayBytes = intrinsicGetter(TypedArrayPrototype, 'byteLength');
const dataViewBuffer = intrinsicGetter(DataView.prototype, 'buffer');
const dataViewBytes = intrinsicGetter(DataView.prototype, 'byteLength');
const arrayBufferBytes = intrinsicGetter(ArrayBuffer.prototype, 'byteLength');
const sharedBufferBytes = intrinsicGetter(SharedArrayBuffer.prototype, 'byteLength');

function intrinsicGetter(prototype: object, name: string): (this: unknown) => number | object {
  return getOwn(prototype, name)?.get as (this: unknown) => number | object;
}

/**
 * Estimates the bytes an item keeps alive, erring high:
 * - a string counts 16 + 2 per character (each item holding a string counts it, even one shared with other items);
 * - an `ArrayBuffer` its byte length; a typed array, `Buffer` or `DataView` the whole `ArrayBuffer` it
 *   views, except a view onto one of 8 KiB or less (Node's pool of small Buffers), which counts its own bytes;
 * - arrays, plain objects and class instances their own enumerable data properties, `Map`s and `Set`s
 *   their entries, `Error`s their message, stack, `cause`, `errors` and own fields, all walked 8 levels
 *   deep and at most 4096 values per item: past that, the rest of an array, Map, Set or object counts as the
 *   average of what was seen, and an object not looked into counts 4 KiB;
 * - an accessor property 64 bytes (its getter is never called), a Proxy 4 KiB (its traps never run),
 *   a `WeakMap`, `WeakSet` or `Promise` 4 KiB, a function 64 bytes, a `Date` 32.
 * What it cannot see: `#private` fields, non-enumerable properties (other than an Error's), symbol
 * keys and what closures capture; pass your own `sizeOf` for items that hold data there. It never
 * throws: anything it cannot walk counts 1 MiB.
 */
export function estimateSize(value: unknown): number {
  // It runs on every insert under the default `maxBufferedBytes`: numbers and strings skip the walk.
  if (typeof value === 'number') return 8;
  if (typeof value === 'string') return 16 + value.length * 2;
  return walk(value);
}

/** Everything but numbers and strings; kept apart so that {@link estimateSize} stays small enough to inline. */
function walk(value: unknown): number {
  visitsLeft = MAX_VISITS;
  try {
    return sizeAt(value, 0);
  } catch {
    return FALLBACK;
  }
}

/** {@link sizeAt} for a field or an element, with the common primitives inline (no call). */
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

/** The size of one data property's value; an accessor counts {@link ACCESSOR}, an absent property 0. */
function propertySize(object: object, name: string | number, depth: number): number {
  const descriptor = getOwn(object, name);
  if (descriptor === undefined) return 0;
  return 'value' in descriptor ? fieldSize(descriptor.value, depth) : ACCESSOR;
}

function objectSize(value: object, depth: number): number {
  // Before anything else: every other check on a Proxy (even `Array.isArray` on a revoked one) runs
  // its traps or throws.
  if (types.isProxy(value)) return UNSEEN;
  // Binary data costs nothing to measure, so it is measured at any depth.
  if (ArrayBuffer.isView(value)) return 64 + viewBytes(value);
  if (depth >= MAX_DEPTH || visitsLeft <= 0) return UNSEEN;
  if (Array.isArray(value)) return arraySize(value, depth);
  const proto = getProto(value);
  if (proto === ObjectPrototype || proto === null) return 32 + fieldsSize(value, depth);
  if (types.isArrayBuffer(value)) return 32 + (arrayBufferBytes.call(value) as number);
  if (types.isSharedArrayBuffer(value)) return 32 + (sharedBufferBytes.call(value) as number);
  if (types.isMap(value)) return 64 + mapContents(value as Map<unknown, unknown>, depth);
  if (types.isSet(value)) return 64 + setContents(value as Set<unknown>, depth);
  if (types.isDate(value)) return 32;
  if (types.isNativeError(value)) return 64 + errorContents(value as Error, depth) + fieldsSize(value, depth);
  if (types.isWeakMap(value) || types.isWeakSet(value) || types.isPromise(value)) return UNSEEN;
  return 32 + fieldsSize(value, depth);
}

/** A view keeps its whole `ArrayBuffer` alive, unless that is Node's shared pool of small Buffers. */
function viewBytes(view: ArrayBufferView): number {
  const isDataView = types.isDataView(view);
  const own = (isDataView ? dataViewBytes : typedArrayBytes).call(view) as number;
  const backing = (isDataView ? dataViewBuffer : typedArrayBuffer).call(view) as ArrayBufferLike;
  const whole = types.isArrayBuffer(backing)
    ? (arrayBufferBytes.call(backing) as number)
    : (sharedBufferBytes.call(backing) as number);
  return whole <= POOL_SIZE ? own : Math.max(own, whole);
}

function arraySize(array: unknown[], depth: number): number {
  const length = array.length;
  let total = 0;
  let seen = 0;
  // One visit per element, and its contents take theirs: a long array of objects is sampled, not
  // cut short with every element past the budget counted as unseen.
  while (seen < length && visitsLeft > 0) {
    visitsLeft--;
    total += propertySize(array, seen, depth + 1);
    seen++;
  }
  return 16 + length * 8 + (seen === 0 ? 0 : (total / seen) * length);
}

/** Own enumerable data properties: 8 bytes of slot each, plus what the value holds. */
function fieldsSize(object: object, depth: number): number {
  let total = 0;
  let seen = 0;
  for (const name in object) {
    if (visitsLeft <= 0) {
      // Counting the rest costs one pass over the keys, without reading a value.
      const all = Object.keys(object).length;
      return seen === 0 ? all * UNSEEN : (total / seen) * all;
    }
    visitsLeft--;
    seen++;
    total += 8 + propertySize(object, name, depth + 1);
  }
  return total;
}

function mapContents(map: Map<unknown, unknown>, depth: number): number {
  const size = mapSize.call(map) as number;
  const entries = mapEntries.call(map);
  let total = 0;
  let seen = 0;
  while (seen < size && visitsLeft > 0) {
    const next = entries.next();
    if (next.done === true) break;
    visitsLeft--;
    seen++;
    total += 24 + fieldSize(next.value[0], depth + 1) + fieldSize(next.value[1], depth + 1);
  }
  return seen === 0 ? size * UNSEEN : (total / seen) * size;
}

function setContents(set: Set<unknown>, depth: number): number {
  const size = setSize.call(set) as number;
  const values = setValues.call(set);
  let total = 0;
  let seen = 0;
  while (seen < size && visitsLeft > 0) {
    const next = values.next();
    if (next.done === true) break;
    visitsLeft--;
    seen++;
    total += 16 + fieldSize(next.value, depth + 1);
  }
  return seen === 0 ? size * UNSEEN : (total / seen) * size;
}

/** An Error's own non-enumerable data: `message`, `stack`, `cause` and an AggregateError's `errors`. */
function errorContents(error: Error, depth: number): number {
  const stack = getOwn(error, 'stack');
  const stackSize = stack === undefined ? 0 : 'value' in stack ? fieldSize(stack.value, depth + 1) : STACK;
  return (
    stackSize +
    propertySize(error, 'message', depth + 1) +
    propertySize(error, 'cause', depth + 1) +
    propertySize(error, 'errors', depth + 1)
  );
}
