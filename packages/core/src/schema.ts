import { ValidationError, type ValidationIssue } from './errors.js';
import {
  type Check,
  type Conforms,
  compileField,
  compileFieldConforms,
  issue,
  schemaError,
} from './schema-checks.js';

export { MAX_TIMESTAMP_MS, parseIsoTimestamp } from './schema-checks.js';

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
