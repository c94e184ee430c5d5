import { createHash, randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import {
  defineSchema,
  type EventListener,
  emitSafely,
  encodeNdjsonLine,
  type Fields,
  type Schema,
  TributaryError,
  type ValidationIssue,
} from '@tributary/core';
import { formatFor, formatOfKey } from './formats/registry.js';
import type { FileFormat, FormatName, RecordWriter, WriterOptions } from './formats/types.js';
import { type PartitionSpec, parsePartitions, partitionPath, partitionValuesOf } from './partitions.js';
import { compareKeys, type ObjectInfo, type Storage } from './storage.js';

/** How a write combines with what the table already holds. */
export type WriteMode = 'append' | 'overwrite' | 'overwrite_partitions';

/** One committed data file of a table. */
export interface DatasetFile {
  /** Key relative to the zone, e.g. `sensors/dt=2026-11-23/hour=10/part-00000-<uuid>.parquet`. */
  key: string;
  /** `dt=2026-11-23/hour=10/`, or '' for an unpartitioned table. */
  partition: string;
  rows: number;
  bytes: number;
}

/** A snapshot of a table: the files a reader may see. Stored as `<table>/_manifests/v<version>.json`. */
export interface Manifest {
  format: 'tributary-manifest';
  version: number;
  writeId: string;
  mode: WriteMode | 'compact';
  committedAt: string;
  /** Every committed file, final keys. */
  files: DatasetFile[];
  /** Files this commit brings in, from their staging keys: promoted after the manifest is written. */
  staged: { from: string; to: string }[];
  /** Files this commit replaced: deleted after promotion. */
  removed: string[];
  /** Partition columns that hold a field of the schema (left out of the files), so readers can put them back. */
  fieldPartitions?: { name: string; field: string }[];
}

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
  /** Where invalid records go with `invalid: 'error-table'`. Default `_errors/<table>`. */
  errorTable?: string;
  /**
   * Names this write. File names derive from it, so running the same write again after a crash
   * replaces its half-written files instead of adding new ones. Default: a random UUID.
   */
  writeId?: string;
  onEvent?: EventListener;
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
}

const MANIFESTS = '_manifests';
const STAGING = '_staging';

function datasetError(
  message: string,
  context: Record<string, unknown> = {},
  cause?: unknown,
): TributaryError {
  return new TributaryError(message, { code: 'DATASET_FAILED', context, cause });
}

function tablePrefix(table: string): string {
  const clean = table.replace(/^\/+|\/+$/g, '');
  if (
    clean === '' ||
    clean.split('/').some((s) => s === '' || s === '.' || s === '..' || s.startsWith('_'))
  ) {
    throw new TributaryError(`Invalid table path ${JSON.stringify(table)}`, {
      code: 'DATASET_INVALID',
      context: { table },
    });
  }
  return `${clean}/`;
}

function manifestKey(prefix: string, version: number): string {
  return `${prefix}${MANIFESTS}/v${String(version).padStart(10, '0')}.json`;
}

/** A stable UUID-shaped name from the write id and the file's place, so re-runs reuse names. */
function fileId(writeId: string, partition: string, index: number): string {
  const h = createHash('sha256').update(`${writeId}\0${partition}\0${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The latest committed manifest of a table, or `undefined` when the table has none (never
 * written by `writeDataset`, or only by crashed writes).
 *
 * @example
 * ```ts
 * const manifest = await readManifest(lake.processed, 'sensors');
 * console.log(manifest?.files.length);
 * ```
 */
export async function readManifest(storage: Storage, table: string): Promise<Manifest | undefined> {
  const prefix = tablePrefix(table);
  let latest: ObjectInfo | undefined;
  for await (const object of storage.list(`${prefix}${MANIFESTS}/v`)) {
    if (object.key.endsWith('.json')) latest = object;
  }
  if (!latest) return undefined;
  const manifest = JSON.parse(Buffer.from(await storage.getBytes(latest.key)).toString('utf8')) as Manifest;
  if (manifest.format !== 'tributary-manifest') {
    throw datasetError(`${latest.key} is not a tributary manifest`, { key: latest.key });
  }
  return manifest;
}

/**
 * Finish what an interrupted commit left: promote staged files of the latest manifest and delete
 * what it replaced. Idempotent; `writeDataset` calls it before writing.
 */
export async function recoverDataset(storage: Storage, table: string): Promise<Manifest | undefined> {
  const manifest = await readManifest(storage, table);
  if (manifest) await promote(storage, tablePrefix(table), manifest);
  return manifest;
}

async function promote(storage: Storage, prefix: string, manifest: Manifest): Promise<void> {
  for (const { from, to } of manifest.staged) {
    if (await storage.head(to)) continue;
    const staged = await storage.head(from);
    if (!staged) {
      throw datasetError(`Committed file ${to} is missing, and so is its staged copy ${from}`, { key: to });
    }
    if (storage.copy) await storage.copy(from, to);
    else await storage.put(to, await storage.get(from), { expectedSize: staged.size });
  }
  const leftovers = [...manifest.removed, ...manifest.staged.map((s) => s.from)];
  // Also whatever an earlier, crashed attempt of the same write staged and this one did not.
  for await (const object of storage.list(`${prefix}${STAGING}/${manifest.writeId}/`))
    leftovers.push(object.key);
  if (leftovers.length > 0) await storage.delete(new Set(leftovers));
}

interface OpenFile {
  partition: string;
  index: number;
  stagingKey: string;
  finalKey: string;
  writer: RecordWriter<Record<string, unknown>>;
  upload: Promise<ObjectInfo>;
}

/**
 * Write records as a table of the lake: validated against the schema, split into hive
 * partitions, rolled into files by rows or bytes, and committed atomically by a manifest.
 * Until the commit, files sit under `<table>/_staging/`, which Hive, Spark, Athena and the
 * lake's readers ignore; a crash before the commit leaves the table as it was, and running the
 * same write (same `writeId`) again commits cleanly. `overwrite` and `overwrite_partitions`
 * switch snapshots in the same single step, so a failed overwrite leaves the old data in place.
 *
 * @example
 * ```ts
 * const result = await writeDataset(readings, {
 *   storage: lake.processed,
 *   table: 'sensors',
 *   schema: sensorReadingSchema,
 *   partitionBy: byHour('timestamp'),
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
  const prefix = tablePrefix(options.table);
  const format: FileFormat = formatFor(options.format ?? 'parquet');
  if (!['append', 'overwrite', 'overwrite_partitions'].includes(mode)) {
    throw new TributaryError(`Unknown write mode ${JSON.stringify(mode)}`, { code: 'DATASET_INVALID' });
  }
  if (
    !(maxRowsPerFile >= 1) ||
    !(targetFileBytes >= 1) ||
    !(Number.isInteger(maxOpenFiles) && maxOpenFiles >= 1)
  ) {
    throw new TributaryError('maxRowsPerFile, targetFileBytes and maxOpenFiles must be positive', {
      code: 'DATASET_INVALID',
    });
  }
  const fieldPartitions = new Set(partitionBy.flatMap((p) => (p.field ? [p.field] : [])));
  // Files hold the schema's columns minus the partition fields, which live in the paths.
  const fileSchema = fieldPartitions.size === 0 ? schema : withoutFields(schema, fieldPartitions);
  const extension = format.extension(formatOptions);
  const source = `dataset:${options.table}`;

  const previous = await recoverDataset(storage, options.table);
  const open = new Map<string, OpenFile>();
  // Only what the commit needs: holding the closed writers would keep their buffers alive.
  const closed: (DatasetFile & { stagingKey: string })[] = [];
  const fileCounts = new Map<string, number>();
  const invalidRecords: InvalidRecord[] = [];
  let invalidCount = 0;
  let rows = 0;
  const errorLines: string[] = [];

  const closeFile = async (file: OpenFile) => {
    open.delete(file.partition);
    const stats = await file.writer.close();
    await file.upload;
    closed.push({
      key: file.finalKey,
      partition: file.partition,
      rows: stats.rows,
      bytes: stats.bytes,
      stagingKey: file.stagingKey,
    });
    emitSafely(onEvent, {
      type: 'flush',
      source,
      count: stats.rows,
      bytes: stats.bytes,
      reason: 'file',
      target: file.finalKey,
      time: Date.now(),
    });
  };

  const openFile = (partition: string): OpenFile => {
    const index = fileCounts.get(partition) ?? 0;
    fileCounts.set(partition, index + 1);
    const name = `part-${String(index).padStart(5, '0')}-${fileId(writeId, partition, index)}${extension}`;
    const stagingKey = `${prefix}${STAGING}/${writeId}/${partition}${name}`;
    const sink = new PassThrough();
    const writer = format.createWriter(sink, fileSchema, formatOptions) as RecordWriter<
      Record<string, unknown>
    >;
    const upload = storage.put(stagingKey, sink);
    // Surface an upload failure through the writer's next write instead of an unhandled rejection.
    upload.catch((err) => sink.destroy(err instanceof Error ? err : new Error(String(err))));
    const file: OpenFile = {
      partition,
      index,
      stagingKey,
      finalKey: `${prefix}${partition}${name}`,
      writer,
      upload,
    };
    open.set(partition, file);
    return file;
  };

  try {
    for await (const input of records) {
      const result = schema.validate(input);
      if (!result.ok) {
        invalidCount++;
        if (invalid === 'error-table') {
          errorLines.push(encodeNdjsonLine({ writeId, issues: result.issues, record: safeRecord(input) }));
        } else invalidRecords.push({ record: input, issues: result.issues });
        continue;
      }
      const record = result.value as Record<string, unknown>;
      const partition = partitionPath(partitionValuesOf(partitionBy, record));
      let file = open.get(partition);
      if (!file) {
        if (open.size >= maxOpenFiles) {
          // Close the file that has been open longest: memory stays bounded by maxOpenFiles writers.
          const oldest = open.values().next().value as OpenFile;
          await closeFile(oldest);
        }
        file = openFile(partition);
      }
      if (fieldPartitions.size > 0) {
        const slim: Record<string, unknown> = {};
        for (const key in record) if (!fieldPartitions.has(key)) slim[key] = record[key];
        await file.writer.write(slim);
      } else {
        await file.writer.write(record);
      }
      rows++;
      if (file.writer.rows >= maxRowsPerFile || file.writer.estimatedBytes >= targetFileBytes)
        await closeFile(file);
    }
    for (const file of [...open.values()]) await closeFile(file);
  } catch (err) {
    // Staged files are invisible; leave them for a re-run with the same writeId to replace.
    await Promise.allSettled([...open.values()].map((f) => f.upload));
    throw TributaryError.isInstance(err)
      ? err
      : datasetError(
          `Writing ${options.table} failed: ${(err as Error).message}`,
          { table: options.table },
          err,
        );
  }

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
  };
}

async function commit(storage: Storage, prefix: string, manifest: Manifest): Promise<void> {
  const key = manifestKey(prefix, manifest.version);
  if (await storage.head(key)) {
    throw new TributaryError(`Another write committed version ${manifest.version} of ${prefix} first`, {
      code: 'DATASET_CONFLICT',
      retryable: true,
      context: { key },
    });
  }
  // This put is the commit point: before it the old snapshot holds, after it the new one does.
  await storage.put(key, `${JSON.stringify(manifest, null, 1)}\n`, { contentType: 'application/json' });
  await promote(storage, prefix, manifest);
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
}

/**
 * The committed files of a table: from its manifest, or — for a table written by another tool
 * (Firehose, Spark) — every data file under it, skipping `_`- and `.`-prefixed paths.
 */
export async function listDatasetFiles(storage: Storage, table: string): Promise<DatasetFile[]> {
  const manifest = await readManifest(storage, table);
  if (manifest) return manifest.files;
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
 * for await (const r of readDataset({ storage: lake.processed, table: 'sensors', schema, partitions: { dt: '2026-11-23' } })) {
 *   console.log(r.id);
 * }
 * ```
 */
export async function* readDataset<F extends Fields>(
  options: ReadDatasetOptions<F>,
): AsyncGenerator<Schema<F>['$record']> {
  const { storage, schema, partitions } = options;
  const manifest = await readManifest(storage, options.table);
  const staged = new Map((manifest?.staged ?? []).map((s) => [s.to, s.from]));
  const files = manifest ? manifest.files : await listDatasetFiles(storage, options.table);
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
    const format = formatOfKey(file.key);
    if (!format) continue;
    // A commit whose promotion was interrupted: its files are still at their staged keys.
    const key =
      staged.has(file.key) && !(await storage.head(file.key)) ? (staged.get(file.key) as string) : file.key;
    for await (const record of format.read(storage, key, fileSchema, { signal: options.signal })) {
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
}

/**
 * Merge a partition's small files into as few files as the size target allows, committed like
 * any write: readers see the old files or the new ones, never both or neither.
 *
 * @example
 * ```ts
 * await compact({ storage: lake.processed, table: 'sensors', schema, partition: 'dt=2026-11-23/hour=10/' });
 * ```
 */
export async function compact<F extends Fields>(options: CompactOptions<F>): Promise<WriteDatasetResult> {
  const { storage, schema, partition } = options;
  const manifest = await recoverDataset(storage, options.table);
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
    };
  }
  const prefix = tablePrefix(options.table);
  const writeId = options.writeId ?? randomUUID();
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
  let current:
    | { writer: RecordWriter<Record<string, unknown>>; upload: Promise<ObjectInfo>; from: string; to: string }
    | undefined;
  const finish = async () => {
    if (!current) return;
    const stats = await current.writer.close();
    await current.upload;
    added.push({ key: current.to, partition, rows: stats.rows, bytes: stats.bytes });
    staged.push({ from: current.from, to: current.to });
    current = undefined;
  };
  let rows = 0;
  for (const file of inputs) {
    for await (const record of formatOfKey(file.key)?.read(storage, file.key, fileSchema) ?? []) {
      if (!current) {
        const name = `part-${String(index).padStart(5, '0')}-${fileId(writeId, partition, index)}${extension}`;
        index++;
        const sink = new PassThrough();
        const from = `${prefix}${STAGING}/${writeId}/${partition}${name}`;
        const upload = storage.put(from, sink);
        upload.catch((err) => sink.destroy(err instanceof Error ? err : new Error(String(err))));
        current = {
          writer: format.createWriter(sink, fileSchema, options.formatOptions) as RecordWriter<
            Record<string, unknown>
          >,
          upload,
          from,
          to: `${prefix}${partition}${name}`,
        };
      }
      await current.writer.write(record as Record<string, unknown>);
      rows++;
      if (current.writer.rows >= maxRows || current.writer.estimatedBytes >= target) await finish();
    }
  }
  await finish();
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
  };
}
