import { describe, expectTypeOf, it } from 'vitest';
import {
  type CloseReport,
  createDataBuffer,
  DataBuffer,
  type DataBufferOptions,
  type DataBufferStats,
  type ErrorInfo,
  type FlushInfo,
} from '../src/index.js';

interface PageView {
  path: string;
  at: number;
}

describe('types', () => {
  it('infers handler parameters from the type arguments', () => {
    new DataBuffer<string, PageView, { table: string }>({
      meta: { table: 'views' },
      handleFlush: (key, items, info) => {
        expectTypeOf(key).toEqualTypeOf<string>();
        expectTypeOf(items).toEqualTypeOf<PageView[]>();
        expectTypeOf(info).toEqualTypeOf<FlushInfo<{ table: string }>>();
        expectTypeOf(info.signal).toEqualTypeOf<AbortSignal>();
        expectTypeOf(info.batchId).toEqualTypeOf<string>();
      },
      handleError: (_key, _items, error, info) => {
        expectTypeOf(error).toEqualTypeOf<Error>();
        expectTypeOf(info).toEqualTypeOf<ErrorInfo<{ table: string }>>();
      },
    });
  });

  it('types the methods', () => {
    const buffer = new DataBuffer<string, PageView>({ handleFlush: () => {} });
    expectTypeOf(buffer.insert).parameters.toEqualTypeOf<[string, PageView]>();
    expectTypeOf(buffer.insert).returns.toEqualTypeOf<boolean>();
    expectTypeOf(buffer.dump()).toEqualTypeOf<Map<string, PageView[]>>();
    expectTypeOf(buffer.close()).toEqualTypeOf<Promise<CloseReport>>();
    expectTypeOf(buffer.stats()).toEqualTypeOf<DataBufferStats>();
    // @ts-expect-error: the value type is checked
    buffer.insert('/', { path: 1 });
    // @ts-expect-error: the key type is checked
    buffer.insert(1, { path: '/', at: 0 });
  });

  it('rejects unknown options and wrong option types', () => {
    // @ts-expect-error: onFull is a closed set
    const bad: DataBufferOptions<string, number> = { onFull: 'wait' };
    // @ts-expect-error: interval is a number of ms
    const alsoBad: DataBufferOptions<string, number> = { interval: '5s' };
    expectTypeOf(bad).not.toBeNever();
    expectTypeOf(alsoBad).not.toBeNever();
  });

  it('supports the subclass form', () => {
    class Buffer extends DataBuffer<string, number> {
      override async handleFlush(key: string, items: number[]): Promise<void> {
        expectTypeOf(key).toEqualTypeOf<string>();
        expectTypeOf(items).toEqualTypeOf<number[]>();
      }
    }
    expectTypeOf(new Buffer({ interval: 10 })).toMatchTypeOf<DataBuffer<string, number>>();
  });

  it('createDataBuffer requires handleFlush; the constructor cannot, for subclasses', () => {
    const buffer = createDataBuffer<string, PageView>({ handleFlush: () => {}, interval: 10 });
    expectTypeOf(buffer).toEqualTypeOf<DataBuffer<string, PageView, unknown>>();
    // @ts-expect-error handleFlush is required by the factory
    createDataBuffer<string, PageView>({ interval: 10 });
    // @ts-expect-error handleFlush is required by the factory
    createDataBuffer<string, PageView>({});
    // The module form: a subclass with no constructor of its own is built with options and no handleFlush.
    class Views extends DataBuffer<string, PageView> {
      override handleFlush(_key: string, _items: PageView[]): void {}
    }
    expectTypeOf(new Views({ interval: 10 })).toEqualTypeOf<Views>();
    expectTypeOf(new Views()).toEqualTypeOf<Views>();
    // What TypeScript cannot see: Views inherits this same constructor signature, so it cannot require
    // handleFlush; `new DataBuffer({})` compiles and throws ERR_INVALID_ARG_TYPE when run.
    expectTypeOf(new DataBuffer<string, PageView>({})).toEqualTypeOf<DataBuffer<string, PageView>>();
  });

  it('types writable() by the buffer: keyOf takes an item and returns a key', () => {
    const buffer = new DataBuffer<string, { path: string }>({ handleFlush: () => {} });
    buffer.writable((item) => {
      expectTypeOf(item).toEqualTypeOf<{ path: string }>();
      return item.path;
    });
    // @ts-expect-error the key must be a string
    buffer.writable((item) => item.path.length);
    expectTypeOf(buffer.writable).returns.toEqualTypeOf<import('node:stream').Writable>();
  });
});
