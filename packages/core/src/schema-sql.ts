import { describeValue, type ErrorContext, TributaryError } from './errors.js';
import type { FieldDef, Fields, Schema } from './schema.js';
import { isWellFormedText, utf8ByteLength } from './utf8.js';

/**
 * The most UTF-8 bytes an identifier may hold in each dialect. PostgreSQL cuts longer names to
 * 63 bytes without an error (two long names become one), so they are refused instead.
 */
const IDENTIFIER_MAX_BYTES = { postgres: 63, redshift: 127, duckdb: Number.POSITIVE_INFINITY } as const;

function identifierError(message: string, name: unknown): TributaryError {
  const shown = typeof name === 'string' ? describeValue(name.replace(/\0/g, '\\0')) : describeValue(name);
  return new TributaryError(`SQL identifier ${shown}: ${message}`, {
    code: 'SQL_IDENTIFIER_INVALID',
    context: { identifier: shown },
  });
}

/** An SQL dialect whose identifier rules {@link quoteIdentifierFor} knows. */
export type SqlDialect = 'postgres' | 'redshift' | 'duckdb';

function quoteIn(name: string, dialect: SqlDialect): string {
  if (typeof name !== 'string') throw identifierError('must be a string', name);
  if (name.length === 0) throw identifierError('must not be empty', name);
  if (name.includes('\0')) throw identifierError('must hold no NUL character', name);
  if (!isWellFormedText(name)) throw identifierError('holds a lone UTF-16 surrogate', name);
  const max = IDENTIFIER_MAX_BYTES[dialect];
  if (name.length > max / 3 && utf8ByteLength(name) > max) {
    throw identifierError(`is longer than the ${max} UTF-8 bytes ${dialect} keeps`, name);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quote an SQL identifier for PostgreSQL (and Redshift): always double-quoted, embedded quotes
 * doubled, so names with quotes, semicolons or spaces stay one identifier. Refuses
 * (`SQL_IDENTIFIER_INVALID`) what PostgreSQL would not keep as given: an empty name, NUL, a lone
 * UTF-16 surrogate (sent as U+FFFD), or more than 63 UTF-8 bytes (PostgreSQL cuts longer names
 * without an error). {@link quoteIdentifierFor} gives the rules of another dialect.
 *
 * @example
 * ```ts
 * quoteIdentifier('weird"name'); // "weird""name"
 * ```
 */
export function quoteIdentifier(name: string): string {
  return quoteIn(name, 'postgres');
}

/**
 * {@link quoteIdentifier} with a dialect's own length limit: 63 UTF-8 bytes for PostgreSQL,
 * 127 for Redshift, none for DuckDB. Returns a one-argument function, so it can be given to `map`.
 *
 * @example
 * ```ts
 * const quote = quoteIdentifierFor('duckdb');
 * readingSchema.columns.map((column) => quote(column.name)).join(', '); // '"id", "at", "value"'
 * ```
 */
export function quoteIdentifierFor(dialect: SqlDialect): (name: string) => string {
  if (!Object.hasOwn(IDENTIFIER_MAX_BYTES, dialect)) {
    throw new TributaryError(`Unknown SQL dialect ${describeValue(dialect)}`, {
      code: 'SQL_DIALECT_INVALID',
    });
  }
  return (name) => quoteIn(name, dialect);
}

/** Quote a string literal (standard_conforming_strings on: quotes doubled, backslashes literal). */
export function quoteLiteral(text: string): string {
  const refuse = (why: string) =>
    new TributaryError(`SQL literals must ${why}`, { code: 'SQL_LITERAL_INVALID' });
  if (typeof text !== 'string') throw refuse(`be strings (got ${describeValue(text)})`);
  if (text.includes('\0')) throw refuse('hold no NUL character');
  if (!isWellFormedText(text)) throw refuse('hold no lone UTF-16 surrogate');
  return `'${text.replace(/'/g, "''")}'`;
}

/** A table name, optionally schema-qualified: `{ schema: 'crypto', name: 'quote' }`. */
export interface TableName {
  schema?: string;
  name: string;
}

/** The quoted, qualified name of a table (identifier rules of {@link quoteIdentifier}). */
export function qualifiedName(table: TableName): string {
  return qualifiedIn(table, quoteIdentifier);
}

function qualifiedIn(table: TableName, quote: (name: string) => string): string {
  return table.schema === undefined ? quote(table.name) : `${quote(table.schema)}.${quote(table.name)}`;
}

function fieldError(message: string, column: string | undefined): TributaryError {
  return new TributaryError(column === undefined ? message : `column "${column}": ${message}`, {
    code: 'SCHEMA_INVALID',
    context: column === undefined ? {} : { column },
  });
}

const KINDS: ReadonlySet<string> = new Set([
  'string',
  'boolean',
  'int32',
  'int64',
  'double',
  'decimal',
  'timestamp',
  'date',
  'list',
]);

const isInteger = (value: unknown, min: number, max: number): value is number =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

/**
 * Checks what a type's SQL is made of: a definition built by hand or read from JSON can carry
 * any value where `field.*` would have checked a number.
 */
function checkFieldDef(def: FieldDef, column: string | undefined, element = false): void {
  if (typeof def !== 'object' || def === null || !KINDS.has(def.kind)) {
    throw fieldError(`unknown field kind ${describeValue(def?.kind)}`, column);
  }
  if (def.kind === 'decimal') {
    if (!isInteger(def.precision, 1, 38)) {
      throw fieldError(
        `decimal precision must be an integer from 1 to 38 (got ${describeValue(def.precision)})`,
        column,
      );
    }
    if (!isInteger(def.scale, 0, def.precision)) {
      throw fieldError(
        `decimal scale must be an integer from 0 to the precision (got ${describeValue(def.scale)})`,
        column,
      );
    }
  }
  if (def.kind === 'string' && def.maxLength !== undefined && !isInteger(def.maxLength, 1, 2 ** 31 - 1)) {
    throw fieldError(
      `string maxLength must be a positive integer (got ${describeValue(def.maxLength)})`,
      column,
    );
  }
  if (def.kind === 'list') {
    if (element) throw fieldError('list elements must be primitive fields, not lists', column);
    checkFieldDef(def.element as FieldDef, column, true);
  }
}

/** The PostgreSQL type of a field, e.g. `numeric(38,18)`, `timestamptz`, `text[]`. */
export function postgresType(def: FieldDef): string {
  checkFieldDef(def, undefined);
  return postgresTypeOf(def);
}

function postgresTypeOf(def: FieldDef): string {
  switch (def.kind) {
    case 'string':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'int32':
      return 'integer';
    case 'int64':
      return 'bigint';
    case 'double':
      return 'double precision';
    case 'decimal':
      return `numeric(${def.precision},${def.scale})`;
    case 'timestamp':
      return 'timestamptz(3)';
    case 'date':
      return 'date';
    case 'list':
      return `${postgresTypeOf(def.element as FieldDef)}[]`;
  }
}

/** Redshift's widest VARCHAR, in bytes. */
const REDSHIFT_VARCHAR_MAX = 65535;

/** The Redshift type of a field; strings without `maxLength` become VARCHAR(65535), lists SUPER. */
export function redshiftType(def: FieldDef): string {
  checkFieldDef(def, undefined);
  return redshiftTypeOf(def, undefined);
}

function redshiftTypeOf(def: FieldDef, column: string | undefined): string {
  switch (def.kind) {
    case 'string':
      if (def.maxLength !== undefined && def.maxLength > REDSHIFT_VARCHAR_MAX) {
        throw fieldError(
          `string maxLength ${def.maxLength} is more than Redshift's VARCHAR holds (${REDSHIFT_VARCHAR_MAX} bytes)`,
          column,
        );
      }
      return `VARCHAR(${def.maxLength ?? REDSHIFT_VARCHAR_MAX})`;
    case 'boolean':
      return 'BOOLEAN';
    case 'int32':
      return 'INTEGER';
    case 'int64':
      return 'BIGINT';
    case 'double':
      return 'DOUBLE PRECISION';
    case 'decimal':
      return `DECIMAL(${def.precision},${def.scale})`;
    case 'timestamp':
      return 'TIMESTAMPTZ';
    case 'date':
      return 'DATE';
    case 'list':
      return 'SUPER';
  }
}

export interface PostgresDdlOptions {
  table: TableName;
  /** `CREATE TABLE IF NOT EXISTS` (default true). */
  ifNotExists?: boolean;
  /** Also `CREATE SCHEMA IF NOT EXISTS` for a qualified table (default true). */
  createSchema?: boolean;
  /**
   * `WITH (fillfactor = n)`, 10 to 100: the share of each page that inserts fill, leaving the rest
   * for updates of its rows (HOT updates, no index entry) in a table whose rows are updated often.
   * Default: PostgreSQL's (100).
   */
  fillfactor?: number;
}

function optionError(function_: string, option: string, message: string, context: ErrorContext = {}) {
  return new TributaryError(`${function_}: ${option} ${message}`, {
    code: 'DDL_OPTIONS_INVALID',
    context: { ...context, option },
  });
}

/** The options every DDL function shares, checked for plain-JS callers: values reach SQL text. */
function checkCommonOptions(
  function_: string,
  options: { table: TableName; ifNotExists?: unknown; createSchema?: unknown },
): void {
  if (typeof options !== 'object' || options === null) {
    throw optionError(function_, 'options', `must be an object (got ${describeValue(options)})`);
  }
  const table = options.table as unknown;
  if (typeof table !== 'object' || table === null) {
    throw optionError(function_, 'table', `must be { schema?, name } (got ${describeValue(table)})`);
  }
  const { schema, name } = table as Partial<Record<'schema' | 'name', unknown>>;
  if (typeof name !== 'string' || name === '') {
    throw optionError(function_, 'table.name', `must be a non-empty string (got ${describeValue(name)})`);
  }
  if (schema !== undefined && (typeof schema !== 'string' || schema === '')) {
    throw optionError(
      function_,
      'table.schema',
      `must be a non-empty string when given (got ${describeValue(schema)})`,
    );
  }
  for (const flag of ['ifNotExists', 'createSchema'] as const) {
    const value = options[flag];
    if (value !== undefined && typeof value !== 'boolean') {
      throw optionError(function_, flag, `must be a boolean (got ${describeValue(value)})`);
    }
  }
}

const quoteRedshift = quoteIdentifierFor('redshift');

function columnLines<F extends Fields>(schema: Schema<F>, dialect: 'postgres' | 'redshift'): string[] {
  const quote = dialect === 'postgres' ? quoteIdentifier : quoteRedshift;
  const lines = schema.columns.map((c) => {
    checkFieldDef(c.def, c.name);
    const type = dialect === 'postgres' ? postgresTypeOf(c.def) : redshiftTypeOf(c.def, c.name);
    return `  ${quote(c.name)} ${type}${c.def.presence === 'required' ? ' NOT NULL' : ''}`;
  });
  if (schema.primaryKey.length > 0) lines.push(`  PRIMARY KEY (${schema.primaryKey.map(quote).join(', ')})`);
  return lines;
}

/**
 * PostgreSQL DDL for a schema: the table with NOT NULL and PRIMARY KEY, and COMMENT statements
 * for the schema's and the fields' descriptions. Statements are separated by `;\n`. Options and
 * names that cannot be written as given throw a `TributaryError` (`DDL_OPTIONS_INVALID`,
 * `SQL_IDENTIFIER_INVALID`, `SCHEMA_INVALID`) naming what is wrong.
 *
 * @example
 * ```ts
 * await pool.query(toPostgresDdl(readingSchema, { table: { schema: 'analytics', name: 'reading' } }));
 * ```
 */
export function toPostgresDdl<F extends Fields>(schema: Schema<F>, options: PostgresDdlOptions): string {
  checkCommonOptions('toPostgresDdl', options);
  const { fillfactor } = options;
  if (
    fillfactor !== undefined &&
    !(typeof fillfactor === 'number' && Number.isInteger(fillfactor) && fillfactor >= 10 && fillfactor <= 100)
  ) {
    throw optionError(
      'toPostgresDdl',
      'fillfactor',
      `must be an integer from 10 to 100 (got ${describeValue(fillfactor)})`,
    );
  }
  const name = qualifiedName(options.table);
  const statements: string[] = [];
  if (options.table.schema !== undefined && options.createSchema !== false) {
    statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(options.table.schema)}`);
  }
  const ifNotExists = options.ifNotExists === false ? '' : 'IF NOT EXISTS ';
  const storage = fillfactor === undefined ? '' : ` WITH (fillfactor = ${fillfactor})`;
  statements.push(
    `CREATE TABLE ${ifNotExists}${name} (\n${columnLines(schema, 'postgres').join(',\n')}\n)${storage}`,
  );
  if (schema.description) statements.push(`COMMENT ON TABLE ${name} IS ${quoteLiteral(schema.description)}`);
  for (const c of schema.columns) {
    if (c.def.description) {
      statements.push(
        `COMMENT ON COLUMN ${name}.${quoteIdentifier(c.name)} IS ${quoteLiteral(c.def.description)}`,
      );
    }
  }
  return `${statements.join(';\n')};`;
}

const DIST_STYLES: ReadonlySet<string> = new Set(['AUTO', 'EVEN', 'ALL', 'KEY']);
const SORT_STYLES: ReadonlySet<string> = new Set(['AUTO', 'COMPOUND', 'INTERLEAVED']);
/** Redshift's limits on sort key columns. */
const MAX_SORT_COLUMNS = { COMPOUND: 400, INTERLEAVED: 8 } as const;

export interface RedshiftDdlOptions<F extends Fields = Fields> {
  table: TableName;
  ifNotExists?: boolean;
  /** AUTO (Redshift's default), EVEN, ALL, or KEY (implied by `distKey`). */
  distStyle?: 'AUTO' | 'EVEN' | 'ALL' | 'KEY';
  /** The distribution column (not a list: Redshift cannot distribute on SUPER). */
  distKey?: keyof F & string;
  /** Sort columns, distinct, not lists: up to 400 (COMPOUND) or 8 (INTERLEAVED). */
  sortKey?: readonly (keyof F & string)[];
  /** COMPOUND (the default with a `sortKey`), INTERLEAVED, or AUTO (`SORTKEY AUTO`, no columns). */
  sortStyle?: 'AUTO' | 'COMPOUND' | 'INTERLEAVED';
}

/**
 * Redshift DDL for a schema, with DISTSTYLE / DISTKEY / SORTKEY. Primary keys are declared
 * (Redshift uses them for planning, it does not enforce them). Every option is checked before
 * any SQL is made: a style that is not one of Redshift's words, a key that is not a column, or a
 * name that does not fit throws a `TributaryError` (`DDL_OPTIONS_INVALID` with
 * `context.option`, `SQL_IDENTIFIER_INVALID`, `SCHEMA_INVALID`).
 *
 * @example
 * ```ts
 * toRedshiftDdl(readingSchema, {
 *   table: { schema: 'analytics', name: 'reading' },
 *   distKey: 'id',
 *   sortKey: ['at'],
 * });
 * ```
 */
export function toRedshiftDdl<F extends Fields>(schema: Schema<F>, options: RedshiftDdlOptions<F>): string {
  const fn = 'toRedshiftDdl';
  checkCommonOptions(fn, options);
  const columns = new Map(schema.columns.map((c) => [c.name, c.def]));
  const keyColumn = (option: string, key: unknown): string => {
    if (typeof key !== 'string' || !columns.has(key)) {
      const shown = typeof key === 'string' ? JSON.stringify(key) : describeValue(key);
      throw optionError(fn, option, `${shown} is not a field`);
    }
    if (columns.get(key)?.kind === 'list') {
      throw optionError(fn, option, `"${key}" is a list (SUPER), which Redshift cannot use as a key`);
    }
    return key;
  };

  const { distKey, sortKey } = options as { distKey?: unknown; sortKey?: unknown };
  if (options.distStyle !== undefined && !DIST_STYLES.has(options.distStyle)) {
    throw optionError(
      fn,
      'distStyle',
      `must be AUTO, EVEN, ALL or KEY (got ${describeValue(options.distStyle)})`,
    );
  }
  const distStyle = options.distStyle ?? (distKey !== undefined ? 'KEY' : undefined);
  if (distKey !== undefined) {
    keyColumn('distKey', distKey);
    if (distStyle !== 'KEY') throw optionError(fn, 'distKey', `needs distStyle KEY (got ${distStyle})`);
  } else if (distStyle === 'KEY') throw optionError(fn, 'distStyle', 'KEY needs a distKey');

  if (options.sortStyle !== undefined && !SORT_STYLES.has(options.sortStyle)) {
    throw optionError(
      fn,
      'sortStyle',
      `must be AUTO, COMPOUND or INTERLEAVED (got ${describeValue(options.sortStyle)})`,
    );
  }
  if (sortKey !== undefined && !Array.isArray(sortKey)) {
    throw optionError(fn, 'sortKey', `must be an array of field names (got ${describeValue(sortKey)})`);
  }
  const sortColumns = ((sortKey ?? []) as unknown[]).map((key) => keyColumn('sortKey', key));
  if (new Set(sortColumns).size !== sortColumns.length)
    throw optionError(fn, 'sortKey', 'must not repeat a field');
  const sortStyle = options.sortStyle ?? (sortColumns.length > 0 ? 'COMPOUND' : undefined);
  if (sortStyle === 'AUTO' && sortColumns.length > 0) {
    throw optionError(fn, 'sortKey', 'must be empty with sortStyle AUTO (Redshift picks the sort key)');
  }
  if ((sortStyle === 'COMPOUND' || sortStyle === 'INTERLEAVED') && sortColumns.length === 0) {
    throw optionError(fn, 'sortStyle', `needs a sortKey (got ${sortStyle} and none)`);
  }
  if (
    (sortStyle === 'COMPOUND' || sortStyle === 'INTERLEAVED') &&
    sortColumns.length > MAX_SORT_COLUMNS[sortStyle]
  ) {
    throw optionError(fn, 'sortKey', `${sortStyle} takes at most ${MAX_SORT_COLUMNS[sortStyle]} columns`);
  }

  const ifNotExists = options.ifNotExists === false ? '' : 'IF NOT EXISTS ';
  let ddl = `CREATE TABLE ${ifNotExists}${qualifiedIn(options.table, quoteRedshift)} (\n${columnLines(schema, 'redshift').join(',\n')}\n)`;
  if (distStyle) ddl += `\nDISTSTYLE ${distStyle}`;
  if (distKey !== undefined) ddl += `\nDISTKEY (${quoteRedshift(distKey as string)})`;
  if (sortStyle === 'AUTO') ddl += '\nSORTKEY AUTO';
  else if (sortStyle) {
    ddl += `\n${sortStyle} SORTKEY (${sortColumns.map(quoteRedshift).join(', ')})`;
  }
  return `${ddl};`;
}
