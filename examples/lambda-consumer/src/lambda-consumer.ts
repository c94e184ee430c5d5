import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  KinesisClient,
  ListShardsCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-kinesis';
import { EventHub, loadConfig, type TributaryEvent } from '@tributary/core';
import { type Lake, localLake, type Storage } from '@tributary/lake';
import { startKinesalite } from '@tributary/local';
import { generateRecords, sensorProducerOptions } from '@tributary/sensors';
import { KinesisProducer } from '@tributary/streams/kinesis';
import { LambdaConsumerError } from './errors.js';
import { createHandler, type InvocationStats } from './handler.js';
import type { KinesisStreamEvent, KinesisStreamRecord } from './kinesis-event.js';

export interface LambdaConsumerOptions {
  /** Where the lake's zones go; the handler writes `<out>/raw/sensors/…`. */
  out: string;
  /** Sensor records to produce. */
  records?: number;
  sensorsPerType?: number;
  seed?: number;
  /**
   * Sensor records per aggregation window: the producer is flushed after each this many, as the
   * KPL's 100 ms buffer time cuts a live fleet's aggregates (100 records at 1,000 readings/s).
   * Default 100; a larger value packs more readings into each Kinesis record (up to 1 MiB).
   */
  recordsPerFlush?: number;
  /** Kinesis records per invocation, as the event source mapping's `BatchSize`. Default 100. */
  batchSize?: number;
  /** Shards of the local stream. Default 2. */
  shards?: number;
  /** Invocations of one batch before giving up, as the mapping's `MaximumRetryAttempts` + 1. Default 4. */
  maxAttempts?: number;
  /** The storage the handler writes to. Default: the raw zone under `out` (tests wrap it to inject failures). */
  storage?: Storage;
  /** The delivery's events (progress displays, metrics). */
  onEvent?: (event: TributaryEvent) => void;
  signal?: AbortSignal;
}

export interface LambdaConsumerResult {
  produced: number;
  /** Kinesis records in the stream: with aggregation, far fewer than the sensor records. */
  kinesisRecords: number;
  invocations: number;
  /** Invocations that returned `batchItemFailures` and were retried from the first failed record. */
  retried: number;
  /** Sensor records the handler de-aggregated, delivered and sent to the error prefix, over every invocation. */
  userRecords: number;
  delivered: number;
  invalid: number;
  objects: number;
  seconds: { produce: number; consume: number; total: number };
  lake: Lake;
}

const ACCOUNT = '000000000000';

function positive(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new LambdaConsumerError(`Option ${option} must be a whole number ≥ 1, got ${value}`, {
      code: 'LAMBDA_OPTIONS_INVALID',
      context: { option },
    });
  }
  return value;
}

/**
 * Runs the Lambda handler locally, the way Lambda's event source mapping drives it: starts
 * kinesalite, produces sensor records with `KinesisProducer` (KPL aggregation on), then reads
 * each shard with GetRecords in batches of `batchSize`, shapes each batch as the event Lambda
 * sends and awaits the handler. A batch with `batchItemFailures` is read again from its lowest
 * failed sequence number, as Lambda does with `ReportBatchItemFailures`.
 *
 * @example
 * ```ts
 * const result = await runLambdaConsumer({ out: '.tributary/lambda-consumer', records: 20_000 });
 * console.log(`${result.invocations} invocations → ${result.delivered} records in the raw zone`);
 * ```
 */
export async function runLambdaConsumer(options: LambdaConsumerOptions): Promise<LambdaConsumerResult> {
  const started = performance.now();
  const records = positive('records', options.records ?? 20_000);
  const batchSize = positive('batchSize', options.batchSize ?? 100);
  const shards = positive('shards', options.shards ?? 2);
  const maxAttempts = positive('maxAttempts', options.maxAttempts ?? 4);
  const recordsPerFlush = positive('recordsPerFlush', options.recordsPerFlush ?? 100);
  const lake = localLake(
    loadConfig({ ...process.env, TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: options.out }),
  );
  const hub = new EventHub();
  if (options.onEvent) hub.on(options.onEvent);
  const totals = { invocations: 0, userRecords: 0, delivered: 0, invalid: 0, objects: 0 };
  const count = (stats: InvocationStats) => {
    totals.userRecords += stats.userRecords;
    totals.delivered += stats.delivered;
    totals.invalid += stats.invalid;
    totals.objects += stats.objects;
  };
  const handle = createHandler({
    storage: options.storage ?? lake.raw,
    onEvent: hub.emit,
    onInvocation: count,
  });

  const streamName = 'sensors';
  const kinesis = await startKinesalite({ streams: [{ name: streamName, shards }] });
  const client = new KinesisClient(kinesis.createClientConfig());
  try {
    const producer = new KinesisProducer({
      client,
      streamName,
      ...sensorProducerOptions,
      aggregate: true,
      rateLimit: false,
      onEvent: hub.emit,
    });
    let buffered = 0;
    for (const record of generateRecords({
      sensorsPerType: options.sensorsPerType ?? 5,
      seed: options.seed ?? 42,
      ratePerSecond: 1_000,
      records,
    })) {
      options.signal?.throwIfAborted();
      await producer.put(record);
      if (++buffered === recordsPerFlush) {
        await producer.flush();
        buffered = 0;
      }
    }
    const { sent } = await producer.close();
    const produceSeconds = (performance.now() - started) / 1000;

    const consumeStart = performance.now();
    const { StreamDescriptionSummary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    const streamArn =
      StreamDescriptionSummary?.StreamARN ??
      `arn:aws:kinesis:${kinesis.region}:${ACCOUNT}:stream/${streamName}`;
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: streamName }));
    // Lambda runs one invocation at a time per shard, shards side by side.
    const perShard = await Promise.all(
      Shards.map(async ({ ShardId }) => {
        const shardId = ShardId as string;
        let kinesisRecords = 0;
        let retried = 0;
        let attempts = 0;
        let from: GetShardIteratorCommandInput = {
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        };
        let iterator = (await client.send(new GetShardIteratorCommand(from))).ShardIterator;
        while (iterator !== undefined) {
          options.signal?.throwIfAborted();
          const page = await client.send(
            new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }),
          );
          const batch = page.Records ?? [];
          // Everything was produced before reading: an empty page at the tip is the end.
          if (batch.length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
          iterator = page.NextShardIterator;
          if (batch.length === 0) continue;
          totals.invocations++;
          const { batchItemFailures } = await handle(toEvent(batch, shardId, streamArn, kinesis.region));
          if (batchItemFailures.length === 0) {
            kinesisRecords += batch.length;
            attempts = 0;
            continue;
          }
          attempts++;
          retried++;
          const first = batchItemFailures[0]?.itemIdentifier as string;
          if (attempts >= maxAttempts) {
            throw new LambdaConsumerError(
              `Shard ${shardId}: the batch from sequence number ${first} failed ${attempts} times`,
              { code: 'LAMBDA_BATCH_FAILED', context: { shardId, sequenceNumber: first } },
            );
          }
          kinesisRecords += batch.findIndex((record) => record.SequenceNumber === first);
          from = {
            StreamName: streamName,
            ShardId: shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
            StartingSequenceNumber: first,
          };
          iterator = (await client.send(new GetShardIteratorCommand(from))).ShardIterator;
        }
        return { kinesisRecords, retried };
      }),
    );
    return {
      produced: sent,
      kinesisRecords: perShard.reduce((sum, s) => sum + s.kinesisRecords, 0),
      invocations: totals.invocations,
      retried: perShard.reduce((sum, s) => sum + s.retried, 0),
      userRecords: totals.userRecords,
      delivered: totals.delivered,
      invalid: totals.invalid,
      objects: totals.objects,
      seconds: {
        produce: produceSeconds,
        consume: (performance.now() - consumeStart) / 1000,
        total: (performance.now() - started) / 1000,
      },
      lake,
    };
  } finally {
    client.destroy();
    await kinesis.stop();
  }
}

/** A GetRecords page as the event Lambda sends for it. */
export function toEvent(
  records: readonly StreamRecord[],
  shardId: string,
  streamArn: string,
  region: string,
): KinesisStreamEvent {
  return {
    Records: records.map(
      (record): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: record.PartitionKey ?? '',
          sequenceNumber: record.SequenceNumber ?? '',
          data: Buffer.from(record.Data ?? new Uint8Array(0)).toString('base64'),
          approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${record.SequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/lambda-consumer`,
        awsRegion: region,
        eventSourceARN: streamArn,
      }),
    ),
  };
}
