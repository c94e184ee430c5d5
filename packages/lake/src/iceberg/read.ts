import type { Fields, Schema } from '@tributary/core';
import { readParquet } from '../formats/parquet/reader.js';
import { partitionFilter } from '../partitions.js';
import type { Storage } from '../storage.js';
import { type IcebergCatalog, keyOf, loadTable } from './catalog.js';
import { currentSchema, defaultSpec, type Snapshot, snapshotFor, type TableMetadata } from './metadata.js';
import {
  humanPartitionValue,
  type IcebergSchema,
  type PartitionValue,
  partitionSourceType,
  schemaFromIceberg,
} from './schema.js';
import { liveFiles } from './snapshot-files.js';

export interface IcebergReadOptions<F extends Fields> {
  storage: Storage;
  table: string;
  /** The records' schema. Default: the table's schema at the snapshot read (see `schemaFromIceberg`). */
  schema?: Schema<F>;
  catalog?: IcebergCatalog;
  /** Read this snapshot instead of the current one. */
  snapshotId?: bigint | string | number;
  /** Read the snapshot that was current at this time. */
  asOf?: Date | number;
  /** Only partitions whose values match, by partition field and human-readable value: `{ timestamp_hour: '2026-11-23-10' }`, or a predicate. */
  partitions?: Record<string, string> | ((values: Record<string, string | null>) => boolean);
  signal?: AbortSignal;
}

/** A table's data files at one snapshot, for engines that read Parquet themselves (DuckDB, Redshift). */
export interface IcebergScan {
  snapshot: Snapshot | undefined;
  metadata: TableMetadata;
  schema: IcebergSchema;
  files: { key: string; partition: Record<string, string | null>; rows: number; bytes: number }[];
}

/** Plan a read: the snapshot, its schema and its live data files (partition filters applied). */
export async function scanIceberg<F extends Fields>(options: IcebergReadOptions<F>): Promise<IcebergScan> {
  const { storage } = options;
  const { loaded } = await loadTable(options);
  const { metadata } = loaded;
  const snapshot = snapshotFor(metadata, {
    ...(options.snapshotId !== undefined ? { snapshotId: options.snapshotId } : {}),
    ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
  });
  const schema =
    metadata.schemas.find((s) => s['schema-id'] === snapshot?.['schema-id']) ?? currentSchema(metadata);
  const specs = new Map(metadata['partition-specs'].map((s) => [s['spec-id'], s]));
  const matches = partitionFilter(options.partitions);
  const files: IcebergScan['files'] = [];
  for (const { entry, manifest } of await liveFiles(storage, snapshot)) {
    const spec = specs.get(manifest.partitionSpecId) ?? defaultSpec(metadata);
    const human: Record<string, string | null> = {};
    for (const f of spec.fields) {
      const v = entry.dataFile.partition[f.name] ?? null;
      human[f.name] =
        v === null
          ? null
          : humanPartitionValue(f.transform, v as PartitionValue, partitionSourceType(schema, f));
    }
    if (!matches(human)) continue;
    files.push({
      key: keyOf(storage, entry.dataFile.filePath),
      partition: human,
      rows: Number(entry.dataFile.recordCount),
      bytes: Number(entry.dataFile.fileSizeInBytes),
    });
  }
  return { snapshot, metadata, schema, files };
}

/**
 * Stream the records of an Iceberg table at a snapshot (the current one, one by id, or as of a
 * time), file by file; columns are matched by id, so a file written before a column was added
 * reads it as null.
 */
export async function* readIceberg<F extends Fields>(
  options: IcebergReadOptions<F>,
): AsyncGenerator<Schema<F>['$record']> {
  const scan = await scanIceberg(options);
  const schema = (options.schema ?? schemaFromIceberg(scan.schema, options.table)) as Schema<F>;
  // Ids by name from the newest schema that has the column (a column may be newer than the snapshot).
  const fieldIds = new Map<string, number>();
  for (const s of [currentSchema(scan.metadata), scan.schema]) {
    for (const f of s.fields) if (!fieldIds.has(f.name)) fieldIds.set(f.name, f.id);
  }
  for (const file of scan.files) {
    yield* readParquet(options.storage, file.key, schema, { fieldIds, signal: options.signal });
  }
}
