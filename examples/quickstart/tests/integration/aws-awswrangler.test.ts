import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';
import type { TableFigure } from '../../src/report-data.js';
import {
  type AwsDemoServers,
  awsDemoOptions,
  readWithPython,
  startAwsDemoServers,
} from '../fixtures/aws-demo.js';

// What AWS SDK for pandas (awswrangler) sees after `pnpm demo --mode aws` on moto_server (S3,
// Glue, Athena) with kinesalite behind the Kinesis endpoint (moto's Kinesis drops records under
// concurrent PutRecords, and the counts here are exact). awswrangler is called with its default
// arguments, as its users call it: the catalog's tables and partitions, and every Parquet table
// read through the catalog. Each run keeps its resources (no --cleanup) so they can be read.
//
// Two runs. With `--table-format hive` every table is a hive table awswrangler reads itself. With
// the default (Iceberg processed and curated tables) awswrangler sees the Iceberg tables in the
// catalog but reads none of them here: its only Iceberg reader is Athena SQL (wr.athena.*), and
// moto's Athena runs no SQL (wr.athena.read_sql_query's query "succeeds" with no result file:
// NoFilesFound). wr.s3.read_parquet_table reads every object under the table's location, so it
// fails on the metadata files (ArrowInvalid: Parquet magic bytes not found), and would count data
// files that later snapshots replaced: it is no read of an Iceberg table. pyiceberg reads those
// tables, with the summary's counts, in aws-iceberg.test.ts.

// One run of Python for the whole file. Per Glue table: what wr.catalog says of it, its
// partitions, and the partition folders that hold data in S3 (names starting with `_` or `.` are
// no data, Hive's rule). Parquet tables are read with wr.s3.read_parquet_table; the raw NDJSON
// table is read partition by partition, from the locations Glue lists, with wr.s3.read_json.
const READ = `
import json, sys
import boto3, pandas as pd, awswrangler as wr
endpoint, region, database = sys.argv[1:4]
wr.config.s3_endpoint_url = endpoint
wr.config.glue_endpoint_url = endpoint
session = boto3.Session(aws_access_key_id='testing', aws_secret_access_key='testing', region_name=region)
db = dict(database=database, boto3_session=session)

def folders(location, depth):
    out = set()
    for path in wr.s3.list_objects(location, boto3_session=session):
        parts = path[len(location):].split('/')
        if any(p.startswith(('_', '.')) for p in parts) or len(parts) != depth + 1:
            continue
        out.add(location + '/'.join(parts[:-1]) + '/')
    return sorted(out)

out = {}
for name in wr.catalog.tables(limit=None, **db)['Table']:
    described = wr.catalog.table(table=name, **db)
    location = wr.catalog.get_table_location(table=name, **db).rstrip('/') + '/'
    keys = list(described[described['Partition']]['Column Name'])
    partitions = wr.catalog.get_partitions(table=name, **db)
    parameters = wr.catalog.get_table_parameters(table=name, **db)
    t = out[name] = {
        'location': location,
        'tableType': parameters.get('table_type'),
        'classification': parameters.get('classification'),
        'columns': list(described['Column Name']),
        'keys': keys,
        'partitions': sorted([l.rstrip('/') + '/', v] for l, v in partitions.items()),
        'folders': folders(location, len(keys)) if keys else [],
    }
    if t['tableType'] == 'ICEBERG':
        # Not read: see the comment at the top (read_parquet_table fails on the metadata files,
        # and moto's Athena writes no result for wr.athena).
        t['metadataLocation'] = parameters.get('metadata_location')
        t['metadataExists'] = wr.s3.does_object_exist(t['metadataLocation'], boto3_session=session)
        continue
    try:
        if t['classification'] == 'parquet':
            df = wr.s3.read_parquet_table(table=name, **db)
            if keys:
                t['rowPartitions'] = sorted({'/'.join(r) for r in df[keys].astype(str).itertuples(index=False)})
        else:
            # Not Parquet: read what Glue's partitions point at, object by object.
            paths = [p for l, _ in t['partitions'] for p in wr.s3.list_objects(l, boto3_session=session)]
            t['objects'] = len(paths)
            df = pd.concat([wr.s3.read_json(path=p, lines=True, boto3_session=session) for p in paths], ignore_index=True)
        t['rows'] = len(df)
        t['readColumns'] = list(df.columns)
        if 'id' in df.columns: t['distinctIds'] = int(df['id'].nunique())
        if 'count' in df.columns: t['sumCount'] = int(df['count'].sum())
    except Exception as e:
        t['error'] = '%s: %s' % (type(e).__name__, (str(e).splitlines() or [''])[0])
print(json.dumps(out))
`;

interface WranglerTable {
  location: string;
  classification: string | null;
  /** Glue's columns, then its partition keys (as `wr.catalog.table` lists them). */
  columns: string[];
  keys: string[];
  partitions: [string, string[]][];
  folders: string[];
  rows?: number;
  readColumns?: string[];
  distinctIds?: number;
  sumCount?: number;
  /** Parquet: the distinct partition values of the rows read, `/`-joined. */
  rowPartitions?: string[];
  /** Not Parquet: how many objects Glue's partitions hold. */
  objects?: number;
  error?: string;
}

interface WranglerIcebergTable extends WranglerTable {
  tableType: string | null;
  metadataLocation?: string;
  metadataExists?: boolean;
}

/** One demo run and what awswrangler saw after it; `prefix` is the run's bucket prefix. */
interface Run {
  prefix: string;
  result: QuickstartResult;
  tables: Record<string, WranglerIcebergTable>;
}

let servers: AwsDemoServers;
const outs: string[] = [];
let hive: Run;
let iceberg: Run;
/** The hive run's summary and awswrangler's view (the hive checks below read these). */
let result: QuickstartResult;
let wrangler: Record<string, WranglerTable>;

async function demo(tableFormat: 'hive' | 'iceberg', prefix: string): Promise<Run> {
  const out = mkdtempSync(join(tmpdir(), 'tributary-demo-wrangler-'));
  outs.push(out);
  const database = `${prefix.replaceAll('-', '_')}_demo`;
  const summary = await runQuickstart(
    awsDemoOptions(servers, { out, name: prefix, database }, { tableFormat }),
  );
  const { moto } = servers;
  const tables = await readWithPython<Record<string, WranglerIcebergTable>>(READ, [
    moto.endpoint,
    moto.region,
    database,
  ]);
  return { prefix, result: summary, tables };
}

beforeAll(async () => {
  servers = await startAwsDemoServers();
  hive = await demo('hive', 'wrangler');
  iceberg = await demo('iceberg', 'wrangler-ice');
  result = hive.result;
  wrangler = hive.tables;
}, 600_000);

afterAll(async () => {
  for (const out of outs) rmSync(out, { recursive: true, force: true });
  await servers?.stop();
});

/** The summary's figure for the table at a Glue location (`s3://<prefix>-<zone>/<folder>/`). */
function figureAt(location: string, run: Run = hive): TableFigure | undefined {
  const match = /^s3:\/\/(.+)-(raw|processed|curated)\/(.+)\/$/.exec(location);
  if (match?.[1] !== run.prefix) return undefined;
  return run.result.tables.find((t) => t.zone === match[2] && t.table === match[3]);
}

const parquetTables = () => Object.entries(wrangler).filter(([, t]) => t.classification === 'parquet');

describe('pnpm demo --mode aws on Iceberg, seen by awswrangler (moto_server)', () => {
  const ICEBERG_TABLES = [
    'coin_daily',
    'cryptocurrency',
    'market_daily',
    'quote',
    'sensor_hourly',
    'sensors',
  ];

  it('wr.catalog lists every table the demo wrote, each at the folder of a table in the summary', () => {
    expect(iceberg.result.tableFormat).toBe('iceberg');
    expect(Object.keys(iceberg.tables).sort()).toEqual([...ICEBERG_TABLES, 'raw_sensors'].sort());
    for (const [name, table] of Object.entries(iceberg.tables)) {
      expect(figureAt(table.location, iceberg), `${name} at ${table.location}`).toBeDefined();
    }
  });

  it('wr.catalog shows the processed and curated tables as Iceberg tables: no partitions, a metadata file that exists', () => {
    for (const name of ICEBERG_TABLES) {
      const table = iceberg.tables[name];
      expect(table?.tableType, name).toBe('ICEBERG');
      expect(figureAt(table?.location ?? '', iceberg)?.format, name).toBe('iceberg');
      expect(table?.keys, name).toEqual([]);
      expect(table?.partitions, name).toEqual([]);
      expect(table?.metadataLocation, name).toMatch(
        new RegExp(`^${table?.location}metadata/.+\\.metadata\\.json$`),
      );
      expect(table?.metadataExists, name).toBe(true);
    }
  });

  it('reads the raw table (hive, NDJSON) as on a hive run: every delivered record (wr.s3.read_json)', () => {
    const raw = iceberg.tables.raw_sensors;
    expect(raw?.tableType).toBeNull();
    expect(raw?.error).toBeUndefined();
    expect(raw?.objects).toBe(iceberg.result.sensors.rawObjects);
    expect(raw?.rows).toBe(iceberg.result.sensors.produced);
    expect(raw?.distinctIds).toBe(3_000);
  });
});

describe('pnpm demo --mode aws --table-format hive read by awswrangler with default arguments (moto_server)', () => {
  describe('wr.catalog', () => {
    it('lists every table the demo wrote, each at the folder of a table in the summary', () => {
      expect(Object.keys(wrangler).sort()).toEqual([
        'coin_daily',
        'cryptocurrency',
        'market_daily',
        'quote',
        'raw_sensors',
        'sensor_hourly',
        'sensors',
      ]);
      for (const [name, table] of Object.entries(wrangler)) {
        expect(figureAt(table.location), `${name} at ${table.location}`).toBeDefined();
      }
    });

    it('lists every partition: exactly the partition folders that hold data in S3', () => {
      const partitioned = Object.entries(wrangler).filter(([, t]) => t.keys.length > 0);
      expect(partitioned.map(([name]) => name).sort()).toEqual([
        'coin_daily',
        'market_daily',
        'quote',
        'raw_sensors',
        'sensor_hourly',
        'sensors',
      ]);
      for (const [name, table] of partitioned) {
        expect(table.folders.length, name).toBeGreaterThan(0);
        expect(
          table.partitions.map(([location]) => location),
          name,
        ).toEqual(table.folders);
        for (const [, values] of table.partitions) expect(values, name).toHaveLength(table.keys.length);
      }
    });
  });

  describe('wr.s3.read_parquet_table(table, database)', () => {
    it('reads every Parquet table, with the summary’s row count', () => {
      const tables = parquetTables();
      expect(tables.map(([name]) => name).sort()).toEqual([
        'coin_daily',
        'cryptocurrency',
        'market_daily',
        'quote',
        'sensor_hourly',
        'sensors',
      ]);
      for (const [name, table] of tables) {
        expect(table.error, name).toBeUndefined();
        expect(table.rows, name).toBe(figureAt(table.location)?.rows);
        expect(table.rows, name).toBeGreaterThan(0);
      }
    });

    it('returns the rows the pipelines counted, once each', () => {
      const { sensors, cryptocurrency, quote, sensor_hourly: hourly } = wrangler;
      expect(result.sensors.produced).toBe(3_000);
      expect(sensors?.rows).toBe(result.sensors.processed.written);
      expect(sensors?.distinctIds).toBe(3_000);
      expect(hourly?.rows).toBe(result.sensors.curatedRows);
      expect(hourly?.sumCount).toBe(3_000);
      expect(cryptocurrency?.rows).toBe(result.crypto.processed.cryptocurrencies);
      expect(cryptocurrency?.distinctIds).toBe(result.crypto.processed.cryptocurrencies);
      expect(quote?.rows).toBe(result.crypto.processed.quotes);
    });

    it('returns Glue’s columns (the files keep the schema’s case: sensorId) and its partitions’ values', () => {
      for (const [name, table] of parquetTables()) {
        expect(
          table.readColumns?.map((c) => c.toLowerCase()),
          name,
        ).toEqual(table.columns);
        if (table.keys.length === 0) continue;
        expect(table.rowPartitions, name).toEqual(
          table.partitions.map(([, values]) => values.join('/')).sort(),
        );
      }
      expect(wrangler.sensors?.readColumns).toContain('sensorId');
    });
  });

  describe('the raw table (NDJSON, not Parquet)', () => {
    it('holds every delivered record in the objects of its Glue partitions (wr.s3.read_json)', () => {
      const raw = wrangler.raw_sensors;
      expect(raw?.classification).toBe('json');
      expect(raw?.error).toBeUndefined();
      expect(raw?.objects).toBe(result.sensors.rawObjects);
      expect(raw?.rows).toBe(result.sensors.delivered);
      expect(raw?.rows).toBe(result.sensors.produced);
      expect(raw?.distinctIds).toBe(3_000);
      const dataColumns = raw?.columns.filter((c) => !raw.keys.includes(c));
      expect(raw?.readColumns?.map((c) => c.toLowerCase())).toEqual(dataColumns);
    });
  });
});
