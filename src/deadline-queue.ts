/**
 * When each key is due: a bucketed deadline queue instead of one `setTimeout` per key.
 *
 * Deadlines are rounded up to a slot of `resolution` ms. Each slot holds the entries due in it, in a
 * plain array, and a min-heap orders the slots; one timer is armed for the earliest slot. An entry is a
 * key and a token (the buffer's open batch), kept side by side in the slot's array rather than in a
 * pair object: adding one costs a rounding and two array pushes, a live key two array slots, and a
 * million keys expiring together are handed out in slices so the event loop keeps turning.
 * @module
 */
import { now, SLICE_MS, startTimer, type Timer, yieldToEventLoop } from './timers.js';

/** Finest slot width, in ms. */
const MIN_RESOLUTION = 1;
/** Coarsest slot width, in ms: a key is never more than this late. */
const MAX_RESOLUTION = 50;

/** Slot width for a given interval: 1% of it, between 1 and 50 ms. */
export function resolutionFor(interval: number): number {
  return Math.min(MAX_RESOLUTION, Math.max(MIN_RESOLUTION, Math.floor(interval / 100)));
}

/**
 * Calls `onDue(key, token)` for every entry once its deadline has passed, never before. Entries cannot
 * be removed: the consumer skips entries that no longer matter (a batch flushed early by `maxSize`).
 *
 * The consumer may refuse an entry (`onDue` returns false) when it has no room for more work: handing
 * out then pauses, the entry and those after it stay here, and {@link resume} goes on from it. Due
 * entries wait in the slot arrays they were added to; moving a million of them into a queue of the
 * consumer's would allocate their slots again, and keep the garbage collector copying them.
 */
export class DeadlineQueue<K, T> {
  readonly #resolution: number;
  readonly #onDue: (key: K, token: T) => boolean;
  /** Slot time (ms, a multiple of the resolution) → entries due in that slot, as key, token, key, token, …. */
  readonly #slots = new Map<number, (K | T)[]>();
  /** Min-heap of the slot times in `#slots`. */
  readonly #heap: number[] = [];
  /** The slot most recently added to: consecutive inserts nearly always land in it. */
  #lastSlot = Number.NaN;
  #lastEntries: (K | T)[] = [];
  #timer: Timer | undefined;
  #timerSlot = Number.POSITIVE_INFINITY;
  /** Due entries not yet handed out, when a slice ran out of time; the first list from `#dueFrom` on. */
  #due: (K | T)[][] = [];
  #dueFrom = 0;
  #draining = false;
  /** The consumer refused an entry: nothing is handed out until {@link resume}. */
  #paused = false;

  /**
   * @param resolution - slot width in ms (see {@link resolutionFor}).
   * @param onDue - called once per entry whose deadline has passed; returns false to refuse it for now
   *   (see {@link resume}), true once it took it.
   */
  constructor(resolution: number, onDue: (key: K, token: T) => boolean) {
    this.#resolution = resolution;
    this.#onDue = onDue;
  }

  /** Schedules the entry `key`, `token` for `deadline` (ms on the {@link now} clock). */
  add(key: K, token: T, deadline: number): void {
    const slot = Math.ceil(deadline / this.#resolution) * this.#resolution;
    if (slot === this.#lastSlot) {
      this.#lastEntries.push(key, token);
      return;
    }
    let entries = this.#slots.get(slot);
    if (entries === undefined) {
      entries = [key, token];
      this.#slots.set(slot, entries);
      heapPush(this.#heap, slot);
      if (slot < this.#timerSlot) this.#arm(slot);
    } else {
      entries.push(key, token);
    }
    this.#lastSlot = slot;
    this.#lastEntries = entries;
  }

  /** Forgets every entry and stops the timer. */
  clear(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerSlot = Number.POSITIVE_INFINITY;
    this.#slots.clear();
    this.#heap.length = 0;
    this.#due = [];
    this.#dueFrom = 0;
    this.#paused = false;
    this.#lastSlot = Number.NaN;
    this.#lastEntries = [];
  }

  /** Whether handing out is paused because the consumer refused an entry. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * The consumer has room again: hands out due entries from the one it refused, starting at once, in
   * this call, and going on (in slices, on later turns) until they are all out or the consumer refuses
   * another. A no-op unless paused.
   */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#draining) void this.#drain();
  }

  #arm(slot: number): void {
    this.#timer?.cancel();
    this.#timerSlot = slot;
    this.#timer = startTimer(() => this.#fire(), Math.max(0, Math.ceil(slot - now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerSlot = Number.POSITIVE_INFINITY;
    const time = now();
    while (this.#heap.length > 0 && (this.#heap[0] as number) <= time) {
      const slot = heapPop(this.#heap);
      const entries = this.#slots.get(slot);
      this.#slots.delete(slot);
      if (slot === this.#lastSlot) this.#lastSlot = Number.NaN;
      if (entries !== undefined) this.#due.push(entries);
    }
    if (this.#heap.length > 0) this.#arm(this.#heap[0] as number);
    if (!this.#draining && !this.#paused) void this.#drain();
  }

  /**
   * Hands out due entries, yielding to the event loop every {@link SLICE_MS} ms, until they are all out
   * or the consumer refuses one. A cursor walks the lists in place: copying the rest of a million-entry
   * slot at every slice would be quadratic.
   */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      let sliceStart = now();
      let handed = 0;
      // Re-read `#due` at every step: `clear()` may run while we yield.
      for (let entries = this.#due[0]; entries !== undefined; entries = this.#due[0]) {
        if (this.#dueFrom === entries.length) {
          this.#due.shift();
          this.#dueFrom = 0;
          continue;
        }
        const at = this.#dueFrom;
        const key = entries[at] as K;
        const token = entries[at + 1] as T;
        // Let go of the entry before the call: a slot of a million entries is handed out over seconds,
        // and an `onDue` that throws loses its own entry only, not every one behind it.
        entries[at] = entries[at + 1] = undefined as K;
        this.#dueFrom = at + 2;
        if (!this.#onDue(key, token)) {
          // Refused: put it back, first in line for resume().
          entries[at] = key;
          entries[at + 1] = token;
          this.#dueFrom = at;
          this.#paused = true;
          return;
        }
        if ((++handed & 255) === 0 && now() - sliceStart > SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = now();
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}

function heapPush(heap: number[], value: number): void {
  let i = heap.push(value) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as number) <= value) break;
    heap[i] = heap[parent] as number;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0] as number;
  const last = heap.pop() as number;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left;
      if ((heap[child] as number) >= last) break;
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = last;
  }
  return top;
}
