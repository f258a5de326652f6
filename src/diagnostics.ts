/**
 * Telemetry through `node:diagnostics_channel`. The channels are created once, here; every publish is
 * guarded by `hasSubscribers`, so a process that does not listen pays nothing.
 *
 * | channel | payload | when |
 * |---|---|---|
 * | `tracing:data-buffer:flush:{start,end,asyncStart,asyncEnd,error}` | {@link FlushTraceContext} | around every `handleFlush` attempt |
 * | `data-buffer:insert` | {@link InsertMessage} | every `insert` / `insertMany` that stored items |
 * | `data-buffer:retry` | {@link RetryMessage} | an attempt failed and a retry is scheduled |
 * | `data-buffer:drop` | {@link DropMessage} | items dropped under `onFull` |
 * | `data-buffer:error` | {@link ErrorMessage} | a batch is handed to `handleError` |
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { DropReason, FailureReason } from './options.js';

/** Context of the `data-buffer:flush` tracing channel: one per attempt. */
export interface FlushTraceContext {
  /** The buffer that flushes. */
  readonly buffer: object;
  readonly key: unknown;
  readonly items: readonly unknown[];
  readonly batchId: string;
  readonly attempt: number;
  readonly partition: number;
  /** Set by the channel on `error`: what the attempt threw or rejected with. */
  error?: unknown;
  /** Set by the channel on `asyncEnd`: what the handler resolved to. */
  result?: unknown;
}

/** Payload of `data-buffer:insert`. */
export interface InsertMessage {
  readonly buffer: object;
  readonly key: unknown;
  /** The items stored by this call. */
  readonly items: readonly unknown[];
}

/** Payload of `data-buffer:retry`. */
export interface RetryMessage {
  readonly buffer: object;
  readonly key: unknown;
  readonly batchId: string;
  /** The attempt that failed (1 based). */
  readonly attempt: number;
  /** Items in the batch. */
  readonly count: number;
  readonly error: Error;
  /** Wait before the next attempt, in ms. */
  readonly delay: number;
}

/** Payload of `data-buffer:drop`. */
export interface DropMessage {
  readonly buffer: object;
  readonly key: unknown;
  readonly items: readonly unknown[];
  readonly reason: DropReason;
}

/** Payload of `data-buffer:error`. */
export interface ErrorMessage {
  readonly buffer: object;
  readonly key: unknown;
  readonly items: readonly unknown[];
  readonly batchId: string;
  readonly error: Error;
  readonly reason: FailureReason;
}

/** Names of the channels, for `diagnostics_channel.subscribe(name, …)`. */
export const channelNames = Object.freeze({
  flush: 'data-buffer:flush',
  insert: 'data-buffer:insert',
  retry: 'data-buffer:retry',
  drop: 'data-buffer:drop',
  error: 'data-buffer:error',
});

/** The channels, created once for the whole process. @internal */
export const channels = {
  flush: diagnosticsChannel.tracingChannel<string, FlushTraceContext>(channelNames.flush),
  insert: diagnosticsChannel.channel(channelNames.insert),
  retry: diagnosticsChannel.channel(channelNames.retry),
  drop: diagnosticsChannel.channel(channelNames.drop),
  error: diagnosticsChannel.channel(channelNames.error),
};

/**
 * Whether anyone listens to the flush tracing channel. `TracingChannel#hasSubscribers` is missing
 * before Node 20.13, so fall back to its sub-channels.
 */
export function hasFlushSubscribers(): boolean {
  const tracing = channels.flush as unknown as {
    hasSubscribers?: boolean;
    start: { hasSubscribers: boolean };
    end: { hasSubscribers: boolean };
    asyncStart: { hasSubscribers: boolean };
    asyncEnd: { hasSubscribers: boolean };
    error: { hasSubscribers: boolean };
  };
  if (typeof tracing.hasSubscribers === 'boolean') return tracing.hasSubscribers;
  return (
    tracing.start.hasSubscribers ||
    tracing.end.hasSubscribers ||
    tracing.asyncStart.hasSubscribers ||
    tracing.asyncEnd.hasSubscribers ||
    tracing.error.hasSubscribers
  );
}
