/** What `redisStore` refuses, before it talks to any server. */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { createScriptRunner } from '../../src/redis/client.js';
import { redisStore } from '../../src/redis/index.js';

// Clients that never connect: the checks below run before any command.
const client = new Redis({ lazyConnect: true });

describe('redisStore options', () => {
  it('names the option, the value received and what is allowed', () => {
    expect(() => redisStore({ client, namespace: '' })).toThrow(
      /Expected `namespace` to be a non-empty string without `\{` or `\}`.*got '' \(string\)/,
    );
    expect(() => redisStore({ client, namespace: 'a{b}' })).toThrow(/`namespace`.*got 'a\{b\}'/);
    expect(() => redisStore({ client, namespace: 'n', partitions: 0 })).toThrow(
      new RangeError('Expected `partitions` to be an integer from 1 to 16384, got 0 (number)'),
    );
    expect(() => redisStore({ client, namespace: 'n', leaseMs: 1.5 })).toThrow(
      /`leaseMs`.*got 1.5 \(number\)/,
    );
    expect(() => redisStore({ client, namespace: 'n', maxRedeliveries: -1 })).toThrow(/`maxRedeliveries`/);
    expect(() => redisStore({ client, namespace: 'n', serialize: 'json' as never })).toThrow(
      /Expected `serialize` to be a function, got 'json'/,
    );
    for (const journal of ['./var/dir', {}, { kind: 'shared' }]) {
      expect(() => redisStore({ client, namespace: 'n', journal: journal as never })).toThrow(
        /Expected `journal` to be a journal \(`journal\(\{ dir \}\)` from data-buffer\/journal\) or another backend of kind 'local', got /,
      );
    }
  });

  it('says what to install when the client is missing or not a Redis client', () => {
    for (const bad of [undefined, {}, { query: () => {} }]) {
      expect(() => redisStore({ client: bad, namespace: 'n' })).toThrow(
        /Expected `client` to be a client of `redis`.*npm install redis.*`ioredis`.*npm install ioredis/,
      );
    }
  });

  it('recognises node-redis and ioredis clients', () => {
    expect(createScriptRunner(client)).toMatchObject({ client: 'ioredis', cluster: false });
    expect(createScriptRunner(createClient())).toMatchObject({ client: 'redis', cluster: false });
  });

  it('refuses keys that are not strings or finite numbers, naming the key', async () => {
    const store = redisStore<never, number>({ client, namespace: 'n' });
    store.open({ maxSize: 10, interval: 0, partitions: 1 });
    for (const key of [{ id: 1 }, Number.NaN, Symbol('k'), null]) {
      await expect(
        store.write({ length: 1, keys: [key as never], values: [1], firstSeq: 0 }),
      ).rejects.toThrow(/keys that are strings or finite numbers, got .*: other keys cannot be shared/);
    }
    await expect(
      store.write({ length: 1, keys: [{ id: 1 } as never], values: [1], firstSeq: 0 }),
    ).rejects.toThrow(/got \{ id: 1 \} \(object\)/);
  });

  it('refuses values that serialize to nothing, and a second open', async () => {
    const store = redisStore<string, unknown>({ client, namespace: 'n' });
    store.open({ maxSize: 10, interval: 0, partitions: 1 });
    await expect(store.write({ length: 1, keys: ['k'], values: [undefined], firstSeq: 0 })).rejects.toThrow(
      /`serialize` must return a string, got undefined \(undefined\) for an item of the key 'k'/,
    );
    expect(() => store.open({ maxSize: 10, interval: 0, partitions: 1 })).toThrow(/already open/);
  });
});
