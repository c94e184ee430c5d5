import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8ByteLength } from '../../src/utf8.js';

const encoder = new TextEncoder();

// Any Unicode scalar value, drawn evenly from each UTF-8 length class. Built by hand because
// fc.string({ unit: 'binary' }) takes over a second to set up.
const codePoint = fc
  .oneof(
    fc.integer({ min: 0, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
  )
  .map((code) => String.fromCodePoint(code));

// Any UTF-16 code unit, so lone and reversed surrogates are generated too.
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

describe('utf8ByteLength', () => {
  it.each([
    ['', 0],
    ['a', 1],
    ['\u007f', 1],
    ['\u0080', 2],
    ['é', 2],
    ['\u07ff', 2],
    ['\u0800', 3],
    ['€', 3],
    ['\uffff', 3],
    ['😀', 4],
    ['temp=21.5°C', 12],
  ])('counts %j as %i bytes', (text, expected) => {
    expect(utf8ByteLength(text)).toBe(expected);
  });

  it.each([
    ['a lone high surrogate', '\ud800', 3],
    ['a lone low surrogate', '\udc00', 3],
    ['a high surrogate at the end', 'a\udbff', 4],
    ['a reversed pair', '\udc00\ud800', 6],
    ['a high surrogate before a non-surrogate', '\ud83dx', 4],
  ])('counts %s as 3 bytes each, as TextEncoder does', (_label, text, expected) => {
    expect(utf8ByteLength(text)).toBe(expected);
    expect(encoder.encode(text).length).toBe(expected);
  });

  it('matches TextEncoder for any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: codePoint, maxLength: 64 }), (text) => {
        expect(utf8ByteLength(text)).toBe(encoder.encode(text).length);
      }),
      { numRuns: 300 },
    );
  });

  it('matches Buffer.byteLength for any string of UTF-16 code units, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: codeUnit, maxLength: 64 }), (text) => {
        expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a value that is not a string', () => {
    expect(() => utf8ByteLength(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
