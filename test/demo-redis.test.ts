/**
 * `npm run demo -- --redis URL --workers N`, run for real: N child processes share one buffer through
 * Redis and write into one PostgreSQL table; worker 0 is killed with SIGKILL halfway, and the count in
 * the table must be exact (every view a surviving worker produced, and every view the killed worker
 * saw persisted, stored once). Needs Redis and PostgreSQL (skips loudly without them, fails under
 * `REQUIRE_SERVICES=1`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { postgresAvailable } from './postgres/database.js';
import { REDIS_URL, redisAvailable } from './redis/server.js';

const run = promisify(execFile);
const available =
  (await redisAvailable('test/demo-redis.test.ts')) && (await postgresAvailable('test/demo-redis.test.ts'));

it.skipIf(!available)(
  'demo --redis --workers 3: one worker killed mid-run, the count in the database is exact',
  { timeout: 90_000 },
  async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'examples/demo/main.ts',
        '--redis',
        REDIS_URL,
        '--workers',
        '3',
        '--seconds',
        '3',
        '--rate',
        '1000',
        '--json',
      ],
      { timeout: 80_000 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ workers: 3, ok: true });
    expect(summary.killedWorkerPersisted).toBeGreaterThan(0);
    expect(summary.killedWorkerPersistedAndStored).toBe(summary.killedWorkerPersisted);
    expect(summary.storedBySurvivor).toEqual(summary.producedBySurvivors);
    expect(summary.rowsStored).toBe(
      summary.producedBySurvivors.reduce((a: number, b: number) => a + b, 0) + summary.killedWorkerStored,
    );
  },
);
