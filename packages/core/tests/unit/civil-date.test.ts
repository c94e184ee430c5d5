import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { daysFromCivil } from '../../src/index.js';

describe('daysFromCivil', () => {
  it('counts days from 1970-01-01 as Date.UTC does for years from 100 to 9999', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0100-01-01T00:00:00Z'),
          max: new Date('9999-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        (date) => {
          const days = daysFromCivil(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
          expect(days).toBe(Math.floor(date.getTime() / 86_400_000));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles years 0-99 as themselves, not as 19YY', () => {
    expect(daysFromCivil(0, 3, 1) - daysFromCivil(0, 2, 28)).toBe(2); // year 0 is a leap year
    expect(daysFromCivil(1, 1, 1) - daysFromCivil(0, 1, 1)).toBe(366);
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
  });
});
