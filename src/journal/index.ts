/**
 * `data-buffer/journal`: a durable journal for the buffer's `store` option. Buffered items are
 * written to append-only segment files behind the in-memory stage, once per turn; they survive
 * `kill -9`, and power loss at the level `sync` picks. On the next start on the same directory, what
 * was left unsettled is handed back first, in its original per-key order and with its batch ids.
 *
 * @example
 * ```ts
 * import { DataBuffer } from 'data-buffer';
 * import { journal } from 'data-buffer/journal';
 *
 * const buffer = new DataBuffer<string, PageView>({
 *   handleFlush,
 *   store: journal({ dir: './var/page-views', sync: 'process' }),
 * });
 * buffer.insert('/home', view);
 * await buffer.persisted();
 * ```
 * @module data-buffer/journal
 */
export type { Serialized } from './codec.js';
export { JournalError, type JournalErrorCode } from './errors.js';
export { type JournalFs, nodeFs } from './fs.js';
export { type Journal, journal } from './journal.js';
export { type JournalOptions, journalDefaults, type SyncLevel } from './options.js';
export {
  type DiscardMessage,
  type FailedMessage,
  type JournalStats,
  journalChannelNames,
  type RecoverMessage,
  type SegmentMessage,
  type SyncMessage,
} from './telemetry.js';
