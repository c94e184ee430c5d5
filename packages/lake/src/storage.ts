import type { Readable } from 'node:stream';
import { TributaryError } from '@tributary/core';
import { InvalidKeyError } from './errors.js';

/** What a put, head or list knows of an object. */
export interface ObjectInfo {
  /** The key relative to the storage's root, `/`-separated, e.g. `sensors/2026/11/23/10/a.ndjson`. */
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
}

/** A body to store: bytes, text, or a stream of either (a Node `Readable` is an async iterable). */
export type Body = Uint8Array | string | AsyncIterable<Uint8Array | string> | Readable;

export interface PutOptions {
  contentType?: string;
  /** e.g. `gzip` for `.ndjson.gz` objects. */
  contentEncoding?: string;
  metadata?: Record<string, string>;
  /** The expected size of a streamed body, so S3 can choose a part size that stays under 10,000 parts. */
  expectedSize?: number;
  signal?: AbortSignal;
}

export interface GetOptions {
  /** First byte to read (inclusive). */
  start?: number;
  /** Byte to stop at (exclusive). */
  end?: number;
  signal?: AbortSignal;
}

export interface ListOptions {
  /** Only keys after this one (exclusive), in S3's order. */
  startAfter?: string;
  /** Keys per underlying request (S3 allows at most 1,000). */
  pageSize?: number;
  signal?: AbortSignal;
}

/**
 * Where a zone's objects live: a local folder or an S3 bucket (and prefix). Keys are
 * `/`-separated and relative to the root. Writes are atomic: a reader sees the whole object or
 * none of it. Listing is in S3's order (keys compared as UTF-8 bytes) and lazy.
 *
 * @example
 * ```ts
 * await storage.put('sensors/2026/11/23/10/part-0.ndjson', '{"id":"a"}\n');
 * for await (const object of storage.list('sensors/')) console.log(object.key, object.size);
 * ```
 */
export interface Storage {
  /** `file:///abs/folder` or `s3://bucket/prefix`: where key `a/b` lands is `${url}/a/b`. */
  readonly url: string;
  put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo>;
  /** The object's bytes as a stream; rejects with `ObjectNotFoundError` when there is none. */
  get(key: string, options?: GetOptions): Promise<Readable>;
  /** The whole object (or a range) in memory: for footers, manifests and small files. */
  getBytes(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** `undefined` when there is no object. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, recursively, in key order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** The distinct next path segments under `prefix` (S3's CommonPrefixes with delimiter `/`), each ending in `/`. */
  listPrefixes(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<string>;
  /** Delete many keys; missing keys are not an error. Failures → `PartialBatchFailureError` of keys. */
  delete(keys: Iterable<string> | AsyncIterable<string>): Promise<void>;
  /**
   * Copy an object inside the storage without reading it through the client (S3's server-side
   * CopyObject, a kernel file copy locally); atomic like `put`. Optional: callers fall back to
   * `put(to, await get(from))`.
   */
  copy?(from: string, to: string): Promise<ObjectInfo>;
  /**
   * Create an object only if no object has that key, atomically: of two callers racing on one key,
   * exactly one gets its `ObjectInfo`, the other `undefined` (S3's conditional `If-None-Match: *`
   * write, a hard link locally). What table commits are built on (Iceberg's next metadata
   * version). Optional: a storage without it cannot host tables that commit this way.
   */
  putIfAbsent?(key: string, body: Uint8Array | string): Promise<ObjectInfo | undefined>;
  /**
   * Remove uploads that a killed process left unfinished (a local temporary file, an S3
   * multipart upload) started before `olderThan`, under `prefix` where the storage can tell;
   * returns what it removed. Optional: `recoverDataset` calls it when present.
   */
  removeAbandonedUploads?(options: { olderThan: Date; prefix?: string }): Promise<string[]>;
}

/**
 * Check a key and return it unchanged: non-empty, relative, `/`-separated, no empty, `.` or `..`
 * segment, no NUL or backslash, at most 1,024 UTF-8 bytes (S3's limit).
 *
 * @example
 * ```ts
 * assertValidKey('sensors/2026/11/23/part-0.parquet');
 * ```
 */
export function assertValidKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(String(key), 'empty');
  if (key.startsWith('/')) throw new InvalidKeyError(key, 'keys are relative: no leading "/"');
  if (key.includes('\0') || key.includes('\\')) throw new InvalidKeyError(key, 'no NUL or backslash');
  if (Buffer.byteLength(key) > 1024) throw new InvalidKeyError(key, 'longer than 1,024 bytes');
  for (const segment of key.split('/')) {
    if (segment === '' && !key.endsWith('/')) throw new InvalidKeyError(key, 'empty path segment');
    if (segment === '.' || segment === '..')
      throw new InvalidKeyError(key, '"." and ".." segments are not allowed');
  }
  if (key.endsWith('/')) throw new InvalidKeyError(key, 'a key cannot end with "/"');
  return key;
}

/** Compare keys as S3 orders them: by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Read a body into one buffer. */
export async function bodyToBytes(body: Body): Promise<Uint8Array> {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
  }
  return Buffer.concat(chunks);
}

/** Validate a byte range: `start` and `end` are whole numbers ≥ 0. */
export function checkRange(options: GetOptions): { start: number; end: number | undefined } {
  const { start = 0, end } = options;
  for (const [name, value] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new TributaryError(`${name} must be a whole number ≥ 0, got ${String(value)}`, {
        code: 'RANGE_INVALID',
        context: { [name]: value },
      });
    }
  }
  return { start, end };
}
