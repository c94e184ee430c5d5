import { TributaryError } from './errors.js';
import type { FieldDef, Fields, Schema } from './schema.js';

/**
 * Quote an SQL identifier for PostgreSQL and Redshift: always double-quoted, embedded quotes
 * doubled, so names with quotes, semicolons or spaces stay one identifier.
 *
 * @example
 * ```ts
 * quoteIdentifier('weird"name'); // "weird""name"
 * ```
 */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new TributaryError('SQL identifiers must be non-empty and hold no NUL character', {
      code: 'SQL_IDENTIFIER_INVALID',
      context: { identifier: name.replace(/\0/g, '\\0') },
    });
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote a string literal (standard_conforming_strings on: quotes doubled, backslashes literal). */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) {
    throw new TributaryError('SQL literals must hold no NUL character', { code: 'SQL_LITERAL_INVALID' });
  }
  return `'${text.replace(/'/g, "''")}'`;
}

/** A table name, optionally schema-qualified: `{ schema: 'crypto', name: 'quote' }`. */
export interface TableName {
  schema?: string;
  name: string;
}

/** The quoted, qualified name of a table. */
export function qualifiedName(table: TableName): string {
  return table.schema
    ? `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`
    : quoteIdentifier(table.name);
}

/** The PostgreSQL type of a field, e.g. `numeric(38,18)`, `timestamptz`, `text[]`. */
export function postgresType(def: FieldDef): string {
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
      return `${postgresType(def.element as FieldDef)}[]`;
  }
}

/** The Redshift type of a field; strings without `maxLength` become VARCHAR(65535), lists SUPER. */
export function redshiftType(def: FieldDef): string {
  switch (def.kind) {
    case 'string':
      return `VARCHAR(${def.maxLength ?? 65535})`;
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
}

function columnLines<F extends Fields>(schema: Schema<F>, typeOf: (def: FieldDef) => string): string[] {
  const lines = schema.columns.map(
    (c) => `  ${quoteIdentifier(c.name)} ${typeOf(c.def)}${c.def.presence === 'required' ? ' NOT NULL' : ''}`,
  );
  if (schema.primaryKey.length > 0) {
    lines.push(`  PRIMARY KEY (${schema.primaryKey.map(quoteIdentifier).join(', ')})`);
  }
  return lines;
}

/**
 * PostgreSQL DDL for a schema: the table with NOT NULL and PRIMARY KEY, and COMMENT statements
 * for the schema's and the fields' descriptions. Statements are separated by `;\n`.
 *
 * @example
 * ```ts
 * await pool.query(toPostgresDdl(quoteSchema, { table: { schema: 'crypto', name: 'quote' } }));
 * ```
 */
export function toPostgresDdl<F extends Fields>(schema: Schema<F>, options: PostgresDdlOptions): string {
  const name = qualifiedName(options.table);
  const statements: string[] = [];
  if (options.table.schema && options.createSchema !== false) {
    statements.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(options.table.schema)}`);
  }
  const ifNotExists = options.ifNotExists === false ? '' : 'IF NOT EXISTS ';
  statements.push(
    `CREATE TABLE ${ifNotExists}${name} (\n${columnLines(schema, postgresType).join(',\n')}\n)`,
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

export interface RedshiftDdlOptions<F extends Fields = Fields> {
  table: TableName;
  ifNotExists?: boolean;
  /** AUTO (Redshift's default), EVEN, ALL, or KEY (implied by `distKey`). */
  distStyle?: 'AUTO' | 'EVEN' | 'ALL' | 'KEY';
  distKey?: keyof F & string;
  sortKey?: readonly (keyof F & string)[];
  sortStyle?: 'COMPOUND' | 'INTERLEAVED';
}

/**
 * Redshift DDL for a schema, with DISTSTYLE / DISTKEY / SORTKEY. Primary keys are declared
 * (Redshift uses them for planning, it does not enforce them).
 *
 * @example
 * ```ts
 * toRedshiftDdl(hourlySchema, {
 *   table: { schema: 'curated', name: 'sensor_hourly' },
 *   distKey: 'type',
 *   sortKey: ['hour'],
 * });
 * ```
 */
export function toRedshiftDdl<F extends Fields>(schema: Schema<F>, options: RedshiftDdlOptions<F>): string {
  const names = new Set(schema.columns.map((c) => c.name));
  const invalid = (message: string) => new TributaryError(message, { code: 'DDL_OPTION_INVALID' });
  const distStyle = options.distStyle ?? (options.distKey ? 'KEY' : undefined);
  if (options.distKey !== undefined) {
    if (!names.has(options.distKey)) throw invalid(`distKey "${options.distKey}" is not a field`);
    if (distStyle !== 'KEY') throw invalid(`distKey needs distStyle KEY (got ${distStyle})`);
  } else if (distStyle === 'KEY') throw invalid('distStyle KEY needs a distKey');
  for (const key of options.sortKey ?? []) {
    if (!names.has(key)) throw invalid(`sortKey "${key}" is not a field`);
  }
  if (options.sortStyle && !options.sortKey?.length) throw invalid('sortStyle needs a sortKey');

  const ifNotExists = options.ifNotExists === false ? '' : 'IF NOT EXISTS ';
  let ddl = `CREATE TABLE ${ifNotExists}${qualifiedName(options.table)} (\n${columnLines(schema, redshiftType).join(',\n')}\n)`;
  if (distStyle) ddl += `\nDISTSTYLE ${distStyle}`;
  if (options.distKey) ddl += `\nDISTKEY (${quoteIdentifier(options.distKey)})`;
  if (options.sortKey?.length) {
    ddl += `\n${options.sortStyle ?? 'COMPOUND'} SORTKEY (${options.sortKey.map(quoteIdentifier).join(', ')})`;
  }
  return `${ddl};`;
}
