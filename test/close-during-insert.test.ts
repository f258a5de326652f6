import { describe, expect, it } from 'vitest';
import { BufferClosedError, DataBuffer } from '../src/index.js';
import { recordingSink, silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/** `close()` called by user code that an insert runs: every item is delivered or refused, none stranded. */
describe('close() from inside an insert', () => {
  it('an insertMany iterable that closes partway: both items are delivered', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    const buffer = new DataBuffer<string, number>({ handleFlush });
    let closing: Promise<unknown> | undefined;
    buffer.insertMany(
      'k',
      (function* () {
        yield 1;
        closing = buffer.close();
        yield 2;
      })(),
    );
    await closing;
    expect(calls.flatMap((c) => c.items)).toEqual([1, 2]);
    expect(buffer.size).toBe(0);
    expect(buffer.stats()).toMatchObject({ flushed: 2, buffered: 0 });
  });

  it('a sizeOf that closes: the item is delivered, the next insert refused', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    let closing: Promise<unknown> | undefined;
    const buffer: DataBuffer<string, number> = new DataBuffer<string, number>({
      handleFlush,
      maxBufferedBytes: 1000,
      sizeOf: (value) => {
        if (value === 2) closing = buffer.close();
        return 1;
      },
    });
    buffer.insertMany('k', [1, 2, 3]);
    expect(() => buffer.insert('k', 4)).toThrow(BufferClosedError);
    await closing;
    expect(calls.flatMap((c) => c.items)).toEqual([1, 2, 3]);
    expect(buffer.size).toBe(0);
  });

  it('an onDrop that closes: what was accepted is delivered, what was dropped is counted', async () => {
    const { calls, handleFlush } = recordingSink<string, number>();
    let closing: Promise<unknown> | undefined;
    const buffer: DataBuffer<string, number> = new DataBuffer<string, number>({
      handleFlush,
      maxBuffered: 2,
      onFull: 'drop-oldest',
      onDrop: () => {
        closing ??= buffer.close();
      },
      logger: silentLogger(),
    });
    buffer.insertMany('k', [1, 2, 3, 4]);
    await closing;
    expect(calls.flatMap((c) => c.items)).toEqual([3, 4]);
    expect(buffer.stats()).toMatchObject({ flushed: 2, dropped: 2, buffered: 0 });
  });
});
