/**
 * The store's key layout in Redis. A buffer key becomes a **member** (its type as one letter, then its
 * text), the member picks a **partition** by hash, and every Redis key of a partition carries the hash
 * tag `{namespace:partition}`, so that a key's lists and its partition's schedule share one Cluster
 * slot (one script can touch them all) while partitions spread over the masters.
 *
 * | Redis key | type | holds |
 * |---|---|---|
 * | `{ns}:config` | hash | `partitions`, `layout`: fixed when the namespace is first used |
 * | `{ns:p}:i:<member>` | list | the key's items not yet claimed, oldest first |
 * | `{ns:p}:f:<member>` | list | the key's claimed batch (in flight), while it is leased |
 * | `{ns:p}:due` | sorted set | members with unclaimed items; score: when they fall due (ms, Redis clock) |
 * | `{ns:p}:lease` | sorted set | members with a claimed batch; score: when the lease expires (ms, Redis clock) |
 * | `{ns:p}:meta` | hash | per claimed member: `fence attempt lost released batchId` |
 * | `{ns:p}:fence` | string | the partition's fence counter (INCR on every claim) |
 * | `{ns:p}:w:<writer>` | string | a writer's last append call there, `number replies` (expires after a day) |
 *
 * Changing anything here changes where data is: bump {@link LAYOUT_VERSION}.
 * @module
 */
import { inspect } from 'node:util';

/** Version of this layout, stored with the namespace: a store of another layout is refused. */
export const LAYOUT_VERSION = '1';

/** Keys a buffer on Redis accepts: they must mean the same thing in every process. */
export type RedisKey = string | number;

/** `inspect` with a length cap, for error messages. */
export function describe(value: unknown): string {
  const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY, maxStringLength: 80 });
  return `${text.length > 120 ? `${text.slice(0, 117)}...` : text} (${value === null ? 'null' : typeof value})`;
}

/**
 * The member that stands for `key` in Redis: `s:` + the string, or `n:` + the number. The type letter
 * keeps the string `'1'` and the number `1` apart, and lets {@link decodeMember} give back the key as
 * it was inserted.
 * @throws TypeError for a key that is not a string or a finite number (objects are compared by
 *   identity in one process and mean nothing in another).
 */
export function encodeKey(key: unknown): string {
  if (typeof key === 'string') return `s:${key}`;
  if (typeof key === 'number' && Number.isFinite(key)) return `n:${key}`;
  throw new TypeError(
    `redisStore: a buffer on Redis takes keys that are strings or finite numbers, got ${describe(key)}: other keys cannot be shared between processes`,
  );
}

/** The key that `member` stands for (the inverse of {@link encodeKey}). */
export function decodeMember(member: string): RedisKey {
  return member.charCodeAt(0) === 110 /* n */ ? Number(member.slice(2)) : member.slice(2);
}

/**
 * The partition (0 ≤ p < count) of a member: FNV-1a over its UTF-16 code units. Part of the layout:
 * every process must compute the same partition for a key, in this version and the next.
 */
export function partitionOf(member: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < member.length; i++) {
    hash ^= member.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** The Redis key names of one namespace. */
export class KeyNames {
  /** The namespace's configuration hash. */
  readonly config: string;
  readonly #tags: string[];

  /**
   * @param namespace - the namespace (already validated: no braces).
   * @param partitions - the namespace's partition count.
   */
  constructor(namespace: string, partitions: number) {
    this.config = `{${namespace}}:config`;
    this.#tags = Array.from({ length: partitions }, (_, p) => `{${namespace}:${p}}`);
  }

  /** The hash tag of partition `p`, which starts every key of the partition. */
  tag(p: number): string {
    return this.#tags[p]!;
  }

  /** A member's list of unclaimed items. */
  items(p: number, member: string): string {
    return `${this.#tags[p]}:i:${member}`;
  }

  /** A member's claimed batch. */
  inFlight(p: number, member: string): string {
    return `${this.#tags[p]}:f:${member}`;
  }

  /** The partition's schedule of unclaimed items. */
  due(p: number): string {
    return `${this.#tags[p]}:due`;
  }

  /** The partition's lease expiries. */
  lease(p: number): string {
    return `${this.#tags[p]}:lease`;
  }

  /** The partition's claim records. */
  meta(p: number): string {
    return `${this.#tags[p]}:meta`;
  }

  /** A writer's record of its last append call in the partition's hash tag (see `APPEND`). */
  writes(p: number, writer: string): string {
    return `${this.#tags[p]}:w:${writer}`;
  }

  /** The partition's fence counter. */
  fence(p: number): string {
    return `${this.#tags[p]}:fence`;
  }
}
