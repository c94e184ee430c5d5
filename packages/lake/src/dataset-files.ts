import { createHash } from 'node:crypto';
import { type Fields, type Schema, TributaryError } from '@tributary/core';
import type { WriteDatasetResult } from './dataset.js';
import { datasetError, discardStaged, type RecoveryResult, stagingPrefix } from './dataset-commit.js';
import { abandonStaged, type StagedFile, stageFile } from './file-writer.js';
import type { FileFormat, RecordWriter, WriterOptions } from './formats/types.js';
import type { IcebergCommit } from './iceberg/table.js';
import type { Storage } from './storage.js';

// What a write and a compaction of a hive table share: the names and staging of the files they
// add, what a failed one leaves behind, and the result of an Iceberg one.

/** Where and how a write's files are made. */
export interface DataFilePlan {
  storage: Storage;
  /** The table's prefix (`tablePrefix(table)`). */
  prefix: string;
  writeId: string;
  format: FileFormat;
  fileSchema: Schema<Fields>;
  formatOptions: WriterOptions | undefined;
}

/** A stable UUID-shaped name from the write id and the file's place, so re-runs reuse names. */
function fileId(writeId: string, partition: string, index: number): string {
  const h = createHash('sha256').update(`${writeId}\0${partition}\0${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Start the `index`th file of a partition, staged under the table's staging prefix until the
 * commit moves it to its final key: `<partition>part-<index>-<id><extension>`.
 */
export function stageDataFile(plan: DataFilePlan, partition: string, index: number): StagedFile {
  const { storage, prefix, writeId, format, fileSchema, formatOptions } = plan;
  const name = `part-${String(index).padStart(5, '0')}-${fileId(writeId, partition, index)}${format.extension(formatOptions)}`;
  return stageFile(
    storage,
    (sink) => format.createWriter(sink, fileSchema, formatOptions) as RecordWriter<Record<string, unknown>>,
    `${stagingPrefix(prefix, writeId)}${partition}${name}`,
    `${prefix}${partition}${name}`,
  );
}

/** The error a failed write rejects with, once its staged files are gone. */
export async function failWrite(
  plan: Pick<DataFilePlan, 'storage' | 'prefix' | 'writeId'>,
  table: string,
  open: Iterable<StagedFile>,
  err: unknown,
): Promise<never> {
  await abandonStaged(open, err);
  // Nothing staged survives a failed write; a failure to clean up must not hide the cause.
  await discardStaged(plan.storage, plan.prefix, plan.writeId).catch(() => {});
  throw TributaryError.isInstance(err)
    ? err
    : datasetError(`Writing ${table} failed: ${(err as Error)?.message ?? String(err)}`, { table }, err);
}

/** The result of an Iceberg write or compaction, in `writeDataset`'s terms. */
export function fromIceberg(
  result: IcebergCommit,
  extra: Partial<WriteDatasetResult> & { writeId: string },
): WriteDatasetResult {
  const recovery: Omit<RecoveryResult, 'manifest'> = {
    rolledForward: false,
    removedStaging: [],
    removedTemporary: [],
  };
  return {
    version: result.version,
    files: result.added,
    partitions: [...new Set(result.added.map((f) => f.partition))].sort(),
    rows: result.added.reduce((n, f) => n + f.rows, 0),
    invalid: [],
    invalidCount: 0,
    removed: result.removed,
    recovery,
    snapshotId: result.snapshotId,
    ...extra,
  };
}
