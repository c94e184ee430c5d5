// Calendar arithmetic without Date: Date.UTC maps years 0-99 to 1900-1999, so code that handles
// every year counts days itself.

/**
 * Days from 1970-01-01 to a day of the proleptic Gregorian calendar, exact for every year
 * (H. Hinnant's `days_from_civil`); `month` is 1-12.
 *
 * @example
 * ```ts
 * daysFromCivil(1970, 1, 1); // 0
 * daysFromCivil(2026, 11, 23) * 86_400_000; // Date.UTC(2026, 10, 23)
 * ```
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
