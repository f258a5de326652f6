/**
 * `data-buffer/redis`: a shared store on Redis for the buffer's `store` option. Many processes on many
 * machines share per-key buffers; a batch claimed by a process that died is delivered again after its
 * lease. Works with `redis` (node-redis) and `ioredis`, single server or Cluster (optional peers:
 * install the one you use; neither is imported here). See `docs/redis.md`.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { DataBuffer } from 'data-buffer';
 * import { redisStore } from 'data-buffer/redis';
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const buffer = new DataBuffer<string, PageView>({
 *   handleFlush, interval: 5_000, maxSize: 1_000,
 *   store: redisStore({ client, namespace: 'page-views', partitions: 64, leaseMs: 30_000 }),
 * });
 * ```
 * @module data-buffer/redis
 */
export type {
  Backend,
  BackendContext,
  Claim,
  LocalBackend,
  Staged,
  StoreLeftovers,
  ValueFields,
} from '../backend.js';
export type { DueKeys, RedisClaim } from './claimer.js';
export type { RedisOutageMessage, RedisRecoveredMessage } from './diagnostics.js';
export { redisChannelNames } from './diagnostics.js';
export {
  isRetryableRedisError,
  RedisDeserializeError,
  RedisStoreError,
  type RedisStoreErrorCode,
} from './errors.js';
export type { RedisKey } from './keys.js';
export { type RedisStoreOptions, redisStoreDefaults } from './options.js';
export type { RedisStoreStats } from './stats.js';
export { type RedisStore, redisStore } from './store.js';
