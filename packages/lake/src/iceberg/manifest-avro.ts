import { decimalByteLength } from '@tributary/core';
import type { AvroSchema } from './avro.js';
import { decimalOf } from './bounds.js';
import { IcebergError } from './errors.js';
import type { ManifestPartitionField } from './manifest.js';

// The Avro schemas Java Iceberg writes manifests and manifest lists with (the same field ids,
// names, record names `r2`, `r102`, `r508`, `k117_v118`...; optional fields as ["null", T] unions
// with a null default; maps with int keys as arrays of key/value records with `logicalType: "map"`),
// and the conversions of values both codecs share.

export type Field = {
  name: string;
  type: AvroSchema;
  'field-id': number;
  default?: null;
  [key: string]: unknown;
};

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

/** A partition field's name as an Avro field name (sanitized when Avro would refuse it). */
export function avroName(name: string): string {
  return AVRO_NAME.test(name) ? name : sanitize(name);
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
    const name = avroName(f.name);
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

export type AvroRecord = Record<string, unknown>;

export const toMap = <V>(map: Map<number, V> | undefined) =>
  map === undefined ? null : [...map].map(([key, value]) => ({ key, value }));

export function fromMap<V>(value: unknown): Map<number, V> | undefined {
  if (value === null || value === undefined) return undefined;
  return new Map((value as { key: number; value: V }[]).map((kv) => [kv.key, kv.value]));
}

export const bytesOut = (value: Uint8Array | null | undefined) =>
  value === null || value === undefined
    ? null
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
export const bytesIn = (value: unknown) => (value instanceof Uint8Array ? new Uint8Array(value) : null);

export function unreadable(what: string, reason: string): IcebergError {
  return new IcebergError(`${what}: ${reason}`, { code: 'ICEBERG_METADATA_INVALID' });
}

export const optionalLong = (value: unknown): bigint | null => (typeof value === 'bigint' ? value : null);
export const long = (value: unknown, fallback = 0n): bigint => (typeof value === 'bigint' ? value : fallback);
export const int = (value: unknown, fallback = 0): number => (typeof value === 'number' ? value : fallback);
