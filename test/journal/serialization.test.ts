import { describe, expect, it } from 'vitest';
import { JournalError } from '../../src/journal/index.js';
import { FakeFs } from './fake-fs.js';
import { openJournal, recovered, staged } from './helpers.js';

async function roundTrip<K, V>(entries: Array<[K, V]>, options = {}) {
  const fs = new FakeFs();
  const first = openJournal<K, V>(fs, options);
  await first.write(staged(entries));
  await first.durable();
  return recovered(openJournal<K, V>(fs.kill(), options));
}

describe('journal serialization', () => {
  it('keeps strings as strings, Buffers as Buffers, and other values as JSON', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const result = await roundTrip<string, unknown>([
      ['k', 'plain "text" ünïcode € 😀'],
      ['k', bytes],
      ['k', { n: 1, list: [1, 'two'], nested: { ok: true } }],
      ['k', 42],
      ['k', '42'],
      ['k', null],
    ]);
    const items = result[0]!.items;
    expect(items[0]).toBe('plain "text" ünïcode € 😀');
    expect(Buffer.isBuffer(items[1])).toBe(true);
    expect(items[1]).toEqual(bytes);
    expect(items[2]).toEqual({ n: 1, list: [1, 'two'], nested: { ok: true } });
    expect(items[3]).toBe(42);
    expect(items[4]).toBe('42');
    expect(items[5]).toBeNull();
  });

  it('keeps primitive keys as the same primitive', async () => {
    const result = await roundTrip<unknown, string>([
      ['1', 'string key'],
      [1, 'number key'],
      [10n, 'bigint key'],
      [true, 'boolean key'],
      [null, 'null key'],
      [undefined, 'undefined key'],
      [-0.5, 'fraction key'],
    ]);
    expect(result.map((batch) => batch.key)).toEqual(['1', 1, 10n, true, null, undefined, -0.5]);
  });

  it('uses custom serializers for keys and values, in both directions', async () => {
    const options = {
      serialize: (value: Date) => value.toISOString(),
      deserialize: (data: string | Buffer) => new Date(String(data)),
      serializeKey: (key: { id: number }) => Buffer.from([key.id]),
      deserializeKey: (data: string | Buffer) => ({ id: (data as Buffer)[0] }),
    };
    const when = new Date('2024-01-02T03:04:05.000Z');
    const result = await roundTrip([[{ id: 7 }, when]], options);
    expect(result).toEqual([{ key: { id: 7 }, items: [when], batchId: undefined }]);
  });

  it.each([
    ['an object key', { id: 1 }, /key \{ id: 1 \} \(object\): object keys are compared by identity/],
    ['a symbol key', Symbol('s'), /key Symbol\(s\) \(symbol\)/],
    ['a function key', function named() {}, /key \[Function: named\] \(function\)/],
    ['a Buffer key', Buffer.from('x'), /compared by identity/],
  ])('refuses %s at admit, naming it', (_name, key, message) => {
    const backend = openJournal<unknown, string>();
    let thrown: unknown;
    try {
      backend.admit(key, 'value');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'ERR_JOURNAL_UNSERIALIZABLE' });
    expect((thrown as Error).message).toMatch(message);
  });

  it('refuses values JSON cannot hold, naming them', () => {
    const backend = openJournal<string, unknown>();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    for (const [value, message] of [
      [cyclic, /cannot store the value .*loop.*JSON.stringify failed/],
      [10n, /value 10n \(bigint\): JSON.stringify failed/],
      [undefined, /value undefined \(undefined\): JSON has no representation/],
      [() => 1, /JSON has no representation/],
    ] as const) {
      expect(() => backend.admit('k', value)).toThrow(message);
    }
    expect(() => backend.admit('k', { fine: true })).not.toThrow();
  });

  it('refuses what a custom serializer throws on or returns wrongly', () => {
    const backend = openJournal<string, number>(new FakeFs(), {
      serialize: (value: number) => {
        if (value < 0) throw new Error('negative');
        return value === 0 ? (0 as unknown as string) : String(value);
      },
      deserialize: Number,
    });
    expect(() => backend.admit('k', -1)).toThrow(/value -1 \(number\): the serializer threw: negative/);
    expect(() => backend.admit('k', 0)).toThrow(/returned 0 \(number\); expected a string or a Uint8Array/);
    expect(() => backend.admit('k', 1)).not.toThrow();
  });

  it('fails the journal (fail-stop) when write meets a value admit would have refused', async () => {
    const backend = openJournal<string, unknown>();
    await expect(backend.write(staged([['k', 1n]]))).rejects.toMatchObject({
      code: 'ERR_JOURNAL_FAILED',
      cause: { code: 'ERR_JOURNAL_UNSERIALIZABLE' },
    });
    await expect(backend.durable()).rejects.toBeInstanceOf(JournalError);
    expect(() => backend.admit('k', 'fine')).toThrow(JournalError);
    expect(backend.stats().failed).toBe(1);
  });
});

describe('journal admit', () => {
  it('serializes each value once: write stores what admit encoded, skipping admits whose insert failed', async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, { n: number }>(fs);
    const first = { n: 1 };
    const refusedLater = { n: 2 };
    const second = { n: 3 };
    const neverAdmitted = { n: 4 };
    backend.admit('k', first);
    backend.admit('k', refusedLater); // as if the insert then failed (a full buffer): never staged
    backend.admit('k', second);
    first.n = 100; // mutated after insert: the journal keeps the value as inserted
    await backend.write(
      staged([
        ['k', first],
        ['k', second],
        ['k', neverAdmitted],
      ]),
    );
    await backend.durable();
    expect(recovered(openJournal<string, { n: number }>(fs.kill()))).toEqual([
      { key: 'k', items: [{ n: 1 }, { n: 3 }, { n: 4 }], batchId: undefined },
    ]);
  });

  it('matches an admitted entry by key and value: the same value admitted under a key whose insert failed is not stored under it', async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, { n: number }>(fs);
    const shared = { n: 1 };
    backend.admit('a', shared); // as if the insert then failed: never staged
    backend.admit('b', shared);
    backend.admit('c', { n: 2 });
    await backend.write(
      staged([
        ['b', shared],
        ['c', { n: 3 }], // not the admitted value: encoded afresh
      ]),
    );
    await backend.durable();
    expect(recovered(openJournal<string, { n: number }>(fs.kill()))).toEqual([
      { key: 'b', items: [{ n: 1 }], batchId: undefined },
      { key: 'c', items: [{ n: 3 }], batchId: undefined },
    ]);
  });

  it('a key first admitted without a line, written once another item of it made one, is stored under that line', async () => {
    const fs = new FakeFs();
    const backend = openJournal<string, number>(fs);
    // Both admitted before the key has a line (both encode the key), then written in one stretch: the
    // first makes the line, the second copies its value after the line's key field.
    backend.admit('k', 1);
    backend.admit('k', 2);
    backend.admit('j', 3);
    await backend.write(
      staged([
        ['k', 1],
        ['k', 2],
        ['j', 3],
      ]),
    );
    backend.taken('k', 2, 'batch-1');
    backend.admit('k', 4);
    await backend.write(staged([['k', 4]]));
    await backend.durable();
    expect(recovered(openJournal<string, number>(fs.kill()))).toEqual([
      { key: 'k', items: [1, 2], batchId: 'batch-1' },
      { key: 'k', items: [4], batchId: undefined },
      { key: 'j', items: [3], batchId: undefined },
    ]);
  });
});
