/**
 * Write-behind to a `store` backend: the staging ring that every accepted insert is copied into (two
 * array writes, no allocation), handed to `backend.write` once per turn of the event loop or at once
 * when the ring is full; `persisted()`; and the backend's bookkeeping calls (`taken`, `settled`,
 * `dropped`, `trimmed`; local backends only). A buffer without a `store` has no write-behind at all. With
 * a shared store, the ring is the only local stage: an item counts toward the budget until its write is in.
 *
 * Owns the ring, the insert sequence numbers, the chain of pending writes and the failure. Invariants:
 * inserts reach the backend in insert order, numbered 0, 1, 2, … without gaps; the ring is drained
 * before the backend hears of a take, settle or drop (so it never hears of items it was not given);
 * after the first failure (fail-stop) nothing more is written or told, and every later `persisted()`
 * and insert fails with the same {@link StoreFailedError}; the backend is closed once, last.
 * @module
 */
import type { Backend, LocalBackend, SharedBackend, Staged, StoreLeftovers } from './backend.js';
import { describe, invalidArgType, invalidArgValue, StoreFailedError } from './errors.js';
import type { Logger } from './options.js';
import { onNextTurn } from './timers.js';

/** Inserts the ring holds before it is written at once, without waiting for the turn to end. */
export const STAGING_RING_SIZE = 4096;

/** The write-behind of one buffer to its backend. */
export class WriteBehind<K, V> {
  readonly #backend: Backend<K, V>;
  /** Only for a shared store: a write is in (its items stop counting toward the budget). */
  readonly #written_: ((count: number, bytes: number) => void) | undefined;
  /** Estimated bytes of the items in the ring (counted only when a shared store releases them on write). */
  #bytes = 0;
  readonly #logger: Logger;
  readonly #capacity: number;
  /** The ring: preallocated, so staging an insert is two element writes. */
  readonly #keys: K[];
  readonly #values: V[];
  #length = 0;
  /** Sequence number of the insert in `#keys[0]`. */
  #firstSeq = 0;
  #flushQueued = false;
  /** Settles once every write handed to the backend so far has settled (never rejects). */
  #written: Promise<void> = Promise.resolve();
  #closed = false;
  /** The close deadline cut the backend's close short: failures from now on are expected, not logged. */
  #abandoned = false;
  /** Takes told to the backend, the last one recorded, and the `durable()` call waited on for the latest. */
  #takes = 0;
  #recordedTakes = 0;
  #recording: Promise<void> | undefined;
  #recordingTakes = 0;
  /** The first failure; set once, and from then on the buffer accepts no inserts (it checks this field). */
  failure: StoreFailedError | undefined = undefined;

  /**
   * @param written - called with a write's item count and bytes once it is in (shared stores).
   * @param capacity - inserts the ring holds (see {@link STAGING_RING_SIZE}).
   */
  constructor(
    backend: Backend<K, V>,
    logger: Logger,
    written?: (count: number, bytes: number) => void,
    capacity = STAGING_RING_SIZE,
  ) {
    this.#backend = backend;
    this.#written_ = written;
    this.#logger = logger;
    this.#capacity = capacity;
    this.#keys = new Array<K>(capacity);
    this.#values = new Array<V>(capacity);
  }

  /**
   * Throws the failure once the backend failed (fail-stop), or what the backend's `admit` throws for
   * an item it could not keep (naming it), before the insert stores anything.
   */
  admit(key: K, value: V): void {
    if (this.failure !== undefined) throw this.failure;
    this.#backend.admit?.(key, value);
  }

  /** Copies an accepted insert into the ring; written at the end of this turn, or now if the ring is full. */
  stage(key: K, value: V, bytes = 0): void {
    const index = this.#length;
    this.#bytes += bytes;
    this.#keys[index] = key;
    this.#values[index] = value;
    this.#length = index + 1;
    if (index === 0 && !this.#flushQueued) {
      this.#flushQueued = true;
      onNextTurn(this.#endOfTurn);
    }
    if (index + 1 === this.#capacity) this.flush();
  }

  readonly #endOfTurn = (): void => {
    this.#flushQueued = false;
    this.flush();
  };

  /** Hands what the ring holds to `backend.write`, now. */
  flush(): void {
    const length = this.#length;
    if (length === 0) return;
    const staged: Staged<K, V> = { length, keys: this.#keys, values: this.#values, firstSeq: this.#firstSeq };
    const bytes = this.#bytes;
    this.#length = 0;
    this.#bytes = 0;
    this.#firstSeq += length;
    if (this.failure === undefined) {
      let write: Promise<void>;
      try {
        write = Promise.resolve(this.#backend.write(staged));
      } catch (error) {
        write = Promise.reject(error);
      }
      const written = this.#written_;
      const settled = write.then(
        written === undefined ? undefined : () => written(length, bytes),
        (error: unknown) => this.#fail('write', error),
      );
      const before = this.#written;
      this.#written = before.then(() => settled);
    }
    // `write` has read the ring: let go of the items, so that staged values do not outlive their delivery.
    this.#keys.fill(undefined as K, 0, length);
    this.#values.fill(undefined as V, 0, length);
  }

  /**
   * The key's oldest `count` untaken items became the batch `batchId`.
   * @returns the take's number, for {@link whenRecorded}.
   */
  taken(key: K, count: number, batchId: string): number {
    this.flush();
    const take = ++this.#takes;
    if (this.failure !== undefined) return take;
    try {
      (this.#backend as LocalBackend<K, V>).taken(key, count, batchId);
    } catch (error) {
      this.#fail('taken', error);
    }
    return take;
  }

  /**
   * Undefined when the take numbered `take` (as {@link taken} returned it) is recorded by the backend
   * (`durable()` resolved after it), else a promise that settles (never rejects) once it is. Deliveries
   * wait on it before their first attempt: a batch handed to `handleFlush` before its take is recorded
   * would, after a crash, come back as untaken items under a new batch id, and an idempotent sink
   * could not tell the duplicate. One `durable()` covers every take made before it was called.
   */
  whenRecorded(take: number): Promise<void> | undefined {
    if (take <= this.#recordedTakes || this.failure !== undefined) return undefined;
    if (this.#recording !== undefined && take <= this.#recordingTakes) return this.#recording;
    const covers = this.#takes;
    let recording: Promise<void>;
    try {
      recording = Promise.resolve(this.#backend.durable());
    } catch (error) {
      recording = Promise.reject(error);
    }
    recording = recording.then(
      () => {
        if (covers > this.#recordedTakes) this.#recordedTakes = covers;
        if (this.#recording === recording) this.#recording = undefined;
      },
      (error: unknown) => {
        this.#fail('durable', error);
        if (this.#recording === recording) this.#recording = undefined;
      },
    );
    this.#recording = recording;
    this.#recordingTakes = covers;
    return recording;
  }

  /** The batch `batchId` settled. */
  settled(batchId: string): void {
    this.flush();
    if (this.failure !== undefined) return;
    try {
      (this.#backend as LocalBackend<K, V>).settled(batchId);
    } catch (error) {
      this.#fail('settled', error);
    }
  }

  /** The oldest `count` items of the taken, unstarted batch `batchId` were dropped (`onFull: 'drop-oldest'`). */
  trimmed(batchId: string, count: number): void {
    this.flush();
    if (this.failure !== undefined) return;
    try {
      (this.#backend as LocalBackend<K, V>).trimmed(batchId, count);
    } catch (error) {
      this.#fail('trimmed', error);
    }
  }

  /** The key's oldest `count` untaken items were dropped or dumped. */
  dropped(key: K, count: number): void {
    this.flush();
    if (this.failure !== undefined) return;
    try {
      (this.#backend as LocalBackend<K, V>).dropped(key, count);
    } catch (error) {
      this.#fail('dropped', error);
    }
  }

  /**
   * Resolves once everything staged before the call is written and the backend says it is durable
   * (with `durableBeforeWritten`, once it says so, written or not); rejects with the
   * {@link StoreFailedError} once the backend failed.
   */
  async persisted(): Promise<void> {
    this.flush();
    // A journal in front of a shared store: durable once journaled, whether the engine has it yet or not.
    if (this.#backend.durableBeforeWritten !== true) await this.#written;
    if (this.failure !== undefined) throw this.failure;
    if (this.#closed) return; // closed after every write succeeded: all of it is durable
    try {
      await this.#backend.durable();
    } catch (error) {
      this.#fail('durable', error);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Drains the ring, waits for the writes, and closes the backend (last, once); failures are logged. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.flush();
    await this.#written;
    this.#closed = true;
    try {
      await this.#backend.close();
    } catch (error) {
      if (!this.#abandoned) this.#logger.error('data-buffer: closing the store failed', { error });
    }
  }

  /**
   * The close deadline passed while {@link close} still waited (a store that does not answer): tells
   * the backend to stop (its pending writes then reject, and `persisted()` with them) and returns what
   * it says was left undone; a backend that cannot tell reports nothing.
   */
  async abandon(): Promise<StoreLeftovers> {
    this.#abandoned = true;
    this.#closed = true;
    const left = await this.#backend.abandon?.();
    return left ?? { unwritten: 0, unreturned: 0 };
  }

  #fail(operation: string, error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = new StoreFailedError(operation, error);
    if (!this.#abandoned) this.#logger.error(`data-buffer: ${this.failure.message}`, { error });
  }
}

const BACKEND_METHODS = ['open', 'write', 'durable', 'close'] as const;
const LOCAL_BACKEND_METHODS = ['recover', 'taken', 'settled', 'dropped', 'trimmed'] as const;
const SHARED_BACKEND_METHODS = ['due', 'pending', 'claim', 'extend', 'ack', 'release'] as const;

/**
 * Checks the `store` option: a backend of kind `'local'` (the journal) or `'shared'` (a store on
 * Redis), or nothing.
 */
export function checkStore<K, V>(value: unknown): LocalBackend<K, V> | SharedBackend<K, V> | undefined {
  if (value === undefined) return undefined;
  const allowed =
    "a backend object of kind 'local' (with open, write, durable, close, recover, taken, settled, dropped and trimmed methods) or of kind 'shared' (with open, write, durable, close, due, pending, claim, extend, ack and release methods, and partitions and leaseMs)";
  if (typeof value !== 'object' || value === null) {
    throw invalidArgType(`Expected \`store\` to be ${allowed}, got ${describe(value)}`);
  }
  const backend = value as Record<string, unknown>;
  if (backend.kind !== 'local' && backend.kind !== 'shared') {
    throw invalidArgValue(`Expected \`store.kind\` to be 'local' or 'shared', got ${describe(backend.kind)}`);
  }
  const methods = backend.kind === 'local' ? LOCAL_BACKEND_METHODS : SHARED_BACKEND_METHODS;
  for (const method of [...BACKEND_METHODS, ...methods]) {
    if (typeof backend[method] !== 'function') {
      throw invalidArgType(
        `Expected \`store.${method}\` to be a function, got ${describe(backend[method])}; \`store\` must be ${allowed}`,
      );
    }
  }
  if (backend.kind === 'shared') {
    for (const field of ['partitions', 'leaseMs'] as const) {
      const number = backend[field];
      if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) {
        throw invalidArgType(
          `Expected \`store.${field}\` to be an integer >= 1, got ${describe(number)}; \`store\` must be ${allowed}`,
        );
      }
    }
    return value as SharedBackend<K, V>;
  }
  return value as LocalBackend<K, V>;
}
