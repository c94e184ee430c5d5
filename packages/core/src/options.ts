import type { Clock } from './clock.js';
import { describeValue, OptionsError, type OptionsErrorCode } from './errors.js';

// The one way to check an options object: each check returns the value it accepted or throws an
// OptionsError naming the option. Check what types cannot promise (a plain-JS caller, values
// from config or JSON), not every typed field again.

/** The checks {@link optionChecks} returns, each throwing an {@link OptionsError} that names the option. */
export interface OptionChecks {
  /** The error for `option`: `<owner> option <option> must be <expected>, got <value>`. */
  invalid(option: string, value: unknown, expected: string): OptionsError;
  /** A non-null object (not an array). */
  object(option: string, value: unknown): Record<string, unknown>;
  /** A safe integer >= 1. */
  positiveInteger(option: string, value: unknown): number;
  /** A safe integer >= 0. */
  nonNegativeInteger(option: string, value: unknown): number;
  /**
   * A safe integer from `range.min` to `range.max` (the limits a service sets), or `fallback`
   * when `value` is undefined.
   */
  integerInRange(
    option: string,
    value: unknown,
    fallback: number,
    range: { min: number; max: number },
  ): number;
  /** A finite number > 0. */
  positiveNumber(option: string, value: unknown): number;
  /** A number >= 0, finite unless `finite: false`, at most `max` when given. */
  nonNegativeNumber(option: string, value: unknown, limits?: { finite?: boolean; max?: number }): number;
  /** A string of at least one character. */
  nonEmptyString(option: string, value: unknown): string;
  /** A function. */
  function<F extends (...args: never[]) => unknown>(option: string, value: unknown): F;
  /** One of the `allowed` strings. */
  oneOf<V extends string>(option: string, value: unknown, allowed: readonly V[]): V;
  /** A {@link Clock}: an object with `now`, `setTimeout` and `clearTimeout`. */
  clock(option: string, value: unknown): Clock;
}

/**
 * Checks for the options of `owner` (a class or function name, used in messages), whose errors
 * carry `code`.
 *
 * @example
 * ```ts
 * interface PollerOptions {
 *   intervalMs: number;
 *   mode?: 'eager' | 'lazy';
 * }
 * const check = optionChecks('Poller', 'POLLER_OPTIONS_INVALID');
 * function resolvePollerOptions(options: PollerOptions) {
 *   return Object.freeze({
 *     intervalMs: check.positiveInteger('intervalMs', options.intervalMs),
 *     mode: check.oneOf('mode', options.mode ?? 'lazy', ['eager', 'lazy'] as const),
 *   });
 * }
 * ```
 */
export function optionChecks(owner: string, code: OptionsErrorCode): OptionChecks {
  const invalid = (option: string, value: unknown, expected: string): OptionsError =>
    new OptionsError(`${owner} option ${option} must be ${expected}, got ${describeValue(value)}`, {
      code,
      option,
    });
  return Object.freeze({
    invalid,
    object(option: string, value: unknown) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw invalid(option, value, 'an object');
      }
      return value as Record<string, unknown>;
    },
    positiveInteger(option: string, value: unknown) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
        throw invalid(option, value, 'an integer >= 1');
      }
      return value;
    },
    nonNegativeInteger(option: string, value: unknown) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw invalid(option, value, 'an integer >= 0');
      }
      return value;
    },
    integerInRange(option: string, value: unknown, fallback: number, range: { min: number; max: number }) {
      if (value === undefined) return fallback;
      if (
        typeof value !== 'number' ||
        !Number.isSafeInteger(value) ||
        value < range.min ||
        value > range.max
      ) {
        throw invalid(option, value, `an integer from ${range.min} to ${range.max}`);
      }
      return value;
    },
    positiveNumber(option: string, value: unknown) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw invalid(option, value, 'a finite number > 0');
      }
      return value;
    },
    nonNegativeNumber(option: string, value: unknown, limits: { finite?: boolean; max?: number } = {}) {
      const finite = limits.finite ?? true;
      const { max } = limits;
      if (
        typeof value !== 'number' ||
        Number.isNaN(value) ||
        value < 0 ||
        (finite && !Number.isFinite(value)) ||
        (max !== undefined && value > max)
      ) {
        const kind = finite ? 'a finite number >= 0' : 'a number >= 0';
        throw invalid(option, value, max === undefined ? kind : `${kind} and <= ${max}`);
      }
      return value;
    },
    nonEmptyString(option: string, value: unknown) {
      if (typeof value !== 'string' || value === '') throw invalid(option, value, 'a non-empty string');
      return value;
    },
    function<F extends (...args: never[]) => unknown>(option: string, value: unknown): F {
      if (typeof value !== 'function') throw invalid(option, value, 'a function');
      return value as F;
    },
    oneOf<V extends string>(option: string, value: unknown, allowed: readonly V[]): V {
      if (!allowed.includes(value as V)) {
        throw invalid(option, value, allowed.map((v) => `"${v}"`).join(' or '));
      }
      return value as V;
    },
    clock(option: string, value: unknown) {
      const clock = value as Partial<Clock> | null;
      if (
        typeof clock !== 'object' ||
        clock === null ||
        typeof clock.now !== 'function' ||
        typeof clock.setTimeout !== 'function' ||
        typeof clock.clearTimeout !== 'function'
      ) {
        throw invalid(option, value, 'an object with now, setTimeout and clearTimeout');
      }
      return clock as Clock;
    },
  });
}
