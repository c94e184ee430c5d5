import { describe, expect, it } from 'vitest';
import { readAvroContainer, writeAvroContainer } from '../../src/iceberg/avro.js';
import { toBound } from '../../src/iceberg/bounds.js';
import { IcebergError } from '../../src/iceberg/errors.js';
import {
  decodeManifest,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  type ManifestEntry,
  type ManifestFile,
  type ManifestPartitionField,
  manifestEntrySchema,
} from '../../src/iceberg/manifest.js';

const SNAPSHOT = 8_744_736_658_442_914_487n; // beyond 2^53, as real snapshot ids are
const SCHEMA_JSON = JSON.stringify({
  type: 'struct',
  'schema-id': 3,
  fields: [
    { id: 1, name: 'timestamp', required: true, type: 'timestamptz' },
    { id: 2, name: 'type', required: true, type: 'string' },
    { id: 3, name: 'value', required: false, type: 'double' },
  ],
});
const SPEC: ManifestPartitionField[] = [
  { name: 'timestamp_hour', fieldId: 1000, sourceId: 1, transform: 'hour', resultType: 'int' },
  { name: 'type', fieldId: 1001, sourceId: 2, transform: 'identity', resultType: 'string' },
  { name: 'day', fieldId: 1002, sourceId: 1, transform: 'day', resultType: 'date' },
  { name: 'at', fieldId: 1003, sourceId: 1, transform: 'identity', resultType: 'timestamptz' },
  { name: 'amount', fieldId: 1004, sourceId: 4, transform: 'identity', resultType: 'decimal(9,2)' },
  { name: 'price', fieldId: 1005, sourceId: 5, transform: 'identity', resultType: 'decimal(9,2)' },
  { name: 'sensor-id', fieldId: 1006, sourceId: 6, transform: 'identity', resultType: 'long' },
  { name: 'active', fieldId: 1007, sourceId: 7, transform: 'identity', resultType: 'boolean' },
];

function entry(i: number, overrides: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    status: 1,
    snapshotId: SNAPSHOT,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile: {
      content: 0,
      filePath: `s3://processed/sensors/data/timestamp_hour=2026-11-23-10/00000-${i}.parquet`,
      fileFormat: 'PARQUET',
      partition: {
        timestamp_hour: 499_858 + i,
        type: i % 2 === 0 ? 'temperature' : null,
        day: 20_780,
        at: 1_795_428_000_000_000n,
        amount: '-12.34',
        price: null,
        'sensor-id': 2n ** 62n,
        active: true,
      },
      recordCount: 100_000n + BigInt(i),
      fileSizeInBytes: 3_000_000n,
      columnSizes: new Map([
        [1, 800_000n],
        [2, 120n],
      ]),
      valueCounts: new Map([
        [1, 100_000n],
        [2, 100_000n],
      ]),
      nullValueCounts: new Map([
        [1, 0n],
        [2, 0n],
      ]),
      nanValueCounts: new Map([[3, 2n]]),
      lowerBounds: new Map([
        [1, toBound('timestamptz', 1_795_428_000_000_000n)],
        [2, toBound('string', 'hydraulic')],
      ]),
      upperBounds: new Map([
        [1, toBound('timestamptz', 1_795_431_599_999_999n)],
        [2, toBound('string', 'temperature')],
      ]),
      splitOffsets: [4n],
      sortOrderId: 0,
    },
    ...overrides,
  };
}

function manifestFile(i: number): ManifestFile {
  return {
    manifestPath: `s3://processed/sensors/metadata/m${i}.avro`,
    manifestLength: 7_123n,
    partitionSpecId: 0,
    content: 0,
    sequenceNumber: 5n,
    minSequenceNumber: 2n,
    addedSnapshotId: SNAPSHOT,
    addedFilesCount: 3,
    existingFilesCount: 1,
    deletedFilesCount: 0,
    addedRowsCount: 300_000n,
    existingRowsCount: 100_000n,
    deletedRowsCount: 0n,
    partitions: [
      {
        containsNull: false,
        containsNan: null,
        lowerBound: toBound('int', 499_858),
        upperBound: toBound('int', 499_860),
      },
      { containsNull: true, containsNan: false, lowerBound: null, upperBound: null },
    ],
  };
}

/** Every record field of an Avro schema, for checking Iceberg's attributes on each. */
function walk(schema: unknown, visit: (node: Record<string, unknown>) => void): void {
  if (Array.isArray(schema)) for (const s of schema) walk(s, visit);
  else if (schema && typeof schema === 'object') {
    const node = schema as Record<string, unknown>;
    visit(node);
    for (const f of (node.fields as unknown[] | undefined) ?? []) {
      visit(f as Record<string, unknown>);
      walk((f as { type: unknown }).type, visit);
    }
    if (node.items) walk(node.items, visit);
  }
}

describe('iceberg manifests', () => {
  describe('encodeManifest / decodeManifest', () => {
    it('round-trips entries: longs past 2^53, maps of counts and bounds, every partition type', () => {
      // arrange
      const entries = [
        entry(0),
        entry(1, { status: 0, sequenceNumber: 3n, fileSequenceNumber: 2n }),
        entry(2, { status: 2, snapshotId: 1n }),
      ];

      // act
      const decoded = decodeManifest(
        encodeManifest({ schemaJson: SCHEMA_JSON, schemaId: 3, spec: { specId: 4, fields: SPEC }, entries }),
      );

      // assert
      expect(decoded.entries).toEqual(entries);
    });

    it('writes the v2 header metadata the spec lists', () => {
      // act
      const { metadata } = decodeManifest(
        encodeManifest({
          schemaJson: SCHEMA_JSON,
          schemaId: 3,
          spec: { specId: 4, fields: SPEC.slice(0, 2) },
          entries: [entry(0)],
        }),
      );

      // assert
      expect(metadata).toMatchObject({
        schema: SCHEMA_JSON,
        'schema-id': '3',
        'partition-spec-id': '4',
        'format-version': '2',
        content: 'data',
        'avro.codec': 'deflate',
      });
      expect(JSON.parse(metadata['partition-spec'] as string)).toEqual([
        { name: 'timestamp_hour', transform: 'hour', 'source-id': 1, 'field-id': 1000 },
        { name: 'type', transform: 'identity', 'source-id': 2, 'field-id': 1001 },
      ]);
    });

    it('writes the Avro schema Java writes: field ids everywhere, int-keyed maps, partition logical types', () => {
      // act
      const { schema } = readAvroContainer(
        encodeManifest({
          schemaJson: SCHEMA_JSON,
          schemaId: 3,
          spec: { specId: 0, fields: SPEC },
          entries: [entry(0)],
        }),
      );

      // assert
      const records: Record<string, unknown>[] = [];
      const arrays: Record<string, unknown>[] = [];
      const fieldIds = new Map<string, unknown>();
      walk(schema, (node) => {
        if (node.type === 'record') records.push(node);
        if (node.type === 'array') arrays.push(node);
        if ('field-id' in node || ('name' in node && !('fields' in node) && node.type !== 'fixed'))
          fieldIds.set(String(node.name), node['field-id']);
      });
      expect([...fieldIds.values()].every((id) => typeof id === 'number')).toBe(true);
      expect(records.map((r) => r.name)).toEqual(
        expect.arrayContaining(['manifest_entry', 'r2', 'r102', 'k117_v118', 'k126_v127', 'k138_v139']),
      );
      expect(arrays.every((a) => a.logicalType === 'map' || typeof a['element-id'] === 'number')).toBe(true);
      const partition = (
        records.find((r) => r.name === 'r102') as { fields: { name: string; type: unknown }[] }
      ).fields;
      expect(partition.map((f) => f.type)).toEqual([
        ['null', 'int'],
        ['null', 'string'],
        ['null', { type: 'int', logicalType: 'date' }],
        ['null', { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true }],
        [
          'null',
          { type: 'fixed', name: 'decimal_9_2', size: 4, logicalType: 'decimal', precision: 9, scale: 2 },
        ],
        ['null', 'decimal_9_2'],
        ['null', 'long'],
        ['null', 'boolean'],
      ]);
      expect(partition[6]).toMatchObject({
        name: 'sensor_x2Did',
        'iceberg-field-name': 'sensor-id',
        'field-id': 1006,
      });
    });

    it('writes an unpartitioned manifest with an empty partition record', () => {
      // act
      const decoded = decodeManifest(
        encodeManifest({
          schemaJson: SCHEMA_JSON,
          schemaId: 0,
          spec: { specId: 0, fields: [] },
          entries: [entry(0, { dataFile: { ...entry(0).dataFile, partition: {} } })],
          codec: 'null',
        }),
      );

      // assert
      expect(decoded.entries[0]?.dataFile.partition).toEqual({});
      expect(decoded.metadata['avro.codec']).toBe('null');
      expect(decoded.metadata['partition-spec']).toBe('[]');
    });

    it('refuses a partition value of the wrong type with a typed error', () => {
      // arrange
      const bad = entry(0, { dataFile: { ...entry(0).dataFile, partition: { timestamp_hour: 'ten' } } });

      // act / assert
      expect(() =>
        encodeManifest({
          schemaJson: SCHEMA_JSON,
          schemaId: 0,
          spec: { specId: 0, fields: SPEC.slice(0, 1) },
          entries: [bad],
        }),
      ).toThrow(IcebergError);
    });
  });

  describe('decodeManifest of other writers', () => {
    it('resolves fields by name and ignores the ones it does not know (v3 fields, reordered)', () => {
      // arrange: a v3-style entry schema with extra fields and another field order
      const schema = manifestEntrySchema(SPEC.slice(0, 1)) as { fields: Record<string, unknown>[] };
      const dataFile = (schema.fields[4] as { type: { fields: Record<string, unknown>[] } }).type;
      dataFile.fields.push(
        { name: 'first_row_id', type: ['null', 'long'], default: null, 'field-id': 142 },
        { name: 'content_offset', type: ['null', 'long'], default: null, 'field-id': 144 },
      );
      dataFile.fields.reverse();
      const bytes = writeAvroContainer({
        schema,
        metadata: { 'format-version': '3', content: 'data' },
        records: [
          {
            status: 1,
            snapshot_id: 7n,
            sequence_number: 1n,
            file_sequence_number: 1n,
            data_file: {
              content: 0,
              file_path: 's3://t/data/a.parquet',
              file_format: 'parquet',
              partition: { timestamp_hour: 12 },
              record_count: 10n,
              file_size_in_bytes: 999n,
              column_sizes: null,
              value_counts: null,
              null_value_counts: null,
              nan_value_counts: null,
              lower_bounds: null,
              upper_bounds: null,
              key_metadata: null,
              split_offsets: null,
              equality_ids: null,
              sort_order_id: null,
              referenced_data_file: null,
              first_row_id: 100n,
              content_offset: null,
            },
          },
        ],
      });

      // act
      const [decoded] = decodeManifest(bytes).entries;

      // assert
      expect(decoded).toMatchObject({
        status: 1,
        snapshotId: 7n,
        dataFile: {
          filePath: 's3://t/data/a.parquet',
          fileFormat: 'PARQUET',
          partition: { timestamp_hour: 12 },
          recordCount: 10n,
        },
      });
      expect(decoded?.dataFile.lowerBounds).toBeUndefined();
    });

    it('refuses delete manifests and delete files with ICEBERG_UNSUPPORTED', () => {
      // arrange
      const schema = manifestEntrySchema([]);
      const deletes = writeAvroContainer({ schema, metadata: { content: 'deletes' }, records: [] });

      // act / assert
      expect(() => decodeManifest(deletes)).toThrow(expect.objectContaining({ code: 'ICEBERG_UNSUPPORTED' }));
    });

    it('refuses what is not an Avro manifest with ICEBERG_METADATA_INVALID', () => {
      // arrange
      const valid = encodeManifest({
        schemaJson: SCHEMA_JSON,
        schemaId: 0,
        spec: { specId: 0, fields: [] },
        entries: [entry(0, { dataFile: { ...entry(0).dataFile, partition: {} } })],
      });

      // act / assert
      for (const bytes of [new TextEncoder().encode('PAR1 not avro'), valid.subarray(0, valid.length - 5)]) {
        expect(() => decodeManifest(bytes)).toThrow(
          expect.objectContaining({ code: 'ICEBERG_METADATA_INVALID' }),
        );
      }
    });
  });

  describe('encodeManifestList / decodeManifestList', () => {
    it('round-trips manifest files with partition summaries', () => {
      // arrange
      const manifests = [manifestFile(0), { ...manifestFile(1), partitions: undefined }];

      // act
      const decoded = decodeManifestList(
        encodeManifestList({ snapshotId: SNAPSHOT, parentSnapshotId: null, sequenceNumber: 5n, manifests }),
      );

      // assert
      expect(decoded).toEqual(manifests);
      expect(decoded[1]).not.toHaveProperty('partitions');
    });

    it('writes snapshot-id, parent-snapshot-id, sequence-number and format-version', () => {
      // act
      const root = readAvroContainer(
        encodeManifestList({
          snapshotId: SNAPSHOT,
          parentSnapshotId: null,
          sequenceNumber: 1n,
          manifests: [],
        }),
      );
      const child = readAvroContainer(
        encodeManifestList({
          snapshotId: 2n,
          parentSnapshotId: SNAPSHOT,
          sequenceNumber: 2n,
          manifests: [manifestFile(0)],
        }),
      );

      // assert
      expect(root.metadata).toMatchObject({
        'snapshot-id': String(SNAPSHOT),
        'parent-snapshot-id': 'null',
        'sequence-number': '1',
        'format-version': '2',
      });
      expect(child.metadata).toMatchObject({
        'snapshot-id': '2',
        'parent-snapshot-id': String(SNAPSHOT),
        'sequence-number': '2',
      });
    });

    it('reads a v1 manifest list (no content, no sequence numbers, the old count names)', () => {
      // arrange
      const bytes = writeAvroContainer({
        schema: {
          type: 'record',
          name: 'manifest_file',
          fields: [
            { name: 'manifest_path', type: 'string', 'field-id': 500 },
            { name: 'manifest_length', type: 'long', 'field-id': 501 },
            { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
            { name: 'added_snapshot_id', type: ['null', 'long'], default: null, 'field-id': 503 },
            { name: 'added_data_files_count', type: ['null', 'int'], default: null, 'field-id': 504 },
          ],
        },
        metadata: { 'format-version': '1' },
        records: [
          {
            manifest_path: 'm.avro',
            manifest_length: 10n,
            partition_spec_id: 0,
            added_snapshot_id: 9n,
            added_data_files_count: 2,
          },
        ],
      });

      // act
      const [manifest] = decodeManifestList(bytes);

      // assert
      expect(manifest).toEqual({
        manifestPath: 'm.avro',
        manifestLength: 10n,
        partitionSpecId: 0,
        content: 0,
        sequenceNumber: 0n,
        minSequenceNumber: 0n,
        addedSnapshotId: 9n,
        addedFilesCount: 2,
        existingFilesCount: 0,
        deletedFilesCount: 0,
        addedRowsCount: 0n,
        existingRowsCount: 0n,
        deletedRowsCount: 0n,
      });
    });
  });

  describe('Avro containers', () => {
    it('reads snappy blocks (raw snappy, then the CRC-32 of the uncompressed bytes)', async () => {
      // arrange: a null-codec file, its block re-framed as snappy (literal-only snappy is valid snappy)
      const { crc32 } = await import('node:zlib');
      const manifests = [manifestFile(0), manifestFile(1)];
      const plain = Buffer.from(
        encodeManifestList({
          snapshotId: 1n,
          parentSnapshotId: null,
          sequenceNumber: 1n,
          manifests,
          codec: 'null',
        }),
      );
      const { metadata } = readAvroContainer(plain);
      // header = everything up to the first sync marker; the one block follows
      const sync = plain.subarray(plain.length - 16);
      const headerEnd = plain.indexOf(sync) + 16;
      const [count, sizeAt] = [plain[headerEnd] as number, headerEnd + 1];
      let size = 0;
      let pos = sizeAt;
      for (let shift = 0; ; shift += 7) {
        const b = plain[pos++] as number;
        size |= (b & 0x7f) << shift;
        if (!(b & 0x80)) break;
      }
      size >>= 1; // zigzag
      const raw = plain.subarray(pos, pos + size);
      const literal = Buffer.concat([
        Buffer.from([(raw.length & 0x7f) | 0x80, raw.length >> 7]),
        Buffer.from([61 << 2, (raw.length - 1) & 0xff, (raw.length - 1) >> 8]),
        raw,
      ]);
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32BE(crc32(raw));
      const block = Buffer.concat([literal, checksum]);
      const zig = (n: number) => {
        const out: number[] = [];
        let v = n * 2;
        while (v >= 0x80) {
          out.push((v & 0x7f) | 0x80);
          v >>>= 7;
        }
        out.push(v);
        return Buffer.from(out);
      };
      const header = Buffer.from(plain.subarray(0, headerEnd));
      const codecAt = header.indexOf(Buffer.from('null'), header.indexOf(Buffer.from('avro.codec')));
      const snappyHeader = Buffer.concat([
        header.subarray(0, codecAt - 1),
        Buffer.from([12]),
        Buffer.from('snappy'),
        header.subarray(codecAt + 4),
      ]);
      const file = Buffer.concat([snappyHeader, Buffer.from([count]), zig(block.length), block, sync]);
      expect(raw.length).toBeGreaterThan(128); // the two-byte varint and 61-tag literal above
      expect(raw.length).toBeLessThan(16_384);

      // act
      const decoded = decodeManifestList(file);

      // assert
      expect(metadata['avro.codec']).toBe('null');
      expect(decoded).toEqual(manifests);
    });

    it('refuses an unknown codec with ICEBERG_UNSUPPORTED', () => {
      // arrange
      const plain = Buffer.from(
        encodeManifestList({
          snapshotId: 1n,
          parentSnapshotId: null,
          sequenceNumber: 1n,
          manifests: [manifestFile(0)],
          codec: 'null',
        }),
      );
      const at = plain.indexOf(Buffer.from('null'), plain.indexOf(Buffer.from('avro.codec')));
      plain.write('zstx', at, 'latin1');

      // act / assert
      expect(() => decodeManifestList(plain)).toThrow(
        expect.objectContaining({ code: 'ICEBERG_UNSUPPORTED' }),
      );
    });
  });
});
