import { randomUUID } from 'node:crypto';
import type { Fields, Schema } from '@tributary/core';
import { type IcebergCatalog, keyOf, type LoadedTable, locationOf } from './catalog.js';
import { IcebergError } from './errors.js';
import { type DataFile, encodeManifestList, type ManifestEntry, type ManifestFile } from './manifest.js';
import {
  currentSchema,
  defaultSpec,
  newSnapshotId,
  type Snapshot,
  snapshotFor,
  type TableMetadata,
  withSnapshot,
} from './metadata.js';
import {
  type IcebergPartitionSpec,
  type IcebergSchema,
  partitionPathOf,
  planIcebergSchema,
  type SchemaPlan,
  sameSpec,
} from './schema.js';
import { manifestEntries, refuseDeletes, snapshotManifests, writeManifest } from './snapshot-files.js';

// A commit: the change (files added, live files removed) applied on top of the table's current
// snapshot as new manifests, a manifest list and a metadata file, retried on a lost race.

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

/** The snapshot summary property naming the write that made the snapshot (its `writeId`). */
export const WRITE_ID_PROPERTY = 'tributary.write-id';

/** The snapshot a write with this id committed, if the table has it. */
export function committedBy(
  metadata: TableMetadata | undefined,
  writeId: string | undefined,
): Snapshot | undefined {
  if (!metadata || writeId === undefined) return undefined;
  return metadata.snapshots.find((s) => s.summary[WRITE_ID_PROPERTY] === writeId);
}

/** Attempts of a commit that lost a race, as Iceberg's `commit.retry.num-retries` (4). */
const COMMIT_RETRIES = 4;

/** What a commit changes: files to add, and which live files it removes. */
export interface Change {
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

function summaryTotals(previous: Snapshot | undefined): Record<string, bigint> {
  const read = (name: string) => BigInt(previous?.summary[name] ?? '0');
  return {
    'total-records': read('total-records'),
    'total-files-size': read('total-files-size'),
    'total-data-files': read('total-data-files'),
  };
}

/** The table schema a commit writes, worked out on the metadata it commits on top of. */
export type PlanSchema = (metadata: TableMetadata) => {
  schema: IcebergSchema;
  changed: boolean;
  lastColumnId: number;
};

/** What a commit made: the catalog's new state, the snapshot, the data files it removed. */
export interface Committed {
  loaded: LoadedTable;
  snapshot: Snapshot;
  removed: string[];
}

/** A commit to make: where the table is, and what the commit changes. */
export interface CommitRequest {
  catalog: IcebergCatalog;
  table: string;
  /** The metadata of the table when there is none yet. */
  create: () => TableMetadata;
  plan: PlanSchema;
  change: Change;
}

/** One attempt at a commit on top of `base`: the manifests, the manifest list, the metadata. */
async function attempt(
  request: CommitRequest,
  base: LoadedTable | undefined,
  written: string[],
): Promise<Committed> {
  const { catalog, table, create, plan, change } = request;
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
export function mayHaveCommitted(err: unknown): boolean {
  return (err as { context?: { commitState?: unknown } } | undefined)?.context?.commitState === 'unknown';
}

/**
 * Commit a change, retrying on a lost race: the change is applied again on top of the winner's
 * snapshot (appends and overwrites always apply; a compaction whose inputs another commit removed
 * fails with `ICEBERG_COMMIT_CONFLICT`). What a failed attempt wrote is deleted.
 */
export async function commitChange(
  request: CommitRequest,
  base: LoadedTable | undefined,
): Promise<Committed> {
  const { catalog, table } = request;
  let current = base;
  for (let tries = 0; ; tries++) {
    const written: string[] = [];
    try {
      return await attempt(request, current, written);
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
export function replan(schema: Schema<Fields>, written: SchemaPlan) {
  return (metadata: TableMetadata) => {
    if (metadata.snapshots.length === 0 && metadata['last-column-id'] === written.lastColumnId)
      return written;
    const plan = planOnTable(schema, metadata);
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

/** Map a core schema onto a table's current schema, or a new table's (see {@link planIcebergSchema}). */
export function planOnTable(schema: Schema<Fields>, metadata: TableMetadata | undefined): SchemaPlan {
  return planIcebergSchema(
    schema,
    metadata && {
      schema: currentSchema(metadata),
      lastColumnId: metadata['last-column-id'],
      nextSchemaId: Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1,
    },
  );
}
