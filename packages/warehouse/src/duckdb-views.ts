// Views over the lake's cataloged tables: one reader over the files of each partition, typed
// from the catalog, as Athena would read them.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { quoteLiteral } from '@tributary/core';
import { type HiveTypeNode, parseHiveType, type TableDefinition, type TablePartition } from '@tributary/lake';
import { duckDbIdentifier, localPath, pathLiteral } from './duckdb-sql.js';
import { TableDefinitionError } from './errors.js';

const DATA_FILE = /\.(parquet|ndjson|json|jsonl)(\.gz)?$/;

/** The DuckDB type of a Hive type from the catalog (`decimal(38,18)` → `DECIMAL(38,18)`). */
export function duckDbType(hiveType: string): string {
  return duckDbTypeOf(parseHiveType(hiveType));
}

function duckDbTypeOf(node: HiveTypeNode): string {
  if ('element' in node) return `${duckDbTypeOf(node.element)}[]`;
  if ('key' in node) return `MAP(${duckDbTypeOf(node.key)}, ${duckDbTypeOf(node.value)})`;
  if ('fields' in node) {
    return `STRUCT(${node.fields.map((f) => `${duckDbIdentifier(f.name)} ${duckDbTypeOf(f.type)}`).join(', ')})`;
  }
  switch (node.name) {
    case 'boolean':
      return 'BOOLEAN';
    case 'tinyint':
      return 'TINYINT';
    case 'smallint':
      return 'SMALLINT';
    case 'int':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'timestamp':
      // The lake's timestamps are instants (Parquet isAdjustedToUTC, ISO `…Z` in NDJSON).
      return 'TIMESTAMPTZ';
    case 'date':
      return 'DATE';
    case 'binary':
      return 'BLOB';
    case 'decimal':
      return node.params?.length ? `DECIMAL(${node.params.join(',')})` : 'DECIMAL(10,0)';
    default:
      // string, varchar(n), char(n) and anything the lake has no closer word for.
      return 'VARCHAR';
  }
}

/** The data files directly in a folder (not in sub-folders), skipping `_` and `.` names. */
async function dataFilesIn(folder: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('_') && !e.name.startsWith('.') && DATA_FILE.test(e.name))
    .map((e) => join(folder, e.name))
    .sort();
}

function isHiveLayout(definition: TableDefinition, partition: TablePartition): boolean {
  const segments = partition.location.replace(/\/$/, '').split('/').slice(-definition.partitionKeys.length);
  return definition.partitionKeys.every((key, i) => segments[i]?.startsWith(`${key.name}=`));
}

function readerCall(definition: TableDefinition, files: readonly string[], hive: boolean): string {
  const list = `[${files.map(pathLiteral).join(', ')}]`;
  const hiveOptions = hive
    ? `, hive_partitioning = true, hive_types = {${definition.partitionKeys
        .map((k) => `${quoteLiteral(k.name)}: ${duckDbType(k.type)}`)
        .join(', ')}}`
    : ', hive_partitioning = false';
  if (definition.format === 'parquet') return `read_parquet(${list}, union_by_name = true${hiveOptions})`;
  if (definition.format === 'ndjson') {
    // The catalog's types, not DuckDB's guesses: the same columns Athena's JSON SerDe would give.
    const columns = definition.columns
      .map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(duckDbType(c.type))}`)
      .join(', ');
    return `read_json(${list}, format = 'newline_delimited', columns = {${columns}}, timestampformat = 'iso'${hiveOptions})`;
  }
  throw new TableDefinitionError(
    `DuckDbEngine cannot register table ${definition.name}: format ${definition.format} is not supported (Parquet and NDJSON are)`,
    { code: 'TABLE_FORMAT_UNSUPPORTED', table: definition.name },
  );
}

/** A typed empty relation with the table's columns, for a table with no files yet. */
function emptySelect(definition: TableDefinition): string {
  const columns = [...definition.columns, ...definition.partitionKeys].map(
    (c) => `CAST(NULL AS ${duckDbType(c.type)}) AS ${duckDbIdentifier(c.name)}`,
  );
  return `SELECT ${columns.join(', ')} WHERE false`;
}

/**
 * The statements that register a table as a view: one reader over the files of every hive
 * partition, or one per partition (with its values as constant columns) for folders that are not
 * `k=v`.
 */
export async function duckDbViewSql(
  definition: TableDefinition,
  options: { replace: boolean; database: string },
): Promise<string[]> {
  const database = definition.database ?? options.database;
  const name = `${duckDbIdentifier(database)}.${duckDbIdentifier(definition.name)}`;
  // Column and key names also reach SQL as string literals (read_json's columns, hive_types),
  // where an empty name or NUL would not fail until DuckDB binds: check them all as names first.
  for (const column of [...definition.columns, ...definition.partitionKeys]) duckDbIdentifier(column.name);
  const root = localPath(definition.location, definition.name);
  const keys = definition.partitionKeys;
  let body: string;
  if (keys.length === 0) {
    const files = await dataFilesIn(root);
    body =
      files.length === 0 ? emptySelect(definition) : `SELECT * FROM ${readerCall(definition, files, false)}`;
  } else {
    const hive: string[] = [];
    const other: string[] = [];
    for (const partition of definition.partitions) {
      const files = await dataFilesIn(localPath(partition.location, definition.name));
      if (files.length === 0) continue;
      if (isHiveLayout(definition, partition)) hive.push(...files);
      else {
        const values = keys.map(
          (k, i) =>
            `CAST(${partition.values[i] === undefined ? 'NULL' : quoteLiteral(partition.values[i] as string)} AS ${duckDbType(k.type)}) AS ${duckDbIdentifier(k.name)}`,
        );
        other.push(`SELECT *, ${values.join(', ')} FROM ${readerCall(definition, files, false)}`);
      }
    }
    const parts = [
      ...(hive.length > 0 ? [`SELECT * FROM ${readerCall(definition, hive, true)}`] : []),
      ...other,
    ];
    body = parts.length === 0 ? emptySelect(definition) : parts.join('\nUNION ALL BY NAME\n');
  }
  const statements: string[] = [];
  if (database !== 'main') statements.push(`CREATE SCHEMA IF NOT EXISTS ${duckDbIdentifier(database)}`);
  statements.push(`CREATE ${options.replace ? 'OR REPLACE ' : ''}VIEW ${name} AS\n${body}`);
  return statements;
}
