import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { defineSchema, field, type Infer } from '@tributary/core';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compact, type LakeTableFormat, readDataset, readManifest, writeDataset } from '../../src/dataset.js';
import { LocalStorage } from '../../src/local-storage.js';
import { byField, byHour } from '../../src/partitions.js';
import { S3Storage } from '../../src/s3.js';
import type { Storage } from '../../src/storage.js';

// Readers that take every object under a table's folder, with their default arguments: polars,
// pyarrow and AWS SDK for pandas (awswrangler, against moto_server). They know nothing of the
// lake's manifests, so they see the committed snapshot only if the table's prefix holds exactly
// its data files. Each table goes through append, append, overwrite_partitions and compact (the
// steps that stage, replace and delete files), and the rows every reader returns are compared
// with the rows the test itself expects. Python runs once, for every reader.

const PYTHON = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../spark/.venv/bin/python');
const BUCKET = 'folder-readers';

const reading = defineSchema({
  id: field.string(),
  sensorId: field.string(),
  type: field.string(),
  value: field.double(),
  at: field.timestamp(),
});
type Reading = Infer<typeof reading>;

const TYPES = ['power_factor', 'temperature', 'hydraulic_pressure'] as const;
const START = Date.UTC(2026, 10, 23, 10);
const HOUR = 3_600_000;

/** `count` readings whose ids start with `tag`, spread over the given UTC hours and types. */
function readings(
  tag: string,
  count: number,
  hours: readonly number[],
  types: readonly string[] = TYPES,
): Reading[] {
  return Array.from({ length: count }, (_, i) => {
    const type = types[i % types.length] as string;
    const hour = hours[Math.floor(i / types.length) % hours.length] as number;
    return {
      id: `${tag}-${String(i).padStart(4, '0')}`,
      sensorId: `${type}-${i % 7}`,
      type,
      value: i * 0.25 + tag.length,
      at: new Date(START + (hour - 10) * HOUR + i * 1_001),
    };
  });
}

/** The row as every reader is asked to print it: data columns and the three partition columns. */
function rowKey(r: Reading): string {
  const iso = r.at.toISOString();
  return [r.id, r.sensorId, r.type, r.value, r.at.getTime(), iso.slice(0, 10), iso.slice(11, 13)].join('|');
}

const partitionBy = [...byHour('at'), byField('type')];

interface BuiltTable {
  /** The rows the table holds: a model of the steps, not a read of the table. */
  rows: Reading[];
  /** Every row of every data file the steps wrote, including files an overwrite or a compaction replaced. */
  written: Reading[];
}

/** Append, append, overwrite two partitions of hour 11, compact a partition of hour 10 (two files into one). */
async function buildTable(
  storage: Storage,
  table: string,
  tableFormat: LakeTableFormat,
): Promise<BuiltTable> {
  const base = { storage, table, schema: reading, partitionBy, format: 'parquet' as const, tableFormat };
  const a = readings('a', 240, [10, 11, 12]);
  const b = readings('bb', 90, [10, 11, 12]);
  const c = readings('ccc', 40, [11], ['power_factor', 'temperature']);
  await writeDataset(a, { ...base, maxRowsPerFile: 25 });
  const second = await writeDataset(b, base);
  const replaced = await writeDataset(c, { ...base, mode: 'overwrite_partitions' });
  expect(replaced.removed.length).toBeGreaterThan(0);
  const target = second.files.find(
    (f) => f.partition.includes('hour=10/type=temperature') || f.partition.includes('-10/type=temperature'),
  );
  expect(target, 'the partition to compact').toBeDefined();
  const compacted = await compact({ ...base, partition: target?.partition ?? '' });
  expect(compacted.removed.length).toBeGreaterThan(1);

  const hourOf = (r: Reading) => r.at.getUTCHours();
  const overwritten = (r: Reading) =>
    hourOf(r) === 11 && (r.type === 'power_factor' || r.type === 'temperature');
  const inCompacted = (r: Reading) => hourOf(r) === 10 && r.type === 'temperature';
  return {
    rows: [...a, ...b].filter((r) => !overwritten(r)).concat(c),
    written: [...a, ...b, ...c, ...[...a, ...b].filter(inCompacted)],
  };
}

/** The data columns alone, for readers that see other partition columns. */
const dataOnly = (key: string) => key.split('|').slice(0, 5).join('|');

// Reads each table with each reader and prints, per case, its rows (every value as text, the
// timestamp as epoch milliseconds, hour zero-padded) and its columns, or the error it raised.
const READ = `
import datetime, json, sys, traceback
import boto3, polars as pl, pyarrow.dataset as ds, pyarrow.parquet as pq, awswrangler as wr
cases = json.loads(sys.argv[1])
endpoint, region = sys.argv[2:4]
wr.config.s3_endpoint_url = endpoint
session = boto3.Session(aws_access_key_id='testing', aws_secret_access_key='testing', region_name=region)

def text(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None: v = v.replace(tzinfo=datetime.timezone.utc)
        return str(round(v.timestamp() * 1000))
    if isinstance(v, datetime.date): return v.isoformat()
    if isinstance(v, float) and v.is_integer(): return str(int(v))  # as JavaScript prints it
    return str(v)

def rows(records):
    out = []
    for r in records:
        line = [text(r.get(c)) for c in ('id', 'sensorId', 'type', 'value', 'at', 'dt')]
        line.append('None' if r.get('hour') is None else '%02d' % int(r['hour']))
        out.append('|'.join(line))
    return sorted(out)

readers = {
    'polars.read_parquet glob': lambda p: pl.read_parquet(p + '**/*.parquet', hive_partitioning=True).to_dicts(),
    'polars.scan_parquet': lambda p: pl.scan_parquet(p).collect().to_dicts(),
    'pyarrow.parquet.read_table': lambda p: pq.read_table(p).to_pylist(),
    'pyarrow.dataset': lambda p: ds.dataset(p).to_table().to_pylist(),
    'pyarrow.dataset hive': lambda p: ds.dataset(p, partitioning='hive').to_table().to_pylist(),
    'awswrangler.read_parquet': lambda p: wr.s3.read_parquet(path=p, dataset=True, boto3_session=session).to_dict('records'),
}
out = {}
for case in cases:
    try:
        records = readers[case['reader']](case['path'])
        out[case['name']] = {'rows': rows(records), 'columns': sorted(records[0].keys()) if records else []}
    except Exception as e:
        out[case['name']] = {'error': '%s: %s' % (type(e).__name__, str(e).splitlines()[0] if str(e) else '')}
print(json.dumps(out))
`;

interface ReadOutcome {
  rows?: string[];
  columns?: string[];
  error?: string;
}

const DATA_COLUMNS = ['at', 'id', 'sensorId', 'type', 'value'];
const ALL_COLUMNS = [...DATA_COLUMNS, 'dt', 'hour'].sort();

let moto: MotoServer;
let client: S3Client;
const root = mkdtempSync(join(tmpdir(), 'tributary-folder-readers-'));
const expected: Record<string, string[]> = {};
let read: Record<string, ReadOutcome>;

beforeAll(async () => {
  moto = await startMotoServer();
  client = new S3Client({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: moto.credentials,
    forcePathStyle: true,
  });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const local = new LocalStorage({ root });
  const s3 = new S3Storage({ client, bucket: BUCKET, prefix: 'processed/' });

  expected.local = (await buildTable(local, 'sensors', 'hive')).rows.map(rowKey).sort();
  expected.s3 = (await buildTable(s3, 'sensors', 'hive')).rows.map(rowKey).sort();
  await buildTable(s3, 'sensors_legacy', 'hive');
  await buildTable(local, 'sensors_legacy', 'hive');
  const iceberg = await buildTable(s3, 'sensors_iceberg', 'iceberg');
  expected.iceberg = iceberg.rows.map(rowKey).sort();
  expected.icebergWritten = iceberg.written.map((r) => dataOnly(rowKey(r))).sort();
  // What a table of the earlier layout held inside its prefix: its manifests, as JSON objects.
  const manifest = await readManifest(s3, 'sensors_legacy');
  const legacyKey = `sensors_legacy/_manifests/v${String(manifest?.version).padStart(10, '0')}.json`;
  expect(legacyKey).toBe('sensors_legacy/_manifests/v0000000004.json');
  await local.put(legacyKey, JSON.stringify(manifest));
  await client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: `processed/${legacyKey}`, Body: JSON.stringify(manifest) }),
  );
  // Our own reader agrees with the model (so a difference below is the outside reader's).
  const ours: Reading[] = [];
  for await (const r of readDataset({ storage: s3, table: 'sensors', schema: reading }))
    ours.push(r as Reading);
  expect(ours.map(rowKey).sort()).toEqual(expected.s3);

  const table = `${root}/sensors/`;
  const s3Path = (name: string) => `s3://${BUCKET}/processed/${name}/`;
  const cases = [
    { name: 'polars glob', reader: 'polars.read_parquet glob', path: table },
    { name: 'polars scan', reader: 'polars.scan_parquet', path: table },
    { name: 'pyarrow read_table', reader: 'pyarrow.parquet.read_table', path: table },
    { name: 'pyarrow dataset', reader: 'pyarrow.dataset', path: table },
    { name: 'pyarrow dataset hive', reader: 'pyarrow.dataset hive', path: table },
    { name: 'polars scan legacy', reader: 'polars.scan_parquet', path: `${root}/sensors_legacy/` },
    { name: 'polars glob legacy', reader: 'polars.read_parquet glob', path: `${root}/sensors_legacy/` },
    { name: 'pyarrow dataset legacy', reader: 'pyarrow.dataset hive', path: `${root}/sensors_legacy/` },
    { name: 'wr s3', reader: 'awswrangler.read_parquet', path: s3Path('sensors') },
    { name: 'wr legacy', reader: 'awswrangler.read_parquet', path: s3Path('sensors_legacy') },
    { name: 'wr iceberg table', reader: 'awswrangler.read_parquet', path: s3Path('sensors_iceberg') },
    {
      name: 'wr iceberg data',
      reader: 'awswrangler.read_parquet',
      path: `${s3Path('sensors_iceberg')}data/`,
    },
  ];
  // Asynchronously: moto_server logs every request to a pipe this process must keep reading.
  const { stdout } = await promisify(execFile)(
    PYTHON,
    ['-c', READ, JSON.stringify(cases), moto.endpoint, moto.region],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 180_000 },
  );
  read = JSON.parse(stdout) as Record<string, ReadOutcome>;
}, 240_000);

afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  client?.destroy();
  await moto?.stop();
});

describe('hive tables read by folder-listing readers with default arguments', () => {
  describe('LocalStorage', () => {
    it.each(['polars glob', 'polars scan', 'pyarrow read_table', 'pyarrow dataset hive'])(
      '%s returns exactly the table’s rows, with its partition columns',
      (name) => {
        const outcome = read[name];
        expect(outcome?.error, name).toBeUndefined();
        expect(outcome?.columns).toEqual(ALL_COLUMNS);
        expect(outcome?.rows).toHaveLength(expected.local?.length ?? -1);
        expect(outcome?.rows).toEqual(expected.local);
      },
    );

    it('pyarrow.dataset with no partitioning returns exactly the rows of the data files', () => {
      // Without a partitioning the path's columns are not read: `type` (a field partition) is
      // missing, and every other column of every row is there once.
      const outcome = read['pyarrow dataset'];
      expect(outcome?.error).toBeUndefined();
      expect(outcome?.columns).toEqual(['at', 'id', 'sensorId', 'value']);
      const strip = (row: string) => {
        const [id, sensorId, , value, at] = row.split('|');
        return [id, sensorId, value, at].join('|');
      };
      expect(outcome?.rows?.map(strip).sort()).toEqual(expected.local?.map(strip).sort());
    });
  });

  describe('a table of the earlier layout (manifests inside its prefix)', () => {
    it('polars’ folder scan fails on it, its glob of *.parquet and pyarrow (which skip _-folders) do not', () => {
      expect(read['polars scan legacy']?.error).toMatch(/different file extensions/);
      expect(read['polars glob legacy']?.rows).toEqual(expected.local);
      expect(read['pyarrow dataset legacy']?.rows).toEqual(expected.local);
    });
  });

  describe('S3Storage on moto_server', () => {
    it('awswrangler read_parquet(path, dataset=True) returns exactly the table’s rows', () => {
      const outcome = read['wr s3'];
      expect(outcome?.error).toBeUndefined();
      expect(outcome?.columns).toEqual(ALL_COLUMNS);
      expect(outcome?.rows).toEqual(expected.s3);
    });

    it('fails on a table of the earlier layout, whose manifests were inside its prefix', () => {
      expect(read['wr legacy']?.rows).toBeUndefined();
      expect(read['wr legacy']?.error).toMatch(/^ArrowInvalid: Parquet magic bytes not found/);
    });
  });

  describe('Iceberg tables (use an Iceberg reader)', () => {
    it('awswrangler cannot read the table folder, and reads from data/ every file ever written', () => {
      // The folder holds metadata JSON and Avro beside the data; data/ keeps the files of the
      // snapshots an overwrite or a compaction replaced until those snapshots expire, and its
      // partition folders are Iceberg's (`at_hour=…`), not the hive columns.
      expect(read['wr iceberg table']?.rows).toBeUndefined();
      expect(read['wr iceberg table']?.error).toMatch(/^ArrowInvalid: Parquet magic bytes not found/);
      const data = read['wr iceberg data'];
      expect(data?.error).toBeUndefined();
      expect(data?.columns).toEqual(['at', 'at_hour', 'id', 'sensorId', 'type', 'value']);
      expect(data?.rows?.map(dataOnly).sort()).toEqual(expected.icebergWritten);
      expect(data?.rows?.length).toBeGreaterThan(expected.iceberg?.length ?? 0);
    });
  });
});
