import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fromBound,
  toBound,
  truncateLowerBound,
  truncateUpperBound,
  unscaledToBytes,
} from '../../src/iceberg/bounds.js';
import { IcebergError } from '../../src/iceberg/errors.js';

const bytes = (...values: number[]) => Uint8Array.from(values.map((v) => v & 0xff));

describe('iceberg bounds', () => {
  describe('toBound', () => {
    // The values of Java Iceberg's TestConversions, which pins the spec's appendix D.
    it.each([
      ['boolean', true, bytes(1)],
      ['boolean', false, bytes(0)],
      ['int', 34, bytes(34, 0, 0, 0)],
      ['int', -1, bytes(0xff, 0xff, 0xff, 0xff)],
      ['date', 17_801, bytes(137, 69, 0, 0)],
      ['long', 34n, bytes(34, 0, 0, 0, 0, 0, 0, 0)],
      ['long', -(2n ** 63n), bytes(0, 0, 0, 0, 0, 0, 0, 0x80)],
      ['timestamptz', 400_000n, bytes(128, 26, 6, 0, 0, 0, 0, 0)],
      ['float', 1, bytes(0, 0, 128, 63)],
      ['double', 2, bytes(0, 0, 0, 0, 0, 0, 0, 64)],
      ['double', -0, bytes(0, 0, 0, 0, 0, 0, 0, 0x80)],
      ['string', 'foo', bytes(102, 111, 111)],
      ['string', 'é€😀', new TextEncoder().encode('é€😀')],
      ['decimal(14,2)', '14.20', bytes(5, -116)],
      ['decimal(10,3)', '0.011', bytes(11)],
      ['decimal(9,2)', '-1.28', bytes(0x80)],
      ['decimal(9,2)', '1.28', bytes(0x00, 0x80)],
      ['decimal(9,2)', '-1.29', bytes(0xff, 0x7f)],
      ['decimal(9,2)', '0.00', bytes(0)],
      ['decimal(38,10)', '-0.0000000001', bytes(0xff)],
    ] as const)('serializes %s %s as Iceberg does', (type, value, expected) => {
      // act
      const serialized = toBound(type, value);

      // assert
      expect([...serialized]).toEqual([...expected]);
      expect(fromBound(type, serialized)).toEqual(type === 'double' && Object.is(value, -0) ? -0 : value);
    });

    it('writes a decimal in the fewest bytes that hold its unscaled value', () => {
      // arrange: 2^63 needs 9 bytes (a leading 0x00 keeps it positive), -2^63 needs 8
      // act / assert
      expect(unscaledToBytes(2n ** 63n)).toHaveLength(9);
      expect(unscaledToBytes(-(2n ** 63n))).toHaveLength(8);
      expect(unscaledToBytes(10n ** 38n - 1n)).toHaveLength(16); // decimal(38, s) fits Iceberg's 16-byte fixed
    });

    it.each([
      ['int', 2 ** 31],
      ['int', 1.5],
      ['long', 2n ** 63n],
      ['long', 5],
      ['string', 5],
      ['decimal(9,2)', '1e5'],
      ['binary', 'x'],
    ] as const)('refuses %s %s with a typed error', (type, value) => {
      // act / assert
      expect(() => toBound(type, value)).toThrow(IcebergError);
    });
  });

  describe('fromBound', () => {
    it('round-trips every value of each type', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
          fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
          fc.double({ noNaN: false }),
          fc.string({ unit: 'grapheme' }),
          fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }),
          (int, long, double, text, unscaled) => {
            const decimal = `${unscaled < 0n ? '-' : ''}${(unscaled < 0n ? -unscaled : unscaled)
              .toString()
              .padStart(11, '0')
              .replace(/(\d{10})$/, '.$1')}`;
            expect(fromBound('int', toBound('int', int))).toBe(int);
            expect(fromBound('long', toBound('long', long))).toBe(long);
            expect(fromBound('double', toBound('double', double))).toBe(double);
            expect(fromBound('string', toBound('string', text))).toBe(text);
            expect(fromBound('decimal(38,10)', toBound('decimal(38,10)', decimal))).toBe(decimal);
          },
        ),
      );
    });

    it('reads bounds written before a type promotion (int → long, float → double)', () => {
      // act / assert
      expect(fromBound('long', bytes(34, 0, 0, 0))).toBe(34n);
      expect(fromBound('double', bytes(0, 0, 128, 63))).toBe(1);
    });

    it('refuses bytes of the wrong length with a typed error', () => {
      // act / assert
      expect(() => fromBound('int', bytes(1, 2))).toThrow(IcebergError);
      expect(() => fromBound('boolean', bytes())).toThrow(IcebergError);
      expect(() => fromBound('decimal(9,2)', bytes())).toThrow(IcebergError);
    });
  });

  describe('truncate(16)', () => {
    it('keeps a string of at most 16 code points whole, as both bounds', () => {
      // arrange: 16 code points, 32 UTF-16 units
      const value = '😀'.repeat(16);

      // act / assert
      expect(truncateLowerBound(value)).toBe(value);
      expect(truncateUpperBound(value)).toBe(value);
    });

    it('truncates a longer string to 16 code points, incrementing the last for the upper bound', () => {
      // act / assert
      expect(truncateLowerBound('temperature-sensor-0042')).toBe('temperature-sens');
      expect(truncateUpperBound('temperature-sensor-0042')).toBe('temperature-sent');
      expect(truncateLowerBound(`${'😀'.repeat(16)}x`)).toBe('😀'.repeat(16));
      expect(truncateUpperBound(`${'😀'.repeat(16)}x`)).toBe(`${'😀'.repeat(15)}😁`);
    });

    it('drops trailing code points that cannot be incremented, and skips the surrogate range', () => {
      // arrange
      const max = String.fromCodePoint(0x10ffff);

      // act / assert
      expect(truncateUpperBound(`${'a'.repeat(14)}${max}${max}zz`)).toBe(`${'a'.repeat(13)}b`);
      expect(truncateUpperBound(`${'a'.repeat(15)}\ud7ffz`)).toBe(`${'a'.repeat(15)}\ue000`);
      expect(truncateUpperBound(max.repeat(17))).toBeUndefined();
    });

    it('applies to toBound given which bound, and only to strings', () => {
      // act / assert
      expect(new TextDecoder().decode(toBound('string', 'temperature-sensor-0042', 'lower'))).toBe(
        'temperature-sens',
      );
      expect(new TextDecoder().decode(toBound('string', 'temperature-sensor-0042', 'upper'))).toBe(
        'temperature-sent',
      );
      expect(toBound('string', String.fromCodePoint(0x10ffff).repeat(17), 'upper')).toBeUndefined();
      expect([...(toBound('long', 34n, 'upper') as Uint8Array)]).toEqual([34, 0, 0, 0, 0, 0, 0, 0]);
    });

    it('gives bounds that enclose the string (by code point order)', () => {
      const codePointOrder = (a: string, b: string) => {
        const x = Array.from(a, (c) => c.codePointAt(0) as number);
        const y = Array.from(b, (c) => c.codePointAt(0) as number);
        for (let i = 0; i < Math.min(x.length, y.length); i++)
          if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
        return x.length - y.length;
      };
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (value) => {
          const upper = truncateUpperBound(value);
          expect(codePointOrder(truncateLowerBound(value), value)).toBeLessThanOrEqual(0);
          if (upper !== undefined) expect(codePointOrder(upper, value)).toBeGreaterThanOrEqual(0);
        }),
      );
    });
  });
});
