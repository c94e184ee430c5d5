import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { defineSchema, field } from '@tributary/core';
import { byField, byHour, type IcebergSchema } from '@tributary/lake';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AthenaEngine } from '../../src/athena-engine.js';
import { icebergAthenaDdl } from '../../src/athena-iceberg.js';
import { TableDefinitionError, WarehouseOptionsError } from '../../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');

// What sqlglot (a parser tributary did not write) reads in a statement, in the Athena dialect.
const READ_DDL = `
import json, sys
import sqlglot
from sqlglot import exp
out = []
for sql in json.load(sys.stdin):
    try:
        stmt = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    except Exception as error:
        out.append({"error": str(error).splitlines()[0]})
        continue
    table = stmt.this.this
    props = stmt.args["properties"].expressions if stmt.args.get("properties") else []
    out.append({
        "kind": type(stmt).__name__,
        "exists": bool(stmt.args.get("exists")),
        "db": table.args["db"].name if table.args.get("db") else None,
        "table": table.name,
        "columns": [[c.name, c.args["kind"].sql("athena")] for c in stmt.this.expressions],
        "partitionedBy": [p.this.sql("athena") for p in props if isinstance(p, exp.PartitionedByProperty)],
        "location": [p.this.name for p in props if isinstance(p, exp.LocationProperty)],
        "properties": [[p.name, p.args["value"].name] for p in props if type(p) is exp.Property],
    })
json.dump(out, sys.stdout)
`;

interface Parsed {
  error?: string;
  kind?: string;
  exists?: boolean;
  db?: string | null;
  table?: string;
  columns?: [string, string][];
  partitionedBy?: string[];
  location?: string[];
  properties?: [string, string][];
}

function parse(...sql: string[]): Parsed[] {
  const run = spawnSync(PYTHON, ['-c', READ_DDL], { input: JSON.stringify(sql), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sqlglot failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Parsed[];
}

const quotes = defineSchema({
  id: field.string(),
  symbol: field.string(),
  price: field.decimal(18, 6),
  tags: field.list(field.string()).nullable(),
  volume: field.int64().nullable(),
  timestamp: field.timestamp(),
});

const athena = mockClient(AthenaClient);
afterEach(() => athena.reset());

describe('icebergAthenaDdl', () => {
  it('emits a CREATE TABLE of an Iceberg table Athena owns, hour-partitioned, that sqlglot reads as such', () => {
    const ddl = icebergAthenaDdl(quotes, {
      database: 'curated',
      table: 'quotes',
      location: 's3://lake/curated/quotes',
      partitionBy: byHour('timestamp'),
    });

    expect(ddl).toBe(
      [
        'CREATE TABLE `curated`.`quotes` (',
        '  `id` string,',
        '  `symbol` string,',
        '  `price` decimal(18,6),',
        '  `tags` array<string>,',
        '  `volume` bigint,',
        '  `timestamp` timestamp',
        ')',
        'PARTITIONED BY (hour(`timestamp`))',
        "LOCATION 's3://lake/curated/quotes'",
        "TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet')",
      ].join('\n'),
    );
    const [parsed] = parse(ddl);
    expect(parsed?.error).toBeUndefined();
    expect(parsed).toMatchObject({
      kind: 'Create',
      db: 'curated',
      table: 'quotes',
      location: ['s3://lake/curated/quotes'],
    });
    expect(parsed?.columns?.map(([name]) => name)).toEqual([
      'id',
      'symbol',
      'price',
      'tags',
      'volume',
      'timestamp',
    ]);
    expect(parsed?.columns?.[2]?.[1]).toMatch(/^DECIMAL\(18, ?6\)$/);
    expect(parsed?.partitionedBy?.[0]).toMatch(/hour\(.timestamp.\)/i);
    expect(parsed?.properties).toContainEqual(['table_type', 'ICEBERG']);
  });

  it('takes an Iceberg schema: timestamptz becomes timestamp, long bigint, lists arrays; identity partitions by column', () => {
    const schema: IcebergSchema = {
      type: 'struct',
      'schema-id': 1,
      fields: [
        { id: 1, name: 'symbol', required: true, type: 'string' },
        { id: 2, name: 'at', required: true, type: 'timestamptz' },
        { id: 3, name: 'n', required: false, type: 'long' },
        {
          id: 4,
          name: 'xs',
          required: false,
          type: { type: 'list', 'element-id': 5, element: 'double', 'element-required': true },
        },
      ],
    };

    const ddl = icebergAthenaDdl(schema, {
      table: 'Prices',
      location: 's3://lake/p',
      partitionBy: [byField('symbol')],
      ifNotExists: true,
    });

    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS `prices` (');
    expect(ddl).toContain('`at` timestamp,\n  `n` bigint,\n  `xs` array<double>');
    expect(ddl).toContain('PARTITIONED BY (`symbol`)');
    const [parsed] = parse(ddl);
    expect(parsed?.error).toBeUndefined();
    expect(parsed).toMatchObject({ kind: 'Create', exists: true, table: 'prices' });
  });

  it('refuses what Athena cannot create: a non-s3 location, a bad name, a partition without a transform, a time column', () => {
    const options = { table: 'quotes', location: 's3://lake/q' };
    expect(() => icebergAthenaDdl(quotes, { ...options, location: 'file:///tmp/q' })).toThrow(
      WarehouseOptionsError,
    );
    expect(() => icebergAthenaDdl(quotes, { ...options, table: 'quo tes' })).toThrow(TableDefinitionError);
    expect(() =>
      icebergAthenaDdl(quotes, { ...options, partitionBy: [{ name: 'x', value: () => 'x' }] }),
    ).toThrow(/no Iceberg transform/);
    expect(() =>
      icebergAthenaDdl(
        { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 't', required: true, type: 'time' }] },
        options,
      ),
    ).toThrow(/type time/);
  });
});

describe('AthenaEngine', () => {
  describe('Iceberg tables', () => {
    it('sends the DDL and a time-travel query as Athena runs them, in the engine database', async () => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: { Status: { State: 'SUCCEEDED' }, StatementType: 'DML' },
      });
      athena.on(GetQueryResultsCommand).resolves({
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: [{ Name: 'n', Label: 'n', Type: 'bigint' }] },
          Rows: [{ Data: [{ VarCharValue: 'n' }] }, { Data: [{ VarCharValue: '60' }] }],
        },
      });
      const engine = new AthenaEngine({
        client: new AthenaClient({}),
        database: 'curated',
        outputLocation: 's3://results/',
      });
      const ddl = icebergAthenaDdl(quotes, {
        table: 'quotes',
        location: 's3://lake/q',
        partitionBy: byHour('timestamp'),
      });

      await engine.execute(ddl);
      const { rows } = await engine
        .query('SELECT count(*) AS n FROM quotes FOR VERSION AS OF 5226316171584187290 WHERE symbol = ?', {
          params: ['BTC'],
        })
        .collect();

      const starts = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
      expect(starts[0]).toMatchObject({
        QueryString: ddl,
        QueryExecutionContext: { Database: 'curated', Catalog: 'AwsDataCatalog' },
        ResultConfiguration: { OutputLocation: 's3://results/' },
      });
      expect(starts[1]).toMatchObject({
        QueryString:
          'SELECT count(*) AS n FROM quotes FOR VERSION AS OF 5226316171584187290 WHERE symbol = ?',
        ExecutionParameters: ["'BTC'"],
      });
      expect(rows).toEqual([{ n: 60n }]);
    });
  });
});
