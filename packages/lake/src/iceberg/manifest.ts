import { decimalByteLength, decimalToUnscaled, unscaledToDecimal } from '@tributary/core';
import { type AvroSchema, readAvroContainer, writeAvroContainer } from './avro.js';
import { bytesToUnscaled, decimalOf, unscaledToFixed } from './bounds.js';
import { IcebergError } from './errors.js';

// Iceberg v2 manifests and manifest lists (spec: "Manifests", "Manifest Lists"), with the Avro
// schemas Java Iceberg writes: the same field ids, names, record names (`r2`, `r102`, `r508`,
// `k117_v118`...), optional fields as ["null", T] unions with a null default, and maps with int
// keys as arrays of key/value records with `logicalType: "map"`. Reading resolves fields by name
// and ignores the ones it does not know, so files of Spark, Java and pyiceberg (v1 to v3) decode.

/** A partition value: by the partition field's result type (see {@link encodeManifest}). */
export type PartitionValue = number | bigint | string | boolean | Uint8Array | null;

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

// ---------------------------------------------------------------------------------------------
// Schemas

type Field = { name: string; type: AvroSchema; 'field-id': number; default?: null; [key: string]: unknown };

const required = (name: string, type: AvroSchema, id: number): Field => ({ name, type, 'field-id': id });
const optional = (name: string, type: AvroSchema, id: number): Field => ({
  name,
  type: ['null', type],
  default: null,
  'field-id': id,
});
const intKeyMap = (keyId: number, valueId: number, valueType: string): AvroSchema => ({
  type: 'array',
  logicalType: 'map',
  items: {
    type: 'record',
    name: `k${keyId}_v${valueId}`,
    fields: [required('key', 'int', keyId), required('value', valueType, valueId)],
  },
});
const list = (elementId: number, items: string): AvroSchema => ({
  type: 'array',
  items,
  'element-id': elementId,
});

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Java Iceberg's `AvroSchemaUtil.sanitize`: invalid characters become `_x<HEX>`, a leading digit `_<digit>`. */
function sanitize(name: string): string {
  let out = '';
  for (const [i, ch] of Array.from(name).entries()) {
    const valid = i === 0 ? /[A-Za-z_]/.test(ch) : /[A-Za-z0-9_]/.test(ch);
    if (valid) out += ch;
    else if (/[0-9]/.test(ch)) out += `_${ch}`;
    else out += `_x${(ch.codePointAt(0) as number).toString(16).toUpperCase()}`;
  }
  return out;
}

/** The Avro type of a partition value, as Java's `TypeToSchema` writes it. */
function partitionAvroType(resultType: string, named: Set<string>): AvroSchema {
  switch (resultType) {
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'string':
      return resultType;
    case 'binary':
      return 'bytes';
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'timestamp':
    case 'timestamptz':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': resultType === 'timestamptz' };
    default: {
      const decimal = decimalOf(resultType);
      if (!decimal) {
        throw new IcebergError(
          `partition result type ${JSON.stringify(resultType)} cannot be written to a manifest`,
          {
            code: 'ICEBERG_UNSUPPORTED',
            context: { type: resultType },
          },
        );
      }
      const name = `decimal_${decimal.precision}_${decimal.scale}`;
      // An Avro name is defined once; later uses refer to it.
      if (named.has(name)) return name;
      named.add(name);
      return {
        type: 'fixed',
        name,
        size: decimalByteLength(decimal.precision),
        logicalType: 'decimal',
        precision: decimal.precision,
        scale: decimal.scale,
      };
    }
  }
}

/** The Avro schema of a v2 manifest's entries for a partition spec (Java's `V2Metadata.entrySchema`). */
export function manifestEntrySchema(fields: readonly ManifestPartitionField[]): AvroSchema {
  const named = new Set<string>();
  const partitionFields = fields.map((f) => {
    const name = AVRO_NAME.test(f.name) ? f.name : sanitize(f.name);
    const field = optional(name, partitionAvroType(f.resultType, named), f.fieldId);
    if (name !== f.name) field['iceberg-field-name'] = f.name;
    return field;
  });
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      required('status', 'int', 0),
      optional('snapshot_id', 'long', 1),
      optional('sequence_number', 'long', 3),
      optional('file_sequence_number', 'long', 4),
      required(
        'data_file',
        {
          type: 'record',
          name: 'r2',
          fields: [
            required('content', 'int', 134),
            required('file_path', 'string', 100),
            required('file_format', 'string', 101),
            required('partition', { type: 'record', name: 'r102', fields: partitionFields }, 102),
            required('record_count', 'long', 103),
            required('file_size_in_bytes', 'long', 104),
            optional('column_sizes', intKeyMap(117, 118, 'long'), 108),
            optional('value_counts', intKeyMap(119, 120, 'long'), 109),
            optional('null_value_counts', intKeyMap(121, 122, 'long'), 110),
            optional('nan_value_counts', intKeyMap(138, 139, 'long'), 137),
            optional('lower_bounds', intKeyMap(126, 127, 'bytes'), 125),
            optional('upper_bounds', intKeyMap(129, 130, 'bytes'), 128),
            optional('key_metadata', 'bytes', 131),
            optional('split_offsets', list(133, 'long'), 132),
            optional('equality_ids', list(136, 'int'), 135),
            optional('sort_order_id', 'int', 140),
            optional('referenced_data_file', 'string', 143),
          ],
        },
        2,
      ),
    ],
  };
}

/** The Avro schema of a v2 manifest list (Java's `V2Metadata.MANIFEST_LIST_SCHEMA`). */
export const MANIFEST_LIST_SCHEMA: AvroSchema = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    required('manifest_path', 'string', 500),
    required('manifest_length', 'long', 501),
    required('partition_spec_id', 'int', 502),
    required('content', 'int', 517),
    required('sequence_number', 'long', 515),
    required('min_sequence_number', 'long', 516),
    required('added_snapshot_id', 'long', 503),
    required('added_files_count', 'int', 504),
    required('existing_files_count', 'int', 505),
    required('deleted_files_count', 'int', 506),
    required('added_rows_count', 'long', 512),
    required('existing_rows_count', 'long', 513),
    required('deleted_rows_count', 'long', 514),
    optional(
      'partitions',
      {
        type: 'array',
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            required('contains_null', 'boolean', 509),
            optional('contains_nan', 'boolean', 518),
            optional('lower_bound', 'bytes', 510),
            optional('upper_bound', 'bytes', 511),
          ],
        },
        'element-id': 508,
      },
      507,
    ),
    optional('key_metadata', 'bytes', 519),
  ],
};

// ---------------------------------------------------------------------------------------------
// Values

const toMap = <V>(map: Map<number, V> | undefined) =>
  map === undefined ? null : [...map].map(([key, value]) => ({ key, value }));

function fromMap<V>(value: unknown): Map<number, V> | undefined {
  if (value === null || value === undefined) return undefined;
  return new Map((value as { key: number; value: V }[]).map((kv) => [kv.key, kv.value]));
}

const bytesOut = (value: Uint8Array | null | undefined) =>
  value === null || value === undefined
    ? null
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
const bytesIn = (value: unknown) => (value instanceof Uint8Array ? new Uint8Array(value) : null);

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
          spec.fields.map((p) => [
            AVRO_NAME.test(p.name) ? p.name : sanitize(p.name),
            partitionValueOut(p, f.partition[p.name]),
          ]),
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

type AvroRecord = Record<string, unknown>;

function unreadable(what: string, reason: string): IcebergError {
  return new IcebergError(`${what}: ${reason}`, { code: 'ICEBERG_METADATA_INVALID' });
}

const optionalLong = (value: unknown): bigint | null => (typeof value === 'bigint' ? value : null);
const long = (value: unknown, fallback = 0n): bigint => (typeof value === 'bigint' ? value : fallback);
const int = (value: unknown, fallback = 0): number => (typeof value === 'number' ? value : fallback);

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
