/**
 * Options of {@link redisStore}: types, defaults, and the one validation function.
 * @module
 */
import type { LocalBackend } from '../backend.js';
import { checkJournal } from './journal-front.js';
import { describe, type RedisKey } from './keys.js';

/** Options of `redisStore`. */
export interface RedisStoreOptions<V, K extends RedisKey = RedisKey> {
  /**
   * A connected client: `redis` (node-redis v4 or later, `createClient()` or `createCluster()`) or
   * `ioredis` (`new Redis()` or `new Cluster()`). The store never connects, quits or configures it.
   */
  readonly client: unknown;
  /**
   * Every buffer on the same namespace shares its keys. Part of every Redis key (as the hash tag
   * `{namespace:partition}`), so it may not contain `{` or `}`.
   */
  readonly namespace: string;
  /**
   * Partitions of the namespace: its keys spread over this many schedules (and Cluster slots). Fixed
   * when the namespace is first used; a store with another count is refused.
   * @default 64
   */
  readonly partitions?: number;
  /**
   * How long a claim holds its batch without a heartbeat (`extend`), in ms. After that, another
   * process may claim the batch again and the holder's ack is refused.
   * @default 30_000
   */
  readonly leaseMs?: number;
  /**
   * Re-deliveries after a lost lease (the holder died or stalled) before a claim comes back with
   * `poisoned: true`, for `handleError` instead of `handleFlush`. Give-backs on close do not count.
   * @default 5
   */
  readonly maxRedeliveries?: number;
  /**
   * Turns an item into the string stored in Redis.
   * @default JSON.stringify
   */
  readonly serialize?: (value: V) => string;
  /**
   * Turns a stored string back into an item.
   * @default JSON.parse
   */
  readonly deserialize?: (text: string) => V;
  /**
   * A journal in front of Redis (`journal({ dir })` from `data-buffer/journal`): each turn's inserts
   * are journaled on local disk as they are written to Redis, and leave the journal once Redis
   * confirmed them. `persisted()` then resolves once they are in the journal (at its `sync` level),
   * whether Redis has them yet or not: they survive the process's death during a Redis outage or
   * before Redis replied, and the next store opened on the same directory writes them to Redis before
   * anything new (possibly a second time: at least once). The store opens, and closes, the journal.
   * @default undefined: items are safe once in Redis, and a process that dies loses what Redis does
   *   not have yet
   */
  readonly journal?: LocalBackend<K, V>;
}

/** Defaults of the optional {@link RedisStoreOptions}. */
export const redisStoreDefaults = Object.freeze({
  /** Default of {@link RedisStoreOptions.partitions}. */
  partitions: 64,
  /** Default of {@link RedisStoreOptions.leaseMs}, in ms. */
  leaseMs: 30_000,
  /** Default of {@link RedisStoreOptions.maxRedeliveries}. */
  maxRedeliveries: 5,
});

/** Options with every default filled in. */
export interface ResolvedRedisStoreOptions<V, K extends RedisKey = RedisKey> {
  readonly client: unknown;
  readonly namespace: string;
  readonly partitions: number;
  readonly leaseMs: number;
  readonly maxRedeliveries: number;
  readonly serialize: (value: V) => string;
  readonly deserialize: (text: string) => V;
  readonly journal: LocalBackend<K, V> | undefined;
}

function integerAtLeast(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Expected \`${name}\` to be an integer from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function fn<F>(name: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback;
  if (typeof value !== 'function')
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  return value as F;
}

/**
 * Checks `options` and fills in the defaults.
 * @throws TypeError or RangeError naming the option, the value received and what is allowed.
 */
export function resolveRedisStoreOptions<V, K extends RedisKey = RedisKey>(
  options: RedisStoreOptions<V, K>,
): ResolvedRedisStoreOptions<V, K> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected redisStore options to be an object, got ${describe(options)}`);
  }
  const { namespace } = options;
  if (typeof namespace !== 'string' || namespace.length === 0 || /[{}]/.test(namespace)) {
    throw new TypeError(
      `Expected \`namespace\` to be a non-empty string without \`{\` or \`}\` (it becomes the Redis hash tag), got ${describe(namespace)}`,
    );
  }
  return {
    client: options.client,
    namespace,
    // 16384: Cluster's slot count; more partitions could not spread any further.
    partitions: integerAtLeast('partitions', options.partitions ?? redisStoreDefaults.partitions, 1, 16_384),
    leaseMs: integerAtLeast('leaseMs', options.leaseMs ?? redisStoreDefaults.leaseMs, 1),
    maxRedeliveries: integerAtLeast(
      'maxRedeliveries',
      options.maxRedeliveries ?? redisStoreDefaults.maxRedeliveries,
      0,
    ),
    serialize: fn('serialize', options.serialize, JSON.stringify as (value: V) => string),
    deserialize: fn('deserialize', options.deserialize, JSON.parse as (text: string) => V),
    journal: checkJournal<K, V>(options.journal),
  };
}
