import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import { DataBuffer } from '../../src/index.js';
import {
  type PostgresSinkResult,
  postgresSink,
  type Queryable,
  type RowContext,
} from '../../src/postgres/index.js';

interface PageView {
  path: string;
  at: Date;
}

describe('postgresSink types', () => {
  it('takes a pg Pool, Client or PoolClient, or a PGlite instance, as they are', () => {
    expectTypeOf<pg.Pool>().toExtend<Queryable>();
    expectTypeOf<pg.Client>().toExtend<Queryable>();
    expectTypeOf<pg.PoolClient>().toExtend<Queryable>();
    expectTypeOf<PGlite>().toExtend<Queryable>();
  });

  it('types the value functions from the type arguments, and fits handleFlush', () => {
    const sink = postgresSink<string, PageView>({
      pool: {} as pg.Pool,
      table: 'views',
      columns: {
        path: 'text',
        at: {
          type: 'timestamptz',
          value: (view, key, row) => {
            expectTypeOf(view).toEqualTypeOf<PageView>();
            expectTypeOf(key).toEqualTypeOf<string>();
            expectTypeOf(row).toEqualTypeOf<RowContext>();
            return view.at;
          },
        },
      },
    });
    expectTypeOf(sink).returns.resolves.toEqualTypeOf<PostgresSinkResult>();
    new DataBuffer<string, PageView, { tenant: string }>({ handleFlush: sink, meta: { tenant: 'a' } });
    // A direct call needs only a batch id.
    void sink('/a', [], { batchId: 'replay-1' });
  });

  it('refuses a sink whose items do not match the buffer', () => {
    const sink = postgresSink<string, { other: number }>({
      pool: {} as PGlite,
      table: 't',
      columns: { other: 'int4' },
    });
    // @ts-expect-error: the buffer holds PageView, the sink writes { other: number }
    new DataBuffer<string, PageView>({ handleFlush: sink });
  });
});
