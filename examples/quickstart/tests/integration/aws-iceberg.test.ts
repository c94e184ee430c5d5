import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';
import {
  type AwsDemoServers,
  awsDemoOptions,
  readWithPython,
  startAwsDemoServers,
} from '../fixtures/aws-demo.js';

// `pnpm demo --mode aws` (Iceberg, the default) read back by pyiceberg's own Glue catalog and by
// boto3, on moto_server (S3, Glue, Athena) with kinesalite behind the Kinesis endpoint. Two runs
// on one `out` folder: the second commits new snapshots through Glue and leaves the same rows;
// pyiceberg's time travel to the first run's snapshots gives the first run's rows.
//
// moto's Glue ignores UpdateTable's VersionId, so this proves what pyiceberg and boto3 see after
// the demo's commits, not Glue's optimistic-concurrency guard (the lake's tests cover that).

const DATABASE = 'iceberg_demo';
const ICEBERG_TABLES = ['coin_daily', 'cryptocurrency', 'market_daily', 'quote', 'sensor_hourly', 'sensors'];

// One Python process per look (pyiceberg is slow to import). Per Glue table: what boto3 says of
// it, and what pyiceberg's Glue catalog reads: its current snapshot's rows (count, distinct ids,
// a digest of the sorted rows), its snapshots, and the same figures at the snapshots asked for.
const READ = `
import hashlib, json, sys
import boto3
from pyiceberg.catalog import load_catalog

endpoint, region, database = sys.argv[1:4]
at = json.loads(sys.argv[4])
keys = {'aws_access_key_id': 'testing', 'aws_secret_access_key': 'testing', 'region_name': region}
glue = boto3.client('glue', endpoint_url=endpoint, **keys)
s3 = boto3.client('s3', endpoint_url=endpoint, **keys)
catalog = load_catalog('glue', **{
    'type': 'glue', 'glue.endpoint': endpoint, 'client.region': region,
    'client.access-key-id': 'testing', 'client.secret-access-key': 'testing',
    's3.endpoint': endpoint, 's3.region': region, 's3.path-style-access': 'true',
    's3.access-key-id': 'testing', 's3.secret-access-key': 'testing',
})

def figures(arrow):
    rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in arrow.to_pylist())
    out = {'rows': len(rows), 'digest': hashlib.sha256('\\n'.join(rows).encode()).hexdigest()}
    if 'id' in arrow.column_names:
        out['distinctIds'] = len(set(arrow.column('id').to_pylist()))
    if 'count' in arrow.column_names:
        out['sumCount'] = sum(arrow.column('count').to_pylist())
    return out

out = {}
for page in glue.get_paginator('get_tables').paginate(DatabaseName=database):
    for t in page['TableList']:
        name = t['Name']
        parameters = t.get('Parameters', {})
        entry = out[name] = {
            'tableType': parameters.get('table_type'),
            'location': t['StorageDescriptor'].get('Location'),
            'metadataLocation': parameters.get('metadata_location'),
            'partitionKeys': [k['Name'] for k in t.get('PartitionKeys', [])],
            'partitions': sum(len(p['Partitions']) for p in glue.get_paginator('get_partitions').paginate(DatabaseName=database, TableName=name)),
        }
        if entry['tableType'] != 'ICEBERG':
            continue
        bucket, _, key = entry['metadataLocation'][len('s3://'):].partition('/')
        entry['metadataBytes'] = s3.head_object(Bucket=bucket, Key=key)['ContentLength']
        table = catalog.load_table(f'{database}.{name}')
        entry['pyiceberg'] = {
            'metadataLocation': table.metadata_location,
            'snapshotId': str(table.current_snapshot().snapshot_id) if table.current_snapshot() else None,
            'snapshots': [str(s.snapshot_id) for s in table.metadata.snapshots],
            'spec': [[f.name, str(f.transform)] for f in table.spec().fields],
            'current': figures(table.scan().to_arrow()),
            'at': {sid: figures(table.scan(snapshot_id=int(sid)).to_arrow()) for sid in at.get(name, [])},
        }
print(json.dumps(out))
`;

interface Figures {
  rows: number;
  digest: string;
  distinctIds?: number;
  sumCount?: number;
}

interface GlueTable {
  tableType: string | null;
  location: string;
  metadataLocation: string | null;
  partitionKeys: string[];
  partitions: number;
  metadataBytes?: number;
  pyiceberg?: {
    metadataLocation: string;
    snapshotId: string | null;
    snapshots: string[];
    spec: [string, string][];
    current: Figures;
    at: Record<string, Figures>;
  };
}

let servers: AwsDemoServers;
let out: string;
const runs: QuickstartResult[] = [];
const looks: Record<string, GlueTable>[] = [];

/** Both runs use the same `out` and the same AWS names: the second run finds everything there. */
function demo(): Promise<QuickstartResult> {
  return runQuickstart(awsDemoOptions(servers, { out, name: 'iceberg-demo', database: DATABASE }));
}

/** boto3's and pyiceberg's view of the Glue database; `at` names snapshots to read per table. */
async function look(at: Record<string, string[]> = {}): Promise<Record<string, GlueTable>> {
  const { moto } = servers;
  return readWithPython<Record<string, GlueTable>>(READ, [
    moto.endpoint,
    moto.region,
    DATABASE,
    JSON.stringify(at),
  ]);
}

/** The summary's figure of the lake table a Glue name stands for. */
function figure(run: QuickstartResult, name: string) {
  return run.tables.find(
    (t) => t.zone !== 'warehouse' && t.zone !== 'raw' && t.table.split('/').at(-1) === name,
  );
}

beforeAll(async () => {
  servers = await startAwsDemoServers();
  out = mkdtempSync(join(tmpdir(), 'tributary-demo-iceberg-'));
  runs.push(await demo());
  looks.push(await look());
  runs.push(await demo());
  const first = looks[0] as Record<string, GlueTable>;
  const firstSnapshots = Object.fromEntries(
    ICEBERG_TABLES.map((name) => [name, [first[name]?.pyiceberg?.snapshotId ?? '0']]),
  );
  looks.push(await look(firstSnapshots));
}, 600_000);

afterAll(async () => {
  if (out) rmSync(out, { recursive: true, force: true });
  await servers?.stop();
});

describe('pnpm demo --mode aws on Iceberg, read by pyiceberg and boto3 (moto_server)', () => {
  describe('the first run', () => {
    it('leaves every processed and curated table in Glue as an Iceberg table (boto3), and only the raw table as hive', () => {
      const [first] = looks;
      const [run] = runs;
      expect(run?.tableFormat).toBe('iceberg');
      const iceberg = Object.entries(first ?? {}).filter(([, t]) => t.tableType === 'ICEBERG');
      expect(iceberg.map(([name]) => name).sort()).toEqual(ICEBERG_TABLES);
      expect(Object.keys(first ?? {}).sort()).toEqual([...ICEBERG_TABLES, 'raw_sensors'].sort());
      for (const [name, table] of iceberg) {
        expect(table.partitionKeys, name).toEqual([]);
        expect(table.partitions, name).toBe(0);
        expect(table.metadataLocation, name).toMatch(
          new RegExp(`^${table.location.replace(/\/?$/, '/')}metadata/.+\\.metadata\\.json$`),
        );
        expect(table.metadataBytes, name).toBeGreaterThan(0);
        expect(figure(run as QuickstartResult, name)?.format, name).toBe('iceberg');
      }
    });

    it("pyiceberg's Glue catalog loads every table by its Glue name and reads the summary's rows at the summary's snapshot", () => {
      const [first] = looks;
      const [run] = runs as [QuickstartResult];
      for (const name of ICEBERG_TABLES) {
        const table = first?.[name];
        const summary = figure(run, name);
        expect(summary, name).toBeDefined();
        expect(table?.pyiceberg?.metadataLocation, name).toBe(table?.metadataLocation);
        expect(table?.pyiceberg?.snapshotId, name).toBe(summary?.snapshotId);
        expect(table?.pyiceberg?.snapshots.length, name).toBe(summary?.snapshots);
        expect(table?.pyiceberg?.current.rows, name).toBe(summary?.rows);
        expect(table?.pyiceberg?.current.rows, name).toBeGreaterThan(0);
      }
    });

    it('reads the rows the pipelines counted, once each', () => {
      const [first] = looks;
      const [run] = runs as [QuickstartResult];
      const read = (name: string) => first?.[name]?.pyiceberg?.current;
      expect(read('sensors')?.rows).toBe(3_000);
      expect(read('sensors')?.rows).toBe(run.sensors.processed.written);
      expect(read('sensors')?.distinctIds).toBe(3_000);
      expect(read('sensor_hourly')?.rows).toBe(run.sensors.curatedRows);
      expect(read('sensor_hourly')?.sumCount).toBe(3_000);
      expect(read('cryptocurrency')?.rows).toBe(run.crypto.processed.cryptocurrencies);
      expect(read('cryptocurrency')?.distinctIds).toBe(run.crypto.processed.cryptocurrencies);
      expect(read('quote')?.rows).toBe(run.crypto.processed.quotes);
      expect(read('coin_daily')?.rows).toBe(600);
    });

    it('partitions the processed sensor table by hour(timestamp), hidden from Glue', () => {
      const sensors = looks[0]?.sensors;
      expect(sensors?.pyiceberg?.spec).toEqual([['timestamp_hour', 'hour']]);
      expect(sensors?.partitionKeys).toEqual([]);
    });
  });

  describe('a second run on the same folder', () => {
    it('commits new snapshots through Glue and leaves the same rows (pyiceberg)', () => {
      const [first, second] = looks;
      const [, run] = runs as [QuickstartResult, QuickstartResult];
      for (const name of ICEBERG_TABLES) {
        const before = first?.[name]?.pyiceberg;
        const after = second?.[name]?.pyiceberg;
        expect(after?.metadataLocation, name).not.toBe(before?.metadataLocation);
        expect(after?.snapshotId, name).not.toBe(before?.snapshotId);
        expect(after?.snapshots.length, name).toBeGreaterThan(before?.snapshots.length ?? 0);
        expect(after?.snapshots, name).toEqual(expect.arrayContaining(before?.snapshots ?? ['none']));
        expect(after?.current, name).toEqual(before?.current);
        expect(after?.snapshotId, name).toBe(figure(run, name)?.snapshotId);
        expect(after?.current.rows, name).toBe(figure(run, name)?.rows);
      }
    });

    it("time travel to the first run's snapshot gives the first run's rows", () => {
      const [first, second] = looks;
      for (const name of ICEBERG_TABLES) {
        const firstSnapshot = first?.[name]?.pyiceberg?.snapshotId;
        expect(firstSnapshot, name).toMatch(/^\d+$/);
        const travelled = second?.[name]?.pyiceberg?.at[firstSnapshot as string];
        expect(travelled?.rows, name).toBeGreaterThan(0);
        expect(travelled, name).toEqual(first?.[name]?.pyiceberg?.current);
      }
    });

    it("the summary's snapshot history grows by one run", () => {
      const [first, second] = runs as [QuickstartResult, QuickstartResult];
      expect(second.snapshotHistory).toHaveLength(first.snapshotHistory.length + 1);
    });
  });
});
