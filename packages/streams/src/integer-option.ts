import type { OptionChecks } from '@tributary/core';

/**
 * An integer option within the limits a service sets (core's checks have no range): `value`, or
 * `fallback` when it is not given. Throws `check`'s `OptionsError` naming the option.
 */
export function integerOption(
  check: OptionChecks,
  option: string,
  value: unknown,
  fallback: number,
  range: { min: number; max: number },
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw check.invalid(option, value, `an integer from ${range.min} to ${range.max}`);
  }
  return value;
}
