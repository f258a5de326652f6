/**
 * A queue checker for the reliability tests: every inserted item carries a unique id, and the checker
 * records where each one ended up (delivered, handed to `handleError`, dropped, dumped), so a test can
 * assert exact accounting rather than totals that may hide a loss and a duplicate cancelling out.
 *
 * The buffer's handlers are the checker's: `checker.handleFlush(outcome)`, `checker.handleError`,
 * `checker.onDrop` and `checker.logger`. After each step, {@link QueueChecker.check} asserts the
 * conservation law `inserted = delivered + handed to handleError + dropped + dumped + buffered`, item
 * by item and key by key, and against `buffer.stats()`.
 */
import { vi } from 'vitest';
import type { DataBuffer, DropReason, ErrorInfo, FlushInfo } from '../../src/index.js';

/** One buffered value: the key it was inserted under and an id no other item has. */
export interface Item {
  readonly key: string;
  readonly id: number;
}

/** Where an item ended up. */
export type Fate = 'delivered' | 'errored' | 'dropped' | 'dumped';

/**
 * A handler result the checker hands to the buffer unread, because reading it is the test: one whose
 * reading throws (a `then` getter, a revoked Proxy) or a rejected promise with its own lying `then`.
 * Every such attempt must fail, as `await` would make it.
 */
export class Hostile {
  readonly value: unknown;
  constructor(value: unknown) {
    this.value = value;
  }
}

/** One `handleFlush` call, as the sink saw it. */
export interface SinkCall {
  readonly key: string;
  readonly ids: number[];
  readonly info: FlushInfo;
}

/** What `handleFlush` does with one call: return a value or a promise, or throw. */
export type Outcome = (call: SinkCall) => unknown;

/** The checker's four counters, plus what the law is made of. */
export interface CheckerReport {
  readonly inserted: number;
  readonly delivered: number;
  readonly errored: number;
  readonly dropped: number;
  readonly dumped: number;
  /** Items with no fate yet: the buffer must hold exactly these. */
  readonly pending: number;
  /** Items the buffer no longer holds that reached no handler (only meaningful once it holds none). */
  readonly lost: number;
  /** Items that reached a second fate, or were delivered again under another batch id. */
  readonly duplicated: number;
  /** Items a handler received that were never inserted, or under the wrong key. */
  readonly unexpected: number;
  /** Attempts that succeeded after the buffer gave up on them (their signal was aborted first). */
  readonly zombies: number;
  /** Successful calls of a batch id that had already succeeded (an idempotent sink drops them). */
  readonly redelivered: number;
}

/** Records the fate of every item and checks the accounting of a {@link DataBuffer} of `Item`s. */
export class QueueChecker {
  #nextId = 0;
  /** Ids inserted and not yet given a fate, in insertion order. */
  readonly #pending = new Map<number, Item>();
  readonly #fates = new Map<number, Fate>();
  /** Batch ids that succeeded once: a second success is a redelivery, not a duplicate. */
  readonly #succeededBatches = new Set<string>();
  /** Ids handleFlush has been called with at least once. */
  readonly #reachedSink = new Set<number>();
  /** The ids of every batch id seen by handleFlush. */
  readonly #batches = new Map<string, number[]>();
  /** Last delivered id per key, for the per-key order check. */
  readonly #lastDelivered = new Map<string, number>();
  /** Live attempt per key (signal not aborted, not settled), for the overlap check. */
  readonly #running = new Map<string, FlushInfo>();
  #buffer: DataBuffer<string, Item> | undefined;
  #inserted = 0;
  #counts: Record<Fate, number> = { delivered: 0, errored: 0, dropped: 0, dumped: 0 };
  #duplicated = 0;
  #unexpected = 0;
  #zombies = 0;
  #redelivered = 0;
  /** Everything that broke an invariant the moment it happened, with enough detail to debug. */
  readonly violations: string[] = [];
  /** Every `handleFlush` call, in order. */
  readonly calls: SinkCall[] = [];
  /** Every `handleError` call. */
  readonly errors: { key: string; ids: number[]; error: Error; info: ErrorInfo }[] = [];
  /** Losses reported through `logger.error`, with their key and item count. */
  readonly lossReports: { key: string; count: number }[] = [];
  /** Every `onDrop` call. */
  readonly drops: { key: string; ids: number[]; reason: DropReason }[] = [];
  /** Every `logger.error` / `logger.warn` call, in order. */
  readonly logged: { level: 'error' | 'warn'; message: string; details: unknown }[] = [];
  /** Makes the logger throw after recording (a broken log sink). */
  loggerThrows = false;
  /**
   * Records `logger.error` / `logger.warn`; losses it reports (no or failing `handleError`) count as
   * errored. Plain functions, not `vi.fn()`: Vitest keeps every mock alive, and the model test builds
   * ten thousand checkers.
   */
  readonly logger = {
    error: (message: string, details?: unknown) => {
      this.logged.push({ level: 'error', message, details });
      if (this.loggerThrows) throw new Error('log sink down');
      this.#loggedLoss(details);
    },
    warn: (message: string, details?: unknown) => {
      this.logged.push({ level: 'warn', message, details });
      if (this.loggerThrows) throw new Error('log sink down');
    },
  };

  /** What was logged at `level`, in order. */
  logs(level: 'error' | 'warn') {
    return this.logged.filter((entry) => entry.level === level);
  }

  /** The buffer under test; call once it is built (its handlers are this checker's). */
  watch(buffer: DataBuffer<string, Item>): this {
    this.#buffer = buffer;
    return this;
  }

  get buffer(): DataBuffer<string, Item> {
    if (this.#buffer === undefined) throw new Error('checker.watch(buffer) was not called');
    return this.#buffer;
  }

  /** The id of the item created last. */
  get lastId(): number {
    return this.#nextId - 1;
  }

  /** A new item with a fresh id (not inserted). */
  item(key: string): Item {
    return { key, id: this.#nextId++ };
  }

  /**
   * Inserts `count` new items under `key` one by one; returns the last `insert` result. An insert that
   * throws (closed, or full under `onFull: 'throw'`) inserted nothing, and the error is rethrown.
   */
  insert(key: string, count = 1): boolean {
    let result = true;
    for (let i = 0; i < count; i++) {
      const item = this.item(key);
      this.#pending.set(item.id, item);
      this.#inserted++;
      try {
        result = this.buffer.insert(key, item);
      } catch (error) {
        this.#pending.delete(item.id);
        this.#inserted--;
        throw error;
      }
    }
    return result;
  }

  /**
   * Inserts `count` new items under `key` with one `insertMany`; same rules as {@link insert}. `wrap`
   * turns the array into the iterable given (a generator that runs user code partway, say).
   */
  insertMany(key: string, count: number, wrap?: (items: Item[]) => Iterable<Item>): boolean {
    const items = Array.from({ length: count }, () => this.item(key));
    for (const item of items) this.#pending.set(item.id, item);
    this.#inserted += count;
    try {
      return this.buffer.insertMany(key, wrap === undefined ? items : wrap(items));
    } catch (error) {
      for (const item of items) {
        // A refusal under 'throw' inserts nothing: none of them may have a fate.
        if (this.#fates.has(item.id)) this.#violation(`item ${item.id} has a fate but insertMany threw`);
        this.#pending.delete(item.id);
      }
      this.#inserted -= count;
      throw error;
    }
  }

  /**
   * A `handleFlush` that records every call and then does what `outcome` says (default: succeed).
   * Items count as delivered when the call succeeds while its attempt is live; a success after the
   * buffer gave up on the attempt (flush timeout, shutdown) is a zombie and counts for nothing.
   */
  handleFlush(outcome?: Outcome): (key: string, items: Item[], info: FlushInfo) => unknown {
    return (key, items, info) => {
      const call: SinkCall = { key, ids: items.map((item) => item.id), info };
      this.calls.push(call);
      this.#batches.set(info.batchId, call.ids);
      for (const id of call.ids) this.#reachedSink.add(id);
      const live = this.#running.get(key);
      if (live !== undefined && !live.signal.aborted) {
        this.#violation(`overlapping flushes of key ${key}: ${live.batchId} and ${info.batchId}`);
      }
      this.#running.set(key, info);
      const done = () => {
        if (this.#running.get(key) === info) this.#running.delete(key);
      };
      info.signal.addEventListener('abort', done, { once: true });
      let result: unknown;
      try {
        result = outcome?.(call);
      } catch (error) {
        done();
        throw error;
      }
      if (result instanceof Hostile) {
        // Handed to the buffer as it is, unread: the buffer must count the attempt as failed.
        done();
        return result.value;
      }
      if (!isThenable(result)) {
        this.#succeeded(key, items, info);
        done();
        return result;
      }
      return Promise.resolve(result).then(
        (value) => {
          if (info.signal.aborted) this.#zombies++;
          else this.#succeeded(key, items, info);
          done();
          return value;
        },
        (error: unknown) => {
          done();
          throw error;
        },
      );
    };
  }

  /** A `handleError` that records the batch as errored. */
  readonly handleError = (key: string, items: Item[], error: Error, info: ErrorInfo): void => {
    this.errors.push({ key, ids: items.map((item) => item.id), error, info });
    for (const item of items) this.#fate(item, 'errored', key);
  };

  /** An `onDrop` that records the items as dropped. */
  readonly onDrop = (key: string, items: Item[], reason: DropReason): void => {
    this.drops.push({ key, ids: items.map((item) => item.id), reason });
    for (const item of items) this.#fate(item, 'dropped', key);
  };

  /** Calls `buffer.dump()` and records what it returned as dumped. */
  dump(): Map<string, Item[]> {
    const dumped = this.buffer.dump();
    for (const [key, items] of dumped) for (const item of items) this.#fate(item, 'dumped', key);
    return dumped;
  }

  /** Advances the fake clock (running promise callbacks between timers), then checks the law. */
  async advance(ms: number): Promise<void> {
    await vi.advanceTimersByTimeAsync(ms);
    this.check();
  }

  /**
   * Advances the fake clock in `step` ms steps, checking the law after each, until `promise` settles
   * (at most `limit` ms); returns its value, or throws what it rejected with.
   */
  async until<T>(promise: Promise<T>, step = 10, limit = 600_000): Promise<T> {
    let settled = false;
    const watched = promise.then(
      (value) => {
        settled = true;
        return value;
      },
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    // Observe a rejection now; it is rethrown by the `await` below.
    watched.catch(() => {});
    for (let waited = 0; !settled; waited += step) {
      if (waited >= limit) throw new Error(`Queue checker: the promise did not settle within ${limit} ms`);
      await this.advance(step);
    }
    return watched;
  }

  /** The four counters and the parts of the law. */
  report(): CheckerReport {
    const held = this.#buffer?.size ?? 0;
    return {
      inserted: this.#inserted,
      ...this.#counts,
      pending: this.#pending.size,
      lost: Math.max(0, this.#pending.size - held),
      duplicated: this.#duplicated,
      unexpected: this.#unexpected,
      zombies: this.#zombies,
      redelivered: this.#redelivered,
    };
  }

  /** Ids delivered under `key`, in delivery order. */
  deliveredIds(key?: string): number[] {
    return this.calls
      .filter((call) => key === undefined || call.key === key)
      .flatMap((call) => call.ids)
      .filter((id, i, all) => this.#fates.get(id) === 'delivered' && all.indexOf(id) === i);
  }

  /** Ids inserted (under `key`, or any key) that have no fate yet. */
  pendingIds(key?: string): number[] {
    const ids: number[] = [];
    for (const item of this.#pending.values()) if (key === undefined || item.key === key) ids.push(item.id);
    return ids;
  }

  /** Whether handleFlush has been called with the item (its delivery started). */
  reachedSink(id: number): boolean {
    return this.#reachedSink.has(id);
  }

  /** The fate of an id, if it has one. */
  fateOf(id: number): Fate | undefined {
    return this.#fates.get(id);
  }

  /** Ids whose fate is `fate`. */
  idsWith(fate: Fate): number[] {
    return [...this.#fates].filter(([, f]) => f === fate).map(([id]) => id);
  }

  /**
   * Asserts, now: no violation so far; nothing duplicated or unexpected; the buffer holds exactly the
   * pending items (in total and per key); and `stats()` agrees with the checker on every term of
   * `inserted = flushed + failed + dropped + dumped + buffered`.
   */
  check(): CheckerReport {
    const report = this.report();
    const buffer = this.buffer;
    const problems = [...this.violations];
    if (report.duplicated !== 0) problems.push(`${report.duplicated} item(s) duplicated`);
    if (report.unexpected !== 0) problems.push(`${report.unexpected} unexpected item(s)`);
    const accounted = report.delivered + report.errored + report.dropped + report.dumped + buffer.size;
    if (report.inserted !== accounted) {
      problems.push(
        `conservation: inserted ${report.inserted} != delivered ${report.delivered} + errored ${report.errored} + dropped ${report.dropped} + dumped ${report.dumped} + buffered ${buffer.size}`,
      );
    }
    const perKey = new Map<string, number>();
    for (const item of this.#pending.values()) perKey.set(item.key, (perKey.get(item.key) ?? 0) + 1);
    for (const [key, count] of perKey) {
      if (buffer.count(key) !== count)
        problems.push(`key ${key}: count() ${buffer.count(key)}, expected ${count}`);
    }
    const stats = buffer.stats();
    const expected = {
      inserted: report.inserted,
      flushed: report.delivered,
      failed: report.errored,
      dropped: report.dropped,
      dumped: report.dumped,
      buffered: report.pending,
    };
    for (const [name, value] of Object.entries(expected)) {
      const actual = stats[name as keyof typeof expected];
      if (actual !== value) problems.push(`stats().${name} is ${actual}, the checker counts ${value}`);
    }
    if (stats.inserted !== stats.flushed + stats.failed + stats.dropped + stats.dumped + stats.buffered) {
      problems.push(`stats() does not balance: ${JSON.stringify(stats)}`);
    }
    if (problems.length > 0) {
      throw new Error(`Queue checker:\n  ${problems.join('\n  ')}\nreport: ${JSON.stringify(report)}`);
    }
    return report;
  }

  /** Asserts that everything inserted has a fate and the buffer is empty: nothing lost. */
  checkDrained(): CheckerReport {
    const report = this.check();
    if (report.pending !== 0 || this.buffer.size !== 0) {
      const ids = [...this.#pending.keys()].slice(0, 20);
      throw new Error(
        `Queue checker: ${report.pending} item(s) never reached a handler, e.g. ${ids.join(', ')}`,
      );
    }
    return report;
  }

  #succeeded(key: string, items: Item[], info: FlushInfo): void {
    if (this.#succeededBatches.has(info.batchId)) {
      this.#redelivered++;
      return;
    }
    this.#succeededBatches.add(info.batchId);
    for (const item of items) {
      if (!this.#fate(item, 'delivered', key)) continue;
      const last = this.#lastDelivered.get(key);
      if (last !== undefined && item.id < last) {
        this.#violation(`key ${key}: item ${item.id} delivered after item ${last}`);
      }
      this.#lastDelivered.set(key, item.id);
    }
  }

  /** Gives an item its fate; false (and counted) when it is a duplicate or unexpected. */
  #fate(item: Item, fate: Fate, key: string): boolean {
    if (item.key !== key || !this.#pending.has(item.id)) {
      if (this.#fates.has(item.id)) {
        this.#duplicated++;
        this.#violation(`item ${item.id} ${fate}, but it was ${this.#fates.get(item.id)} already`);
      } else {
        this.#unexpected++;
        this.#violation(`item ${JSON.stringify(item)} ${fate} under key ${key}, never inserted there`);
      }
      return false;
    }
    this.#pending.delete(item.id);
    this.#fates.set(item.id, fate);
    this.#counts[fate]++;
    return true;
  }

  /**
   * The buffer reported a loss (no or failing handleError). Its batch id names the items when the
   * batch reached handleFlush; if it never ran, they are the key's oldest pending items.
   */
  #loggedLoss(details: unknown): void {
    const { key, count, batchId } = (details ?? {}) as { key?: unknown; count?: unknown; batchId?: unknown };
    if (typeof key !== 'string' || typeof count !== 'number') return;
    this.lossReports.push({ key, count });
    const ids = typeof batchId === 'string' ? this.#batches.get(batchId) : undefined;
    if (ids !== undefined) {
      // Those our handleError saw already (it then failed) keep their fate.
      for (const id of ids) {
        const item = this.#pending.get(id);
        if (item !== undefined) this.#fate(item, 'errored', key);
      }
      return;
    }
    let left = count;
    for (const item of this.#pending.values()) {
      if (left === 0) break;
      if (item.key !== key) continue;
      // Already counted by our handleError (which then failed): the fate stands.
      this.#fate(item, 'errored', key);
      left--;
    }
  }

  #violation(message: string): void {
    this.violations.push(message);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
