import type { S3Client } from '@aws-sdk/client-s3';
import { loadConfig, type TributaryConfig, TributaryError } from '@tributary/core';
import { createLake, type Lake, ZONES, type ZoneName } from './lake.js';
import { S3Storage } from './s3-storage.js';

/** `s3://bucket/some/prefix` → bucket and a prefix ending in `/` (or ''). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!match) throw new TributaryError(`Not an s3:// URL: ${JSON.stringify(url)}`, { code: 'LAKE_INVALID' });
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: match[1] as string, prefix: prefix === '' ? '' : `${prefix}/` };
}

/**
 * The lake on S3: each zone is the bucket and prefix of `TRIBUTARY_LAKE_RAW|PROCESSED|CURATED`
 * (or `TRIBUTARY_BUCKET_PREFIX`), reached with the client you pass in.
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { s3Lake } from '@tributary/lake/s3';
 *
 * const config = loadConfig();
 * const client = new S3Client({ region: config.region, endpoint: config.endpoints.s3, forcePathStyle: config.s3ForcePathStyle });
 * const lake = s3Lake(client, config);
 * ```
 */
export function s3Lake(client: S3Client, config: TributaryConfig = loadConfig()): Lake {
  const zones = {} as Record<ZoneName, S3Storage>;
  for (const zone of ZONES) {
    const { bucket, prefix } = parseS3Url(config.lake[zone]);
    zones[zone] = new S3Storage({ client, bucket, prefix });
  }
  return createLake(zones);
}
