import { randomUUID } from 'node:crypto';
import type { Storage } from '../storage.js';
import { boundBytes } from './bounds.js';
import { keyOf, locationOf } from './catalog.js';
import { IcebergError } from './errors.js';
import {
  type DataFile,
  decodeManifest,
  decodeManifestList,
  encodeManifest,
  type FieldSummary,
  type ManifestEntry,
  type ManifestFile,
} from './manifest.js';
import type { Snapshot } from './metadata.js';
import {
  type IcebergPartitionSpec,
  type IcebergSchema,
  type PartitionValue,
  partitionResultType,
} from './schema.js';

// The manifests of a snapshot: reading the ones it has, writing the ones a commit adds.

/** A live data file of a snapshot, with the manifest that lists it. */
export interface LiveEntry {
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
export function refuseDeletes(manifest: ManifestFile): void {
  if (manifest.content === 0) return;
  throw new IcebergError(
    `${manifest.manifestPath} lists delete files (merge-on-read row deletes), which the lake does not apply: compact the table with an engine that does (Spark's rewrite_data_files) first`,
    { code: 'ICEBERG_UNSUPPORTED', context: { manifest: manifest.manifestPath } },
  );
}

/** The entries of a manifest, with the snapshot id and sequence numbers inherited from the list. */
export async function manifestEntries(storage: Storage, manifest: ManifestFile): Promise<ManifestEntry[]> {
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
export async function writeManifest(
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
