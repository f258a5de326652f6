/**
 * `toWritable(buffer, keyOf)`: a buffer as an object-mode Writable, with the buffer's backpressure and
 * a `final` that waits for the flush of what was written.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it, vi } from 'vitest';
import { BufferClosedError, DataBuffer, toWritable } from '../src/index.js';
import { deferred, silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

interface Row {
  readonly path: string;
  readonly n: number;
}

/** Runs fake time on until `promise` settles; returns what it settled with. */
async function settle<T>(promise: Promise<T>, stepMs = 10): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => {});
  for (let i = 0; i < 100_000 && !done; i++) await vi.advanceTimersByTimeAsync(stepMs);
  return watched;
}

describe('toWritable', () => {
  it('lets pipeline feed a slow sink without outgrowing maxBuffered, and resolves once every row is flushed', async () => {
    const flushed: Row[] = [];
    let mostHeld = 0;
    const buffer: DataBuffer<string, Row> = new DataBuffer<string, Row>({
      maxBuffered: 50,
      maxSize: 10,
      interval: 1000,
      flushOnExit: false,
      handleFlush: async (_path, rows) => {
        await new Promise((resolve) => setTimeout(resolve, 100)); // a slow database: 100 ms a batch
        flushed.push(...rows);
      },
    });
    const rows = Array.from({ length: 1000 }, (_, n) => ({ path: `/p${n % 3}`, n }));
    const source = Readable.from(rows);
    source.on('data', () => {
      mostHeld = Math.max(mostHeld, buffer.size);
    });

    await settle(
      pipeline(
        source,
        toWritable(buffer, (row: Row) => row.path),
      ),
    );

    // Every row delivered by the time pipeline resolves, in order within each path.
    expect(flushed).toHaveLength(1000);
    for (const path of ['/p0', '/p1', '/p2']) {
      const ns = flushed.filter((row) => row.path === path).map((row) => row.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
    // Backpressure: the source waited; the item that fills the buffer is stored, no more.
    expect(mostHeld).toBeLessThanOrEqual(51);
    expect(buffer.size).toBe(0);
    expect(buffer.closed).toBe(false); // the buffer outlives the stream
    await buffer.close();
  });

  it("returns false from write() once the buffer is full, and emits 'drain' when it has room", async () => {
    const sink = deferred();
    const buffer = new DataBuffer<string, number>({
      maxBuffered: 2,
      flushOnExit: false,
      handleFlush: () => sink.promise,
    });
    const writable = toWritable(buffer, () => 'k');
    let drained = 0;
    writable.on('drain', () => drained++);

    expect(writable.write(1)).toBe(true);
    expect(writable.write(2)).toBe(false); // the buffer now holds maxBuffered items
    expect(buffer.count('k')).toBe(2); // and the item that filled it is stored
    expect(writable.write(3)).toBe(false); // waits in the stream's queue

    void buffer.flush('k');
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toBe(0); // the batch is in flight: still full
    sink.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toBe(1);
    expect(buffer.count('k')).toBe(1); // 3 went in once there was room
    await buffer.close();
  });

  it('finishes only after the keys it wrote are flushed, without closing the buffer', async () => {
    const sink = deferred();
    const calls: string[][] = [];
    const buffer = new DataBuffer<string, string>({
      interval: 60_000,
      flushOnExit: false,
      handleFlush: (_key, items) => {
        calls.push(items);
        return sink.promise;
      },
    });
    buffer.insert('other', 'not written by the stream');
    const writable = toWritable(buffer, (item: string) => item.split(':')[0] as string);
    let finished = false;
    writable.on('finish', () => {
      finished = true;
    });
    writable.write('a:1');
    writable.end('b:2');

    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([['a:1']]); // one partition: 'b' waits behind 'a'
    expect(finished).toBe(false); // the flush is in flight
    sink.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([['a:1'], ['b:2']]);
    expect(finished).toBe(true);
    expect(buffer.count('other')).toBe(1); // other keys keep their schedule
    await buffer.close();
  });

  it('stops waiting for room when destroyed, and the item that filled the buffer stays in it', async () => {
    const sink = deferred();
    const buffer = new DataBuffer<string, number>({
      maxBuffered: 1,
      flushOnExit: false,
      handleFlush: () => sink.promise,
    });
    const writable = toWritable(buffer, () => 'k');
    writable.on('error', () => {});
    expect(writable.write(1)).toBe(false);
    writable.destroy(new Error('client went away'));
    await vi.advanceTimersByTimeAsync(0);

    expect(writable.destroyed).toBe(true);
    expect(buffer.count('k')).toBe(1); // inserted items are the buffer's: flushed as any other
    sink.resolve();
    await buffer.close();
    expect(buffer.stats().flushed).toBe(1);
  });

  it('fails the stream with what keyOf or insert throws', async () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      flushOnExit: false,
      logger: silentLogger(),
    });
    const broken = new Error('no key');
    await expect(
      pipeline(
        Readable.from([1]),
        toWritable(buffer, () => {
          throw broken;
        }),
      ),
    ).rejects.toBe(broken);

    await buffer.close();
    await expect(
      pipeline(
        Readable.from([1]),
        toWritable(buffer, () => 'k'),
      ),
    ).rejects.toBeInstanceOf(BufferClosedError);
  });

  it('rejects bad arguments, naming them', () => {
    const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, flushOnExit: false });
    expect(() => toWritable(buffer, 'path' as never)).toThrow(
      "Expected `keyOf` to be a function that returns an item's key, got",
    );
    expect(() => toWritable({} as never, () => 'k')).toThrow('Expected `buffer` to be a DataBuffer, got');
    expect(() => toWritable(buffer, () => 'k', { highWaterMark: 0 })).toThrow(
      'Expected `highWaterMark` to be an integer >= 1, got `0` (number)',
    );
  });
});

describe('buffer.writable', () => {
  it('is toWritable on the buffer: pipeline into it resolves once the rows are flushed', async () => {
    const flushed: [string, Row[]][] = [];
    const buffer = new DataBuffer<string, Row>({
      interval: 60_000,
      flushOnExit: false,
      handleFlush: async (path, rows) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        flushed.push([path, rows]);
      },
    });
    const rows = [
      { path: '/a', n: 1 },
      { path: '/b', n: 2 },
      { path: '/a', n: 3 },
    ];
    await settle(
      pipeline(
        Readable.from(rows),
        buffer.writable((row) => row.path, { highWaterMark: 4 }),
      ),
    );
    expect(flushed).toEqual([
      ['/a', [rows[0], rows[2]]],
      ['/b', [rows[1]]],
    ]);
    expect(buffer.size).toBe(0);
    expect(buffer.closed).toBe(false);
    await buffer.close();
  });

  it('rejects a keyOf that is not a function, naming it', () => {
    const buffer = new DataBuffer<string, Row>({ handleFlush: () => {}, flushOnExit: false });
    expect(() => buffer.writable('path' as never)).toThrow(
      "Expected `keyOf` to be a function that returns an item's key, got `'path'` (string)",
    );
  });
});
