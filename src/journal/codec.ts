/**
 * How keys and values are stored: each as a tagged field `[u8 tag][u32 length][bytes]`, so that what
 * went in comes back as the same kind of thing after a restart: a string stays a string, a `Buffer` a
 * `Buffer`, the number `1` the number `1` (JSON alone would turn a `Buffer` into an object and give no
 * way to tell the string `'1'` from the number).
 *
 * Defaults: values that are strings or `Uint8Array`s are stored as they are (a `Uint8Array` comes back
 * as a `Buffer`), anything else as JSON. Keys must be primitives (string, number, bigint, boolean,
 * `null`, `undefined`): the buffer compares keys with `SameValueZero`, so an object key read back after
 * a restart would be a different key. A custom `serialize` / `serializeKey` takes over completely.
 * @module
 */
import { messageOf, show, typeError } from './errors.js';
import { type Input, Output } from './output.js';

/** Field tags. Stable: they are on disk. */
export const Tag = Object.freeze({
  JSON: 1,
  STRING: 2,
  BYTES: 3,
  CUSTOM_STRING: 4,
  CUSTOM_BYTES: 5,
  NUMBER: 6,
  BIGINT: 7,
  TRUE: 8,
  FALSE: 9,
  NULL: 10,
  UNDEFINED: 11,
});

/**
 * Where the JSON text of a value field lies, when the default codec wrote the value as JSON
 * (`[tag JSON][u32 byteLength][utf-8 JSON]`): `bytes[start + 5, end)`. `-1` for any other field.
 */
export function jsonTextStart(bytes: Uint8Array, start: number): number {
  return bytes[start] === Tag.JSON ? start + 5 : -1;
}

/** What a custom serializer returns, and its deserializer gets back. */
export type Serialized = string | Uint8Array;

/** Turns keys or values into fields and back. */
export interface Codec<T> {
  /** Appends `value` as one field; throws a `TypeError` (`ERR_JOURNAL_UNSERIALIZABLE`) naming it when refused. */
  encode(out: Output, value: T): void;
  /** Reads one field. */
  decode(input: Input): T;
}

function refused(what: 'key' | 'value', value: unknown, why: string, cause?: unknown): TypeError {
  return typeError(
    'ERR_JOURNAL_UNSERIALIZABLE',
    `The journal cannot store the ${what} ${show(value)}: ${why}`,
    cause,
  );
}

function writeRaw(out: Output, tag: number, data: Uint8Array): void {
  out.u8(tag);
  out.u32(data.byteLength);
  out.bytes(data);
}

function writeSerialized(out: Output, what: 'key' | 'value', value: unknown, data: unknown): void {
  if (typeof data === 'string') {
    out.u8(Tag.CUSTOM_STRING);
    out.string(data);
  } else if (data instanceof Uint8Array) {
    writeRaw(out, Tag.CUSTOM_BYTES, data);
  } else {
    throw refused(what, value, `the serializer returned ${show(data)}; expected a string or a Uint8Array`);
  }
}

function readSerialized(input: Input, tag: number): Serialized {
  const length = input.u32();
  const bytes = input.bytes(length);
  return tag === Tag.CUSTOM_STRING ? bytes.toString('utf8') : Buffer.from(bytes);
}

/** The default value codec: strings and bytes as they are, anything else as JSON. */
function defaultValueCodec<V>(): Codec<V> {
  return {
    encode(out, value) {
      if (typeof value === 'string') {
        out.u8(Tag.STRING);
        out.string(value);
        return;
      }
      if (value instanceof Uint8Array) {
        writeRaw(out, Tag.BYTES, value);
        return;
      }
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (error) {
        throw refused(
          'value',
          value,
          `JSON.stringify failed (${messageOf(error)}); give \`serialize\``,
          error,
        );
      }
      if (json === undefined) {
        throw refused('value', value, 'JSON has no representation of it; give `serialize`');
      }
      out.u8(Tag.JSON);
      out.string(json);
    },
    decode(input) {
      const tag = input.u8();
      if (tag === Tag.STRING) return input.string() as V;
      if (tag === Tag.JSON) return JSON.parse(input.string()) as V;
      if (tag === Tag.BYTES) return Buffer.from(input.bytes(input.u32())) as V;
      if (tag === Tag.CUSTOM_STRING || tag === Tag.CUSTOM_BYTES) {
        throw new TypeError(
          'the value was written with a custom `serialize`; give the matching `deserialize`',
        );
      }
      throw new RangeError(`unknown value tag ${tag}`);
    },
  };
}

/** The default key codec: primitives only. */
function defaultKeyCodec<K>(): Codec<K> {
  return {
    encode(out, key) {
      switch (typeof key) {
        case 'string':
          out.u8(Tag.STRING);
          out.string(key);
          return;
        case 'number':
          out.u8(Tag.NUMBER);
          out.u32(8);
          out.f64(key);
          return;
        case 'bigint':
          out.u8(Tag.BIGINT);
          out.string(key.toString());
          return;
        case 'boolean':
          out.u8(key ? Tag.TRUE : Tag.FALSE);
          out.u32(0);
          return;
        case 'undefined':
          out.u8(Tag.UNDEFINED);
          out.u32(0);
          return;
        default:
          if (key === null) {
            out.u8(Tag.NULL);
            out.u32(0);
            return;
          }
          throw refused(
            'key',
            key,
            typeof key === 'object'
              ? 'object keys are compared by identity, so after a restart no key would match it; use a string or number key, or give `serializeKey`/`deserializeKey`'
              : `a ${typeof key} cannot be written down and read back as the same key; use a string or number key`,
          );
      }
    },
    decode(input) {
      const tag = input.u8();
      switch (tag) {
        case Tag.STRING:
          return input.string() as K;
        case Tag.NUMBER:
          input.u32();
          return input.f64() as K;
        case Tag.BIGINT:
          return BigInt(input.string()) as K;
        case Tag.TRUE:
        case Tag.FALSE:
        case Tag.NULL:
        case Tag.UNDEFINED:
          input.u32();
          return (
            tag === Tag.TRUE ? true : tag === Tag.FALSE ? false : tag === Tag.NULL ? null : undefined
          ) as K;
        default:
          throw new RangeError(`unknown key tag ${tag}`);
      }
    },
  };
}

/** A codec over the user's `serialize` / `deserialize` pair. */
function customCodec<T>(
  what: 'key' | 'value',
  serialize: (value: T) => Serialized,
  deserialize: (data: Serialized) => T,
): Codec<T> {
  return {
    encode(out, value) {
      let data: unknown;
      try {
        data = serialize(value);
      } catch (error) {
        throw refused(what, value, `the serializer threw: ${messageOf(error)}`, error);
      }
      writeSerialized(out, what, value, data);
    },
    decode(input) {
      const tag = input.u8();
      if (tag !== Tag.CUSTOM_STRING && tag !== Tag.CUSTOM_BYTES) {
        throw new TypeError(`the ${what} was written without a custom serializer (tag ${tag})`);
      }
      return deserialize(readSerialized(input, tag));
    },
  };
}

/** The value codec for the options given. */
export function valueCodec<V>(
  serialize: ((value: V) => Serialized) | undefined,
  deserialize: ((data: Serialized) => V) | undefined,
): Codec<V> {
  return serialize && deserialize ? customCodec('value', serialize, deserialize) : defaultValueCodec<V>();
}

/** The key codec for the options given. */
export function keyCodec<K>(
  serialize: ((key: K) => Serialized) | undefined,
  deserialize: ((data: Serialized) => K) | undefined,
): Codec<K> {
  return serialize && deserialize ? customCodec('key', serialize, deserialize) : defaultKeyCodec<K>();
}

const scratch = new Output(256);

/** One key encoded on its own (a line caches it, so that records about the key copy bytes). */
export function encodeKey<K>(codec: Codec<K>, key: K): Buffer {
  scratch.pos = 0;
  codec.encode(scratch, key);
  return Buffer.from(scratch.buffer.subarray(0, scratch.pos));
}
