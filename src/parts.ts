/**
 * Builds the parts of one buffer and hands each the narrow context it calls back through: the one place
 * that knows how they connect. Built in data-path order; each context names only what its part may
 * call, so dependencies run one way (intake → partitions → retry / give-up → settling → budget), and
 * the calls "back up" (a settled delivery lets its key's next one start; a short partition queue
 * takes in due batches) go through these contexts, not through references held by the parts.
 * @module
 */
import type { LocalBackend } from './backend.js';
import { Budget } from './budget.js';
import { Claims } from './claims.js';
import { Closing } from './closing.js';
import { type Delivery, RETRYING } from './delivery.js';
import { BufferClosedError, invalidArgValue } from './errors.js';
import { GiveUp } from './give-up.js';
import { Intake } from './intake.js';
import { OnFull } from './on-full.js';
import type { ErrorInfo, FlushInfo, ResolvedOptions } from './options.js';
import { Partitions } from './partitions.js';
import { Retries } from './retry.js';
import { Settling } from './settling.js';
import { estimateSize } from './size-of.js';
import { Counters, type DataBufferStats } from './stats.js';
import { TimerGroup } from './timers.js';
import { WriteBehind } from './write-behind.js';

/** What the parts need of the public buffer: its override points, and two public methods. */
export interface Owner<K, V, M> {
  handleFlush(key: K, items: V[], info: FlushInfo<M>): unknown;
  handleError(key: K, items: V[], error: Error, info: ErrorInfo<M>): unknown;
  stats(): DataBufferStats;
  flushAll(): Promise<void>;
}

/** The parts of one buffer. */
export interface Parts<K, V, M> {
  readonly counters: Counters;
  readonly budget: Budget<V>;
  readonly intake: Intake<K, V>;
  readonly onFull: OnFull<K, V>;
  readonly partitions: Partitions<K, V, M>;
  readonly settling: Settling<K, V>;
  readonly closing: Closing<K, V>;
  /** Only with a `store`. */
  readonly writeBehind: WriteBehind<K, V> | undefined;
  /** Only with a shared `store`: where deliveries come from instead of the local stage. */
  readonly claims: Claims<K, V> | undefined;
}

/**
 * Claims a buffer on a shared store holds before its polls stop claiming: enough to keep every
 * partition busy with a few waiting, not so many that leases are held for batches that sit in a queue.
 */
const CLAIMS_PER_PARTITION = 4;

/** Builds the parts for `owner`, and re-enters what its backend recovered. */
export function buildParts<K, V, M>(
  owner: Owner<K, V, M>,
  resolved: ResolvedOptions<K, V, M>,
): Parts<K, V, M> {
  const counters = new Counters();
  const backend = resolved.store;
  const shared = backend?.kind === 'shared' ? backend : undefined;
  if (shared !== undefined) {
    counters.written = 0;
    if (resolved.maxBatchBytes !== Number.POSITIVE_INFINITY) {
      // The store forms the batches, and bounds them by count only.
      throw invalidArgValue(
        `\`maxBatchBytes\` (${resolved.maxBatchBytes}) cannot be used with a store of kind 'shared': its batches are formed in the store, which bounds them by \`maxSize\` only`,
      );
    }
  }
  // With a shared store, an item counts toward the budget until its write is in: then it is the store's.
  const writeBehind =
    backend === undefined
      ? undefined
      : new WriteBehind(
          backend,
          resolved.logger,
          shared === undefined
            ? undefined
            : (count, bytes) => {
                budget.remove(count, bytes);
                settling.afterRelease();
              },
        );
  // With a backend, every insert takes the checked path, which stages it: the quick path stays as it is.
  // With a local one, the checked path has a quick case of its own (`stagedInsertsBelow`). Neither
  // with `maxBatchBytes`, whose batches need every item's estimate.
  const local = backend !== undefined && shared === undefined;
  const budget = new Budget<V>(
    resolved.maxBuffered,
    resolved.maxBufferedBytes,
    resolved.sizeOf,
    backend === undefined || local,
    resolved.maxBatchBytes !== Number.POSITIVE_INFINITY,
    resolved.sizeOf === estimateSize,
    local,
  );
  const timers = new TimerGroup();
  // With a store: each taken delivery's take number, until its first attempt may start (see `recorded`).
  const takes = new WeakMap<Delivery<K, V>, number>();
  const batchIdOf = (delivery: Delivery<K, V>): string => intake.batchIdOf(delivery);
  const closing = new Closing<K, V>(
    {
      stats: () => owner.stats(),
      held: () => budget.held,
      stopIntake: () => {
        intake.stopExpiring();
        claims?.stop();
        budget.close(new BufferClosedError('ready'));
      },
      takeAllOpen: () => intake.takeAllOpen(),
      everySettled: () => settling.everySettled(intake.seq),
      deliveries: () => settling.lines,
      cancelRetry: (delivery) => retries.cancel(delivery),
      unqueue: (delivery) => partitions.unqueue(delivery),
      interruptIfRunning: (delivery, reason) => partitions.interruptIfRunning(delivery, reason),
      giveUp: (delivery, error, reason) => {
        // A claimed batch is not the closing buffer's to give up on: it goes back for another buffer.
        if (claims?.holds(delivery)) {
          claims.giveBack(delivery);
          return Promise.resolve();
        }
        return giveUp.giveUp(delivery, error, reason);
      },
      keepAlive: () => {
        partitions.keepAlive();
        timers.keepAlive();
        claims?.keepAlive();
      },
      finish: async () => {
        onFull.flushReport();
        await claims?.drain();
        await writeBehind?.close();
      },
      abandonFinish: async () => {
        claims?.abandon();
        return (await writeBehind?.abandon()) ?? { unwritten: 0, unreturned: 0 };
      },
      flushAll: () => owner.flushAll(),
    },
    resolved.flushOnExit,
  );
  const settling: Settling<K, V> = new Settling<K, V>({
    budget,
    schedule: (delivery) => partitions.schedule(delivery),
    forget: (delivery) => onFull.forget(delivery),
    unqueue: (delivery) => partitions.unqueue(delivery),
    settled:
      writeBehind === undefined
        ? noop
        : shared !== undefined
          ? (delivery: Delivery<K, V>): void => claims?.settled(delivery)
          : (delivery) => writeBehind.settled(intake.batchIdOf(delivery)),
    idle: () => closing.stopWatching(),
  });
  const giveUp: GiveUp<K, V, M> = new GiveUp<K, V, M>(
    {
      buffer: owner,
      counters,
      settling,
      timers,
      handleError: (key, items, error, info) => owner.handleError(key, items, error, info),
      batchIdOf,
    },
    resolved,
  );
  const retries = new Retries<K, V>(
    {
      buffer: owner,
      counters,
      timers,
      schedule: (delivery) => partitions.schedule(delivery),
      giveUp: (delivery, error, reason) => giveUp.giveUp(delivery, error, reason),
      batchIdOf,
    },
    resolved as ResolvedOptions<K, V, unknown>,
  );
  const partitions: Partitions<K, V, M> = new Partitions<K, V, M>(
    {
      buffer: owner,
      counters,
      handleFlush: (key, items, info) => owner.handleFlush(key, items, info),
      batchIdOf,
      recorded:
        writeBehind === undefined
          ? () => undefined
          : (delivery) => {
              const take = takes.get(delivery);
              return take === undefined ? undefined : writeBehind.whenRecorded(take);
            },
      started: (delivery) => {
        onFull.forget(delivery);
        budget.start(delivery.items.length, delivery.bytes);
      },
      delivered: (delivery) => settling.settle(delivery),
      failed: (delivery, error) => {
        const givingUp = retries.failed(delivery, error);
        // Closing: a claimed batch does not wait out a retry here; another buffer delivers it.
        if (
          givingUp === undefined &&
          delivery.state === RETRYING &&
          claims?.stopped &&
          claims.holds(delivery)
        ) {
          claims.giveBack(delivery);
        }
        return givingUp;
      },
      giveUp: (delivery, error, reason) => giveUp.giveUp(delivery, error, reason),
      refill: (partition) => intake.refill(partition),
    },
    resolved,
  );
  const intake: Intake<K, V> = new Intake<K, V>(
    {
      budget,
      partitions: resolved.partitions,
      queued: (partition): number => partitions.queued(partition),
      lineUp: (delivery) => settling.line(delivery),
      schedule: (delivery) => partitions.schedule(delivery),
      taken: (delivery, recovered) => {
        onFull.taken(delivery);
        if (writeBehind !== undefined && !recovered) {
          takes.set(
            delivery,
            writeBehind.taken(delivery.key, delivery.items.length, intake.batchIdOf(delivery)),
          );
        }
      },
      exitWatch: closing,
    },
    resolved as ResolvedOptions<K, V, unknown>,
  );
  const onFull = new OnFull<K, V>(
    {
      buffer: owner,
      counters,
      budget,
      store: intake.store,
      settle: (delivery) => settling.settle(delivery),
      droppedOpen: writeBehind === undefined ? noop : (key, count) => writeBehind.dropped(key, count),
      trimmed:
        writeBehind === undefined
          ? noop
          : (delivery, count) => writeBehind.trimmed(intake.batchIdOf(delivery), count),
    },
    resolved as ResolvedOptions<K, V, unknown>,
  );
  const claims: Claims<K, V> | undefined =
    shared === undefined
      ? undefined
      : new Claims<K, V>(shared, {
          buffer: owner,
          counters,
          budget,
          logger: resolved.logger,
          interval: resolved.interval,
          maxHeld: resolved.partitions * CLAIMS_PER_PARTITION,
          deliver: (key, items, bytes, batchId, attemptBase, queue) =>
            intake.deliverClaimed(key, items, bytes, batchId, attemptBase, queue),
          giveUp: (delivery, error, reason): Promise<void> => giveUp.giveUp(delivery, error, reason),
          remove: (delivery) => {
            settling.remove(delivery);
            settling.afterRelease();
          },
          cancelRetry: (delivery) => retries.cancel(delivery),
          settledKey: (key) => settling.settledKey(key),
        });
  if (shared !== undefined) {
    shared.open({
      maxSize: resolved.maxSize,
      interval: resolved.interval,
      partitions: resolved.partitions,
      appended: (key, opened, full) => claims?.appended(key as K, opened, full),
    });
    claims?.start();
  } else if (backend !== undefined) {
    backend.open({
      maxSize: resolved.maxSize,
      interval: resolved.interval,
      partitions: resolved.partitions,
    });
    intake.recover((backend as LocalBackend<K, V>).recover());
  }
  return { counters, budget, intake, onFull, partitions, settling, closing, writeBehind, claims };
}

function noop(): void {}
