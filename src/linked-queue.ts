/**
 * A first-in first-out queue linked through its items, for the partitions' deliveries waiting for their
 * turn: `push`, `shift` and taking an item out of the middle are O(1) and allocate nothing. Taking one
 * out is what `dump()`, `onFull: 'drop-oldest'` and a close that gives up need: a delivery that leaves
 * the buffer before its turn leaves its partition's queue at once, so the queue's `length` is what really
 * waits (the partition's backlog check and `info()` rely on it) and the partition never meets a delivery
 * that is no longer its to run.
 *
 * Invariant: an item is in at most one queue at a time (a delivery only ever waits in its own partition's).
 * @module
 */

/** The links an item carries so that it can wait in a {@link LinkedQueue}; `undefined` outside one. */
export interface InQueue<T> {
  queuePrev: T | undefined;
  queueNext: T | undefined;
}

/** A FIFO of items that link themselves; see the module comment. */
export class LinkedQueue<T extends InQueue<T>> {
  #head: T | undefined = undefined;
  #tail: T | undefined = undefined;
  #length = 0;

  /** Items waiting in the queue. */
  get length(): number {
    return this.#length;
  }

  /** Adds an item, which must not be in a queue, at the tail. */
  push(item: T): void {
    const tail = this.#tail;
    item.queuePrev = tail;
    item.queueNext = undefined;
    if (tail === undefined) this.#head = item;
    else tail.queueNext = item;
    this.#tail = item;
    this.#length++;
  }

  /** Removes and returns the head, or `undefined` when the queue is empty. */
  shift(): T | undefined {
    const head = this.#head;
    if (head !== undefined) this.#unlink(head);
    return head;
  }

  /** Takes the item out wherever it is; returns whether it was in the queue. */
  remove(item: T): boolean {
    // Only the head has no `queuePrev` while queued.
    if (item.queuePrev === undefined && this.#head !== item) return false;
    this.#unlink(item);
    return true;
  }

  #unlink(item: T): void {
    const prev = item.queuePrev;
    const next = item.queueNext;
    if (prev === undefined) this.#head = next;
    else prev.queueNext = next;
    if (next === undefined) this.#tail = prev;
    else next.queuePrev = prev;
    // Cleared: an item that left must not keep the queue's later items alive, nor look queued.
    item.queuePrev = undefined;
    item.queueNext = undefined;
    this.#length--;
  }

  /** The items in order, head first. Do not change the queue while iterating. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let item = this.#head; item !== undefined; item = item.queueNext) yield item;
  }
}
