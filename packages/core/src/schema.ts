import { isCanonicalDecimal, normalizeDecimal } from './decimal.js';
import { describeValue, TributaryError, ValidationError, type ValidationIssue } from './errors.js';
import { isWellFormedText, utf8ByteLength } from './utf8.js';

/**
 * The largest distance from the epoch, in ms either way, of a value a `timestamp` field accepts:
 * ECMAScript's Date range (±100,000,000 days).
 */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** The primitive kinds a field can have. */
export type PrimitiveKind =
  | 'string'
  | 'boolean'
  | 'int32'
  | 'int64'
  | 'double'
  | 'decimal'
  | 'timestamp'
  | 'date';
export type FieldKind = PrimitiveKind | 'list';

/** How a field may be absent: `required` (never null), `nullable` (key present, may be null), `optional` (key may be missing too). */
export type Presence = 'required' | 'nullable' | 'optional';

/** The plain description of a field that the mappings (Parquet, SQL, Glue, Spark) read. */
export interface FieldDef {
  readonly kind: FieldKind;
  readonly presence: Presence;
  readonly description?: string;
  /** decimal only */
  readonly precision?: number;
  /** decimal only */
  readonly scale?: number;
  /** string only: the most UTF-8 bytes a value may have (Redshift's VARCHAR(n) counts bytes). */
  readonly maxLength?: number;
  /** list only: the element's definition (a required primitive). */
  readonly element?: FieldDef;
}

/**
 * A field of a schema, built with `field.*`. `T` is the JavaScript type of a valid value,
 * `P` its presence. Builders are immutable: `.nullable()` returns a new field.
 *
 * @example
 * ```ts
 * const price = field.decimal(38, 18).nullable().describe('price in the convert currency');
 * ```
 */
export class Field<T, P extends Presence = 'required'> {
  declare readonly $type: T;
  declare readonly $presence: P;
  readonly def: FieldDef;

  constructor(def: FieldDef) {
    this.def = Object.freeze(def);
  }

  /** The key is present but the value may be `null`. */
  nullable(): Field<T, 'nullable'> {
    return new Field({ ...this.def, presence: 'nullable' });
  }

  /** The key may be missing or `null`; a parsed record holds `null` for it. */
  optional(): Field<T, 'optional'> {
    return new Field({ ...this.def, presence: 'optional' });
  }

  /** A description that the DDL, Glue and Spark mappings carry as a column comment. */
  describe(description: string): Field<T, P> {
    return new Field({ ...this.def, description });
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a field of any type and presence
export type AnyField = Field<any, Presence>;
export type PrimitiveField<T> = Field<T, 'required'>;
export type Fields = Record<string, AnyField>;

function schemaError(message: string): TributaryError {
  return new TributaryError(message, { code: 'SCHEMA_INVALID' });
}

function primitive<T>(kind: PrimitiveKind, extra: Partial<FieldDef> = {}): Field<T> {
  return new Field<T>({ kind, presence: 'required', ...extra });
}

/**
 * Field builders for {@link defineSchema}.
 *
 * | builder | JavaScript value | accepts (coercion) |
 * |---|---|---|
 * | `string({ maxLength? })` | `string` | strings only; `maxLength` counts UTF-8 bytes |
 * | `boolean()` | `boolean` | booleans only |
 * | `int32()` | `number` | integers in [-2³¹, 2³¹-1], numbers or bigints |
 * | `int64()` | `bigint` | bigints, safe-integer numbers, integer strings; out of range rejected |
 * | `double()` | `number` | finite numbers (NaN and ±Infinity rejected) |
 * | `decimal(p, s)` | `string` | decimal strings (exponent allowed), numbers, bigints; rounded half away from zero to `s` places; more than `p - s` integer digits rejected |
 * | `timestamp()` | `Date` (UTC, ms) | valid Dates, epoch milliseconds (fraction floored), ISO-8601 strings; no offset means UTC |
 * | `date()` | `string` `YYYY-MM-DD` | calendar-valid `YYYY-MM-DD` strings, Dates (their UTC day) |
 * | `list(element)` | `T[]` | arrays whose every element the element field accepts (no nulls) |
 *
 * @example
 * ```ts
 * const reading = defineSchema({ id: field.string(), value: field.double(), at: field.timestamp() });
 * ```
 */
export const field = {
  string: (options: { maxLength?: number } = {}): Field<string> => {
    if (options.maxLength !== undefined && !(Number.isInteger(options.maxLength) && options.maxLength > 0)) {
      throw schemaError(`string maxLength must be a positive integer (got ${options.maxLength})`);
    }
    return primitive<string>(
      'string',
      options.maxLength === undefined ? {} : { maxLength: options.maxLength },
    );
  },
  boolean: (): Field<boolean> => primitive('boolean'),
  int32: (): Field<number> => primitive('int32'),
  int64: (): Field<bigint> => primitive('int64'),
  double: (): Field<number> => primitive('double'),
  decimal: (precision: number, scale: number): Field<string> => {
    if (!Number.isInteger(precision) || precision < 1 || precision > 38) {
      throw schemaError(`decimal precision must be an integer from 1 to 38 (got ${precision})`);
    }
    if (!Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw schemaError(
        `decimal scale must be an integer from 0 to the precision ${precision} (got ${scale})`,
      );
    }
    return primitive('decimal', { precision, scale });
  },
  timestamp: (): Field<Date> => primitive('timestamp'),
  date: (): Field<string> => primitive('date'),
  list: <T>(element: PrimitiveField<T>): Field<T[]> => {
    if (element.def.kind === 'list') throw schemaError('list elements must be primitive fields, not lists');
    if (element.def.presence !== 'required') throw schemaError('list elements must be required (no nulls)');
    return new Field<T[]>({ kind: 'list', presence: 'required', element: element.def });
  },
} as const;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ValueOf<F> = F extends Field<infer T, infer P> ? (P extends 'required' ? T : T | null) : never;
type OptionalKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends Field<unknown, 'optional'> ? K : never;
}[keyof F];
type RecordOf<F extends Fields> = Simplify<
  { [K in Exclude<keyof F, OptionalKeys<F>>]: ValueOf<F[K]> } & { [K in OptionalKeys<F>]?: ValueOf<F[K]> }
>;

/** The record type a schema describes: `type Reading = Infer<typeof readingSchema>`. */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export type Infer<S extends Schema<any>> = S['$record'];

export type ValidationResult<R> = { ok: true; value: R } | { ok: false; issues: ValidationIssue[] };

export interface SchemaOptions<F extends Fields> {
  /** Columns that identify a record; they must be required fields. */
  primaryKey?: readonly (keyof F & string)[];
  description?: string;
  /** What to do with keys the schema does not name: `reject` (default: an issue, nothing is lost silently) or `strip`. */
  unknownFields?: 'reject' | 'strip';
}

/** One column of a schema, in declaration order. */
export interface Column {
  readonly name: string;
  readonly def: FieldDef;
}

/**
 * The one description of a table: record type, validation and every mapping.
 */
export interface Schema<F extends Fields> {
  readonly fields: Readonly<F>;
  readonly columns: readonly Column[];
  readonly primaryKey: readonly (keyof F & string)[];
  readonly description: string | undefined;
  readonly unknownFields: 'reject' | 'strip';
  /** Phantom: the record type. Use `Infer<typeof schema>`. */
  readonly $record: RecordOf<F>;
  /** Check and coerce a value; returns every issue with its field path. Never throws for bad input. */
  validate(input: unknown): ValidationResult<RecordOf<F>>;
  /** Like `validate`, but throws a `ValidationError` holding every issue. */
  parse(input: unknown): RecordOf<F>;
  /**
   * Whether `input` is already a record in the form `validate` returns: every column an own
   * enumerable key (nothing else), each value as `validate` would give it back (a valid `Date`
   * for a timestamp, canonical decimal text, a `bigint` int64, well-formed text...). It allocates
   * nothing: writers call it first and skip `validate` for such records. `false` says only "not in
   * that form": `validate` may still accept the input and coerce it.
   */
  isRecord(input: unknown): input is RecordOf<F>;
}

const INVALID: unique symbol = Symbol('invalid');
type Check = (value: unknown, path: string, issues: ValidationIssue[]) => unknown;

function issue(
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

/** Parse ISO-8601 text as UTC milliseconds; text without a zone is UTC, never local time. */
export function parseIsoTimestamp(text: string): number | undefined {
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
type Conforms = (value: unknown) => boolean;

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
function compileFieldConforms(def: FieldDef): Conforms {
  const inner = compileConforms(def);
  if (def.presence === 'required') return (v) => v !== null && v !== undefined && inner(v);
  return (v) => v === null || (v !== undefined && inner(v));
}

function compileField(def: FieldDef): Check {
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

// Property names with a meaning on every JavaScript object: a record keyed by them would lose the
// value (`__proto__` sets the prototype) or read an inherited one.
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Declare a table once. The result validates records (every issue with its field path) and is
 * what every mapping reads: `toParquetSchema`, `toPostgresDdl`, `toRedshiftDdl`, `toGlueColumns`,
 * `toAthenaColumns`, `toSparkSchema`.
 *
 * @example
 * ```ts
 * const reading = defineSchema(
 *   { id: field.string(), value: field.double(), at: field.timestamp(), note: field.string().optional() },
 *   { primaryKey: ['id'] },
 * );
 * type Reading = Infer<typeof reading>;
 * const result = reading.validate({ id: 'a', value: 1.5, at: '2026-01-01T00:00:00Z' });
 * if (!result.ok) console.log(result.issues);
 * ```
 */
export function defineSchema<F extends Fields>(fields: F, options: SchemaOptions<F> = {}): Schema<F> {
  const names = Object.keys(fields);
  if (names.length === 0) throw schemaError('a schema needs at least one field');
  for (const name of names) {
    if (name.trim() === '') throw schemaError('field names must not be empty');
    if (RESERVED_NAMES.has(name)) {
      throw schemaError(
        `field name "${name}" is reserved: as a JavaScript property it would reach or replace the record's prototype`,
      );
    }
    if (!(fields[name] instanceof Field)) throw schemaError(`field "${name}" must be built with field.*()`);
  }
  const primaryKey = [...(options.primaryKey ?? [])];
  for (const key of primaryKey) {
    const f = fields[key];
    if (!f) throw schemaError(`primary key "${key}" is not a field`);
    if (f.def.presence !== 'required') throw schemaError(`primary key "${key}" must be a required field`);
  }
  const unknownFields = options.unknownFields ?? 'reject';
  const columns: Column[] = names.map((name) => Object.freeze({ name, def: (fields[name] as AnyField).def }));
  const checks = columns.map((c) => compileField(c.def));
  const known = new Set(names);

  const validate = (input: unknown): ValidationResult<RecordOf<F>> => {
    const issues: ValidationIssue[] = [];
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      issue(issues, '', 'type', 'object', input);
      return { ok: false, issues };
    }
    const source = input as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) {
      const name = (columns[i] as Column).name;
      // Own properties only: an inherited value is not the record's.
      out[name] = (checks[i] as Check)(Object.hasOwn(source, name) ? source[name] : undefined, name, issues);
    }
    if (unknownFields === 'reject') {
      for (const key in source) {
        if (!known.has(key) && Object.hasOwn(source, key)) {
          issue(issues, key, 'unknown_field', 'no such field', source[key], 'is not a field of the schema');
        }
      }
    }
    return issues.length === 0 ? { ok: true, value: out as RecordOf<F> } : { ok: false, issues };
  };

  const conforms = columns.map((c) => compileFieldConforms(c.def));
  const slots = new Map(names.map((name, i) => [name, i]));
  const isRecord = (input: unknown): input is RecordOf<F> => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
    // Every enumerable key is a column (so own, distinct and not inherited), and as many as columns.
    let count = 0;
    for (const key in input) {
      const slot = slots.get(key);
      if (slot === undefined || !Object.hasOwn(input, key)) return false;
      if (!(conforms[slot] as Conforms)((input as Record<string, unknown>)[key])) return false;
      count++;
    }
    return count === columns.length;
  };

  return Object.freeze({
    fields: Object.freeze({ ...fields }),
    columns: Object.freeze(columns),
    primaryKey: Object.freeze(primaryKey),
    description: options.description,
    unknownFields,
    $record: undefined as unknown as RecordOf<F>,
    validate,
    isRecord,
    parse(input: unknown): RecordOf<F> {
      const result = validate(input);
      if (!result.ok) throw new ValidationError(result.issues);
      return result.value;
    },
  });
}
