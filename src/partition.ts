/**
 * Which partition a key belongs to. A key always hashes to the same partition, so each partition can
 * flush its keys on its own; primitives hash by value, objects by identity.
 * @module
 */

/** Returns the partition (0 ≤ p < count) of a key. */
export type Partitioner = (key: unknown) => number;

/** Builds the partitioner for `count` partitions. */
export function createPartitioner(count: number): Partitioner {
  if (count === 1) return () => 0;
  const identities = new WeakMap<object, number>();
  const otherIdentities = new Map<unknown, number>();
  let nextIdentity = 0;
  return (key) => {
    switch (typeof key) {
      case 'string':
        return hashString(key) % count;
      case 'number':
        return Number.isSafeInteger(key) ? Math.abs(key) % count : hashString(String(key)) % count;
      case 'bigint':
      case 'boolean':
      case 'undefined':
        return hashString(String(key)) % count;
      case 'object':
      case 'function': {
        if (key === null) return 0;
        let identity = identities.get(key);
        if (identity === undefined) {
          identity = nextIdentity++;
          identities.set(key, identity);
        }
        return identity % count;
      }
      default: {
        // Symbols: registered ones cannot live in a WeakMap.
        let identity = otherIdentities.get(key);
        if (identity === undefined) {
          identity = nextIdentity++;
          otherIdentities.set(key, identity);
        }
        return identity % count;
      }
    }
  };
}

/** FNV-1a, 32 bits: fast, and spreads similar keys ("user:1", "user:2") across partitions. */
function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
