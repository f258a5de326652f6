/**
 * What the two multi-process kill tests share (`processes.test.ts`: the store driven by hand;
 * `buffer-processes.test.ts`: through `DataBuffer`): four worker processes, each producing its own ids
 * `<producer>:key-<k>:<n>` into six shared keys and delivering what it claims, reporting JSON lines on
 * stdout; and the checks on what was delivered: at least once, each producer's ids in insert order.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, expect } from 'vitest';
import { sleep } from './server.js';

/** Worker processes of a run; producer 0 is the one killed. */
export const PRODUCERS = 4;
/** Shared keys, `key-0` … `key-5`. */
export const KEYS = 6;

/** A batch that reached a worker's sink, as its `delivered` line said. */
export interface Delivered {
  readonly key: string;
  readonly items: string[];
  readonly batchId: string;
  readonly attempt: number;
  /** The worker that delivered it. */
  readonly by: number;
}

/** A run of the workers: what they reported so far, and their processes. */
export interface KillRun<D extends Delivered> {
  /** Per producer: ids `0 .. n - 1` of every key are persisted. */
  readonly persisted: number[];
  readonly deliveries: D[];
  /** Per worker, its `done` report (counters), once it exited cleanly. */
  readonly done: Array<Record<string, unknown> | undefined>;
  readonly children: ChildProcess[];
  readonly exited: Promise<unknown>[];
  /** Set by worker 0's `stuck` line: the batch id it hangs in (or `true`). */
  stuck: string | true | undefined;
}

/** Worker processes started by {@link spawnWorker}: whatever a test leaves running is killed after it. */
const started = new Set<ChildProcess>();

/** Kills, after each test of the calling file, the workers it started and left running (a failed test too). */
export function killWorkersAfterEach(): void {
  afterEach(() => {
    for (const child of started) child.kill('SIGKILL');
    started.clear();
  });
}

/** Starts `node --import tsx fixture ...args`, stdin and stdout piped, killed after the test (see {@link killWorkersAfterEach}). */
export function spawnWorker(fixture: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  started.add(child);
  return child;
}

/**
 * Starts the four workers: `node --import tsx fixture ...argsOf(id)`, stdin piped (closing it stops a
 * worker), stdout read line by line.
 */
export function startWorkers<D extends Delivered>(
  fixture: string,
  argsOf: (id: number) => string[],
): KillRun<D> {
  const run: KillRun<D> = {
    persisted: Array.from({ length: PRODUCERS }, () => 0),
    deliveries: [],
    done: [],
    children: [],
    exited: [],
    stuck: undefined,
  };
  for (let id = 0; id < PRODUCERS; id++) {
    const child = spawnWorker(fixture, argsOf(id));
    run.children.push(child);
    run.exited.push(new Promise((resolve) => child.once('exit', resolve)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.persisted) run.persisted[id] = message.persisted;
      if (message.delivered) run.deliveries.push({ ...message.delivered, by: id });
      if (message.stuck) run.stuck = message.stuck;
      if (message.done) run.done[id] = message.done;
    });
  }
  return run;
}

/** Resolves once `condition()` holds; throws `failure()` after `timeout` ms. */
export async function waitFor(
  condition: () => boolean,
  timeout: number,
  failure: () => string,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(failure());
    await sleep(5);
  }
}

/** Persisted ids not delivered yet. */
export function missingIds(run: KillRun<Delivered>): number {
  const seen = new Set(run.deliveries.flatMap((d) => d.items));
  let count = 0;
  for (let id = 0; id < PRODUCERS; id++) {
    for (let k = 0; k < KEYS; k++) {
      for (let n = 0; n < run.persisted[id]!; n++) if (!seen.has(`${id}:key-${k}:${n}`)) count++;
    }
  }
  return count;
}

/** How often each id was delivered. */
export function deliveryCounts(deliveries: readonly Delivered[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const d of deliveries) for (const item of d.items) seen.set(item, (seen.get(item) ?? 0) + 1);
  return seen;
}

/** At least once: every id a producer saw persisted was delivered. */
export function expectEveryPersistedIdDelivered(run: KillRun<Delivered>): void {
  const seen = deliveryCounts(run.deliveries);
  for (let id = 0; id < PRODUCERS; id++) {
    for (let k = 0; k < KEYS; k++) {
      for (let n = 0; n < run.persisted[id]!; n++) expect(seen.has(`${id}:key-${k}:${n}`)).toBe(true);
    }
  }
}

/**
 * Order: a key's batches in claim order (`claimOrder`, the fence), each batch once, give each
 * producer's ids of the key in insert order.
 */
export function expectProducerOrder<D extends Delivered>(
  deliveries: readonly D[],
  claimOrder: (delivery: D) => number,
): void {
  for (let k = 0; k < KEYS; k++) {
    const batches = deliveries
      .filter((d) => d.key === `key-${k}`)
      .sort((a, b) => claimOrder(a) - claimOrder(b));
    const items = [...new Map(batches.map((d) => [d.batchId, d])).values()].flatMap((d) => d.items);
    for (let id = 0; id < PRODUCERS; id++) {
      const mine = items
        .filter((item) => item.startsWith(`${id}:`))
        .map((item) => Number(item.split(':')[2]));
      expect(mine).toEqual(Array.from({ length: mine.length }, (_, n) => n));
    }
  }
}
