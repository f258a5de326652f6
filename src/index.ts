/**
 * data-buffer: buffer a fast stream of items per key in memory and flush each key's list in batches.
 * @module data-buffer
 */

export type {
  Backend,
  BackendContext,
  Claim,
  DueKeys,
  LocalBackend,
  RecoveredBatch,
  SharedBackend,
  Staged,
  StoreLeftovers,
  ValueFields,
} from './backend.js';
export { type CloseOnSignalsOptions, closeOnSignals } from './close-on-signals.js';
export { createDataBuffer, type DataBufferOptionsWithFlush } from './create-data-buffer.js';
export {
  type CloseOptions,
  type CloseReport,
  DataBuffer,
  type PartitionInfo,
  type ReadyOptions,
} from './data-buffer.js';
export type {
  DropMessage,
  ErrorMessage,
  FlushTraceContext,
  InsertMessage,
  LateAckMessage,
  RetryMessage,
} from './diagnostics.js';
export { channelNames } from './diagnostics.js';
export {
  BufferClosedError,
  BufferFullError,
  DataBufferError,
  type DataBufferErrorCode,
  DeliveryTimeoutError,
  FlushTimeoutError,
  type MisuseError,
  type MisuseErrorCode,
  NonRetryableError,
  PoisonedBatchError,
  ReadyTimeoutError,
  ShutdownError,
  StoreFailedError,
} from './errors.js';
export type { Closable } from './live-buffers.js';
export type {
  DataBufferOptions,
  DropHandler,
  DropReason,
  ErrorHandler,
  ErrorInfo,
  FailureReason,
  FlushHandler,
  FlushInfo,
  Logger,
  OnFullPolicy,
  RetryBackoff,
} from './options.js';
export { defaults } from './options.js';
export { estimateSize } from './size-of.js';
export type { DataBufferStats, LatencyStats } from './stats.js';
export { type ToWritableOptions, toWritable, type WritableTarget } from './writable.js';
