import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ItemTooLargeError, OptionsError, PartialBatchFailureError } from '@tributary/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, StorageError } from '../../src/errors.js';
import { choosePartSize, S3Storage } from '../../src/s3-storage.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const s3 = mockClient(client);

beforeEach(() => {
  s3.reset();
});

afterEach(() => {
  s3.reset();
});

function serviceError(name: string, status: number, fault: 'client' | 'server' = 'client') {
  return new S3ServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

function mockMultipart() {
  s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
  s3.on(UploadPartCommand).callsFake((input: { PartNumber: number }) => ({
    ETag: `"part-${input.PartNumber}"`,
  }));
  s3.on(CompleteMultipartUploadCommand).resolves({ ETag: '"whole-2"' });
  s3.on(AbortMultipartUploadCommand).resolves({});
}

async function* mebibytes(count: number, onChunk: (produced: number) => void = () => {}) {
  for (let i = 1; i <= count; i++) {
    yield Buffer.alloc(MiB, i);
    onChunk(i);
  }
}

const storage = (options: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}) =>
  new S3Storage({ client, bucket: 'lake', prefix: 'raw/', ...options });

describe('choosePartSize', () => {
  it('keeps a 100 GiB upload within 10,000 parts, in whole MiB', () => {
    const size = choosePartSize(100 * GiB, 8 * MiB);

    expect(size).toBe(11 * MiB);
    expect(Math.ceil((100 * GiB) / size)).toBeLessThanOrEqual(10_000);
    expect(Math.ceil((100 * GiB) / (8 * MiB))).toBeGreaterThan(10_000);
  });

  it('keeps the configured part size when it is big enough or the size is unknown', () => {
    expect(choosePartSize(undefined, 8 * MiB)).toBe(8 * MiB);
    expect(choosePartSize(1 * GiB, 8 * MiB)).toBe(8 * MiB);
    expect(choosePartSize(0, 16 * MiB)).toBe(16 * MiB);
  });

  it('rejects sizes S3 cannot store and sizes that are not byte counts', () => {
    expect(() => choosePartSize(6 * 1024 * GiB, 8 * MiB)).toThrow(ItemTooLargeError);
    expect(() => choosePartSize(-1, 8 * MiB)).toThrow(/expectedSize must be a whole number/);
  });
});

describe('S3Storage', () => {
  describe('constructor', () => {
    it('names the storage by an s3:// URL', () => {
      expect(storage().url).toBe('s3://lake/raw');
      expect(storage({ prefix: 'lake/raw/' }).url).toBe('s3://lake/lake/raw');
      expect(storage({ prefix: undefined }).url).toBe('s3://lake');
    });

    it.each([
      [{ client: undefined }, /needs an S3Client/, 'client'],
      [{ bucket: '' }, /needs a bucket name/, 'bucket'],
      [{ prefix: 'raw' }, /must be '' or end with '\/'/, 'prefix'],
      [{ prefix: '../raw/' }, /not a valid key prefix/, 'prefix'],
      [{ partSize: 4 * MiB }, /partSize must be/, 'partSize'],
      [{ queueSize: 0 }, /queueSize must be/, 'queueSize'],
      [{ multipartThreshold: -1 }, /multipartThreshold must be/, 'multipartThreshold'],
    ])('rejects %o with an OptionsError naming the option', (options, message, option) => {
      const create = () => storage(options as Partial<ConstructorParameters<typeof S3Storage>[0]>);

      expect(create).toThrow(OptionsError);
      expect(create).toThrow(message);
      expect(create).toThrow(expect.objectContaining({ code: 'STORAGE_OPTIONS_INVALID', option }));
    });
  });

  describe('put', () => {
    it('sends a small body in one PutObject, under the prefix, with its headers', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"abc"' });

      const info = await storage().put('a/b.json', '{"x":1}', {
        contentType: 'application/json',
        metadata: { run: '7' },
      });

      const calls = s3.commandCalls(PutObjectCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toMatchObject({
        Bucket: 'lake',
        Key: 'raw/a/b.json',
        ContentType: 'application/json',
        Metadata: { run: '7' },
        ContentLength: 7,
      });
      expect(info).toEqual({ key: 'a/b.json', size: 7, etag: 'abc' });
    });

    it('streams with parts sized from expectedSize', async () => {
      mockMultipart();

      const info = await storage().put('big.bin', mebibytes(19), { expectedSize: 90 * GiB });

      const parts = s3.commandCalls(UploadPartCommand).map((call) => ({
        part: call.args[0].input.PartNumber,
        size: (call.args[0].input.Body as Uint8Array).byteLength,
      }));
      expect(parts.sort((a, b) => (a.part ?? 0) - (b.part ?? 0))).toEqual([
        { part: 1, size: 10 * MiB },
        { part: 2, size: 9 * MiB },
      ]);
      expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(1);
      expect(info).toEqual({ key: 'big.bin', size: 19 * MiB, etag: 'whole-2' });
    });

    it('sends bytes at or above multipartThreshold as a multipart upload', async () => {
      mockMultipart();

      await storage({ partSize: 5 * MiB, multipartThreshold: 6 * MiB }).put(
        'b.bin',
        new Uint8Array(12 * MiB),
      );

      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
      expect(s3.commandCalls(UploadPartCommand)).toHaveLength(3);
    });

    it('aborts the multipart upload before rejecting with the signal reason', async () => {
      mockMultipart();
      const controller = new AbortController();
      const reason = new Error('cancelled');

      const put = storage({ partSize: 5 * MiB }).put(
        'x.bin',
        mebibytes(30, (n) => n === 12 && controller.abort(reason)),
        { signal: controller.signal },
      );

      await expect(put).rejects.toBe(reason);
      expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
      expect(s3.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
        Bucket: 'lake',
        Key: 'raw/x.bin',
        UploadId: 'upload-1',
      });
      expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    });

    it('aborts the multipart upload and wraps the error when a part fails', async () => {
      mockMultipart();
      s3.on(UploadPartCommand).rejects(serviceError('InternalError', 500, 'server'));

      const put = storage({ partSize: 5 * MiB }).put('y.bin', Readable.from(mebibytes(11)));

      await expect(put).rejects.toBeInstanceOf(StorageError);
      await expect(put).rejects.toMatchObject({
        retryable: true,
        context: { bucket: 'lake', key: 'raw/y.bin' },
      });
      expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
    });
  });

  describe('get', () => {
    it.each([
      [{ start: 2, end: 5 }, 'bytes=2-4'],
      [{ start: 7 }, 'bytes=7-'],
      [{ end: 3 }, 'bytes=0-2'],
      [{}, undefined],
    ])('asks for %o as Range %s', async (range, header) => {
      s3.on(GetObjectCommand).resolves({ Body: Readable.from([Buffer.from('data')]) as never });

      await storage().getBytes('k', range);

      expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: 'lake',
        Key: 'raw/k',
        Range: header,
      });
    });

    it('turns a 404 into ObjectNotFoundError', async () => {
      s3.on(GetObjectCommand)
        .rejectsOnce(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }))
        .rejectsOnce(serviceError('NotFound', 404));

      await expect(storage().get('missing')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(storage().get('missing')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('does not mistake a missing bucket for a missing object', async () => {
      s3.on(GetObjectCommand).rejects(
        new NoSuchBucket({ message: 'no bucket', $metadata: { httpStatusCode: 404 } }),
      );

      const get = storage().get('k');

      await expect(get).rejects.toBeInstanceOf(StorageError);
      await expect(get).rejects.toMatchObject({ context: { statusCode: 404, bucket: 'lake' } });
    });

    it('wraps other failures with their retryability and status', async () => {
      s3.on(GetObjectCommand)
        .rejectsOnce(serviceError('SlowDown', 503, 'server'))
        .rejectsOnce(serviceError('AccessDenied', 403));

      await expect(storage().get('k')).rejects.toMatchObject({
        name: 'StorageError',
        retryable: true,
        context: { bucket: 'lake', key: 'raw/k', statusCode: 503 },
      });
      await expect(storage().get('k')).rejects.toMatchObject({
        retryable: false,
        context: { statusCode: 403 },
      });
    });

    it('reads a range past the end as empty (S3 answers 416)', async () => {
      s3.on(GetObjectCommand).rejects(serviceError('InvalidRange', 416));

      expect((await storage().getBytes('k', { start: 100 })).byteLength).toBe(0);
    });
  });

  describe('head', () => {
    it('describes an object, returns undefined on 404 and wraps other errors', async () => {
      const lastModified = new Date('2026-11-23T10:00:00Z');
      s3.on(HeadObjectCommand)
        .resolvesOnce({ ContentLength: 42, ETag: '"e"', LastModified: lastModified })
        .rejectsOnce(serviceError('NotFound', 404))
        .rejectsOnce(serviceError('InternalError', 500, 'server'));

      expect(await storage().head('a')).toEqual({ key: 'a', size: 42, etag: 'e', lastModified });
      expect(await storage().head('b')).toBeUndefined();
      await expect(storage().head('c')).rejects.toBeInstanceOf(StorageError);
    });
  });

  describe('copy', () => {
    const lastModified = new Date('2026-11-23T10:00:00Z');

    it('sends only the CopyObject when it answers the ETag its put or head saw of the source', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      s3.on(HeadObjectCommand).resolves({ ContentLength: 9, ETag: '"e2"' });
      s3.on(CopyObjectCommand, { CopySource: 'lake/raw/staged/a.bin' }).resolves({
        CopyObjectResult: { ETag: '"e1"', LastModified: lastModified },
      });
      s3.on(CopyObjectCommand, { CopySource: 'lake/raw/staged/b.bin' }).resolves({
        CopyObjectResult: { ETag: '"e2"', LastModified: lastModified },
      });
      const s = storage();
      await s.put('staged/a.bin', 'seven b');
      await s.head('staged/b.bin');
      s3.resetHistory();

      const fromPut = await s.copy('staged/a.bin', 'final/a.bin');
      const fromHead = await s.copy('staged/b.bin', 'final/b.bin');

      expect(fromPut).toEqual({ key: 'final/a.bin', size: 7, etag: 'e1', lastModified });
      expect(fromHead).toEqual({ key: 'final/b.bin', size: 9, etag: 'e2', lastModified });
      expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(2);
      expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
    });

    it('reads the head of the copy when its ETag is not the one seen (the source changed, or never seen)', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      s3.on(CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"e3"', LastModified: lastModified } });
      s3.on(HeadObjectCommand, { Key: 'raw/final/a.bin' }).resolves({
        ContentLength: 11,
        ETag: '"e3"',
        LastModified: lastModified,
      });
      s3.on(HeadObjectCommand, { Key: 'raw/final/b.bin' }).resolves({
        ContentLength: 5,
        ETag: '"e3"',
        LastModified: lastModified,
      });
      const s = storage();
      await s.put('staged/a.bin', 'seven b');

      const changed = await s.copy('staged/a.bin', 'final/a.bin');
      const unseen = await s.copy('staged/b.bin', 'final/b.bin');

      expect(changed).toEqual({ key: 'final/a.bin', size: 11, etag: 'e3', lastModified });
      expect(unseen).toEqual({ key: 'final/b.bin', size: 5, etag: 'e3', lastModified });
      expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(2);
    });

    it('forgets what it saw of a key once that key is deleted or found missing', async () => {
      s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(HeadObjectCommand, { Key: 'raw/staged/b.bin' }).rejects(serviceError('NotFound', 404));
      s3.on(HeadObjectCommand, { Key: 'raw/final/a.bin' }).resolves({ ContentLength: 3, ETag: '"e1"' });
      s3.on(HeadObjectCommand, { Key: 'raw/final/b.bin' }).resolves({ ContentLength: 4, ETag: '"e1"' });
      s3.on(CopyObjectCommand).resolves({ CopyObjectResult: { ETag: '"e1"' } });
      const s = storage();
      await s.put('staged/a.bin', 'seven b');
      await s.put('staged/b.bin', 'seven b');
      await s.delete(['staged/a.bin']);
      await s.head('staged/b.bin');

      const afterDelete = await s.copy('staged/a.bin', 'final/a.bin');
      const afterMissing = await s.copy('staged/b.bin', 'final/b.bin');

      expect(afterDelete).toMatchObject({ size: 3 });
      expect(afterMissing).toMatchObject({ size: 4 });
    });
  });

  describe('list', () => {
    it('follows continuation tokens and returns keys relative to the prefix', async () => {
      s3.on(ListObjectsV2Command)
        .resolvesOnce({
          Contents: [{ Key: 'raw/s/1', Size: 1 }],
          IsTruncated: true,
          NextContinuationToken: 't1',
        })
        .resolvesOnce({ Contents: [{ Key: 'raw/s/2', Size: 2, ETag: '"x"' }], IsTruncated: false });

      const listed = [];
      for await (const object of storage().list('s/', { startAfter: 's/0', pageSize: 1 }))
        listed.push(object);

      const inputs = s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input);
      expect(inputs).toEqual([
        { Bucket: 'lake', Prefix: 'raw/s/', MaxKeys: 1, StartAfter: 'raw/s/0', ContinuationToken: undefined },
        { Bucket: 'lake', Prefix: 'raw/s/', MaxKeys: 1, StartAfter: undefined, ContinuationToken: 't1' },
      ]);
      expect(listed).toEqual([
        { key: 's/1', size: 1, lastModified: undefined, etag: undefined },
        { key: 's/2', size: 2, lastModified: undefined, etag: 'x' },
      ]);
    });

    it('fails rather than stop early when a truncated page has no token', async () => {
      s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'raw/a', Size: 1 }], IsTruncated: true });

      const listing = async () => {
        for await (const _ of storage().list('')) {
          // drain
        }
      };

      await expect(listing()).rejects.toThrow(/truncated without a continuation token/);
    });

    it('rejects a page size S3 does not allow', async () => {
      const listing = storage().list('', { pageSize: 1_001 })[Symbol.asyncIterator]();

      await expect(listing.next()).rejects.toMatchObject({
        code: 'STORAGE_OPTIONS_INVALID',
        option: 'pageSize',
      });
    });
  });

  describe('listPrefixes', () => {
    it('lists common prefixes with delimiter "/" across pages', async () => {
      s3.on(ListObjectsV2Command)
        .resolvesOnce({
          CommonPrefixes: [{ Prefix: 'raw/a/' }],
          IsTruncated: true,
          NextContinuationToken: 't',
        })
        .resolvesOnce({ CommonPrefixes: [{ Prefix: 'raw/b/' }], IsTruncated: false });

      const prefixes = [];
      for await (const prefix of storage().listPrefixes('')) prefixes.push(prefix);

      expect(prefixes).toEqual(['a/', 'b/']);
      expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
        Delimiter: '/',
        Prefix: 'raw/',
      });
    });
  });

  describe('delete', () => {
    it('deletes in batches of 1,000 and reports per-key errors as PartialBatchFailureError', async () => {
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({ Errors: [{ Key: 'raw/k0007', Code: 'AccessDenied', Message: 'Access Denied' }] })
        .resolvesOnce({ Errors: [{ Key: 'raw/k1200', Code: 'InternalError', Message: 'try again' }] });
      const keys = Array.from({ length: 1_500 }, (_, i) => `k${String(i).padStart(4, '0')}`);

      const error = await storage()
        .delete(keys)
        .then(
          () => undefined,
          (err: unknown) => err,
        );

      const batches = s3
        .commandCalls(DeleteObjectsCommand)
        .map((call) => call.args[0].input.Delete?.Objects ?? []);
      expect(batches.map((objects) => objects.length)).toEqual([1_000, 500]);
      expect(batches[0]?.[0]).toEqual({ Key: 'raw/k0000' });
      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect((error as PartialBatchFailureError<string>).failed).toEqual([
        { item: 'k0007', code: 'AccessDenied', message: 'Access Denied' },
        { item: 'k1200', code: 'InternalError', message: 'try again' },
      ]);
      expect((error as PartialBatchFailureError<string>).succeededCount).toBe(1_498);
    });

    it('wraps a failed request', async () => {
      s3.on(DeleteObjectsCommand).rejects(serviceError('AccessDenied', 403));

      await expect(storage().delete(['a'])).rejects.toBeInstanceOf(StorageError);
    });

    it('sends nothing for no keys', async () => {
      await storage().delete([]);

      expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    });
  });
});
