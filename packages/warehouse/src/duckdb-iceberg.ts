import { join } from 'node:path';
import { quoteLiteral } from '@tributary/core';
import type { IcebergCatalog, IcebergField, IcebergScan, IcebergType, Storage } from '@tributary/lake';
import { duckDbIdentifier, localPath, pathLiteral } from './duckdb-sql.js';
import { TableDefinitionError } from './errors.js';

/** Options of {@link DuckDbEngine.registerIcebergTable}. */
export interface RegisterIcebergTableOptions {
  /** The zone that holds the table (a `file://` storage: DuckDB reads local files only). */
  storage: Storage;
  /** The table's path in the zone, e.g. `sensors`. */
  table: string;
  /** The view's name. Default: the last segment of `table`. */
  name?: string;
  /** The DuckDB schema of the view. Default: the engine's `database`. */
  database?: string;
  /** Where the table's metadata is found. Default: the lake's `StorageCatalog` on `storage`. */
  catalog?: IcebergCatalog;
  /** Show this snapshot instead of the current one (time travel). */
  snapshotId?: bigint | string | number;
  /** Show the snapshot that was current at this time. */
  asOf?: Date | number;
  /** Replace a view of the same name. Default `true`. */
  replace?: boolean;
}

/** What {@link DuckDbEngine.registerIcebergTable} registered: the view is pinned to this snapshot. */
export interface IcebergRegistration {
  /** The view, as quoted SQL (`"main"."sensors"`). */
  view: string;
  /** The snapshot the view shows (decimal text); `undefined` for a table without one. */
  snapshotId: string | undefined;
  /** Data files the view reads. */
  files: number;
  /** Rows in those files, from the manifests. */
  rows: number;
}

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED = /^fixed\[\d+\]$/;

/**
 * The DuckDB type of an Iceberg type: `timestamptz` → `TIMESTAMPTZ` (µs, UTC), `decimal(p,s)` →
 * `DECIMAL(p,s)`, `list<T>` → `T[]`, structs and maps by their fields.
 */
export function duckDbIcebergType(type: IcebergType): string {
  if (typeof type === 'string') {
    const decimal = DECIMAL.exec(type);
    if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
    if (FIXED.test(type)) return 'BLOB';
    const primitive = PRIMITIVES[type];
    if (primitive) return primitive;
    throw new TableDefinitionError(`DuckDbEngine cannot read the Iceberg type ${type}`, {
      code: 'COLUMN_TYPE_UNSUPPORTED',
      context: { type },
    });
  }
  if (type.type === 'list') return `${duckDbIcebergType(type.element as IcebergType)}[]`;
  if (type.type === 'map')
    return `MAP(${duckDbIcebergType(type.key as IcebergType)}, ${duckDbIcebergType(type.value as IcebergType)})`;
  const fields = (type.fields ?? []) as IcebergField[];
  return `STRUCT(${fields.map((f) => `${duckDbIdentifier(f.name)} ${duckDbIcebergType(f.type)}`).join(', ')})`;
}

const PRIMITIVES: Record<string, string> = {
  boolean: 'BOOLEAN',
  int: 'INTEGER',
  long: 'BIGINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  date: 'DATE',
  time: 'TIME',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  timestamp_ns: 'TIMESTAMP_NS',
  // DuckDB has no nanosecond instant type: µs is the closest it keeps with a zone.
  timestamptz_ns: 'TIMESTAMPTZ',
  string: 'VARCHAR',
  uuid: 'UUID',
  binary: 'BLOB',
};

/**
 * The `SELECT` a view over one snapshot of an Iceberg table runs: `read_parquet` over exactly the
 * snapshot's data files, with its `schema` map from Parquet field id to the column's name and
 * type, so columns are matched by id as Iceberg requires (a renamed column keeps its data, a
 * column added after a file was written reads as NULL in it). Files are not listed: a file of a
 * later commit or a removed one is not read. No files gives the columns and no rows.
 */
export function icebergSelectSql(
  scan: Pick<IcebergScan, 'schema' | 'files'>,
  storage: Storage,
  table: string,
): string {
  const fields = scan.schema.fields;
  if (fields.length === 0) {
    throw new TableDefinitionError(`Iceberg table ${table} has no columns`, {
      code: 'TABLE_DEFINITION_INVALID',
      table,
    });
  }
  // Check every name as an identifier before any reaches SQL.
  for (const f of fields) duckDbIdentifier(f.name);
  if (scan.files.length === 0) {
    const columns = fields.map(
      (f) => `CAST(NULL AS ${duckDbIcebergType(f.type)}) AS ${duckDbIdentifier(f.name)}`,
    );
    return `SELECT ${columns.join(', ')} WHERE false`;
  }
  const root = localPath(storage.url, table);
  const files = scan.files.map((f) => pathLiteral(join(root, f.key)));
  const mapping = fields.map(
    (f) =>
      `${f.id}: {name: ${quoteLiteral(f.name)}, type: ${quoteLiteral(duckDbIcebergType(f.type))}, default_value: NULL}`,
  );
  // The select list fixes the column order to the schema's, whatever order the map yields.
  const select = fields.map((f) => duckDbIdentifier(f.name)).join(', ');
  return `SELECT ${select} FROM read_parquet([${files.join(', ')}], hive_partitioning = false, schema = MAP {${mapping.join(', ')}})`;
}
