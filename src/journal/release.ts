/**
 * Resolving the writer's waiters a slice at a time. A waiter is a `persisted()` (or a write) that a
 * write or an fdatasync just covered, and resolving it runs its caller's continuation in the same turn:
 * with 200 producers waiting on one fdatasync, resolving them all at once ran 200 producers' next inserts
 * (encoding included) in one long turn of the event loop. Here the first slice resolves at once and the
 * rest on the following turns, the slice sized so that a turn of continuations stays near
 * {@link SLICE_MS}: timers and I/O get their turn in between, and the group commit is not smaller for
 * it (what the later slices insert goes with the next write, as it would have).
 *
 * Waiters handed over here are done (written, or synced): a failure of the journal afterwards does not
 * reject them.
 * @module
 */
import { now, onNextTurn, SLICE_MS } from '../timers.js';

/** A caller waiting for a write or an fdatasync. */
export interface Waiter {
  /** The record count the caller waits for (the builder's `appended` when it asked). */
  readonly ticket: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Waiters resolved in the first slice, before anything is measured. */
const FIRST_SLICE = 16;
/** The most waiters one slice resolves. */
const MAX_SLICE = 4096;
/** The time a slice's continuations should take, in ms: half a {@link SLICE_MS}. */
const SLICE_BUDGET = SLICE_MS / 2;

/** Resolves done waiters in order, a slice per turn of the event loop. */
export class Release {
  #queue: Waiter[] = [];
  #head = 0;
  /** Waiters per slice: {@link SLICE_BUDGET} over what one waiter's continuation took lately. */
  #slice = FIRST_SLICE;
  /** Waiters resolved by the slice being measured, and when. */
  #resolved = 0;
  #sliceStart = 0;
  #scheduled = false;
  readonly #drained: (() => void) | undefined;
  readonly #clock: () => number;

  /**
   * @param drained - called once the last waiter handed over is resolved.
   * @param clock - milliseconds on a monotonic clock (tests give their own).
   */
  constructor(drained?: () => void, clock: () => number = now) {
    this.#drained = drained;
    this.#clock = clock;
  }

  /** Waiters handed over and not resolved yet. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Resolves the waiters at the front of `waiters` whose ticket is `done` or less (now, or on the
   * next turns), and returns the others.
   */
  settle(waiters: Waiter[], done: number): Waiter[] {
    let index = 0;
    while (index < waiters.length && waiters[index]!.ticket <= done) index++;
    if (index === 0) return waiters;
    if (this.pending === 0) {
      this.#queue = index === waiters.length ? waiters : waiters.slice(0, index);
      this.#head = 0;
    } else {
      for (let i = 0; i < index; i++) this.#queue.push(waiters[i]!);
    }
    if (!this.#scheduled) this.#resolveSlice();
    return index === waiters.length ? [] : waiters.slice(index);
  }

  /** On the turn after a slice: sizes the next slice by what this one took, and resolves it. */
  readonly #next = (): void => {
    this.#scheduled = false;
    // From the slice's resolution to this turn: its continuations ran (and the rest of that turn).
    const perWaiter = (this.#clock() - this.#sliceStart) / this.#resolved;
    this.#slice = Math.max(1, Math.min(MAX_SLICE, Math.floor(SLICE_BUDGET / perWaiter)));
    if (this.pending > 0) this.#resolveSlice();
    else {
      this.#queue = [];
      this.#head = 0;
    }
  };

  #resolveSlice(): void {
    const queue = this.#queue;
    const end = Math.min(queue.length, this.#head + this.#slice);
    this.#resolved = end - this.#head;
    this.#sliceStart = this.#clock();
    // Resolving calls no user code (continuations run after, as microtasks): nothing can throw here.
    while (this.#head < end) queue[this.#head++]!.resolve();
    if (this.#head === queue.length) this.#drained?.();
    // The next turn measures this slice, and resolves the next one if any is left.
    this.#scheduled = true;
    onNextTurn(this.#next);
  }
}
