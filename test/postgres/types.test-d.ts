import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import { DataBuffer } from '../../src/index.js';
import {
  type PostgresFlushHandler,
  type PostgresSinkResult,
  postgresSink,
  type Queryable,
  type RowContext,
} from '../../src/postgres/index.js';

interface PageView {
  path: string;
  at: Date;
  referrer?: string;
  note: string | undefined;
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

  it('takes its types from the buffer it is given to, and then checks type-name columns against the item', () => {
    new DataBuffer<string, PageView>({
      handleFlush: postgresSink({
        pool: {} as pg.Pool,
        table: 'views',
        columns: {
          path: 'text',
          at: { type: 'timestamptz' },
          referrer: { type: 'text', optional: true },
          note: { type: 'text', optional: true },
          user_agent: { type: 'text', value: (view, key) => `${view.path} ${key}` },
        },
      }),
    });
    const annotated: PostgresFlushHandler<string, PageView> = postgresSink({
      pool: {} as PGlite,
      table: 'views',
      columns: { path: 'text', at: 'timestamptz' },
    });
    void annotated;
  });

  it('refuses a type-name column that is not a property of the item', () => {
    new DataBuffer<string, PageView>({
      handleFlush: postgresSink({
        pool: {} as pg.Pool,
        table: 'views',
        // @ts-expect-error: PageView has no `created`
        columns: { path: 'text', created: 'timestamptz' },
      }),
    });
    const annotated: PostgresFlushHandler<string, PageView> = postgresSink({
      pool: {} as pg.Pool,
      table: 'views',
      // @ts-expect-error: PageView has no `created`
      columns: { created: { type: 'timestamptz' } },
    });
    void annotated;
  });

  it('asks for optional: true when the property may be missing', () => {
    new DataBuffer<string, PageView>({
      handleFlush: postgresSink({
        pool: {} as pg.Pool,
        table: 'views',
        // @ts-expect-error: `referrer` is optional in PageView: say what a missing one means
        columns: { referrer: 'text' },
      }),
    });
    new DataBuffer<string, PageView>({
      handleFlush: postgresSink({
        pool: {} as pg.Pool,
        table: 'views',
        // @ts-expect-error: `note` may be undefined
        columns: { note: { type: 'text' } },
      }),
    });
  });

  it('with explicit type arguments, cannot see the column names and takes { type, value } columns only', () => {
    postgresSink<string, PageView>({
      pool: {} as pg.Pool,
      table: 'views',
      // @ts-expect-error: the names are not known here, so a type name cannot be checked
      columns: { path: 'text' },
    });
  });

  it('refuses a sink whose items do not match the buffer', () => {
    const sink = postgresSink<string, { other: number }>({
      pool: {} as PGlite,
      table: 't',
      columns: { other: { type: 'int4', value: (item) => item.other } },
    });
    // @ts-expect-error: the buffer holds PageView, the sink writes { other: number }
    new DataBuffer<string, PageView>({ handleFlush: sink });
  });
});
