import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { byHour, crawl, LocalStorage, writeDataset } from '@tributary/lake';
import { generateRecords, processedToCurated, sensorRecordSchema } from '@tributary/sensors';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AthenaEngine } from '../../src/athena-engine.js';
import { DuckDbEngine } from '../../src/duckdb-engine.js';
import type { QueryColumn, QueryParam, Row } from '../../src/types.js';

// The same SQL text on both engines. DuckDB runs it over a real lake; Athena cannot run here, so
// its client answers with DuckDB's result rendered the way Athena renders results (every value as
// VarCharValue text, types in ColumnInfo). The rows AthenaEngine gives back must equal DuckDB's:
// one row shape whichever engine ran the query.

const QUERIES: { name: string; sql: string; params: QueryParam[] }[] = [
  {
    name: 'hourly mean temperature',
    sql: 'SELECT dt, hour, count(*) AS n, avg(value) AS mean FROM sensors WHERE type = ? GROUP BY dt, hour ORDER BY dt, hour',
    params: ['temperature'],
  },
  {
    name: 'power-factor dips below 0.8',
    sql: 'SELECT sensorId, count(*) AS dips, min(value) AS lowest, min(timestamp) AS first_dip FROM sensors WHERE type = ? AND value < ? GROUP BY sensorId ORDER BY sensorId',
    params: ['power_factor', 0.8],
  },
  {
    name: 'curated hourly rows of one day',
    sql: 'SELECT dt, hour, type, count, mean, p95, anomalies FROM sensor_hourly WHERE dt = ? ORDER BY hour, type',
    params: ['2026-11-23'],
  },
  {
    name: 'exact decimals and booleans',
    sql: 'SELECT type, CAST(sum(value) AS DECIMAL(38,6)) AS total, bool_or(value < 0) AS negative FROM sensors WHERE timestamp < ? GROUP BY type ORDER BY type',
    params: [new Date('2026-11-23T12:00:00Z')],
  },
];

/** Athena's name for a DuckDB result type. */
function athenaType(column: QueryColumn): ColumnInfo {
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(column.type);
  if (decimal)
    return {
      Name: column.name,
      Label: column.name,
      Type: 'decimal',
      Precision: Number(decimal[1]),
      Scale: Number(decimal[2]),
    };
  const types: Record<string, string> = {
    VARCHAR: 'varchar',
    BIGINT: 'bigint',
    INTEGER: 'integer',
    DOUBLE: 'double',
    BOOLEAN: 'boolean',
    DATE: 'date',
    'TIMESTAMP WITH TIME ZONE': 'timestamp',
  };
  const type = types[column.type];
  if (!type) throw new Error(`no Athena type for ${column.type}`);
  return { Name: column.name, Label: column.name, Type: type };
}

/** A value as Athena writes it in GetQueryResults (`2026-11-23 10:00:00.000` for timestamps). */
function athenaText(value: unknown): string | undefined {
  if (value === null) return undefined;
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace('Z', '');
  return String(value);
}

let dir: string;
let duck: DuckDbEngine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-engines-'));
  const processed = new LocalStorage({ root: join(dir, 'processed') });
  const curated = new LocalStorage({ root: join(dir, 'curated') });
  const records = generateRecords({
    seed: 11,
    records: 4_000,
    sensorsPerType: 3,
    start: Date.UTC(2026, 10, 23),
    ratePerSecond: 4_000 / 86_400,
  });
  await writeDataset(records, {
    storage: processed,
    table: 'sensors',
    schema: sensorRecordSchema,
    partitionBy: byHour('timestamp'),
  });
  await processedToCurated({ processed, curated });
  duck = await DuckDbEngine.create({ threads: 1 });
  await duck.registerTable(await crawl(processed, 'sensors'));
  await duck.registerTable(await crawl(curated, 'sensor_hourly'));
}, 60_000);

afterAll(async () => {
  await duck?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('AthenaEngine and DuckDbEngine', () => {
  it.each(QUERIES)('return the same rows for: $name', async ({ sql, params }) => {
    const local = await duck.query(sql, { params }).collect();
    expect(local.rows.length).toBeGreaterThan(0);

    const athena = mockClient(AthenaClient);
    try {
      const columns = local.columns.map(athenaType);
      const rows = local.rows.map((row) => ({
        Data: local.columns.map((c) => {
          const text = athenaText(row[c.name]);
          return text === undefined ? {} : { VarCharValue: text };
        }),
      }));
      const header = { Data: columns.map((c) => ({ VarCharValue: c.Label as string })) };
      // Two pages, the header row first on the first one, as Athena pages a SELECT.
      const half = Math.ceil(rows.length / 2);
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: {
          QueryExecutionId: 'q-1',
          StatementType: 'DML',
          Status: { State: 'SUCCEEDED' },
          Statistics: { DataScannedInBytes: 1234, EngineExecutionTimeInMillis: 56 },
        },
      });
      athena
        .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1', NextToken: undefined })
        .resolves({
          ResultSet: { ResultSetMetadata: { ColumnInfo: columns }, Rows: [header, ...rows.slice(0, half)] },
          NextToken: 'page-2',
        })
        .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1', NextToken: 'page-2' })
        .resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: columns }, Rows: rows.slice(half) } });

      const engine = new AthenaEngine({
        client: new AthenaClient({
          region: 'us-east-1',
          credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        }),
        database: 'tributary',
        outputLocation: 's3://results/',
        pollIntervalMs: 1,
      });
      const remote = await engine.query<Row>(sql, { params }).collect();

      const sent = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
      expect(sent?.QueryString).toBe(sql);
      expect(sent?.ExecutionParameters).toHaveLength(params.length);
      expect(remote.rows).toEqual(local.rows);
      expect(remote.columns.map((c) => c.name)).toEqual(local.columns.map((c) => c.name));
      expect(remote.stats).toMatchObject({ engine: 'athena', rows: local.rows.length, bytesScanned: 1234 });
    } finally {
      athena.restore();
    }
  });
});
