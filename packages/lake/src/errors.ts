import { type ErrorContext, TributaryError } from '@tributary/core';

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
    super(`Invalid object key ${JSON.stringify(key)}: ${reason}`, { code: 'INVALID_KEY', context: { key } });
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
