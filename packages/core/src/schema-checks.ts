// The checks a schema compiles for its fields, once: `validate`'s (check and coerce a value,
// recording every issue with its path) and `isRecord`'s (is a value already in validated form).
import { daysFromCivil } from './civil-date.js';
import { isCanonicalDecimal, normalizeDecimal } from './decimal.js';
import { describeValue, TributaryError, type ValidationIssue } from './errors.js';
import type { FieldDef } from './schema.js';
import { isWellFormedText, utf8ByteLength } from './utf8.js';

/**
 * The largest distance from the epoch, in ms either way, of a value a `timestamp` field accepts:
 * ECMAScript's Date range (±100,000,000 days).
 */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** The error of a schema declared wrong (`SCHEMA_INVALID`). */
export function schemaError(message: string): TributaryError {
  return new TributaryError(message, { code: 'SCHEMA_INVALID' });
}

const INVALID: unique symbol = Symbol('invalid');
/** A field's check: the value as `validate` returns it, or INVALID with its issues recorded. */
export type Check = (value: unknown, path: string, issues: ValidationIssue[]) => unknown;

/** Record an issue of the value at `path`; the check returns what this returns. */
export function issue(
  issues: ValidationIssue[],
  path: string,
  code: string,
  expected: string,
  value: unknown,
  message?: string,
) {
  issues.push({
    path,
    code,
    expected,
    actual: describeValue(value),
    message: message ?? `expected ${expected}, got ${describeValue(value)}`,
  });
  return INVALID;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_TEXT = /^[+-]?\d+$/;
// Date, time, optional fraction of any length, optional zone (Z, ±hh:mm, ±hhmm, ±hh).
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days of a month (1–12) of the proleptic Gregorian calendar, for any year (Date.UTC maps 0–99 to 1900–1999). */
function daysInMonth(year: number, month: number): number {
  if (month !== 2) return MONTH_DAYS[month - 1] as number;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** The value of `count` decimal digits of `text` from `at`, or -1 when one is not a digit. */
function digitsAt(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const DAY_MS = 86_400_000;

/**
 * UTC ms of text in `Date#toISOString`'s form for years 0000–9999 (`YYYY-MM-DDTHH:MM:SS.sssZ`),
 * read without a regex or a Date; NaN for any other text, including a day not on the calendar.
 */
function canonicalIsoMillis(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 ||
    text.charCodeAt(23) !== 90
  ) {
    return Number.NaN;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  const ms = digitsAt(text, 20, 3);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return Number.NaN;
  }
  return daysFromCivil(year, month, day) * DAY_MS + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** Parse ISO-8601 text as UTC milliseconds; text without a zone is UTC, never local time. */
export function parseIsoTimestamp(text: string): number | undefined {
  // The form every writer of ours (and toISOString) produces: read directly.
  const canonical = canonicalIsoMillis(text);
  if (!Number.isNaN(canonical)) return canonical;
  const m = ISO_TIMESTAMP.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = frac === '' ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  let offsetMinutes = 0;
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, millis);
  return utc.getTime() - offsetMinutes * 60_000;
}

function formatUtcDate(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

function compilePrimitive(def: FieldDef): Check {
  switch (def.kind) {
    case 'string': {
      const max = def.maxLength;
      return (v, path, issues) => {
        if (typeof v !== 'string') return issue(issues, path, 'type', 'string', v);
        // A lone surrogate has no UTF-8 form: every writer would store U+FFFD instead of it.
        if (!isWellFormedText(v)) {
          return issue(
            issues,
            path,
            'encoding',
            'well-formed Unicode text',
            v,
            'holds a lone UTF-16 surrogate, which has no UTF-8 form and cannot be stored unchanged',
          );
        }
        if (max !== undefined && v.length > max / 3 && utf8ByteLength(v) > max) {
          return issue(issues, path, 'range', `string of at most ${max} UTF-8 bytes`, v);
        }
        return v;
      };
    }
    case 'boolean':
      return (v, path, issues) => (typeof v === 'boolean' ? v : issue(issues, path, 'type', 'boolean', v));
    case 'int32':
      return (v, path, issues) => {
        const n = typeof v === 'bigint' ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isInteger(n)) return issue(issues, path, 'type', 'int32', v);
        if (n < INT32_MIN || n > INT32_MAX)
          return issue(issues, path, 'range', 'int32 in [-2^31, 2^31-1]', v);
        return n;
      };
    case 'int64':
      return (v, path, issues) => {
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number') {
          if (!Number.isInteger(v)) return issue(issues, path, 'type', 'int64', v);
          if (!Number.isSafeInteger(v)) {
            return issue(
              issues,
              path,
              'precision',
              'int64 (numbers beyond 2^53 lose digits: pass a bigint or string)',
              v,
            );
          }
          b = BigInt(v);
        } else if (typeof v === 'string' && INTEGER_TEXT.test(v)) b = BigInt(v);
        else return issue(issues, path, 'type', 'int64', v);
        if (b < INT64_MIN || b > INT64_MAX)
          return issue(issues, path, 'range', 'int64 in [-2^63, 2^63-1]', v);
        return b;
      };
    case 'double':
      return (v, path, issues) => {
        if (typeof v !== 'number') return issue(issues, path, 'type', 'double', v);
        if (!Number.isFinite(v)) return issue(issues, path, 'range', 'finite double', v);
        return v;
      };
    case 'decimal': {
      const precision = def.precision as number;
      const scale = def.scale as number;
      const expected = `decimal(${precision},${scale})`;
      return (v, path, issues) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') {
          return issue(issues, path, 'type', expected, v);
        }
        const out = normalizeDecimal(v, precision, scale);
        if (typeof out === 'string') return out;
        return out.problem === 'format'
          ? issue(issues, path, 'format', expected, v)
          : issue(
              issues,
              path,
              'precision',
              expected,
              v,
              `${describeValue(v)} has more than ${precision - scale} integer digits for ${expected}`,
            );
      };
    }
    case 'timestamp':
      return (v, path, issues) => {
        let time: number | undefined;
        if (v instanceof Date) time = v.getTime();
        else if (typeof v === 'number') time = Number.isFinite(v) ? Math.floor(v) : Number.NaN;
        else if (typeof v === 'string') time = parseIsoTimestamp(v);
        else return issue(issues, path, 'type', 'timestamp (Date, epoch ms or ISO-8601)', v);
        if (time === undefined) return issue(issues, path, 'format', 'ISO-8601 timestamp', v);
        if (Number.isNaN(time) || Math.abs(time) > MAX_TIMESTAMP_MS)
          return issue(issues, path, 'range', 'valid timestamp', v);
        return new Date(time);
      };
    case 'date':
      return (v, path, issues) => {
        if (v instanceof Date) {
          return Number.isNaN(v.getTime())
            ? issue(issues, path, 'range', 'valid date', v)
            : formatUtcDate(v.getTime());
        }
        if (typeof v !== 'string') return issue(issues, path, 'type', 'date (YYYY-MM-DD)', v);
        const m = ISO_DATE.exec(v);
        if (!m) return issue(issues, path, 'format', 'date (YYYY-MM-DD)', v);
        const month = Number(m[2]);
        const day = Number(m[3]);
        if (month < 1 || month > 12 || day < 1 || day > daysInMonth(Number(m[1]), month)) {
          return issue(issues, path, 'range', 'calendar date', v);
        }
        return v;
      };
    default:
      throw schemaError(`unknown field kind ${def.kind}`);
  }
}

/** Whether a non-null value is already what a primitive field's check returns for it (no coercion). */
export type Conforms = (value: unknown) => boolean;

function compileConforms(def: FieldDef): Conforms {
  switch (def.kind) {
    case 'string': {
      const max = def.maxLength;
      return (v) =>
        typeof v === 'string' &&
        isWellFormedText(v) &&
        (max === undefined || v.length <= max / 3 || utf8ByteLength(v) <= max);
    }
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'int32':
      return (v) => typeof v === 'number' && (v | 0) === v;
    case 'int64':
      return (v) => typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX;
    case 'double':
      return (v) => typeof v === 'number' && Number.isFinite(v);
    case 'decimal': {
      const precision = def.precision as number;
      const scale = def.scale as number;
      return (v) => typeof v === 'string' && isCanonicalDecimal(v, precision, scale);
    }
    case 'timestamp':
      return (v) => {
        if (!(v instanceof Date)) return false;
        const time = v.getTime();
        // NaN fails the comparison too.
        return Math.abs(time) <= MAX_TIMESTAMP_MS;
      };
    case 'date': {
      const check = compilePrimitive(def);
      const issues: ValidationIssue[] = [];
      // The check returns valid text unchanged: identity means "already a date".
      return (v) => {
        if (typeof v !== 'string') return false;
        const same = check(v, '', issues) === v;
        issues.length = 0;
        return same;
      };
    }
    case 'list': {
      const element = compileConforms(def.element as FieldDef);
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (item === null || item === undefined || !element(item)) return false;
        }
        return true;
      };
    }
    default:
      throw schemaError(`unknown field kind ${def.kind}`);
  }
}

/** Whether a record's own value (`undefined` when the key is missing) is in its validated form. */
export function compileFieldConforms(def: FieldDef): Conforms {
  const inner = compileConforms(def);
  if (def.presence === 'required') return (v) => v !== null && v !== undefined && inner(v);
  return (v) => v === null || (v !== undefined && inner(v));
}

export function compileField(def: FieldDef): Check {
  const inner: Check =
    def.kind === 'list'
      ? (() => {
          const element = compilePrimitive(def.element as FieldDef);
          return (v, path, issues) => {
            if (!Array.isArray(v)) return issue(issues, path, 'type', 'list', v);
            const out = new Array<unknown>(v.length);
            let ok = true;
            for (let i = 0; i < v.length; i++) {
              const item = v[i];
              const result =
                item === null || item === undefined
                  ? issue(issues, `${path}[${i}]`, 'required', 'a value (lists hold no nulls)', item)
                  : element(item, `${path}[${i}]`, issues);
              if (result === INVALID) ok = false;
              out[i] = result;
            }
            return ok ? out : INVALID;
          };
        })()
      : compilePrimitive(def);
  if (def.presence === 'required') {
    return (v, path, issues) =>
      v === null || v === undefined
        ? issue(issues, path, 'required', 'a value', v, 'required')
        : inner(v, path, issues);
  }
  if (def.presence === 'nullable') {
    return (v, path, issues) => {
      if (v === null) return null;
      if (v === undefined)
        return issue(issues, path, 'required', 'a value or null', v, 'required (may be null)');
      return inner(v, path, issues);
    };
  }
  return (v, path, issues) => (v === null || v === undefined ? null : inner(v, path, issues));
}
