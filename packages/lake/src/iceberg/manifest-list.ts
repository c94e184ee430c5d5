import { readAvroContainer, writeAvroContainer } from './avro.js';
import {
  type AvroRecord,
  bytesIn,
  bytesOut,
  int,
  long,
  MANIFEST_LIST_SCHEMA,
  unreadable,
} from './manifest-avro.js';

// Iceberg v2 manifest lists (spec: "Manifest Lists"): the Avro file a snapshot's `manifest-list`
// names, one entry per manifest. Reading matches fields by name, so v1 to v3 lists decode.

/** The summary of one partition field over a manifest's files (bounds serialized as `toBound`). */
export interface FieldSummary {
  containsNull: boolean;
  containsNan?: boolean | null | undefined;
  lowerBound?: Uint8Array | null | undefined;
  upperBound?: Uint8Array | null | undefined;
}

/** An entry of a manifest list. `content` is 0 for data manifests, 1 for delete manifests. */
export interface ManifestFile {
  manifestPath: string;
  manifestLength: bigint;
  partitionSpecId: number;
  content: 0 | 1;
  sequenceNumber: bigint;
  minSequenceNumber: bigint;
  addedSnapshotId: bigint;
  addedFilesCount: number;
  existingFilesCount: number;
  deletedFilesCount: number;
  addedRowsCount: bigint;
  existingRowsCount: bigint;
  deletedRowsCount: bigint;
  partitions?: FieldSummary[] | undefined;
}

/** What {@link encodeManifestList} needs. */
export interface EncodeManifestListOptions {
  snapshotId: bigint;
  parentSnapshotId: bigint | null;
  sequenceNumber: bigint;
  manifests: readonly ManifestFile[];
  /** Default `deflate`. */
  codec?: 'null' | 'deflate';
}

/**
 * An Iceberg v2 manifest list (the Avro file a snapshot's `manifest-list` names).
 *
 * ```ts
 * const bytes = encodeManifestList({ snapshotId, parentSnapshotId: null, sequenceNumber: 1n, manifests });
 * ```
 */
export function encodeManifestList(options: EncodeManifestListOptions): Uint8Array {
  const records = options.manifests.map((m) => ({
    manifest_path: m.manifestPath,
    manifest_length: m.manifestLength,
    partition_spec_id: m.partitionSpecId,
    content: m.content,
    sequence_number: m.sequenceNumber,
    min_sequence_number: m.minSequenceNumber,
    added_snapshot_id: m.addedSnapshotId,
    added_files_count: m.addedFilesCount,
    existing_files_count: m.existingFilesCount,
    deleted_files_count: m.deletedFilesCount,
    added_rows_count: m.addedRowsCount,
    existing_rows_count: m.existingRowsCount,
    deleted_rows_count: m.deletedRowsCount,
    partitions:
      m.partitions?.map((p) => ({
        contains_null: p.containsNull,
        contains_nan: p.containsNan ?? null,
        lower_bound: bytesOut(p.lowerBound),
        upper_bound: bytesOut(p.upperBound),
      })) ?? null,
    key_metadata: null,
  }));
  return writeAvroContainer({
    schema: MANIFEST_LIST_SCHEMA,
    metadata: {
      'snapshot-id': String(options.snapshotId),
      'parent-snapshot-id': options.parentSnapshotId === null ? 'null' : String(options.parentSnapshotId),
      'sequence-number': String(options.sequenceNumber),
      'format-version': '2',
    },
    records,
    ...(options.codec ? { codec: options.codec } : {}),
  });
}

/**
 * The manifests a manifest list names, v1 to v3, written by any engine (fields matched by name; a
 * v1 list's missing sequence numbers are 0 and its missing counts 0).
 *
 * ```ts
 * for (const manifest of decodeManifestList(bytes)) console.log(manifest.manifestPath);
 * ```
 */
export function decodeManifestList(bytes: Uint8Array): ManifestFile[] {
  const file = readAvroContainer(bytes);
  return file.records.map((r): ManifestFile => {
    const m = r as AvroRecord;
    if (typeof m.manifest_path !== 'string')
      throw unreadable('manifest list', 'an entry without manifest_path');
    const content = int(m.content);
    if (content !== 0 && content !== 1) throw unreadable('manifest list', `manifest content ${content}`);
    const manifest: ManifestFile = {
      manifestPath: m.manifest_path,
      manifestLength: long(m.manifest_length),
      partitionSpecId: int(m.partition_spec_id),
      content,
      sequenceNumber: long(m.sequence_number),
      minSequenceNumber: long(m.min_sequence_number),
      addedSnapshotId: long(m.added_snapshot_id),
      addedFilesCount: int(m.added_files_count ?? m.added_data_files_count),
      existingFilesCount: int(m.existing_files_count ?? m.existing_data_files_count),
      deletedFilesCount: int(m.deleted_files_count ?? m.deleted_data_files_count),
      addedRowsCount: long(m.added_rows_count),
      existingRowsCount: long(m.existing_rows_count),
      deletedRowsCount: long(m.deleted_rows_count),
    };
    if (Array.isArray(m.partitions)) {
      manifest.partitions = (m.partitions as AvroRecord[]).map((p) => ({
        containsNull: p.contains_null === true,
        containsNan: typeof p.contains_nan === 'boolean' ? p.contains_nan : null,
        lowerBound: bytesIn(p.lower_bound),
        upperBound: bytesIn(p.upper_bound),
      }));
    }
    return manifest;
  });
}
