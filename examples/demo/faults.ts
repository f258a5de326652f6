/**
 * `--fail-rate`: makes flushes fail at random, in the two ways a database connection really fails.
 */
import type { FlushInfo } from '../../src/index.js';

/** An injected failure, told apart from real ones in the summary. */
export class SimulatedFailure extends Error {
  override readonly name = 'SimulatedFailure';
}

/** What the faulty handler counts. */
export interface FaultCounters {
  /** Statements that reached the database. */
  statements: number;
  /** Attempts failed before the statement was sent. */
  failedBefore: number;
  /** Attempts failed after the statement committed: the retry must not store the rows again. */
  failedAfter: number;
}

/**
 * Wraps a `handleFlush` so that each attempt fails with probability `failRate`: half of the failures
 * before the statement is sent (connection refused), half after it committed (the acknowledgement
 * was lost). The second kind is the one that duplicates rows on retry unless rows have a unique id.
 */
export function withFaults<K, V, R>(
  flush: (key: K, items: V[], info: FlushInfo) => Promise<R>,
  failRate: number,
  counters: FaultCounters,
): (key: K, items: V[], info: FlushInfo) => Promise<R> {
  return async (key, items, info) => {
    const roll = Math.random();
    if (roll < failRate / 2) {
      counters.failedBefore++;
      throw new SimulatedFailure('connection refused (simulated)');
    }
    counters.statements++;
    const result = await flush(key, items, info);
    if (roll < failRate) {
      counters.failedAfter++;
      throw new SimulatedFailure('connection reset after the commit (simulated)');
    }
    return result;
  };
}
