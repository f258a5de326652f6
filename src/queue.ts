/**
 * A first-in first-out queue with O(1) `push` and `shift`, for the partitions' pending deliveries.
 * `Array.prototype.shift` is O(n) on long arrays; here the head is an index and the array is compacted
 * once the consumed half is large.
 * @module
 */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items waiting in the queue. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item at the tail. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the head, or `undefined` when the queue is empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  /** The items in order, head first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}
