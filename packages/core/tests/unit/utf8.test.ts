import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8ByteLength, utf8InvalidOffset } from '../../src/utf8.js';

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
      expect.objectContaining({ code: 'ARGUMENT_INVALID' }),
    );
  });
});

describe('utf8InvalidOffset', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  it.each([
    ['ASCII', [0x61, 0x62], -1],
    ['2, 3 and 4-byte characters', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x9a, 0x80], -1],
    ['a lone continuation byte', [0x61, 0x80], 1],
    ['an overlong 2-byte form', [0xc0, 0xaf], 0],
    ['an overlong 3-byte form', [0xe0, 0x80, 0xaf], 0],
    ['an encoded surrogate', [0x61, 0xed, 0xa0, 0x80], 1],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a 3-byte sequence cut by ASCII', [0xe2, 0x82, 0x61], 0],
    ['a 4-byte sequence cut by the end', [0x61, 0x62, 0xf0, 0x9f, 0x9a], 2],
    ['0xFE', [0xfe], 0],
  ])('%s', (_name, bytes, offset) => {
    expect(utf8InvalidOffset(Uint8Array.from(bytes))).toBe(offset);
  });

  it('agrees with a fatal TextDecoder on any bytes, and points past a well-formed prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const offset = utf8InvalidOffset(bytes);
        let valid = true;
        try {
          fatal.decode(bytes);
        } catch {
          valid = false;
        }
        expect(offset === -1).toBe(valid);
        if (offset !== -1) {
          expect(() => fatal.decode(bytes.subarray(0, offset))).not.toThrow();
          expect(() => fatal.decode(bytes.subarray(0, offset + 4))).toThrow();
        }
      }),
      { numRuns: 2000 },
    );
  });
});
