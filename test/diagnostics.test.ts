import diagnosticsChannel, { type TracingChannelSubscribers } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { channels } from '../src/diagnostics.js';
import {
  channelNames,
  DataBuffer,
  type DropMessage,
  type ErrorMessage,
  type FlushInfo,
  type FlushTraceContext,
  type InsertMessage,
  NonRetryableError,
  type RetryMessage,
  ShutdownError,
} from '../src/index.js';
import { deferred, silentLogger } from './helpers.js';

const cleanups: (() => void)[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Subscribes to a plain channel for the rest of the test; returns what it receives. */
function listen<T>(name: string, onMessage?: (message: T) => void): T[] {
  const messages: T[] = [];
  const subscriber = (message: unknown) => {
    messages.push(message as T);
    onMessage?.(message as T);
  };
  diagnosticsChannel.subscribe(name, subscriber);
  cleanups.push(() => diagnosticsChannel.unsubscribe(name, subscriber));
  return messages;
}

type TraceEvent = keyof TracingChannelSubscribers<object>;
interface Traced {
  event: TraceEvent;
  context: FlushTraceContext;
}

/** Subscribes to every event of the flush tracing channel; returns them in order. */
function traceFlushes(): Traced[] {
  const events: Traced[] = [];
  const on = (event: TraceEvent) => (context: FlushTraceContext) => events.push({ event, context });
  const subscribers: TracingChannelSubscribers<FlushTraceContext> = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  };
  const channel = diagnosticsChannel.tracingChannel<string, FlushTraceContext>(channelNames.flush);
  channel.subscribe(subscribers);
  cleanups.push(() => channel.unsubscribe(subscribers));
  return events;
}

describe('channel names', () => {
  it('are the documented ones', () => {
    expect(channelNames).toEqual({
      flush: 'data-buffer:flush',
      insert: 'data-buffer:insert',
      retry: 'data-buffer:retry',
      drop: 'data-buffer:drop',
      error: 'data-buffer:error',
      lateAck: 'data-buffer:late-ack',
    });
    expect(Object.isFrozen(channelNames)).toBe(true);
  });
});

describe('data-buffer:flush (tracing channel)', () => {
  it('wraps a successful attempt: start before the handler runs, asyncEnd once its promise resolves', async () => {
    const events = traceFlushes();
    const done = deferred<string>();
    let seenByHandler: TraceEvent[] = [];
    let info: FlushInfo | undefined;
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      partitions: 4,
      handleFlush: (_key, _items, flushInfo) => {
        seenByHandler = events.map((e) => e.event);
        info = flushInfo;
        return done.promise;
      },
    });
    buffer.insertMany('k', [1, 2]);
    await vi.advanceTimersByTimeAsync(100);
    expect(seenByHandler).toEqual(['start']);
    expect(events.map((e) => e.event)).toEqual(['start', 'end']);

    done.resolve('written');
    await vi.advanceTimersByTimeAsync(0);
    expect(events.map((e) => e.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const context = events[0]!.context;
    // One context object per attempt: a subscriber can hang a span on it at start and end it at asyncEnd.
    expect(events.every((e) => e.context === context)).toBe(true);
    expect(context).toMatchObject({
      buffer,
      key: 'k',
      items: [1, 2],
      batchId: info!.batchId,
      attempt: 1,
      partition: info!.partition,
      result: 'written',
    });
    expect(context.error).toBeUndefined();
  });

  it('traces each attempt of a retried batch, with its error, the same batchId and a growing attempt', async () => {
    const events = traceFlushes();
    const failure = new Error('connection reset');
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryDelay: 50,
      handleFlush: async (_key, _items, info) => {
        if (info.attempt === 1) throw failure;
      },
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(100);
    expect(events.map((e) => e.event)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    const first = events[0]!.context;
    expect(first).toMatchObject({ key: 'k', items: [1], attempt: 1, error: failure });

    await vi.advanceTimersByTimeAsync(50);
    const second = events[5]!.context;
    expect(events.slice(5).map((e) => e.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(second).not.toBe(first);
    expect(second).toMatchObject({ key: 'k', items: [1], attempt: 2, batchId: first.batchId });
    expect(second.error).toBeUndefined();
  });

  it('traces a handler that throws synchronously as a failed attempt', async () => {
    const events = traceFlushes();
    const failure = new Error('sync failure');
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 1,
      handleError: () => {},
      handleFlush: () => {
        throw failure;
      },
    });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(100);
    expect(events.map((e) => e.event)).toContain('error');
    expect(events[0]!.context).toMatchObject({ buffer, key: 'k', attempt: 1, error: failure });
  });

  it('names the buffer in the context, so one subscriber can tell several buffers apart', async () => {
    const events = traceFlushes();
    const handleFlush = async () => {};
    const first = new DataBuffer<string, number>({ interval: 100, handleFlush });
    const second = new DataBuffer<string, number>({ interval: 100, handleFlush });
    first.insert('a', 1);
    second.insert('b', 2);
    await vi.advanceTimersByTimeAsync(100);
    const starts = events.filter((e) => e.event === 'start').map((e) => e.context);
    expect(starts.find((c) => c.key === 'a')?.buffer).toBe(first);
    expect(starts.find((c) => c.key === 'b')?.buffer).toBe(second);
  });
});

describe('data-buffer:insert', () => {
  // Without byte accounting, inserts take a quick path that must still see the subscriber.
  it.each([
    { accounting: 'with byte accounting', options: {} },
    { accounting: 'without byte accounting', options: { maxBufferedBytes: Number.POSITIVE_INFINITY } },
  ])(
    'publishes each stored insert once the item is held, and one message per insertMany ($accounting)',
    ({ options }) => {
      const buffer = new DataBuffer<string, number>({ handleFlush: () => {}, ...options });
      const heldWhenPublished: number[] = [];
      const messages = listen<InsertMessage>(channelNames.insert, (message) => {
        heldWhenPublished.push(buffer.count(message.key as string));
      });
      buffer.insert('a', 1);
      buffer.insertMany('b', [2, 3, 4]);
      buffer.insertMany('c', []);
      expect(messages).toEqual([
        { buffer, key: 'a', items: [1] },
        { buffer, key: 'b', items: [2, 3, 4] },
      ]);
      expect(heldWhenPublished).toEqual([1, 3]);
    },
  );

  it('leaves out the items refused under onFull: drop-newest', () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      maxBuffered: 2,
      onFull: 'drop-newest',
      logger: silentLogger(),
    });
    const messages = listen<InsertMessage>(channelNames.insert);
    buffer.insert('a', 1);
    buffer.insertMany('a', [2, 3, 4]);
    buffer.insert('a', 5);
    expect(messages.map((m) => m.items)).toEqual([[1], [2]]);
  });
});

describe('data-buffer:retry', () => {
  it('publishes the failed attempt, the batch size, the error and the wait before the next attempt', async () => {
    const attemptsAt: number[] = [];
    const failure = new Error('deadlock');
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 3,
      retryBackoff: (attempt) => attempt * 100,
      handleFlush: async (_key, _items, info) => {
        attemptsAt.push(Date.now());
        if (info.attempt < 3) throw failure;
      },
    });
    const messages = listen<RetryMessage>(channelNames.retry);
    buffer.insertMany('k', [1, 2, 3]);
    await vi.advanceTimersByTimeAsync(100);
    expect(messages).toHaveLength(1);
    const [first] = messages;
    expect(first).toEqual({
      buffer,
      key: 'k',
      batchId: expect.any(String),
      attempt: 1,
      count: 3,
      error: failure,
      delay: 100,
    });
    await vi.advanceTimersByTimeAsync(300);
    expect(messages.map((m) => [m.attempt, m.delay])).toEqual([
      [1, 100],
      [2, 200],
    ]);
    expect(messages[1]!.batchId).toBe(first!.batchId);
    // `delay` is the real wait: each retry starts exactly that long after the failure.
    expect(attemptsAt.map((t) => t - attemptsAt[0]!)).toEqual([0, 100, 300]);
  });

  it('is not published for the last attempt, which goes to handleError instead', async () => {
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 2,
      retryDelay: 10,
      handleError: () => {},
      handleFlush: async () => {
        throw new Error('down');
      },
    });
    const retries = listen<RetryMessage>(channelNames.retry);
    const errors = listen<ErrorMessage>(channelNames.error);
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(200);
    expect(retries.map((m) => m.attempt)).toEqual([1]);
    expect(errors).toHaveLength(1);
  });
});

describe('data-buffer:drop', () => {
  it('publishes the refused item under onFull: drop-newest, once it is counted', () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      maxBuffered: 2,
      onFull: 'drop-newest',
      logger: silentLogger(),
    });
    const droppedWhenPublished: number[] = [];
    const messages = listen<DropMessage>(channelNames.drop, () => {
      droppedWhenPublished.push(buffer.stats().dropped);
    });
    buffer.insert('a', 1);
    buffer.insert('a', 2);
    buffer.insert('b', 3);
    expect(messages).toEqual([{ buffer, key: 'b', items: [3], reason: 'drop-newest' }]);
    expect(droppedWhenPublished).toEqual([1]);
  });

  it('publishes the evicted items under the key they were buffered under with onFull: drop-oldest', () => {
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => {},
      maxBuffered: 3,
      onFull: 'drop-oldest',
      logger: silentLogger(),
    });
    const messages = listen<DropMessage>(channelNames.drop);
    buffer.insertMany('old', [1, 2]);
    buffer.insert('new', 3);
    buffer.insertMany('new', [4, 5]);
    expect(messages).toEqual([
      { buffer, key: 'old', items: [1], reason: 'drop-oldest' },
      { buffer, key: 'old', items: [2], reason: 'drop-oldest' },
    ]);
  });
});

describe('data-buffer:error', () => {
  it('publishes a batch whose retries are spent before handleError receives it', async () => {
    const order: string[] = [];
    const failure = new Error('down');
    const handleError = vi.fn(() => {
      order.push('handleError');
    });
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 2,
      retryDelay: 10,
      handleError,
      handleFlush: async () => {
        throw failure;
      },
    });
    const messages = listen<ErrorMessage>(channelNames.error, () => order.push('published'));
    buffer.insertMany('k', [1, 2]);
    await vi.advanceTimersByTimeAsync(110);
    expect(order).toEqual(['published', 'handleError']);
    const batchId = (
      handleError.mock.calls[0] as unknown as [string, number[], Error, { batchId: string }]
    )[3].batchId;
    expect(messages).toEqual([
      { buffer, key: 'k', items: [1, 2], batchId, error: failure, reason: 'retries-exhausted' },
    ]);
  });

  it('carries the reason: non-retryable and shutdown', async () => {
    const stuck = deferred();
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      handleError: () => {},
      handleFlush: (key) => {
        if (key === 'bad') throw new NonRetryableError('constraint violation');
        return stuck.promise;
      },
    });
    const messages = listen<ErrorMessage>(channelNames.error);
    buffer.insert('bad', 1);
    await vi.advanceTimersByTimeAsync(100);
    buffer.insert('slow', 2);
    const closing = buffer.close({ timeout: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    await closing;
    expect(messages.map((m) => [m.key, m.reason])).toEqual([
      ['bad', 'non-retryable'],
      ['slow', 'shutdown'],
    ]);
    expect(messages[0]!.error).toBeInstanceOf(NonRetryableError);
    expect(messages[1]!.error).toBeInstanceOf(ShutdownError);
  });
});

describe('with no subscriber', () => {
  it('publishes nothing and builds no payload: no publish, no trace wrapper', async () => {
    const publishes = [
      vi.spyOn(channels.insert, 'publish'),
      vi.spyOn(channels.retry, 'publish'),
      vi.spyOn(channels.drop, 'publish'),
      vi.spyOn(channels.error, 'publish'),
      vi.spyOn(channels.flush.start, 'publish'),
      vi.spyOn(channels.flush, 'tracePromise'),
      vi.spyOn(channels.flush, 'traceSync'),
    ];
    const buffer = new DataBuffer<string, number>({
      interval: 100,
      retryMax: 2,
      retryDelay: 10,
      maxBuffered: 6,
      onFull: 'drop-newest',
      logger: silentLogger(),
      handleError: () => {},
      handleFlush: async (key, _items, info) => {
        if (key === 'bad' || (key === 'flaky' && info.attempt === 1)) throw new Error('down');
      },
    });
    buffer.insert('good', 1);
    buffer.insertMany('flaky', [2, 3]);
    buffer.insertMany('bad', [4, 5, 6]);
    buffer.insert('good', 7); // full: dropped
    await vi.advanceTimersByTimeAsync(200);

    // The run went through every path that would publish...
    expect(buffer.stats()).toMatchObject({ inserted: 7, flushed: 3, retried: 2, failed: 3, dropped: 1 });
    // ...and none of them published or wrapped the flush in a trace.
    for (const spy of publishes) expect(spy).not.toHaveBeenCalled();
  });
});
