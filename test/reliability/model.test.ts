/**
 * Model-based property test: random schedules of insert, insertMany, flush, flushAll, dump, time
 * passing, handler outcomes (ok, throw, reject, non-retryable, hang, late settle, and hostile results:
 * a throwing `then` getter, a revoked Proxy, a rejected promise with its own `then`), close, and close
 * called from inside an insert (`onDrop`, `sizeOf`, an `insertMany` iterable), with or without a
 * `data-buffer:flush` tracing subscriber (outcomes must not depend on it), run
 * against random options and checked after every step against a simple model: the queue checker's
 * item ledger (each item has at most one fate; those without one are exactly what the buffer holds,
 * key by key) plus the policy's promises about inserts and the memory budget.
 *
 * Replay a failure with the seed and path fast-check prints: `FC_SEED=… FC_PATH=… npx vitest run
 * test/reliability/model.test.ts`. Scale with `FC_NUM_RUNS` (default 10 000).
 */
import { tracingChannel } from 'node:diagnostics_channel';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { BufferClosedError, BufferFullError, NonRetryableError, type OnFullPolicy } from '../../src/index.js';
import { Hostile, type Item, type SinkCall } from './checker.js';
import { setup } from './setup.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 10_000);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
const KEYS = ['a', 'b', 'c'] as const;

type Outcome =
  | 'ok'
  | 'throw'
  | 'throw42'
  | 'reject'
  | 'non-retryable'
  | 'hang'
  | 'then-getter'
  | 'revoked-proxy'
  | 'lying-promise';

/** Where a `closeInside` command makes user code call `close()` during the next insert that runs it. */
type CloseInside = 'onDrop' | 'sizeOf' | 'iterable';

type Command =
  | { kind: 'insert'; key: string }
  | { kind: 'insertMany'; key: string; count: number }
  | { kind: 'flush'; key: string }
  | { kind: 'flushAll' }
  | { kind: 'dump' }
  | { kind: 'advance'; ms: number }
  | { kind: 'settleHung'; ok: boolean }
  | { kind: 'close'; timeout: number | undefined }
  | { kind: 'closeInside'; where: CloseInside };

const key = fc.constantFrom(...KEYS);
/** The byte weight of an item, when the schedule has a byte budget. */
const weight = (item: Item) => 10 + (item.id % 3) * 5;
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('insertMany' as const),
      key,
      count: fc.integer({ min: 0, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), key }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flushAll' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'dump' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(0, 1, 3, 10, 25, 60) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settleHung' as const), ok: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('close' as const),
      timeout: fc.constantFrom(undefined, 0, 5, 30),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('closeInside' as const),
      where: fc.constantFrom<CloseInside>('onDrop', 'sizeOf', 'iterable'),
    }),
  },
);

/** A no-op `data-buffer:flush` subscriber, as the OpenTelemetry bridge attaches one. */
const flushChannel = tracingChannel('data-buffer:flush');
const tracer = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };

const config = fc.record({
  onFull: fc.constantFrom<OnFullPolicy>('backpressure', 'block', 'drop-oldest', 'drop-newest', 'throw'),
  traced: fc.boolean(),
  maxBuffered: fc.integer({ min: 3, max: 12 }),
  /**
   * A byte budget of 40 to 120 (items weigh 10, 15 or 20 bytes); or none: the default (bytes estimated,
   * never reached) or `Infinity` (no estimate: inserts below `maxBuffered` take the quick path).
   */
  maxBufferedBytes: fc.oneof(
    fc.integer({ min: 40, max: 120 }),
    fc.constant(undefined),
    fc.constant(Number.POSITIVE_INFINITY),
  ),
  maxSize: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  partitions: fc.integer({ min: 1, max: 2 }),
  interval: fc.constantFrom(5, 20, 50),
  retryMax: fc.integer({ min: 1, max: 3 }),
  retryDelay: fc.constantFrom(0, 5, 20),
  retryBackoff: fc.constantFrom('fixed' as const, 'exponential' as const),
  flushTimeout: fc.constantFrom(8, 40),
  slowHandleError: fc.boolean(),
  outcomes: fc.array(
    fc.constantFrom<Outcome>(
      'ok',
      'ok',
      'ok',
      'throw',
      'throw42',
      'reject',
      'non-retryable',
      'hang',
      'then-getter',
      'revoked-proxy',
      'lying-promise',
    ),
    {
      minLength: 1,
      maxLength: 12,
    },
  ),
});

let runs = 0;
let steps = 0;

beforeAll(() => {
  vi.useFakeTimers();
});
afterAll(() => {
  vi.useRealTimers();
  console.log(`model: ${runs} schedules, ${steps} steps`);
});

it(`keeps every item accounted for exactly once over ${NUM_RUNS} random schedules`, async () => {
  const property = fc.asyncProperty(
    config,
    fc.array(command, { minLength: 4, maxLength: 32, size: 'medium' }),
    async (cfg, commands) => {
      runs++;
      vi.clearAllTimers();
      const hung: { resolve: () => void; reject: (error: unknown) => void }[] = [];
      let call = 0;
      const outcome = (_call: SinkCall): unknown => {
        const next = cfg.outcomes[call++ % cfg.outcomes.length];
        switch (next) {
          case 'throw':
            throw new Error('sink down');
          case 'throw42':
            throw 42;
          case 'reject':
            return Promise.reject(new Error('sink rejected'));
          case 'non-retryable':
            throw new NonRetryableError('bad batch');
          case 'hang':
            return new Promise<void>((resolve, reject) => hung.push({ resolve, reject }));
          case 'then-getter':
            return new Hostile({
              // biome-ignore lint/suspicious/noThenProperty: a hostile result is the point
              get then() {
                throw new Error('then getter');
              },
            });
          case 'revoked-proxy': {
            const { proxy, revoke } = Proxy.revocable({}, {});
            revoke();
            return new Hostile(proxy);
          }
          case 'lying-promise': {
            const promise = Promise.reject(new Error('rejected, with a then that says otherwise'));
            promise.catch(() => {});
            Object.defineProperty(promise, 'then', { value: (ok: (v: unknown) => void) => ok(undefined) });
            return new Hostile(promise);
          }
          default:
            return undefined;
        }
      };
      const drops = cfg.onFull !== 'throw';
      const backpressure = cfg.onFull === 'backpressure' || cfg.onFull === 'block';
      let closeInside: CloseInside | undefined;
      let closed = false;
      let closing: Promise<unknown> | undefined;
      /** User code run by an insert calls close(), once, if a `closeInside` command armed it there. */
      const closeFrom = (where: CloseInside) => {
        if (closeInside !== where) return;
        closeInside = undefined;
        if (closed) return;
        closed = true;
        closing = buffer.close();
      };
      flushChannel.unsubscribe(tracer); // left attached by a failed run, if any
      if (cfg.traced) flushChannel.subscribe(tracer);
      const { checker, buffer } = setup({
        onFull: cfg.onFull,
        maxBuffered: cfg.maxBuffered,
        ...(cfg.maxBufferedBytes === undefined
          ? {}
          : {
              maxBufferedBytes: cfg.maxBufferedBytes,
              sizeOf: (item: Item) => {
                closeFrom('sizeOf');
                return weight(item);
              },
            }),
        ...(cfg.maxSize === undefined ? {} : { maxSize: Math.min(cfg.maxSize, cfg.maxBuffered) }),
        partitions: cfg.partitions,
        interval: cfg.interval,
        retryMax: cfg.retryMax,
        retryDelay: cfg.retryDelay,
        retryBackoff: cfg.retryBackoff,
        retryDelayMax: Math.max(cfg.retryDelay, 20),
        flushTimeout: cfg.flushTimeout,
        ...(drops
          ? {
              onDrop: (k: string, items: Item[], r) => {
                checker.onDrop(k, items, r);
                closeFrom('onDrop');
              },
            }
          : {}),
        ...(cfg.slowHandleError
          ? {
              handleError: (k, items, error, info) => {
                checker.handleError(k, items, error, info);
                return new Promise((resolve) => setTimeout(resolve, 7));
              },
            }
          : {}),
        outcome,
      });
      const waits: Promise<void>[] = [];
      /** flush(key) / flushAll() resolve only once every item pending at the call has a fate. */
      const expectHandled = (promise: Promise<void>, ids: number[], what: string) => {
        waits.push(
          promise.then(() => {
            const unhandled = ids.filter((id) => checker.fateOf(id) === undefined);
            if (unhandled.length > 0) checker.violations.push(`${what} resolved with ${unhandled} unhandled`);
          }),
        );
      };
      // The default budget (256 MiB) is never reached here.
      const byteBudget = cfg.maxBufferedBytes ?? Number.POSITIVE_INFINITY;
      const hasByteBudget = byteBudget !== Number.POSITIVE_INFINITY;
      /** 'backpressure' may go past the budget, up to its hard ceiling of twice the budget. */
      const ceiling = backpressure ? 2 : 1;
      const budget = () => {
        if (buffer.size > cfg.maxBuffered * ceiling) {
          checker.violations.push(`size ${buffer.size} over maxBuffered ${cfg.maxBuffered} (${cfg.onFull})`);
        }
        if (!hasByteBudget) return;
        // Items handed to handleError have a fate and no longer count, as in the buffer.
        let bytes = 0;
        for (const id of checker.pendingIds()) bytes += weight({ key: '', id });
        if (bytes > byteBudget * ceiling) {
          checker.violations.push(`${bytes} bytes over maxBufferedBytes ${byteBudget} (${cfg.onFull})`);
        }
      };
      /** Inserts `count` items and checks what the policy promises about them. */
      const insert = (k: string, count: number, many: boolean) => {
        const before = buffer.size;
        const droppedBefore = checker.report().dropped;
        // What 'drop-oldest' may drop: pending items whose delivery has not started.
        const evictable = checker.pendingIds().filter((id) => !checker.reachedSink(id));
        let result: boolean | undefined;
        let thrown: unknown;
        const closedBefore = closed;
        // An armed iterable calls close() after its first item: the rest must still get a fate.
        const wrap =
          many && closeInside === 'iterable'
            ? function* (items: Item[]): Generator<Item> {
                for (const [i, item] of items.entries()) {
                  if (i === 1) closeFrom('iterable');
                  yield item;
                }
              }
            : undefined;
        try {
          result = many ? checker.insertMany(k, count, wrap) : checker.insert(k, count);
        } catch (error) {
          thrown = error;
        }
        if (closedBefore) {
          expect(thrown).toBeInstanceOf(BufferClosedError);
          return;
        }
        const room = cfg.maxBuffered - before;
        const fits = count <= room;
        const newlyDropped = checker.report().dropped - droppedBefore;
        if (hasByteBudget) {
          // Two budgets: the exact predictions below are for the item budget alone.
          if (cfg.onFull !== 'throw') expect(thrown).toBeUndefined();
          else if (thrown !== undefined) expect(thrown).toBeInstanceOf(BufferFullError);
          return;
        }
        switch (cfg.onFull) {
          case 'throw':
            if (fits) expect(thrown).toBeUndefined();
            else expect(thrown).toBeInstanceOf(BufferFullError);
            if (!fits) expect(buffer.size).toBe(before);
            break;
          case 'drop-newest':
            expect(thrown).toBeUndefined();
            expect(newlyDropped).toBe(Math.max(0, count - Math.max(0, room)));
            break;
          case 'drop-oldest': {
            expect(thrown).toBeUndefined();
            if (many || count !== 1) break;
            const id = checker.lastId;
            if (before < cfg.maxBuffered) {
              expect(newlyDropped).toBe(0);
            } else if (evictable.length === 0) {
              // Nothing older may go: the new item is refused.
              expect(checker.drops.at(-1)).toEqual({ key: k, ids: [id], reason: 'drop-newest' });
            } else {
              // One older item goes, the oldest of its key not handed to handleFlush yet; the new one stays.
              const drop = checker.drops.at(-1);
              expect(newlyDropped).toBe(1);
              expect(drop?.reason).toBe('drop-oldest');
              const dropped = drop?.ids[0] as number;
              expect(evictable).toContain(dropped);
              const sameKey = evictable.filter(
                (e) => checker.pendingIds(drop?.key).includes(e) || e === dropped,
              );
              expect(dropped).toBe(Math.min(...sameKey));
              expect(checker.fateOf(id)).toBeUndefined();
            }
            break;
          }
          case 'backpressure':
          case 'block':
            // Stored past the budget up to the hard ceiling (twice it); refused, and reported, past that.
            expect(thrown).toBeUndefined();
            expect(newlyDropped).toBe(Math.max(0, count - Math.max(0, 2 * cfg.maxBuffered - before)));
            break;
        }
        if (thrown === undefined && count > 0) {
          // `false` exactly when the budget is reached after the call, or items were dropped.
          expect(result).toBe(buffer.size < cfg.maxBuffered && newlyDropped === 0);
        }
      };

      for (const cmd of commands) {
        steps++;
        switch (cmd.kind) {
          case 'insert':
            insert(cmd.key, 1, false);
            break;
          case 'insertMany':
            insert(cmd.key, cmd.count, true);
            break;
          case 'flush':
            expectHandled(buffer.flush(cmd.key), checker.pendingIds(cmd.key), `flush(${cmd.key})`);
            break;
          case 'flushAll':
            expectHandled(buffer.flushAll(), checker.pendingIds(), 'flushAll()');
            break;
          case 'dump':
            checker.dump();
            break;
          case 'advance':
            await vi.advanceTimersByTimeAsync(cmd.ms);
            break;
          case 'settleHung':
            for (const h of hung.splice(0)) {
              if (cmd.ok) h.resolve();
              else h.reject(new Error('late failure'));
            }
            await vi.advanceTimersByTimeAsync(0);
            break;
          case 'close':
            if (!closed) {
              closed = true;
              closing = buffer.close(cmd.timeout === undefined ? {} : { timeout: cmd.timeout });
            } else {
              expect(buffer.close()).toBe(closing);
            }
            break;
          case 'closeInside':
            closeInside = cmd.where;
            break;
        }
        budget();
        checker.check();
      }
      // The end of every schedule: close (hung handlers time out and are retried or handed over), and
      // everything inserted must have its fate, every flush promise must have resolved.
      closing ??= buffer.close();
      closed = true;
      await checker.until(closing, 100, 60_000);
      budget();
      checker.checkDrained();
      await checker.until(Promise.all(waits), 100, 1_000);
      checker.check();
      if (cfg.traced) flushChannel.unsubscribe(tracer);
    },
  );
  await fc.assert(property, {
    numRuns: NUM_RUNS,
    ...(SEED === undefined ? {} : { seed: SEED }),
    ...(PATH === undefined ? {} : { path: PATH }),
    // On failure fast-check reports the seed, the path and the shrunk counterexample.
    verbose: 0,
  });
}, 600_000);
