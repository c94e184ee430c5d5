import {
  describeValue,
  type EventListener,
  emitSafely,
  type RetryOptions,
  type Schema,
  TributaryError,
  withRetry,
} from '@tributary/core';
import { createDelivery, type DeliveryClock, type DeliveryStats, type Storage } from '@tributary/lake';
import type { KinesisSource, KinesisSourceRecord } from './kinesis-source.js';

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
  /** Retries of object puts, and of writes refused after a failed flush. Default: core's `withRetry` defaults. */
  retry?: RetryOptions;
  /** Default: `Date.now` and the global timers. */
  clock?: DeliveryClock;
  /** The uuid of object names. Default `crypto.randomUUID`. */
  randomUUID?: () => string;
  /** The delivery's events (`records.in`, `flush`, `records.out`, `retry`, `failure`), and `failure` with code `CHECKPOINT_FAILED`. */
  onEvent?: EventListener;
}

/**
 * `deliverToLake` options are wrong (`DELIVER_TO_LAKE_INVALID`, `context.option` names the
 * option).
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
 *   if (err instanceof DeliverToLakeError) console.log(err.context.option); // 'bufferBytes'
 *   else throw err;
 * }
 * ```
 */
export class DeliverToLakeError extends TributaryError {
  override name = 'DeliverToLakeError';

  constructor(message: string, option: string) {
    super(message, { code: 'DELIVER_TO_LAKE_INVALID', context: { option } });
  }
}

// The lake delivery's own timer is set past any run: this module decides when to flush, so that
// every flush is a point where the source can be checkpointed.
const NEVER_MS = 2_147_483_647;
const MiB = 1024 * 1024;
const NEWLINE = 0x0a;

const defaultClock: DeliveryClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const noop = (): void => {};

/**
 * Deliver a Kinesis stream of NDJSON records into the lake's raw zone the way Firehose does:
 * every record in the same objects, whatever its kind,
 * `<prefix>YYYY/MM/DD/HH/<stream>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson[.gz]` dated by the oldest
 * record's `arrivalTime` (Kinesis' `ApproximateArrivalTimestamp`), one object per flush — after
 * `bufferBytes` or `bufferIntervalMs` after the buffer's first record, whichever comes first —
 * and records that are not valid JSON or fail `schema` under the error prefix. It uses the
 * lake's `createDelivery`.
 *
 * Each flush is a checkpoint: once its object is stored, the last record of each shard it
 * holds is committed and the source's checkpoints are saved. A crash therefore redelivers at
 * most the records since the last flush (the processed zone deduplicates them by id), and
 * never loses one. When the source ends (`stopWhenIdle`, or its `signal` aborted) everything
 * read is flushed and checkpointed before the promise resolves with the delivery's stats.
 * It rejects when a flush still fails after its retries at the end (nothing read after the
 * last saved checkpoint is lost: the next run reads it again), when the last checkpoint cannot
 * be saved, or with the source's error.
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
  const { source, clock, onEvent } = o;
  const streamName = o.streamName;
  const delivery = createDelivery({
    storage: o.storage,
    prefix: o.prefix,
    ...(o.errorPrefix === undefined ? {} : { errorPrefix: o.errorPrefix }),
    streamName,
    bufferIntervalMs: NEVER_MS,
    // Also a safety net: error records are larger than the records they wrap.
    bufferBytes: o.bufferBytes,
    compression: o.compression,
    ...(o.schema === undefined ? {} : { schema: o.schema }),
    retry: o.retry,
    clock,
    ...(o.randomUUID === undefined ? {} : { randomUUID: o.randomUUID }),
    ...(onEvent === undefined ? {} : { onEvent }),
  });
  const eventSource = `delivery:${streamName}`;

  // The latest record of each shard whose write the delivery accepted.
  const written = new Map<string, KinesisSourceRecord>();
  let bytes = 0;
  let count = 0;
  let timer: unknown;
  let timerSet = false;
  let checkpoints: Promise<void> = Promise.resolve();

  const stopTimer = () => {
    if (!timerSet) return;
    clock.clearTimeout(timer);
    timerSet = false;
  };

  const commitAll = (records: Iterable<KinesisSourceRecord>) => {
    for (const record of records) source.commit(record);
  };

  // Cuts the buffer into an object; once it (and every object before it) is stored, the records
  // written so far are committed and saved. A flush that fails keeps its records in the
  // delivery, so a later cut covers them: its checkpoint is simply skipped.
  const cut = () => {
    stopTimer();
    bytes = 0;
    count = 0;
    const snapshot = [...written.values()];
    const flushed = delivery.flush();
    flushed.catch(noop);
    checkpoints = checkpoints.then(async () => {
      try {
        await flushed;
      } catch {
        return;
      }
      commitAll(snapshot);
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
    });
  };

  const startTimer = () => {
    timer = clock.setTimeout(() => {
      timerSet = false;
      if (count > 0) cut();
    }, o.bufferIntervalMs);
    timerSet = true;
  };

  try {
    for await (const record of source) {
      // Like Firehose: room first, so that an object holds at most bufferBytes unless one record is larger.
      const size = record.data.byteLength + (record.data[record.data.byteLength - 1] === NEWLINE ? 0 : 1);
      if (count > 0 && bytes + size > o.bufferBytes) cut();
      // A write refused because an earlier flush failed is tried again: that flush is retried too.
      await withRetry(() => delivery.write({ data: record.data, arrivalTime: record.arrivalTime }), o.retry);
      written.set(record.shardId, record);
      bytes += size;
      count++;
      if (count === 1) startTimer();
      if (bytes >= o.bufferBytes) cut();
    }
  } catch (error) {
    stopTimer();
    // Deliver and checkpoint what was accepted, then report the error that stopped the run.
    // Should this fail too, the records are read again by the next run.
    await delivery
      .close()
      .then(() => checkpoints)
      .then(() => {
        commitAll(written.values());
        return source.checkpoint();
      })
      .catch(noop);
    throw error;
  }
  stopTimer();
  const stats = await delivery.close();
  await checkpoints;
  commitAll(written.values());
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
  clock: DeliveryClock;
  randomUUID: (() => string) | undefined;
  onEvent: EventListener | undefined;
}

function invalid(option: string, value: unknown, expected: string): DeliverToLakeError {
  return new DeliverToLakeError(
    `deliverToLake option ${option} must be ${expected}, got ${describeValue(value)}`,
    option,
  );
}

function resolveOptions(options: DeliverToLakeOptions): Readonly<ResolvedOptions> {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object');
  const { source, storage } = options;
  if (
    typeof source !== 'object' ||
    source === null ||
    typeof source.commit !== 'function' ||
    typeof source.checkpoint !== 'function' ||
    typeof (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function'
  ) {
    throw invalid('source', source, 'a KinesisSource');
  }
  if (typeof storage !== 'object' || storage === null || typeof storage.put !== 'function') {
    throw invalid('storage', storage, 'a Storage');
  }
  if (typeof options.prefix !== 'string') throw invalid('prefix', options.prefix, 'a string');
  const bufferIntervalMs = options.bufferIntervalMs ?? 60_000;
  if (!Number.isSafeInteger(bufferIntervalMs) || bufferIntervalMs < 0 || bufferIntervalMs >= NEVER_MS) {
    throw invalid('bufferIntervalMs', bufferIntervalMs, `an integer from 0 to ${NEVER_MS - 1}`);
  }
  const bufferBytes = options.bufferBytes ?? 5 * MiB;
  if (!Number.isSafeInteger(bufferBytes) || bufferBytes < 1) {
    throw invalid('bufferBytes', bufferBytes, 'an integer ≥ 1');
  }
  const clock = options.clock ?? defaultClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw invalid('clock', clock, 'an object with now, setTimeout and clearTimeout');
  }
  if (options.retry !== undefined && (typeof options.retry !== 'object' || options.retry === null)) {
    throw invalid('retry', options.retry, 'retry options');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw invalid('onEvent', options.onEvent, 'a function');
  }
  // The prefix's grammar, errorPrefix, streamName, compression and schema are checked by createDelivery.
  return Object.freeze({
    source,
    storage,
    streamName: options.streamName ?? source.streamName,
    prefix: options.prefix,
    errorPrefix: options.errorPrefix,
    bufferIntervalMs,
    bufferBytes,
    compression: options.compression ?? 'none',
    schema: options.schema,
    retry: Object.freeze({ ...options.retry }),
    clock,
    randomUUID: options.randomUUID,
    onEvent: options.onEvent,
  });
}
