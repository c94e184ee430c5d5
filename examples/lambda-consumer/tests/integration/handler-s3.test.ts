import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { aggregate } from '@tributary/streams';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../src/handler.js';
import type { KinesisStreamRecord } from '../../src/kinesis-event.js';

// The deployed entry point in aws mode, against an S3-compatible server (moto_server) instead of
// AWS: the environment is what the Lambda function's configuration would set.

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
});

afterAll(async () => {
  vi.unstubAllEnvs();
  client?.destroy();
  await moto?.stop();
});

function kinesisRecord(data: Uint8Array, sequenceNumber: string): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'vibration-001',
      sequenceNumber,
      data: Buffer.from(data).toString('base64'),
      approximateArrivalTimestamp: Date.now() / 1000,
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

async function objects(prefix: string): Promise<{ key: string; text: string }[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return Promise.all(
    (listed.Contents ?? []).map(async ({ Key }) => {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
      return { key: Key as string, text: (await got.Body?.transformToString()) ?? '' };
    }),
  );
}

describe('handler on S3 (TRIBUTARY_MODE=aws)', () => {
  it('writes de-aggregated records and the error records into the raw zone bucket', async () => {
    vi.stubEnv('TRIBUTARY_MODE', 'aws');
    vi.stubEnv('AWS_REGION', moto.region);
    vi.stubEnv('AWS_ENDPOINT_URL_S3', moto.endpoint);
    vi.stubEnv('AWS_ACCESS_KEY_ID', moto.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', moto.credentials.secretAccessKey);
    vi.stubEnv('TRIBUTARY_LAKE_RAW', `s3://${BUCKET}/raw`);
    vi.stubEnv('TRIBUTARY_LAKE_PROCESSED', `s3://${BUCKET}/processed`);
    vi.stubEnv('TRIBUTARY_LAKE_CURATED', `s3://${BUCKET}/curated`);
    const lines = [0, 1, 2].map(
      (n) =>
        `${JSON.stringify({ id: `vibration-001:${n}`, sensorId: 'vibration-001', type: 'vibration', value: n, unit: 'mm/s', timestamp: 1_795_429_000_000 + n })}\n`,
    );
    const packed = aggregate(
      lines.map((line) => ({ partitionKey: 'vibration-001', data: Buffer.from(line) })),
    );

    const hourOf = () => new Date().toISOString().slice(0, 13).replace(/[-T]/g, '/');
    const before = hourOf();
    const response = await handler({
      Records: [kinesisRecord(packed, '101'), kinesisRecord(Buffer.from('not json'), '102')],
    });

    expect(response).toEqual({ batchItemFailures: [] });
    // The folder is the arrival hour (now), as Firehose does; a run across an hour boundary may see either.
    const hours = `(${before}|${hourOf()})`;
    const data = await objects('raw/sensors/');
    expect(data).toHaveLength(1);
    expect(data[0]?.key).toMatch(new RegExp(`^raw/sensors/${hours}/sensors-.+\\.ndjson$`));
    expect(data[0]?.text).toBe(lines.join(''));
    const errors = await objects('raw/errors/sensors/invalid-json/');
    expect(errors).toHaveLength(1);
    expect(Buffer.from(JSON.parse(errors[0]?.text ?? '{}').rawData, 'base64').toString()).toBe('not json');
  }, 60_000);
});
