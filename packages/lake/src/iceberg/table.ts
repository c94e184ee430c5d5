import { randomUUID } from 'node:crypto';
import {
  type EventListener,
  emitSafely,
  encodeNdjsonLine,
  type Fields,
  OptionsError,
  optionChecks,
  type Schema,
  type ValidationIssue,
} from '@tributary/core';
import { datasetError, tablePrefix } from '../dataset-commit.js';
import { checkFileLimits, emitFileFlushed, writeFiles } from '../file-writer.js';
import type { WriterOptions } from '../formats/types.js';
import type { PartitionSpec } from '../partitions.js';
import type { Storage } from '../storage.js';
import { catalogFor, type IcebergCatalog, locationOf, tableName } from './catalog.js';
import {
  type Change,
  commitChange,
  committedBy,
  type IcebergCommit,
  mayHaveCommitted,
  planOnTable,
  replan,
} from './commit.js';
import { dataFileOf, dataFileWriter } from './data-file.js';
import { IcebergError } from './errors.js';
import type { DataFile } from './manifest.js';
import { defaultSpec, newTableMetadata } from './metadata.js';
import {
  type IcebergPartitionSpec,
  type PartitionValue,
  partitioner,
  planPartitionSpec,
  sameSpec,
} from './schema.js';

// Writing an Iceberg table; reading and compacting it live next door and are exported from here
// too (the lake's entry points import them from this module).
export { type IcebergCommit, WRITE_ID_PROPERTY } from './commit.js';
export { compactIceberg, type IcebergCompactOptions } from './compact.js';
export { type IcebergReadOptions, type IcebergScan, readIceberg, scanIceberg } from './read.js';

const check = optionChecks('writeIceberg', 'ICEBERG_OPTIONS_INVALID');

/** How a write changes an Iceberg table. */
export type IcebergWriteMode = 'append' | 'overwrite' | 'overwrite_partitions';

/** The records that failed the schema, as `writeDataset` reports them. */
interface Refused {
  record: unknown;
  issues: ValidationIssue[];
}

export interface IcebergWriteOptions<F extends Fields> {
  storage: Storage;
  table: string;
  schema: Schema<F>;
  partitionBy?: readonly PartitionSpec[];
  mode?: IcebergWriteMode;
  maxRowsPerFile?: number;
  targetFileBytes?: number;
  maxOpenFiles?: number;
  formatOptions?: WriterOptions;
  invalid?: 'return' | 'error-table';
  errorTable?: string;
  writeId?: string;
  onEvent?: EventListener;
  /** Where the table is registered. Default: the storage itself (Hadoop layout, `version-hint.text`). */
  catalog?: IcebergCatalog;
  /** Table properties set when the table is created. */
  properties?: Record<string, string>;
}

export interface IcebergWriteResult extends IcebergCommit {
  writeId: string;
  /**
   * The table already had a snapshot of this `writeId` (a run after a crash that came after the
   * commit): nothing was read or written, and `snapshotId` and `rows` are that snapshot's.
   */
  alreadyCommitted?: boolean;
  rows: number;
  partitions: string[];
  invalid: Refused[];
  invalidCount: number;
}

/**
 * Write records as an Iceberg (format version 2) table: the write's data files go straight to
 * `<table>/data/<partition>/`, then one commit makes them visible to every engine at once. Until
 * the commit no reader sees them; a write that fails deletes them, and what a killed process
 * left is removed by {@link removeOrphanFiles}.
 */
export async function writeIceberg<F extends Fields>(
  records: AsyncIterable<unknown> | Iterable<unknown>,
  options: IcebergWriteOptions<F>,
): Promise<IcebergWriteResult> {
  const {
    storage,
    schema,
    partitionBy = [],
    mode = 'append',
    maxRowsPerFile = Number.POSITIVE_INFINITY,
    targetFileBytes = 128 * 1024 * 1024,
    maxOpenFiles = 8,
    formatOptions,
    invalid = 'return',
    writeId = randomUUID(),
    onEvent,
  } = options;
  const table = tableName(options.table);
  check.oneOf('mode', mode, ['append', 'overwrite', 'overwrite_partitions']);
  checkFileLimits(
    { maxRowsPerFile, targetFileBytes, maxOpenFiles },
    (message, option) => new OptionsError(message, { code: 'ICEBERG_OPTIONS_INVALID', option }),
  );
  const catalog = catalogFor(options);
  const base = await catalog.load(table);
  const baseMetadata = base?.metadata;
  const done = committedBy(baseMetadata, options.writeId);
  if (done && base) {
    // Run again after a crash that came after its commit: the write is in the table already.
    return {
      writeId,
      snapshotId: String(done['snapshot-id']),
      version: Number(base.version),
      metadataLocation: base.metadataLocation,
      added: [],
      removed: [],
      rows: Number(done.summary['added-records'] ?? 0),
      partitions: [],
      invalid: [],
      invalidCount: 0,
      alreadyCommitted: true,
    };
  }
  const schemaPlan = planOnTable(schema, baseMetadata);
  const wanted = planPartitionSpec(partitionBy, schemaPlan.schema);
  const spec = baseMetadata ? defaultSpec(baseMetadata) : wanted;
  if (baseMetadata && !sameSpec(spec, wanted)) {
    const show = (s: IcebergPartitionSpec) =>
      s.fields.map((f) => `${f.transform}(${f['source-id']})`).join(', ') || 'none';
    throw new IcebergError(
      `${table} is partitioned by [${show(spec)}], the write by [${show(wanted)}]: partition spec evolution is not supported`,
      { code: 'ICEBERG_SPEC_MISMATCH', context: { table } },
    );
  }
  const create = () =>
    newTableMetadata({
      location: locationOf(storage, table),
      schema: schemaPlan.schema,
      lastColumnId: schemaPlan.lastColumnId,
      spec,
      ...(options.properties ? { properties: options.properties } : {}),
    });

  const partitionOf = partitioner(spec, schemaPlan.schema);
  const valuesByPath = new Map<string, PartitionValue[]>();
  const invalidRecords: Refused[] = [];
  let invalidCount = 0;
  const errorLines: string[] = [];
  const added: DataFile[] = [];
  const addedInfo: IcebergCommit['added'] = [];
  const source = `iceberg:${table}`;
  const files = dataFileWriter(storage, table, schema, {
    writeId,
    fieldIds: schemaPlan.fieldIds,
    formatOptions,
  });
  const cleanup = async () => {
    await storage.delete(files.opened).catch(() => {});
  };
  let rows: number;
  try {
    rows = await writeFiles(records, {
      schema,
      partitionOf: (record) => {
        const { values, path } = partitionOf(record);
        if (!valuesByPath.has(path)) valuesByPath.set(path, values);
        return path;
      },
      open: files.open,
      maxRowsPerFile,
      targetFileBytes,
      maxOpenFiles,
      refuse: (input, issues) => {
        invalidCount++;
        if (invalid === 'error-table') errorLines.push(encodeNdjsonLine({ writeId, issues, record: input }));
        else invalidRecords.push({ record: input, issues });
      },
      closed: (file, partition, stats) => {
        const values = valuesByPath.get(partition) ?? [];
        const byName = Object.fromEntries(spec.fields.map((f, i) => [f.name, values[i] ?? null]));
        added.push(dataFileOf(storage, file.finalKey, stats, schemaPlan.schema, byName));
        addedInfo.push({ key: file.finalKey, partition, rows: stats.rows, bytes: stats.bytes });
        emitFileFlushed(onEvent, source, file.finalKey, stats);
      },
    });
    if (errorLines.length > 0) {
      const errorTable = tablePrefix(options.errorTable ?? `errors/${options.table}`);
      await storage.put(`${errorTable}part-${writeId}.ndjson`, errorLines.join(''));
      emitSafely(onEvent, {
        type: 'failure',
        source,
        count: invalidCount,
        code: 'VALIDATION_FAILED',
        time: Date.now(),
      });
    }
  } catch (err) {
    await cleanup();
    throw err instanceof IcebergError || (err as { code?: string })?.code
      ? err
      : datasetError(`Writing ${table} failed: ${(err as Error)?.message ?? String(err)}`, { table }, err);
  }

  const touched = new Set(addedInfo.map((f) => f.partition));
  const change: Change =
    mode === 'append'
      ? { operation: 'append', added, spec, writeId }
      : mode === 'overwrite'
        ? { operation: 'overwrite', added, spec, writeId, removes: () => true }
        : {
            operation: 'overwrite',
            added,
            spec,
            writeId,
            removes: (_file, path) => touched.has(path),
            extraSummary: { 'replace-partitions': 'true' },
          };
  let committed: Awaited<ReturnType<typeof commitChange>>;
  try {
    committed = await commitChange(
      { catalog, table, create, plan: replan(schema, schemaPlan), change },
      base,
    );
  } catch (err) {
    if (!mayHaveCommitted(err)) await cleanup();
    throw err;
  }
  emitSafely(onEvent, { type: 'records.out', source, count: rows, time: Date.now() });
  return {
    writeId,
    snapshotId: String(committed.snapshot['snapshot-id']),
    version: Number(committed.loaded.version),
    metadataLocation: committed.loaded.metadataLocation,
    added: addedInfo.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    removed: committed.removed,
    rows,
    partitions: [...touched].sort(),
    invalid: invalid === 'return' ? invalidRecords : [],
    invalidCount,
  };
}
