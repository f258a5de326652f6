/**
 * Each key's deliveries in take order: the first is the one that may run, the others wait behind it.
 * A singly linked line per key (a `Map` from key to its first delivery), so that taking and settling a
 * batch allocate nothing and settling the first of a long line costs O(1), not an array shift.
 * @module
 */

/** What a delivery carries so that it can stand in its key's line. */
export interface InLine<K, D> {
  readonly key: K;
  /** The key's next delivery, in take order. */
  next: D | undefined;
  /** Kept on the first delivery of a line only: the line's last delivery, where the next one joins. */
  last: D | undefined;
}

/**
 * Lines of at most this many keys are moved to a new `Map` now and then (see `Pipelines#renew`);
 * copying a longer one at once would itself hold up the event loop.
 */
const RENEW_UP_TO = 16_384;

/** Every key's line of deliveries, and how many deliveries they hold in all. */
export class Pipelines<K, D extends InLine<K, D>> {
  #firsts = new Map<K, D>();
  /** New keys to add before the lines move to a new `Map`. */
  #addsUntilRenewal = 1024;
  #size = 0;

  /** Deliveries in every line. */
  get size(): number {
    return this.#size;
  }

  /** Whether the key has a delivery. */
  has(key: K): boolean {
    return this.#firsts.has(key);
  }

  /**
   * Puts a delivery at the end of its key's line.
   * @returns whether it is first in line: it may start now, rather than after the deliveries ahead of it.
   */
  add(delivery: D): boolean {
    this.#size++;
    delivery.next = undefined;
    const first = this.#firsts.get(delivery.key);
    if (first === undefined) {
      delivery.last = delivery;
      if (--this.#addsUntilRenewal === 0) this.#renew();
      this.#firsts.set(delivery.key, delivery);
      return true;
    }
    (first.last as D).next = delivery;
    first.last = delivery;
    return false;
  }

  /**
   * Moves the lines to a new `Map`. Every key joins and leaves the map once per delivery, and V8 then
   * rebuilds the map's hash table every thousand or so keys, and the old table keeps pointing at the
   * new one (and at its deliveries). Once one of those tables has lived long enough to reach the old
   * generation, each table after it, and every delivery in it, survives the young-generation
   * collections and is copied into the old generation too. In a flush storm that was most of what a
   * delivery allocates, and each scavenge took 10 ms instead of 2. A new `Map` ends the chain.
   * Copying costs at most half a step per key added since the last one.
   */
  #renew(): void {
    if (this.#firsts.size <= RENEW_UP_TO) this.#firsts = new Map(this.#firsts);
    this.#addsUntilRenewal = 2 * this.#firsts.size + 1024;
  }

  /**
   * Takes a delivery out of its key's line (a no-op when it is not in one).
   * @returns the delivery now first in line, when the one removed was first and another follows it.
   */
  remove(delivery: D): D | undefined {
    const first = this.#firsts.get(delivery.key);
    if (first === undefined) return undefined;
    if (first === delivery) {
      this.#size--;
      const next = delivery.next;
      if (next === undefined) {
        this.#firsts.delete(delivery.key);
      } else {
        next.last = delivery.last;
        this.#firsts.set(delivery.key, next);
      }
      delivery.next = undefined;
      delivery.last = undefined;
      return next;
    }
    // Out of the middle or the end: dump() and 'drop-oldest' only, so a walk is fine.
    let before = first;
    while (before.next !== undefined && before.next !== delivery) before = before.next;
    if (before.next !== delivery) return undefined;
    this.#size--;
    before.next = delivery.next;
    if (first.last === delivery) first.last = before;
    delivery.next = undefined;
    return undefined;
  }

  /** The key's deliveries, first in line first. */
  *of(key: K): IterableIterator<D> {
    for (let delivery = this.#firsts.get(key); delivery !== undefined; delivery = delivery.next) {
      yield delivery;
    }
  }

  /** The lines, one per key, each as its first delivery. Do not call `add` while iterating. */
  firsts(): IterableIterator<D> {
    return this.#firsts.values();
  }

  /** Every delivery, line after line. Do not call `add` while iterating. */
  *[Symbol.iterator](): IterableIterator<D> {
    for (const first of this.#firsts.values()) {
      for (let delivery: D | undefined = first; delivery !== undefined; delivery = delivery.next) {
        yield delivery;
      }
    }
  }
}
