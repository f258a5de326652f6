/**
 * The default `sizeOf` (`estimateSize`): it errs high on what an item keeps alive, in bounded time, and
 * never runs user code (getters, Proxy traps) or throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataBuffer, estimateSize } from '../src/index.js';

const MB = 1024 * 1024;
/** A string of `n` characters that is not shared with any other test value. */
const text = (n: number, fill = 'x') => fill.repeat(n);

describe('the default sizeOf', () => {
  it('counts what Maps, Sets and Errors hold', () => {
    expect(estimateSize(new Map([['k', text(MB)]]))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new Map([[text(MB), 1]]))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new Set([text(MB)]))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new Error(text(MB)))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new Error('x', { cause: text(MB) }))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(Object.assign(new Error('x'), { detail: text(MB) }))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new AggregateError([new Error(text(MB))]))).toBeGreaterThanOrEqual(MB);
  });

  it('counts binary data by its bytes, and a small view of a large ArrayBuffer by the whole buffer', () => {
    expect(estimateSize(new ArrayBuffer(MB))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new Float64Array(MB / 8))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(Buffer.alloc(MB))).toBeGreaterThanOrEqual(MB);
    expect(estimateSize(new DataView(new ArrayBuffer(MB)))).toBeGreaterThanOrEqual(MB);
    // `subarray` keeps the whole megabyte alive.
    expect(estimateSize(Buffer.alloc(MB).subarray(0, 10))).toBeGreaterThanOrEqual(MB);
    // Small Buffers share Node's 8 KiB pool: one is counted by its own length, not the pool's.
    expect(estimateSize(Buffer.from('abc'))).toBeLessThan(1024);
  });

  it('counts data nested several levels deep', () => {
    expect(estimateSize({ a: { b: { c: { d: text(MB) } } } })).toBeGreaterThanOrEqual(MB);
    expect(estimateSize([[[[text(MB)]]]])).toBeGreaterThanOrEqual(MB);
    expect(estimateSize({ a: [{ b: new Map([['c', { d: text(MB) }]]) }] })).toBeGreaterThanOrEqual(MB);
  });

  it('counts every field of an object with many fields', () => {
    // The first 64 fields are small; the 36 after them hold 1 MB each.
    const wide: Record<string, string> = {};
    for (let i = 0; i < 100; i++)
      wide[`f${i}`] = i < 64 ? 'small' : text(MB, String.fromCharCode(65 + (i % 26)));
    expect(estimateSize(wide)).toBeGreaterThanOrEqual(36 * MB);
  });

  it('errs high past its bounds: deeper than it looks, or more than it visits', () => {
    let deep: unknown = text(10);
    for (let i = 0; i < 50; i++) deep = { next: deep };
    // 50 levels of small objects: past the depth bound each unseen object counts a large flat figure.
    expect(estimateSize(deep)).toBeGreaterThanOrEqual(50 * 40);
    const many = Array.from({ length: 100_000 }, (_, i) => ({ id: i, name: `n${i}` }));
    expect(estimateSize(many)).toBeGreaterThanOrEqual(100_000 * 40);
  });

  it('counts a string held by an item, even when other items hold the same string', () => {
    const path = text(1000);
    const item = { path, user: 'u', at: 1 };
    expect(estimateSize(item)).toBeGreaterThanOrEqual(1000);
    expect(estimateSize({ ...item })).toBe(estimateSize(item));
  });

  it('never runs a getter, and counts an accessor as a fixed amount', () => {
    let calls = 0;
    const item = {
      get big() {
        calls++;
        return text(MB);
      },
      get broken(): string {
        calls++;
        throw new Error('getter ran');
      },
    };
    const size = estimateSize(item);
    expect(calls).toBe(0);
    expect(size).toBeGreaterThan(0);
    expect(Number.isFinite(size)).toBe(true);
    const arrayWithGetter = [1, 2];
    Object.defineProperty(arrayWithGetter, 0, {
      get() {
        calls++;
        return 0;
      },
    });
    estimateSize(arrayWithGetter);
    expect(calls).toBe(0);
  });

  it('never runs Proxy traps and never throws: revoked Proxies, throwing traps, cycles', () => {
    let traps = 0;
    const handler: ProxyHandler<object> = {
      get() {
        traps++;
        throw new Error('trap ran');
      },
      ownKeys() {
        traps++;
        throw new Error('trap ran');
      },
      getPrototypeOf() {
        traps++;
        throw new Error('trap ran');
      },
      getOwnPropertyDescriptor() {
        traps++;
        throw new Error('trap ran');
      },
    };
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const cyclicMap = new Map<string, unknown>();
    cyclicMap.set('self', cyclicMap);
    for (const value of [new Proxy({}, handler), revoked, { inner: revoked }, cyclic, cyclicMap]) {
      const size = estimateSize(value);
      expect(Number.isFinite(size) && size > 0).toBe(true);
    }
    expect(traps).toBe(0);
  });

  it('is what the buffer counts when no sizeOf is given: a throwing getter does not make insert throw', () => {
    const buffer = new DataBuffer<string, unknown>({ handleFlush: () => {}, flushOnExit: false });
    const item = {
      get x(): never {
        throw new Error('getter ran');
      },
    };
    expect(() => buffer.insert('k', item)).not.toThrow();
    expect(buffer.size).toBe(1);
  });

  it('keeps 100 MB of Maps out of a 10 MiB budget', () => {
    const buffer = new DataBuffer<string, Map<string, string>>({
      handleFlush: () => {},
      flushOnExit: false,
      maxBufferedBytes: 10 * MB,
      onFull: 'drop-newest',
      onDrop: () => {},
      logger: { warn: () => {}, error: () => {} },
    });
    let accepted = 0;
    for (let i = 0; i < 100; i++)
      if (buffer.insert('k', new Map([['v', text(MB, String(i % 10))]]))) accepted++;
    expect(accepted).toBeLessThanOrEqual(10);
  });

  it('keeps its figures for primitives', () => {
    expect(estimateSize(1)).toBe(8);
    expect(estimateSize('abcd')).toBe(24);
    expect(estimateSize(true)).toBe(4);
    expect(estimateSize(null)).toBe(8);
    expect(estimateSize(undefined)).toBe(8);
  });

  it('for any value: a finite figure, at least twice the characters of every string it holds', () => {
    /** The characters of every string reachable through values (not object keys), each occurrence counted. */
    const characters = (value: unknown): number => {
      if (typeof value === 'string') return value.length;
      if (value === null || typeof value !== 'object') return 0;
      if (value instanceof Map) return [...value].reduce((n, [k, v]) => n + characters(k) + characters(v), 0);
      if (value instanceof Set) return [...value].reduce((n, v) => n + characters(v), 0);
      return Object.values(value).reduce((n: number, v) => n + characters(v), 0);
    };
    fc.assert(
      fc.property(
        fc.anything({
          maxDepth: 6,
          withMap: true,
          withSet: true,
          withBigInt: true,
          withDate: true,
          withTypedArray: true,
          withSparseArray: true,
          withNullPrototype: true,
          withBoxedValues: true,
        }),
        (value) => {
          const size = estimateSize(value);
          expect(Number.isFinite(size) && size >= 0).toBe(true);
          expect(size).toBeGreaterThanOrEqual(2 * characters(value));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
