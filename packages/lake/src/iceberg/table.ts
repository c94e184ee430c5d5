import { createHash, randomUUID } from 'node:crypto';
import {
  type EventListener,
  emitSafely,
  encodeNdjsonLine,
  type Fields,
  type Schema,
  unscaledToDecimal,
  type ValidationIssue,
} from '@tributary/core';
import { datasetError, tablePrefix } from '../dataset-commit.js';
import { checkFileLimits, emitFileFlushed, type StagedFile, stageFile, writeFiles } from '../file-writer.js';
import { readParquet } from '../formats/parquet/reader.js';
import { ParquetRecordWriter } from '../formats/parquet/writer.js';
import { DEFAULT_ROW_GROUP_BYTES } from '../formats/parquet.js';
import type { ColumnStats, FileStats, WriterOptions } from '../formats/types.js';
import type { PartitionSpec } from '../partitions.js';
import type { Storage } from '../storage.js';
import { toBound, truncateLowerBound, truncateUpperBound } from './bounds.js';
import { type IcebergCatalog, keyOf, type LoadedTable, locationOf, StorageCatalog } from './catalog.js';
import { IcebergError } from './errors.js';
import {
  type DataFile,
  decodeManifest,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  type FieldSummary,
  type ManifestEntry,
  type ManifestFile,
} from './manifest.js';
import {
  currentSchema,
  defaultSpec,
  newSnapshotId,
  newTableMetadata,
  type Snapshot,
  snapshotFor,
  type TableMetadata,
  withSnapshot,
} from './metadata.js';
import {
  humanPartitionValue,
  type IcebergList,
  type IcebergPartitionSpec,
  type IcebergSchema,
  type PartitionValue,
  partitioner,
  partitionResultType,
  partitionSourceType,
  planIcebergSchema,
  planPartitionSpec,
  type SchemaPlan,
  sameSpec,
  schemaFromIceberg,
} from './schema.js';

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

/** What an Iceberg write committed. */
export interface IcebergCommit {
  /** The new snapshot (a 63-bit id, as decimal text). */
  snapshotId: string;
  /** The catalog's version of the table after the commit (the N of `vN.metadata.json`). */
  version: number;
  /** The data files the snapshot added (storage keys). */
  added: { key: string; partition: string; rows: number; bytes: number }[];
  /** The data files it removed from the table (they stay until their snapshots expire). */
  removed: string[];
  metadataLocation: string;
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

/** The snapshot summary property naming the write that made the snapshot (its `writeId`). */
export const WRITE_ID_PROPERTY = 'tributary.write-id';

/** The snapshot a write with this id committed, if the table has it. */
function committedBy(metadata: TableMetadata | undefined, writeId: string | undefined): Snapshot | undefined {
  if (!metadata || writeId === undefined) return undefined;
  return metadata.snapshots.find((s) => s.summary[WRITE_ID_PROPERTY] === writeId);
}

/** Attempts of a commit that lost a race, as Iceberg's `commit.retry.num-retries` (4). */
const COMMIT_RETRIES = 4;

function fileId(writeId: string, partition: string, index: number): string {
  return createHash('sha256').update(`${writeId}\0${partition}\0${index}`).digest('hex').slice(0, 32);
}

function catalogFor(options: { storage: Storage; catalog?: IcebergCatalog }): IcebergCatalog {
  const catalog = options.catalog ?? new StorageCatalog(options.storage);
  if (catalog.storage !== options.storage && catalog.storage.url !== options.storage.url) {
    throw new IcebergError(`the catalog's storage (${catalog.storage.url}) is not ${options.storage.url}`, {
      code: 'ICEBERG_OPTIONS_INVALID',
    });
  }
  return catalog;
}

/**
 * Iceberg's single-value bytes of a lower or upper bound, strings truncated as the default
 * metrics mode `truncate(16)` does (an upper bound that cannot be truncated is left out).
 */
function boundBytes(
  type: string,
  value: PartitionValue | undefined,
  side: 'lower' | 'upper',
): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  // Binary values (from other writers' tables) are their own bounds.
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string' && type === 'string') {
    const bound = side === 'lower' ? truncateLowerBound(value) : truncateUpperBound(value);
    return bound === undefined ? undefined : toBound(type, bound);
  }
  return toBound(type, value);
}

/** A column statistic (decimals as unscaled integers) as a bound. */
function columnBound(
  type: string,
  value: ColumnStats['min'],
  side: 'lower' | 'upper',
): Uint8Array | undefined {
  const scale = /^decimal\(\d+,\s*(\d+)\)$/.exec(type)?.[1];
  const v =
    scale !== undefined && typeof value === 'bigint' ? unscaledToDecimal(value, Number(scale)) : value;
  return boundBytes(type, v, side);
}

/** A written Parquet file as an Iceberg data file: counts, sizes and bounds per column id. */
function dataFileOf(
  storage: Storage,
  key: string,
  stats: FileStats,
  schema: IcebergSchema,
  partition: Record<string, PartitionValue>,
): DataFile {
  const columnSizes = new Map<number, bigint>();
  const valueCounts = new Map<number, bigint>();
  const nullValueCounts = new Map<number, bigint>();
  const lowerBounds = new Map<number, Uint8Array>();
  const upperBounds = new Map<number, Uint8Array>();
  for (const column of stats.columns ?? []) {
    const f = schema.fields.find((x) => x.name === column.name);
    if (!f) continue;
    const isList = typeof f.type === 'object' && f.type.type === 'list';
    // A list's metrics belong to its element (the Parquet leaf).
    const id = isList ? (f.type as IcebergList)['element-id'] : f.id;
    columnSizes.set(id, BigInt(column.storedBytes));
    valueCounts.set(id, BigInt(column.valueCount));
    nullValueCounts.set(id, BigInt(column.nullCount));
    if (isList || typeof f.type !== 'string') continue;
    const lower = columnBound(f.type, column.min, 'lower');
    const upper = columnBound(f.type, column.max, 'upper');
    if (lower) lowerBounds.set(id, lower);
    if (upper) upperBounds.set(id, upper);
  }
  return {
    content: 0,
    filePath: locationOf(storage, key),
    fileFormat: 'PARQUET',
    partition,
    recordCount: BigInt(stats.rows),
    fileSizeInBytes: BigInt(stats.bytes),
    columnSizes,
    valueCounts,
    nullValueCounts,
    nanValueCounts: new Map(),
    lowerBounds,
    upperBounds,
    sortOrderId: 0,
  };
}

/** The live data files of a snapshot, with the sequence numbers they inherit. */
interface LiveEntry {
  entry: ManifestEntry;
  manifest: ManifestFile;
}

async function readBytes(storage: Storage, location: string): Promise<Uint8Array> {
  return storage.getBytes(keyOf(storage, location));
}

/** The manifests of a snapshot (its manifest list). */
export async function snapshotManifests(
  storage: Storage,
  snapshot: Snapshot | undefined,
): Promise<ManifestFile[]> {
  if (!snapshot) return [];
  return decodeManifestList(await readBytes(storage, snapshot['manifest-list']));
}

/**
 * Delete files (row-level deletes, merge-on-read) change what a data file holds: reading or
 * rewriting around them without applying them would bring deleted rows back, so a table that
 * has them is refused rather than misread.
 */
function refuseDeletes(manifest: ManifestFile): void {
  if (manifest.content === 0) return;
  throw new IcebergError(
    `${manifest.manifestPath} lists delete files (merge-on-read row deletes), which the lake does not apply: compact the table with an engine that does (Spark's rewrite_data_files) first`,
    { code: 'ICEBERG_UNSUPPORTED', context: { manifest: manifest.manifestPath } },
  );
}

/** The entries of a manifest, with the snapshot id and sequence numbers inherited from the list. */
async function manifestEntries(storage: Storage, manifest: ManifestFile): Promise<ManifestEntry[]> {
  const { entries } = decodeManifest(await readBytes(storage, manifest.manifestPath));
  return entries.map((e) => ({
    ...e,
    snapshotId: e.snapshotId ?? manifest.addedSnapshotId,
    sequenceNumber: e.sequenceNumber ?? (e.status === 1 ? manifest.sequenceNumber : e.sequenceNumber),
    fileSequenceNumber:
      e.fileSequenceNumber ?? (e.status === 1 ? manifest.sequenceNumber : e.fileSequenceNumber),
  }));
}

/** Every live (added or existing) data file of a snapshot. */
export async function liveFiles(storage: Storage, snapshot: Snapshot | undefined): Promise<LiveEntry[]> {
  const live: LiveEntry[] = [];
  for (const manifest of await snapshotManifests(storage, snapshot)) {
    refuseDeletes(manifest);
    for (const entry of await manifestEntries(storage, manifest)) {
      if (entry.status !== 2) live.push({ entry, manifest });
    }
  }
  return live;
}

/** The partition folder of a data file, by the spec's human-readable values. */
function partitionPathOf(
  spec: IcebergPartitionSpec,
  values: Record<string, PartitionValue>,
  schema: IcebergSchema,
): string {
  return spec.fields
    .map(
      (f) =>
        `${encodeURIComponent(f.name)}=${encodeURIComponent(humanPartitionValue(f.transform, values[f.name] ?? null, partitionSourceType(schema, f)))}/`,
    )
    .join('');
}

/** What a commit changes: files to add, and which live files it removes. */
interface Change {
  operation: 'append' | 'overwrite' | 'replace';
  added: DataFile[];
  /** Live files to remove (by partition path or path); `undefined` removes nothing. */
  removes?: (file: DataFile, path: string) => boolean;
  /** Files that must still be live when the commit lands (compaction's inputs). */
  requires?: Set<string>;
  /** Summary properties besides the counts (e.g. `replace-partitions`). */
  extraSummary?: Record<string, string>;
  /** The partition spec the added files were written with. */
  spec?: IcebergPartitionSpec;
  /** The write's id, recorded in the summary: a second run of a committed write commits nothing. */
  writeId?: string;
}

function fieldSummaries(
  spec: IcebergPartitionSpec,
  schema: IcebergSchema,
  files: DataFile[],
): FieldSummary[] {
  return spec.fields.map((f) => {
    const type = partitionResultType(f, schema);
    let containsNull = false;
    let min: PartitionValue | undefined;
    let max: PartitionValue | undefined;
    for (const file of files) {
      const v = file.partition[f.name] ?? null;
      if (v === null) {
        containsNull = true;
        continue;
      }
      if (min === undefined || (v as number) < (min as number)) min = v;
      if (max === undefined || (v as number) > (max as number)) max = v;
    }
    return {
      containsNull,
      containsNan: false,
      lowerBound: boundBytes(type, min, 'lower') ?? null,
      upperBound: boundBytes(type, max, 'upper') ?? null,
    };
  });
}

interface Counts {
  addedFiles: number;
  existingFiles: number;
  deletedFiles: number;
  addedRows: bigint;
  existingRows: bigint;
  deletedRows: bigint;
}

function countEntries(entries: ManifestEntry[]): Counts {
  const c: Counts = {
    addedFiles: 0,
    existingFiles: 0,
    deletedFiles: 0,
    addedRows: 0n,
    existingRows: 0n,
    deletedRows: 0n,
  };
  for (const e of entries) {
    const rows = e.dataFile.recordCount;
    if (e.status === 1) {
      c.addedFiles++;
      c.addedRows += rows;
    } else if (e.status === 0) {
      c.existingFiles++;
      c.existingRows += rows;
    } else {
      c.deletedFiles++;
      c.deletedRows += rows;
    }
  }
  return c;
}

/** Write one manifest and describe it for the manifest list. */
async function writeManifest(
  storage: Storage,
  table: string,
  schema: IcebergSchema,
  spec: IcebergPartitionSpec,
  entries: ManifestEntry[],
  snapshotId: bigint,
  sequenceNumber: bigint,
): Promise<ManifestFile> {
  const bytes = encodeManifest({
    schemaJson: JSON.stringify(schema),
    schemaId: schema['schema-id'],
    spec: {
      specId: spec['spec-id'],
      fields: spec.fields.map((f) => ({
        name: f.name,
        fieldId: f['field-id'],
        sourceId: f['source-id'],
        transform: f.transform,
        resultType: partitionResultType(f, schema),
      })),
    },
    entries,
  });
  const key = `${table}/metadata/${randomUUID()}-m0.avro`;
  await storage.put(key, bytes);
  const c = countEntries(entries);
  const sequences = entries.filter((e) => e.status !== 2).map((e) => e.sequenceNumber ?? sequenceNumber);
  return {
    manifestPath: locationOf(storage, key),
    manifestLength: BigInt(bytes.byteLength),
    partitionSpecId: spec['spec-id'],
    content: 0,
    sequenceNumber,
    // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.min cannot take
    minSequenceNumber: sequences.reduce((m, s) => (s < m ? s : m), sequenceNumber),
    addedSnapshotId: snapshotId,
    addedFilesCount: c.addedFiles,
    existingFilesCount: c.existingFiles,
    deletedFilesCount: c.deletedFiles,
    addedRowsCount: c.addedRows,
    existingRowsCount: c.existingRows,
    deletedRowsCount: c.deletedRows,
    partitions: fieldSummaries(
      spec,
      schema,
      entries.map((e) => e.dataFile),
    ),
  };
}

function summaryTotals(previous: Snapshot | undefined): Record<string, bigint> {
  const read = (name: string) => BigInt(previous?.summary[name] ?? '0');
  return {
    'total-records': read('total-records'),
    'total-files-size': read('total-files-size'),
    'total-data-files': read('total-data-files'),
  };
}

/** The table schema a commit writes, worked out on the metadata it commits on top of. */
type PlanSchema = (metadata: TableMetadata) => {
  schema: IcebergSchema;
  changed: boolean;
  lastColumnId: number;
};

/** What a commit made: the catalog's new state, the snapshot, the data files it removed. */
interface Committed {
  loaded: LoadedTable;
  snapshot: Snapshot;
  removed: string[];
}

/** One attempt at a commit on top of `base`: the manifests, the manifest list, the metadata. */
async function attempt(
  catalog: IcebergCatalog,
  table: string,
  base: LoadedTable | undefined,
  create: () => TableMetadata,
  plan: PlanSchema,
  change: Change,
  written: string[],
): Promise<Committed> {
  const { storage } = catalog;
  const metadata = base?.metadata ?? create();
  const schemaPlan = plan(metadata);
  const schema = schemaPlan.schema;
  const spec = defaultSpec(metadata);
  if (change.spec && !sameSpec(spec, change.spec)) {
    throw new IcebergError(`${table}: another commit changed the partition spec while this write ran`, {
      code: 'ICEBERG_COMMIT_CONFLICT',
      context: { table, reapply: false },
    });
  }
  const parent = snapshotFor(metadata);
  if (committedBy(metadata, change.writeId)) {
    throw new IcebergError(`${table}: write ${change.writeId} was committed by another run of it`, {
      code: 'ICEBERG_COMMIT_CONFLICT',
      context: { table, writeId: change.writeId, reapply: false },
    });
  }
  const snapshotId = newSnapshotId();
  const sequenceNumber = metadata['last-sequence-number'] + 1n;
  const manifests: ManifestFile[] = [];
  const removed: DataFile[] = [];
  const stillLive = new Set<string>();
  const partitionsTouched = new Set<string>();
  for (const file of change.added) partitionsTouched.add(partitionPathOf(spec, file.partition, schema));

  for (const manifest of await snapshotManifests(storage, parent)) {
    if (!change.removes && !change.requires) {
      // A manifest whose files are all deleted is history; one whose counts are unknown (0 in a
      // v1 list that left them out) is kept.
      const onlyDeleted =
        manifest.addedFilesCount + manifest.existingFilesCount === 0 && manifest.deletedFilesCount > 0;
      if (!onlyDeleted || manifest.content !== 0) manifests.push(manifest);
      continue;
    }
    refuseDeletes(manifest);
    const entries = await manifestEntries(storage, manifest);
    const live = entries.filter((e) => e.status !== 2);
    for (const e of live) stillLive.add(e.dataFile.filePath);
    const gone = live.filter((e) =>
      change.removes?.(e.dataFile, partitionPathOf(spec, e.dataFile.partition, schema)),
    );
    if (gone.length === 0) {
      if (live.length > 0) manifests.push(manifest);
      continue;
    }
    const goneSet = new Set(gone);
    const rewritten: ManifestEntry[] = live.map((e) =>
      goneSet.has(e) ? { ...e, status: 2, snapshotId } : { ...e, status: 0 },
    );
    for (const e of gone) {
      removed.push(e.dataFile);
      partitionsTouched.add(partitionPathOf(spec, e.dataFile.partition, schema));
    }
    const m = await writeManifest(storage, table, schema, spec, rewritten, snapshotId, sequenceNumber);
    written.push(keyOf(storage, m.manifestPath));
    manifests.push(m);
  }
  if (change.requires) {
    const missing = [...change.requires].filter((path) => !stillLive.has(path));
    if (missing.length > 0) {
      throw new IcebergError(
        `${table}: ${missing.length} file(s) being rewritten were removed by another commit`,
        {
          code: 'ICEBERG_COMMIT_CONFLICT',
          context: { table, missing: missing.slice(0, 5), reapply: false },
        },
      );
    }
  }
  if (change.added.length > 0) {
    const entries: ManifestEntry[] = change.added.map((dataFile) => ({
      status: 1,
      snapshotId,
      sequenceNumber: null,
      fileSequenceNumber: null,
      dataFile,
    }));
    const m = await writeManifest(storage, table, schema, spec, entries, snapshotId, sequenceNumber);
    written.push(keyOf(storage, m.manifestPath));
    manifests.unshift(m);
  }
  const listBytes = encodeManifestList({
    snapshotId,
    parentSnapshotId: parent?.['snapshot-id'] ?? null,
    sequenceNumber,
    manifests,
  });
  const listKey = `${table}/metadata/snap-${snapshotId}-1-${randomUUID()}.avro`;
  await storage.put(listKey, listBytes);
  written.push(listKey);

  const addedRecords = change.added.reduce((n, f) => n + f.recordCount, 0n);
  const addedSize = change.added.reduce((n, f) => n + f.fileSizeInBytes, 0n);
  const deletedRecords = removed.reduce((n, f) => n + f.recordCount, 0n);
  const removedSize = removed.reduce((n, f) => n + f.fileSizeInBytes, 0n);
  const totals = summaryTotals(parent);
  const now = Math.max(Date.now(), metadata['last-updated-ms'] + 1);
  const snapshot: Snapshot = {
    'snapshot-id': snapshotId,
    ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
    'sequence-number': sequenceNumber,
    'timestamp-ms': now,
    'manifest-list': locationOf(storage, listKey),
    summary: {
      operation: change.operation,
      ...change.extraSummary,
      ...(change.writeId === undefined ? {} : { [WRITE_ID_PROPERTY]: change.writeId }),
      'added-data-files': String(change.added.length),
      'deleted-data-files': String(removed.length),
      'added-records': String(addedRecords),
      'deleted-records': String(deletedRecords),
      'added-files-size': String(addedSize),
      'removed-files-size': String(removedSize),
      'changed-partition-count': String(partitionsTouched.size),
      'total-records': String((totals['total-records'] as bigint) + addedRecords - deletedRecords),
      'total-files-size': String((totals['total-files-size'] as bigint) + addedSize - removedSize),
      'total-data-files': String(
        (totals['total-data-files'] as bigint) + BigInt(change.added.length) - BigInt(removed.length),
      ),
      'total-delete-files': '0',
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
    },
    'schema-id': schema['schema-id'],
  };
  const next = withSnapshot(metadata, snapshot, {
    ...(schemaPlan.changed ? { schema } : {}),
    lastColumnId: schemaPlan.lastColumnId,
  });
  const loaded = await catalog.commit(table, base, { ...next, 'last-updated-ms': now });
  return { loaded, snapshot, removed: removed.map((f) => keyOf(storage, f.filePath)) };
}

/**
 * A catalog that cannot tell whether its commit was made (`context.commitState: 'unknown'`, e.g.
 * Glue's answer lost and the table unreadable): the files may be the table's now, so they stay;
 * `removeOrphanFiles` removes them later if the commit was not made.
 */
function mayHaveCommitted(err: unknown): boolean {
  return (err as { context?: { commitState?: unknown } } | undefined)?.context?.commitState === 'unknown';
}

/**
 * Commit a change, retrying on a lost race: the change is applied again on top of the winner's
 * snapshot (appends and overwrites always apply; a compaction whose inputs another commit removed
 * fails with `ICEBERG_COMMIT_CONFLICT`). What a failed attempt wrote is deleted.
 */
async function commitChange(
  catalog: IcebergCatalog,
  table: string,
  base: LoadedTable | undefined,
  create: () => TableMetadata,
  plan: PlanSchema,
  change: Change,
): Promise<Committed> {
  let current = base;
  for (let tries = 0; ; tries++) {
    const written: string[] = [];
    try {
      return await attempt(catalog, table, current, create, plan, change, written);
    } catch (err) {
      if (!mayHaveCommitted(err)) await catalog.storage.delete(written).catch(() => {});
      const conflict = err instanceof IcebergError && err.code === 'ICEBERG_COMMIT_CONFLICT';
      if (!conflict || tries >= COMMIT_RETRIES || err.context.reapply === false) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * (tries + 1)));
      current = await catalog.load(table);
    }
  }
}

/** The core schema's mapping onto the table as it is now, checked against the ids the files were written with. */
function replan(schema: Schema<Fields>, written: SchemaPlan) {
  return (metadata: TableMetadata) => {
    if (metadata.snapshots.length === 0 && metadata['last-column-id'] === written.lastColumnId)
      return written;
    const current = currentSchema(metadata);
    const plan = planIcebergSchema(schema, {
      schema: current,
      lastColumnId: metadata['last-column-id'],
      nextSchemaId: Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1,
    });
    for (const [name, ids] of written.fieldIds) {
      const now = plan.fieldIds.get(name);
      if (now?.id !== ids.id || now?.elementId !== ids.elementId) {
        throw new IcebergError(`${name}: another commit changed the table's schema while this write ran`, {
          code: 'ICEBERG_COMMIT_CONFLICT',
          context: { column: name, reapply: false },
        });
      }
    }
    return plan;
  };
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
    formatOptions = {},
    invalid = 'return',
    writeId = randomUUID(),
    onEvent,
  } = options;
  const table = tablePrefix(options.table).slice(0, -1);
  if (!['append', 'overwrite', 'overwrite_partitions'].includes(mode)) {
    throw new IcebergError(`Unknown write mode ${JSON.stringify(mode)}`, { code: 'ICEBERG_OPTIONS_INVALID' });
  }
  checkFileLimits(
    { maxRowsPerFile, targetFileBytes, maxOpenFiles },
    (message, option) => new IcebergError(message, { code: 'ICEBERG_OPTIONS_INVALID', context: { option } }),
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
  // A part unique to this run: a run after a crash never rewrites a file in place.
  const runId = randomUUID().slice(0, 8);
  const schemaPlan = planIcebergSchema(
    schema,
    baseMetadata && {
      schema: currentSchema(baseMetadata),
      lastColumnId: baseMetadata['last-column-id'],
      nextSchemaId: Math.max(...baseMetadata.schemas.map((s) => s['schema-id'])) + 1,
    },
  );
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
  const opened: string[] = [];
  const source = `iceberg:${table}`;
  const config = {
    rowGroupBytes: formatOptions.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES,
    compression: formatOptions.compression ?? 'SNAPPY',
    schemaPlan: { fieldIds: schemaPlan.fieldIds, timestampUnit: 'MICROS' as const },
  };
  const cleanup = async () => {
    await storage.delete(opened).catch(() => {});
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
      open: (partition, index): StagedFile => {
        const key = `${table}/data/${partition}${String(index).padStart(5, '0')}-${fileId(writeId, partition, index)}-${runId}.parquet`;
        opened.push(key);
        return stageFile(storage, (sink) => new ParquetRecordWriter(sink, schema, config), key, key);
      },
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
    committed = await commitChange(catalog, table, base, create, replan(schema, schemaPlan), change);
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
  const table = tablePrefix(options.table).slice(0, -1);
  const catalog = catalogFor(options);
  const loaded = await catalog.load(table);
  if (!loaded) {
    throw new IcebergError(`no Iceberg table ${table} in ${storage.url}`, {
      code: 'ICEBERG_TABLE_NOT_FOUND',
      context: { table, url: storage.url },
    });
  }
  const { metadata } = loaded;
  const snapshot = snapshotFor(metadata, {
    ...(options.snapshotId !== undefined ? { snapshotId: options.snapshotId } : {}),
    ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
  });
  const schema =
    metadata.schemas.find((s) => s['schema-id'] === snapshot?.['schema-id']) ?? currentSchema(metadata);
  const specs = new Map(metadata['partition-specs'].map((s) => [s['spec-id'], s]));
  const { partitions } = options;
  const matches =
    partitions === undefined
      ? () => true
      : typeof partitions === 'function'
        ? partitions
        : (values: Record<string, string | null>) =>
            Object.entries(partitions).every(([k, v]) => values[k] === v);
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
  const table = tablePrefix(options.table).slice(0, -1);
  const catalog = catalogFor(options);
  const base = await catalog.load(table);
  if (!base) {
    throw new IcebergError(`no Iceberg table ${table} in ${storage.url}`, {
      code: 'ICEBERG_TABLE_NOT_FOUND',
      context: { table },
    });
  }
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
  const writeId = options.writeId ?? randomUUID();
  const runId = randomUUID().slice(0, 8);
  const schemaPlan = planIcebergSchema(schema, {
    schema: tableSchema,
    lastColumnId: base.metadata['last-column-id'],
    nextSchemaId: Math.max(...base.metadata.schemas.map((s) => s['schema-id'])) + 1,
  });
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
  const config = {
    rowGroupBytes: options.formatOptions?.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES,
    compression: options.formatOptions?.compression ?? 'SNAPPY',
    schemaPlan: { fieldIds: schemaPlan.fieldIds, timestampUnit: 'MICROS' as const },
  };
  const added: DataFile[] = [];
  const addedInfo: IcebergCommit['added'] = [];
  const opened: string[] = [];
  const partitionOf = partitioner(spec, tableSchema);
  try {
    await writeFiles(rowsOf(), {
      schema,
      partitionOf: (record) => partitionOf(record).path,
      open: (path, index) => {
        const key = `${table}/data/${path}${String(index).padStart(5, '0')}-${fileId(writeId, path, index)}-${runId}.parquet`;
        opened.push(key);
        return stageFile(storage, (sink) => new ParquetRecordWriter(sink, schema, config), key, key);
      },
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
      catalog,
      table,
      base,
      () => base.metadata,
      () => ({ schema: tableSchema, changed: false, lastColumnId: base.metadata['last-column-id'] }),
      { operation: 'replace', added, removes: (file) => replaced.has(file.filePath), requires: replaced },
    );
    return {
      snapshotId: String(committed.snapshot['snapshot-id']),
      version: Number(committed.loaded.version),
      added: addedInfo,
      removed: committed.removed,
      metadataLocation: committed.loaded.metadataLocation,
    };
  } catch (err) {
    if (!mayHaveCommitted(err)) await storage.delete(opened).catch(() => {});
    throw err;
  }
}
