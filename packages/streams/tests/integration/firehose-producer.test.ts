import { CreateDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { decodeNdjson } from '@tributary/core';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirehoseProducer } from '../../src/firehose-producer.js';
import { putAllAndClose, readings } from '../fixtures/producers.js';
import { encodeReading, type Reading, readingSchema } from '../fixtures/readings.js';

const BUCKET = 'tributary-raw';
const STREAM = 'sensors-raw';

// moto's Firehose delivers each PutRecordBatch at once, as one object of the records' bytes
// concatenated, under <prefix>YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid> in its own S3.
describe('FirehoseProducer against moto_server', () => {
  let moto: MotoServer;
  let s3: S3Client;
  let firehose: FirehoseClient;
  beforeAll(async () => {
    moto = await startMotoServer();
    const config = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials };
    s3 = new S3Client({ ...config, forcePathStyle: true });
    firehose = new FirehoseClient(config);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: STREAM,
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: {
          BucketARN: `arn:aws:s3:::${BUCKET}`,
          RoleARN: 'arn:aws:iam::123456789012:role/tributary-firehose',
          Prefix: 'sensors/',
          ErrorOutputPrefix: 'errors/sensors/',
          BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 },
        },
      }),
    );
  });
  afterAll(async () => {
    s3?.destroy();
    firehose?.destroy();
    await moto?.stop();
  });

  it('delivers 1,000 records into S3 as NDJSON objects, every record once', async () => {
    const producer = new FirehoseProducer({
      client: firehose,
      deliveryStreamName: STREAM,
      encode: encodeReading,
    });
    const records = readings(1000, 11);

    const result = await putAllAndClose(producer, records);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sensors/' }));
    const keys = (listed.Contents ?? []).map((object) => object.Key ?? '');
    const bodies = await Promise.all(
      keys.map(async (Key) => {
        const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
        return (await object.Body?.transformToString('utf-8')) ?? '';
      }),
    );
    const delivered: Reading[] = [];
    for await (const record of decodeNdjson(bodies, { schema: readingSchema })) delivered.push(record);

    expect(result).toEqual({ sent: 1000, retried: 0, failed: 0 });
    // 1,000 records make two PutRecordBatch calls of 500: moto writes one object for each.
    expect(keys).toHaveLength(2);
    expect(
      keys.every((key) =>
        /^sensors\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/sensors-raw-1-[\d-]+-[0-9a-f-]{36}$/.test(key),
      ),
    ).toBe(true);
    expect(bodies.every((body) => body.endsWith('\n') && body.split('\n').length === 501)).toBe(true);
    expect(delivered).toHaveLength(1000);
    expect(delivered.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort());
    expect(delivered.find((r) => r.id === records[7]?.id)).toEqual(records[7]);
  });
});
