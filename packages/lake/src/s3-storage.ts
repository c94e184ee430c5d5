import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  classifyError,
  type FailedItem,
  OptionsError,
  PartialBatchFailureError,
  TributaryError,
} from '@tributary/core';
import { ObjectNotFoundError, StorageError } from './errors.js';
import { abortable, isNoSuchKey, statusOf, unquote } from './s3-sdk.js';
import { choosePartSize, resolveS3StorageOptions, type S3StorageOptions } from './s3-storage-options.js';
import {
  assertValidKey,
  type Body,
  bodyToBytes,
  checkRange,
  type GetOptions,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.js';

export type { S3StorageOptions } from './s3-storage-options.js';
export { choosePartSize } from './s3-storage-options.js';

/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1_000;
/** Objects whose size and ETag a storage remembers for its copies (a few hundred KiB at most). */
const KNOWN_OBJECTS = 1_024;

/**
 * A `Storage` in an S3 bucket (and prefix), through a client you pass in.
 *
 * Bytes and strings below `multipartThreshold`, and streams that end within their first part, go
 * in one PutObject; the rest in a multipart upload (`@aws-sdk/lib-storage`: at most `queueSize`
 * parts in flight, so about `(queueSize + 1) × partSize` of memory per put), which is aborted on
 * failure so that no parts are left behind. A `copy` is one server-side CopyObject when its answer
 * carries the ETag this storage saw of the source (in its own put or head), else also a HEAD of
 * the copy for its size. The SDK's checksums are the client's (CRC32 by default). Errors are
 * `StorageError`s with the SDK's error as `cause` (`retryable` from its classification); the SDK's
 * own retries apply, none are added. Import it from `@tributary/lake/s3`, so that the main entry
 * never loads the AWS SDK.
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { S3Storage } from '@tributary/lake/s3';
 *
 * const storage = new S3Storage({ client: new S3Client({}), bucket: 'my-lake', prefix: 'raw/' });
 * await storage.put('sensors/2026/11/23/10/part-0.ndjson', '{"id":"a"}\n');
 * ```
 */
export class S3Storage implements Storage {
  readonly url: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #multipartThreshold: number;
  /**
   * Size and ETag of the objects this storage last put or read the head of, oldest first, at most
   * `KNOWN_OBJECTS`: a copy whose answer carries the ETag seen of its source copied those bytes,
   * so its size needs no HEAD. A hint checked by that ETag, never an answer about the bucket.
   */
  readonly #known = new Map<string, { size: number; etag: string }>();

  constructor(options: S3StorageOptions) {
    const { client, bucket, prefix, partSize, queueSize, multipartThreshold } =
      resolveS3StorageOptions(options);
    this.#client = client;
    this.bucket = bucket;
    this.prefix = prefix;
    this.#partSize = partSize;
    this.#queueSize = queueSize;
    this.#multipartThreshold = multipartThreshold;
    this.url = prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix.slice(0, -1)}`;
    Object.freeze(this);
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<ObjectInfo> {
    const Key = this.#keyOf(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const params = {
      Bucket: this.bucket,
      Key,
      ContentType: options.contentType,
      ContentEncoding: options.contentEncoding,
      Metadata: options.metadata,
    };
    const bytes =
      typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : undefined;
    if (bytes !== undefined && bytes.byteLength < this.#multipartThreshold) {
      const out = await this.#call('put', key, signal, () =>
        this.#client.send(new PutObjectCommand({ ...params, Body: bytes, ContentLength: bytes.byteLength }), {
          abortSignal: signal,
        }),
      );
      return this.#remember({ key, size: bytes.byteLength, etag: unquote(out.ETag) });
    }

    const counted = { bytes: 0 };
    const partSize = choosePartSize(bytes?.byteLength ?? options.expectedSize, this.#partSize);
    const upload = new Upload({
      client: this.#client,
      params: {
        ...params,
        Body: bytes ?? Readable.from(abortable(body as AsyncIterable<Uint8Array | string>, counted, signal)),
      },
      partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    try {
      const out = await upload.done();
      return this.#remember({ key, size: bytes?.byteLength ?? counted.bytes, etag: unquote(out.ETag) });
    } catch (err) {
      // On abort the body stops with the signal's reason, and lib-storage aborts the multipart
      // upload before rejecting with it. (upload.abort() would reject at once, racing the cleanup.)
      if (signal?.aborted && err === signal.reason) throw signal.reason;
      if (signal?.aborted) {
        throw new StorageError(
          `S3 put of ${this.#describe(key)} was aborted, but aborting its multipart upload failed: its parts may remain until a lifecycle rule (AbortIncompleteMultipartUpload) removes them`,
          { cause: err, retryable: false, context: this.#context(key, err) },
        );
      }
      throw this.#wrap(err, 'put', key);
    }
  }

  async putIfAbsent(key: string, body: Uint8Array | string): Promise<ObjectInfo | undefined> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      const out = await this.#client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.#keyOf(key),
          Body: bytes,
          ContentLength: bytes.byteLength,
          IfNoneMatch: '*',
        }),
      );
      return this.#remember({ key, size: bytes.byteLength, etag: unquote(out.ETag) });
    } catch (err) {
      // 412: the key exists; 409: a concurrent conditional write to it is in progress.
      if (statusOf(err) === 412 || statusOf(err) === 409) return undefined;
      throw this.#wrap(err, 'put', key);
    }
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    const source = this.#keyOf(from);
    const Key = this.#keyOf(to);
    try {
      // Server-side: the bytes never pass through this process (single CopyObject: up to 5 GB).
      const out = await this.#client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key,
          CopySource: `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      const etag = unquote(out.CopyObjectResult?.ETag);
      const known = this.#known.get(from);
      if (known !== undefined && etag === known.etag) {
        // An ETag names the bytes (their MD5, or their parts'): the copy has the size seen with it.
        return this.#remember({
          key: to,
          size: known.size,
          etag,
          lastModified: out.CopyObjectResult?.LastModified,
        });
      }
      const info = await this.head(to);
      return info ?? { key: to, size: 0, etag };
    } catch (err) {
      if (statusOf(err) === 404 || isNoSuchKey(err)) {
        this.#known.delete(from);
        throw new ObjectNotFoundError(from, this.#context(from, err), err);
      }
      throw this.#wrap(err, 'copy', from);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const Key = this.#keyOf(key);
    const { start, end } = checkRange(options);
    const { signal } = options;
    if (end !== undefined && end <= start) {
      // An empty range cannot be asked of S3 (it would answer with the whole object).
      if ((await this.head(key)) === undefined) throw new ObjectNotFoundError(key, { bucket: this.bucket });
      return Readable.from([]);
    }
    const Range =
      start === 0 && end === undefined ? undefined : `bytes=${start}-${end === undefined ? '' : end - 1}`;
    let out: GetObjectCommandOutput;
    try {
      out = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }), {
        abortSignal: signal,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (isNoSuchKey(err)) throw new ObjectNotFoundError(key, { bucket: this.bucket }, err);
      // A range that starts at or past the end of the object: S3 answers 416, the Storage API an empty body.
      if (statusOf(err) === 416) return Readable.from([]);
      throw this.#wrap(err, 'get', key);
    }
    const body = out.Body;
    if (!(body instanceof Readable)) {
      throw new StorageError(`S3 get of ${this.#describe(key)} returned no readable body`, {
        context: this.#context(key),
      });
    }
    return body;
  }

  async getBytes(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const stream = await this.get(key, options);
    try {
      return await bodyToBytes(stream);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.#wrap(err, 'get', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const Key = this.#keyOf(key);
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return this.#remember({
        key,
        size: out.ContentLength ?? 0,
        lastModified: out.LastModified,
        etag: unquote(out.ETag),
      });
    } catch (err) {
      // HEAD responses have no body, so a 404 cannot tell a missing key from a missing bucket.
      if (statusOf(err) === 404 || isNoSuchKey(err)) {
        this.#known.delete(key);
        return undefined;
      }
      throw this.#wrap(err, 'head', key);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const { startAfter, signal, pageSize = 1_000 } = options;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 1_000) {
      throw new OptionsError(`pageSize must be a whole number from 1 to 1,000, got ${String(pageSize)}`, {
        code: 'STORAGE_OPTIONS_INVALID',
        option: 'pageSize',
        context: { pageSize },
      });
    }
    let token: string | undefined;
    let first = true;
    while (first || token !== undefined) {
      const page = await this.#call('list', prefix, signal, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            MaxKeys: pageSize,
            ContinuationToken: token,
            // The continuation token carries the position after the first page.
            StartAfter: first && startAfter !== undefined ? this.prefix + startAfter : undefined,
          }),
          { abortSignal: signal },
        ),
      );
      first = false;
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key.slice(this.prefix.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified,
          etag: unquote(object.ETag),
        };
      }
      token = this.#nextToken(page, prefix);
    }
  }

  /**
   * Abort the multipart uploads under `prefix` that were started before `olderThan`: the parts a
   * process killed during a large put leaves behind, billed until aborted (the same job as an
   * `AbortIncompleteMultipartUpload` lifecycle rule). Returns `<key> (upload <id>)` for each.
   */
  async removeAbandonedUploads(options: { olderThan: Date; prefix?: string }): Promise<string[]> {
    const prefix = options.prefix ?? '';
    const cutoff = options.olderThan.getTime();
    const removed: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#call('list', prefix, undefined, () =>
        this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        if (upload.Initiated === undefined || upload.Initiated.getTime() >= cutoff) continue;
        const key = upload.Key.slice(this.prefix.length);
        await this.#call('delete', key, undefined, () =>
          this.#client.send(
            new AbortMultipartUploadCommand({
              Bucket: this.bucket,
              Key: upload.Key,
              UploadId: upload.UploadId,
            }),
          ),
        );
        removed.push(`${key} (upload ${upload.UploadId})`);
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return removed;
  }

  async *listPrefixes(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<string> {
    const { signal } = options;
    let token: string | undefined;
    let first = true;
    while (first || token !== undefined) {
      first = false;
      const page = await this.#call('list', prefix, signal, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            Delimiter: '/',
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        ),
      );
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix !== undefined) yield common.Prefix.slice(this.prefix.length);
      }
      token = this.#nextToken(page, prefix);
    }
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const failed: FailedItem<string>[] = [];
    let succeededCount = 0;
    let batch = new Set<string>();
    const send = async () => {
      const objects = [...batch].map((key) => ({ Key: this.prefix + key }));
      batch = new Set();
      let out: { Errors?: { Key?: string; Code?: string; Message?: string }[] };
      try {
        out = await this.#client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }),
        );
      } catch (err) {
        throw this.#wrap(err, 'delete', objects[0]?.Key.slice(this.prefix.length), {
          deletedCount: succeededCount,
        });
      }
      const errors = out.Errors ?? [];
      for (const error of errors) {
        failed.push({
          item: (error.Key ?? '').slice(this.prefix.length),
          code: error.Code ?? 'UNKNOWN',
          message: error.Message,
        });
      }
      succeededCount += objects.length - errors.length;
    };
    for await (const key of keys) {
      assertValidKey(key);
      this.#known.delete(key);
      batch.add(key);
      if (batch.size === DELETE_BATCH) await send();
    }
    if (batch.size > 0) await send();
    if (failed.length > 0) {
      throw new PartialBatchFailureError(failed, {
        succeededCount,
        message: `Could not delete ${failed.length} object(s) from ${this.url}: ${[...new Set(failed.map((f) => f.code))].join(', ')}`,
        context: { bucket: this.bucket },
      });
    }
  }

  /** Note what a put, head or copy saw of an object (see `#known`), and return it. */
  #remember(info: ObjectInfo): ObjectInfo {
    this.#known.delete(info.key);
    if (info.etag === undefined) return info;
    this.#known.set(info.key, { size: info.size, etag: info.etag });
    if (this.#known.size > KNOWN_OBJECTS) this.#known.delete(this.#known.keys().next().value as string);
    return info;
  }

  #keyOf(key: string): string {
    return this.prefix + assertValidKey(key);
  }

  #nextToken(
    page: { IsTruncated?: boolean; NextContinuationToken?: string },
    prefix: string,
  ): string | undefined {
    if (!page.IsTruncated) return undefined;
    if (!page.NextContinuationToken) {
      // Stopping here would silently drop the rest of the listing.
      throw new StorageError(
        `S3 list of ${this.#describe(prefix)} was truncated without a continuation token`,
        {
          context: this.#context(prefix),
        },
      );
    }
    return page.NextContinuationToken;
  }

  async #call<T>(
    operation: string,
    key: string,
    signal: AbortSignal | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    try {
      return await send();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.#wrap(err, operation, key);
    }
  }

  #describe(key: string | undefined): string {
    return `s3://${this.bucket}/${this.prefix}${key ?? ''}`;
  }

  #context(key: string | undefined, err?: unknown): Record<string, unknown> {
    const statusCode = statusOf(err);
    return {
      bucket: this.bucket,
      ...(key === undefined ? {} : { key: this.prefix + key }),
      ...(statusCode === undefined ? {} : { statusCode }),
    };
  }

  #wrap(
    err: unknown,
    operation: string,
    key: string | undefined,
    extra: Record<string, unknown> = {},
  ): Error {
    if (TributaryError.isInstance(err)) return err;
    const name = (err as Error | undefined)?.name;
    const message = (err as Error | undefined)?.message ?? String(err);
    return new StorageError(
      `S3 ${operation} of ${this.#describe(key)} failed: ${name ? `${name}: ` : ''}${message}`,
      {
        cause: err,
        retryable: classifyError(err).retryable,
        context: { ...this.#context(key, err), ...extra },
      },
    );
  }
}
