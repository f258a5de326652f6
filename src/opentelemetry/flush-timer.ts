/**
 * Times every `handleFlush` attempt of one buffer through the `data-buffer:flush` tracing channel.
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames, type FlushTraceContext } from '../diagnostics.js';
import { now } from '../timers.js';

/** One timed attempt: how long the handler ran, and what it failed with (`undefined` when it succeeded). */
export interface TimedAttempt {
  /** From the call of `handleFlush` until its promise settled, in seconds. */
  readonly seconds: number;
  /** Whether the attempt failed. */
  readonly failed: boolean;
  /** What the attempt threw or rejected with, when it failed. */
  readonly error: unknown;
}

/**
 * Calls `onAttempt` once per settled `handleFlush` attempt of `buffer`. Returns the function that
 * unsubscribes. While subscribed, the buffer runs every attempt of every buffer in the process through
 * `tracePromise` (a small cost per flush, none per insert).
 */
export function timeFlushes(buffer: object, onAttempt: (attempt: TimedAttempt) => void): () => void {
  const channel = diagnosticsChannel.tracingChannel<string, FlushTraceContext>(channelNames.flush);
  // Keyed by the attempt's context object, which the channel passes to every event of one attempt.
  const startedAt = new WeakMap<FlushTraceContext, number>();
  const onStart = (message: unknown) => {
    const context = message as FlushTraceContext;
    if (context.buffer === buffer) startedAt.set(context, now());
  };
  // `asyncEnd` follows every attempt, resolved or rejected: the core always traces an async function.
  const onAsyncEnd = (message: unknown) => {
    const context = message as FlushTraceContext;
    const started = startedAt.get(context);
    if (started === undefined) return;
    startedAt.delete(context);
    const failed = Object.hasOwn(context, 'error');
    onAttempt({ seconds: (now() - started) / 1000, failed, error: context.error });
  };
  channel.start.subscribe(onStart);
  channel.asyncEnd.subscribe(onAsyncEnd);
  return () => {
    channel.start.unsubscribe(onStart);
    channel.asyncEnd.unsubscribe(onAsyncEnd);
  };
}
