import { S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { parseS3Url, s3Lake } from '../../src/s3-lake.js';

describe('s3Lake', () => {
  describe('parseS3Url', () => {
    it.each([
      ['s3://bucket', { bucket: 'bucket', prefix: '' }],
      ['s3://bucket/', { bucket: 'bucket', prefix: '' }],
      ['s3://bucket/lake/raw', { bucket: 'bucket', prefix: 'lake/raw/' }],
      ['s3://bucket//lake/raw/', { bucket: 'bucket', prefix: 'lake/raw/' }],
    ])('splits %s', (url, expected) => {
      expect(parseS3Url(url)).toEqual(expected);
    });

    it('rejects anything but s3://', () => {
      expect(() => parseS3Url('https://bucket/x')).toThrow(/Not an s3:\/\/ URL/);
    });
  });

  it('gives each zone the bucket and prefix of the config', () => {
    const config = loadConfig({
      TRIBUTARY_MODE: 'aws',
      AWS_REGION: 'eu-west-1',
      TRIBUTARY_BUCKET_PREFIX: 'acme',
      TRIBUTARY_LAKE_CURATED: 's3://warehouse-bucket/curated',
    });
    const client = new S3Client({ region: 'eu-west-1' });

    const lake = s3Lake(client, config);

    expect([lake.raw.url, lake.processed.url, lake.curated.url]).toEqual([
      's3://acme-raw',
      's3://acme-processed',
      's3://warehouse-bucket/curated',
    ]);
    client.destroy();
  });
});
