// The Athena DDL is executed, not only parsed. The quickstart writes a small lake (local mode, the
// pipelines' own writers and delivery); each of its seven tables is crawled as the pipelines crawl
// it, declared with toAthenaDdl, and run by Spark SQL 3.5.6 with Hive support (an embedded Derby
// metastore): CREATE EXTERNAL TABLE as emitted, then ALTER TABLE … ADD PARTITION … LOCATION for
// every partition the crawl found (what the pipelines send Glue with BatchCreatePartition). The
// queries must return the summary's row counts and read every declared column.
//
// What is adapted, and why it does not weaken the proof:
// - Parquet tables: nothing. Spark reads them through the metastore's declared schema
//   (spark.sql.hive.convertMetastoreParquet, its default), so a declared type the files cannot be
//   read as fails the query. Hive 2.3's own ParquetHiveSerDe is not used: it cannot read INT64
//   timestamps at all (Athena can), so it would only test Hive 2.3.
// - The raw JSON table: the OpenX SerDe the DDL names is not on Maven Central, so the DDL runs
//   with Hive's JSON SerDe (org.apache.hive.hcatalog.data.JsonSerDe, the other JSON SerDe Athena
//   offers; hive-hcatalog-core 2.3.9, the Hive inside Spark 3.5.6). Its partitioned table is
//   created and its partitions registered as emitted, but Spark 3.5 cannot scan a partitioned
//   table through that SerDe (a ClassCastException in its partition-to-table object-inspector
//   conversion), so the rows are read through one unpartitioned table per partition, declared by
//   toAthenaDdl with the same columns over the partition's folder.
// Unproven without Athena: the OpenX SerDe itself (Athena engine 3 runs its own reader of it),
// and Athena's partition projection (see packages/lake/tests/integration/athena-projection.test.ts).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  crawl,
  hiveIdentifier,
  hiveString,
  type Storage,
  type TableDefinition,
  toAthenaDdl,
} from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalEnvironment,
  type LocalEnvironment,
} from '../../examples/quickstart/src/local-environment.js';
import { type QuickstartResult, runQuickstart } from '../../examples/quickstart/src/quickstart.js';
// @ts-expect-error -- a plain ES module script without type declarations
import { hiveJsonSerdeJar, hiveJsonSerdePath } from '../../scripts/hive-json-serde.mjs';
import { javaProblem, python, root } from './spark-env.js';

const SETUP_TIMEOUT = 600_000;
const OPENX = 'org.openx.data.jsonserde.JsonSerDe';
const HIVE_JSON = 'org.apache.hive.hcatalog.data.JsonSerDe';

type Row = Record<string, unknown>;
type Result = { rows: Row[] } | { error: string };

/** Runs statements and queries in Spark with Hive support (spark/tests/athena_ddl_hive.py). */
function runSpark(plan: {
  statements: string[];
  queries: Record<string, string>;
}): Promise<Record<string, Result>> {
  const jar = (hiveJsonSerdeJar as () => string | undefined)();
  if (!jar)
    throw new Error(
      `Hive's JSON SerDe jar is missing: ${hiveJsonSerdePath()} (run node scripts/hive-json-serde.mjs)`,
    );
  const scratch = mkdtempSync(join(tmpdir(), 'tributary-athena-ddl-'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, [join(root, 'spark', 'tests', 'athena_ddl_hive.py')], {
      cwd: root,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(scratch, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`Spark exited with ${code}:\n${stderr.slice(-6000)}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      resolvePromise(JSON.parse(last) as Record<string, Result>);
    });
    child.stdin.end(JSON.stringify({ jars: [jar], scratch, ...plan }));
  });
}

function rowsOf(result: Result | undefined): Row[] {
  if (!result) throw new Error('no such query');
  if ('error' in result) throw new Error(result.error);
  return result.rows;
}

const qualified = (database: string, table: string) => `${hiveIdentifier(database)}.${hiveIdentifier(table)}`;

/** `ALTER TABLE … ADD PARTITION` for each partition of a crawl, as the pipelines register them in Glue. */
function addPartitions(database: string, definition: TableDefinition): string[] {
  return definition.partitions.map((partition) => {
    const spec = definition.partitionKeys
      .map((key, i) => `${hiveIdentifier(key.name)}=${hiveString(partition.values[i] as string)}`)
      .join(', ');
    return `ALTER TABLE ${qualified(database, definition.name)} ADD IF NOT EXISTS PARTITION (${spec}) LOCATION ${hiveString(partition.location)}`;
  });
}

/** Rows, and the non-null values of every declared column: reading a column is decoding it as declared. */
function countEveryColumn(database: string, definition: TableDefinition, name = definition.name): string {
  const counts = definition.columns.map((c, i) => `count(${hiveIdentifier(c.name)}) AS c${i}`);
  return `SELECT count(*) AS n, ${counts.join(', ')} FROM ${qualified(database, name)}`;
}

/** The raw table's DDL with the SerDe this machine can run in place of the OpenX one (see the top). */
function withHiveJsonSerde(ddl: string): string {
  expect(ddl).toContain(`ROW FORMAT SERDE '${OPENX}'`);
  return ddl.replace(`'${OPENX}'`, `'${HIVE_JSON}'`);
}

/** The tables the quickstart catalogs: [zone, folder, catalog name], as its LAKE_TABLES. */
const TABLES = [
  ['raw', 'sensors', 'raw_sensors'],
  ['processed', 'sensors', 'sensors'],
  ['processed', 'coinmarketcap/cryptocurrency', 'cryptocurrency'],
  ['processed', 'coinmarketcap/quote', 'quote'],
  ['curated', 'sensor_hourly', 'sensor_hourly'],
  ['curated', 'coin_daily', 'coin_daily'],
  ['curated', 'market_daily', 'market_daily'],
] as const;

const out = mkdtempSync(join(tmpdir(), 'tributary-athena-ddl-lake-'));
let env: LocalEnvironment;
let summary: QuickstartResult;
const definitions = new Map<string, TableDefinition>();
let rawRecords: Row[] = [];
let results: Record<string, Result>;

async function readNdjson(storage: Storage, definition: TableDefinition): Promise<Row[]> {
  const records: Row[] = [];
  const { gunzipSync } = await import('node:zlib');
  for await (const object of storage.list('sensors/')) {
    if (!/\.ndjson(\.gz)?$/.test(object.key) || object.key.split('/').some((s) => s.startsWith('_')))
      continue;
    const body = Buffer.from(await storage.getBytes(object.key));
    const text = (object.key.endsWith('.gz') ? gunzipSync(body) : body).toString('utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as Row);
  }
  expect(definition.format).toBe('ndjson');
  return records;
}

beforeAll(async () => {
  const problem = javaProblem();
  if (problem) throw new Error(problem);
  const settings = { TRIBUTARY_MODE: 'local' };
  env = await createLocalEnvironment({ out, env: settings });
  summary = await runQuickstart({
    out,
    environment: env,
    env: settings,
    records: 1_500,
    sensorsPerType: 1,
    seed: 7,
    snapshots: 2,
    // The DDL under test is the hive tables' (an Iceberg table's is icebergAthenaDdl).
    tableFormat: 'hive',
    report: false,
  });

  const statements = ['CREATE DATABASE raw', 'CREATE DATABASE processed', 'CREATE DATABASE curated'];
  const queries: Record<string, string> = {};
  for (const [zone, folder, name] of TABLES) {
    const definition = await crawl(env.lake.zone(zone), folder, { name });
    definitions.set(name, definition);
    const ddl = toAthenaDdl(definition, { database: zone });
    statements.push(
      definition.format === 'ndjson' ? withHiveJsonSerde(ddl) : ddl,
      ...addPartitions(zone, definition),
    );
    if (definition.partitionKeys.length > 0)
      queries[`${name}:partitions`] = `SHOW PARTITIONS ${qualified(zone, name)}`;
    if (definition.format === 'parquet') {
      queries[name] = countEveryColumn(zone, definition);
      continue;
    }
    // The raw JSON table, partition by partition (see the top); and once more declared as the
    // crawler did before, `timestamp` over ISO-8601 text, which Hive's JSON SerDe must refuse.
    rawRecords = await readNdjson(env.lake.zone(zone), definition);
    definition.partitions.forEach((partition, i) => {
      const flat: TableDefinition = {
        ...definition,
        name: `raw_part_${i}`,
        location: partition.location,
        partitionKeys: [],
        partitions: [],
      };
      const asTimestamp: TableDefinition = {
        ...flat,
        name: `raw_part_${i}_as_timestamp`,
        columns: definition.columns.map((c) =>
          c.name === 'timestamp' ? { ...c, type: 'timestamp', kind: 'timestamp' as const } : c,
        ),
      };
      statements.push(withHiveJsonSerde(toAthenaDdl(flat, { database: zone })));
      statements.push(withHiveJsonSerde(toAthenaDdl(asTimestamp, { database: zone })));
      queries[`raw_part_${i}`] = countEveryColumn(zone, definition, flat.name);
      queries[`raw_part_${i}:rows`] = `SELECT * FROM ${qualified(zone, flat.name)}`;
      queries[`raw_part_${i}_as_timestamp`] =
        `SELECT count(\`timestamp\`) AS n FROM ${qualified(zone, asTimestamp.name)}`;
    });
  }
  results = await runSpark({ statements, queries });
}, SETUP_TIMEOUT);

afterAll(async () => {
  await env?.close();
  rmSync(out, { recursive: true, force: true });
});

/** The summary's row count of a table (its zone and folder). */
function summaryRows(zone: string, folder: string): number {
  const figure = summary.tables.find((t) => t.zone === zone && t.table === folder);
  if (!figure) throw new Error(`the summary has no ${zone}/${folder}`);
  return figure.rows;
}

describe('toAthenaDdl executed by Spark SQL with Hive support', () => {
  it.each(TABLES.filter(([, , name]) => name !== 'raw_sensors'))(
    'declares %s/%s (%s) so that every declared column reads and the rows are the summary’s',
    (zone, folder, name) => {
      const definition = definitions.get(name) as TableDefinition;
      const [row] = rowsOf(results[name]);
      const expected = summaryRows(zone, folder);

      expect(expected).toBeGreaterThan(0);
      expect(row?.n).toBe(expected);
      // Every column was decoded; a column the pipelines never leave empty is full.
      for (const [i, column] of definition.columns.entries()) {
        if (!column.nullable) expect(row?.[`c${i}`], column.name).toBe(expected);
      }
      if (definition.partitionKeys.length > 0)
        expect(rowsOf(results[`${name}:partitions`])).toHaveLength(definition.partitions.length);
    },
  );

  it('registers every partition of the raw JSON table and reads every delivered record with its declared types', () => {
    const definition = definitions.get('raw_sensors') as TableDefinition;
    const partitions = definition.partitions.map((_, i) => `raw_part_${i}`);
    const counted = partitions.map((p) => rowsOf(results[p])[0] as Row);
    const rows = partitions.flatMap((p) => rowsOf(results[`${p}:rows`]));

    expect(rowsOf(results['raw_sensors:partitions'])).toHaveLength(definition.partitions.length);
    expect(counted.reduce((n, r) => n + (r.n as number), 0)).toBe(summaryRows('raw', 'sensors'));
    expect(summaryRows('raw', 'sensors')).toBe(summary.sensors.delivered);
    // The declared columns hold the JSON values as they are: the ISO-8601 text unchanged (the
    // type Athena's SerDes read), numbers as numbers, mixed-case keys matched to their columns.
    expect(definition.columns.find((c) => c.name === 'timestamp')?.type).toBe('string');
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.size).toBe(rawRecords.length);
    for (const record of rawRecords) {
      const read = byId.get(record.id);
      for (const column of definition.columns)
        expect(read?.[column.name], `${record.id}.${column.name}`).toEqual(record[column.name]);
    }
  });

  it('shows the former declaration, timestamp over ISO-8601 text, is not read by the Hive JSON SerDe', () => {
    const definition = definitions.get('raw_sensors') as TableDefinition;
    for (const i of definition.partitions.keys()) {
      const result = results[`raw_part_${i}_as_timestamp`] as Result;
      // Without `timestamp.formats` the SerDe parses with java.sql.Timestamp.valueOf.
      expect('error' in result ? result.error : result).toContain(
        'IllegalArgumentException: Timestamp format must be yyyy-mm-dd hh:mm:ss[.fffffffff]',
      );
    }
  });
});
