import { type ErrorContext, isRetryable, RetryExhaustedError, TributaryError } from '@tributary/core';
import type { ParquetErrorCode } from './formats/parquet/errors.js';
import type { IcebergErrorCode } from './iceberg/errors.js';

// The lake's error classes; the catalog's, Iceberg's and Parquet's live next to their code and are
// re-exported here, so that this file lists every class and code of the package.
export { CatalogError, SchemaChangeError } from './catalog/errors.js';
export { ParquetError } from './formats/parquet/errors.js';
export { IcebergError } from './iceberg/errors.js';

/**
 * An object key that cannot be stored: empty, absolute, with `.` or `..` segments, a NUL, or
 * (locally) a name the file system reserves.
 *
 * @example
 * ```ts
 * try {
 *   await storage.put('../outside.json', '{}');
 * } catch (err) {
 *   if (err instanceof InvalidKeyError) console.log(err.context.key); // '../outside.json'
 *   else throw err;
 * }
 * ```
 */
export class InvalidKeyError extends TributaryError {
  override name = 'InvalidKeyError';

  constructor(key: string, reason: string) {
    super(`Invalid object key ${JSON.stringify(key)}: ${reason}`, { code: 'KEY_INVALID', context: { key } });
  }
}

/**
 * No object under that key.
 *
 * @example
 * ```ts
 * const exists = await storage.head('a.json') !== undefined; // head never throws this
 * ```
 */
export class ObjectNotFoundError extends TributaryError {
  override name = 'ObjectNotFoundError';

  constructor(key: string, context: ErrorContext = {}, cause?: unknown) {
    super(`No object at ${JSON.stringify(key)}`, {
      code: 'OBJECT_NOT_FOUND',
      context: { ...context, key },
      cause,
    });
  }
}

/**
 * A storage operation failed (file system or S3). `cause` is the driver's error; `retryable`
 * follows core's classification of it.
 *
 * @example
 * ```ts
 * try {
 *   await storage.put('sensors/part-0.ndjson', '{"id":"a-1"}\n');
 * } catch (err) {
 *   if (err instanceof StorageError && err.retryable) console.warn('storage unavailable, try again later', err.cause);
 *   else throw err;
 * }
 * ```
 */
export class StorageError extends TributaryError {
  override name = 'StorageError';

  constructor(
    message: string,
    options: { cause?: unknown; retryable?: boolean; context?: ErrorContext } = {},
  ) {
    super(message, { code: 'STORAGE_FAILED', ...options });
  }
}

/**
 * A partition column name or value that cannot round-trip through a hive folder name
 * (`name=value/`): an invalid name refuses the write; an invalid value refuses its record, which
 * `writeDataset` reports with the other invalid records.
 *
 * @example
 * ```ts
 * try {
 *   await writeDataset(readings, {
 *     storage: lake.processed,
 *     table: 'sensors',
 *     schema: readingSchema,
 *     partitionBy: [byField('id', 'sensor-id')],
 *   });
 * } catch (err) {
 *   if (err instanceof PartitionError) console.log(err.context.partition, err.reason); // 'sensor-id', 'a partition column name must be ...'
 *   else throw err;
 * }
 * ```
 */
export class PartitionError extends TributaryError {
  override name = 'PartitionError';
  /** Why the name or value was refused, without the value itself. */
  readonly reason: string;

  constructor(partition: string, reason: string) {
    super(`Partition ${JSON.stringify(partition)}: ${reason}`, {
      code: 'PARTITION_INVALID',
      context: { partition },
    });
    this.reason = reason;
  }
}

/**
 * A Firehose S3 prefix breaks Firehose's grammar (`FIREHOSE_PREFIX_INVALID`): `context.option`
 * is `prefix` or `errorPrefix`, `context.prefix` the text. The lake's delivery and
 * `createDeliveryStreamInput` both check prefixes with it and carry it as their error's `cause`.
 *
 * @example
 * ```ts
 * try {
 *   parseFirehosePrefix('sensors/!{timestamp:YYYY}/');
 * } catch (err) {
 *   if (err instanceof FirehosePrefixError) console.log(err.message); // '... Y is not supported: the week-based year ...'
 *   else throw err;
 * }
 * ```
 */
export class FirehosePrefixError extends TributaryError {
  override name = 'FirehosePrefixError';

  constructor(message: string, context: { option: 'prefix' | 'errorPrefix'; prefix: string | undefined }) {
    super(message, { code: 'FIREHOSE_PREFIX_INVALID', context });
  }
}

/**
 * A flush failed after its retries. Its records are kept and written by the next flush
 * (interval, size, `flush()` or `close()`), under the same object keys: nothing accepted is lost.
 *
 * @example
 * ```ts
 * const delivery = createDelivery({ storage: lake.raw, prefix: 'sensors/', streamName: 'sensors' });
 * await delivery.write({ id: 'a-1', value: 21.5 });
 * try {
 *   await delivery.close();
 * } catch (err) {
 *   if (err instanceof DeliveryError) console.error(`${err.recordCount} records not yet delivered`, err.cause);
 *   else throw err;
 * }
 * ```
 */
export class DeliveryError extends TributaryError {
  override name = 'DeliveryError';
  /** Accepted records that are not delivered yet because of this failure. */
  readonly recordCount: number;
  /** Object keys that could not be written. */
  readonly keys: readonly string[];

  constructor(
    message: string,
    options: { recordCount: number; keys: readonly string[]; cause?: unknown; stream?: string },
  ) {
    super(message, {
      code: 'DELIVERY_FAILED',
      cause: options.cause,
      retryable: options.cause === undefined ? true : isRetryable(innermost(options.cause)),
      context: { stream: options.stream, key: options.keys[0] },
    });
    this.recordCount = options.recordCount;
    this.keys = Object.freeze([...options.keys]);
  }
}

// withRetry gives up with a RetryExhaustedError, which is never retryable itself: whether the
// next flush may succeed is the question of the error it gave up on.
function innermost(cause: unknown): unknown {
  return cause instanceof RetryExhaustedError ? cause.lastError : cause;
}

/**
 * Every code the lake's errors carry. `<AREA>_OPTIONS_INVALID` is a wrong option, `<THING>_INVALID`
 * wrong data. The error prefix's `errorOutputType` codes (`INVALID_JSON`, `VALIDATION_FAILED`) are
 * Firehose's words for a record, not error codes.
 *
 * @example
 * ```ts
 * const retryLater: readonly LakeErrorCode[] = ['ICEBERG_COMMIT_CONFLICT', 'DATASET_CONFLICT'];
 * ```
 */
export type LakeErrorCode =
  | 'KEY_INVALID'
  | 'RANGE_INVALID'
  | 'OBJECT_NOT_FOUND'
  | 'STORAGE_FAILED'
  | 'STORAGE_OPTIONS_INVALID'
  | 'PARTITION_INVALID'
  | 'FIREHOSE_PREFIX_INVALID'
  | 'LAKE_OPTIONS_INVALID'
  | 'ZONE_INVALID'
  | 'FORMAT_UNKNOWN'
  | 'CSV_INVALID'
  | 'CSV_UTF8_INVALID'
  | 'DATASET_INVALID'
  | 'DATASET_OPTIONS_INVALID'
  | 'DATASET_CONFLICT'
  | 'DATASET_FAILED'
  | 'DATASET_MANIFEST_INVALID'
  | 'DATASET_RECOVERY_FAILED'
  | 'DELIVERY_OPTIONS_INVALID'
  | 'DELIVERY_RECORD_INVALID'
  | 'DELIVERY_CLOSED'
  | 'DELIVERY_FAILED'
  | 'CATALOG_INVALID'
  | 'CATALOG_OPTIONS_INVALID'
  | 'CATALOG_FAILED'
  | 'CATALOG_DATABASE_NOT_FOUND'
  | 'CATALOG_TABLE_NOT_FOUND'
  | 'CATALOG_EMPTY_TABLE'
  | 'CATALOG_MIXED_FORMATS'
  | 'CATALOG_LAYOUT_INCONSISTENT'
  | 'CATALOG_MALFORMED_RECORD'
  | 'SCHEMA_INCOMPATIBLE'
  | IcebergErrorCode
  | ParquetErrorCode;
