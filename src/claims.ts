/**
 * Claiming batches from a shared store (`store: redisStore(…)`): where a buffer on a shared store gets
 * its deliveries, instead of taking them from the local stage. Nobody owns a key's timer: every buffer
 * polls `due` for the store's partitions (sleeping until the earliest due time, at most
 * {@link POLL_MAX_MS}), and the buffer whose own append opened or filled a batch also arms a local
 * deadline (or claims at once when full): the fast path. A claimed batch enters through
 * `Intake.deliverClaimed` and from there runs the same partitions, attempts, retries and `handleError`
 * as a taken one, under the claim's batch id, its attempts continuing the claim's count.
 *
 * Owns the claims this buffer holds (per delivery), the polling, the fast-path deadlines, the lease
 * heartbeat and the store calls in progress. Invariants: a held claim's lease is extended every third
 * of `leaseMs` until it is acked or released, whether its delivery is queued, running or waiting for a
 * retry; a settled delivery is acked (a refused ack is counted and published, never thrown), and a key
 * acked is claimed again at once (more may be due); a delivery given back (`close`) is released to the
 * store, never acked and never handed to `handleError`; after {@link Claims.stop}, nothing new is
 * claimed, and a claim that arrives anyway is released at once.
 * @module
 */
import type { Claim, SharedBackend } from './backend.js';
import type { Budget } from './budget.js';
import { DeadlineQueue, resolutionFor } from './deadline-queue.js';
import { type Delivery, QUEUED, RETRYING } from './delivery.js';
import { channels } from './diagnostics.js';
import { PoisonedBatchError } from './errors.js';
import type { FailureReason, Logger } from './options.js';
import type { Counters } from './stats.js';
import { now, startTimer, type Timer } from './timers.js';

/** Longest sleep between two polls of `due`: how late a batch whose opener died is found. */
export const POLL_MAX_MS = 1000;
/** Shortest sleep between two polls, when more keys are due than were claimed. */
const POLL_MIN_MS = 5;
/** Keys `flushAll()` force-claims per store partition and round. */
const FLUSH_ALL_KEYS = 1000;
/** Force-claims of one key per `flush(key)`: a key others keep filling must not hold it forever. */
const FLUSH_ROUNDS = 1000;

/** What claiming needs from the other parts, handed over when it is built. */
export interface ClaimsContext<K, V> {
  /** The public buffer, named in diagnostics messages. */
  readonly buffer: object;
  readonly counters: Counters;
  readonly budget: Budget<V>;
  readonly logger: Logger;
  /** The buffer's `interval`: the fast path's local deadline. */
  readonly interval: number;
  /** Claims held before the poll stops claiming more (they wait in the partitions' queues). */
  readonly maxHeld: number;
  /** Makes a delivery of a claimed batch, lined up in its key's line (and queued unless `giveUp`). */
  deliver(
    key: K,
    items: V[],
    bytes: number,
    batchId: string,
    attemptBase: number,
    queue: boolean,
  ): Delivery<K, V>;
  /** Hands a delivery to `handleError`. */
  giveUp(delivery: Delivery<K, V>, error: Error, reason: FailureReason): Promise<void>;
  /** Takes a delivery that has not settled out of its line and releases what it held (given back). */
  remove(delivery: Delivery<K, V>): void;
  /** Stops a delivery's pending retry. */
  cancelRetry(delivery: Delivery<K, V>): void;
  /** Resolves once every delivery of the key there is now has settled. */
  settledKey(key: K): Promise<void>;
}

/** The claims of one buffer on a shared store. */
export class Claims<K, V> {
  readonly #store: SharedBackend<K, V>;
  readonly #context: ClaimsContext<K, V>;
  /** The claim behind each delivery not yet acked or released. */
  readonly #held = new Map<Delivery<K, V>, Claim<V>>();
  /** Claims whose lease an `extend` found lost: not extended again; their ack will be refused. */
  readonly #lost = new WeakSet<Claim<V>>();
  /** A claim (or an ack, which a later claim of the key must wait for) in progress, per key. */
  readonly #busy = new Map<K, Promise<unknown>>();
  /** Store calls in progress, awaited before the store closes. */
  readonly #calls = new Set<Promise<unknown>>();
  /** The fast path: keys whose batch this buffer's own append opened, due `interval` later. */
  readonly #deadlines: DeadlineQueue<K, true>;
  #pollTimer: Timer | undefined;
  #polling = false;
  #heartbeat: Timer | undefined;
  #keepAlive = false;
  #stopped = false;

  constructor(store: SharedBackend<K, V>, context: ClaimsContext<K, V>) {
    this.#store = store;
    this.#context = context;
    this.#deadlines = new DeadlineQueue(resolutionFor(context.interval), (key) => {
      void this.claim(key, false);
      return true;
    });
  }

  /** Starts polling (on a later turn: the buffer is still being built). */
  start(): void {
    this.#schedulePoll(0);
  }

  /** The store reports an append of this buffer's: arm the key's local deadline, or claim now when full. */
  appended(key: K, opened: boolean, full: boolean): void {
    if (this.#stopped) return;
    if (full) void this.claim(key, false);
    else if (opened) this.#deadlines.add(key, true, now() + this.#context.interval);
  }

  /** Claims held now (queued, running or waiting for a retry in this buffer). */
  get held(): number {
    return this.#held.size;
  }

  /**
   * Claims the key's batch (any unclaimed items when `force`) and delivers it. Resolves with the
   * delivery, or `undefined` when there was nothing to claim (not due, empty, or leased elsewhere).
   * Waits first for a claim or ack of the key already in progress in this buffer.
   */
  async claim(key: K, force: boolean): Promise<Delivery<K, V> | undefined> {
    for (;;) {
      const busy = this.#busy.get(key);
      if (busy === undefined) break;
      if (!force) return undefined; // the claim in progress takes what is due
      await busy.then(noop, noop);
    }
    if (this.#stopped || (!force && !this.#hasRoom())) return undefined;
    const claiming = this.#track(this.#store.claim(key, force));
    this.#busy.set(key, claiming);
    let claim: Claim<V> | undefined;
    try {
      claim = await claiming;
    } catch {
      // Redis is unreachable: the poll finds the key again once it is back.
      return undefined;
    } finally {
      if (this.#busy.get(key) === claiming) this.#busy.delete(key);
    }
    if (claim === undefined) return undefined;
    if (this.#stopped) {
      void this.#track(this.#store.release(claim));
      return undefined;
    }
    return this.#enter(key, claim);
  }

  /** A claimed batch becomes a delivery (or, poisoned, goes to `handleError`). */
  #enter(key: K, claim: Claim<V>): Delivery<K, V> {
    const { budget } = this.#context;
    const items = claim.items;
    let bytes = 0;
    if (budget.measureBytes) for (const item of items) bytes += budget.measure(item);
    budget.add(items.length, bytes);
    // Unreadable items make a batch poison at once: no re-delivery could read them either.
    const poisoned = claim.poisoned === true || claim.error !== undefined;
    const delivery = this.#context.deliver(key, items, bytes, claim.batchId, claim.attempt - 1, !poisoned);
    this.#held.set(delivery, claim);
    this.#armHeartbeat();
    if (poisoned) {
      const error = claim.error ?? new PoisonedBatchError(claim.attempt);
      void this.#context.giveUp(delivery, error, 'poisoned');
    }
    return delivery;
  }

  #hasRoom(): boolean {
    return this.#held.size < this.#context.maxHeld && this.#context.budget.hasRoom();
  }

  /**
   * A delivery settled (delivered, or `handleError` returned): ack its claim. A refused ack (the
   * lease was lost: another claim has the batch) is counted and published; an accepted one claims
   * the key again, since more of its items may be due already.
   */
  settled(delivery: Delivery<K, V>): void {
    const claim = this.#held.get(delivery);
    if (claim === undefined) return;
    this.#held.delete(delivery);
    const key = delivery.key;
    const acking = this.#track(this.#store.ack(claim)).then(
      (ok) => {
        if (this.#busy.get(key) === acking) this.#busy.delete(key);
        if (!ok) this.#lateAck(delivery);
        else if (!this.#stopped) void this.claim(key, false);
      },
      (error: unknown) => {
        if (this.#busy.get(key) === acking) this.#busy.delete(key);
        // The lease runs out and the batch is delivered again: at least once, as promised.
        this.#context.logger.warn(
          'data-buffer: acknowledging a claimed batch failed; it will be delivered again',
          {
            key,
            batchId: claim.batchId,
            error,
          },
        );
      },
    );
    this.#busy.set(key, acking);
  }

  #lateAck(delivery: Delivery<K, V>): void {
    const { counters, buffer } = this.#context;
    counters.lateAcks++;
    if (channels.lateAck.hasSubscribers) {
      channels.lateAck.publish({
        buffer,
        key: delivery.key,
        batchId: delivery.id as string,
        count: delivery.items.length,
      });
    }
  }

  /** Whether the delivery came from a claim this buffer still holds. */
  holds(delivery: Delivery<K, V>): boolean {
    return this.#held.has(delivery);
  }

  /**
   * Gives a claimed delivery back to the store (`release`: another buffer delivers it at once, same
   * batch id, next attempt) and takes it out of its line, neither acked nor handed to `handleError`.
   */
  giveBack(delivery: Delivery<K, V>): void {
    const claim = this.#held.get(delivery);
    if (claim === undefined) return;
    this.#held.delete(delivery);
    this.#context.cancelRetry(delivery);
    this.#context.remove(delivery);
    void this.#track(this.#store.release(claim)).catch(noop); // else its lease runs out: same outcome, later
  }

  /**
   * Stops claiming (close): no more polls or fast-path claims, and every claimed delivery that is not
   * running (queued, or waiting for a retry) goes back to the store. Running ones finish.
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pollTimer?.cancel();
    this.#pollTimer = undefined;
    this.#deadlines.clear();
    for (const delivery of [...this.#held.keys()]) {
      if (delivery.state === QUEUED || delivery.state === RETRYING) this.giveBack(delivery);
    }
  }

  /** Whether claiming stopped (the buffer is closing). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** From now on the heartbeat holds the process open (closing, with deliveries running). */
  keepAlive(): void {
    this.#keepAlive = true;
    this.#heartbeat?.keepAlive();
  }

  /** Resolves once every store call in progress (claims, acks, releases) has settled. */
  async drain(): Promise<void> {
    while (this.#calls.size > 0) await Promise.allSettled([...this.#calls]);
    this.#heartbeat?.cancel();
    this.#heartbeat = undefined;
  }

  /**
   * The close deadline passed with store calls still unanswered: stop the heartbeat, which would
   * otherwise hold the process open for a store that does not answer. What is left is the store's to
   * count (its `abandon`).
   */
  abandon(): void {
    this.stop();
    this.#heartbeat?.cancel();
    this.#heartbeat = undefined;
    this.#held.clear();
  }

  /** `flush(key)`: force-claims the key's unclaimed items, batch by batch, each delivered before the next. */
  async flushKey(key: K): Promise<void> {
    for (let round = 0; round < FLUSH_ROUNDS && !this.#stopped; round++) {
      const delivery = await this.claim(key, true);
      if (delivery === undefined) break;
      await this.#context.settledKey(key);
      await this.#busy.get(key)?.then(noop, noop); // its ack: the key stays leased until then
    }
    await this.#context.settledKey(key);
  }

  /** `flushAll()`: force-claims every key with unclaimed items in every partition of the store. */
  async flushAll(): Promise<void> {
    const store = this.#store;
    for (let partition = 0; partition < store.partitions && !this.#stopped; partition++) {
      const keys = await store.pending(partition, FLUSH_ALL_KEYS);
      await Promise.all(keys.map((key) => this.flushKey(key)));
    }
  }

  #schedulePoll(delay: number): void {
    if (this.#stopped) return;
    this.#pollTimer?.cancel();
    this.#pollTimer = startTimer(() => {
      this.#pollTimer = undefined;
      void this.#poll();
    }, delay);
  }

  /**
   * One poll: `due` for every partition of the store (the calls go out together), claims of the keys
   * found, while there is room; then sleeps until the earliest next due time, at most {@link POLL_MAX_MS}.
   */
  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    let sleep = POLL_MAX_MS;
    try {
      const room = this.#context.maxHeld - this.#held.size;
      if (room > 0 && this.#context.budget.hasRoom()) {
        const store = this.#store;
        const found = await Promise.all(
          Array.from({ length: store.partitions }, (_, partition) =>
            this.#track(store.due(partition, room)).catch(() => undefined),
          ),
        );
        const claims: Promise<unknown>[] = [];
        for (const due of found) {
          if (due === undefined) continue; // unreachable: polled again after the longest sleep
          for (const key of due.keys) claims.push(this.claim(key, false));
          // More were due than fit in one call: look again soon.
          if (due.keys.length >= room) sleep = POLL_MIN_MS;
          else if (due.nextIn !== undefined) sleep = Math.min(sleep, Math.max(POLL_MIN_MS, due.nextIn));
        }
        await Promise.all(claims);
      }
    } finally {
      this.#polling = false;
    }
    this.#schedulePoll(sleep);
  }

  /** Extends every held claim's lease every third of `leaseMs`, while claims are held. */
  #armHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    const every = Math.max(1, Math.floor(this.#store.leaseMs / 3));
    const beat = (): void => {
      this.#heartbeat = undefined;
      if (this.#held.size === 0) return;
      for (const claim of this.#held.values()) {
        if (this.#lost.has(claim)) continue;
        void this.#track(this.#store.extend(claim)).then(
          (ok) => {
            if (!ok) this.#lost.add(claim);
          },
          noop, // unreachable: tried again on the next beat
        );
      }
      this.#heartbeat = startTimer(beat, every, this.#keepAlive);
    };
    this.#heartbeat = startTimer(beat, every, this.#keepAlive);
  }

  #track<T>(call: Promise<T>): Promise<T> {
    this.#calls.add(call);
    const forget = () => {
      this.#calls.delete(call);
    };
    call.then(forget, forget);
    return call;
  }
}

function noop(): void {}
