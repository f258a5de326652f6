/**
 * `npm run demo -- --redis redis://127.0.0.1:6379 --workers 4`: the demo's web service as N processes
 * sharing one buffer through Redis (`data-buffer/redis`), all writing into one PostgreSQL table
 * (`--database`, default `DATABASE_URL` or the local server). Each worker produces page views with ids
 * of its own; worker 0 is killed with SIGKILL halfway through, while it holds claimed batches. The
 * others deliver what it had claimed once its leases run out (a row already stored is skipped by its
 * unique `event_id`), and the summary checks the table: every view a surviving worker produced is
 * stored exactly once, and so is every view the killed worker saw persisted in Redis (`persisted()`);
 * the views it produced that never reached Redis died with it, as documented.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { DataBuffer } from '../../src/index.js';
import { postgresSink } from '../../src/postgres/index.js';
import { redisStore } from '../../src/redis/index.js';
import { pageViewTable } from './database.js';

/** What the Redis demo was asked to do. */
export interface RedisDemoArgs {
  readonly redis: string;
  readonly workers: number;
  readonly database: string | undefined;
  readonly seconds: number;
  readonly rate: number;
  readonly paths: number;
  readonly json: boolean;
}

/** Ids of worker `w` start at `w * ID_SPACE`. */
const ID_SPACE = 1_000_000_000;
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

/** The coordinator: makes the table, runs the workers, kills worker 0 halfway, checks the table. */
export async function runRedisDemo(args: RedisDemoArgs): Promise<number> {
  const url = args.database ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const table = `data_buffer_demo_redis_${process.pid}`;
  const namespace = `data-buffer-demo-${process.pid}-${Date.now()}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const log = (text: string) => console.error(`demo: ${text}`);
  const children: ChildProcess[] = [];
  try {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(
      `CREATE TABLE ${table} (event_id int8 PRIMARY KEY, path text NOT NULL, user_id text NOT NULL, viewed_at timestamptz NOT NULL)`,
    );
    const persisted = new Array<number>(args.workers).fill(0);
    const produced = new Array<number | undefined>(args.workers).fill(undefined);
    const script = fileURLToPath(new URL('./main.ts', import.meta.url));
    const exited = Array.from({ length: args.workers }, (_, w) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          script,
          '--worker',
          JSON.stringify({ ...args, worker: w, namespace, table, database: url }),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      children.push(child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as { persisted?: number; produced?: number };
        if (message.persisted !== undefined) persisted[w] = Math.max(persisted[w]!, message.persisted);
        if (message.produced !== undefined) produced[w] = message.produced;
      });
      return new Promise<void>((resolve) => child.once('exit', () => resolve()));
    });
    // Workers take a moment to start: the run's time counts from when every one is producing.
    await until(() => persisted.every((n) => n > 0), 30_000);
    log(
      `${args.workers} workers share the namespace ${namespace}; worker 0 is killed after ${args.seconds / 2} s`,
    );
    await sleep((args.seconds * 1000) / 2);
    children[0]!.kill('SIGKILL');
    await exited[0];
    log(`killed worker 0 (it saw ${persisted[0]} views persisted in Redis)`);
    await sleep((args.seconds * 1000) / 2);
    for (const child of children.slice(1)) child.stdin!.write('stop\n');
    await until(() => produced.slice(1).every((n) => n !== undefined), 30_000);
    // Every surviving worker's views, and every view worker 0 saw persisted, must arrive.
    const expectedAtLeast = produced.slice(1).reduce((sum: number, n) => sum + n!, 0) + persisted[0]!;
    const count = async () => Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);
    const deadline = Date.now() + 30_000;
    while ((await count()) < expectedAtLeast && Date.now() < deadline) await sleep(200);
    for (const child of children.slice(1)) child.stdin!.end();
    await Promise.all(exited);

    const perWorker = new Map<number, number>();
    for (const { w, n } of (
      await pool.query(
        `SELECT (event_id / ${ID_SPACE})::int AS w, count(*)::int AS n FROM ${table} GROUP BY 1`,
      )
    ).rows as Array<{ w: number; n: number }>) {
      perWorker.set(w, n);
    }
    const victimPersistedStored = Number(
      (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE event_id < $1`, [persisted[0]]))
        .rows[0].n,
    );
    const survivorsExact = produced.slice(1).every((n, i) => perWorker.get(i + 1) === n);
    const victimStored = perWorker.get(0) ?? 0;
    const rows = await count();
    const summary = {
      workers: args.workers,
      rowsStored: rows,
      producedBySurvivors: produced.slice(1),
      storedBySurvivor: produced.slice(1).map((_, i) => perWorker.get(i + 1) ?? 0),
      killedWorkerPersisted: persisted[0],
      killedWorkerStored: victimStored,
      killedWorkerPersistedAndStored: victimPersistedStored,
      ok: survivorsExact && victimPersistedStored === persisted[0],
    };
    if (args.json) console.log(JSON.stringify(summary));
    else {
      console.log(
        [
          `Rows stored: ${rows} (one per view: event_id is unique)`,
          ...summary.producedBySurvivors.map(
            (n, i) => `worker ${i + 1}: produced ${n}, stored ${summary.storedBySurvivor[i]}`,
          ),
          `worker 0 (killed): saw ${persisted[0]} views persisted in Redis, all stored: ${victimPersistedStored === persisted[0] ? 'yes' : 'NO'}; ${victimStored - victimPersistedStored} more of its views had reached Redis before the kill and were stored too; what it produced after that died with it`,
          summary.ok ? 'Exact: every view that reached Redis is stored once.' : 'NOT EXACT',
        ].join('\n'),
      );
    }
    return summary.ok ? 0 : 1;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await pool.end();
    const client = await createClient({ url: args.redis }).connect();
    for await (const keys of client.scanIterator({ MATCH: `*${namespace}*`, COUNT: 1000 })) {
      if ((keys as unknown as string[]).length > 0) await client.del(keys as unknown as string[]);
    }
    await client.quit();
  }
}

/** One worker: a buffer on the shared namespace, producing its own views until told to stop. */
export async function runRedisWorker(
  config: RedisDemoArgs & { worker: number; namespace: string; table: string; database: string },
): Promise<number> {
  const client = await createClient({ url: config.redis }).connect();
  const pool = new pg.Pool({ connectionString: config.database, max: 2 });
  const sink = postgresSink<string, { id: number; user: string; at: Date }>({
    pool,
    table: config.table,
    ...pageViewTable,
  });
  const buffer = new DataBuffer<string, { id: number; user: string; at: Date }>({
    interval: 500,
    maxSize: 500,
    partitions: 2,
    handleFlush: sink,
    store: redisStore({
      client,
      namespace: config.namespace,
      partitions: 8,
      leaseMs: 1000,
      deserialize: (text) => {
        const view = JSON.parse(text) as { id: number; user: string; at: string };
        return { ...view, at: new Date(view.at) };
      },
    }),
  });
  let stopping = false;
  const lines = createInterface({ input: process.stdin });
  const stopped = new Promise<void>((resolve) => lines.on('line', () => resolve()));
  const ended = new Promise<void>((resolve) => lines.on('close', () => resolve()));
  void stopped.then(() => {
    stopping = true;
  });
  let n = 0;
  const perTick = Math.max(1, Math.round(config.rate / 100));
  const base = config.worker * ID_SPACE;
  while (!stopping) {
    for (let i = 0; i < perTick; i++, n++) {
      buffer.insert(`/page/${n % config.paths}`, { id: base + n, user: `user-${n % 997}`, at: new Date() });
    }
    const upTo = n;
    void buffer.persisted().then(() => say({ persisted: upTo }));
    await sleep(10);
  }
  await buffer.persisted();
  say({ produced: n });
  await buffer.flushAll();
  await ended;
  await buffer.close();
  await client.quit();
  await pool.end();
  return 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check: () => boolean, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check() && Date.now() < deadline) await sleep(20);
}
