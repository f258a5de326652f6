/**
 * The end of a delivery: releasing what it held, the per-key lines (a key's next delivery starts when
 * the one before it settles), and the waiters of `flush`, `flushAll` and `close`.
 *
 * Owns the lines ({@link Pipelines}) and the settle waiters. Invariants: every delivery not yet settled
 * is in its key's line, first in line is the only one that may have started; a delivery is released
 * once (its items leave the budget once, through {@link Settling.uncount}, whether it was delivered,
 * handed to `handleError`, dropped or dumped); a waiter for "everything up to seq N" resolves once each
 * delivery up to N settled.
 * @module
 */
import type { Budget } from './budget.js';
import { type Delivery, isCounted, QUEUED, SETTLED } from './delivery.js';
import { Pipelines } from './pipelines.js';

/** What settling needs from the other parts, handed over when it is built. */
export interface SettlingContext<K, V> {
  readonly budget: Budget<V>;
  /** The key's next delivery is first in line now: queue it in its partition. */
  schedule(delivery: Delivery<K, V>): void;
  /** The delivery left the buffer: `'drop-oldest'` can no longer drop it. */
  forget(delivery: Delivery<K, V>): void;
  /** The delivery left the buffer: out of its partition's queue, if it waited there. */
  unqueue(delivery: Delivery<K, V>): void;
  /** The delivery settled (a backend is told). */
  settled(delivery: Delivery<K, V>): void;
  /** Nothing is held any more. */
  idle(): void;
}

/** Waits for the deliveries taken up to `target` (by `seq`) to settle. */
interface SettleWaiter {
  readonly target: number;
  remaining: number;
  readonly resolve: () => void;
}

/** Releases settled deliveries and keeps each key's deliveries in order. */
export class Settling<K, V> {
  readonly #context: SettlingContext<K, V>;
  /** Every delivery not yet settled, in its key's line: the first is the one started (or next to start). */
  readonly lines = new Pipelines<K, Delivery<K, V>>();
  #waiters: SettleWaiter[] = [];

  constructor(context: SettlingContext<K, V>) {
    this.#context = context;
  }

  /** Puts a new delivery in its key's line; returns whether it is first (and may be scheduled now). */
  line(delivery: Delivery<K, V>): boolean {
    return this.lines.add(delivery);
  }

  /** A delivery is done: let its key's next delivery start, and release what it held. */
  settle(delivery: Delivery<K, V>): void {
    const nowFirst = this.lines.remove(delivery);
    if (nowFirst !== undefined && nowFirst.state === QUEUED) this.#context.schedule(nowFirst);
    this.release(delivery);
    this.afterRelease();
  }

  /** Takes an unstarted delivery out of its line and releases it (`dump()`); call {@link afterRelease} after. */
  remove(delivery: Delivery<K, V>): void {
    // A delivery that comes first in line after this one has started already, or is removed too.
    this.lines.remove(delivery);
    this.release(delivery);
  }

  /**
   * The delivery's items stop counting toward the budget (handed to `handleError`, or settled), and it
   * leaves its partition's queue if it waited there (dumped, emptied by `'drop-oldest'`, given up). The
   * one place that does it: a second call for the same delivery does nothing.
   */
  uncount(delivery: Delivery<K, V>): void {
    if (!isCounted(delivery)) return;
    this.#context.unqueue(delivery);
    const started = delivery.attempt > 0;
    this.#context.budget.release(delivery.items.length, delivery.bytes, started);
    if (!started) this.#context.forget(delivery);
  }

  /** Gives back what a delivery held and wakes whoever waits for it. */
  release(delivery: Delivery<K, V>): void {
    this.uncount(delivery);
    delivery.state = SETTLED;
    this.#context.settled(delivery);
    if (delivery.waiters !== undefined) for (const wake of delivery.waiters) wake();
    // In place: close() and flushAll() keep a waiter while every delivery settles.
    let kept = 0;
    for (const waiter of this.#waiters) {
      if (delivery.seq <= waiter.target && --waiter.remaining === 0) waiter.resolve();
      else this.#waiters[kept++] = waiter;
    }
    this.#waiters.length = kept;
  }

  /** After items left the buffer: wake `ready()` callers, and stop the exit hook when idle. */
  afterRelease(): void {
    const budget = this.#context.budget;
    budget.wakeIfRoom();
    if (budget.held === 0 && this.lines.size === 0) this.#context.idle();
  }

  /** Resolves once every delivery of the key there is now has settled. */
  async settledKey(key: K): Promise<void> {
    if (!this.lines.has(key)) return;
    // Every delivery of the key, not only the last: dump() and 'drop-oldest' settle unstarted ones
    // while an earlier one is still in flight.
    await Promise.all(
      Array.from(this.lines.of(key), (delivery) => {
        delivery.waiters ??= [];
        const waiters = delivery.waiters;
        return new Promise<void>((resolve) => waiters.push(resolve));
      }),
    );
  }

  /** Resolves once every delivery there is now (taken up to `lastSeq`) has settled; later ones do not count. */
  everySettled(lastSeq: number): Promise<void> {
    // Every delivery there is has a seq up to lastSeq, and is in a line until it settles.
    const remaining = this.lines.size;
    if (remaining === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ target: lastSeq, remaining, resolve }));
  }
}
