import { type ErrorContext, TributaryError } from '@tributary/core';

/**
 * A producer option is missing or wrong. `context.option` names it.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * try {
 *   new KinesisProducer({ client: new KinesisClient({}), streamName: '', partitionKey: (reading: Reading) => reading.id });
 * } catch (err) {
 *   if (err instanceof ProducerOptionsError) console.log(err.context.option); // 'streamName'
 *   else throw err;
 * }
 * ```
 */
export class ProducerOptionsError extends TributaryError {
  override name = 'ProducerOptionsError';

  constructor(message: string, option: string) {
    super(message, { code: 'PRODUCER_INVALID_OPTIONS', context: { option } });
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
