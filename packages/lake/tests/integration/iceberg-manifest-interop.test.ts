import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BoundValue, fromBound, toBound } from '../../src/iceberg/bounds.js';
import {
  decodeManifest,
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  type ManifestEntry,
  type ManifestFile,
  type ManifestPartitionField,
} from '../../src/iceberg/manifest.js';

// Manifests and manifest lists written here are read by fastavro and by pyiceberg's own classes;
// a manifest and manifest list written by pyiceberg are read here. One Python process does all of
// its side (it is slow to start).

const PYTHON = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../spark/.venv/bin/python');
const SNAPSHOT = 8_744_736_658_442_914_487n;
const PARENT = 1_234_567_890_123_456_789n;

const SCHEMA = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'timestamp', required: true, type: 'timestamptz' },
    { id: 2, name: 'type', required: true, type: 'string' },
    { id: 3, name: 'value', required: false, type: 'double' },
    { id: 4, name: 'seq', required: true, type: 'long' },
    { id: 5, name: 'amount', required: false, type: 'decimal(9,2)' },
    { id: 6, name: 'day', required: true, type: 'date' },
    { id: 7, name: 'active', required: true, type: 'boolean' },
    { id: 8, name: 'level', required: true, type: 'int' },
  ],
};
const SPEC: ManifestPartitionField[] = [
  { name: 'timestamp_hour', fieldId: 1000, sourceId: 1, transform: 'hour', resultType: 'int' },
  { name: 'type', fieldId: 1001, sourceId: 2, transform: 'identity', resultType: 'string' },
];

/** Bounds for each column: [type, lower, upper] (the string truncated as truncate(16) does). */
const BOUNDS: Record<number, [string, BoundValue, BoundValue]> = {
  1: ['timestamptz', 1_795_428_000_000_000n, 1_795_431_599_999_999n],
  2: ['string', 'hydraulic_pressu', 'temperaturf'],
  3: ['double', -273.15, 1e300],
  4: ['long', -(2n ** 63n), 2n ** 63n - 1n],
  5: ['decimal(9,2)', '-1234567.89', '0.01'],
  6: ['date', -1, 20_780],
  7: ['boolean', false, true],
  8: ['int', -(2 ** 31), 2 ** 31 - 1],
};

function entries(): ManifestEntry[] {
  return [0, 1, 2].map((i) => ({
    status: i === 2 ? 2 : 1,
    snapshotId: SNAPSHOT,
    sequenceNumber: i === 2 ? 1n : null,
    fileSequenceNumber: i === 2 ? 1n : null,
    dataFile: {
      content: 0,
      filePath: `file:///lake/sensors/data/timestamp_hour=2026-11-23-1${i}/type=temperature/0000${i}.parquet`,
      fileFormat: 'PARQUET',
      partition: { timestamp_hour: 499_858 + i, type: i === 1 ? null : 'temperature' },
      recordCount: 100_000n + BigInt(i),
      fileSizeInBytes: 3_000_000n + BigInt(i),
      columnSizes: new Map(Object.keys(BOUNDS).map((id) => [Number(id), 1000n * BigInt(id)])),
      valueCounts: new Map(Object.keys(BOUNDS).map((id) => [Number(id), 100_000n])),
      nullValueCounts: new Map(Object.keys(BOUNDS).map((id) => [Number(id), BigInt(id) - 1n])),
      nanValueCounts: new Map([[3, 0n]]),
      lowerBounds: new Map(
        Object.entries(BOUNDS).map(([id, [type, lower]]) => [Number(id), toBound(type, lower)]),
      ),
      upperBounds: new Map(
        Object.entries(BOUNDS).map(([id, [type, , upper]]) => [Number(id), toBound(type, upper)]),
      ),
      splitOffsets: [4n],
      sortOrderId: 0,
    },
  }));
}

const hex = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('hex') : null);

const SCRIPT = String.raw`
import json, sys, datetime, decimal
from collections.abc import Mapping
import fastavro
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import (read_manifest_list, write_manifest, write_manifest_list, DataFile, DataFileContent,
    FileFormat, ManifestEntry, ManifestEntryStatus)
from pyiceberg.conversions import to_bytes, from_bytes
from pyiceberg.partitioning import PartitionSpec, PartitionField
from pyiceberg.schema import Schema
from pyiceberg.transforms import HourTransform, IdentityTransform
from pyiceberg.typedef import Record
from pyiceberg.types import *

config = json.load(sys.stdin)
io = PyArrowFileIO()
TYPES = {'timestamptz': TimestamptzType(), 'string': StringType(), 'double': DoubleType(), 'long': LongType(),
         'decimal(9,2)': DecimalType(9, 2), 'date': DateType(), 'boolean': BooleanType(), 'int': IntegerType()}

def plain(v):
    if isinstance(v, bytes): return v.hex()
    if isinstance(v, (decimal.Decimal, datetime.date, datetime.datetime)): return str(v)
    if isinstance(v, int) and not isinstance(v, bool): return str(v)
    if isinstance(v, Mapping): return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [plain(x) for x in v]
    if isinstance(v, Record): return [plain(x) for x in v._data]
    if hasattr(v, 'value') and hasattr(v, 'name'): return plain(v.value)  # enums
    return v

def field_ids(node, path='$'):
    missing = []
    if isinstance(node, list):
        for n in node: missing += field_ids(n, path)
    elif isinstance(node, dict):
        for f in node.get('fields', []):
            if 'field-id' not in f: missing.append(path + '.' + f['name'])
            missing += field_ids(f['type'], path + '.' + f['name'])
        if node.get('type') == 'array':
            if node.get('logicalType') != 'map' and 'element-id' not in node: missing.append(path + '[]')
            missing += field_ids(node['items'], path + '[]')
    return missing

out = {'fastavro': {}}
for name in ('manifest', 'list'):
    with open(config[name], 'rb') as f:
        reader = fastavro.reader(f)
        meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in reader.metadata.items()}
        records = [plain(r) for r in reader]
    schema = json.loads(meta['avro.schema'])
    out['fastavro'][name] = {'metadata': meta, 'records': records, 'missingIds': field_ids(schema)}

manifests = list(read_manifest_list(io.new_input(config['list'])))
out['pyiceberg'] = []
for m in manifests:
    entries = m.fetch_manifest_entry(io, discard_deleted=False)
    out['pyiceberg'].append({
        'path': m.manifest_path, 'length': str(m.manifest_length), 'specId': m.partition_spec_id, 'content': int(m.content),
        'sequenceNumber': str(m.sequence_number), 'minSequenceNumber': str(m.min_sequence_number),
        'addedSnapshotId': str(m.added_snapshot_id), 'addedFiles': m.added_files_count, 'deletedFiles': m.deleted_files_count,
        'addedRows': str(m.added_rows_count),
        'partitions': [[p.contains_null, p.contains_nan, plain(p.lower_bound), plain(p.upper_bound)] for p in (m.partitions or [])],
        'entries': [{
            'status': int(e.status), 'snapshotId': str(e.snapshot_id), 'sequenceNumber': plain(e.sequence_number),
            'path': e.data_file.file_path, 'format': str(e.data_file.file_format.value), 'partition': plain(e.data_file.partition),
            'recordCount': str(e.data_file.record_count), 'nullValueCounts': plain(e.data_file.null_value_counts),
            'lower': {str(k): plain(from_bytes(TYPES[config['types'][str(k)]], v)) for k, v in e.data_file.lower_bounds.items()},
            'upper': {str(k): plain(from_bytes(TYPES[config['types'][str(k)]], v)) for k, v in e.data_file.upper_bounds.items()},
            'splitOffsets': plain(e.data_file.split_offsets),
        } for e in entries],
    })

out['toBytes'] = [to_bytes(TYPES[t], decimal.Decimal(v) if t.startswith('decimal') else (int(v) if t in ('long', 'timestamptz') else v)).hex()
                  for t, v in config['values']]

# The other way: a manifest and manifest list written by pyiceberg.
schema = Schema(NestedField(1, 'timestamp', TimestamptzType(), required=True), NestedField(2, 'type', StringType(), required=True),
                NestedField(3, 'value', DoubleType(), required=False))
spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=HourTransform(), name='timestamp_hour'),
                     PartitionField(source_id=2, field_id=1001, transform=IdentityTransform(), name='type'), spec_id=0)
data_file = DataFile.from_args(content=DataFileContent.DATA, file_path='file:///py/data/a.parquet', file_format=FileFormat.PARQUET,
    partition=Record(499858, 'temperature'), record_count=42, file_size_in_bytes=4242,
    column_sizes={1: 100, 2: 200}, value_counts={1: 42, 2: 42}, null_value_counts={1: 0, 2: 0}, nan_value_counts={},
    lower_bounds={1: to_bytes(TimestamptzType(), 1795428000000000), 2: to_bytes(StringType(), 'hydraulic')},
    upper_bounds={1: to_bytes(TimestamptzType(), 1795431599999999), 2: to_bytes(StringType(), 'temperature')},
    key_metadata=None, split_offsets=[4], equality_ids=None, sort_order_id=0)
data_file.spec_id = 0
with write_manifest(format_version=2, spec=spec, schema=schema, output_file=io.new_output(config['pyManifest']),
                    snapshot_id=config['pySnapshot'], avro_compression='deflate') as writer:
    writer.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=config['pySnapshot'], data_file=data_file))
manifest_file = writer.to_manifest_file()
with write_manifest_list(format_version=2, output_file=io.new_output(config['pyList']), snapshot_id=config['pySnapshot'],
                         parent_snapshot_id=None, sequence_number=1, avro_compression='deflate') as lw:
    lw.add_manifests([manifest_file])

print(json.dumps(out))
`;

type PyEntry = {
  status: number;
  snapshotId: string;
  sequenceNumber: string | null;
  path: string;
  format: string;
  partition: (string | null)[];
  recordCount: string;
  nullValueCounts: Record<string, string>;
  lower: Record<string, unknown>;
  upper: Record<string, unknown>;
  splitOffsets: string[];
};
type PyManifest = {
  path: string;
  length: string;
  specId: number;
  content: number;
  sequenceNumber: string;
  minSequenceNumber: string;
  addedSnapshotId: string;
  addedFiles: number;
  deletedFiles: number;
  addedRows: string;
  partitions: [boolean, boolean | null, string | null, string | null][];
  entries: PyEntry[];
};
type PyOut = {
  fastavro: Record<
    'manifest' | 'list',
    { metadata: Record<string, string>; records: unknown[]; missingIds: string[] }
  >;
  pyiceberg: PyManifest[];
  toBytes: string[];
};

/** Values checked against pyiceberg.conversions.to_bytes: [type, value as JSON]. */
const VALUES: [string, BoundValue][] = [
  ['boolean', true],
  ['int', -2],
  ['date', 20_780],
  ['long', -(2n ** 63n)],
  ['timestamptz', 1_795_428_000_123_456n],
  ['double', -273.15],
  ['string', 'température 😀'],
  ['decimal(9,2)', '-1234567.89'],
  ['decimal(9,2)', '1.28'],
  ['decimal(9,2)', '0.00'],
];

describe('Iceberg manifests with fastavro and pyiceberg', () => {
  let dir: string;
  let py: PyOut;
  let ourEntries: ManifestEntry[];
  let ourManifest: ManifestFile;
  const pySnapshot = 3_051_729_675_574_597_004n;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-iceberg-manifest-'));
    ourEntries = entries();
    const manifestPath = join(dir, 'm0.avro');
    const manifestBytes = encodeManifest({
      schemaJson: JSON.stringify(SCHEMA),
      schemaId: 0,
      spec: { specId: 0, fields: SPEC },
      entries: ourEntries,
    });
    await writeFile(manifestPath, manifestBytes);
    ourManifest = {
      manifestPath: `file://${manifestPath}`,
      manifestLength: BigInt(manifestBytes.length),
      partitionSpecId: 0,
      content: 0,
      sequenceNumber: 2n,
      minSequenceNumber: 1n,
      addedSnapshotId: SNAPSHOT,
      addedFilesCount: 2,
      existingFilesCount: 0,
      deletedFilesCount: 1,
      addedRowsCount: 200_001n,
      existingRowsCount: 0n,
      deletedRowsCount: 100_002n,
      partitions: [
        {
          containsNull: false,
          containsNan: null,
          lowerBound: toBound('int', 499_858),
          upperBound: toBound('int', 499_860),
        },
        {
          containsNull: true,
          containsNan: false,
          lowerBound: toBound('string', 'temperature'),
          upperBound: toBound('string', 'temperature'),
        },
      ],
    };
    const listPath = join(dir, 'snap.avro');
    await writeFile(
      listPath,
      encodeManifestList({
        snapshotId: SNAPSHOT,
        parentSnapshotId: PARENT,
        sequenceNumber: 2n,
        manifests: [ourManifest],
      }),
    );
    const config = {
      manifest: manifestPath,
      list: listPath,
      types: Object.fromEntries(Object.entries(BOUNDS).map(([id, [type]]) => [id, type])),
      values: VALUES.map(([t, v]) => [t, typeof v === 'bigint' ? String(v) : v]),
      pyManifest: join(dir, 'py-m0.avro'),
      pyList: join(dir, 'py-snap.avro'),
      pySnapshot: Number.NaN, // replaced below: JSON has no bigint
    };
    const input = JSON.stringify(config).replace('"pySnapshot":null', `"pySnapshot":${pySnapshot}`);
    const child = promisify(execFile)(PYTHON, ['-c', SCRIPT], { maxBuffer: 64 * 1024 * 1024 });
    child.child.stdin?.end(input);
    py = JSON.parse((await child).stdout) as PyOut;
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('fastavro', () => {
    it('reads every record, with field-id on every field of both header schemas', () => {
      // assert
      expect(py.fastavro.manifest.records).toHaveLength(3);
      expect(py.fastavro.list.records).toHaveLength(1);
      expect(py.fastavro.manifest.missingIds).toEqual([]);
      expect(py.fastavro.list.missingIds).toEqual([]);
      expect(py.fastavro.manifest.metadata).toMatchObject({
        'schema-id': '0',
        'partition-spec-id': '0',
        'format-version': '2',
        content: 'data',
        'avro.codec': 'deflate',
      });
      expect(JSON.parse(py.fastavro.manifest.metadata.schema as string)).toEqual(SCHEMA);
      expect(py.fastavro.list.metadata).toMatchObject({
        'snapshot-id': String(SNAPSHOT),
        'parent-snapshot-id': String(PARENT),
        'sequence-number': '2',
        'format-version': '2',
      });
    });
  });

  describe('pyiceberg', () => {
    it('reads the manifest list through read_manifest_list with the values written', () => {
      // assert
      expect(py.pyiceberg).toHaveLength(1);
      const [m] = py.pyiceberg as [PyManifest];
      expect(m).toMatchObject({
        path: ourManifest.manifestPath,
        length: String(ourManifest.manifestLength),
        specId: 0,
        content: 0,
        sequenceNumber: '2',
        minSequenceNumber: '1',
        addedSnapshotId: String(SNAPSHOT),
        addedFiles: 2,
        deletedFiles: 1,
        addedRows: '200001',
      });
      expect(m.partitions).toEqual(
        (ourManifest.partitions ?? []).map((p) => [
          p.containsNull,
          p.containsNan ?? null,
          hex(p.lowerBound),
          hex(p.upperBound),
        ]),
      );
    });

    it('reads every manifest entry through fetch_manifest_entry, bounds decoded with from_bytes', () => {
      // arrange
      const [m] = py.pyiceberg as [PyManifest];
      // from_bytes gives ints for int, date (days) and timestamptz (micros), Decimal for decimals
      const pyValue = (type: string, v: BoundValue) =>
        type === 'int' || type === 'date' || typeof v === 'bigint' ? String(v) : v;

      // assert
      expect(m.entries).toHaveLength(3);
      m.entries.forEach((e, i) => {
        const ours = ourEntries[i] as ManifestEntry;
        expect(e).toMatchObject({
          status: ours.status,
          // entries written with null sequence numbers inherit the manifest's (pyiceberg does that)
          snapshotId: String(SNAPSHOT),
          sequenceNumber: ours.sequenceNumber === null ? '2' : String(ours.sequenceNumber),
          path: ours.dataFile.filePath,
          format: 'PARQUET',
          partition: [String(ours.dataFile.partition.timestamp_hour), ours.dataFile.partition.type],
          recordCount: String(ours.dataFile.recordCount),
          splitOffsets: ['4'],
        });
        expect(e.nullValueCounts).toEqual(
          Object.fromEntries(
            [...(ours.dataFile.nullValueCounts ?? [])].map(([k, v]) => [String(k), String(v)]),
          ),
        );
        for (const [id, [type, lower, upper]] of Object.entries(BOUNDS)) {
          expect([e.lower[id], e.upper[id]]).toEqual([pyValue(type, lower), pyValue(type, upper)]);
        }
      });
    });

    it('serializes single values exactly as pyiceberg.conversions.to_bytes', () => {
      // assert
      expect(py.toBytes).toEqual(VALUES.map(([type, value]) => hex(toBound(type, value))));
    });
  });

  describe('read here', () => {
    it('decodes the manifest list and manifest pyiceberg wrote', async () => {
      // act
      const [manifest] = decodeManifestList(await readFile(join(dir, 'py-snap.avro')));
      const { entries: pyEntries, metadata } = decodeManifest(await readFile(join(dir, 'py-m0.avro')));

      // assert
      expect(manifest).toMatchObject({
        manifestPath: expect.stringContaining('py-m0.avro'),
        partitionSpecId: 0,
        content: 0,
        sequenceNumber: 1n,
        minSequenceNumber: 1n,
        addedSnapshotId: pySnapshot,
        addedFilesCount: 1,
        addedRowsCount: 42n,
      });
      expect(manifest?.partitions?.[0]).toMatchObject({ containsNull: false });
      expect(fromBound('int', manifest?.partitions?.[0]?.lowerBound as Uint8Array)).toBe(499_858);
      expect(metadata).toMatchObject({ 'partition-spec-id': '0', 'format-version': '2', content: 'data' });
      expect(pyEntries).toHaveLength(1);
      const [e] = pyEntries as [ManifestEntry];
      expect(e).toMatchObject({
        status: 1,
        snapshotId: pySnapshot,
        sequenceNumber: null,
        dataFile: {
          filePath: 'file:///py/data/a.parquet',
          fileFormat: 'PARQUET',
          partition: { timestamp_hour: 499_858, type: 'temperature' },
          recordCount: 42n,
          fileSizeInBytes: 4242n,
          splitOffsets: [4n],
          sortOrderId: 0,
        },
      });
      expect(e.dataFile.valueCounts).toEqual(
        new Map([
          [1, 42n],
          [2, 42n],
        ]),
      );
      expect(fromBound('timestamptz', e.dataFile.lowerBounds?.get(1) as Uint8Array)).toBe(
        1_795_428_000_000_000n,
      );
      expect(fromBound('string', e.dataFile.upperBounds?.get(2) as Uint8Array)).toBe('temperature');
    });
  });
});
