/**
 * One OpenTelemetry span per `handleFlush` attempt of one buffer, from the `data-buffer:flush`
 * tracing channel (and the retry and error channels, which tell when an attempt was given up on).
 * @module
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import type { Attributes, AttributeValue, Span, SpanKind, SpanStatusCode, Tracer } from '@opentelemetry/api';
import {
  channelNames,
  type ErrorMessage,
  type FlushTraceContext,
  type RetryMessage,
} from '../diagnostics.js';

/** The span of a flush attempt, and its attributes (see {@link flushSpanAttributes}). */
export const FLUSH_SPAN_NAME = 'data-buffer flush';

/** Attributes of every flush attempt's span. */
export const flushSpanAttributes = Object.freeze({
  /** The batch's key: strings and numbers as they are, other values as `util.inspect` shows them (200 characters at most). */
  key: 'data_buffer.key',
  /** Items in the batch. */
  items: 'data_buffer.batch.items',
  /** The batch's id (`info.batchId`), the same on every attempt of the batch. */
  batchId: 'data_buffer.batch.id',
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  attempt: 'data_buffer.attempt',
  /** The partition (0 based) that ran the attempt. */
  partition: 'data_buffer.partition',
  /**
   * How the attempt ended: `'delivered'`; `'failed'` (threw or rejected); `'timed-out'` (ran past
   * `flushTimeout`: the span ends then, not when the handler does); `'abandoned'` (given up on by
   * `close({ timeout })`).
   */
  outcome: 'data_buffer.outcome',
});

/** The values of {@link flushSpanAttributes}.outcome. */
export type FlushOutcome = 'delivered' | 'failed' | 'timed-out' | 'abandoned';

// The API's enums are values of the peer; their numbers are part of its stable API.
const INTERNAL = 0 as SpanKind.INTERNAL;
const ERROR = 2 as SpanStatusCode.ERROR;
const KEY_LENGTH = 200;

/**
 * Starts a span when an attempt of `buffer` starts and ends it when the attempt ends. Spans are roots
 * (the code that happened to trigger a flush is not its cause), named {@link FLUSH_SPAN_NAME}.
 * Returns the function that unsubscribes; spans open then are ended with no outcome.
 * @param errorType - the `error.type` of a failure.
 */
export function traceFlushes(
  buffer: object,
  tracer: Tracer,
  attributes: Attributes,
  errorType: (error: unknown) => string,
): () => void {
  const flush = diagnosticsChannel.tracingChannel<string, FlushTraceContext>(channelNames.flush);
  // The open span of each attempt, by its context object, and by batch id for the retry and error
  // channels (a batch runs one attempt at a time).
  const spans = new WeakMap<FlushTraceContext, Span>();
  const open = new Map<string, { span: Span; attempt: number }>();

  const end = (span: Span, batchId: string, outcome: FlushOutcome, error?: unknown) => {
    span.setAttribute(flushSpanAttributes.outcome, outcome);
    if (outcome !== 'delivered') {
      span.setAttribute('error.type', errorType(error));
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end();
    if (open.get(batchId)?.span === span) open.delete(batchId);
  };

  const onStart = (message: unknown) => {
    const context = message as FlushTraceContext;
    if (context.buffer !== buffer) return;
    const span = tracer.startSpan(FLUSH_SPAN_NAME, {
      kind: INTERNAL,
      root: true,
      attributes: {
        ...attributes,
        [flushSpanAttributes.key]: keyAttribute(context.key),
        [flushSpanAttributes.items]: context.items.length,
        [flushSpanAttributes.batchId]: context.batchId,
        [flushSpanAttributes.attempt]: context.attempt,
        [flushSpanAttributes.partition]: context.partition,
      },
    });
    spans.set(context, span);
    open.set(context.batchId, { span, attempt: context.attempt });
  };
  // `asyncEnd` follows every attempt, resolved or rejected: the core always traces an async function.
  const onAsyncEnd = (message: unknown) => {
    const context = message as FlushTraceContext;
    const span = spans.get(context);
    if (span === undefined) return;
    spans.delete(context);
    // Ended already: the attempt timed out or was abandoned, and its handler settled only now.
    if (open.get(context.batchId)?.span !== span) return;
    const failed = Object.hasOwn(context, 'error');
    end(span, context.batchId, failed ? 'failed' : 'delivered', context.error);
  };
  // An attempt still open when its batch is retried or given up on was interrupted: by `flushTimeout`,
  // or by `close({ timeout })`. End its span now; the handler may never settle.
  const onRetry = (message: unknown) => {
    const { buffer: from, batchId, attempt, error } = message as RetryMessage;
    const running = open.get(batchId);
    if (from !== buffer || running === undefined || running.attempt !== attempt) return;
    end(running.span, batchId, isTimeout(error) ? 'timed-out' : 'failed', error);
  };
  const onError = (message: unknown) => {
    const { buffer: from, batchId, error } = message as ErrorMessage;
    const running = open.get(batchId);
    if (from !== buffer || running === undefined) return;
    end(running.span, batchId, isTimeout(error) ? 'timed-out' : 'abandoned', error);
  };

  flush.start.subscribe(onStart);
  flush.asyncEnd.subscribe(onAsyncEnd);
  diagnosticsChannel.subscribe(channelNames.retry, onRetry);
  diagnosticsChannel.subscribe(channelNames.error, onError);
  return () => {
    flush.start.unsubscribe(onStart);
    flush.asyncEnd.unsubscribe(onAsyncEnd);
    diagnosticsChannel.unsubscribe(channelNames.retry, onRetry);
    diagnosticsChannel.unsubscribe(channelNames.error, onError);
    for (const { span } of open.values()) span.end();
    open.clear();
  };
}

function isTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_FLUSH_TIMEOUT';
}

/** A key as an attribute value: attribute values are strings, numbers, booleans (or arrays of them). */
function keyAttribute(key: unknown): AttributeValue {
  if (typeof key === 'string') return key.length > KEY_LENGTH ? `${key.slice(0, KEY_LENGTH)}…` : key;
  if (typeof key === 'number' || typeof key === 'boolean') return key;
  const text = inspect(key, { depth: 1, breakLength: Number.POSITIVE_INFINITY, maxStringLength: KEY_LENGTH });
  return text.length > KEY_LENGTH ? `${text.slice(0, KEY_LENGTH)}…` : text;
}
