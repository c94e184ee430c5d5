import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeDecimalText } from '../../src/decimal.js';
import {
  decimalToUnscaled,
  isCanonicalDecimal,
  normalizeDecimal,
  unscaledToDecimal,
} from '../../src/index.js';

describe('decimal', () => {
  describe('normalizeDecimal', () => {
    it.each([
      ['1.005', 2, '1.01'],
      ['-1.005', 2, '-1.01'],
      ['9.995', 2, '10.00'],
      ['.5', 0, '1'],
      ['-.4', 0, '0'],
      ['1.23e-2', 4, '0.0123'],
      ['-1.5E+2', 1, '-150.0'],
      ['000123.4500', 3, '123.450'],
      ['+7', 1, '7.0'],
    ])('%s at scale %i is %s', (input, scale, expected) => {
      expect(normalizeDecimal(input, 38, scale)).toBe(expected);
    });

    it.each(['-', '.', 'e5', '1e', '0x10', '1_000', 'NaN', '١٢'])('rejects %s as format', (input) => {
      expect(normalizeDecimal(input, 38, 2)).toEqual({ problem: 'format' });
    });

    it('rounds half away from zero, like PostgreSQL numeric', () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
          fc.integer({ min: 0, max: 6 }),
          (n, scale) => {
            // n is the value scaled by 10^(scale+3): three extra digits to round away
            const text = unscaledToDecimal(n, scale + 3);
            const magnitude = n < 0n ? -n : n;
            let rounded = magnitude / 1000n + (magnitude % 1000n >= 500n ? 1n : 0n);
            if (n < 0n) rounded = -rounded;
            expect(normalizeDecimal(text, 38, scale)).toBe(unscaledToDecimal(rounded, scale));
          },
        ),
      );
    });

    it('enforces precision minus scale integer digits', () => {
      expect(normalizeDecimal('999.99', 5, 2)).toBe('999.99');
      expect(normalizeDecimal('1000', 5, 2)).toEqual({ problem: 'precision' });
      expect(normalizeDecimal('999.995', 5, 2)).toEqual({ problem: 'precision' });
    });
  });

  describe('the fast path for plain decimals', () => {
    // normalizeDecimal tries the plain form first and falls back to the general path
    // (normalizeDecimalText): whatever takes the fast path must come out as the general path says.
    const plain = fc.oneof(
      fc.stringMatching(/^-?\d{1,24}(\.\d{1,22})?$/),
      fc.constantFrom('0', '-0', '0.0', '-0.000', '00', '01.5', '-00.1', '1.', '.5', '+1', ' 1', '1e3', '-'),
    );
    const numbers = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer().map((n) => n / 1000),
      fc.constantFrom(0, -0, 1e21, 1e-7, 123456789.12345679, -0.5, 2 ** 53),
    );
    const scales = fc.constantFrom([38, 18], [10, 2], [6, 0], [4, 4], [5, 6], [20, 20], [38, 0]);

    it('gives what the general path gives, for text', () => {
      fc.assert(
        fc.property(plain, scales, (text, [precision, scale]) => {
          expect(normalizeDecimal(text, precision as number, scale as number)).toEqual(
            normalizeDecimalText(text.trim(), precision as number, scale as number),
          );
        }),
        { numRuns: 5000 },
      );
    });

    it("gives what the general path gives, for a number's String()", () => {
      fc.assert(
        fc.property(numbers, scales, (n, [precision, scale]) => {
          expect(normalizeDecimal(n, precision as number, scale as number)).toEqual(
            normalizeDecimalText(String(n), precision as number, scale as number),
          );
        }),
        { numRuns: 5000 },
      );
    });

    it('pads to the scale in one flat string, and keeps text already canonical as it is', () => {
      expect(normalizeDecimal(245013.383389, 38, 18)).toBe('245013.383389000000000000');
      expect(normalizeDecimal(7, 38, 2)).toBe('7.00');
      expect(normalizeDecimal('-12.5', 38, 1)).toBe('-12.5');
      expect(normalizeDecimal('12', 2, 0)).toBe('12');
      expect(normalizeDecimal('123', 4, 2)).toEqual({ problem: 'precision' });
    });
  });

  describe('unscaled form', () => {
    it('round-trips through the unscaled integer Parquet stores', () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }),
          fc.integer({ min: 0, max: 38 }),
          (n, scale) => {
            const text = unscaledToDecimal(n, scale);
            expect(decimalToUnscaled(text, scale)).toBe(n);
            expect(normalizeDecimal(text, 38 + scale, scale)).toBe(text);
          },
        ),
      );
    });

    it('formats small and negative values', () => {
      expect(unscaledToDecimal(-5n, 3)).toBe('-0.005');
      expect(unscaledToDecimal(0n, 2)).toBe('0.00');
      expect(decimalToUnscaled('12.3', 3)).toBe(12300n);
    });
  });
});

describe('isCanonicalDecimal', () => {
  const texts = fc.oneof(
    fc.stringMatching(/^-?\d{0,6}(\.\d{0,4})?$/),
    fc.constantFrom('0.00', '-0.00', '00.50', '1.5', '-12.35', '0', '-0', '123', '1e2', ''),
  );

  it.each([
    [10, 2],
    [6, 0],
    [4, 4],
    [38, 18],
  ])('is true exactly when normalizeDecimal(text, %i, %i) returns the text itself', (precision, scale) => {
    fc.assert(
      fc.property(texts, (text) => {
        expect(isCanonicalDecimal(text, precision, scale)).toBe(
          normalizeDecimal(text, precision, scale) === text,
        );
      }),
      { numRuns: 2000 },
    );
  });
});
