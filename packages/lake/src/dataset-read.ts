import { type Fields, type Schema, TributaryError } from '@tributary/core';
import {
  committedManifest,
  type DatasetFile,
  datasetError,
  type Manifest,
  readManifest,
  tablePrefix,
} from './dataset-commit.js';
import { type FieldPartition, fieldPartitionsOf, fileSchemaOf } from './dataset-partitioning.js';
import { formatOfKey } from './formats/registry.js';
import type { FileFormat } from './formats/types.js';
import type { IcebergCatalog } from './iceberg/catalog.js';
import { readIceberg, scanIceberg } from './iceberg/table.js';
import { type PartitionSpec, parsePartitions } from './partitions.js';
import type { Storage } from './storage.js';
import type { LakeTableFormat } from './table-format.js';

// Reading a table back: its committed snapshot (a manifest's, an Iceberg table's, or what a
// listing finds for a table written by another tool), then its records file by file.

export interface ReadDatasetOptions<F extends Fields> {
  storage: Storage;
  table: string;
  schema: Schema<F>;
  /** Only partitions whose values match: `{ dt: '2026-11-23' }`, or a predicate over the values. */
  partitions?: Record<string, string> | ((values: Record<string, string | null>) => boolean);
  /**
   * Partition specs of the table, to put field partitions back into the records. Default: what
   * the table's manifest recorded; needed only for tables written by other tools.
   */
  partitionBy?: readonly PartitionSpec[];
  signal?: AbortSignal;
  /**
   * Default: `iceberg` when the table has Iceberg metadata and no lake manifest, else `hive`.
   * For Iceberg, `partitions` match partition fields by their text (`{ timestamp_hour: '2026-11-23-10' }`).
   */
  tableFormat?: LakeTableFormat;
  /** Iceberg: where the table is registered (default: its storage). */
  catalog?: IcebergCatalog;
  /** Iceberg: read this snapshot (time travel). */
  snapshotId?: bigint | string | number;
  /** Iceberg: read the snapshot that was current at this time. */
  asOf?: Date | number;
}

/** Whether a table folder holds Iceberg metadata (and no lake manifest). */
async function isIcebergTable(storage: Storage, table: string): Promise<boolean> {
  const prefix = tablePrefix(table);
  if (await storage.head(`${prefix}metadata/version-hint.text`)) return true;
  for await (const object of storage.list(`${prefix}metadata/`)) {
    if (object.key.endsWith('.metadata.json')) return true;
  }
  return false;
}

/**
 * The committed files of a table: from its manifest, or — for a table written by another tool
 * (Firehose, Spark) — every data file under it, skipping `_`- and `.`-prefixed paths. A commit
 * whose promotion was interrupted is rolled forward first, so the files listed are in place and
 * are exactly what folder-listing readers (Spark, pyarrow, Athena) see.
 *
 * @example
 * ```ts
 * const files = await listDatasetFiles(lake.processed, 'sensors');
 * console.log(files.length, files.reduce((n, f) => n + f.bytes, 0));
 * ```
 */
export async function listDatasetFiles(storage: Storage, table: string): Promise<DatasetFile[]> {
  return (await snapshotOf(storage, table)).files;
}

async function snapshotOf(
  storage: Storage,
  table: string,
): Promise<{ manifest: Manifest | undefined; files: DatasetFile[] }> {
  const { manifest } = await committedManifest(storage, table);
  if (manifest) return { manifest, files: manifest.files };
  if (await isIcebergTable(storage, table)) {
    // An Iceberg table's files are its current snapshot's, never whatever a listing finds.
    const scan = await scanIceberg({ storage, table });
    const files = scan.files.map((f) => ({
      key: f.key,
      partition: f.key.slice(tablePrefix(table).length + 'data/'.length, f.key.lastIndexOf('/') + 1),
      rows: f.rows,
      bytes: f.bytes,
    }));
    return { manifest, files };
  }
  return { manifest, files: await listTableFiles(storage, table) };
}

/**
 * The snapshot `readDataset` reads. When an interrupted commit cannot be rolled forward (a
 * reader without write access, a failing store), its files are read from their staged copies:
 * the committed snapshot stays readable; only the roll-forward waits for the next attempt.
 */
async function readableSnapshot(storage: Storage, table: string) {
  try {
    return { ...(await snapshotOf(storage, table)), readKey: async (key: string) => key };
  } catch (err) {
    if (!(TributaryError.isInstance(err) && err.code === 'DATASET_RECOVERY_FAILED')) throw err;
    const manifest = (await readManifest(storage, table)) as Manifest;
    const staged = new Map(manifest.staged.map((s) => [s.to, s.from]));
    const readKey = async (key: string) =>
      staged.has(key) && !(await storage.head(key)) ? (staged.get(key) as string) : key;
    return { manifest, files: manifest.files, readKey };
  }
}

async function listTableFiles(storage: Storage, table: string): Promise<DatasetFile[]> {
  const prefix = tablePrefix(table);
  const files: DatasetFile[] = [];
  for await (const object of storage.list(prefix)) {
    const rest = object.key.slice(prefix.length);
    if (rest.split('/').some((s) => s.startsWith('_') || s.startsWith('.'))) continue;
    if (!formatOfKey(object.key)) continue;
    const partition = rest.includes('/') ? rest.slice(0, rest.lastIndexOf('/') + 1) : '';
    files.push({ key: object.key, partition, rows: -1, bytes: object.size });
  }
  return files;
}

/**
 * A table written by another tool (Spark's `partitionBy`, Hive) has no manifest to say which
 * partition keys are fields: a hive key that names a field of the schema is one, its value read
 * from the path, as Spark and Athena read it.
 */
function partitionsNamingFields(files: readonly DatasetFile[], schema: Schema<Fields>): FieldPartition[] {
  const first = files[0];
  if (!first) return [];
  const fields = new Set(schema.columns.map((c) => c.name));
  return Object.keys(parsePartitions(first.key))
    .filter((name) => fields.has(name))
    .map((name) => ({ name, field: name }));
}

/**
 * Stream a table's records back, file by file (bounded memory), from its committed snapshot;
 * the format comes from each file's extension. Field partitions are put back into the records
 * (for a table without a manifest, every hive key that names a schema field).
 *
 * @example
 * ```ts
 * for await (const r of readDataset({ storage: lake.processed, table: 'sensors', schema: readingSchema, partitions: { dt: '2026-11-23' } })) {
 *   console.log(r.id);
 * }
 * ```
 */
export async function* readDataset<F extends Fields>(
  options: ReadDatasetOptions<F>,
): AsyncGenerator<Schema<F>['$record']> {
  const { storage, schema, partitions } = options;
  if (
    options.tableFormat === 'iceberg' ||
    (options.tableFormat === undefined && options.catalog !== undefined) ||
    (options.tableFormat === undefined &&
      !(await readManifest(storage, options.table)) &&
      (await isIcebergTable(storage, options.table)))
  ) {
    yield* readIceberg(options);
    return;
  }
  const { manifest, files, readKey } = await readableSnapshot(storage, options.table);
  const fieldPartitions: readonly FieldPartition[] = options.partitionBy
    ? fieldPartitionsOf(options.partitionBy)
    : manifest
      ? (manifest.fieldPartitions ?? [])
      : partitionsNamingFields(files, schema);
  const fileSchema = fileSchemaOf(schema, fieldPartitions);
  const matches =
    partitions === undefined
      ? () => true
      : typeof partitions === 'function'
        ? partitions
        : (values: Record<string, string | null>) =>
            Object.entries(partitions).every(([k, v]) => values[k] === v);
  for (const file of files) {
    const values = parsePartitions(file.key);
    if (!matches(values)) continue;
    // A manifest's files all have a format (parseManifest checks); a listed table's were filtered by it.
    const format = formatOfKey(file.key) as FileFormat;
    for await (const record of format.read(storage, await readKey(file.key), fileSchema, {
      signal: options.signal,
    })) {
      if (fieldPartitions.length === 0) {
        yield record;
        continue;
      }
      const full: Record<string, unknown> = { ...(record as Record<string, unknown>) };
      for (const p of fieldPartitions) full[p.field] = values[p.name] ?? null;
      const result = schema.validate(full);
      if (!result.ok)
        throw datasetError(`Partition values of ${file.key} do not fit the schema`, { key: file.key });
      yield result.value;
    }
  }
}
