/**
 * `DataBuffer.info()`: what each partition holds and does, counted from the open batches (the store)
 * and the keys' lines of deliveries (settling). Read-only: it walks both, and changes nothing.
 * @module
 */
import { type Delivery, FAILING, isCounted, QUEUED, RETRYING, RUNNING } from './delivery.js';
import type { PartitionInfo } from './partitions.js';
import type { Pipelines } from './pipelines.js';
import type { BatchStore } from './store.js';

/** A partition's entry while it is counted. */
type Counting = { -readonly [field in keyof PartitionInfo]: PartitionInfo[field] };

/**
 * One entry per partition (`count` of them): a key counts once, in the partition of its open batch or
 * of its first delivery; its items are those of its open batch and of its deliveries that still count.
 */
export function partitionInfo<K, V>(
  count: number,
  store: BatchStore<K, V>,
  partitionOf: (key: K) => number,
  lines: Pipelines<K, Delivery<K, V>>,
): PartitionInfo[] {
  const parts: Counting[] = Array.from({ length: count }, (_, partition) => ({
    partition,
    keys: 0,
    items: 0,
    inFlight: 0,
    handlingErrors: 0,
    queued: 0,
    retrying: 0,
  }));
  for (const key of store.keys()) {
    const part = parts[partitionOf(key)]!;
    part.items += store.items(key)?.length ?? 0;
    if (!lines.has(key)) part.keys++;
  }
  for (const first of lines.firsts()) {
    const part = parts[first.partition]!;
    part.keys++;
    for (const delivery of lines.of(first.key)) {
      if (isCounted(delivery)) part.items += delivery.items.length;
      if (delivery.state === RUNNING) part.inFlight++;
      else if (delivery.state === FAILING) part.handlingErrors++;
      else if (delivery.state === RETRYING) part.retrying++;
      else if (delivery.state === QUEUED) part.queued++;
    }
  }
  return parts;
}
