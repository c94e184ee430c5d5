import { randomUUID } from 'node:crypto';
import {
  type EventListener,
  emitSafely,
  encodeNdjsonLine,
  type Fields,
  optionChecks,
  type Schema,
  type ValidationIssue,
} from '@tributary/core';
import {
  commit,
  type DatasetFile,
  type Manifest,
  type RecoveryResult,
  recoverDataset,
  tablePrefix,
  type WriteMode,
} from './dataset-commit.js';
import { type DataFilePlan, failWrite, fromIceberg, stageDataFile } from './dataset-files.js';
import { hivePlacement } from './dataset-partitioning.js';
import { checkFileLimits, emitFileFlushed, writeFiles } from './file-writer.js';
import { formatFor } from './formats/registry.js';
import type { FormatName, WriterOptions } from './formats/types.js';
import type { IcebergCatalog } from './iceberg/catalog.js';
import { writeIceberg } from './iceberg/table.js';
import type { PartitionSpec } from './partitions.js';
import { compareKeys, type Storage } from './storage.js';
import { checkTableFormat, type LakeTableFormat } from './table-format.js';

// Writing a table: writeDataset. Reading it back and compacting it live beside it
// (dataset-read.ts, dataset-compact.ts), the commit protocol in dataset-commit.ts; this module
// re-exports them all.

export type {
  DatasetFile,
  Manifest,
  RecoverDatasetOptions,
  RecoveryResult,
  WriteMode,
} from './dataset-commit.js';
export { readManifest, recoverDataset } from './dataset-commit.js';
export type { CompactOptions } from './dataset-compact.js';
export { compact } from './dataset-compact.js';
export type { ReadDatasetOptions } from './dataset-read.js';
export { listDatasetFiles, readDataset } from './dataset-read.js';
export type { LakeTableFormat } from './table-format.js';

const check = optionChecks('writeDataset', 'DATASET_OPTIONS_INVALID');

export interface InvalidRecord {
  record: unknown;
  issues: ValidationIssue[];
}

export interface WriteDatasetOptions<F extends Fields> {
  /** The zone's storage (e.g. `lake.processed`). */
  storage: Storage;
  /** The table's folder in the zone, e.g. `sensors` or `coinmarketcap/quote`. */
  table: string;
  schema: Schema<F>;
  partitionBy?: readonly PartitionSpec[];
  format?: FormatName;
  mode?: WriteMode;
  /** Start a new file after this many rows. */
  maxRowsPerFile?: number;
  /** Start a new file once a file reaches about this many bytes. Default 128 MiB. */
  targetFileBytes?: number;
  /** Most files open at once (one per partition being written). Default 8. */
  maxOpenFiles?: number;
  /** Format options: gzip for NDJSON, row group bytes and compression for Parquet. */
  formatOptions?: WriterOptions;
  /**
   * Records that fail the schema: `return` them in the result (default), or `error-table`: also
   * write them as NDJSON (record, issues) under `<errorTable>/`. They are never dropped.
   */
  invalid?: 'return' | 'error-table';
  /** Where invalid records go with `invalid: 'error-table'`. Default `errors/<table>`. */
  errorTable?: string;
  /**
   * Names this write. File names derive from it, so running the same write again after a crash
   * replaces its half-written files instead of adding new ones. Default: a random UUID.
   */
  writeId?: string;
  onEvent?: EventListener;
  /**
   * `hive` (default): folders of files committed by the lake's manifest. `iceberg`: an Apache
   * Iceberg (v2) table that Athena, Spark, Glue, DuckDB and pyiceberg read as one snapshot.
   */
  tableFormat?: LakeTableFormat;
  /** Iceberg: where the table is registered (default: its storage, Hadoop layout). */
  catalog?: IcebergCatalog;
}

export interface WriteDatasetResult {
  writeId: string;
  version: number;
  files: DatasetFile[];
  partitions: string[];
  rows: number;
  invalid: InvalidRecord[];
  invalidCount: number;
  /** Files removed from the table by an overwrite. */
  removed: string[];
  /**
   * What the recovery run before the write found: an interrupted commit rolled forward, and
   * abandoned staging objects and temporary uploads removed (see `recoverDataset`).
   */
  recovery: Omit<RecoveryResult, 'manifest'>;
  /** Iceberg: the snapshot this write committed (a 63-bit id as decimal text). */
  snapshotId?: string;
}

/**
 * Write records as a table of the lake: validated against the schema, split into hive
 * partitions, rolled into files by rows or bytes, and committed atomically by a manifest.
 * Until the commit, files sit under `_tributary/<table>/_staging/`, which Hive, Spark, Athena and the
 * lake's readers ignore; a crash before the commit leaves the table as it was, and running the
 * same write (same `writeId`) again commits cleanly. `overwrite` and `overwrite_partitions`
 * switch snapshots in the same single step, so a failed overwrite leaves the old data in place.
 *
 * @example
 * ```ts
 * const result = await writeDataset(readings, {
 *   storage: lake.processed,
 *   table: 'sensors',
 *   schema: readingSchema,
 *   partitionBy: byHour('at'),
 *   format: 'parquet',
 *   mode: 'overwrite_partitions',
 * });
 * console.log(result.rows, result.files.length, result.invalidCount);
 * ```
 */
export async function writeDataset<F extends Fields>(
  records: AsyncIterable<unknown> | Iterable<unknown>,
  options: WriteDatasetOptions<F>,
): Promise<WriteDatasetResult> {
  const {
    storage,
    schema,
    partitionBy = [],
    mode = 'append',
    maxRowsPerFile = Number.POSITIVE_INFINITY,
    targetFileBytes = 128 * 1024 * 1024,
    maxOpenFiles = 8,
    formatOptions = {},
    invalid = 'return',
    writeId = randomUUID(),
    onEvent,
  } = options;
  if (checkTableFormat(check, options.tableFormat) === 'iceberg') {
    if (options.format !== undefined && options.format !== 'parquet') {
      throw check.invalid('format', options.format, '"parquet" (Iceberg tables hold Parquet files)');
    }
    const result = await writeIceberg(records, options);
    return fromIceberg(result, {
      writeId: result.writeId,
      rows: result.rows,
      partitions: result.partitions,
      invalid: result.invalid,
      invalidCount: result.invalidCount,
    });
  }
  check.oneOf('mode', mode, ['append', 'overwrite', 'overwrite_partitions']);
  checkFileLimits({ maxRowsPerFile, targetFileBytes, maxOpenFiles });
  const placement = hivePlacement(schema, partitionBy);
  const files: DataFilePlan = {
    storage,
    prefix: tablePrefix(options.table),
    writeId,
    format: formatFor(options.format ?? 'parquet'),
    fileSchema: placement.fileSchema,
    formatOptions,
  };
  const source = `dataset:${options.table}`;

  const { manifest: previous, ...recovery } = await recoverDataset(storage, options.table, {
    keepWriteId: writeId,
  });
  // Only what the commit needs: holding the closed writers would keep their buffers alive.
  const closed: (DatasetFile & { stagingKey: string })[] = [];
  const invalidRecords: InvalidRecord[] = [];
  let invalidCount = 0;
  const errorLines: string[] = [];
  const refuse = (input: unknown, issues: ValidationIssue[]) => {
    invalidCount++;
    if (invalid === 'error-table') {
      errorLines.push(encodeNdjsonLine({ writeId, issues, record: safeRecord(input) }));
    } else invalidRecords.push({ record: input, issues });
  };

  let rows: number;
  try {
    rows = await writeFiles(records, {
      schema,
      partitionOf: placement.partitionOf,
      open: (partition, index) => stageDataFile(files, partition, index),
      ...(placement.project ? { project: placement.project } : {}),
      maxRowsPerFile,
      targetFileBytes,
      maxOpenFiles,
      refuse,
      closed: (file, partition, stats) => {
        closed.push({
          key: file.finalKey,
          partition,
          rows: stats.rows,
          bytes: stats.bytes,
          stagingKey: file.stagingKey,
        });
        emitFileFlushed(onEvent, source, file.finalKey, stats);
      },
    });
  } catch (err) {
    return failWrite(files, options.table, [], err);
  }

  if (errorLines.length > 0) {
    const errorTable = tablePrefix(options.errorTable ?? `errors/${options.table}`);
    try {
      await storage.put(`${errorTable}part-${writeId}.ndjson`, errorLines.join(''));
    } catch (err) {
      return failWrite(files, options.table, [], err);
    }
    emitSafely(onEvent, {
      type: 'failure',
      source,
      count: invalidCount,
      code: 'VALIDATION_FAILED',
      time: Date.now(),
    });
  }

  const added: DatasetFile[] = closed
    .map(({ key, partition, rows: r, bytes }) => ({ key, partition, rows: r, bytes }))
    .sort((a, b) => compareKeys(a.key, b.key));
  const touched = new Set(added.map((f) => f.partition));
  const before = previous?.files ?? [];
  const kept =
    mode === 'append' ? before : mode === 'overwrite' ? [] : before.filter((f) => !touched.has(f.partition));
  const addedKeys = new Set(added.map((f) => f.key));
  const removed = before.filter((f) => !kept.includes(f) && !addedKeys.has(f.key)).map((f) => f.key);
  const manifest: Manifest = {
    format: 'tributary-manifest',
    version: (previous?.version ?? 0) + 1,
    writeId,
    mode,
    committedAt: new Date().toISOString(),
    files: [...kept.filter((f) => !addedKeys.has(f.key)), ...added],
    staged: closed.map((file) => ({ from: file.stagingKey, to: file.key })),
    removed,
    fieldPartitions: [...placement.fieldPartitions],
  };
  await commit(storage, files.prefix, manifest);
  emitSafely(onEvent, { type: 'records.out', source, count: rows, time: Date.now() });

  return {
    writeId,
    version: manifest.version,
    files: added,
    partitions: [...touched].sort(),
    rows,
    // Routed to the error table, they are not also kept in memory.
    invalid: invalid === 'return' ? invalidRecords : [],
    invalidCount,
    removed,
    recovery,
  };
}

function safeRecord(input: unknown): unknown {
  try {
    JSON.parse(encodeNdjsonLine(input));
    return input;
  } catch {
    return String(input);
  }
}
