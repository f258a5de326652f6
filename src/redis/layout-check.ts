/**
 * The namespace's layout check: before a store's first script, its partition count and layout
 * version are fixed in Redis on first use (`CONFIG` in `scripts.ts`) and compared with this store's,
 * and the server's eviction policy is read.
 *
 * Invariants: a store whose count or layout differs from the namespace's is refused with
 * `ERR_REDIS_PARTITIONS` on every use (with another count the same key would live in two partitions
 * and lose its order); a check that failed for the connection is tried again on the next use; the
 * eviction warning is emitted at most once per store.
 * @module
 */
import type { ScriptRunner } from './client.js';
import { RedisStoreError } from './errors.js';
import { type KeyNames, LAYOUT_VERSION } from './keys.js';
import type { ResolvedRedisStoreOptions } from './options.js';
import { CONFIG } from './scripts.js';
import type { RedisStoreStats } from './stats.js';

/** What the layout check needs from its store, handed over when it is built. */
export interface LayoutCheckContext
  extends Pick<ResolvedRedisStoreOptions<unknown>, 'namespace' | 'partitions'> {
  readonly runner: ScriptRunner;
  readonly names: KeyNames;
  readonly stats: RedisStoreStats;
}

/** Checks the namespace's layout once per store; see the module comment. */
export class LayoutCheck {
  readonly #context: LayoutCheckContext;
  /** The check, running or settled: dropped when the connection failed (tried again on the next use). */
  #checked: Promise<void> | undefined;
  #warnedOfEviction = false;

  constructor(context: LayoutCheckContext) {
    this.#context = context;
  }

  /**
   * Fixes the namespace's partition count on first use and refuses a store with another one: with
   * another count, the same key would live in two partitions and lose its order.
   */
  check(): Promise<void> {
    const { runner, names, stats, namespace, partitions: ours } = this.#context;
    if (this.#checked === undefined) stats.roundTrips++;
    this.#checked ??= runner
      .run({ script: CONFIG, keys: [names.config], args: [String(ours), LAYOUT_VERSION] })
      .then((reply) => {
        const [partitions, layout, policy = ''] = (reply as unknown[]).map(String);
        this.#warnOfEviction(policy);
        if (partitions !== String(ours) || layout !== LAYOUT_VERSION) {
          throw new RedisStoreError(
            'ERR_REDIS_PARTITIONS',
            `redisStore: the namespace \`${namespace}\` is laid out in ${partitions} partitions (layout ${layout}) in Redis, but this store was given \`partitions: ${ours}\` (layout ${LAYOUT_VERSION}). Every process on a namespace must use the same count; to change it, use a new namespace`,
          );
        }
      });
    const checked = this.#checked;
    // A connection error is worth another try on the next use; a mismatch stays.
    checked.catch((error: unknown) => {
      if (!(error instanceof RedisStoreError) && this.#checked === checked) this.#checked = undefined;
    });
    return checked;
  }

  /** Makes the next `check` ask Redis again: a restarted Redis may have forgotten the layout. */
  forget(): void {
    this.#checked = undefined;
  }

  /**
   * Warns once when the server may evict keys that have no expiry (`allkeys-*`): it would delete item
   * lists, schedules and leases to make room, and items would vanish without a trace. (`volatile-*`
   * policies only evict keys with an expiry: of the store's, only the writers' append records, whose
   * loss can at worst let an append whose reply was lost be applied twice; docs/redis.md says so.)
   */
  #warnOfEviction(policy: string): void {
    if (this.#warnedOfEviction || !policy.startsWith('allkeys')) return;
    this.#warnedOfEviction = true;
    process.emitWarning(
      `redisStore(${this.#context.namespace}): Redis runs with maxmemory-policy ${policy}, which may evict buffered items without a trace when memory runs out; set maxmemory-policy noeviction`,
      { code: 'DATA_BUFFER_REDIS_EVICTION' },
    );
  }
}
