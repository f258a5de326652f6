/**
 * The seam behind the local stage: an optional **backend** (the `store` option) that keeps buffered
 * items somewhere safer than the process's memory. The local stage (open batches per key, the deadline
 * queue, the budget) is always there and is all that `insert()` touches; the buffer writes what was
 * inserted to the backend behind it, once per turn of the event loop (or at once when its staging ring
 * fills), and `await buffer.persisted()` waits until everything inserted before the call is durable.
 *
 * Two kinds:
 * - **local** (the journal): batches are still taken from the local stage; the backend keeps their
 *   items safe until the buffer says they settled, and hands back what an earlier run left unsettled.
 * - **shared** (a store on Redis): batches live in the engine; a buffer *claims* a due batch instead of
 *   taking one, under a lease, and acknowledges it once settled.
 *
 * A delivery comes from one of two places (a batch taken from the local stage, or a batch claimed from a
 * shared store); everything after that (partitions, attempts, retries, `handleError`, settling) is the
 * same code. See `../shared/design/stores.md` for the direction and measurements.
 *
 * Rules every backend keeps:
 * - The buffer calls a backend from one thread, in order, and never concurrently with itself within a
 *   call: record order is call order. The buffer hands over staged items (`write`) before it tells of
 *   a take, settle or drop that involves them.
 * - `write` reads `staged` synchronously, before it returns: the ring's arrays are reused afterwards.
 * - A rejected `write` or `durable` is **fail-stop**: the buffer stops accepting inserts with a coded
 *   error, and nothing written after the failure is acknowledged by `persisted()`. A backend that can
 *   ride out an outage (Redis reconnecting) keeps retrying inside and does not reject.
 * @module
 */

/**
 * One stretch of inserts, in insert order, as the staging ring hands it to {@link Backend.write}.
 * Valid only during that call: the arrays belong to the ring and are reused.
 */
export interface Staged<K, V> {
  /** Number of staged inserts: indices `0 .. length - 1` of `keys` and `values` are set. */
  readonly length: number;
  /** The inserts' keys. */
  readonly keys: readonly K[];
  /** The inserts' values, `values[i]` inserted under `keys[i]`. */
  readonly values: readonly V[];
  /** The buffer's sequence number of `keys[0]`; a buffer numbers its inserts 0, 1, 2, … */
  readonly firstSeq: number;
}

/**
 * Called by {@link LocalBackend.write}, during the call, for staged item `index`: its value field is
 * `bytes[start, end)` (the journal's field: a tag byte, then the encoded value). Valid only during the
 * call: copy what you keep.
 */
export type ValueFields = (index: number, bytes: Buffer, start: number, end: number) => void;

/** What a buffer tells its backend when it opens it. */
export interface BackendContext {
  /** The buffer's `maxSize` (items at which a batch is full; `Infinity` for none). */
  readonly maxSize: number;
  /** The buffer's `interval`, in ms. */
  readonly interval: number;
  /** The buffer's `partitions`. */
  readonly partitions: number;
  /**
   * Only for a shared backend: call it once a key's append is in the engine, when it opened the key's
   * batch (`opened`: the batch falls due `interval` from then) or filled it (`full`: due now). The
   * buffer arms a local deadline, or claims at once: the fast path beside its polling of `due`.
   */
  readonly appended?: (key: unknown, opened: boolean, full: boolean) => void;
}

/** What a backend's `close()` left undone when the buffer stopped waiting for it ({@link Backend.abandon}). */
export interface StoreLeftovers {
  /** Items handed to `write` that the engine never confirmed. */
  readonly unwritten: number;
  /**
   * Items of claimed batches (shared stores) whose ack or give-back the engine never confirmed: they
   * stay leased, and are delivered again once their lease runs out.
   */
  readonly unreturned: number;
}

/** What every backend does. */
export interface Backend<K, V> {
  /** Which of the two kinds this backend is. */
  readonly kind: 'local' | 'shared';
  /**
   * Called once, synchronously, by the buffer the backend was given to, before anything else. A
   * backend belongs to one buffer: a second `open` throws.
   */
  open(context: BackendContext): void;
  /** Writes one stretch of inserts. Reads `staged` before returning; settles once written. */
  write(staged: Staged<K, V>): Promise<void>;
  /** Resolves once everything written so far is durable at the backend's level (what `persisted()` awaits). */
  durable(): Promise<void>;
  /**
   * `true` when `durable()` covers every `write` handed over so far, settled or not: a shared store
   * with a journal in front, whose writes settle once the engine has them (the budget counts items
   * until then) but are durable once journaled. `persisted()` then waits for `durable()` alone.
   * @default false: `persisted()` waits for the writes to settle, then for `durable()`
   */
  readonly durableBeforeWritten?: boolean;
  /** Finishes pending writes and lets go of files, locks and connections. The buffer calls it last, once. */
  close(): Promise<void>;
  /**
   * Called at most once, after `close()`, when the buffer's close deadline passed while `close()` was
   * still pending (an engine that does not answer): stop retrying, let go of timers that hold the
   * process open, make pending `write` and `durable` calls reject, and say what was left undone. The
   * buffer reports it in its `CloseReport` and no longer waits for `close()`.
   */
  abandon?(): Promise<StoreLeftovers>;
  /** Counters for `stats()` (bytes written, syncs, …), flat and numeric. */
  stats?(): Readonly<Record<string, number>>;
  /**
   * Checks, synchronously, that the backend can keep this insert: the buffer calls it from `insert` /
   * `insertMany` (before storing anything) when a store is set, so that an item that could never be
   * written (a key that cannot survive a restart, a value the serializer refuses) makes the insert
   * throw, naming it, instead of failing the backend later. It also throws the backend's failure once
   * it failed (fail-stop), so that inserts throw a coded error. Keep it cheap: it runs per insert.
   */
  admit?(key: K, value: V): void;
}

/** A batch an earlier run left unsettled, handed back by {@link LocalBackend.recover}. */
export interface RecoveredBatch<K, V> {
  /** The key the items were inserted under. */
  readonly key: K;
  /** The items, oldest first. */
  readonly items: V[];
  /**
   * The batch id it was delivered under before, when it had been taken (so that an idempotent sink
   * can drop a duplicate); `undefined` for items that were still in an open batch.
   */
  readonly batchId: string | undefined;
}

/**
 * A backend that keeps the local stage's items safe (the journal). Its bookkeeping is per key and in
 * order: each key's items form one line, oldest first; a take closes a prefix of the line's untaken
 * items into a batch, and batches settle by id.
 */
export interface LocalBackend<K, V> extends Backend<K, V> {
  readonly kind: 'local';
  /**
   * Writes one stretch of inserts, as {@link Backend.write}; with `fields`, also tells where each staged
   * item's encoded value lies (see {@link ValueFields}), for a store in front of which the backend sits
   * that can reuse the encoding instead of serializing the item again.
   */
  write(staged: Staged<K, V>, fields?: ValueFields): Promise<void>;
  /**
   * What an earlier run left unsettled, per key in the original order: a key's taken batches first
   * (in take order, with their ids), then its items that were still open. Synchronous, called once
   * right after `open`: the buffer re-enters these before its first insert, so that a key's recovered
   * items come before its new ones. Recovered items are not written again.
   */
  recover(): Iterable<RecoveredBatch<K, V>>;
  /** The key's oldest `count` untaken items became the batch `batchId` (taken for delivery). */
  taken(key: K, count: number, batchId: string): void;
  /** The batch `batchId` settled: delivered, handed to `handleError` (which returned), or dumped. */
  settled(batchId: string): void;
  /** The key's oldest `count` untaken items were dropped (`onFull: 'drop-oldest'`) or dumped untaken. */
  dropped(key: K, count: number): void;
  /**
   * The oldest `count` items of batch `batchId` (taken, its delivery not started) were dropped under
   * `onFull: 'drop-oldest'`; the rest of the batch stays taken. A batch emptied this way is
   * {@link settled} instead. Without this call, the dropped items would come back after a crash.
   */
  trimmed(batchId: string, count: number): void;
}

/** What {@link SharedBackend.due} finds in one partition. */
export interface DueKeys<K> {
  /** Keys whose batch is due now, oldest due first. */
  readonly keys: K[];
  /** In how many ms the partition's next batch falls due; `undefined` when none is scheduled. */
  readonly nextIn: number | undefined;
}

/** A batch claimed from a shared store, under a lease. */
export interface Claim<V> {
  /** The items, oldest first; at most the buffer's `maxSize`. */
  readonly items: V[];
  /** The claim's fence: an ack with an older fence than the key's latest is refused. */
  readonly fence: number;
  /** Deliveries of this batch so far, this one included (1 on the first claim). */
  readonly attempt: number;
  /** Stable across re-deliveries of the same batch. */
  readonly batchId: string;
  /**
   * The batch lost its lease too many times (its holders keep dying or stalling on it): the buffer
   * hands it to `handleError` (reason `'poisoned'`) instead of `handleFlush`, then acks it.
   */
  readonly poisoned?: boolean;
  /**
   * Set when the store could not read some of the batch's items back (a `deserialize` that threw):
   * such a batch can never be delivered as it is, so the buffer hands it to `handleError` at once with
   * this error (reason `'poisoned'`) instead of `handleFlush`, then acks it. `items` then holds only
   * the items that could be read; the error says where the others are.
   */
  readonly error?: Error;
}

/** A backend in which batches live (a store on Redis shared by many processes). */
export interface SharedBackend<K, V> extends Backend<K, V> {
  readonly kind: 'shared';
  /** The engine's partitions: `due` and `pending` take `0 .. partitions - 1`. */
  readonly partitions: number;
  /** How long a claim holds its batch without an `extend`, in ms: the buffer extends every third of it. */
  readonly leaseMs: number;
  /** Keys of `partition` with unclaimed items, due or not (at most `limit`): what `flushAll()` force-claims. */
  pending(partition: number, limit: number): Promise<K[]>;
  /** Keys of `partition` that are due now (at most `limit`), and when the next one falls due (ms from now). */
  due(partition: number, limit: number): Promise<DueKeys<K>>;
  /** Claims the key's due batch (any open batch when `force`); `undefined` if leased elsewhere or not due. */
  claim(key: K, force: boolean): Promise<Claim<V> | undefined>;
  /** Extends the claim's lease (a heartbeat while `handleFlush` and its retries run); `false` if lost. */
  extend(claim: Claim<V>): Promise<boolean>;
  /** Acknowledges a settled claim; `false` when the lease was lost (expect a duplicate delivery). */
  ack(claim: Claim<V>): Promise<boolean>;
  /** Gives the batch back now, for another process (on close). */
  release(claim: Claim<V>): Promise<void>;
}
