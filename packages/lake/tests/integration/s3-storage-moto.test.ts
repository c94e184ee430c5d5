import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { S3Storage } from '../../src/s3.js';
import { describeStorageConformance } from '../storage-conformance.js';

// moto_server keeps S3's key order and implements ListMultipartUploads and AbortMultipartUpload,
// which s3rver does not: the same conformance suite runs here in full, and the abort tests can
// check that no multipart upload is left behind.

const MiB = 1024 * 1024;
const BUCKET = 'lake-moto';

let moto: MotoServer;
let client: S3Client;
let prefixes = 0;

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
  client?.destroy();
  await moto?.stop();
});

const freshStorage = () => new S3Storage({ client, bucket: BUCKET, prefix: `m${++prefixes}/` });

async function multipartUploadsIn(storage: S3Storage): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: storage.prefix }));
  return (out.Uploads ?? []).map((upload) => upload.Key ?? '');
}

/** 1 MiB chunks of one byte value; `onChunk` runs after each is consumed. */
async function* chunks(total: number, onChunk: (produced: number) => void = () => {}) {
  for (let produced = MiB; produced <= total; produced += MiB) {
    yield Buffer.alloc(MiB, produced % 251);
    onChunk(produced);
  }
}

describeStorageConformance('S3Storage on moto_server', () => freshStorage());

describe('S3Storage on moto_server', () => {
  describe('put', () => {
    it('aborts mid-stream with the signal reason and leaves no object and no multipart upload', async () => {
      const storage = freshStorage();
      const controller = new AbortController();
      const reason = new Error('operator cancelled');
      const body = chunks(40 * MiB, (produced) => {
        if (produced === 18 * MiB) controller.abort(reason);
      });

      await expect(storage.put('big/aborted.bin', body, { signal: controller.signal })).rejects.toBe(reason);

      expect(await storage.head('big/aborted.bin')).toBeUndefined();
      expect(await multipartUploadsIn(storage)).toEqual([]);
    });

    it('leaves no multipart upload when the body stream fails', async () => {
      const storage = freshStorage();
      async function* failing() {
        yield* chunks(17 * MiB);
        throw new Error('source went away');
      }

      const put = storage.put('big/failed.bin', failing());

      await expect(put).rejects.toBeInstanceOf(StorageError);
      await expect(put).rejects.toMatchObject({ cause: { message: 'source went away' } });
      expect(await storage.head('big/failed.bin')).toBeUndefined();
      expect(await multipartUploadsIn(storage)).toEqual([]);
    });

    it('aborts multipart uploads a killed process left, once older than the cutoff, and says which', async () => {
      const storage = freshStorage();
      const started = await client.send(
        new CreateMultipartUploadCommand({
          Bucket: BUCKET,
          Key: `${storage.prefix}t/_staging/w/part.parquet`,
        }),
      );
      await client.send(
        new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${storage.prefix}other/part.parquet` }),
      );

      // moto reports every upload as initiated on 2010-11-10, so the cutoffs sit either side of that day.
      const tooRecent = await storage.removeAbandonedUploads({
        olderThan: new Date('2010-01-01'),
        prefix: 't/',
      });
      const removed = await storage.removeAbandonedUploads({ olderThan: new Date(), prefix: 't/' });

      expect(tooRecent).toEqual([]);
      expect(removed).toEqual([`t/_staging/w/part.parquet (upload ${started.UploadId})`]);
      expect(await multipartUploadsIn(storage)).toEqual([`${storage.prefix}other/part.parquet`]);
    });

    it('keeps content type, encoding and metadata', async () => {
      const storage = freshStorage();

      await storage.put('meta.ndjson.gz', new Uint8Array([31, 139]), {
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
        metadata: { source: 'sensors' },
      });
      const head = await client.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: `${storage.prefix}meta.ndjson.gz` }),
      );

      expect(head.ContentType).toBe('application/x-ndjson');
      expect(head.ContentEncoding).toBe('gzip');
      expect(head.Metadata).toEqual({ source: 'sensors' });
    });
  });
});
