import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { type S3rverServer, startS3rver } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { S3Storage } from '../../src/s3.js';
import { describeStorageConformance } from '../storage-conformance.js';

// s3rver 3.7.1 lists objects folder by folder (see the conformance option), implements neither
// ListMultipartUploads nor AbortMultipartUpload, and omits the "-N" suffix of multipart ETags.
// The S3 behaviours it cannot show are tested against moto_server in s3-storage-moto.test.ts.

const MiB = 1024 * 1024;
const BUCKET = 'lake';

let server: S3rverServer;
let client: S3Client;
let prefixes = 0;

beforeAll(async () => {
  server = await startS3rver({ buckets: [BUCKET] });
  client = clientWithLog([]);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

/** A client that records the name of every command it sends. */
function clientWithLog(log: string[]): S3Client {
  const s3 = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: server.forcePathStyle,
  });
  s3.middlewareStack.add(
    (next, context) => (args) => {
      log.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'tributaryTestCommandLog' },
  );
  return s3;
}

const freshStorage = (s3: S3Client = client) =>
  new S3Storage({ client: s3, bucket: BUCKET, prefix: `t${++prefixes}/` });

/** `size` bytes of deterministic noise, in 1 MiB chunks, and their SHA-256 once consumed. */
function noise(size: number, onChunk?: (produced: number) => void | Promise<void>) {
  const hash = createHash('sha256');
  async function* chunks() {
    let produced = 0;
    let block = createHash('sha512').update('seed').digest();
    while (produced < size) {
      const chunk = Buffer.alloc(Math.min(MiB, size - produced));
      for (let offset = 0; offset < chunk.length; offset += block.length) {
        block = createHash('sha512').update(block).digest();
        block.copy(chunk, offset);
      }
      hash.update(chunk);
      produced += chunk.length;
      yield chunk;
      await onChunk?.(produced);
    }
  }
  return { chunks: chunks(), digest: () => hash.digest('hex') };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describeStorageConformance('S3Storage on s3rver', () => freshStorage(), { listsFolderByFolder: true });

describe('S3Storage', () => {
  describe('put', () => {
    it('streams 24 MiB as a multipart upload and reads it back byte for byte', async () => {
      const log: string[] = [];
      const s3 = clientWithLog(log);
      const storage = freshStorage(s3);
      const body = noise(24 * MiB);

      const info = await storage.put('big/noise.bin', body.chunks, { expectedSize: 24 * MiB });
      const readBack = createHash('sha256');
      for await (const chunk of await storage.get('big/noise.bin')) readBack.update(chunk as Buffer);
      s3.destroy();

      expect(info).toMatchObject({ key: 'big/noise.bin', size: 24 * MiB });
      expect(readBack.digest('hex')).toBe(body.digest());
      expect(await storage.head('big/noise.bin')).toMatchObject({ size: 24 * MiB });
      expect(log.filter((name) => name === 'UploadPartCommand')).toHaveLength(3);
      expect(log).toContain('CompleteMultipartUploadCommand');
    });

    it('sends a stream that ends within its first part in one PutObject', async () => {
      const log: string[] = [];
      const s3 = clientWithLog(log);
      const storage = freshStorage(s3);
      const body = noise(3 * MiB);

      const info = await storage.put('small/noise.bin', body.chunks);
      const readBack = createHash('sha256').update(await storage.getBytes('small/noise.bin'));
      s3.destroy();

      expect(info).toMatchObject({ key: 'small/noise.bin', size: 3 * MiB });
      expect(readBack.digest('hex')).toBe(body.digest());
      expect(log.slice(0, 1)).toEqual(['PutObjectCommand']);
      expect(log).not.toContain('CreateMultipartUploadCommand');
    });

    it('rejects an upload aborted mid-stream and leaves no object', async () => {
      const log: string[] = [];
      const s3 = clientWithLog(log);
      const storage = freshStorage(s3);
      const controller = new AbortController();
      const body = noise(40 * MiB, (produced) => {
        if (produced === 20 * MiB) controller.abort(new Error('operator cancelled'));
      });

      const put = storage.put('big/aborted.bin', body.chunks, { signal: controller.signal });

      // lib-storage asks for AbortMultipartUpload, which s3rver refuses (405): the error says
      // that parts may remain, and carries s3rver's answer.
      await expect(put).rejects.toBeInstanceOf(StorageError);
      await expect(put).rejects.toMatchObject({
        message: expect.stringMatching(/aborting its multipart upload failed/),
        cause: { name: 'MethodNotAllowed' },
      });
      expect(log).toContain('AbortMultipartUploadCommand');
      expect(log).not.toContain('CompleteMultipartUploadCommand');
      expect(await storage.head('big/aborted.bin')).toBeUndefined();
      expect(await collect(storage.list(''))).toEqual([]);
      s3.destroy();
    });
  });

  describe('copy', () => {
    it('copies what it put with one request, and reads the head of a copy whose source it did not see', async () => {
      const log: string[] = [];
      const s3 = clientWithLog(log);
      const storage = freshStorage(s3);
      const bytes = new Uint8Array(70_000).map((_, i) => (i * 13) % 251);
      await storage.put('staged/a.bin', bytes);
      // Changed behind the storage's back: what it saw of the source is no longer true.
      await storage.put('staged/b.bin', 'short');
      await new S3Storage({ client: s3, bucket: BUCKET, prefix: storage.prefix }).put('staged/b.bin', bytes);
      log.length = 0;

      const seen = await storage.copy('staged/a.bin', 'final/a.bin');
      const seenRequests = [...log];
      log.length = 0;
      const changed = await storage.copy('staged/b.bin', 'final/b.bin');
      const changedRequests = [...log];
      s3.destroy();

      expect(seen).toMatchObject({ key: 'final/a.bin', size: 70_000 });
      expect(seenRequests).toEqual(['CopyObjectCommand']);
      expect(changed).toMatchObject({ key: 'final/b.bin', size: 70_000 });
      expect(changedRequests).toEqual(['CopyObjectCommand', 'HeadObjectCommand']);
      expect(Buffer.from(await storage.getBytes('final/a.bin')).equals(Buffer.from(bytes))).toBe(true);
    });
  });

  describe('list and delete', () => {
    it('lists 1,050 objects across pages in order, then deletes them in batches of 1,000', async () => {
      const log: string[] = [];
      const s3 = clientWithLog(log);
      const storage = freshStorage(s3);
      const keys = Array.from({ length: 1_050 }, (_, i) => `many/${String(i).padStart(4, '0')}.json`);
      const queue = [...keys];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let key = queue.shift(); key !== undefined; key = queue.shift())
            await storage.put(key, `{"i":"${key}"}`);
        }),
      );

      const listed = await collect(storage.list('many/', { pageSize: 1_000 }));
      const listCalls = log.filter((name) => name === 'ListObjectsV2Command').length;
      await storage.delete(keys);
      const deleteCalls = log.filter((name) => name === 'DeleteObjectsCommand').length;
      const afterDelete = await collect(storage.list('many/'));
      s3.destroy();

      expect(listed.map((o) => o.key)).toEqual(keys);
      expect(listCalls).toBe(2);
      expect(deleteCalls).toBe(2);
      expect(afterDelete).toEqual([]);
    });
  });
});
