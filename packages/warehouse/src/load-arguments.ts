// What a load is given, checked once for both loaders (the target, the source and the options),
// and the source resolved to the files the load reads.
import { type ErrorContext, type Fields, qualifiedName, type TableName } from '@tributary/core';
import {
  type DatasetFile,
  formatOfKey,
  IcebergError,
  type LakeTableFormat,
  listDatasetFiles,
  parsePartitions,
  readManifest,
  type Storage,
  scanIceberg,
} from '@tributary/lake';
import { WarehouseOptionsError } from './errors.js';
import type { LakeSource, LoadOptions } from './types.js';

const MODES: ReadonlySet<string> = new Set(['append', 'replace', 'merge']);

/**
 * A wrong argument of a loader's `load()`: the target table, the source or the options, which
 * `option` names (`table`, `source.storage`, `mode`, `keys`...).
 */
export function loadOptionsError(
  message: string,
  option: string,
  table?: string,
  context: ErrorContext = {},
): WarehouseOptionsError {
  return new WarehouseOptionsError(message, {
    code: 'LOAD_OPTIONS_INVALID',
    option,
    context: table === undefined ? context : { ...context, table },
  });
}

/** Turn `table` into a TableName. A string is one (unqualified) name, dots included. */
export function toTableName(table: TableName | string, loader: string): TableName {
  if (typeof table === 'string') {
    if (table.length === 0) throw loadOptionsError(`${loader}.load() needs a table name`, 'table');
    return { name: table };
  }
  if (typeof table !== 'object' || table === null || typeof table.name !== 'string' || table.name === '') {
    throw loadOptionsError(`${loader}.load() table must be a name or { schema?, name }`, 'table');
  }
  if (table.schema !== undefined && (typeof table.schema !== 'string' || table.schema === '')) {
    throw loadOptionsError(`${loader}.load() table.schema must be a non-empty string`, 'table.schema');
  }
  return table.schema === undefined ? { name: table.name } : { schema: table.schema, name: table.name };
}

/** Validate the arguments every loader shares and resolve the merge keys. */
export function checkLoadArguments<F extends Fields>(
  loader: string,
  target: TableName,
  source: LakeSource<F>,
  options: LoadOptions,
): { keys: readonly string[]; createTable: boolean } {
  const label = qualifiedName(target);
  if (typeof source !== 'object' || source === null) {
    throw loadOptionsError(`${loader}.load() needs a source`, 'source', label);
  }
  const storage = source.storage as Partial<Storage> | undefined;
  if (!storage || typeof storage.url !== 'string' || typeof storage.list !== 'function') {
    throw loadOptionsError(`${loader}.load() source.storage must be a lake Storage`, 'source.storage', label);
  }
  if (typeof source.table !== 'string' || source.table.length === 0) {
    throw loadOptionsError(`${loader}.load() source.table must be a dataset path`, 'source.table', label);
  }
  if (!source.schema || !Array.isArray(source.schema.columns) || source.schema.columns.length === 0) {
    throw loadOptionsError(
      `${loader}.load() source.schema must be a schema with columns`,
      'source.schema',
      label,
    );
  }
  const partitions = source.partitions as unknown;
  if (
    partitions !== undefined &&
    typeof partitions !== 'function' &&
    (typeof partitions !== 'object' || partitions === null)
  ) {
    throw loadOptionsError(
      `${loader}.load() source.partitions must be an object or a function`,
      'source.partitions',
      label,
    );
  }
  if (typeof options !== 'object' || options === null || !MODES.has(options.mode)) {
    throw loadOptionsError(
      `${loader}.load() options.mode must be 'append', 'replace' or 'merge' (got ${JSON.stringify(options?.mode)})`,
      'mode',
      label,
    );
  }
  if (options.createTable !== undefined && typeof options.createTable !== 'boolean') {
    throw loadOptionsError(`${loader}.load() options.createTable must be a boolean`, 'createTable', label);
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw loadOptionsError(`${loader}.load() options.onEvent must be a function`, 'onEvent', label);
  }
  const columns = new Set(source.schema.columns.map((c) => c.name));
  const keys = options.keys ?? source.schema.primaryKey;
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) {
    throw loadOptionsError(`${loader}.load() options.keys must be an array of column names`, 'keys', label);
  }
  if (options.mode === 'merge') {
    if (keys.length === 0) {
      throw loadOptionsError(
        `${loader}.load() merge into ${label} needs keys: pass options.keys or give the schema a primaryKey`,
        'keys',
        label,
      );
    }
    const unknown = keys.filter((k) => !columns.has(k));
    if (unknown.length > 0) {
      throw loadOptionsError(
        `${loader}.load() merge keys ${unknown.map((k) => JSON.stringify(k)).join(', ')} are not columns of the source schema`,
        'keys',
        label,
        { keys: unknown },
      );
    }
    if (new Set(keys).size !== keys.length) {
      throw loadOptionsError(`${loader}.load() merge keys must be distinct`, 'keys', label);
    }
  }
  return { keys: [...keys], createTable: options.createTable ?? true };
}

/** The partition filter of a source, as `readDataset` applies it. */
export function partitionMatcher(
  partitions: LakeSource['partitions'],
): (values: Record<string, string | null>) => boolean {
  if (partitions === undefined) return () => true;
  if (typeof partitions === 'function') return partitions;
  return (values) => Object.entries(partitions).every(([k, v]) => values[k] === v);
}

/** What a load reads: the source's data files and, for an Iceberg table, the snapshot they make up. */
export interface ResolvedSource {
  format: LakeTableFormat;
  /** The data files, filtered by `partitions`. */
  files: DatasetFile[];
  /** Iceberg: the snapshot the files are of (decimal text); none for a table without snapshots. */
  snapshotId?: string;
  /** Iceberg: the columns of the snapshot's schema, in the order its Parquet files hold them. */
  fileColumns?: string[];
}

/**
 * Resolve a source once, so that every step of a load reads the same files: an Iceberg table's
 * snapshot (the current one or `source.snapshotId`) is pinned here and read by id afterwards,
 * however many commits land meanwhile. The format is decided as `readDataset` decides it.
 */
export async function resolveSource(source: LakeSource): Promise<ResolvedSource> {
  const { storage, table } = source;
  const explicit = source.tableFormat;
  if (explicit !== undefined && explicit !== 'hive' && explicit !== 'iceberg') {
    throw loadOptionsError(
      `source.tableFormat must be 'hive' or 'iceberg' (got ${JSON.stringify(explicit)})`,
      'source.tableFormat',
      table,
    );
  }
  const iceberg =
    explicit === 'iceberg' ||
    (explicit === undefined &&
      (source.catalog !== undefined || (await readManifest(storage, table)) === undefined));
  if (iceberg) {
    try {
      const scan = await scanIceberg({
        storage,
        table,
        ...(source.catalog === undefined ? {} : { catalog: source.catalog }),
        ...(source.snapshotId === undefined ? {} : { snapshotId: source.snapshotId }),
        ...(source.partitions === undefined ? {} : { partitions: source.partitions }),
      });
      const data = `${table.replace(/\/+$/, '')}/data/`;
      return {
        format: 'iceberg',
        files: scan.files.map((f) => ({
          key: f.key,
          partition: f.key.startsWith(data) ? f.key.slice(data.length, f.key.lastIndexOf('/') + 1) : '',
          rows: f.rows,
          bytes: f.bytes,
        })),
        ...(scan.snapshot === undefined ? {} : { snapshotId: String(scan.snapshot['snapshot-id']) }),
        fileColumns: scan.schema.fields.map((f) => f.name),
      };
    } catch (error) {
      // Not an Iceberg table: a hive table another tool wrote, unless Iceberg was asked for.
      if (
        explicit !== undefined ||
        source.catalog !== undefined ||
        !(error instanceof IcebergError && error.code === 'ICEBERG_TABLE_NOT_FOUND')
      ) {
        throw error;
      }
    }
  }
  if (source.snapshotId !== undefined) {
    throw loadOptionsError(
      `source.snapshotId needs an Iceberg table; ${table} is a hive table`,
      'source.snapshotId',
      table,
    );
  }
  const matches = partitionMatcher(source.partitions);
  const files = await listDatasetFiles(storage, table);
  return {
    format: 'hive',
    files: files.filter((f) => formatOfKey(f.key) !== undefined && matches(parsePartitions(f.key))),
  };
}
