import { randomUUID } from 'node:crypto';
import type { Fields, Schema } from '@tributary/core';
import type { WriteDatasetResult } from './dataset.js';
import {
  commit,
  type DatasetFile,
  datasetError,
  type Manifest,
  recoverDataset,
  tablePrefix,
} from './dataset-commit.js';
import { type DataFilePlan, failWrite, fromIceberg, stageDataFile } from './dataset-files.js';
import { fileSchemaOf } from './dataset-partitioning.js';
import { finishStaged, type StagedFile } from './file-writer.js';
import { formatFor, formatOfKey } from './formats/registry.js';
import type { FileFormat, FormatName, WriterOptions } from './formats/types.js';
import type { IcebergCatalog } from './iceberg/catalog.js';
import { compactIceberg } from './iceberg/table.js';
import type { Storage } from './storage.js';
import type { LakeTableFormat } from './table-format.js';

// Compaction: a partition's small files rewritten as few, committed like any write.

export interface CompactOptions<F extends Fields> {
  storage: Storage;
  table: string;
  schema: Schema<F>;
  /** The partition to compact, e.g. `dt=2026-11-23/hour=10/` ('' for an unpartitioned table). */
  partition: string;
  format?: FormatName;
  formatOptions?: WriterOptions;
  targetFileBytes?: number;
  maxRowsPerFile?: number;
  writeId?: string;
  /** `iceberg`: rewrite the partition as one `replace` snapshot (`partition` is its data folder). */
  tableFormat?: LakeTableFormat;
  catalog?: IcebergCatalog;
}

/**
 * Merge a partition's small files into as few files as the size target allows, committed like
 * any write: readers see the old files or the new ones, never both or neither.
 *
 * @example
 * ```ts
 * await compact({ storage: lake.processed, table: 'sensors', schema: readingSchema, partition: 'dt=2026-11-23/hour=10/' });
 * ```
 */
export async function compact<F extends Fields>(options: CompactOptions<F>): Promise<WriteDatasetResult> {
  const { storage, schema, partition } = options;
  const writeId = options.writeId ?? randomUUID();
  if (options.tableFormat === 'iceberg') {
    const result = await compactIceberg({ ...options, writeId });
    return fromIceberg(result, { writeId, partitions: [partition] });
  }
  const { manifest, ...recovery } = await recoverDataset(storage, options.table, { keepWriteId: writeId });
  if (!manifest) throw datasetError(`${options.table} has no manifest to compact`, { table: options.table });
  const inputs = manifest.files.filter((f) => f.partition === partition);
  if (inputs.length <= 1) {
    return {
      writeId: manifest.writeId,
      version: manifest.version,
      files: inputs,
      partitions: [partition],
      rows: inputs[0]?.rows ?? 0,
      invalid: [],
      invalidCount: 0,
      removed: [],
      recovery,
    };
  }
  // Field partitions live in the paths, not in the files: read and write the files without them.
  const fieldPartitions = manifest.fieldPartitions ?? [];
  const fileSchema = fileSchemaOf(schema, fieldPartitions);
  const plan: DataFilePlan = {
    storage,
    prefix: tablePrefix(options.table),
    writeId,
    format: formatFor(options.format ?? formatOfKey(inputs[0]?.key ?? '')?.name ?? 'parquet'),
    fileSchema,
    formatOptions: options.formatOptions,
  };
  const target = options.targetFileBytes ?? 128 * 1024 * 1024;
  const maxRows = options.maxRowsPerFile ?? Number.POSITIVE_INFINITY;
  const added: DatasetFile[] = [];
  const staged: { from: string; to: string }[] = [];
  let index = 0;
  let current: StagedFile | undefined;
  const finish = async () => {
    if (!current) return;
    const stats = await finishStaged(current);
    added.push({ key: current.finalKey, partition, rows: stats.rows, bytes: stats.bytes });
    staged.push({ from: current.stagingKey, to: current.finalKey });
    current = undefined;
  };
  let rows = 0;
  try {
    for (const file of inputs) {
      for await (const record of (formatOfKey(file.key) as FileFormat).read(storage, file.key, fileSchema)) {
        current ??= stageDataFile(plan, partition, index++);
        await current.writer.write(record as Record<string, unknown>);
        rows++;
        if (current.writer.rows >= maxRows || current.writer.estimatedBytes >= target) await finish();
      }
    }
    await finish();
  } catch (err) {
    return failWrite(plan, options.table, current ? [current] : [], err);
  }
  const removedKeys = new Set(inputs.map((f) => f.key));
  const next: Manifest = {
    format: 'tributary-manifest',
    version: manifest.version + 1,
    writeId,
    mode: 'compact',
    committedAt: new Date().toISOString(),
    files: [...manifest.files.filter((f) => !removedKeys.has(f.key)), ...added],
    staged,
    removed: [...removedKeys],
    fieldPartitions,
  };
  await commit(storage, plan.prefix, next);
  return {
    writeId,
    version: next.version,
    files: added,
    partitions: [partition],
    rows,
    invalid: [],
    invalidCount: 0,
    removed: [...removedKeys],
    recovery,
  };
}
