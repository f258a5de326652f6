/**
 * What the sink sends, without a database: the COPY text of a batch (through a handle shaped like
 * PGlite, whose COPY data arrives as a blob), which statement each handle gets, and the refusal of an
 * item that lacks a property a type-name column reads.
 */
import { describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../src/index.js';
import {
  COPY_UNAVAILABLE_WARNING,
  type PostgresFlushHandler,
  postgresSink,
  type Queryable,
} from '../../src/postgres/index.js';
import { isoDate } from '../../src/postgres/literal.js';

/** A handle shaped like PGlite (`exec`, `sql`, `query` with a `blob` option) that records what it runs. */
function pgliteRecorder() {
  const calls: { text: string; params: unknown[]; data: string | undefined }[] = [];
  const db = {
    query: async (text: string, params: unknown[] = [], options?: { blob?: Blob }) => {
      calls.push({ text, params, data: await options?.blob?.text() });
      return { affectedRows: 2 };
    },
    exec: async () => [],
    sql: async () => ({ rows: [] }),
  };
  return { db: db as Queryable, calls };
}

/** A handle that only has `query`: it cannot COPY. */
function queryRecorder() {
  const calls: { text: string; params: unknown[] }[] = [];
  const db: Queryable = {
    query: async (text, params = []) => {
      calls.push({ text, params });
      return { rowCount: 1 };
    },
  };
  return { db, calls };
}

interface View {
  path: string;
  user: string | null;
  at: Date;
  referrer?: string;
}

describe('the COPY text of a batch', () => {
  it('is tab-separated rows, \\N for NULL, with backslash, tab, newline and carriage return escaped', async () => {
    const { db, calls } = pgliteRecorder();
    const sink = postgresSink<string, unknown>({
      pool: db,
      table: { schema: 'My Schema', name: 'odd"name' },
      columns: {
        v: { type: 'text', value: (item) => item },
        k: { type: 'text', value: (_item, key) => key },
      },
    });
    const values = ['plain', 'tab\there', 'line\nbreak\r', 'back\\slash', '\\N', '\\.', null, undefined, ''];
    expect(await sink('k', values, { batchId: 'b' })).toEqual({ rows: values.length, inserted: 2 });

    expect(calls).toHaveLength(1);
    expect(calls[0]?.text).toBe(`COPY "My Schema"."odd""name" ("v", "k") FROM '/dev/blob'`);
    expect(calls[0]?.data).toBe(
      [
        'plain\tk',
        'tab\\there\tk',
        'line\\nbreak\\r\tk',
        'back\\\\slash\tk',
        '\\\\N\tk',
        '\\\\.\tk',
        '\\N\tk',
        '\\N\tk',
        '\tk',
        '',
      ].join('\n'),
    );
  });

  it('writes dates as ISO 8601, bytea as escaped hex, objects as JSON, numbers and booleans as text', async () => {
    const { db, calls } = pgliteRecorder();
    const sink = postgresSink<string, unknown>({
      pool: db,
      table: 't',
      columns: { v: { type: 'text', value: (item) => item } },
    });
    await sink(
      'k',
      [new Date('2024-02-29T12:34:56.789Z'), Buffer.from([0, 92, 255]), { a: 'x\ty' }, 1.5, 10n, true],
      { batchId: 'b' },
    );
    expect(calls[0]?.data).toBe('2024-02-29T12:34:56.789Z\n\\\\x005cff\n{"a":"x\\\\ty"}\n1.5\n10\ntrue\n');
  });

  it('is not used with onConflict (COPY has none), nor with copy: false, nor by a handle without COPY', async () => {
    const pglite = pgliteRecorder();
    const columns = { v: { type: 'text', value: String } };
    await postgresSink({ pool: pglite.db, table: 't', columns, onConflict: 'do-nothing' })('k', [1], {
      batchId: 'b',
    });
    await postgresSink({ pool: pglite.db, table: 't', columns, copy: false })('k', [1], { batchId: 'b' });
    const plain = queryRecorder();
    await postgresSink({ pool: plain.db, table: 't', columns })('k', [1], { batchId: 'b' });

    expect(pglite.calls.map((call) => call.text)).toEqual([
      'INSERT INTO "t" ("v") SELECT * FROM unnest($1::text[]) ON CONFLICT DO NOTHING',
      'INSERT INTO "t" ("v") SELECT * FROM unnest($1::text[])',
    ]);
    expect(plain.calls).toEqual([
      { text: 'INSERT INTO "t" ("v") SELECT * FROM unnest($1::text[])', params: ['{"1"}'] },
    ]);
  });
});

describe('a pg client that cannot COPY (pg-native, pipeline mode)', () => {
  it('gets the INSERT, with one warning per process', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { db, calls } = queryRecorder();
      // What pg-native's Client looks like to the sink: a query method and a backend pid, no protocol access.
      const native = Object.assign(db, { processID: 42, native: {} });
      const sink = postgresSink({
        pool: native,
        table: 't',
        columns: { v: { type: 'text', value: String } },
      });
      await sink('k', [1], { batchId: 'a' });
      await sink('k', [2], { batchId: 'b' });
      await new Promise((resolve) => setImmediate(resolve));

      expect(calls.map((call) => call.text)).toEqual([
        'INSERT INTO "t" ("v") SELECT * FROM unnest($1::text[])',
        'INSERT INTO "t" ("v") SELECT * FROM unnest($1::text[])',
      ]);
      expect(warnings.map((warning) => (warning as Error & { code?: string }).code)).toEqual([
        COPY_UNAVAILABLE_WARNING,
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('a type-name column whose property is missing', () => {
  const view = (n: number): View => ({ path: `/p${n}`, user: null, at: new Date(0) });

  it.each([
    ['COPY', pgliteRecorder, {}],
    ['INSERT … unnest', queryRecorder, {}],
    ['INSERT … ON CONFLICT', pgliteRecorder, { onConflict: 'do-nothing' as const }],
  ])('refuses the batch without retries, naming the column and the key (%s)', async (_, make, extra) => {
    const { db, calls } = make();
    const sink: PostgresFlushHandler<string, View> = postgresSink({
      pool: db,
      table: 'views',
      columns: { path: 'text', user: 'text', at: 'timestamptz' },
      ...extra,
    });
    // What a renamed field or a JavaScript caller produces: the type says `at`, the item has none.
    const broken = { path: '/b', user: 'u' } as unknown as View;
    const error = await sink('/home', [view(0), broken], { batchId: 'b' }).catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toMatch(
      /^Column `at` of row 1 of the batch of key `'\/home'` \(string\): the item's `at` is undefined\. .*\{ type: 'timestamptz', optional: true \}/,
    );
    expect(calls).toEqual([]);
  });

  it('writes NULL for null, and for undefined when the column says optional: true', async () => {
    const { db, calls } = pgliteRecorder();
    const sink: PostgresFlushHandler<string, View> = postgresSink({
      pool: db,
      table: 'views',
      columns: { user: 'text', referrer: { type: 'text', optional: true } },
    });
    await sink('/home', [view(0), { ...view(1), user: 'u', referrer: 'https://a.example' }], {
      batchId: 'b',
    });
    expect(calls[0]?.data).toBe('\\N\t\\N\nu\thttps://a.example\n');
  });

  it('with classifyErrors: false, is a TypeError', async () => {
    const { db } = queryRecorder();
    const sink: PostgresFlushHandler<string, View> = postgresSink({
      pool: db,
      table: 'views',
      columns: { at: 'timestamptz' },
      classifyErrors: false,
    });
    await expect(sink('k', [{} as View], { batchId: 'b' })).rejects.toThrow(TypeError);
  });
});

describe('isoDate', () => {
  it('is toISOString, for every year', () => {
    const samples = [
      Date.UTC(2024, 1, 29, 12, 34, 56, 789),
      Date.UTC(1999, 11, 31, 23, 59, 59, 999),
      Date.UTC(2026, 0, 1, 0, 0, 0, 0),
      Date.UTC(1000, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(999, 11, 31),
      Date.UTC(10_000, 0, 1),
      -62_198_755_200_000, // year -1
      0,
      8.64e15,
      -8.64e15,
    ];
    for (let i = 0; i < 2000; i++) samples.push(Math.round((Math.sin(i) * 0.5 + 0.5) * 1e13) - 2e12 + i * 7);
    for (const time of samples) {
      const date = new Date(time);
      expect(isoDate(date), String(time)).toBe(date.toISOString());
    }
  });
});
