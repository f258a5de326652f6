import { describe, expect, it } from 'vitest';
import { journal, journalDefaults } from '../../src/journal/index.js';

describe('journal options', () => {
  it('has documented defaults', () => {
    expect(journalDefaults).toEqual({ sync: 'process', syncInterval: 200, segmentBytes: 64 * 1024 * 1024 });
    expect(journal({ dir: '/tmp/never-opened' }).kind).toBe('local');
  });

  it.each([
    [
      {},
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /Expected `dir` to be a non-empty string \(a directory path\), got undefined/,
    ],
    [{ dir: '' }, TypeError, 'ERR_INVALID_ARG_TYPE', /`dir`.*got '' \(string\)/],
    [
      { dir: 'd', sync: 'fast' },
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /Expected `sync` to be one of 'none', 'process', 'interval', 'always', got 'fast' \(string\)/,
    ],
    [
      { dir: 'd', syncInterval: 0 },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      /`syncInterval` to be an integer from 1 to 2147483647, got 0 \(number\)/,
    ],
    [
      { dir: 'd', syncInterval: '5' },
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /`syncInterval`.*got '5' \(string\)/,
    ],
    [
      { dir: 'd', segmentBytes: 100 },
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      /`segmentBytes` to be an integer from 4096/,
    ],
    [
      { dir: 'd', serialize: String },
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /`serialize` and `deserialize` go together/,
    ],
    [
      { dir: 'd', deserializeKey: 3 },
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /`deserializeKey` to be a function, got 3 \(number\)/,
    ],
    [{ dir: 'd', sink: true }, TypeError, 'ERR_INVALID_ARG_VALUE', /Unknown journal option `sink`/],
  ])('refuses %o', (options, type, code, message) => {
    let thrown: unknown;
    try {
      journal(options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(type);
    expect(thrown).toMatchObject({ code });
    expect((thrown as Error).message).toMatch(message);
  });

  it('refuses options that are not an object', () => {
    expect(() => journal('dir' as never)).toThrow(
      /Expected the journal options to be an object, got 'dir' \(string\)/,
    );
  });
});
