import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TributaryEvent } from '@tributary/core';
import {
  type KinesaliteServer,
  type MotoServer,
  type PostgresServer,
  startKinesalite,
  startMotoServer,
  startPostgres,
} from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';

// What a Glue client sees after `pnpm demo --mode aws` (moto_server for S3, Glue and Athena;
// kinesalite behind the Kinesis endpoint, since moto's Kinesis drops records under concurrent puts): boto3 lists each table's partitions and each table's folders in S3, and the two must
// agree. The run keeps its resources (no --cleanup) so that they can be inspected.

const PYTHON = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../spark/.venv/bin/python');

// For every Glue table: the partitions Glue has (values, location) and the folders of the
// table's location that hold data files, at the depth of its partition keys. Files and folders
// whose name starts with `_` or `.` are no data (Hive's and Spark's rule).
const INSPECT = `
import json, sys, boto3
endpoint, region, database = sys.argv[1:4]
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id='testing', aws_secret_access_key='testing')
glue, s3 = boto3.client('glue', **kw), boto3.client('s3', **kw)
out = {}
for page in glue.get_paginator('get_tables').paginate(DatabaseName=database):
    for table in page['TableList']:
        keys = [k['Name'] for k in table.get('PartitionKeys', [])]
        location = table['StorageDescriptor']['Location'].rstrip('/') + '/'
        bucket, _, prefix = location[len('s3://'):].partition('/')
        partitions = []
        for p in glue.get_paginator('get_partitions').paginate(DatabaseName=database, TableName=table['Name']):
            partitions += [{'values': x['Values'], 'location': x['StorageDescriptor']['Location']} for x in p['Partitions']]
        folders = set()
        for p in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):
            for o in p.get('Contents', []):
                parts = o['Key'][len(prefix):].split('/')
                if any(s.startswith(('_', '.')) for s in parts) or len(parts) != len(keys) + 1:
                    continue
                folders.add('s3://%s/%s%s/' % (bucket, prefix, '/'.join(parts[:-1])))
        out[table['Name']] = {
            'keys': keys,
            'projection': table.get('Parameters', {}).get('projection.enabled'),
            'columns': [c['Name'] for c in table['StorageDescriptor']['Columns']],
            'partitions': partitions,
            'folders': sorted(folders),
        }
print(json.dumps(out))
`;

interface GlueView {
  keys: string[];
  projection: string | null;
  columns: string[];
  partitions: { values: string[]; location: string }[];
  folders: string[];
}

let moto: MotoServer;
let postgres: PostgresServer;
let kinesalite: KinesaliteServer;
let out: string;
let result: QuickstartResult;
let glue: Record<string, GlueView>;
const flushes: string[] = [];
const logs: string[] = [];

beforeAll(async () => {
  [moto, kinesalite, postgres] = await Promise.all([startMotoServer(), startKinesalite(), startPostgres()]);
  process.env.AWS_ACCESS_KEY_ID = moto.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = moto.credentials.secretAccessKey;
  out = mkdtempSync(join(tmpdir(), 'tributary-demo-glue-'));
  result = await runQuickstart({
    out,
    mode: 'aws',
    records: 3_000,
    sensorsPerType: 2,
    snapshots: 2,
    report: false,
    log: (line) => {
      logs.push(line);
    },
    env: {
      TRIBUTARY_MODE: 'aws',
      AWS_REGION: moto.region,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ENDPOINT_URL_KINESIS: kinesalite.endpoint,
      TRIBUTARY_BUCKET_PREFIX: 'glue-parts',
      TRIBUTARY_STREAM: 'glue-parts-sensors',
      TRIBUTARY_GLUE_DATABASE: 'glue_parts',
      TRIBUTARY_WAREHOUSE: 'postgres',
      DATABASE_URL: postgres.url,
    },
    onEvent: (event: TributaryEvent) => {
      if (event.type === 'flush' && event.target) flushes.push(event.target);
    },
  });
  // Asynchronously: moto logs each request to a pipe this process reads, and a synchronous child
  // would stop that reading and freeze moto once the pipe fills.
  const { stdout } = await promisify(execFile)(
    PYTHON,
    ['-c', INSPECT, moto.endpoint, moto.region, 'glue_parts'],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  glue = JSON.parse(stdout) as Record<string, GlueView>;
}, 300_000);

afterAll(async () => {
  if (out) rmSync(out, { recursive: true, force: true });
  await Promise.all([moto?.stop(), kinesalite?.stop(), postgres?.stop()]);
});

describe('pnpm demo --mode aws: Glue partitions (boto3 on moto_server)', () => {
  it('registers all seven tables', () => {
    expect(Object.keys(glue).sort()).toEqual([
      'coin_daily',
      'cryptocurrency',
      'market_daily',
      'quote',
      'raw_sensors',
      'sensor_hourly',
      'sensors',
    ]);
    expect(result.mode).toBe('aws');
  });

  it('lists, for every partitioned table, exactly the partition folders that exist in S3', () => {
    const partitioned = Object.entries(glue).filter(([, t]) => t.keys.length > 0);
    expect(partitioned.map(([name]) => name).sort()).toEqual(
      expect.arrayContaining(['raw_sensors', 'sensors', 'sensor_hourly', 'coin_daily']),
    );
    for (const [name, table] of partitioned) {
      expect(table.projection, name).toBeFalsy();
      expect(table.folders.length, `${name} has data folders`).toBeGreaterThan(0);
      const locations = table.partitions.map((p) => p.location.replace(/\/?$/, '/')).sort();
      expect(locations, name).toEqual(table.folders);
      for (const p of table.partitions) expect(p.values, name).toHaveLength(table.keys.length);
    }
    // The raw table: one partition per hour folder the delivery flushed into (the processed
    // zone's dataset writes flush under sensors/dt=…/ too: those are not the raw table's).
    const hours = new Set(
      flushes
        .map((key) => /^sensors\/(\d{4}\/\d{2}\/\d{2}\/\d{2})\//.exec(key)?.[1])
        .filter((hour) => hour !== undefined),
    );
    expect(hours.size).toBeGreaterThan(0);
    expect(glue.raw_sensors?.partitions.map((p) => p.values.join('/')).sort()).toEqual([...hours].sort());
  });

  it('registers partitions as they are written: the final catalog step finds every one there', () => {
    for (const name of Object.keys(glue)) {
      const lines = logs.filter((l) => l.startsWith(`catalog: ${name} (`));
      const counts = lines.map((l) => Number(/, (\d+) partition\(s\) registered/.exec(l)?.[1]));
      // At least one registration after a commit or flush, then the final one ('lake → catalog').
      expect(lines.length, name).toBeGreaterThanOrEqual(2);
      expect(
        counts.slice(0, -1).reduce((a, b) => a + b, 0),
        name,
      ).toBe(glue[name]?.partitions.length);
      expect(counts.at(-1), name).toBe(0);
    }
  });

  it('names every column in lowercase, as Athena reads them', () => {
    for (const [name, table] of Object.entries(glue)) {
      for (const column of [...table.columns, ...table.keys]) expect(column, name).toBe(column.toLowerCase());
    }
    expect(glue.sensors?.columns).toContain('sensorid');
  });
});
