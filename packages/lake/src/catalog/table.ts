import { type FieldDef, type FieldKind, hiveType, type PrimitiveKind } from '@tributary/core';
import { CatalogError } from './errors.js';

/** The file formats a cataloged table can hold. */
export type TableFormat = 'parquet' | 'ndjson' | 'csv';

/**
 * What a column holds, in core's vocabulary where it has a word for it, plus the Hive types
 * core does not model: `struct` (a nested JSON object), `map`, `binary`, and `other` for any
 * Hive type read back from Glue that the lake has no name for.
 */
export type ColumnKind = FieldKind | 'struct' | 'map' | 'binary' | 'other';

/** A list's element, described as the column itself is. */
export interface ColumnElement {
  kind: ColumnKind;
  precision?: number;
  scale?: number;
}

/** One column of a cataloged table. */
export interface TableColumn {
  name: string;
  /** The Hive type, as Glue stores it and Athena DDL spells it: `bigint`, `decimal(38,18)`, `array<double>`, `struct<a:string>`. */
  type: string;
  kind: ColumnKind;
  /** Whether some file lacks the column or holds a null in it. Glue does not record this; tables read back from Glue say `true`. */
  nullable: boolean;
  /** Decimals only. */
  precision?: number;
  /** Decimals only. */
  scale?: number;
  /** Lists only. */
  element?: ColumnElement;
  comment?: string;
}

/** A partition column. Partition values are text in paths, so the crawler types every key `string`, as Glue's crawler does. */
export interface PartitionKey {
  name: string;
  type: string;
}

/** One partition: its values (in partition key order) and the folder that holds its files. */
export interface TablePartition {
  values: string[];
  /** e.g. `s3://bucket/sensors/dt=2026-11-23/hour=10/` (always ends in `/`). */
  location: string;
}

/**
 * A column the crawler could not type: different types in different files or records, or a
 * Parquet type the catalog cannot express. The column is left out of `columns` until the data is
 * fixed or the table is defined by hand; the crawler never picks one of the types.
 */
export interface ColumnConflict {
  /** The column, or the path inside it for a nested field: `payload.reading`, `tags[]`. */
  column: string;
  /** The types seen, in the order they were first seen: `['string', 'bigint']`. */
  types: string[];
  /** The files where the column holds a value (sampled files only for NDJSON and CSV). */
  files: string[];
}

/**
 * A table of the lake as a catalog knows it: what `crawl` returns, what `LocalCatalog` stores
 * and what `GlueCatalog` registers.
 */
export interface TableDefinition {
  /** The table's name in the catalog: lowercase letters, digits and `_`. */
  name: string;
  database?: string;
  /** The folder of the table's data, ending in `/`: the storage's URL plus the table's prefix (`s3://bucket/sensors/`). */
  location: string;
  format: TableFormat;
  /** Text formats only: whether the files are gzipped (`mixed`: some are). Parquet compresses inside the file. */
  compression?: 'gzip' | 'none' | 'mixed';
  columns: TableColumn[];
  partitionKeys: PartitionKey[];
  partitions: TablePartition[];
  conflicts: ColumnConflict[];
  /** Data files found. */
  files: number;
  /** Their total size. */
  bytes: number;
  /** Total rows, when known without reading every file (Parquet footers, or the dataset's manifest). */
  rows?: number;
  /** ISO-8601 time of the crawl or the last catalog update. */
  updatedAt: string;
}

/** What `putTable` did. */
export interface PutTableResult {
  action: 'created' | 'updated' | 'unchanged';
  /** Columns added to an existing table. */
  added: string[];
  /** Columns of an existing table whose type widened. */
  widened: ColumnChange[];
  /** The definition now in the catalog, with the catalog's (lowercase) names. */
  table: TableDefinition;
  /** What became of the definition's partitions: registered, already there, or covered by the table's projection. */
  partitions: AddPartitionsResult;
}

/** What `addPartitions` (or `putTable`) did with a definition's partitions. */
export interface AddPartitionsResult {
  added: number;
  /** Partitions the catalog already had (not an error). */
  existing: number;
  /**
   * `true` when the table projects its partitions (Glue parameter `projection.enabled=true`, set
   * by Athena DDL or by hand): Athena computes them from the projection and ignores registered
   * ones, so none were registered and `added` and `existing` are 0. Always `false` locally.
   */
  projected: boolean;
}

/** Options of `getTable`. */
export interface GetTableOptions {
  /** Default: the catalog's database. */
  database?: string;
  /** List the table's partitions too. Glue lists them only when asked (one call per page); the local catalog always has them. */
  partitions?: boolean;
}

/**
 * What `LocalCatalog` (local mode) and `GlueCatalog` (aws mode) both do, so that a pipeline
 * registers its tables the same way in either mode.
 *
 * @example
 * ```ts
 * async function register(catalog: Catalog, table: TableDefinition) {
 *   await catalog.ensureDatabase();
 *   const { partitions } = await catalog.putTable(table); // the table and its partitions
 *   console.log(partitions.added, partitions.existing, partitions.projected);
 * }
 * ```
 */
export interface Catalog {
  /** The database of tables whose definition names none. */
  readonly database: string;
  /** Create the catalog's database unless it exists. */
  ensureDatabase(): Promise<'created' | 'existed'>;
  getTable(name: string, options?: GetTableOptions): Promise<TableDefinition | undefined>;
  /**
   * Create the table or evolve it (added columns, widened types), then register the definition's
   * partitions (those already there count as `existing`), unless the table projects them. Column
   * and partition key names are stored lowercased. An incompatible change throws
   * `SchemaChangeError`; names that collide once lowercased and partitions that do not match the
   * keys throw `CatalogError` (`CATALOG_INVALID`) before anything is written; partitions the
   * catalog refuses throw `PartialBatchFailureError` naming them. Partitions are never dropped
   * silently.
   */
  putTable(definition: TableDefinition): Promise<PutTableResult>;
  addPartitions(
    definition: Pick<TableDefinition, 'name' | 'database' | 'partitions'>,
  ): Promise<AddPartitionsResult>;
  listPartitions(name: string, database?: string): Promise<TablePartition[]>;
  listTables(database?: string): Promise<string[]>;
  /** Remove the table from the catalog (never its data); `false` when there was none. */
  deleteTable(name: string, database?: string): Promise<boolean>;
}

/** One column whose type changed between two definitions of a table. */
export interface ColumnChange {
  column: string;
  from: string;
  to: string;
}

/** A parsed Hive type. */
export type HiveTypeNode =
  | { name: string; params?: number[] }
  | { name: 'array'; element: HiveTypeNode }
  | { name: 'map'; key: HiveTypeNode; value: HiveTypeNode }
  | { name: 'struct'; fields: { name: string; type: HiveTypeNode }[] };

const SIMPLE_ALIASES: Record<string, string> = { integer: 'int' };

/**
 * Parse a Hive type (`decimal(10, 2)`, `array<struct<a:int,b:string>>`, `MAP<string,int>`) into
 * a tree with lowercase, alias-free names. Throws `CatalogError` (`CATALOG_INVALID`) on text
 * that is not a Hive type.
 */
export function parseHiveType(text: string): HiveTypeNode {
  let at = 0;
  const fail = (why: string): never => {
    throw new CatalogError(`Not a Hive type: ${JSON.stringify(text)} (${why} at ${at})`, {
      code: 'CATALOG_INVALID',
    });
  };
  const space = () => {
    while (at < text.length && /\s/.test(text[at] as string)) at++;
  };
  const word = (): string => {
    space();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (!m) return fail('expected a name');
    at += m[0].length;
    return m[0];
  };
  const fieldName = (): string => {
    space();
    if (text[at] === '`') {
      let name = '';
      for (at++; ; at++) {
        if (at >= text.length) fail('unterminated `');
        if (text[at] === '`') {
          if (text[at + 1] !== '`') break;
          at++;
        }
        name += text[at];
      }
      at++;
      return name;
    }
    const m = /^[^:\s,<>]+/.exec(text.slice(at));
    if (!m) return fail('expected a field name');
    at += m[0].length;
    return m[0];
  };
  const expect = (ch: string) => {
    space();
    if (text[at] !== ch) fail(`expected "${ch}"`);
    at++;
  };
  const peek = (): string | undefined => {
    space();
    return text[at];
  };
  const node = (): HiveTypeNode => {
    const raw = word().toLowerCase();
    const name = SIMPLE_ALIASES[raw] ?? raw;
    if (name === 'array') {
      expect('<');
      const element = node();
      expect('>');
      return { name, element };
    }
    if (name === 'map') {
      expect('<');
      const key = node();
      expect(',');
      const value = node();
      expect('>');
      return { name, key, value };
    }
    if (name === 'struct') {
      expect('<');
      const fields: { name: string; type: HiveTypeNode }[] = [];
      if (peek() !== '>') {
        for (;;) {
          const fname = fieldName();
          expect(':');
          fields.push({ name: fname, type: node() });
          if (peek() !== ',') break;
          at++;
        }
      }
      expect('>');
      return { name, fields };
    }
    if (peek() === '(') {
      at++;
      const params: number[] = [];
      for (;;) {
        space();
        const m = /^\d+/.exec(text.slice(at));
        if (!m) return fail('expected a number');
        at += m[0].length;
        params.push(Number(m[0]));
        if (peek() !== ',') break;
        at++;
      }
      expect(')');
      return { name, params };
    }
    return { name };
  };
  const result = node();
  space();
  if (at !== text.length) fail('unexpected text');
  return result;
}

/** A struct field's name in a Hive type: as is when plain, else backquoted (backquotes doubled). */
export function hiveFieldName(name: string): string {
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `\`${name.replace(/`/g, '``')}\``;
}

/** Print a parsed Hive type back, in the canonical spelling (`decimal(10,2)`, `struct<a:int>`). */
export function formatHiveType(type: HiveTypeNode): string {
  if ('element' in type) return `array<${formatHiveType(type.element)}>`;
  if ('key' in type) return `map<${formatHiveType(type.key)},${formatHiveType(type.value)}>`;
  if ('fields' in type)
    return `struct<${type.fields.map((f) => `${hiveFieldName(f.name)}:${formatHiveType(f.type)}`).join(',')}>`;
  return type.params ? `${type.name}(${type.params.join(',')})` : type.name;
}

/** The canonical spelling of a Hive type, for comparing types written differently. */
export function normalizeHiveType(text: string): string {
  return formatHiveType(parseHiveType(text));
}

function primitiveKindOf(type: HiveTypeNode): ColumnElement {
  if ('element' in type) return { kind: 'list' };
  if ('key' in type) return { kind: 'map' };
  if ('fields' in type) return { kind: 'struct' };
  switch (type.name) {
    case 'string':
    case 'varchar':
    case 'char':
      return { kind: 'string' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'tinyint':
    case 'smallint':
    case 'int':
      return { kind: 'int32' };
    case 'bigint':
      return { kind: 'int64' };
    case 'float':
    case 'double':
      return { kind: 'double' };
    case 'decimal':
      return { kind: 'decimal', precision: type.params?.[0] ?? 10, scale: type.params?.[1] ?? 0 };
    case 'timestamp':
      return { kind: 'timestamp' };
    case 'date':
      return { kind: 'date' };
    case 'binary':
      return { kind: 'binary' };
    default:
      return { kind: 'other' };
  }
}

/**
 * A column described from its Hive type alone (a Glue column): the kind, decimal precision and
 * scale, a list's element.
 */
export function columnFromHiveType(
  name: string,
  type: string,
  nullable = true,
  comment?: string,
): TableColumn {
  const parsed = parseHiveType(type);
  const info = primitiveKindOf(parsed);
  const column: TableColumn = { name, type: formatHiveType(parsed), kind: info.kind, nullable };
  if (info.precision !== undefined) column.precision = info.precision;
  if (info.scale !== undefined) column.scale = info.scale;
  if ('element' in parsed) column.element = primitiveKindOf(parsed.element);
  if (comment !== undefined) column.comment = comment;
  return column;
}

/** The Hive type of a core primitive or list kind (decimal needs precision and scale). */
export function hiveTypeOfKind(
  kind: PrimitiveKind | 'list',
  extra: Omit<FieldDef, 'kind' | 'presence'> = {},
): string {
  return hiveType({ kind, presence: 'nullable', ...extra });
}

const NAME = /^[a-z0-9_]{1,255}$/;

/**
 * A catalog name (database, table): lowercased as Glue stores it, then checked to hold only
 * letters, digits and `_`, which every engine (Athena, Hive, Spark, DuckDB) accepts unquoted.
 */
export function catalogName(name: string, what: 'database' | 'table'): string {
  const lower = typeof name === 'string' ? name.toLowerCase() : '';
  if (!NAME.test(lower)) {
    throw new CatalogError(
      `Invalid ${what} name ${JSON.stringify(name)}: use 1 to 255 letters, digits and "_"`,
      { code: 'CATALOG_INVALID', context: { [what]: String(name) } },
    );
  }
  return lower;
}

/**
 * A definition with the names a catalog stores: column and partition key names lowercased, as
 * Glue, its crawler, Hive and Athena keep them (`sensorId` → `sensorid`; Athena and DuckDB
 * resolve unquoted names case-insensitively, so `SELECT sensorId` still reads the column). Struct
 * field names inside a type are left as they are. Names that become equal once lowercased (two
 * columns, or a column and a partition key) throw `CatalogError` (`CATALOG_INVALID`): no engine
 * could tell them apart.
 */
export function withCatalogNames<T extends Pick<TableDefinition, 'name' | 'columns' | 'partitionKeys'>>(
  definition: T,
): T {
  const seen = new Map<string, string>();
  const claim = (name: string): string => {
    const lower = typeof name === 'string' ? name.toLowerCase() : '';
    const other = seen.get(lower);
    if (lower === '' || other !== undefined) {
      throw new CatalogError(
        other === undefined
          ? `A column of ${definition.name} has no name`
          : `Columns ${JSON.stringify(other)} and ${JSON.stringify(name)} of ${definition.name} differ only by case; catalogs store names lowercased (${lower}), so rename one`,
        { code: 'CATALOG_INVALID', context: { table: definition.name } },
      );
    }
    seen.set(lower, name);
    return lower;
  };
  return {
    ...definition,
    columns: definition.columns.map((c) => ({ ...c, name: claim(c.name) })),
    partitionKeys: definition.partitionKeys.map((k) => ({ ...k, name: claim(k.name) })),
  };
}

/** A partition as Hive names its folder, for messages: `dt=2026-11-23/hour=10`. */
export function partitionLabel(keys: readonly PartitionKey[], values: readonly string[]): string {
  return values.map((v, i) => `${keys[i]?.name ?? `partition_${i}`}=${v}`).join('/');
}
