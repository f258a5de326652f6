/**
 * The client adapter on stand-ins shaped like node-redis and ioredis clients: EVALSHA first, EVAL when
 * the server does not know the script, every key declared, ioredis Cluster pipelines split per slot.
 */
import { describe, expect, it } from 'vitest';
import { createScriptRunner, type ScriptCall } from '../../src/redis/client.js';
import { APPEND } from '../../src/redis/scripts.js';

const noScript = () => new Error('NOSCRIPT No matching script. Please use EVAL.');
const call = (tag: string, member: string): ScriptCall => ({
  script: APPEND,
  keys: [`{${tag}}:i:${member}`, `{${tag}}:due`],
  args: [member, '0', '0', 'v'],
});

describe('createScriptRunner', () => {
  it('node-redis: sends EVALSHA with its keys declared, and EVAL once the server says NOSCRIPT', async () => {
    const sent: string[][] = [];
    const known = new Set<string>();
    const client = {
      evalSha: () => {},
      sendCommand: async (args: string[]) => {
        sent.push(args);
        if (args[0] === 'EVALSHA' && !known.has(args[1]!)) throw noScript();
        if (args[0] === 'EVAL') known.add(APPEND.sha);
        return 1;
      },
    };
    const runner = createScriptRunner(client);
    expect(await runner.run(call('ns:0', 's:a'))).toBe(1);
    expect(await runner.run(call('ns:0', 's:b'))).toBe(1);
    expect(sent.map((args) => args.slice(0, 5))).toEqual([
      ['EVALSHA', APPEND.sha, '2', '{ns:0}:i:s:a', '{ns:0}:due'],
      ['EVAL', APPEND.source, '2', '{ns:0}:i:s:a', '{ns:0}:due'],
      ['EVALSHA', APPEND.sha, '2', '{ns:0}:i:s:b', '{ns:0}:due'],
    ]);
  });

  it('node-redis cluster: routes each call by its first key', async () => {
    const routed: Array<string | undefined> = [];
    const cluster = {
      masters: [],
      evalSha: () => {},
      sendCommand: async (firstKey: string | undefined, _readonly: boolean, _args: string[]) => {
        routed.push(firstKey);
        return 'ok';
      },
    };
    const runner = createScriptRunner(cluster);
    expect(runner).toMatchObject({ client: 'redis', cluster: true });
    const results = await runner.runAll([call('ns:0', 's:a'), call('ns:1', 's:b')]);
    expect(results).toEqual([
      { ok: true, value: 'ok' },
      { ok: true, value: 'ok' },
    ]);
    expect(routed).toEqual(['{ns:0}:i:s:a', '{ns:1}:i:s:b']);
  });

  it('ioredis Cluster: one pipeline per hash tag; NOSCRIPT replies go again as EVAL; errors stay per call', async () => {
    const pipelines: string[][][] = [];
    const client = {
      isCluster: true,
      evalsha: async () => {},
      eval: async () => {},
      pipeline() {
        const commands: string[][] = [];
        pipelines.push(commands);
        const pipeline = {
          evalsha(...args: string[]) {
            commands.push(['EVALSHA', ...args]);
            return pipeline;
          },
          eval(...args: string[]) {
            commands.push(['EVAL', ...args]);
            return pipeline;
          },
          exec: async () =>
            commands.map(([command, , , key]): [Error | null, unknown] => {
              if (command === 'EVALSHA') return [noScript(), null];
              if (key?.endsWith(':s:bad')) return [new Error('WRONGTYPE'), null];
              return [null, key];
            }),
        };
        return pipeline;
      },
    };
    const runner = createScriptRunner(client);
    expect(runner).toMatchObject({ client: 'ioredis', cluster: true });
    const results = await runner.runAll([call('ns:0', 's:a'), call('ns:1', 's:b'), call('ns:0', 's:bad')]);
    expect(results.map((r) => (r.ok ? r.value : (r.error as Error).message))).toEqual([
      '{ns:0}:i:s:a',
      '{ns:1}:i:s:b',
      'WRONGTYPE',
    ]);
    // EVALSHA pipelines for tags ns:0 (two calls) and ns:1, then the same again as EVAL.
    expect(pipelines.map((commands) => commands.map((c) => `${c[0]} ${c[3]}`))).toEqual([
      ['EVALSHA {ns:0}:i:s:a', 'EVALSHA {ns:0}:i:s:bad'],
      ['EVALSHA {ns:1}:i:s:b'],
      ['EVAL {ns:0}:i:s:a', 'EVAL {ns:0}:i:s:bad'],
      ['EVAL {ns:1}:i:s:b'],
    ]);
  });
});
