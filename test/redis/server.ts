/**
 * The Redis servers the store's tests run against: the one at `REDIS_URL` (default 127.0.0.1:6379),
 * and Redis Clusters the tests start themselves. Without a server, the tests skip with a warning,
 * unless `REQUIRE_SERVICES=1`, where they fail. These tests talk to real servers in real time.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';

const run = promisify(execFile);

/** The server under test. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function skipOrFail(suite: string, what: string, reason: string): false {
  if (process.env.REQUIRE_SERVICES === '1') {
    throw new Error(`${suite}: ${what} is required (REQUIRE_SERVICES=1): ${reason}`);
  }
  console.warn(
    `\n*** SKIPPED ${suite}: ${what} is unavailable (${reason}). Set REQUIRE_SERVICES=1 to fail instead. ***\n`,
  );
  return false;
}

/** Whether the server answers; warns loudly (or throws under `REQUIRE_SERVICES=1`) when it does not. */
export async function redisAvailable(suite: string): Promise<boolean> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (error) {
    return skipOrFail(suite, `Redis at ${REDIS_URL}`, error instanceof Error ? error.message : String(error));
  } finally {
    client.disconnect();
  }
}

/** Whether `redis-server` and `redis-cli` can be run (for the tests that start their own servers). */
export async function redisBinariesAvailable(suite: string): Promise<boolean> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return true;
  } catch (error) {
    return skipOrFail(
      suite,
      '`redis-server` and `redis-cli`',
      error instanceof Error ? error.message : String(error),
    );
  }
}

/** A namespace no other test (or concurrent run) uses. */
export function uniqueNamespace(prefix: string): string {
  return `db-test-${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves after `ms` of real time: these tests talk to a real server. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A client under test, with what the suite needs around it. */
export interface TestClient {
  /** The client to hand to `redisStore`. */
  readonly client: unknown;
  /** Redis keys of `namespace`, on every master. */
  keys(namespace: string): Promise<string[]>;
  /** Deletes every Redis key of `namespace`. */
  cleanup(namespace: string): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/** How to make a client of one kind, for the conformance suite. */
export interface ClientFactory {
  readonly name: string;
  connect(): Promise<TestClient>;
}

/** `redis-cli` on one port: SCAN for the namespace's keys and delete them. */
async function scanPort(port: number, namespace: string): Promise<string[]> {
  const { stdout } = await run('redis-cli', ['-p', String(port), '--scan', '--pattern', `{${namespace}*`]);
  return stdout.split('\n').filter((line) => line.length > 0);
}

/** Clients on the server at `REDIS_URL`. */
export const singleServer: { redis: ClientFactory; ioredis: ClientFactory } = {
  redis: {
    name: 'node-redis',
    async connect() {
      const client = createClient({ url: REDIS_URL });
      client.on('error', () => {});
      await client.connect();
      const keys = async (namespace: string) => {
        const found: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: `{${namespace}*`, COUNT: 1000 })) {
          found.push(...(batch as unknown as string[]));
        }
        return found;
      };
      return {
        client,
        keys,
        async cleanup(namespace) {
          const found = await keys(namespace);
          if (found.length > 0) await client.del(found);
        },
        async close() {
          await client.quit();
        },
      };
    },
  },
  ioredis: {
    name: 'ioredis',
    async connect() {
      const client = new Redis(REDIS_URL);
      client.on('error', () => {});
      const keys = async (namespace: string) => {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await client.scan(cursor, 'MATCH', `{${namespace}*`, 'COUNT', 1000);
          found.push(...batch);
          cursor = next;
        } while (cursor !== '0');
        return found;
      };
      return {
        client,
        keys,
        async cleanup(namespace) {
          const found = await keys(namespace);
          if (found.length > 0) await client.del(...found);
        },
        async close() {
          client.disconnect();
        },
      };
    },
  },
};

/** A port that is free, whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A Redis Cluster of three masters on local ports, started by the test. */
export interface LocalCluster {
  readonly ports: readonly number[];
  /** Clients on it, for the conformance suite. */
  readonly redis: ClientFactory;
  readonly ioredis: ClientFactory;
  /** Redis keys of `namespace` on the node at `port`. */
  keysOn(port: number, namespace: string): Promise<string[]>;
  /** The port of the master that holds `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** Kills the nodes and removes their files; safe to call twice. */
  stop(): void;
}

/**
 * Starts three `redis-server --cluster-enabled yes` nodes on free ports, joins them with
 * `redis-cli --cluster create`, and waits until every node says `cluster_state:ok`. Whatever fails
 * on the way, the nodes already started are killed.
 */
export async function startCluster(): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'data-buffer-cluster-'));
  const nodes: ChildProcess[] = [];
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const node of nodes) node.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', stop);
  };
  process.on('exit', stop);
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freeClusterPort();
      ports.push(port);
      const node = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      );
      nodes.push(node);
    }
    await waitFor(
      async () => (await Promise.all(ports.map(ping))).every(Boolean),
      'the nodes to answer PING',
    );
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-yes',
    ]);
    await waitFor(
      async () => (await Promise.all(ports.map(clusterOk))).every(Boolean),
      'cluster_state:ok on every node',
    );
    const rootNodes = ports.map((port) => ({ host: '127.0.0.1', port }));
    const keysOn = async (namespace: string) =>
      (await Promise.all(ports.map((port) => scanPort(port, namespace)))).flat();
    const cleanupOn = async (namespace: string) => {
      for (const port of ports) {
        const found = await scanPort(port, namespace);
        // One DEL per key (a Cluster refuses a DEL of keys in different slots), all through one redis-cli.
        if (found.length > 0)
          await runWithInput(
            'redis-cli',
            ['-p', String(port)],
            found.map((key) => `DEL "${key}"`).join('\n'),
          );
      }
    };
    return {
      ports,
      stop,
      keysOn: scanPort,
      async masterOf(key) {
        const { stdout } = await run('redis-cli', ['-p', String(ports[0]), 'CLUSTER', 'KEYSLOT', key]);
        const slot = Number(stdout.trim());
        const { stdout: shards } = await run('redis-cli', [
          '-p',
          String(ports[0]),
          '--json',
          'CLUSTER',
          'SLOTS',
        ]);
        for (const [from, to, [, port]] of JSON.parse(shards) as Array<[number, number, [string, number]]>) {
          if (slot >= from && slot <= to) return port;
        }
        throw new Error(`no master for slot ${slot}`);
      },
      redis: {
        name: 'node-redis createCluster',
        async connect() {
          const client = createCluster({
            rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
          });
          client.on('error', () => {});
          await client.connect();
          return {
            client,
            keys: keysOn,
            cleanup: cleanupOn,
            close: () => client.quit() as Promise<unknown> as Promise<void>,
          };
        },
      },
      ioredis: {
        name: 'ioredis Cluster',
        async connect() {
          const client = new Cluster(rootNodes);
          client.on('error', () => {});
          await new Promise<void>((resolve, reject) => {
            client.once('ready', resolve);
            client.once('error', reject);
          });
          return {
            client,
            keys: keysOn,
            cleanup: cleanupOn,
            async close() {
              client.disconnect();
            },
          };
        },
      },
    };
  } catch (error) {
    stop();
    throw error;
  }
}

function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`)),
    );
    child.stdin.end(input);
  });
}

async function ping(port: number): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'PING']);
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

async function clusterOk(port: number): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO']);
    return stdout.includes('cluster_state:ok');
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}
