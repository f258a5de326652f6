import type { Cluster, Redis } from 'ioredis';
import type { createClient, createCluster } from 'redis';
import { describe, expectTypeOf, it } from 'vitest';
import type { SharedBackend } from '../../src/backend.js';
import { DataBuffer } from '../../src/index.js';
import { journal } from '../../src/journal/index.js';
import { type RedisClaim, type RedisStore, redisStore } from '../../src/redis/index.js';

interface PageView {
  path: string;
}

describe('redisStore types', () => {
  it('takes either client, single server or Cluster, and is a SharedBackend', () => {
    const node = {} as ReturnType<typeof createClient>;
    const nodeCluster = {} as ReturnType<typeof createCluster>;
    const io = {} as Redis;
    const ioCluster = {} as Cluster;
    for (const client of [node, nodeCluster, io, ioCluster]) {
      const store = redisStore<string, PageView>({ client, namespace: 'page-views' });
      expectTypeOf(store).toExtend<SharedBackend<string, PageView>>();
      expectTypeOf(store).toEqualTypeOf<RedisStore<string, PageView>>();
      expectTypeOf(store.claim('/home', false)).resolves.toEqualTypeOf<RedisClaim<PageView> | undefined>();
    }
  });

  it('takes a journal in front, its key and value types inferred from the buffer', () => {
    new DataBuffer<string, PageView>({
      handleFlush: () => {},
      store: redisStore({ client: {}, namespace: 'n', journal: journal({ dir: './var/n' }) }),
    });
    const front = journal<string, PageView>({ dir: './var/n' });
    expectTypeOf(redisStore({ client: {}, namespace: 'n', journal: front })).toEqualTypeOf<
      RedisStore<string, PageView>
    >();
    redisStore<string, PageView>({
      client: {},
      namespace: 'n',
      // @ts-expect-error: a journal of other values cannot be in front of this store
      journal: journal<string, number>({ dir: 'd' }),
    });
  });

  it('takes string or number keys only', () => {
    redisStore<number, PageView>({ client: {}, namespace: 'n' });
    // @ts-expect-error: objects are compared by identity in one process and mean nothing in another
    redisStore<{ id: number }, PageView>({ client: {}, namespace: 'n' });
  });

  it('serializes values of the store type', () => {
    redisStore<string, PageView>({
      client: {},
      namespace: 'n',
      serialize: (view) => view.path,
      deserialize: (text) => ({ path: text }),
    });
    redisStore<string, PageView>({
      client: {},
      namespace: 'n',
      // @ts-expect-error: serialize returns a string
      serialize: (view) => view,
    });
  });
});
