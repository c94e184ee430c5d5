import { type ErrorContext, OptionsError, TributaryError } from '@tributary/core';

/**
 * A producer option is missing or wrong: core's `OptionsError` with code `PRODUCER_OPTIONS_INVALID`;
 * `option` (and `context.option`) names it. The producers throw core's `OptionsError`; every
 * `OptionsError` with that code is an `instanceof ProducerOptionsError`, so code written against
 * this class keeps catching them.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * try {
 *   new KinesisProducer({ client: new KinesisClient({}), streamName: '', partitionKey: (reading: Reading) => reading.id });
 * } catch (err) {
 *   if (err instanceof ProducerOptionsError) console.log(err.option); // 'streamName'
 *   else throw err;
 * }
 * ```
 */
export class ProducerOptionsError extends OptionsError {
  override name = 'ProducerOptionsError';

  constructor(message: string, option: string) {
    super(message, { code: 'PRODUCER_OPTIONS_INVALID', option });
  }

  /** Any tributary error with code `PRODUCER_OPTIONS_INVALID`: those the producers throw, and this class's. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return TributaryError.isInstance(value) && value.code === 'PRODUCER_OPTIONS_INVALID';
  }
}

/**
 * `put` was called after `close()`: the record was not accepted.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * const producer = new KinesisProducer({ client: new KinesisClient({}), streamName: 'readings', partitionKey: (reading: Reading) => reading.id });
 * const reading: Reading = { id: 't-1:0', at: new Date(), value: 21.5 };
 * await producer.close();
 * await producer.put(reading); // rejects with ProducerClosedError (code PRODUCER_CLOSED)
 * ```
 */
export class ProducerClosedError extends TributaryError {
  override name = 'ProducerClosedError';

  constructor(context: ErrorContext = {}) {
    super('The producer is closed and accepts no more records', { code: 'PRODUCER_CLOSED', context });
  }
}

/**
 * A record's partition key is not 1 to 256 characters (Kinesis' rule), or the partition key
 * function did not return a string. The record was not accepted.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * const producer = new KinesisProducer({
 *   client: new KinesisClient({}),
 *   streamName: 'readings',
 *   partitionKey: (reading: Reading) => reading.id.padEnd(300, '-'), // longer than Kinesis allows
 * });
 * const reading: Reading = { id: 't-1:0', at: new Date(), value: 21.5 };
 * try {
 *   await producer.put(reading);
 * } catch (err) {
 *   if (err instanceof InvalidPartitionKeyError) console.log(err.message);
 *   else throw err;
 * }
 * ```
 */
export class InvalidPartitionKeyError extends TributaryError {
  override name = 'InvalidPartitionKeyError';

  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super(message, { code: 'PARTITION_KEY_INVALID', context, cause });
  }
}

/**
 * A producer could not learn a stream's shards (`ListShards` failed for good). The records of the
 * batch that needed them fail with this code; the next batch asks again. Pass `shardCount`, or
 * `rateLimit: false` without `aggregate`, to produce without calling `ListShards`.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * const producer = new KinesisProducer({
 *   client: new KinesisClient({}),
 *   streamName: 'readings',
 *   partitionKey: (reading: Reading) => reading.id,
 *   aggregate: true,
 * });
 * const reading: Reading = { id: 't-1:0', at: new Date(), value: 21.5 };
 * await producer.put(reading);
 * try {
 *   await producer.close();
 * } catch (err) {
 *   if (err instanceof PartialBatchFailureError && err.failed[0]?.code === 'SHARD_DISCOVERY_FAILED') {
 *     console.error('allow kinesis:ListShards, or pass shardCount');
 *   } else throw err;
 * }
 * ```
 */
export class ShardDiscoveryError extends TributaryError {
  override name = 'ShardDiscoveryError';

  constructor(stream: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Could not list the shards of stream ${JSON.stringify(stream)}: ${reason}`, {
      code: 'SHARD_DISCOVERY_FAILED',
      context: { stream },
      cause,
    });
  }
}

/**
 * A record carries the KPL aggregation magic number and a matching checksum, but its protobuf
 * body cannot be decoded. (A record whose checksum does not match is not an aggregate at all and
 * is returned as it is, like the KCL does.)
 *
 * @example
 * ```ts
 * declare const record: { Data: Uint8Array; PartitionKey: string }; // a Kinesis GetRecords record
 * declare function quarantine(record: { Data: Uint8Array }): Promise<void>; // e.g. put it aside in the lake
 * try {
 *   deaggregate(record.Data, record.PartitionKey);
 * } catch (err) {
 *   if (err instanceof AggregationFormatError) await quarantine(record);
 *   else throw err;
 * }
 * ```
 */
export class AggregationFormatError extends TributaryError {
  override name = 'AggregationFormatError';

  constructor(message: string, context: ErrorContext = {}) {
    super(`Invalid KPL aggregated record: ${message}`, { code: 'AGGREGATION_INVALID', context });
  }
}

/**
 * Every code the streams package sets: on its errors, and on the records a producer reports failed
 * (`PartialBatchFailureError.failed[i].code`, which also carries the service's own codes, such as
 * `ProvisionedThroughputExceededException`). `<AREA>_OPTIONS_INVALID` is a wrong option (core's
 * `OptionsError`), `<THING>_INVALID` wrong data.
 *
 * @example
 * ```ts
 * const retryLater: readonly StreamsErrorCode[] = ['RECORD_TTL_EXPIRED', 'SHARD_DISCOVERY_FAILED'];
 * ```
 */
export type StreamsErrorCode =
  // producers
  | 'PRODUCER_OPTIONS_INVALID'
  | 'PRODUCER_CLOSED'
  | 'PARTITION_KEY_INVALID'
  | 'RECORD_INVALID'
  | 'SHARD_DISCOVERY_FAILED'
  // codes of failed records
  | 'RECORD_TTL_EXPIRED'
  | 'MISSING_RESULT'
  | 'REQUEST_FAILED'
  | 'PRODUCER_FAILED'
  // KPL aggregation
  | 'AGGREGATION_INVALID'
  // the Kinesis source
  | 'SOURCE_OPTIONS_INVALID'
  | 'SOURCE_READ_FAILED'
  | 'SOURCE_COMMIT_INVALID'
  | 'SOURCE_ALREADY_STARTED'
  // checkpoints
  | 'CHECKPOINT_STORE_OPTIONS_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'CHECKPOINT_FAILED'
  // delivery into the lake, delivery stream input
  | 'DELIVER_TO_LAKE_OPTIONS_INVALID'
  | 'FIREHOSE_SETUP_OPTIONS_INVALID';
