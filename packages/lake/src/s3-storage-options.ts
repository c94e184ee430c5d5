import type { S3Client } from '@aws-sdk/client-s3';
import { ItemTooLargeError, OptionsError } from '@tributary/core';
import { assertValidKey } from './storage.js';

// S3Storage's options: S3's limits on uploads, the checks of the constructor, the part size of an upload.

const MiB = 1024 * 1024;
/** S3's limits on multipart uploads and objects. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;

export interface S3StorageOptions {
  /** The client to send requests with; whoever created it destroys it. */
  client: S3Client;
  bucket: string;
  /** Prepended to every key: `''` (default) or a prefix ending in `/`, e.g. `lake/raw/`. */
  prefix?: string;
  /**
   * Part size of multipart uploads, from 5 MiB to 5 GiB. Default 8 MiB. Raised (to a whole MiB)
   * when `expectedSize` needs bigger parts to stay within 10,000 parts.
   */
  partSize?: number;
  /** Parts uploaded at once; memory use is about `queueSize × partSize`. Default 4. */
  queueSize?: number;
  /**
   * Bytes and strings smaller than this go in one PutObject; larger ones, and every stream, go
   * through a multipart upload. Default 16 MiB.
   */
  multipartThreshold?: number;
}

/**
 * Choose the part size for an upload of about `expectedSize` bytes: `partSize`, or the smallest
 * whole number of MiB that keeps the upload within S3's 10,000 parts.
 */
export function choosePartSize(expectedSize: number | undefined, partSize: number): number {
  if (expectedSize === undefined) return partSize;
  if (!Number.isSafeInteger(expectedSize) || expectedSize < 0) {
    throw new OptionsError(`expectedSize must be a whole number of bytes ≥ 0, got ${String(expectedSize)}`, {
      code: 'STORAGE_OPTIONS_INVALID',
      option: 'expectedSize',
      context: { expectedSize },
    });
  }
  if (expectedSize > MAX_OBJECT_SIZE) throw new ItemTooLargeError(expectedSize, MAX_OBJECT_SIZE);
  return Math.min(MAX_PART_SIZE, Math.max(partSize, Math.ceil(expectedSize / MAX_PARTS / MiB) * MiB));
}

/** The options of an {@link S3Storage} once checked, with their defaults. */
export interface ResolvedS3StorageOptions {
  client: S3Client;
  bucket: string;
  prefix: string;
  partSize: number;
  queueSize: number;
  multipartThreshold: number;
}

/** Check an S3Storage's options (they may come from a plain-JS caller or config) and fill in the defaults. */
export function resolveS3StorageOptions(options: S3StorageOptions): ResolvedS3StorageOptions {
  const {
    client,
    bucket,
    prefix = '',
    partSize = 8 * MiB,
    queueSize = 4,
    multipartThreshold = 16 * MiB,
  } = options ?? ({} as S3StorageOptions);
  if (typeof (client as { send?: unknown } | undefined)?.send !== 'function') {
    throw new OptionsError('S3Storage needs an S3Client (options.client)', {
      code: 'STORAGE_OPTIONS_INVALID',
      option: 'client',
    });
  }
  if (typeof bucket !== 'string' || bucket === '' || bucket.includes('/')) {
    throw new OptionsError(`S3Storage needs a bucket name, got ${JSON.stringify(bucket)}`, {
      code: 'STORAGE_OPTIONS_INVALID',
      option: 'bucket',
      context: { bucket },
    });
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/'))) {
    throw new OptionsError(`S3Storage prefix must be '' or end with '/', got ${JSON.stringify(prefix)}`, {
      code: 'STORAGE_OPTIONS_INVALID',
      option: 'prefix',
      context: { bucket },
    });
  }
  if (prefix !== '') {
    try {
      assertValidKey(prefix.slice(0, -1));
    } catch (err) {
      throw new OptionsError(`S3Storage prefix ${JSON.stringify(prefix)} is not a valid key prefix`, {
        code: 'STORAGE_OPTIONS_INVALID',
        option: 'prefix',
        context: { bucket },
        cause: err,
      });
    }
  }
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new OptionsError(`S3Storage partSize must be a whole number from 5 MiB to 5 GiB, got ${partSize}`, {
      code: 'STORAGE_OPTIONS_INVALID',
      option: 'partSize',
      context: { bucket },
    });
  }
  if (!Number.isSafeInteger(queueSize) || queueSize < 1) {
    throw new OptionsError(`S3Storage queueSize must be a whole number ≥ 1, got ${queueSize}`, {
      code: 'STORAGE_OPTIONS_INVALID',
      option: 'queueSize',
      context: { bucket },
    });
  }
  if (!Number.isSafeInteger(multipartThreshold) || multipartThreshold < 0) {
    throw new OptionsError(
      `S3Storage multipartThreshold must be a whole number ≥ 0, got ${multipartThreshold}`,
      {
        code: 'STORAGE_OPTIONS_INVALID',
        option: 'multipartThreshold',
        context: { bucket },
      },
    );
  }
  return { client, bucket, prefix, partSize, queueSize, multipartThreshold };
}
