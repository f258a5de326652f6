import { describe, expect, it } from 'vitest';
import { createDataBuffer, DataBuffer } from '../src/index.js';

describe('createDataBuffer', () => {
  it('builds a DataBuffer from options, handleFlush included', async () => {
    const flushed: number[][] = [];
    const buffer = createDataBuffer<string, number>({
      handleFlush: (_key, items) => void flushed.push(items),
    });
    expect(buffer).toBeInstanceOf(DataBuffer);
    buffer.insert('a', 1);
    await buffer.close();
    expect(flushed).toEqual([[1]]);
  });

  it('refuses a missing handleFlush at run time too (for JavaScript callers)', () => {
    expect(() => createDataBuffer({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});
