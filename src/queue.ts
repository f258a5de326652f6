/**
 * A first-in first-out queue with O(1) `push` and `shift`, for the due batches waiting for room in their
 * partition (a partition's own queue of deliveries is a `LinkedQueue`, `linked-queue.ts`, which can
 * take one out of the middle). Items live in fixed blocks of {@link BLOCK_SIZE} slots, linked head to
 * tail: a queue that grows to a million entries (a million keys falling due together) never copies its
 * items into a bigger array, nor compacts them as it drains; each block is let go once read. Copying
 * was what made a flush storm's garbage collections long, and the event loop wait.
 * @module
 */

/** Slots per block: 8 KiB of pointers, small enough to stay out of V8's large-object space. */
const BLOCK_SIZE = 1024;

/** A class rather than an object literal: one shape for every block of every queue, whatever the GC did. */
class Block<T> {
  readonly slots: (T | undefined)[] = [];
  next: Block<T> | undefined = undefined;
}

export class Queue<T> {
  /** The block holding the head, and the head's index in it. */
  #first = new Block<T>();
  #firstIndex = 0;
  /** The block holding the tail, and the index the next item goes to. */
  #last: Block<T> = this.#first;
  #lastIndex = 0;
  #length = 0;

  /** Items waiting in the queue. */
  get length(): number {
    return this.#length;
  }

  /** Adds an item at the tail. */
  push(item: T): void {
    if (this.#lastIndex === BLOCK_SIZE) {
      const block = new Block<T>();
      this.#last.next = block;
      this.#last = block;
      this.#lastIndex = 0;
    }
    // Filled in order from 0, so the slots array stays packed.
    this.#last.slots[this.#lastIndex++] = item;
    this.#length++;
  }

  /** Removes and returns the head, or `undefined` when the queue is empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    if (this.#firstIndex === BLOCK_SIZE) {
      this.#first = this.#first.next as Block<T>;
      this.#firstIndex = 0;
    }
    const slots = this.#first.slots;
    const item = slots[this.#firstIndex] as T;
    slots[this.#firstIndex++] = undefined;
    if (--this.#length === 0) {
      // Emptied: start over at the first slot of this block, so that a queue that never holds many
      // items (the usual case) keeps reusing one small array.
      this.#first = this.#last;
      this.#firstIndex = 0;
      this.#lastIndex = 0;
    }
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.#first = new Block<T>();
    this.#firstIndex = 0;
    this.#last = this.#first;
    this.#lastIndex = 0;
    this.#length = 0;
  }

  /** The items in order, head first. */
  *[Symbol.iterator](): IterableIterator<T> {
    let index = this.#firstIndex;
    let left = this.#length;
    for (let block: Block<T> | undefined = this.#first; block !== undefined && left > 0; block = block.next) {
      for (; index < BLOCK_SIZE && left > 0; index++, left--) yield block.slots[index] as T;
      index = 0;
    }
  }
}
