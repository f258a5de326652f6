/**
 * A `redis-server` of a test's own on a free port, for tests that kill and restart it (outages), and
 * clients that fail commands at once while it is down and reconnect quickly. Every server started here
 * is killed by {@link killStartedServers} (call it from the test file's `afterAll`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { redisChannelNames } from '../../src/redis/index.js';
import { sleep } from './server.js';

/** A port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const servers: ChildProcess[] = [];

/** Starts a `redis-server` without persistence on `port`; `extra` arguments are appended. */
export function startServer(port: number, extra: string[] = []): ChildProcess {
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    { stdio: 'ignore' },
  );
  servers.push(server);
  return server;
}

/** Kills every server {@link startServer} started. */
export function killStartedServers(): void {
  for (const server of servers) server.kill('SIGKILL');
}

/** Resolves once something accepts connections on `port`. */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

/** Clients that fail commands at once while disconnected (no offline queue), and reconnect quickly. */
export const reconnectingClients = {
  'node-redis': async (port: number) => {
    const client = createClient({
      url: `redis://127.0.0.1:${port}`,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 50 },
    });
    client.on('error', () => {});
    await client.connect();
    return { client, close: () => client.destroy() };
  },
  ioredis: async (port: number) => {
    const client = new Redis({
      port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('ready', resolve));
    return { client, close: () => client.disconnect() };
  },
};

/** Records the store's outage and recovery reports, in order, until `stop()`. */
export function recordOutages(): { events: string[]; stop(): void } {
  const events: string[] = [];
  const onOutage = () => events.push('outage');
  const onRecovered = () => events.push('recovered');
  diagnosticsChannel.subscribe(redisChannelNames.outage, onOutage);
  diagnosticsChannel.subscribe(redisChannelNames.recovered, onRecovered);
  return {
    events,
    stop() {
      diagnosticsChannel.unsubscribe(redisChannelNames.outage, onOutage);
      diagnosticsChannel.unsubscribe(redisChannelNames.recovered, onRecovered);
    },
  };
}
