import { decimalByteLength, decimalToUnscaled, unscaledToDecimal } from '@tributary/core';
import { type AvroSchema, readAvroContainer, writeAvroContainer } from './avro.js';
import { bytesToUnscaled, decimalOf, unscaledToFixed } from './bounds.js';
import { IcebergError } from './errors.js';
import {
  type AvroRecord,
  avroName,
  bytesIn,
  bytesOut,
  type Field,
  fromMap,
  int,
  long,
  manifestEntrySchema,
  optionalLong,
  toMap,
  unreadable,
} from './manifest-avro.js';
import type { PartitionValue } from './schema.js';

// Iceberg v2 manifests (spec: "Manifests"), with the Avro schemas Java Iceberg writes (see
// manifest-avro.ts). Reading resolves fields by name and ignores the ones it does not know, so
// files of Spark, Java and pyiceberg (v1 to v3) decode. Manifest lists are in manifest-list.ts.

export { MANIFEST_LIST_SCHEMA, manifestEntrySchema } from './manifest-avro.js';
export {
  decodeManifestList,
  type EncodeManifestListOptions,
  encodeManifestList,
  type FieldSummary,
  type ManifestFile,
} from './manifest-list.js';
export type { PartitionValue } from './schema.js';

/** A data file as a manifest records it. Maps are keyed by the table schema's field ids. */
export interface DataFile {
  content: 0;
  filePath: string;
  fileFormat: 'PARQUET';
  /** By partition field name. */
  partition: Record<string, PartitionValue>;
  recordCount: bigint;
  fileSizeInBytes: bigint;
  columnSizes?: Map<number, bigint> | undefined;
  valueCounts?: Map<number, bigint> | undefined;
  nullValueCounts?: Map<number, bigint> | undefined;
  nanValueCounts?: Map<number, bigint> | undefined;
  /** Iceberg's single-value serialization of each column's bounds (see `toBound`). */
  lowerBounds?: Map<number, Uint8Array> | undefined;
  upperBounds?: Map<number, Uint8Array> | undefined;
  splitOffsets?: bigint[] | undefined;
  sortOrderId?: number | null | undefined;
}

/**
 * An entry of a manifest: 0 EXISTING, 1 ADDED, 2 DELETED. A null snapshot id or sequence number is
 * inherited from the manifest list's entry of the manifest (written so for files a snapshot adds).
 */
export interface ManifestEntry {
  status: 0 | 1 | 2;
  snapshotId: bigint | null;
  sequenceNumber: bigint | null;
  fileSequenceNumber: bigint | null;
  dataFile: DataFile;
}

/** A field of the partition spec a manifest is written for. */
export interface ManifestPartitionField {
  name: string;
  fieldId: number;
  sourceId: number;
  transform: string;
  /**
   * The partition value's Iceberg type: `int`, `long`, `string`, `boolean`, `date`, `double`,
   * `float`, `timestamptz`, `timestamp`, `binary` or `decimal(P,S)` (`hour` gives `int`).
   */
  resultType: string;
}

/** What {@link encodeManifest} needs. */
export interface EncodeManifestOptions {
  /** The table schema as Iceberg JSON (an Iceberg schema object), written into the header. */
  schemaJson: string;
  schemaId: number;
  spec: { specId: number; fields: readonly ManifestPartitionField[] };
  entries: readonly ManifestEntry[];
  /** Default `deflate`, as Java Iceberg and pyiceberg write. */
  codec?: 'null' | 'deflate';
}

function partitionValueOut(field: ManifestPartitionField, value: PartitionValue | undefined): unknown {
  if (value === null || value === undefined) return null;
  const refuse = (expected: string) =>
    new IcebergError(
      `partition field ${JSON.stringify(field.name)} (${field.resultType}) takes ${expected}, got ${typeof value}`,
      { code: 'ICEBERG_UNSUPPORTED', context: { partition: field.name } },
    );
  switch (field.resultType) {
    case 'boolean':
      if (typeof value !== 'boolean') throw refuse('a boolean');
      return value;
    case 'int':
    case 'date':
    case 'float':
    case 'double':
      if (typeof value !== 'number') throw refuse('a number');
      return value;
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      if (typeof value === 'bigint') return value;
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      throw refuse('a bigint');
    case 'string':
      if (typeof value !== 'string') throw refuse('a string');
      return value;
    case 'binary':
      if (!(value instanceof Uint8Array)) throw refuse('a Uint8Array');
      return bytesOut(value);
    default: {
      const decimal = decimalOf(field.resultType);
      if (!decimal) throw refuse('a supported type');
      const size = decimalByteLength(decimal.precision);
      if (value instanceof Uint8Array) return Buffer.from(unscaledToFixed(bytesToUnscaled(value), size));
      const m = typeof value === 'string' ? /^-?\d+(?:\.(\d*))?$/.exec(value) : null;
      if (!m || (m[1]?.length ?? 0) > decimal.scale)
        throw refuse(`a decimal as text at scale ${decimal.scale}`);
      return Buffer.from(unscaledToFixed(decimalToUnscaled(value as string, decimal.scale), size));
    }
  }
}

/**
 * An Iceberg v2 manifest (an Avro file of {@link ManifestEntry}) for a partition spec. Partition
 * values by result type: `number` for int, date (days), hour (hours since the epoch), float and
 * double; `bigint` (or a safe integer) for long and timestamps; `string`; `boolean`; a decimal as
 * text (`'-12.34'`) or as its unscaled big-endian bytes; `Uint8Array` for binary.
 *
 * ```ts
 * const bytes = encodeManifest({ schemaJson, schemaId: 0, spec: { specId: 0, fields: [] }, entries });
 * ```
 */
export function encodeManifest(options: EncodeManifestOptions): Uint8Array {
  const { spec, entries } = options;
  const records = entries.map((entry) => {
    const f = entry.dataFile;
    return {
      status: entry.status,
      snapshot_id: entry.snapshotId,
      sequence_number: entry.sequenceNumber,
      file_sequence_number: entry.fileSequenceNumber,
      data_file: {
        content: f.content,
        file_path: f.filePath,
        file_format: f.fileFormat,
        partition: Object.fromEntries(
          spec.fields.map((p) => [avroName(p.name), partitionValueOut(p, f.partition[p.name])]),
        ),
        record_count: f.recordCount,
        file_size_in_bytes: f.fileSizeInBytes,
        column_sizes: toMap(f.columnSizes),
        value_counts: toMap(f.valueCounts),
        null_value_counts: toMap(f.nullValueCounts),
        nan_value_counts: toMap(f.nanValueCounts),
        lower_bounds:
          f.lowerBounds === undefined
            ? null
            : [...f.lowerBounds].map(([key, v]) => ({ key, value: bytesOut(v) })),
        upper_bounds:
          f.upperBounds === undefined
            ? null
            : [...f.upperBounds].map(([key, v]) => ({ key, value: bytesOut(v) })),
        key_metadata: null,
        split_offsets: f.splitOffsets ?? null,
        equality_ids: null,
        sort_order_id: f.sortOrderId ?? null,
        referenced_data_file: null,
      },
    };
  });
  return writeAvroContainer({
    schema: manifestEntrySchema(spec.fields),
    metadata: {
      schema: options.schemaJson,
      'schema-id': String(options.schemaId),
      'partition-spec': JSON.stringify(
        spec.fields.map((p) => ({
          name: p.name,
          transform: p.transform,
          'source-id': p.sourceId,
          'field-id': p.fieldId,
        })),
      ),
      'partition-spec-id': String(spec.specId),
      'format-version': '2',
      content: 'data',
    },
    records,
    ...(options.codec ? { codec: options.codec } : {}),
  });
}

/** How to read each partition field's value, from the writer's Avro schema. */
function partitionReaders(
  schema: AvroSchema,
): { name: string; avroName: string; read: (v: unknown) => PartitionValue }[] {
  const entry = schema as { fields?: Field[] };
  const dataFile = entry.fields?.find((f) => f.name === 'data_file')?.type as
    | { fields?: Field[] }
    | undefined;
  const partition = dataFile?.fields?.find((f) => f.name === 'partition')?.type as
    | { fields?: Field[] }
    | undefined;
  const decimals = new Map<string, number>(); // named fixed decimals, for references by name
  return (partition?.fields ?? []).map((field) => {
    let type = Array.isArray(field.type) ? (field.type.find((t) => t !== 'null') as AvroSchema) : field.type;
    if (typeof type === 'string' && decimals.has(type))
      type = { logicalType: 'decimal', scale: decimals.get(type) };
    const t = type as { type?: string; name?: string; logicalType?: string; scale?: number };
    if (t.logicalType === 'decimal' && typeof t.name === 'string') decimals.set(t.name, t.scale ?? 0);
    const name = typeof field['iceberg-field-name'] === 'string' ? field['iceberg-field-name'] : field.name;
    const read = (v: unknown): PartitionValue => {
      if (v === null || v === undefined) return null;
      if (t.logicalType === 'decimal' && v instanceof Uint8Array)
        return unscaledToDecimal(bytesToUnscaled(v), t.scale ?? 0);
      if (v instanceof Uint8Array) return new Uint8Array(v);
      return v as PartitionValue;
    };
    return { name, avroName: field.name, read };
  });
}

function dataFileIn(
  record: AvroRecord,
  readers: ReturnType<typeof partitionReaders>,
  what: string,
): DataFile {
  const content = int(record.content);
  if (content !== 0) {
    throw new IcebergError(
      `${what} lists delete files (content ${content}); merge-on-read deletes are not supported`,
      {
        code: 'ICEBERG_UNSUPPORTED',
      },
    );
  }
  const format = String(record.file_format).toUpperCase();
  if (format !== 'PARQUET') {
    throw new IcebergError(`${what} lists a ${format} data file; only Parquet data files are supported`, {
      code: 'ICEBERG_UNSUPPORTED',
    });
  }
  if (typeof record.file_path !== 'string') throw unreadable(what, 'a data file without file_path');
  const partition: Record<string, PartitionValue> = {};
  const values = (record.partition ?? {}) as AvroRecord;
  for (const reader of readers) partition[reader.name] = reader.read(values[reader.avroName]);
  const bounds = (value: unknown) => {
    const map = fromMap<Uint8Array>(value);
    if (map) for (const [k, v] of map) map.set(k, bytesIn(v) as Uint8Array);
    return map;
  };
  const dataFile: DataFile = {
    content: 0,
    filePath: record.file_path,
    fileFormat: 'PARQUET',
    partition,
    recordCount: long(record.record_count),
    fileSizeInBytes: long(record.file_size_in_bytes),
    columnSizes: fromMap<bigint>(record.column_sizes),
    valueCounts: fromMap<bigint>(record.value_counts),
    nullValueCounts: fromMap<bigint>(record.null_value_counts),
    nanValueCounts: fromMap<bigint>(record.nan_value_counts),
    lowerBounds: bounds(record.lower_bounds),
    upperBounds: bounds(record.upper_bounds),
  };
  if (Array.isArray(record.split_offsets)) dataFile.splitOffsets = record.split_offsets as bigint[];
  if ('sort_order_id' in record) dataFile.sortOrderId = record.sort_order_id as number | null;
  return dataFile;
}

/**
 * The entries and header metadata of a manifest, v1 to v3, written by any engine. Fields are
 * matched by name, unknown ones ignored. Throws `ICEBERG_UNSUPPORTED` for delete files and
 * non-Parquet data files, `ICEBERG_METADATA_INVALID` for a file that is not a manifest.
 *
 * ```ts
 * const { entries, metadata } = decodeManifest(bytes);
 * metadata['partition-spec-id']; // '0'
 * ```
 */
export function decodeManifest(bytes: Uint8Array): {
  entries: ManifestEntry[];
  metadata: Record<string, string>;
} {
  const file = readAvroContainer(bytes);
  const what = 'manifest';
  if (file.metadata.content === 'deletes') {
    throw new IcebergError('a delete manifest: merge-on-read deletes are not supported', {
      code: 'ICEBERG_UNSUPPORTED',
    });
  }
  const readers = partitionReaders(file.schema);
  const entries = file.records.map((r): ManifestEntry => {
    const record = r as AvroRecord;
    const status = record.status;
    if (status !== 0 && status !== 1 && status !== 2)
      throw unreadable(what, `entry status ${String(status)}`);
    if (typeof record.data_file !== 'object' || record.data_file === null)
      throw unreadable(what, 'an entry without data_file');
    return {
      status,
      snapshotId: optionalLong(record.snapshot_id),
      sequenceNumber: optionalLong(record.sequence_number),
      fileSequenceNumber: optionalLong(record.file_sequence_number),
      dataFile: dataFileIn(record.data_file as AvroRecord, readers, what),
    };
  });
  return { entries, metadata: file.metadata };
}
