// The SQL both loaders issue, in one place so that PostgreSQL and Redshift loads keep the same
// semantics. Identifiers always go through quoteIdentifier; values are bound parameters.
import {
  type Column,
  type Fields,
  postgresType,
  qualifiedName,
  quoteIdentifier,
  redshiftType,
  type Schema,
  type TableName,
} from '@tributary/core';
import { LoadError } from './errors.js';
import type { ResolvedSource } from './load-arguments.js';
import type { LakeSource } from './types.js';

/** Which SQL dialect a statement is written for. */
export type Dialect = 'postgres' | 'redshift';

/** A statement with its bound values. */
export interface Statement {
  text: string;
  values?: unknown[];
}

/** Staging tables: temporary, so they never show up among the user's tables. */
export const STAGE_TABLE = 'tributary_stage';
export const FILES_TABLE = 'tributary_stage_files';
/** How many offending keys an error message lists. */
export const KEYS_SHOWN = 5;

// ---------------------------------------------------------------------------------------------
// Snapshot bookkeeping: which Iceberg snapshot of which source each target holds
// ---------------------------------------------------------------------------------------------

/** The bookkeeping table, one per schema of targets: a row per (target, source). */
export const LOADS_TABLE = 'tributary_loads';

function loadsTable(target: TableName): string {
  return qualifiedName(
    target.schema === undefined ? { name: LOADS_TABLE } : { schema: target.schema, name: LOADS_TABLE },
  );
}

/**
 * The source as the bookkeeping names it: its URL, table and partition filter. `undefined` (no
 * bookkeeping: every load runs) for a hive source, an Iceberg table without snapshots, or a
 * predicate filter, which cannot be compared between loads.
 */
export function bookkeepingSource(source: LakeSource, resolved: ResolvedSource): string | undefined {
  if (resolved.format !== 'iceberg' || resolved.snapshotId === undefined) return undefined;
  if (typeof source.partitions === 'function') return undefined;
  const base = `${source.storage.url.replace(/\/+$/, '')}/${source.table.replace(/\/+$/, '')}`;
  if (source.partitions === undefined) return base;
  const sorted = Object.entries(source.partitions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${base}?partitions=${JSON.stringify(Object.fromEntries(sorted))}`;
}

/**
 * Create the bookkeeping table if needed, then lock it until the commit: loads into targets of
 * one schema that consult it run one after another, so two loads of one snapshot never both see
 * it unloaded. `LOCK TABLE` takes the same text in PostgreSQL and Redshift.
 */
export function lockLoadsSql(target: TableName): string[] {
  const table = loadsTable(target);
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (target_table VARCHAR(1024) NOT NULL, source VARCHAR(4096) NOT NULL, snapshot_id VARCHAR(20) NOT NULL, load_mode VARCHAR(8) NOT NULL, loaded_rows BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL)`,
    `LOCK TABLE ${table}`,
  ];
}

/** The snapshot of `source` the target holds (`snapshot_id`), if any. */
export function loadedSnapshotSql(target: TableName, source: string): Statement {
  return {
    text: `SELECT snapshot_id FROM ${loadsTable(target)} WHERE target_table = $1 AND source = $2`,
    values: [qualifiedName(target), source],
  };
}

/** Record, in the load's transaction, that the target now holds `snapshotId` of `source`. */
export function recordSnapshotSql(
  target: TableName,
  source: string,
  snapshotId: string,
  mode: string,
  rows: number,
): Statement[] {
  const table = loadsTable(target);
  const label = qualifiedName(target);
  return [
    {
      text: `DELETE FROM ${table} WHERE target_table = $1 AND source = $2`,
      values: [label, source],
    },
    {
      text: `INSERT INTO ${table} (target_table, source, snapshot_id, load_mode, loaded_rows, loaded_at) VALUES ($1, $2, $3, $4, $5, CAST($6 AS TIMESTAMP))`,
      values: [
        label,
        source,
        snapshotId,
        mode,
        rows,
        new Date().toISOString().replace('T', ' ').replace('Z', ''),
      ],
    },
  ];
}

/**
 * A typed error when the snapshot's files hold columns the source schema lacks: a positional
 * Parquet COPY needs every file column in its target.
 */
export function checkFileColumns(
  label: string,
  schema: Schema<Fields>,
  fileColumns: readonly string[],
): LoadError | undefined {
  const known = new Set(schema.columns.map((c) => c.name));
  const unknown = fileColumns.filter((c) => !known.has(c));
  if (unknown.length === 0) return undefined;
  return new LoadError(
    `the Iceberg snapshot's files hold columns the source schema lacks (${unknown.map((u) => JSON.stringify(u)).join(', ')}): add them to the schema`,
    { table: label, code: 'SOURCE_COLUMNS_UNKNOWN', context: { unknown } },
  );
}

/** Columns of an existing table (in their order), or `undefined` when there is no such table. */
export function targetColumnsSql(target: TableName): Statement {
  return {
    text: 'SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position',
    values: [target.schema ?? null, target.name],
  };
}

/** A typed error naming the source columns the existing target lacks, or nothing. */
export function checkTargetColumns(
  label: string,
  schema: Schema<Fields>,
  existing: readonly string[],
): LoadError | undefined {
  const have = new Set(existing);
  const missing = schema.columns.map((c) => c.name).filter((name) => !have.has(name));
  if (missing.length === 0) return undefined;
  return new LoadError(
    `table ${label} exists but lacks the source columns ${missing.map((m) => JSON.stringify(m)).join(', ')}; add them (the loader never alters a table)`,
    { table: label, code: 'TARGET_COLUMNS_MISSING', context: { missing } },
  );
}

/** The target does not exist and `createTable` is false. */
export function targetMissing(label: string): LoadError {
  return new LoadError(`table ${label} does not exist and options.createTable is false`, {
    table: label,
    code: 'TARGET_MISSING',
  });
}

/** The SQL type of a field in a dialect. */
export function sqlType(dialect: Dialect, column: Column): string {
  return dialect === 'postgres' ? postgresType(column.def) : redshiftType(column.def);
}

/** `CREATE TEMP TABLE stage (LIKE target)`: PostgreSQL drops it at commit, Redshift needs a DROP. */
export function createStageSql(dialect: Dialect, target: string): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  return dialect === 'postgres'
    ? `CREATE TEMP TABLE ${stage} (LIKE ${target}) ON COMMIT DROP`
    : `CREATE TEMP TABLE ${stage} (LIKE ${target})`;
}

/**
 * A temporary table shaped exactly like the data files (their columns, in their order, types of
 * the target, no NOT NULL): what a positional Parquet COPY needs when the files lack the
 * partition columns.
 */
export function createFilesTableSql(target: string, fileColumns: readonly string[]): string {
  return `CREATE TEMP TABLE ${quoteIdentifier(FILES_TABLE)} AS SELECT ${fileColumns.map(quoteIdentifier).join(', ')} FROM ${target} WHERE 1 = 0`;
}

/** Move one partition's rows from the files table into the stage, with the partition values bound. */
export function insertPartitionSql(
  dialect: Dialect,
  fileColumns: readonly string[],
  partitionColumns: readonly Column[],
  values: readonly (string | null)[],
): Statement {
  const into = [...fileColumns, ...partitionColumns.map((c) => c.name)].map(quoteIdentifier).join(', ');
  const casts = partitionColumns.map((c, i) => `CAST($${i + 1} AS ${sqlType(dialect, c)})`);
  const select = [...fileColumns.map(quoteIdentifier), ...casts].join(', ');
  return {
    text: `INSERT INTO ${quoteIdentifier(STAGE_TABLE)} (${into}) SELECT ${select} FROM ${quoteIdentifier(FILES_TABLE)}`,
    values: [...values],
  };
}

export function deleteAllSql(table: string): string {
  return `DELETE FROM ${table}`;
}

export function dropTableSql(table: string): string {
  return `DROP TABLE ${table}`;
}

export function countSql(table: string): string {
  return `SELECT count(*) AS n FROM ${table}`;
}

const list = (columns: readonly string[], prefix = '') =>
  columns.map((c) => `${prefix}${quoteIdentifier(c)}`).join(', ');

const joinOn = (left: string, right: string, keys: readonly string[]) =>
  keys.map((k) => `${left}.${quoteIdentifier(k)} = ${right}.${quoteIdentifier(k)}`).join(' AND ');

/** Source keys that are NULL: a NULL never matches, so merge would insert a duplicate each time. */
export function nullKeysSql(keys: readonly string[]): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  return `SELECT count(*) AS n FROM ${stage} WHERE ${keys.map((k) => `${quoteIdentifier(k)} IS NULL`).join(' OR ')}`;
}

/** A few keys that occur more than once in the source (MERGE fails on them in Redshift). */
export function duplicateKeysSql(keys: readonly string[]): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  // Keys come back as text (key_0, key_1…): the driver would turn dates into local-time Dates.
  const shown = keys.map((k, i) => `CAST(${quoteIdentifier(k)} AS VARCHAR) AS key_${i}`).join(', ');
  return `SELECT ${shown}, count(*) AS n FROM ${stage} GROUP BY ${list(keys)} HAVING count(*) > 1 ORDER BY ${list(keys)} LIMIT ${KEYS_SHOWN}`;
}

/** Target rows a merge updates, and source rows that find a match (the rest are inserted). */
export function matchCountsSql(target: string, keys: readonly string[]): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  return `SELECT (SELECT count(*) FROM ${target} t JOIN ${stage} s ON ${joinOn('t', 's', keys)}) AS updated, (SELECT count(*) FROM ${stage} s JOIN (SELECT DISTINCT ${list(keys)} FROM ${target}) t ON ${joinOn('t', 's', keys)}) AS matched`;
}

/** Columns a merge sets on matched rows: every non-key column (the keys when there are none). */
export function updateColumns(columns: readonly string[], keys: readonly string[]): string[] {
  const others = columns.filter((c) => !keys.includes(c));
  return others.length > 0 ? others : [...keys];
}

/** PostgreSQL merge, step 1: update matched rows (rows equal to the source still count as updated). */
export function updateFromStageSql(
  target: string,
  columns: readonly string[],
  keys: readonly string[],
): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  const set = updateColumns(columns, keys)
    .map((c) => `${quoteIdentifier(c)} = s.${quoteIdentifier(c)}`)
    .join(', ');
  return `UPDATE ${target} AS t SET ${set} FROM ${stage} AS s WHERE ${joinOn('t', 's', keys)}`;
}

/** PostgreSQL merge, step 2: insert the source rows whose keys the target lacks. */
export function insertMissingSql(
  target: string,
  columns: readonly string[],
  keys: readonly string[],
): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  return `INSERT INTO ${target} (${list(columns)}) SELECT ${list(columns, 's.')} FROM ${stage} AS s WHERE NOT EXISTS (SELECT 1 FROM ${target} AS t WHERE ${joinOn('t', 's', keys)})`;
}

/** `INSERT INTO target (cols) SELECT cols FROM stage`. */
export function insertFromStageSql(target: string, columns: readonly string[]): string {
  return `INSERT INTO ${target} (${list(columns)}) SELECT ${list(columns)} FROM ${quoteIdentifier(STAGE_TABLE)}`;
}

/**
 * Redshift MERGE (it takes no alias on the target, so the target's columns are qualified by its
 * full name; PostgreSQL 15+ runs the same text).
 */
export function mergeSql(target: string, columns: readonly string[], keys: readonly string[]): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  const set = updateColumns(columns, keys)
    .map((c) => `${quoteIdentifier(c)} = s.${quoteIdentifier(c)}`)
    .join(', ');
  return `MERGE INTO ${target} USING ${stage} AS s ON ${joinOn(target, 's', keys)} WHEN MATCHED THEN UPDATE SET ${set} WHEN NOT MATCHED THEN INSERT (${list(columns)}) VALUES (${list(columns, 's.')})`;
}

/** Delete-insert merge, step 1: remove the target rows the source replaces. */
export function deleteMatchedSql(target: string, keys: readonly string[]): string {
  const stage = quoteIdentifier(STAGE_TABLE);
  return `DELETE FROM ${target} USING ${stage} AS s WHERE ${joinOn(target, 's', keys)}`;
}

/** A key tuple as text for messages: `("a", 1)`. */
export function describeKey(row: Record<string, unknown>, keys: readonly string[]): string {
  return `(${keys.map((_k, i) => JSON.stringify(String(row[`key_${i}`]))).join(', ')})`;
}

/** The source rows hold keys more than once: rejected by both loaders. */
export function duplicateKeysError(
  label: string,
  keys: readonly string[],
  rows: Record<string, unknown>[],
): LoadError {
  const shown = rows.map((r) => `${describeKey(r, keys)} ×${r.n}`);
  return new LoadError(
    `merge into ${label}: the source holds duplicate keys (${keys.join(', ')}): ${shown.join(', ')}${rows.length >= KEYS_SHOWN ? ', …' : ''}`,
    {
      table: label,
      code: 'SOURCE_DUPLICATE_KEYS',
      context: { keys: [...keys], duplicates: rows.map((r) => describeKey(r, keys)) },
    },
  );
}

/** The source rows hold NULL keys: rejected by both loaders. */
export function nullKeysError(label: string, keys: readonly string[], count: number): LoadError {
  return new LoadError(`merge into ${label}: ${count} source rows have a NULL key (${keys.join(', ')})`, {
    table: label,
    code: 'SOURCE_NULL_KEYS',
    context: { keys: [...keys], rows: count },
  });
}
