/**
 * Failures of the Redis store that retrying cannot fix. Connection loss is not among them: the store
 * keeps the items and writes them again once Redis answers (see `writer.ts`).
 *
 * | code | when |
 * |---|---|
 * | `ERR_REDIS_PARTITIONS` | the namespace was laid out in another number of partitions (or another layout version) |
 * | `ERR_REDIS_REPLY` | Redis refused a script with an error a retry cannot fix (a key of the wrong type, a script error) |
 * | `ERR_REDIS_CLOSED` | the store was used after `close()`, or `close()` gave up on a Redis that did not answer |
 * | `ERR_REDIS_DESERIALIZE` | (to `handleError`, as a {@link RedisDeserializeError}) `deserialize` threw for items of a claimed batch |
 * @module
 */

/** Stable codes of {@link RedisStoreError}. */
export type RedisStoreErrorCode =
  | 'ERR_REDIS_PARTITIONS'
  | 'ERR_REDIS_REPLY'
  | 'ERR_REDIS_CLOSED'
  | 'ERR_REDIS_DESERIALIZE';

/** A failure of the Redis store that retrying cannot fix; `code` says which. */
export class RedisStoreError extends Error {
  /** Stable, documented identifier of the failure. */
  readonly code: RedisStoreErrorCode;

  /**
   * @param code - the stable code.
   * @param message - what happened, for people.
   * @param options - `cause`: the error that led to this one, if any.
   */
  constructor(code: RedisStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** `'RedisStoreError'`. */
  override get name(): string {
    return 'RedisStoreError';
  }
}

/**
 * `deserialize` threw for some items of a claimed batch. Such a batch can never be delivered as it is
 * (a re-delivery would read the same texts), so it goes to `handleError` at once (reason `'poisoned'`)
 * with the items that could be read, and with this error, which keeps the stored texts of the others:
 * nothing is lost without a trace. The batch then leaves Redis.
 */
export class RedisDeserializeError extends RedisStoreError {
  /** The buffer key of the batch. */
  readonly key: string | number;
  /** The batch's id (`info.batchId`). */
  readonly batchId: string;
  /** The stored texts `deserialize` threw for, in their order in the batch. */
  readonly texts: readonly string[];

  /**
   * @param namespace - the store's namespace, for the message.
   * @param key - the buffer key of the batch.
   * @param batchId - the batch's id.
   * @param texts - the stored texts that could not be read.
   * @param total - items in the batch.
   * @param cause - what `deserialize` threw for the first of them.
   */
  constructor(
    namespace: string,
    key: string | number,
    batchId: string,
    texts: readonly string[],
    total: number,
    cause: unknown,
  ) {
    super(
      'ERR_REDIS_DESERIALIZE',
      `redisStore(${namespace}): \`deserialize\` threw for ${texts.length} of the ${total} items of the key ${JSON.stringify(key)} (batch ${batchId}): ${cause instanceof Error ? cause.message : String(cause)}. The batch goes to handleError with the items that could be read; the stored texts of the others are in \`error.texts\``,
      { cause },
    );
    this.key = key;
    this.batchId = batchId;
    this.texts = texts;
  }

  /** `'RedisDeserializeError'`. */
  override get name(): string {
    return 'RedisDeserializeError';
  }
}

// Replies that say "not now" rather than "never": memory full under noeviction, a script or load in
// progress, a failover or resharding under way. Anything that is not a reply at all (a closed socket,
// a refused connection, a timeout) is retryable too.
const TRANSIENT_REPLIES = [
  'OOM',
  'BUSY',
  'LOADING',
  'READONLY',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'MOVED',
  'ASK',
  'NOREPLICAS',
];

/**
 * Whether a failed call may succeed when sent again: `false` only for a server reply that will be the
 * same every time (`WRONGTYPE`, `ERR` from a script); connection errors and transient replies (`OOM`,
 * `LOADING`, `READONLY`, `CLUSTERDOWN`, …) are `true`.
 */
export function isRetryableRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  // node-redis: ErrorReply (and its SimpleError, BlobError); ioredis: ReplyError.
  const reply = /^(ErrorReply|SimpleError|BlobError|ReplyError)$/.test(error.constructor.name);
  if (!reply) return true;
  const word = error.message.split(' ', 1)[0] ?? '';
  return TRANSIENT_REPLIES.includes(word);
}
