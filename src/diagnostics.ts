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
 * | `data-buffer:late-ack` | {@link LateAckMessage} | a shared store refused the ack of a claimed batch whose lease was lost |
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { DropReason, FailureReason } from './options.js';

/** Context of the `data-buffer:flush` tracing channel: one per attempt. */
export interface FlushTraceContext {
  /** The buffer that flushes. */
  readonly buffer: object;
  /** The batch's key. */
  readonly key: unknown;
  /** The batch, as `handleFlush` receives it; do not mutate it. */
  readonly items: readonly unknown[];
  /** The batch's id, as `info.batchId`; the same on every attempt of the batch. */
  readonly batchId: string;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** The partition (0 based) running the attempt. */
  readonly partition: number;
  /** Set by the channel on `error`: what the attempt threw or rejected with. */
  error?: unknown;
  /** Set by the channel on `asyncEnd`: what the handler resolved to. */
  result?: unknown;
}

/** Payload of `data-buffer:insert`. */
export interface InsertMessage {
  /** The buffer inserted into. */
  readonly buffer: object;
  /** The key the items were inserted under. */
  readonly key: unknown;
  /** The items stored by this call. */
  readonly items: readonly unknown[];
}

/** Payload of `data-buffer:retry`. */
export interface RetryMessage {
  /** The buffer that will retry. */
  readonly buffer: object;
  /** The batch's key. */
  readonly key: unknown;
  /** The batch's id, the same on every attempt. */
  readonly batchId: string;
  /** The attempt that failed (1 based). */
  readonly attempt: number;
  /** Items in the batch. */
  readonly count: number;
  /** What the attempt threw or rejected with (non-errors wrapped in an `Error`). */
  readonly error: Error;
  /** Wait before the next attempt, in ms. */
  readonly delay: number;
}

/** Payload of `data-buffer:drop`. */
export interface DropMessage {
  /** The buffer that dropped the items. */
  readonly buffer: object;
  /** The key the items were (or were to be) inserted under. */
  readonly key: unknown;
  /** The dropped items, as `onDrop` receives them. */
  readonly items: readonly unknown[];
  /** `'drop-newest'`: the insert was refused; `'drop-oldest'`: buffered items were evicted for it. */
  readonly reason: DropReason;
}

/** Payload of `data-buffer:error`. */
export interface ErrorMessage {
  /** The buffer that gave up on the batch. */
  readonly buffer: object;
  /** The batch's key. */
  readonly key: unknown;
  /** The batch, as `handleError` receives it. */
  readonly items: readonly unknown[];
  /** The batch's id, as `handleFlush` saw it. */
  readonly batchId: string;
  /** The error `handleError` receives: the last attempt's, or a timeout or shutdown error. */
  readonly error: Error;
  /** Why the batch was not delivered. */
  readonly reason: FailureReason;
}

/** Payload of `data-buffer:late-ack`. */
export interface LateAckMessage {
  /** The buffer whose ack was refused. */
  readonly buffer: object;
  /** The batch's key. */
  readonly key: unknown;
  /** The batch's id: another delivery of it (by this process or another) has the same id. */
  readonly batchId: string;
  /** Items in the batch: expect them delivered again. */
  readonly count: number;
}

/** Names of the channels, for `diagnostics_channel.subscribe(name, …)`. */
export const channelNames = Object.freeze({
  /** Tracing channel around every `handleFlush` attempt; context {@link FlushTraceContext}. */
  flush: 'data-buffer:flush',
  /** Items stored by `insert` / `insertMany`; payload {@link InsertMessage}. */
  insert: 'data-buffer:insert',
  /** A failed attempt that will be retried; payload {@link RetryMessage}. */
  retry: 'data-buffer:retry',
  /** Items dropped under `onFull`; payload {@link DropMessage}. */
  drop: 'data-buffer:drop',
  /** A batch handed to `handleError`; payload {@link ErrorMessage}. */
  error: 'data-buffer:error',
  /** A shared store refused an ack (the lease was lost: expect a duplicate); payload {@link LateAckMessage}. */
  lateAck: 'data-buffer:late-ack',
});

/** The channels, created once for the whole process. @internal */
export const channels = {
  flush: diagnosticsChannel.tracingChannel<string, FlushTraceContext>(channelNames.flush),
  insert: diagnosticsChannel.channel(channelNames.insert),
  retry: diagnosticsChannel.channel(channelNames.retry),
  drop: diagnosticsChannel.channel(channelNames.drop),
  error: diagnosticsChannel.channel(channelNames.error),
  lateAck: diagnosticsChannel.channel(channelNames.lateAck),
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
