/**
 * The journal in front of Redis (`redisStore({ …, journal: journal({ dir }) })`): every turn's inserts
 * are written to the local journal and to Redis side by side, and the journal lets go of them once
 * Redis confirmed them. At open, what an earlier run journaled and Redis never confirmed (the process
 * died during an outage, or between the journal's write and Redis's reply) is handed back, to be
 * written to Redis before anything new.
 *
 * The journal's bookkeeping is per key and in order (each key's items form one line, oldest first), and
 * the Redis writer confirms writes in the order they were handed to it, so "the key's oldest `n`
 * items are in Redis" is all the journal needs to hear: one `dropped(key, n)` record per key per write
 * (the journal's record for items that need no recovery any more). Recovered batches that an earlier
 * run had taken are settled by their id instead.
 *
 * Invariants: an item is in the journal (at its `sync` level) before `persisted()` counts it; it leaves
 * the journal only after Redis confirmed it; a crash in between writes it to Redis again at the next
 * start (at least once: a duplicate, never a loss).
 * @module
 */
import type { BackendContext, LocalBackend, RecoveredBatch, Staged, ValueFields } from '../backend.js';
import { describe } from './keys.js';

const LOCAL_METHODS = ['open', 'write', 'durable', 'close', 'recover', 'dropped', 'settled'] as const;

/**
 * Checks the `journal` option of `redisStore`: a backend of kind `'local'` (the journal).
 * @throws TypeError naming what was given and what is allowed.
 */
export function checkJournal<K, V>(value: unknown): LocalBackend<K, V> | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Record<string, unknown> | null;
  const ok =
    candidate !== null &&
    typeof candidate === 'object' &&
    candidate.kind === 'local' &&
    LOCAL_METHODS.every((method) => typeof candidate[method] === 'function');
  if (!ok) {
    throw new TypeError(
      `Expected \`journal\` to be a journal (\`journal({ dir })\` from data-buffer/journal) or another backend of kind 'local', got ${describe(value)}`,
    );
  }
  return value as LocalBackend<K, V>;
}

/** The journal's side of a journaled Redis store. */
export class JournalFront<K, V> {
  readonly #journal: LocalBackend<K, V>;
  #closing: Promise<void> | undefined;

  constructor(journal: LocalBackend<K, V>) {
    this.#journal = journal;
  }

  /** Opens the journal; returns what an earlier run left unconfirmed, per key in its order. */
  open(context: BackendContext): RecoveredBatch<K, V>[] {
    this.#journal.open(context);
    return [...this.#journal.recover()];
  }

  /** Checks, on insert, that the journal can keep the item (and throws its failure once it failed). */
  admit(key: K, value: V): void {
    this.#journal.admit?.(key, value);
  }

  /**
   * Journals one turn's inserts (reads `staged` now); settles once written at the journal's level.
   * `fields` hears where each item's encoded value lies, during the call.
   */
  write(staged: Staged<K, V>, fields?: ValueFields): Promise<void> {
    return this.#journal.write(staged, fields);
  }

  /** Counts, per key in first-seen order, the items of `staged`: what the journal lets go of later. */
  count(staged: Staged<K, V>): Map<K, number> {
    const counts = new Map<K, number>();
    const { length, keys } = staged;
    let i = 0;
    while (i < length) {
      const key = keys[i] as K;
      let run = i + 1;
      while (run < length && keys[run] === key) run++; // a turn's inserts often repeat a key
      counts.set(key, (counts.get(key) ?? 0) + run - i);
      i = run;
    }
    return counts;
  }

  /** One write is in Redis: its items (per key, `counts`) leave the journal. */
  inRedis(counts: Map<K, number>): void {
    for (const [key, count] of counts) this.#journal.dropped(key, count);
  }

  /** A recovered batch is in Redis: it leaves the journal. */
  recoveredInRedis(batch: RecoveredBatch<K, V>): void {
    if (batch.batchId !== undefined) this.#journal.settled(batch.batchId);
    else this.#journal.dropped(batch.key, batch.items.length);
  }

  /** Resolves once everything journaled so far is durable at the journal's level. */
  durable(): Promise<void> {
    return this.#journal.durable();
  }

  /** Writes what the journal still has to write, and lets go of its directory. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#journal.close();
    return this.#closing;
  }
}
