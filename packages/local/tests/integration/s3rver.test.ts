import { existsSync } from 'node:fs';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { type S3rverServer, startS3rver } from '../../src/index.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function clientFor(server: S3rverServer): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: server.forcePathStyle,
  });
}

describe('startS3rver', () => {
  const started: S3rverServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((server) => server.stop()));
  });

  it('serves S3 on loopback with the requested buckets, in a temporary folder', async () => {
    const server = await startS3rver({ buckets: ['raw', 'processed'] });
    started.push(server);
    const client = clientFor(server);

    await client.send(new PutObjectCommand({ Bucket: 'raw', Key: 'a/b.txt', Body: 'hello' }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'raw', Key: 'a/b.txt' }));
    const buckets = await client.send(new ListBucketsCommand({}));
    client.destroy();

    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.credentials).toEqual({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    expect(await got.Body?.transformToString()).toBe('hello');
    expect(buckets.Buckets?.map((b) => b.Name).sort()).toEqual(['processed', 'raw']);
    expect(existsSync(server.directory)).toBe(true);
  });

  it('paginates listings (its continuation tokens need the OpenSSL legacy provider)', async () => {
    const server = await startS3rver({ buckets: ['raw'] });
    started.push(server);
    const client = clientFor(server);
    for (const key of ['p/1', 'p/2', 'p/3']) {
      await client.send(new PutObjectCommand({ Bucket: 'raw', Key: key, Body: key }));
    }

    const first = await client.send(new ListObjectsV2Command({ Bucket: 'raw', MaxKeys: 2 }));
    const second = await client.send(
      new ListObjectsV2Command({ Bucket: 'raw', MaxKeys: 2, ContinuationToken: first.NextContinuationToken }),
    );
    client.destroy();

    expect(first.Contents?.map((o) => o.Key)).toEqual(['p/1', 'p/2']);
    expect(first.IsTruncated).toBe(true);
    expect(second.Contents?.map((o) => o.Key)).toEqual(['p/3']);
    expect(second.IsTruncated).toBe(false);
  });

  it('gives a second server its own port and folder', async () => {
    const first = await startS3rver();
    const second = await startS3rver();
    started.push(first, second);

    expect(second.endpoint).not.toBe(first.endpoint);
    expect(second.directory).not.toBe(first.directory);
  });

  it('rejects an invalid bucket name before starting anything', async () => {
    await expect(startS3rver({ buckets: ['Not_Valid'] })).rejects.toThrow(/invalid bucket name "Not_Valid"/);
    await expect(startS3rver({ buckets: ['Not_Valid'] })).rejects.toMatchObject({
      code: 'LOCAL_OPTIONS_INVALID',
      option: 'buckets',
    });
  });
});

describe('S3rverServer', () => {
  describe('stop', () => {
    it('closes the port, removes the folder, and is harmless when called twice', async () => {
      const server = await startS3rver({ buckets: ['raw'] });
      const client = clientFor(server);
      await client.send(new CreateBucketCommand({ Bucket: 'extra' }));

      await server.stop();
      await server.stop();

      expect(existsSync(server.directory)).toBe(false);
      expect(isRunning(server.pid)).toBe(false);
      await expect(client.send(new ListBucketsCommand({}))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      client.destroy();
    });

    it('is what `await using` calls when the block ends', async () => {
      let directory = '';
      let pid = -1;
      {
        await using server = await startS3rver({ buckets: ['raw'] });
        ({ directory, pid } = server);
        expect(existsSync(directory)).toBe(true);
      }

      expect(existsSync(directory)).toBe(false);
      expect(isRunning(pid)).toBe(false);
    });
  });
});
