/**
 * One small adapter over the two Redis clients a Node team runs: `redis` (node-redis v4 and later,
 * `createClient` or `createCluster`) and `ioredis` (`Redis` or `Cluster`). The store only ever runs its
 * scripts, so that is all the adapter does: `EVALSHA`, falling back to `EVAL` when the server does not
 * know the script yet (a new server, a restart, a failover), every key declared so that Cluster routes
 * the call to the slot's master. Neither client is imported: a client is recognised by its shape.
 * @module
 */
import { describe } from './keys.js';
import type { Script } from './scripts.js';

/** One script call: all `keys` share one hash tag. */
export interface ScriptCall {
  readonly script: Script;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** What one call of a batch came to. */
export type CallResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/** The store's view of a Redis client. */
export interface ScriptRunner {
  /** Which client it wraps, for errors and stats. */
  readonly client: 'redis' | 'ioredis';
  /** Whether it talks to a Redis Cluster. */
  readonly cluster: boolean;
  /** Runs one script. */
  run(call: ScriptCall): Promise<unknown>;
  /**
   * Runs many scripts at once, as pipelines (one per hash tag on an ioredis Cluster, whose pipelines
   * must stay in one slot); settles once every call has a reply or an error, in call order. Calls that
   * share a hash tag reach the server in the order given.
   */
  runAll(calls: readonly ScriptCall[]): Promise<CallResult[]>;
}

/** The part of a node-redis client (`createClient`) the adapter uses. */
interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
  evalSha(...args: unknown[]): Promise<unknown>;
}

/** The part of a node-redis cluster (`createCluster`) the adapter uses. */
interface NodeRedisCluster {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  evalSha(...args: unknown[]): Promise<unknown>;
}

/** An ioredis pipeline. */
interface IoRedisPipeline {
  evalsha(...args: string[]): IoRedisPipeline;
  eval(...args: string[]): IoRedisPipeline;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/** The part of an ioredis `Redis` or `Cluster` the adapter uses. */
interface IoRedisClient {
  readonly isCluster?: boolean;
  evalsha(...args: string[]): Promise<unknown>;
  eval(...args: string[]): Promise<unknown>;
  pipeline(): IoRedisPipeline;
}

/** Whether `error` is the server's "NOSCRIPT No matching script" reply. */
function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

function isNodeRedisCluster(client: object): boolean {
  // node-redis clusters list their masters (`masters` since v5, `getMasters()` since v4); clients do not.
  return 'masters' in client || typeof (client as { getMasters?: unknown }).getMasters === 'function';
}

/**
 * Wraps the client the user gave.
 * @throws TypeError naming what to install when `client` is neither a node-redis nor an ioredis client.
 */
export function createScriptRunner(client: unknown): ScriptRunner {
  const candidate = client as Record<string, unknown> | null | undefined;
  if (candidate !== null && typeof candidate === 'object') {
    if (typeof candidate.evalsha === 'function' && typeof candidate.pipeline === 'function') {
      return new IoRedisRunner(candidate as unknown as IoRedisClient);
    }
    if (typeof candidate.evalSha === 'function' && typeof candidate.sendCommand === 'function') {
      return isNodeRedisCluster(candidate)
        ? new NodeRedisRunner(true, (call, args) =>
            (candidate as unknown as NodeRedisCluster).sendCommand(call.keys[0], false, args),
          )
        : new NodeRedisRunner(false, (_call, args) =>
            (candidate as unknown as NodeRedisClient).sendCommand(args),
          );
    }
  }
  throw new TypeError(
    `Expected \`client\` to be a client of \`redis\` (node-redis: createClient or createCluster; npm install redis) or of \`ioredis\` (new Redis() or new Cluster(); npm install ioredis), got ${describe(client)}`,
  );
}

function commandArgs(command: 'EVALSHA' | 'EVAL', call: ScriptCall): string[] {
  return [
    command,
    command === 'EVALSHA' ? call.script.sha : call.script.source,
    String(call.keys.length),
    ...call.keys,
    ...call.args,
  ];
}

/**
 * node-redis: commands sent in one turn of the event loop go out as one write (node-redis queues
 * them and flushes the queue once), so a batch is simply every call at once.
 */
class NodeRedisRunner implements ScriptRunner {
  readonly client = 'redis';
  readonly cluster: boolean;
  readonly #send: (call: ScriptCall, args: string[]) => Promise<unknown>;

  constructor(cluster: boolean, send: (call: ScriptCall, args: string[]) => Promise<unknown>) {
    this.cluster = cluster;
    this.#send = send;
  }

  async run(call: ScriptCall): Promise<unknown> {
    try {
      return await this.#send(call, commandArgs('EVALSHA', call));
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return this.#send(call, commandArgs('EVAL', call));
    }
  }

  runAll(calls: readonly ScriptCall[]): Promise<CallResult[]> {
    return Promise.all(
      calls.map((call) =>
        this.run(call).then(
          (value): CallResult => ({ ok: true, value }),
          (error: unknown): CallResult => ({ ok: false, error }),
        ),
      ),
    );
  }
}

/** ioredis: an explicit pipeline, since its auto-pipelining is an option of the user's client. */
class IoRedisRunner implements ScriptRunner {
  readonly client = 'ioredis';
  readonly cluster: boolean;
  readonly #client: IoRedisClient;

  constructor(client: IoRedisClient) {
    this.#client = client;
    this.cluster = client.isCluster === true;
  }

  async run(call: ScriptCall): Promise<unknown> {
    try {
      return await this.#client.evalsha(...commandArgs('EVALSHA', call).slice(1));
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return this.#client.eval(...commandArgs('EVAL', call).slice(1));
    }
  }

  async runAll(calls: readonly ScriptCall[]): Promise<CallResult[]> {
    const results: CallResult[] = new Array(calls.length);
    // A Cluster pipeline must stay in one slot: one pipeline per hash tag (the calls' first key starts
    // with it). A single server takes them all in one.
    const groups = new Map<string, number[]>();
    for (let i = 0; i < calls.length; i++) {
      const tag = this.cluster ? hashTag(calls[i]!.keys[0] ?? '') : '';
      const group = groups.get(tag);
      if (group === undefined) groups.set(tag, [i]);
      else group.push(i);
    }
    await Promise.all([...groups.values()].map((indices) => this.#runPipeline(calls, indices, results)));
    return results;
  }

  async #runPipeline(calls: readonly ScriptCall[], indices: number[], results: CallResult[]): Promise<void> {
    const replies = await this.#exec(calls, indices, 'EVALSHA');
    const unknown: number[] = [];
    for (let j = 0; j < indices.length; j++) {
      const reply = replies[j]!;
      if (!reply.ok && isNoScript(reply.error)) unknown.push(indices[j]!);
      else results[indices[j]!] = reply;
    }
    if (unknown.length === 0) return;
    const retried = await this.#exec(calls, unknown, 'EVAL');
    for (let j = 0; j < unknown.length; j++) results[unknown[j]!] = retried[j]!;
  }

  async #exec(
    calls: readonly ScriptCall[],
    indices: number[],
    command: 'EVALSHA' | 'EVAL',
  ): Promise<CallResult[]> {
    const pipeline = this.#client.pipeline();
    for (const i of indices) {
      const args = commandArgs(command, calls[i]!).slice(1);
      if (command === 'EVALSHA') pipeline.evalsha(...args);
      else pipeline.eval(...args);
    }
    try {
      const replies = await pipeline.exec();
      return indices.map((_, j): CallResult => {
        const [error, value] = replies?.[j] ?? [
          new Error('ioredis returned no reply for a pipelined call'),
          null,
        ];
        return error ? { ok: false, error } : { ok: true, value };
      });
    } catch (error) {
      return indices.map((): CallResult => ({ ok: false, error }));
    }
  }
}

/** The hash tag of a Redis key (what Cluster hashes), or the whole key when it has none. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}
