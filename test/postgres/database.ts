/**
 * The PostgreSQL server the integration tests run against (`DATABASE_URL`), and a table per test file.
 * Without a server, the tests skip with a warning, unless `REQUIRE_SERVICES=1`, where they fail.
 */
import net from 'node:net';
import pg from 'pg';

/** The server under test. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the server answers; warns loudly (or throws under `REQUIRE_SERVICES=1`) when it does not. */
export async function postgresAvailable(suite: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.REQUIRE_SERVICES === '1') {
      throw new Error(`${suite}: PostgreSQL at ${DATABASE_URL} is required (REQUIRE_SERVICES=1): ${reason}`);
    }
    console.warn(
      `\n*** SKIPPED ${suite}: PostgreSQL at ${DATABASE_URL} is unreachable (${reason}). Set DATABASE_URL, or REQUIRE_SERVICES=1 to fail instead. ***\n`,
    );
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A pool on the server under test. */
export function createPool(options: pg.PoolConfig = {}): pg.Pool {
  return new pg.Pool({ connectionString: DATABASE_URL, ...options });
}

/** A table name no other test file (or concurrent run) uses. */
export function uniqueTableName(prefix: string): string {
  return `data_buffer_test_${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** The URL of a server that is down: a port that was just free (bound, then closed). */
export async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `postgres://postgres@127.0.0.1:${port}/test`;
}

/** Resolves after `ms` of real time: these tests talk to a real server. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `timeout` ms pass; returns its last answer. */
export async function waitUntil(check: () => Promise<boolean>, timeout = 5000): Promise<boolean> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
}
