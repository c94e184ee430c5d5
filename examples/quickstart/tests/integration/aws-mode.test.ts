import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetDatabaseCommand, GlueClient } from '@aws-sdk/client-glue';
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesaliteServer, MotoServer, PostgresServer } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';
import { type AwsDemoServers, awsDemoOptions, startAwsDemoServers } from '../fixtures/aws-demo.js';

// `pnpm demo --mode aws --cleanup` end to end against AWS-compatible servers on loopback:
// moto_server stands in for S3, Glue and Athena (it runs no SQL, so the queries come back empty),
// kinesalite for Kinesis (AWS_ENDPOINT_URL_KINESIS), the embedded PostgreSQL for RDS and for the
// warehouse (TRIBUTARY_WAREHOUSE=postgres). Not moto's Kinesis: under concurrent PutRecords it
// acknowledges records it never stores, so exact counts would fail for moto's sake, and a test
// that tolerated a shortfall could not catch the pipeline losing a record. Counts here are exact.

let servers: AwsDemoServers;
let moto: MotoServer;
let kinesalite: KinesaliteServer;
let postgres: PostgresServer;
let out: string;
let result: QuickstartResult;
let logs: string[];
const seen: { bucketsDuringRun: string[] } = { bucketsDuringRun: [] };

beforeAll(async () => {
  servers = await startAwsDemoServers();
  ({ moto, kinesalite, postgres } = servers);
  out = mkdtempSync(join(tmpdir(), 'tributary-demo-aws-'));
  logs = [];
  const s3 = new S3Client({
    region: moto.region,
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: moto.credentials,
  });
  result = await runQuickstart(
    awsDemoOptions(
      servers,
      { out, name: 'demo-e2e' },
      {
        cleanup: true,
        report: true,
        log: (line) => {
          logs.push(line);
        },
        onEvent: (event) => {
          // Look at the buckets while the run is under way (cleanup removes them at the end).
          if (event.type === 'records.out' && seen.bucketsDuringRun.length === 0) {
            void s3
              .send(new ListObjectsV2Command({ Bucket: 'demo-e2e-raw' }))
              .then(() => {
                seen.bucketsDuringRun.push('demo-e2e-raw');
              })
              .catch(() => {});
          }
        },
      },
    ),
  );
  s3.destroy();
}, 240_000);

afterAll(async () => {
  if (out) rmSync(out, { recursive: true, force: true });
  await servers?.stop();
});

describe('pnpm demo --mode aws (moto_server)', () => {
  it('runs both pipelines through S3, Kinesis and Glue, on Iceberg tables by default', () => {
    expect(result.mode).toBe('aws');
    const table = (zone: string, name: string) =>
      result.tables.find((t) => t.zone === zone && t.table === name);
    // Every record the stream acknowledged is delivered, processed once and counted: exact.
    expect(result.sensors.produced).toBe(3_000);
    expect(result.sensors.delivered).toBe(3_000);
    expect(result.sensors.errored).toBe(0);
    expect(result.sensors.missing).toBe(0);
    expect(result.sensors.processed.written).toBe(3_000);
    expect(result.sensors.processed.invalid).toBe(0);
    // Iceberg tables (the default), committed through Glue: their current snapshots' counts
    // (moto runs no SQL). pyiceberg reads them back in aws-iceberg.test.ts.
    expect(result.tableFormat).toBe('iceberg');
    expect(table('processed', 'sensors')?.format).toBe('iceberg');
    expect(table('processed', 'sensors')?.snapshotId).toMatch(/^\d+$/);
    expect(table('processed', 'sensors')?.rows).toBe(3_000);
    expect(table('processed', 'sensors')?.files).toBeGreaterThan(0);
    expect(table('curated', 'coin_daily')?.format).toBe('iceberg');
    expect(table('curated', 'coin_daily')?.rows).toBe(600);
    expect(seen.bucketsDuringRun).toEqual(['demo-e2e-raw']);
  });

  it('loads the warehouse tables into PostgreSQL', async () => {
    const pool = new pg.Pool({ connectionString: postgres.url });
    try {
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM analytics.coin_daily');
      expect(rows[0].n).toBe(600);
      const hourly = await pool.query('SELECT sum(count)::int AS n FROM analytics.sensor_hourly');
      expect(hourly.rows[0].n).toBe(3_000);
    } finally {
      await pool.end();
    }
  });

  it('writes the report and says where everything is, without secrets', () => {
    expect(result.report).toEqual({ path: join(out, 'report.html') });
    const where = JSON.stringify(result.where);
    expect(where).toContain('s3://demo-e2e-raw');
    expect(where).not.toContain(postgres.password);
  });

  it('removes what it provisioned with --cleanup', async () => {
    const config = { region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials };
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    // kinesalite speaks HTTP/1.1 only; the Kinesis client defaults to HTTP/2.
    const kinesis = new KinesisClient({
      ...config,
      endpoint: kinesalite.endpoint,
      requestHandler: new NodeHttpHandler(),
    });
    const glue = new GlueClient(config);
    try {
      for (const zone of ['raw', 'processed', 'curated']) {
        await expect(s3.send(new HeadBucketCommand({ Bucket: `demo-e2e-${zone}` }))).rejects.toThrow();
      }
      await expect(
        kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'demo-e2e-sensors' })),
      ).rejects.toThrow(/not found|ResourceNotFound/i);
      await expect(glue.send(new GetDatabaseCommand({ Name: 'demo_e2e' }))).rejects.toThrow(
        /not found|EntityNotFound/i,
      );
      expect(logs.some((line) => line.startsWith('cleanup:'))).toBe(true);
    } finally {
      s3.destroy();
      kinesis.destroy();
      glue.destroy();
    }
  });
});
