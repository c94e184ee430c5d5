import { randomUUID } from 'node:crypto';
import type { Fields, Schema } from '@tributary/core';
import { writeFiles } from '../file-writer.js';
import { readParquet } from '../formats/parquet/reader.js';
import type { WriterOptions } from '../formats/types.js';
import type { Storage } from '../storage.js';
import { type IcebergCatalog, keyOf, loadTable } from './catalog.js';
import { commitChange, type IcebergCommit, mayHaveCommitted, planOnTable } from './commit.js';
import { dataFileOf, dataFileWriter } from './data-file.js';
import { IcebergError } from './errors.js';
import type { DataFile } from './manifest.js';
import { currentSchema, defaultSpec, snapshotFor } from './metadata.js';
import { partitioner, partitionPathOf } from './schema.js';
import { liveFiles } from './snapshot-files.js';

export interface IcebergCompactOptions<F extends Fields> {
  storage: Storage;
  table: string;
  schema: Schema<F>;
  /** The partition to compact, as its data folder (`timestamp_hour=2026-11-23-10/`); '' for all. */
  partition: string;
  catalog?: IcebergCatalog;
  targetFileBytes?: number;
  maxRowsPerFile?: number;
  formatOptions?: WriterOptions;
  writeId?: string;
}

/**
 * Rewrite a partition's data files into as few as the size target allows, as one `replace`
 * snapshot: the rows stay the same, readers see the old files or the new ones.
 */
export async function compactIceberg<F extends Fields>(
  options: IcebergCompactOptions<F>,
): Promise<IcebergCommit> {
  const { storage, schema, partition } = options;
  const { catalog, table, loaded: base } = await loadTable(options);
  const spec = defaultSpec(base.metadata);
  const tableSchema = currentSchema(base.metadata);
  const inputs = (await liveFiles(storage, snapshotFor(base.metadata))).filter(
    ({ entry }) =>
      partition === '' || partitionPathOf(spec, entry.dataFile.partition, tableSchema) === partition,
  );
  const current = snapshotFor(base.metadata);
  if (inputs.length <= 1) {
    return {
      snapshotId: String(current?.['snapshot-id'] ?? -1),
      version: Number(base.version),
      added: [],
      removed: [],
      metadataLocation: base.metadataLocation,
    };
  }
  const schemaPlan = planOnTable(schema, base.metadata);
  if (schemaPlan.changed) {
    throw new IcebergError(`compaction of ${table} must use the table's schema, not change it`, {
      code: 'ICEBERG_SCHEMA_INCOMPATIBLE',
      context: { table },
    });
  }
  const fieldIds = new Map(tableSchema.fields.map((f) => [f.name, f.id]));
  const byPartition = new Map<string, typeof inputs>();
  for (const input of inputs) {
    const path = partitionPathOf(spec, input.entry.dataFile.partition, tableSchema);
    byPartition.set(path, [...(byPartition.get(path) ?? []), input]);
  }
  const valuesOf = new Map(
    [...byPartition].map(([path, list]) => [path, list[0]?.entry.dataFile.partition ?? {}]),
  );
  async function* rowsOf() {
    for (const [, list] of byPartition) {
      for (const { entry } of list) {
        yield* readParquet(storage, keyOf(storage, entry.dataFile.filePath), schema, { fieldIds });
      }
    }
  }
  const files = dataFileWriter(storage, table, schema, {
    writeId: options.writeId ?? randomUUID(),
    fieldIds: schemaPlan.fieldIds,
    formatOptions: options.formatOptions,
  });
  const added: DataFile[] = [];
  const addedInfo: IcebergCommit['added'] = [];
  const partitionOf = partitioner(spec, tableSchema);
  try {
    await writeFiles(rowsOf(), {
      schema,
      partitionOf: (record) => partitionOf(record).path,
      open: files.open,
      maxRowsPerFile: options.maxRowsPerFile ?? Number.POSITIVE_INFINITY,
      targetFileBytes: options.targetFileBytes ?? 128 * 1024 * 1024,
      maxOpenFiles: 1,
      refuse: (_input, issues) => {
        throw new IcebergError(`a row of ${table} does not fit the schema: ${issues[0]?.message ?? ''}`, {
          code: 'ICEBERG_SCHEMA_INCOMPATIBLE',
          context: { table },
        });
      },
      closed: (file, path, stats) => {
        added.push(dataFileOf(storage, file.finalKey, stats, tableSchema, valuesOf.get(path) ?? {}));
        addedInfo.push({ key: file.finalKey, partition: path, rows: stats.rows, bytes: stats.bytes });
      },
    });
    const replaced = new Set(inputs.map(({ entry }) => entry.dataFile.filePath));
    const committed = await commitChange(
      {
        catalog,
        table,
        create: () => base.metadata,
        plan: () => ({ schema: tableSchema, changed: false, lastColumnId: base.metadata['last-column-id'] }),
        change: {
          operation: 'replace',
          added,
          removes: (file) => replaced.has(file.filePath),
          requires: replaced,
        },
      },
      base,
    );
    return {
      snapshotId: String(committed.snapshot['snapshot-id']),
      version: Number(committed.loaded.version),
      added: addedInfo,
      removed: committed.removed,
      metadataLocation: committed.loaded.metadataLocation,
    };
  } catch (err) {
    if (!mayHaveCommitted(err)) await storage.delete(files.opened).catch(() => {});
    throw err;
  }
}
