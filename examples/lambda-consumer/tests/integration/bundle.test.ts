import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { aggregate } from '@tributary/streams';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleHandlerResult, bundleHandler, packageName } from '../../scripts/bundle.js';
import type { KinesisStreamBatchResponse, KinesisStreamRecord } from '../../src/kinesis-event.js';

// The deployed handler as Lambda runs it: one bundled file, in a folder with no node_modules
// anywhere above it, imported by a runner and called with a Kinesis event. Any module the bundle
// cannot resolve at run time fails the invocation, and so the test.

const EXAMPLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// 2026-11-23T10:16:40.250Z, as Lambda gives it: seconds with a fraction.
const ARRIVAL = 1_795_429_000.25;
const ARRIVAL_HOUR = '2026/11/23/10';

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

/** The package.json of the package an input file belongs to (`node_modules/<name>/…`, or the nearest one). */
function packageJsonOf(input: string): PackageJson {
  const path = resolve(EXAMPLE_DIR, input);
  const inModules = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (inModules?.[1] !== undefined) return readJson(join(inModules[1], 'package.json'));
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return readJson(join(dir, 'package.json'));
  }
  throw new Error(`No package.json above ${path}`);
}

/**
 * `importer → package` for every package the bundle resolved that an npm install of the example's
 * `dependencies` would not bring: imported by the example, or a peer (or undeclared) dependency of
 * the package that imports it, and missing from the example's `dependencies`.
 */
function undeclared(metafile: Metafile): string[] {
  const example = readJson(join(EXAMPLE_DIR, 'package.json'));
  const declared = new Set(Object.keys(example.dependencies ?? {}));
  const missing = new Set<string>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    const importer = packageJsonOf(input);
    const brings = new Set([
      ...Object.keys(importer.dependencies ?? {}),
      ...Object.keys(importer.optionalDependencies ?? {}),
    ]);
    for (const { path, original } of imports) {
      const specifier = original ?? path;
      if (/^[./]/.test(specifier) || isBuiltin(specifier)) continue;
      const name = packageName(specifier);
      if (name === importer.name || declared.has(name)) continue;
      if (importer.name === example.name || !brings.has(name)) missing.add(`${importer.name} → ${name}`);
    }
  }
  return [...missing].sort();
}

function kinesisRecord(data: Uint8Array, sequenceNumber: string): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'vibration-001',
      sequenceNumber,
      data: Buffer.from(data).toString('base64'),
      approximateArrivalTimestamp: ARRIVAL,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-consumer',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/sensors',
  };
}

const lines = [0, 1, 2, 3].map(
  (n) =>
    `${JSON.stringify({ id: `vibration-001:${n}`, sensorId: 'vibration-001', type: 'vibration', value: 2.5 + n, unit: 'mm/s', timestamp: 1_795_429_000_000 + n })}\n`,
);
// A KPL aggregate of three readings, one plain reading, one record that is not JSON.
const event = {
  Records: [
    kinesisRecord(
      aggregate(
        lines.slice(0, 3).map((line) => ({ partitionKey: 'vibration-001', data: Buffer.from(line) })),
      ),
      '101',
    ),
    kinesisRecord(Buffer.from(lines[3] as string), '102'),
    kinesisRecord(Buffer.from('not json'), '103'),
  ],
};

// Lambda's runtime imports the handler's module and calls the exported function.
const RUNNER = `import { handler } from './handler.mjs';
let input = '';
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(await handler(JSON.parse(input))));
`;

let folder: string;
let bundled: BundleHandlerResult;

/** Runs the bundled handler in a fresh Node process with only `env`: no NODE_PATH, HOME in the folder. */
function invoke(env: Record<string, string>): Promise<KinesisStreamBatchResponse> {
  return new Promise((done, fail) => {
    const child = execFile(
      process.execPath,
      ['runner.mjs'],
      { cwd: folder, env: { PATH: process.env.PATH ?? '', HOME: folder, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`The bundled handler failed: ${stderr || error.message}`));
        else done(JSON.parse(stdout) as KinesisStreamBatchResponse);
      },
    );
    child.stdin?.end(JSON.stringify(event));
  });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'lambda-consumer-bundle-'));
  bundled = await bundleHandler({ outfile: join(folder, 'handler.mjs') });
  writeFileSync(join(folder, 'runner.mjs'), RUNNER);
}, 60_000);

afterAll(() => {
  if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
});

describe('bundleHandler', () => {
  it('reaches only packages that installing the example’s dependencies brings', () => {
    expect(undeclared(bundled.metafile)).toEqual([]);
  });

  it('holds every package when the SDK is bundled: only Node built-ins are imported at run time', () => {
    const external = Object.values(bundled.metafile.inputs).flatMap(({ imports }) =>
      imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path),
    );

    expect(external).toEqual([]);
    expect(bundled.externalPackages).toEqual([]);
  });

  it('writes into a folder with no node_modules in it or above it', () => {
    const above: string[] = [];
    for (let dir = folder; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'node_modules'))) above.push(dir);
      if (dir === dirname(dir)) break;
    }

    expect(above).toEqual([]);
    expect(readdirSync(folder).sort()).toEqual(['handler.mjs', 'runner.mjs']);
  });
});

describe('bundled handler, run from that folder', () => {
  it('delivers a Kinesis event into a local lake (TRIBUTARY_MODE=local)', async () => {
    const lake = join(folder, 'lake');

    const response = await invoke({ TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: lake });

    expect(response).toEqual({ batchItemFailures: [] });
    const raw = join(lake, 'raw');
    const files = filesUnder(raw);
    expect(files).toHaveLength(2);
    const data = files.filter((f) => f.startsWith(`sensors/${ARRIVAL_HOUR}/sensors-`));
    expect(data).toHaveLength(1);
    expect(readFileSync(join(raw, data[0] as string), 'utf8')).toBe(lines.join(''));
    const errors = files.filter((f) => f.startsWith(`errors/sensors/invalid-json/${ARRIVAL_HOUR}/`));
    expect(errors).toHaveLength(1);
    const error = JSON.parse(readFileSync(join(raw, errors[0] as string), 'utf8'));
    expect(Buffer.from(error.rawData, 'base64').toString()).toBe('not json');
  }, 60_000);

  it('returns every record of the shard in batchItemFailures when the lake cannot be written', async () => {
    const lake = join(folder, 'blocked-lake');
    mkdirSync(join(lake, 'raw'), { recursive: true });
    // A file where the data folder should be: every put under raw/sensors/ fails, not retryably.
    writeFileSync(join(lake, 'raw', 'sensors'), '');

    const response = await invoke({ TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: lake });

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: '101' }, { itemIdentifier: '102' }, { itemIdentifier: '103' }],
    });
  }, 60_000);

  describe('on S3 (TRIBUTARY_MODE=aws), which loads the S3 client and lib-storage on first use', () => {
    const BUCKET = 'acme-lake';
    let moto: MotoServer;
    let client: S3Client;

    beforeAll(async () => {
      moto = await startMotoServer();
      client = new S3Client({
        endpoint: moto.endpoint,
        region: moto.region,
        credentials: moto.credentials,
        forcePathStyle: true,
      });
      await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    }, 60_000);

    afterAll(async () => {
      client?.destroy();
      await moto?.stop();
    });

    it('delivers the event into the raw zone bucket', async () => {
      const response = await invoke({
        TRIBUTARY_MODE: 'aws',
        AWS_REGION: moto.region,
        AWS_ENDPOINT_URL_S3: moto.endpoint,
        AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        TRIBUTARY_LAKE_RAW: `s3://${BUCKET}/raw`,
        TRIBUTARY_LAKE_PROCESSED: `s3://${BUCKET}/processed`,
        TRIBUTARY_LAKE_CURATED: `s3://${BUCKET}/curated`,
      });

      expect(response).toEqual({ batchItemFailures: [] });
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'raw/' }));
      const keys = (listed.Contents ?? []).map(({ Key }) => Key as string).sort();
      expect(keys).toHaveLength(2);
      const dataKey = keys.find((key) => key.startsWith(`raw/sensors/${ARRIVAL_HOUR}/sensors-`));
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: dataKey }));
      expect(await got.Body?.transformToString()).toBe(lines.join(''));
      expect(
        keys.filter((key) => key.startsWith(`raw/errors/sensors/invalid-json/${ARRIVAL_HOUR}/`)),
      ).toHaveLength(1);
    }, 60_000);
  });
});
