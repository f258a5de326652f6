/**
 * The bytes a write's serialized items wait in: every text comes back as it went in, whatever its
 * characters, across growth of the buffer and of its offsets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TextRun } from '../../src/redis/text-run.js';

describe('TextRun', () => {
  it('gives back each text as pushed, and its size in UTF-8 bytes', () => {
    // Starts too small for everything: 1 character, 1 item.
    const run = new TextRun(1, 1);
    const texts = ['', 'plain', 'é', '€ and 𝄞', '"quoted"\n', 'x'.repeat(10_000)];
    const sizes = texts.map((text) => run.push(text));
    expect(sizes).toEqual(texts.map((text) => Buffer.byteLength(text)));
    expect(run.length).toBe(texts.length);
    expect(texts.map((_, i) => run.text(i))).toEqual(texts);
    expect(run.bytes(0, texts.length)).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(run.bytes(2, 4)).toBe(sizes[2]! + sizes[3]!);
    expect(run.bytes(3, 3)).toBe(0);
  });

  it('takes items as UTF-8 bytes too, read back whether they are ASCII or not', () => {
    for (const texts of [
      ['ascii', '{"n":1}', 'more'],
      ['ascii', 'é€ 𝄞', 'more'],
    ]) {
      const run = new TextRun(4, 1);
      const source = Buffer.from(`xx${texts[1]}yy`);
      run.push(texts[0]!);
      expect(run.pushBytes(source, 2, source.length - 2)).toBe(Buffer.byteLength(texts[1]!));
      run.push(texts[2]!);
      expect([0, 1, 2].map((i) => run.text(i))).toEqual(texts);
    }
  });

  it('round-trips any well-formed strings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 50 }),
        fc.nat(64),
        (texts, chars) => {
          const run = new TextRun(chars, 1);
          for (const text of texts) run.push(text);
          expect(texts.map((_, i) => run.text(i))).toEqual(texts);
        },
      ),
    );
  });
});
