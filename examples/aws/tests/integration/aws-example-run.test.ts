import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type KinesaliteServer,
  type MotoServer,
  type PostgresServer,
  startKinesalite,
  startMotoServer,
  startPostgres,
} from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The example as a user runs it (`pnpm run cleanup -- …` in examples/aws), pointed at
// AWS-compatible endpoints: moto_server for S3, Glue and Athena, kinesalite for Kinesis (moto's
// Kinesis acknowledges records it does not keep under concurrent PutRecords), the embedded
// PostgreSQL for the source and the warehouse. Every produced record must arrive.

const exampleDir = fileURLToPath(new URL('../..', import.meta.url));
let moto: MotoServer;
let kinesalite: KinesaliteServer;
let postgres: PostgresServer;
let out: string;

beforeAll(async () => {
  [moto, kinesalite, postgres] = await Promise.all([startMotoServer(), startKinesalite(), startPostgres()]);
  out = mkdtempSync(join(tmpdir(), 'tributary-example-aws-'));
}, 60_000);

afterAll(async () => {
  if (out) rmSync(out, { recursive: true, force: true });
  await Promise.all([moto?.stop(), kinesalite?.stop(), postgres?.stop()]);
});

describe('examples/aws', () => {
  it('runs the pipeline in aws mode and tears down what it provisioned', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      CI: '1',
      TRIBUTARY_MODE: 'aws',
      AWS_REGION: moto.region,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ENDPOINT_URL_KINESIS: kinesalite.endpoint,
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
      TRIBUTARY_BUCKET_PREFIX: 'example-aws',
      TRIBUTARY_WAREHOUSE: 'postgres',
      DATABASE_URL: postgres.url,
    };
    delete env.CMC_API_KEY;
    const args = [
      'run',
      'cleanup',
      '--',
      '--records',
      '2000',
      '--sensors',
      '1',
      '--snapshots',
      '1',
      '--out',
      out,
    ];
    const child = spawn('pnpm', args, { cwd: exampleDir, env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

    expect(code, output.slice(-3000)).toBe(0);
    // The default table format: the processed and curated tables are Iceberg tables in Glue.
    expect(output).toMatch(/done in [\d.]+ s \(aws mode, ts engine, iceberg tables\)/);
    expect(output).toMatch(/^catalog: sensors \(iceberg\), snapshot \d+ of \d+$/m);
    expect(output).toContain('2,000 records produced → 2,000 delivered into ');
    expect(output).toMatch(/→ 2,000 processed \(0 duplicates removed, 0 to sensors_errors\)/);
    expect(output).not.toMatch(/LOST|INCOMPLETE/);
    expect(output).toContain('raw zone: s3://example-aws-raw');
    const cleanup = /cleanup: (\{.*\})/.exec(output);
    expect(cleanup).not.toBeNull();
    const report = JSON.parse(cleanup?.[1] ?? '{}') as { deleted: string[] };
    expect(report.deleted).toEqual(
      expect.arrayContaining([
        's3 bucket example-aws-raw',
        'glue table tributary.sensors',
        'glue database tributary',
        'kinesis stream tributary-sensors',
      ]),
    );
    // The password of the source never reaches the output.
    expect(output).not.toContain(postgres.password);
  }, 240_000);
});
