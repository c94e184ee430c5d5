import {
  describeValue,
  type EventListener,
  loadConfig,
  type RetryOptions,
  TributaryError,
} from '@tributary/core';
import { createDelivery, type Delivery, type DeliveryClock, localLake, type Storage } from '@tributary/lake';
import { sensorRecordSchema } from '@tributary/sensors';
import { deaggregate } from '@tributary/streams';
import { LambdaConsumerError } from './errors.js';
import type {
  KinesisBatchItemFailure,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from './kinesis-event.js';

export interface KinesisHandlerOptions {
  /** The lake's raw zone (`lake.raw`): local folder or S3. */
  storage: Storage;
  /** Default `sensors/`: objects land in `sensors/YYYY/MM/DD/HH/` of arrival time, like Firehose. */
  prefix?: string;
  /** Default `errors/sensors/`: invalid records land in `errors/sensors/<error-type>/YYYY/MM/DD/HH/`. */
  errorPrefix?: string;
  /** The first part of object names. Default: the stream's name, from the event source ARN. */
  streamName?: string;
  /**
   * Cut an object when the records of a shard reach this many bytes (uncompressed), always between
   * two Kinesis records. Default 5 MiB: a whole batch (at most 6 MB) is usually one object.
   */
  bufferBytes?: number;
  /** `gzip` writes `.ndjson.gz` objects. Default `none`. */
  compression?: 'none' | 'gzip';
  /** Retries of each object put before its records are reported as failures. Default: core's `withRetry` defaults. */
  retry?: RetryOptions;
  /** The delivery's events (records in and out, flushes, retries, failures). */
  onEvent?: EventListener;
  /** Called once per invocation with what it did. */
  onInvocation?: (stats: InvocationStats) => void;
  /** Where failures are logged (CloudWatch on AWS). Default `console`. */
  logger?: { error(message: string, ...details: unknown[]): void };
}

/** What one invocation did. */
export interface InvocationStats {
  /** Kinesis records in the event. */
  records: number;
  /** Shards the event held records of (Lambda sends one). */
  shards: number;
  /** Sensor records after de-aggregation, handed to the delivery. */
  userRecords: number;
  /** Sensor records stored in data objects. */
  delivered: number;
  /** Records stored under the error prefix: not JSON, or failing `sensorRecordSchema`. */
  invalid: number;
  /** Data objects written. */
  objects: number;
  /** Kinesis records returned in `batchItemFailures`. */
  failed: number;
}

/** A Kinesis-triggered Lambda handler with a partial batch response. */
export type KinesisHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

const DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024;
// The handler cuts objects itself; the delivery's own interval must never fire.
const NEVER_MS = 2_147_483_647;
// ...and its timer must not keep a local runner's process alive after a failed shard.
const clock: DeliveryClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

function invalidOption(option: string, value: unknown, expected: string): LambdaConsumerError {
  return new LambdaConsumerError(
    `Handler option ${option} must be ${expected}, got ${describeValue(value)}`,
    {
      code: 'LAMBDA_OPTIONS_INVALID',
      context: { option },
    },
  );
}

function invalidEvent(message: string): LambdaConsumerError {
  return new LambdaConsumerError(`Not a Kinesis event: ${message}`, { code: 'LAMBDA_EVENT_INVALID' });
}

/**
 * A Lambda handler for a Kinesis event source mapping. For each record of the batch it decodes
 * the base64 data, de-aggregates KPL aggregates, and writes the sensor records Firehose-style into
 * the raw zone (`createDelivery`: one NDJSON object per shard and batch, or per `bufferBytes`).
 * Records that are not JSON or fail `sensorRecordSchema` go to the error prefix with the reason:
 * they are delivered, not failures. When an object cannot be stored (after its retries), the
 * response lists the first Kinesis record not yet stored and every later record of that shard,
 * so Lambda retries from there (`ReportBatchItemFailures`) and the records before it are never
 * sent again. Duplicates that a retry may still make (an object written just before a failure
 * was reported) share their record ids, which the processed zone deduplicates.
 *
 * @example
 * ```ts
 * const lake = localLake(loadConfig());
 * const handle = createHandler({ storage: lake.raw });
 * const { batchItemFailures } = await handle(event);
 * ```
 */
export function createHandler(options: KinesisHandlerOptions): KinesisHandler {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object');
  const { storage, prefix = 'sensors/', errorPrefix, compression, retry, onEvent, onInvocation } = options;
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  const logger = options.logger ?? console;
  if (!Number.isSafeInteger(bufferBytes) || bufferBytes < 1) {
    throw invalidOption('bufferBytes', bufferBytes, 'a whole number of bytes ≥ 1');
  }
  if (onInvocation !== undefined && typeof onInvocation !== 'function') {
    throw invalidOption('onInvocation', onInvocation, 'a function');
  }
  if (typeof logger !== 'object' || logger === null || typeof logger.error !== 'function') {
    throw invalidOption('logger', logger, 'an object with an error method');
  }

  const deliveryFor = (streamName: string): Delivery =>
    createDelivery({
      storage,
      prefix,
      ...(errorPrefix === undefined ? {} : { errorPrefix }),
      streamName,
      bufferIntervalMs: NEVER_MS,
      bufferBytes: Number.MAX_SAFE_INTEGER,
      ...(compression === undefined ? {} : { compression }),
      schema: sensorRecordSchema,
      ...(retry === undefined ? {} : { retry }),
      clock,
      ...(onEvent === undefined ? {} : { onEvent }),
    });
  // The delivery checks storage, prefixes, stream name and compression: a mistake shows here, not
  // on the first event.
  deliveryFor(options.streamName ?? 'sensors');

  return async (event) => {
    const shards = groupByShard(event);
    const stats: InvocationStats = {
      records: event.Records.length,
      shards: shards.size,
      userRecords: 0,
      delivered: 0,
      invalid: 0,
      objects: 0,
      failed: 0,
    };
    const outcomes = await Promise.all(
      [...shards].map(async ([shardId, records]) => {
        const streamName = options.streamName ?? streamNameOf(records[0] as KinesisStreamRecord);
        const outcome = await deliverShard(deliveryFor(streamName), records, bufferBytes);
        stats.userRecords += outcome.userRecords;
        stats.delivered += outcome.delivered;
        stats.invalid += outcome.invalid;
        stats.objects += outcome.objects;
        if (outcome.error === undefined) return [];
        const failed = records.slice(outcome.stored);
        logger.error(
          `Shard ${shardId}: ${failed.length} of ${records.length} records not stored; Lambda retries from sequence number ${failed[0]?.kinesis.sequenceNumber}`,
          outcome.error,
        );
        return failed.map(
          (record): KinesisBatchItemFailure => ({ itemIdentifier: record.kinesis.sequenceNumber }),
        );
      }),
    );
    const batchItemFailures = outcomes.flat();
    stats.failed = batchItemFailures.length;
    onInvocation?.(stats);
    return { batchItemFailures };
  };
}

interface ShardOutcome {
  /** The first records of the shard's batch that are stored (data or error objects): a count. */
  stored: number;
  userRecords: number;
  delivered: number;
  invalid: number;
  objects: number;
  error: unknown;
}

async function deliverShard(
  delivery: Delivery,
  records: readonly KinesisStreamRecord[],
  bufferBytes: number,
): Promise<ShardOutcome> {
  const outcome: ShardOutcome = {
    stored: 0,
    userRecords: 0,
    delivered: 0,
    invalid: 0,
    objects: 0,
    error: undefined,
  };
  let bytes = 0;
  try {
    for (let i = 0; i < records.length; i++) {
      const { kinesis } = records[i] as KinesisStreamRecord;
      const users = unpack(Buffer.from(kinesis.data, 'base64'), kinesis.partitionKey);
      const size = users.reduce((sum, data) => sum + data.byteLength + 1, 0);
      // Like Firehose, room first; and only between Kinesis records, so that the count of stored
      // records is exact: an aggregate is stored whole or retried whole.
      if (bytes > 0 && bytes + size > bufferBytes) {
        await delivery.flush();
        outcome.stored = i;
        bytes = 0;
      }
      const seconds = kinesis.approximateArrivalTimestamp;
      const arrivalTime = Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
      for (const data of users) {
        await delivery.write(arrivalTime === undefined ? { data } : { data, arrivalTime });
        outcome.userRecords++;
      }
      bytes += size;
    }
    await delivery.close();
    outcome.stored = records.length;
  } catch (error) {
    outcome.error = error;
  }
  const stats = delivery.stats();
  outcome.delivered = stats.recordsDelivered;
  outcome.invalid = stats.recordsFailed;
  outcome.objects = stats.objects;
  return outcome;
}

/** The user records of one Kinesis record: de-aggregated, or the data itself. */
function unpack(data: Uint8Array, partitionKey: string): Uint8Array[] {
  try {
    return deaggregate(data, partitionKey).map((user) => user.data);
  } catch {
    // A corrupt aggregate goes on whole: not JSON, it lands under the error prefix as invalid-json,
    // with its bytes, rather than blocking the shard.
    return [data];
  }
}

/** The records of each shard, in the event's order (Lambda sends one shard per batch; a test may not). */
function groupByShard(event: KinesisStreamEvent): Map<string, KinesisStreamRecord[]> {
  if (typeof event !== 'object' || event === null || !Array.isArray(event.Records)) {
    throw invalidEvent(`expected { Records: [...] }, got ${describeValue(event)}`);
  }
  const shards = new Map<string, KinesisStreamRecord[]>();
  event.Records.forEach((record, index) => {
    const kinesis = record?.kinesis;
    if (
      typeof kinesis !== 'object' ||
      kinesis === null ||
      typeof kinesis.data !== 'string' ||
      typeof kinesis.sequenceNumber !== 'string' ||
      kinesis.sequenceNumber === ''
    ) {
      throw invalidEvent(`Records[${index}] has no kinesis.data and kinesis.sequenceNumber`);
    }
    const eventId = typeof record.eventID === 'string' ? record.eventID : '';
    const colon = eventId.indexOf(':');
    const shardId = colon > 0 ? eventId.slice(0, colon) : String(record.eventSourceARN ?? 'unknown');
    const list = shards.get(shardId) ?? [];
    list.push(record);
    shards.set(shardId, list);
  });
  return shards;
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` → the name, as the delivery accepts it. */
function streamNameOf(record: KinesisStreamRecord): string {
  const match = /:stream\/([A-Za-z0-9_.-]+)$/.exec(record.eventSourceARN ?? '');
  return match?.[1]?.slice(0, 64) ?? 'sensors';
}

/**
 * The raw zone of the lake the environment describes, for the deployed handler: a local folder
 * with `TRIBUTARY_MODE=local` (the default), S3 with `TRIBUTARY_MODE=aws` (`TRIBUTARY_LAKE_RAW`
 * or `TRIBUTARY_BUCKET_PREFIX`, `AWS_REGION`). The S3 client and `@tributary/lake/s3` are
 * loaded only in aws mode.
 *
 * @example
 * ```ts
 * const storage = await rawZoneFromEnvironment({ TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: '/tmp/lake' });
 * ```
 */
export async function rawZoneFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<Storage> {
  const config = loadConfig(env);
  if (config.mode === 'local') return localLake(config).raw;
  const [{ S3Client }, { s3Lake }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@tributary/lake/s3'),
  ]);
  const client = new S3Client({
    region: config.region,
    ...(config.endpoints.s3 === undefined ? {} : { endpoint: config.endpoints.s3 }),
    forcePathStyle: config.s3ForcePathStyle,
  });
  return s3Lake(client, config).raw;
}

// Created on the first invocation and kept while the execution environment lives, as Lambda
// reuses it: one S3 client (and its connections) for every warm invocation. A failure is not
// kept, so that the next invocation tries again.
let deployed: Promise<KinesisHandler> | undefined;

/**
 * The deployed Lambda handler (`handler.handler`): {@link createHandler} over
 * {@link rawZoneFromEnvironment}. Returns the partial batch response.
 *
 * @example
 * ```ts
 * // AWS: Handler "handler.handler", event source mapping with FunctionResponseTypes ["ReportBatchItemFailures"]
 * const { batchItemFailures } = await handler(kinesisEvent);
 * ```
 */
export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  deployed ??= rawZoneFromEnvironment().then((storage) => createHandler({ storage }));
  let handle: KinesisHandler;
  try {
    handle = await deployed;
  } catch (error) {
    deployed = undefined;
    throw TributaryError.isInstance(error)
      ? error
      : new LambdaConsumerError('The handler could not reach the lake', {
          code: 'LAMBDA_SETUP_FAILED',
          cause: error,
        });
  }
  return handle(event);
}
