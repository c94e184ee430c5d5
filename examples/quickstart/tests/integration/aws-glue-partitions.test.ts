import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TributaryEvent } from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';
import {
  type AwsDemoServers,
  awsDemoOptions,
  readWithPython,
  startAwsDemoServers,
} from '../fixtures/aws-demo.js';

// What a Glue client sees after `pnpm demo --mode aws` (moto_server for S3, Glue and Athena;
// kinesalite behind the Kinesis endpoint, since moto's Kinesis drops records under concurrent
// puts): boto3 lists each table's partitions and each table's folders in S3, and the two must
// agree. Two runs, each with its own buckets and Glue database, kept (no --cleanup) to be
// inspected: the default, where the processed and curated tables are Iceberg tables (no partition
// registration: their partitions are hidden in their metadata) and only the raw table is hive; and
// `--table-format hive`, where every table is a crawled hive table with registered partitions.

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
            'tableType': table.get('Parameters', {}).get('table_type'),
            'metadataLocation': table.get('Parameters', {}).get('metadata_location'),
            'keys': keys,
            'projection': table.get('Parameters', {}).get('projection.enabled'),
            'columns': [c['Name'] for c in table['StorageDescriptor']['Columns']],
            'partitions': partitions,
            'folders': sorted(folders),
        }
print(json.dumps(out))
`;

interface GlueView {
  /** `ICEBERG` for an Iceberg table, else `null`. */
  tableType: string | null;
  metadataLocation: string | null;
  keys: string[];
  projection: string | null;
  columns: string[];
  partitions: { values: string[]; location: string }[];
  folders: string[];
}

/** One demo run and what boto3 saw after it. */
interface Run {
  result: QuickstartResult;
  glue: Record<string, GlueView>;
  /** The keys the run's flushes wrote (raw deliveries and dataset files). */
  flushes: string[];
  logs: string[];
}

const ICEBERG_TABLES = ['coin_daily', 'cryptocurrency', 'market_daily', 'quote', 'sensor_hourly', 'sensors'];

let servers: AwsDemoServers;
const outs: string[] = [];
let iceberg: Run;
let hive: Run;

/** Runs the demo in `tableFormat` on buckets and a Glue database of its own, then asks boto3. */
async function demo(tableFormat: 'iceberg' | 'hive', name: string): Promise<Run> {
  const out = mkdtempSync(join(tmpdir(), 'tributary-demo-glue-'));
  outs.push(out);
  const flushes: string[] = [];
  const logs: string[] = [];
  const database = name.replaceAll('-', '_');
  const result = await runQuickstart(
    awsDemoOptions(
      servers,
      { out, name, database },
      {
        tableFormat,
        log: (line) => {
          logs.push(line);
        },
        onEvent: (event: TributaryEvent) => {
          if (event.type === 'flush' && event.target) flushes.push(event.target);
        },
      },
    ),
  );
  const { moto } = servers;
  const glue = await readWithPython<Record<string, GlueView>>(INSPECT, [
    moto.endpoint,
    moto.region,
    database,
  ]);
  return { result, glue, flushes, logs };
}

beforeAll(async () => {
  servers = await startAwsDemoServers();
  iceberg = await demo('iceberg', 'glue-iceberg');
  hive = await demo('hive', 'glue-hive');
}, 600_000);

afterAll(async () => {
  for (const out of outs) rmSync(out, { recursive: true, force: true });
  await servers?.stop();
});

/** The raw table has one partition per hour folder the delivery flushed into. */
function expectRawPartitionsFromFlushes(run: Run): void {
  // The processed zone's hive dataset writes flush under sensors/dt=…/ too: those are not the raw table's.
  const hours = new Set(
    run.flushes
      .map((key) => /^sensors\/(\d{4}\/\d{2}\/\d{2}\/\d{2})\//.exec(key)?.[1])
      .filter((hour) => hour !== undefined),
  );
  expect(hours.size).toBeGreaterThan(0);
  expect(run.glue.raw_sensors?.partitions.map((p) => p.values.join('/')).sort()).toEqual([...hours].sort());
}

/** Every partitioned table lists exactly the partition folders that hold data in S3. */
function expectPartitionsMatchFolders(run: Run): string[] {
  const partitioned = Object.entries(run.glue).filter(([, t]) => t.keys.length > 0);
  for (const [name, table] of partitioned) {
    expect(table.projection, name).toBeFalsy();
    expect(table.folders.length, `${name} has data folders`).toBeGreaterThan(0);
    const locations = table.partitions.map((p) => p.location.replace(/\/?$/, '/')).sort();
    expect(locations, name).toEqual(table.folders);
    for (const p of table.partitions) expect(p.values, name).toHaveLength(table.keys.length);
  }
  return partitioned.map(([name]) => name).sort();
}

/** A hive table's catalog lines: registrations after commits or flushes, then the final one finding all there. */
function expectPartitionsRegisteredAsWritten(run: Run, name: string): void {
  const lines = run.logs.filter((l) => l.startsWith(`catalog: ${name} (`));
  const counts = lines.map((l) => Number(/, (\d+) partition\(s\) registered/.exec(l)?.[1]));
  expect(lines.length, name).toBeGreaterThanOrEqual(2);
  expect(
    counts.slice(0, -1).reduce((a, b) => a + b, 0),
    name,
  ).toBe(run.glue[name]?.partitions.length);
  expect(counts.at(-1), name).toBe(0);
}

describe('pnpm demo --mode aws: Glue partitions (boto3 on moto_server)', () => {
  describe('Iceberg processed and curated tables (the default)', () => {
    it('registers all seven tables: six Iceberg tables and the raw hive table', () => {
      expect(iceberg.result.tableFormat).toBe('iceberg');
      expect(Object.keys(iceberg.glue).sort()).toEqual([...ICEBERG_TABLES, 'raw_sensors'].sort());
      const types = Object.entries(iceberg.glue).filter(([, t]) => t.tableType === 'ICEBERG');
      expect(types.map(([name]) => name).sort()).toEqual(ICEBERG_TABLES);
      expect(iceberg.glue.raw_sensors?.tableType).toBeNull();
    });

    it('gives the Iceberg tables no partition keys and no partitions in Glue: their metadata holds them', () => {
      for (const name of ICEBERG_TABLES) {
        const table = iceberg.glue[name];
        expect(table?.keys, name).toEqual([]);
        expect(table?.partitions, name).toEqual([]);
        expect(table?.metadataLocation, name).toMatch(
          /^s3:\/\/glue-iceberg-(processed|curated)\/.+\.metadata\.json$/,
        );
      }
    });

    it('lists, for the raw table (the only partitioned one), exactly the partition folders that exist in S3', () => {
      expect(expectPartitionsMatchFolders(iceberg)).toEqual(['raw_sensors']);
      expectRawPartitionsFromFlushes(iceberg);
    });

    it("registers the raw table's partitions as they are written; the Iceberg tables are neither crawled nor registered", () => {
      expectPartitionsRegisteredAsWritten(iceberg, 'raw_sensors');
      for (const name of ICEBERG_TABLES) {
        const lines = iceberg.logs.filter((l) => l.startsWith(`catalog: ${name} (`));
        const snapshotId = iceberg.result.tables.find(
          (t) => (t.zone === 'processed' || t.zone === 'curated') && t.table.split('/').at(-1) === name,
        )?.snapshotId;
        expect(snapshotId, name).toMatch(/^\d+$/);
        expect(lines, name).toEqual([
          expect.stringMatching(
            new RegExp(`^catalog: ${name} \\(iceberg\\), snapshot ${snapshotId} of \\d+$`),
          ),
        ]);
      }
    });

    it('names every hive column in lowercase, and no two Iceberg columns differ only in case (Athena lowercases names)', () => {
      for (const [name, table] of Object.entries(iceberg.glue)) {
        const columns = [...table.columns, ...table.keys];
        if (table.tableType === 'ICEBERG') {
          expect(new Set(columns.map((c) => c.toLowerCase())).size, name).toBe(columns.length);
        } else {
          for (const column of columns) expect(column, name).toBe(column.toLowerCase());
        }
      }
    });
  });

  describe('--table-format hive', () => {
    it('registers all seven tables, none of them Iceberg', () => {
      expect(hive.result.tableFormat).toBe('hive');
      expect(Object.keys(hive.glue).sort()).toEqual([...ICEBERG_TABLES, 'raw_sensors'].sort());
      for (const [name, table] of Object.entries(hive.glue)) expect(table.tableType, name).toBeNull();
    });

    it('lists, for every partitioned table, exactly the partition folders that exist in S3', () => {
      expect(expectPartitionsMatchFolders(hive)).toEqual(
        expect.arrayContaining(['raw_sensors', 'sensors', 'sensor_hourly', 'coin_daily']),
      );
      expectRawPartitionsFromFlushes(hive);
    });

    it('registers partitions as they are written: the final catalog step finds every one there', () => {
      for (const name of Object.keys(hive.glue)) expectPartitionsRegisteredAsWritten(hive, name);
    });

    it('names every column in lowercase, as Athena reads them', () => {
      for (const [name, table] of Object.entries(hive.glue)) {
        for (const column of [...table.columns, ...table.keys])
          expect(column, name).toBe(column.toLowerCase());
      }
      expect(hive.glue.sensors?.columns).toContain('sensorid');
    });
  });
});
