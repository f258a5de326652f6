/**
 * The journal's options: types, frozen defaults, and the one validation function.
 * @module
 */
import type { Serialized } from './codec.js';
import { rangeError, show, typeError } from './errors.js';
import { crc32 } from './frame.js';
import { type JournalFs, nodeFs } from './fs.js';

/**
 * How far a write must get before `persisted()` counts it:
 * - `'none'`: nowhere; the journal is written lazily (every 1 MiB, on `persisted()` and at close).
 *   For tests and throwaway data.
 * - `'process'`: handed to the operating system (`write(2)`) each turn. Survives the process dying
 *   (`kill -9`, a crash, an OOM kill), not the machine (power loss, kernel panic).
 * - `'interval'`: as `'process'`, plus an fdatasync every `syncInterval` ms: a power loss loses at
 *   most what was written after the last sync. `persisted()` waits for the write, not the sync.
 * - `'always'`: `persisted()` resolves after an fdatasync that started after the write: survives
 *   power loss (on disks that honour flushes).
 */
export type SyncLevel = 'none' | 'process' | 'interval' | 'always';

/** Options of {@link journal}. */
export interface JournalOptions<K, V> {
  /** The directory of the journal's files; created when missing. One process per directory. */
  dir: string;
  /**
   * How far a write must get before `persisted()` counts it; see {@link SyncLevel}.
   * @default 'process'
   */
  sync?: SyncLevel;
  /**
   * Under `sync: 'interval'`, the time between fdatasyncs, in ms.
   * @default 200
   */
  syncInterval?: number;
  /**
   * Size at which a segment file is closed and a new one started, in bytes (at least 4096). A segment
   * can exceed it by one group commit (the records of one turn). Disk use is about what is buffered
   * plus one segment (see docs/journal.md for the exact bound).
   * @default 67108864 (64 MiB)
   */
  segmentBytes?: number;
  /**
   * Turns a value into a string or bytes. By default strings and `Uint8Array`s are stored as they
   * are and anything else as JSON. Give `deserialize` with it.
   */
  serialize?: (value: V) => Serialized;
  /** Turns what `serialize` returned (a string, or a `Buffer` for bytes) back into a value. */
  deserialize?: (data: Serialized) => V;
  /**
   * Turns a key into a string or bytes. By default keys must be primitives (string, number, bigint,
   * boolean, `null`, `undefined`). Give `deserializeKey` with it.
   */
  serializeKey?: (key: K) => Serialized;
  /** Turns what `serializeKey` returned back into a key. */
  deserializeKey?: (data: Serialized) => K;
  /**
   * The file-system calls (for tests: a fake that simulates power loss).
   * @default the real file system (`node:fs`)
   */
  fs?: JournalFs;
}

/** The options with defaults filled in. @internal */
export interface ResolvedJournalOptions<K, V> {
  readonly dir: string;
  readonly sync: SyncLevel;
  readonly syncInterval: number;
  readonly segmentBytes: number;
  readonly serialize: ((value: V) => Serialized) | undefined;
  readonly deserialize: ((data: Serialized) => V) | undefined;
  readonly serializeKey: ((key: K) => Serialized) | undefined;
  readonly deserializeKey: ((data: Serialized) => K) | undefined;
  readonly fs: JournalFs;
}

/** Default option values. */
export const journalDefaults = Object.freeze({
  /** {@link JournalOptions.sync}: written to the OS each turn. */
  sync: 'process' as SyncLevel,
  /** {@link JournalOptions.syncInterval}, in ms. */
  syncInterval: 200,
  /** {@link JournalOptions.segmentBytes}: 64 MiB. */
  segmentBytes: 64 * 1024 * 1024,
});

const SYNC_LEVELS: readonly SyncLevel[] = Object.freeze(['none', 'process', 'interval', 'always']);
const KNOWN = new Set([
  'dir',
  'sync',
  'syncInterval',
  'segmentBytes',
  'serialize',
  'deserialize',
  'serializeKey',
  'deserializeKey',
  'fs',
]);
const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * Checks the options and fills in defaults.
 * @throws TypeError / RangeError (`code` `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) naming the
 * option, the value received and what is allowed; `Error` `ERR_JOURNAL_NODE_VERSION` without `zlib.crc32`.
 */
export function resolveJournalOptions<K, V>(options: JournalOptions<K, V>): ResolvedJournalOptions<K, V> {
  if (crc32 === undefined) {
    const error = new Error(
      `data-buffer/journal needs zlib.crc32, which Node ${process.versions.node} lacks: use Node >= 20.15 (or >= 22.2)`,
    ) as Error & { code: string };
    error.code = 'ERR_JOURNAL_NODE_VERSION';
    throw error;
  }
  if (typeof options !== 'object' || options === null) {
    throw typeError(
      'ERR_INVALID_ARG_TYPE',
      `Expected the journal options to be an object, got ${show(options)}`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) {
      throw typeError(
        'ERR_INVALID_ARG_VALUE',
        `Unknown journal option \`${name}\`; the options are: ${[...KNOWN].join(', ')}`,
      );
    }
  }
  const { dir } = options;
  if (typeof dir !== 'string' || dir.length === 0) {
    throw typeError(
      'ERR_INVALID_ARG_TYPE',
      `Expected \`dir\` to be a non-empty string (a directory path), got ${show(dir)}`,
    );
  }
  const sync = options.sync ?? journalDefaults.sync;
  if (!SYNC_LEVELS.includes(sync)) {
    throw typeError(
      'ERR_INVALID_ARG_VALUE',
      `Expected \`sync\` to be one of ${SYNC_LEVELS.map((level) => `'${level}'`).join(', ')}, got ${show(sync)}`,
    );
  }
  const syncInterval = integer(options, 'syncInterval', journalDefaults.syncInterval, 1, MAX_TIMER_DELAY);
  const segmentBytes = integer(options, 'segmentBytes', journalDefaults.segmentBytes, 4096, 2 ** 40);
  const serialize = pairOf(options, 'serialize', 'deserialize');
  const serializeKey = pairOf(options, 'serializeKey', 'deserializeKey');
  const fs = options.fs ?? nodeFs;
  if (typeof fs !== 'object' || fs === null || typeof fs.write !== 'function') {
    throw typeError('ERR_INVALID_ARG_TYPE', `Expected \`fs\` to be a JournalFs, got ${show(fs)}`);
  }
  return {
    dir,
    sync,
    syncInterval,
    segmentBytes,
    serialize: serialize[0] as ((value: V) => Serialized) | undefined,
    deserialize: serialize[1] as ((data: Serialized) => V) | undefined,
    serializeKey: serializeKey[0] as ((key: K) => Serialized) | undefined,
    deserializeKey: serializeKey[1] as ((data: Serialized) => K) | undefined,
    fs,
  };
}

function integer(options: object, name: string, fallback: number, min: number, max: number): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  const allowed = `an integer from ${min} to ${max}`;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw typeError('ERR_INVALID_ARG_TYPE', `Expected \`${name}\` to be ${allowed}, got ${show(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError('ERR_INVALID_ARG_VALUE', `Expected \`${name}\` to be ${allowed}, got ${show(value)}`);
  }
  return value;
}

function pairOf(
  options: object,
  first: string,
  second: string,
): [Function | undefined, Function | undefined] {
  const record = options as Record<string, unknown>;
  for (const name of [first, second]) {
    if (record[name] !== undefined && typeof record[name] !== 'function') {
      throw typeError(
        'ERR_INVALID_ARG_TYPE',
        `Expected \`${name}\` to be a function, got ${show(record[name])}`,
      );
    }
  }
  if ((record[first] === undefined) !== (record[second] === undefined)) {
    throw typeError(
      'ERR_INVALID_ARG_VALUE',
      `\`${first}\` and \`${second}\` go together: give both or neither (got only \`${record[first] === undefined ? second : first}\`)`,
    );
  }
  return [record[first] as Function | undefined, record[second] as Function | undefined];
}
