import {
  type Clock,
  type EventListener,
  emitSafely,
  OptionsError,
  optionChecks,
  type RetryOptions,
  type Schema,
  systemClock,
  withRetry,
} from '@tributary/core';
import { createDelivery, type DeliveryFlushed, type DeliveryStats, type Storage } from '@tributary/lake';
import type { KinesisSource, KinesisSourceRecord } from './kinesis-source.js';
import { RecordQueue } from './record-queue.js';

export interface DeliverToLakeOptions {
  /** The records to deliver. It is iterated here, and committed and checkpointed after each flush. */
  source: KinesisSource;
  /** The raw zone (`lake.raw`). */
  storage: Storage;
  /** The first part of object names (`<streamName>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson`). Default: the source's stream. */
  streamName?: string;
  /**
   * Where objects land: `readings/` puts them in `readings/YYYY/MM/DD/HH/`. Firehose's grammar (the
   * lake's `parseFirehosePrefix`): `!{timestamp:...}` expressions work; `''` is the zone's root.
   */
  prefix: string;
  /** Default `errors/<prefix>`: invalid records land in `errors/readings/<error-type>/YYYY/MM/DD/HH/`. */
  errorPrefix?: string;
  /** Flush this long after the first record of a buffer. Default 60,000 (Firehose's 60 s). */
  bufferIntervalMs?: number;
  /** Flush when the buffered records reach this many bytes. Default 5 MiB. */
  bufferBytes?: number;
  /** `gzip` writes `.ndjson.gz` objects. Default `none`. */
  compression?: 'none' | 'gzip';
  /** Records that do not match it go to the error prefix. Default: none (only records that are not JSON objects do). */
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  schema?: Schema<any>;
  /**
   * Retries of a flush that failed (kept by the delivery and written again by the next write, or
   * at the end): core's `withRetry` defaults. Each object put is tried once per flush; the
   * storage's client retries its own calls (set `maxAttempts` on the `S3Client`).
   */
  retry?: RetryOptions;
  /** Times the buffer and the events (core's `Clock`). Default core's `systemClock`. */
  clock?: Clock;
  /** The uuid of object names. Default `crypto.randomUUID`. */
  randomUUID?: () => string;
  /** The delivery's events (`records.in`, `flush`, `records.out`, `retry`, `failure`), and `failure` with code `CHECKPOINT_FAILED`. */
  onEvent?: EventListener;
}

/**
 * `deliverToLake` options are wrong: core's `OptionsError` with code
 * `DELIVER_TO_LAKE_OPTIONS_INVALID`, `option` (and `context.option`) naming the option. Kept as a
 * name for `OptionsError`, so that `err instanceof DeliverToLakeError` still holds; wrong
 * `prefix` grammar, `errorPrefix`, `streamName`, `compression` or `schema` are checked by the
 * lake's delivery and carry its code.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { deliverToLake, DeliverToLakeError, KinesisSource } from '@tributary/streams/kinesis';
 *
 * const source = new KinesisSource({ client: new KinesisClient({}), streamName: 'readings' });
 * try {
 *   await deliverToLake({ source, storage: lake.raw, prefix: 'readings/', bufferBytes: 0 });
 * } catch (err) {
 *   if (err instanceof DeliverToLakeError) console.log(err.code, err.option); // DELIVER_TO_LAKE_OPTIONS_INVALID bufferBytes
 *   else throw err;
 * }
 * ```
 */
export const DeliverToLakeError = OptionsError;
/** `deliverToLake` options are wrong (`DELIVER_TO_LAKE_OPTIONS_INVALID`): core's `OptionsError`. */
export type DeliverToLakeError = OptionsError;

// setTimeout's largest delay; the lake delivery refuses longer intervals.
const MAX_TIMER_MS = 2_147_483_647;
const MiB = 1024 * 1024;

const check = optionChecks('deliverToLake', 'DELIVER_TO_LAKE_OPTIONS_INVALID');

/**
 * Deliver a Kinesis stream of NDJSON records into the lake's raw zone the way Firehose does:
 * every record in the same objects, whatever its kind,
 * `<prefix>YYYY/MM/DD/HH/<stream>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson[.gz]` dated by the oldest
 * record's `arrivalTime` (Kinesis' `ApproximateArrivalTimestamp`), one object per flush — after
 * `bufferBytes` or `bufferIntervalMs` after the buffer's first record, whichever comes first —
 * and records that are not valid JSON or fail `schema` under the error prefix. It is the lake's
 * `createDelivery`, which buffers and cuts; the storage's client retries each put.
 *
 * Each flush is a checkpoint: once its objects (and those of every flush before it) are stored,
 * the last record of each shard it holds is committed and the source's checkpoints are saved. A
 * flush that fails is kept and written again by the next one; until then no later flush is
 * checkpointed. A crash therefore redelivers at most the records since the last saved
 * checkpoint (the processed zone deduplicates them by id), and never loses one. When the source
 * ends (`stopWhenIdle`, or its `signal` aborted) everything read is flushed and checkpointed
 * before the promise resolves with the delivery's stats. It rejects when a kept flush still fails
 * after `retry` (nothing read after the last saved checkpoint is lost: the next run reads it
 * again), when the last checkpoint cannot be saved, or with the source's error.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { deliverToLake, KinesisSource } from '@tributary/streams/kinesis';
 *
 * import { localLake } from '@tributary/lake';
 *
 * const lake = localLake(); // TRIBUTARY_LAKE_DIR, default .tributary/lake
 * const shutdown = new AbortController();
 * process.once('SIGTERM', () => shutdown.abort());
 * const source = new KinesisSource({
 *   client: new KinesisClient({}),
 *   streamName: 'readings',
 *   checkpoints: new LakeCheckpointStore({ storage: lake.raw }),
 *   signal: shutdown.signal,
 * });
 * const stats = await deliverToLake({ source, storage: lake.raw, prefix: 'readings/', schema: readingSchema, compression: 'gzip' });
 * console.log(`${stats.recordsDelivered} records in ${stats.objects} objects`);
 * ```
 */
export async function deliverToLake(options: DeliverToLakeOptions): Promise<DeliveryStats> {
  const o = resolveOptions(options);
  const { source, clock, onEvent, retry } = o;
  const streamName = o.streamName;
  const eventSource = `delivery:${streamName}`;
  // Records written to the delivery and not yet in a stored flush, oldest first: a flush holds
  // the next `count` of them (the delivery keeps the order of writes).
  const unflushed = new RecordQueue<KinesisSourceRecord>();

  const checkpoint = async ({ count }: DeliveryFlushed): Promise<void> => {
    const last = new Map<string, KinesisSourceRecord>();
    for (const record of unflushed.take(count)) last.set(record.shardId, record);
    for (const record of last.values()) source.commit(record);
    try {
      await source.checkpoint();
    } catch (error) {
      emitSafely(onEvent, {
        type: 'failure',
        source: eventSource,
        count: 0,
        code: 'CHECKPOINT_FAILED',
        error,
        time: clock.now(),
      });
    }
  };

  const delivery = createDelivery({
    storage: o.storage,
    prefix: o.prefix,
    ...(o.errorPrefix === undefined ? {} : { errorPrefix: o.errorPrefix }),
    streamName,
    bufferIntervalMs: o.bufferIntervalMs,
    bufferBytes: o.bufferBytes,
    compression: o.compression,
    ...(o.schema === undefined ? {} : { schema: o.schema }),
    clock,
    ...(o.randomUUID === undefined ? {} : { randomUUID: o.randomUUID }),
    onFlushed: checkpoint,
    ...(onEvent === undefined ? {} : { onEvent }),
  });

  try {
    for await (const record of source) {
      // Queued before the write: the flush that holds it may be stored before the write resolves.
      unflushed.push(record);
      // A write is refused once after a flush failed for good (the SDK's retries included); the
      // next write tries that flush again. Trying again, after a wait, is what keeps a stream
      // flowing through a storage outage, as Firehose does.
      await withRetry(
        () => delivery.write({ data: record.data, arrivalTime: record.arrivalTime }),
        retry,
      ).catch((error: unknown) => {
        unflushed.dropLast();
        throw error;
      });
    }
  } catch (error) {
    // Deliver and checkpoint what was accepted, then report the error that stopped the run.
    // Should this fail too, the records are read again by the next run.
    await delivery
      .close()
      .then(() => source.checkpoint())
      .catch(() => {});
    throw error;
  }
  const stats = await withRetry(() => delivery.close(), retry);
  // Each flush saved its checkpoint; this saves the last one again if that failed.
  await source.checkpoint();
  return stats;
}

interface ResolvedOptions {
  source: KinesisSource;
  storage: Storage;
  streamName: string;
  prefix: string;
  errorPrefix: string | undefined;
  bufferIntervalMs: number;
  bufferBytes: number;
  compression: 'none' | 'gzip';
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  schema: Schema<any> | undefined;
  retry: RetryOptions;
  clock: Clock;
  randomUUID: (() => string) | undefined;
  onEvent: EventListener | undefined;
}

function resolveOptions(options: DeliverToLakeOptions): Readonly<ResolvedOptions> {
  check.object('options', options);
  const { source, storage } = options;
  if (
    typeof source !== 'object' ||
    source === null ||
    typeof source.commit !== 'function' ||
    typeof source.checkpoint !== 'function' ||
    typeof (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function'
  ) {
    throw check.invalid('source', source, 'a KinesisSource');
  }
  if (typeof storage !== 'object' || storage === null || typeof storage.put !== 'function') {
    throw check.invalid('storage', storage, 'a Storage');
  }
  if (typeof options.prefix !== 'string') throw check.invalid('prefix', options.prefix, 'a string');
  // The prefix's grammar, errorPrefix, streamName, compression and schema are checked by createDelivery.
  return Object.freeze({
    source,
    storage,
    streamName: options.streamName ?? source.streamName,
    prefix: options.prefix,
    errorPrefix: options.errorPrefix,
    bufferIntervalMs: check.integerInRange('bufferIntervalMs', options.bufferIntervalMs, 60_000, {
      min: 0,
      max: MAX_TIMER_MS,
    }),
    bufferBytes:
      options.bufferBytes === undefined ? 5 * MiB : check.positiveInteger('bufferBytes', options.bufferBytes),
    compression: options.compression ?? 'none',
    schema: options.schema,
    retry: Object.freeze({ ...(options.retry === undefined ? {} : check.object('retry', options.retry)) }),
    clock: options.clock === undefined ? systemClock : check.clock('clock', options.clock),
    randomUUID: options.randomUUID,
    onEvent:
      options.onEvent === undefined ? undefined : check.function<EventListener>('onEvent', options.onEvent),
  });
}
