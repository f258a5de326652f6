/**
 * Builds the parts of one buffer and hands each the narrow context it calls back through: the one place
 * that knows how they connect. Built in data-path order; each context names only what its part may
 * call, so dependencies run one way (intake → partitions → retry / give-up → settling → budget), and
 * the calls "back up" (a settled delivery lets its key's next one start; a short partition queue
 * takes in due batches) go through these contexts, not through references held by the parts.
 * @module
 */
import { Budget } from './budget.js';
import { Closing } from './closing.js';
import type { Delivery } from './delivery.js';
import { BufferClosedError } from './errors.js';
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
}

/** Builds the parts for `owner`, and re-enters what its backend recovered. */
export function buildParts<K, V, M>(
  owner: Owner<K, V, M>,
  resolved: ResolvedOptions<K, V, M>,
): Parts<K, V, M> {
  const counters = new Counters();
  const backend = resolved.store;
  const writeBehind = backend === undefined ? undefined : new WriteBehind(backend, resolved.logger);
  // With a backend, every insert takes the checked path, which stages it: the quick path stays as it is.
  // So does `maxBatchBytes`, whose batches need every item's estimate.
  const budget = new Budget<V>(
    resolved.maxBuffered,
    resolved.maxBufferedBytes,
    resolved.sizeOf,
    backend === undefined,
    resolved.maxBatchBytes !== Number.POSITIVE_INFINITY,
    resolved.sizeOf === estimateSize,
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
        budget.close(new BufferClosedError('ready'));
      },
      takeAllOpen: () => intake.takeAllOpen(),
      everySettled: () => settling.everySettled(intake.seq),
      deliveries: () => settling.lines,
      cancelRetry: (delivery) => retries.cancel(delivery),
      unqueue: (delivery) => partitions.unqueue(delivery),
      interruptIfRunning: (delivery, reason) => partitions.interruptIfRunning(delivery, reason),
      giveUp: (delivery, error, reason) => giveUp.giveUp(delivery, error, reason),
      keepAlive: () => {
        partitions.keepAlive();
        timers.keepAlive();
      },
      finish: async () => {
        onFull.flushReport();
        await writeBehind?.close();
      },
      flushAll: () => owner.flushAll(),
    },
    resolved.flushOnExit,
  );
  const settling = new Settling<K, V>({
    budget,
    schedule: (delivery) => partitions.schedule(delivery),
    forget: (delivery) => onFull.forget(delivery),
    unqueue: (delivery) => partitions.unqueue(delivery),
    settled: writeBehind === undefined ? noop : (delivery) => writeBehind.settled(intake.batchIdOf(delivery)),
    idle: () => closing.stopWatching(),
  });
  const giveUp = new GiveUp<K, V, M>(
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
      failed: (delivery, error) => retries.failed(delivery, error),
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
  if (backend !== undefined) {
    backend.open({
      maxSize: resolved.maxSize,
      interval: resolved.interval,
      partitions: resolved.partitions,
    });
    intake.recover(backend.recover());
  }
  return { counters, budget, intake, onFull, partitions, settling, closing, writeBehind };
}

function noop(): void {}
