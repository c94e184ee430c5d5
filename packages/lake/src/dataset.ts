import { createHash, randomUUID } from 'node:crypto';
import {
  defineSchema,
  type EventListener,
  emitSafely,
  encodeNdjsonLine,
  type Fields,
  OptionsError,
  type Schema,
  TributaryError,
  type ValidationIssue,
} from '@tributary/core';
import {
  commit,
  committedManifest,
  type DatasetFile,
  datasetError,
  discardStaged,
  type Manifest,
  type RecoveryResult,
  readManifest,
  recoverDataset,
  stagingPrefix,
  tablePrefix,
  type WriteMode,
} from './dataset-commit.js';
import {
  abandonStaged,
  checkFileLimits,
  emitFileFlushed,
  finishStaged,
  type StagedFile,
  stageFile,
  writeFiles,
} from './file-writer.js';
import { formatFor, formatOfKey } from './formats/registry.js';
import type { FileFormat, FormatName, RecordWriter, WriterOptions } from './formats/types.js';
import type { IcebergCatalog } from './iceberg/catalog.js';
import {
  compactIceberg,
  type IcebergCommit,
  readIceberg,
  scanIceberg,
  writeIceberg,
} from './iceberg/table.js';
import {
  checkPartitionName,
  type PartitionSpec,
  parsePartitions,
  partitionPath,
  partitionValuesOf,
} from './partitions.js';
import { compareKeys, type Storage } from './storage.js';

export type {
  DatasetFile,
  Manifest,
  RecoverDatasetOptions,
  RecoveryResult,
  WriteMode,
} from './dataset-commit.js';
export { readManifest, recoverDataset } from './dataset-commit.js';

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

/** How a table's files and commits are laid out. */
export type LakeTableFormat = 'hive' | 'iceberg';

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

const NO_RECOVERY: Omit<RecoveryResult, 'manifest'> = Object.freeze({
  rolledForward: false,
  removedStaging: [],
  removedTemporary: [],
}) as Omit<RecoveryResult, 'manifest'>;

function fromIceberg(
  result: IcebergCommit,
  extra: Partial<WriteDatasetResult> & { writeId: string },
): WriteDatasetResult {
  return {
    version: result.version,
    files: result.added,
    partitions: [...new Set(result.added.map((f) => f.partition))].sort(),
    rows: result.added.reduce((n, f) => n + f.rows, 0),
    invalid: [],
    invalidCount: 0,
    removed: result.removed,
    recovery: { ...NO_RECOVERY, removedStaging: [], removedTemporary: [] },
    snapshotId: result.snapshotId,
    ...extra,
  };
}

/** A stable UUID-shaped name from the write id and the file's place, so re-runs reuse names. */
function fileId(writeId: string, partition: string, index: number): string {
  const h = createHash('sha256').update(`${writeId}\0${partition}\0${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The error a failed write rejects with, once its staged files are gone. */
async function failWrite(
  storage: Storage,
  prefix: string,
  writeId: string,
  table: string,
  open: Iterable<StagedFile>,
  err: unknown,
): Promise<never> {
  await abandonStaged(open, err);
  // Nothing staged survives a failed write; a failure to clean up must not hide the cause.
  await discardStaged(storage, prefix, writeId).catch(() => {});
  throw TributaryError.isInstance(err)
    ? err
    : datasetError(`Writing ${table} failed: ${(err as Error)?.message ?? String(err)}`, { table }, err);
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
  if (options.tableFormat === 'iceberg') {
    if (options.format !== undefined && options.format !== 'parquet') {
      throw new OptionsError(`Iceberg tables hold Parquet files, not ${options.format}`, {
        code: 'DATASET_OPTIONS_INVALID',
        option: 'format',
      });
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
  if (options.tableFormat !== undefined && options.tableFormat !== 'hive') {
    throw new OptionsError(`Unknown table format ${JSON.stringify(options.tableFormat)}: hive or iceberg`, {
      code: 'DATASET_OPTIONS_INVALID',
      option: 'tableFormat',
    });
  }
  const prefix = tablePrefix(options.table);
  const format: FileFormat = formatFor(options.format ?? 'parquet');
  if (!['append', 'overwrite', 'overwrite_partitions'].includes(mode)) {
    throw new OptionsError(`Unknown write mode ${JSON.stringify(mode)}`, {
      code: 'DATASET_OPTIONS_INVALID',
      option: 'mode',
    });
  }
  checkFileLimits({ maxRowsPerFile, targetFileBytes, maxOpenFiles });
  const fieldPartitions = new Set(partitionBy.flatMap((p) => (p.field ? [p.field] : [])));
  // Files hold the schema's columns minus the partition fields, which live in the paths.
  const fileSchema = fieldPartitions.size === 0 ? schema : withoutFields(schema, fieldPartitions);
  const extension = format.extension(formatOptions);
  const source = `dataset:${options.table}`;

  for (const spec of partitionBy) checkPartitionName(spec.name);

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
      partitionOf: (record) => partitionPath(partitionValuesOf(partitionBy, record)),
      open: (partition, index) => {
        const name = `part-${String(index).padStart(5, '0')}-${fileId(writeId, partition, index)}${extension}`;
        return stageFile(
          storage,
          (sink) =>
            format.createWriter(sink, fileSchema, formatOptions) as RecordWriter<Record<string, unknown>>,
          `${stagingPrefix(prefix, writeId)}${partition}${name}`,
          `${prefix}${partition}${name}`,
        );
      },
      ...(fieldPartitions.size > 0
        ? {
            project: (record: Record<string, unknown>) => {
              const slim: Record<string, unknown> = {};
              for (const key in record) if (!fieldPartitions.has(key)) slim[key] = record[key];
              return slim;
            },
          }
        : {}),
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
    return failWrite(storage, prefix, writeId, options.table, [], err);
  }

  if (errorLines.length > 0) {
    const errorTable = tablePrefix(options.errorTable ?? `errors/${options.table}`);
    try {
      await storage.put(`${errorTable}part-${writeId}.ndjson`, errorLines.join(''));
    } catch (err) {
      return failWrite(storage, prefix, writeId, options.table, [], err);
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
    fieldPartitions: partitionBy.flatMap((p) => (p.field ? [{ name: p.name, field: p.field }] : [])),
  };
  await commit(storage, prefix, manifest);
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

/** The schema of the files of a field-partitioned table: the partition fields live in the paths. */
function withoutFields<F extends Fields>(schema: Schema<F>, drop: Set<string>): Schema<F> {
  const fields = Object.fromEntries(Object.entries(schema.fields).filter(([name]) => !drop.has(name)));
  return defineSchema(fields, { unknownFields: schema.unknownFields }) as unknown as Schema<F>;
}

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
function partitionsNamingFields(
  files: readonly DatasetFile[],
  schema: Schema<Fields>,
): { name: string; field: string }[] {
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
  const fieldPartitions: { name: string; field?: string }[] = options.partitionBy
    ? options.partitionBy.filter((p) => p.field)
    : manifest
      ? (manifest.fieldPartitions ?? [])
      : partitionsNamingFields(files, schema);
  const fileSchema =
    fieldPartitions.length === 0
      ? schema
      : withoutFields(schema, new Set(fieldPartitions.map((p) => p.field as string)));
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
      for (const p of fieldPartitions) full[p.field as string] = values[p.name] ?? null;
      const result = schema.validate(full);
      if (!result.ok)
        throw datasetError(`Partition values of ${file.key} do not fit the schema`, { key: file.key });
      yield result.value;
    }
  }
}

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
  const prefix = tablePrefix(options.table);
  const format = formatFor(options.format ?? formatOfKey(inputs[0]?.key ?? '')?.name ?? 'parquet');
  // Field partitions live in the paths, not in the files: read and write the files without them.
  const fieldPartitions = manifest.fieldPartitions ?? [];
  const fileSchema =
    fieldPartitions.length === 0
      ? schema
      : withoutFields(schema, new Set(fieldPartitions.map((p) => p.field)));
  const extension = format.extension(options.formatOptions);
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
        if (!current) {
          const name = `part-${String(index).padStart(5, '0')}-${fileId(writeId, partition, index)}${extension}`;
          index++;
          current = stageFile(
            storage,
            (sink) =>
              format.createWriter(sink, fileSchema, options.formatOptions) as RecordWriter<
                Record<string, unknown>
              >,
            `${stagingPrefix(prefix, writeId)}${partition}${name}`,
            `${prefix}${partition}${name}`,
          );
        }
        await current.writer.write(record as Record<string, unknown>);
        rows++;
        if (current.writer.rows >= maxRows || current.writer.estimatedBytes >= target) await finish();
      }
    }
    await finish();
  } catch (err) {
    return failWrite(storage, prefix, writeId, options.table, current ? [current] : [], err);
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
  await commit(storage, prefix, next);
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
