/**
 * The Redis store's counters, as `stats()` returns them (the buffer folds them into its own).
 * @module
 */

/** Counters of one Redis store; all count since the store was created, except the gauges noted. */
export interface RedisStoreStats {
  /** Requests sent to Redis (a pipeline of appends counts once). */
  roundTrips: number;
  /** Items written to Redis (acknowledged by the server). */
  itemsWritten: number;
  /** Keys appended to (one per key per round; a round's keys share one script call). */
  appends: number;
  /** Batches claimed, first deliveries and re-deliveries alike. */
  claims: number;
  /** Claims that delivered a batch again after its lease ran out or it was given back. */
  redeliveries: number;
  /** Claims handed to `handleError` as poison: past `maxRedeliveries`, or with items `deserialize` threw for. */
  poisoned: number;
  /** Acks that settled a batch. */
  acks: number;
  /** Acks refused by the fence: the lease was lost, the batch will be (or was) delivered again. */
  lateAcks: number;
  /** Lease extensions refused by the fence. */
  extendsRefused: number;
  /** Batches given back (`release`). */
  releases: number;
  /** Outages: writes that failed after the previous one succeeded. */
  outages: number;
  /** Writes sent again after a failure. */
  writeRetries: number;
  /**
   * Append calls sent again after a failure that Redis had run already (their reply was lost to a
   * command timeout or a dropped connection): recognised by their number, they appended nothing twice.
   */
  repeatedWrites: number;
  /** Gauge: items held in this process that Redis has not confirmed yet. */
  pendingItems: number;
  /** Items the journal in front (the `journal` option) handed back at open, written to Redis first. */
  recoveredItems: number;
}

/** A fresh set of zeroed counters. */
export function createRedisStoreStats(): RedisStoreStats {
  return {
    roundTrips: 0,
    itemsWritten: 0,
    appends: 0,
    claims: 0,
    redeliveries: 0,
    poisoned: 0,
    acks: 0,
    lateAcks: 0,
    extendsRefused: 0,
    releases: 0,
    outages: 0,
    writeRetries: 0,
    repeatedWrites: 0,
    pendingItems: 0,
    recoveredItems: 0,
  };
}
