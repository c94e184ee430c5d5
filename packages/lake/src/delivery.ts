import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import {
  Batcher,
  type Clock,
  type EventListener,
  emitSafely,
  type FlushFailedError,
  type FlushInfo,
  type FlushReason,
  type RetryOptions,
  type Schema,
  TributaryError,
  withRetry,
} from '@tributary/core';
import { objectKey, type ResolvedDeliveryOptions, resolveDeliveryOptions } from './delivery-options.js';
import { type DeliveryEntry, ERROR_CODES, toEntry } from './delivery-records.js';
import { DeliveryError } from './errors.js';
import type { Storage } from './storage.js';

export { DeliveryError };

const gzip = promisify(gzipCallback);

/** Why a buffer was written out: it reached `bufferBytes`, `bufferIntervalMs` passed, `flush()` or `close()`. */
export type DeliveryFlushReason = 'size' | 'interval' | 'manual' | 'close';

/** The folder (the `!{firehose:error-output-type}` value) of records that could not be delivered as they are. */
export type DeliveryErrorType = 'invalid-json' | 'validation-failed';

/** A payload as it came off a stream: raw bytes, text, or an already parsed object. */
export type DeliveryData = Uint8Array | string | object;

/**
 * A payload with the time it arrived (Kinesis' `ApproximateArrivalTimestamp`). Without one the
 * record arrives when `write` is called. An object whose only own keys are `data` and
 * `arrivalTime` is read as this envelope; to deliver such an object verbatim, wrap it:
 * `{ data: { data: ... } }`.
 *
 * @example
 * ```ts
 * declare const record: { Data: Uint8Array; ApproximateArrivalTimestamp?: Date }; // a Kinesis GetRecords record
 * const delivery = createDelivery({ storage: lake.raw, prefix: 'sensors/', streamName: 'sensors' });
 * await delivery.write({ data: record.Data, arrivalTime: record.ApproximateArrivalTimestamp });
 * ```
 */
export interface DeliveryRecord {
  data: DeliveryData;
  arrivalTime?: Date | number;
}

/**
 * The time source of a delivery; inject a fake one in tests.
 *
 * @deprecated Use core's {@link Clock}; this is the same type.
 *
 * @example
 * ```ts
 * const clock: DeliveryClock = systemClock;
 * ```
 */
export type DeliveryClock = Clock;

export interface DeliveryOptions {
  /** Where objects go: the zone's storage, usually `lake.raw`. */
  storage: Storage;
  /**
   * The key prefix, in Firehose's grammar (see `parseFirehosePrefix`): `!{timestamp:<Java
   * DateTimeFormatter pattern>}` is the arrival time of the oldest record of the object in UTC
   * (e.g. `dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`), `!{firehose:random-string}` 11
   * random characters. Dynamic partitioning's `!{partitionKeyFrom...}` expressions are refused:
   * this delivery does not partition by record. A prefix without a timestamp expression must be
   * empty or end with `/`, and gets Firehose's default `yyyy/MM/dd/HH/` appended: `sensors/` →
   * `sensors/2026/11/23/10/`.
   */
  prefix: string;
  /** The first part of object names: `<streamName>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson`. */
  streamName: string;
  /** Flush this long after the first record entered an empty buffer. Default 60 000 (Firehose allows 0–900 s). */
  bufferIntervalMs?: number;
  /** Flush when the buffered, uncompressed bytes reach this. Default 5 MiB (Firehose allows 1–128 MiB). */
  bufferBytes?: number;
  /** `gzip` writes `.ndjson.gz` objects. Default `none`. */
  compression?: 'none' | 'gzip';
  /**
   * The prefix of records that failed processing, with the same expressions as `prefix` plus
   * `!{firehose:error-output-type}` (`invalid-json` or `validation-failed`) (`resolveFirehosePrefixes`). When that expression
   * is missing, `<type>/` is appended; when no timestamp expression is present, `yyyy/MM/dd/HH/`
   * is. Default `errors/<the prefix up to its first expression>`, e.g. `errors/sensors/`.
   */
  errorPrefix?: string;
  /** Records that do not match it go to the error prefix as `validation-failed`. */
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  schema?: Schema<any>;
  /** Flushes cut but not yet delivered, failed ones included (memory bound). Default 1. */
  maxInFlight?: number;
  /**
   * Retries of each object put with core's `withRetry`, for a storage whose client does not retry
   * its own calls. Default: none, each put is tried once per flush. Leave it out with `S3Storage`:
   * the AWS SDK already retries each request (set `maxAttempts` / `retryStrategy` on the
   * `S3Client`). Either way a flush that fails keeps its records, which the next flush (interval,
   * size, `flush()` or `close()`) writes again under the same keys.
   */
  retry?: RetryOptions;
  /** Default: `Date.now` and the global timers. */
  clock?: Clock;
  /** The uuid of object names. Default `crypto.randomUUID`. */
  randomUUID?: () => string;
  /**
   * Told about each flush once its objects are stored, in the order flushes were cut: while a
   * failed flush is kept, later flushes are not reported (the point to checkpoint a source at).
   * `flush()` and `close()` wait for it. An error it throws becomes a `failure` event with code
   * `ON_FLUSHED_FAILED`.
   */
  onFlushed?: (flushed: DeliveryFlushed) => void | Promise<void>;
  onEvent?: EventListener;
  /** The `source` of events. Default `delivery:<streamName>`. */
  source?: string;
}

/**
 * A flush whose objects are all stored, as `onFlushed` is told of it.
 *
 * @example
 * ```ts
 * const delivery = createDelivery({
 *   storage: lake.raw,
 *   prefix: 'sensors/',
 *   streamName: 'sensors',
 *   onFlushed: (flushed: DeliveryFlushed) => console.log(`${flushed.count} records stored (${flushed.reason})`),
 * });
 * ```
 */
export interface DeliveryFlushed {
  /** Records of the flush, data and error records: the next `count` records accepted by `write`, in order. */
  count: number;
  /** What cut the flush. */
  reason: DeliveryFlushReason;
  /** Position of the flush among the delivery's flushes, from 0; a failed flush keeps its position when tried again. */
  sequence: number;
}

/** What a delivery has done so far. */
export interface DeliveryStats {
  /** Records accepted by `write`. */
  recordsIn: number;
  /** Records written to data objects. */
  recordsDelivered: number;
  /** Records written to the error prefix (not JSON objects, or failing the schema). */
  recordsFailed: number;
  /** Accepted records not written yet: the buffer plus flushes in flight or kept after a failure. */
  recordsPending: number;
  /** Data objects written. */
  objects: number;
  /** Objects written under the error prefix. */
  errorObjects: number;
  /** Stored bytes of every object written (compressed when gzip). */
  bytes: number;
  /** Flushes that failed after their retries (their records were kept and tried again). */
  failedFlushes: number;
}

/**
 * Firehose-style buffered delivery into a storage zone.
 *
 * @example
 * ```ts
 * const delivery = createDelivery({ storage: lake.raw, prefix: 'sensors/', streamName: 'sensors' });
 * await delivery.write({ id: 'r-1', type: 'temperature', value: 21.5, timestamp: Date.now() });
 * const stats = await delivery.close();
 * ```
 */
export interface Delivery {
  /**
   * Accepts one record into the buffer. Waits while the buffer is full and `maxInFlight` flushes
   * are pending (backpressure). Rejects with `DeliveryError` once after a flush failed for good
   * (the record is then not accepted), and with code `DELIVERY_CLOSED` after `close()`.
   */
  write(record: DeliveryRecord | DeliveryData): Promise<void>;
  /** Writes every record of `records`, then closes. */
  consume(
    records: AsyncIterable<DeliveryRecord | DeliveryData> | Iterable<DeliveryRecord | DeliveryData>,
  ): Promise<DeliveryStats>;
  /** Writes out the buffer, tries kept failed flushes again and waits for them; rejects with `DeliveryError` if records remain undelivered. */
  flush(): Promise<void>;
  /** Refuses further writes and flushes everything. If it rejects, the records are kept and calling it again retries. */
  close(): Promise<DeliveryStats>;
  /** `close()`, for `await using`: the block's end writes out the buffer (and rejects if records remain undelivered). */
  [Symbol.asyncDispose](): Promise<void>;
  stats(): DeliveryStats;
}

/**
 * Create a buffered delivery with Firehose's S3 semantics: one object per flush holding every
 * record (one compact JSON object per line); flush on `bufferBytes` or `bufferIntervalMs`
 * after the first record, whichever comes first, and on close; a record larger than
 * `bufferBytes` goes alone in its own object. Keys are
 * `<prefix evaluated at the oldest record's arrival time><streamName>-<delivery start, yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson[.gz]`
 * in UTC. Text and bytes that are a JSON object are written as their compact JSON; objects are
 * encoded by core's `encodeNdjsonLine`. Records are written as they arrived; a schema only
 * decides whether they go to the data or the error prefix. Records that are not JSON objects
 * or fail the schema go under the error prefix as Firehose error records (`attemptsMade`,
 * `arrivalTimestamp`, `errorCode`, `errorMessage`, `attemptEndingTimestamp`, `rawData` in
 * base64, plus `issues` for schema failures). Buffering is core's `Batcher`. A flush that fails
 * (after `retry`, when given) keeps its records, surfaces as a `DeliveryError` and is tried again.
 *
 * @example
 * ```ts
 * const delivery = createDelivery({
 *   storage: lake.raw,
 *   prefix: 'sensors/',
 *   streamName: 'sensors',
 *   compression: 'gzip',
 *   schema: readingSchema,
 * });
 * const stats = await delivery.consume(readings);
 * console.log(`${stats.recordsDelivered} delivered, ${stats.recordsFailed} to errors/sensors/`);
 * ```
 */
export function createDelivery(options: DeliveryOptions): Delivery {
  return new BufferedDelivery(resolveDeliveryOptions(options));
}

interface PendingObject {
  key: string;
  /** `undefined` for the data object. */
  errorType: DeliveryErrorType | undefined;
  count: number;
  lines: string[];
  body: Uint8Array | undefined;
  delivered: boolean;
}

// The engine cuts for count (never: no count limit here), bytes, age, flush() or close().
const REASONS: Record<FlushReason, DeliveryFlushReason> = {
  count: 'size',
  bytes: 'size',
  age: 'interval',
  manual: 'manual',
  close: 'close',
};

const noop = (): void => {};

class BufferedDelivery implements Delivery {
  readonly #o: ResolvedDeliveryOptions;
  readonly #batcher: Batcher<DeliveryEntry>;
  // The objects of each batch given to the batcher (by its sequence) until all are stored: a
  // batch kept after a failure is written again under the same keys.
  readonly #objects = new Map<number, PendingObject[]>();
  #closed = false;
  #closing: Promise<DeliveryStats> | undefined;
  readonly #stats = {
    recordsIn: 0,
    recordsDelivered: 0,
    recordsFailed: 0,
    objects: 0,
    errorObjects: 0,
    bytes: 0,
    failedFlushes: 0,
  };

  constructor(options: ResolvedDeliveryOptions) {
    this.#o = options;
    this.#batcher = new Batcher<DeliveryEntry>({
      maxBytes: options.bufferBytes,
      maxAgeMs: options.bufferIntervalMs,
      maxInFlight: options.maxInFlight,
      sizeOf: (entry) => entry.size,
      // A record larger than the whole buffer is not refused: Firehose delivers it in its own object.
      oversized: 'alone',
      failedBatches: 'keep',
      clock: options.clock,
      flush: (entries, info) => this.#deliver(entries, info),
      ...(options.onFlushed === undefined
        ? {}
        : { onFlushed: (entries, info) => this.#onFlushed(entries.length, info) }),
      source: options.source,
    });
    this.write = this.write.bind(this);
    this.flush = this.flush.bind(this);
    this.close = this.close.bind(this);
  }

  write(record: DeliveryRecord | DeliveryData): Promise<void> {
    const { clock, onEvent, source, schema, streamName } = this.#o;
    if (this.#closed) {
      return Promise.reject(
        new TributaryError('Cannot write to a closed delivery', {
          code: 'DELIVERY_CLOSED',
          context: { stream: streamName },
        }),
      );
    }
    let entry: DeliveryEntry;
    try {
      entry = toEntry(record, schema, clock.now());
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#batcher.add(entry).then(
      () => {
        this.#stats.recordsIn++;
        emitSafely(onEvent, { type: 'records.in', source, count: 1, bytes: entry.size, time: clock.now() });
      },
      (error: unknown) => {
        throw this.#deliveryError(error);
      },
    );
  }

  async consume(
    records: AsyncIterable<DeliveryRecord | DeliveryData> | Iterable<DeliveryRecord | DeliveryData>,
  ): Promise<DeliveryStats> {
    try {
      for await (const record of records) await this.write(record);
    } catch (error) {
      // Deliver what was accepted before reporting the first problem.
      await this.close().catch(noop);
      throw error;
    }
    return this.close();
  }

  async flush(): Promise<void> {
    await this.#batcher.flush().catch((error: unknown) => {
      throw this.#deliveryError(error);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  close(): Promise<DeliveryStats> {
    this.#closed = true;
    if (this.#closing === undefined) {
      this.#closing = this.#batcher.close().then(
        () => this.stats(),
        (error: unknown) => {
          // A later close() tries the kept records again.
          this.#closing = undefined;
          throw this.#deliveryError(error);
        },
      );
    }
    return this.#closing;
  }

  stats(): DeliveryStats {
    let pending = this.#batcher.pendingCount;
    for (const objects of this.#objects.values()) {
      for (const object of objects) if (!object.delivered) pending += object.count;
    }
    return { ...this.#stats, recordsPending: pending };
  }

  /** The batcher's flush: writes the batch's objects not stored yet. */
  async #deliver(entries: DeliveryEntry[], info: FlushInfo): Promise<void> {
    let objects = this.#objects.get(info.sequence);
    if (objects === undefined) {
      objects = this.#cut(entries);
      this.#objects.set(info.sequence, objects);
    }
    try {
      for (const object of objects) if (!object.delivered) await this.#put(object, REASONS[info.reason]);
    } catch (error) {
      this.#stats.failedFlushes++;
      emitSafely(this.#o.onEvent, {
        type: 'failure',
        source: this.#o.source,
        count: objects.reduce((sum, object) => sum + (object.delivered ? 0 : object.count), 0),
        code: 'DELIVERY_FAILED',
        error,
        time: this.#o.clock.now(),
      });
      throw error;
    }
    this.#objects.delete(info.sequence);
  }

  /** The batcher's onFlushed, told as a DeliveryFlushed; its errors are reported as the delivery's events (the batcher has none). */
  async #onFlushed(count: number, info: FlushInfo): Promise<void> {
    const { onFlushed, onEvent, source, clock } = this.#o;
    try {
      await onFlushed?.({ count, reason: REASONS[info.reason], sequence: info.sequence });
    } catch (error) {
      emitSafely(onEvent, {
        type: 'failure',
        source,
        count,
        code: 'ON_FLUSHED_FAILED',
        error,
        time: clock.now(),
      });
    }
  }

  /** One data object and one object per error type, named at the start of their first flush. */
  #cut(entries: readonly DeliveryEntry[]): PendingObject[] {
    const startedAt = this.#o.clock.now();
    let oldest = Number.POSITIVE_INFINITY;
    const data: string[] = [];
    const errors = new Map<DeliveryErrorType, string[]>();
    for (const entry of entries) {
      if (entry.arrival < oldest) oldest = entry.arrival;
      if (entry.errorType === undefined) {
        data.push(entry.line);
      } else {
        const lines = errors.get(entry.errorType) ?? [];
        lines.push(entry.line);
        errors.set(entry.errorType, lines);
      }
    }
    const object = (errorType: DeliveryErrorType | undefined, lines: string[]): PendingObject => ({
      key: objectKey(this.#o, errorType, oldest, startedAt),
      errorType,
      count: lines.length,
      lines,
      body: undefined,
      delivered: false,
    });
    const objects: PendingObject[] = [];
    if (data.length > 0) objects.push(object(undefined, data));
    for (const [type, lines] of errors) objects.push(object(type, lines));
    return objects;
  }

  async #put(object: PendingObject, reason: DeliveryFlushReason): Promise<void> {
    const { storage, onEvent, source, clock, retry } = this.#o;
    if (object.body === undefined) {
      const text = Buffer.from(object.lines.join(''));
      object.body = this.#o.gzip ? await gzip(text) : text;
      object.lines = [];
    }
    const body = object.body;
    const started = performance.now();
    const put = () =>
      storage.put(object.key, body, {
        contentType: this.#o.gzip ? 'application/gzip' : 'application/x-ndjson',
      });
    // No loop of our own by default: the storage's client retries its calls (the AWS SDK does).
    if (retry === undefined) await put();
    else await withRetry(put, this.#retryOptions(object, retry));
    object.delivered = true;
    object.body = undefined;
    this.#stats.bytes += body.byteLength;
    if (object.errorType === undefined) {
      this.#stats.objects++;
      this.#stats.recordsDelivered += object.count;
    } else {
      this.#stats.errorObjects++;
      this.#stats.recordsFailed += object.count;
    }
    const time = clock.now();
    emitSafely(onEvent, {
      type: 'flush',
      source,
      count: object.count,
      bytes: body.byteLength,
      reason,
      target: object.key,
      durationMs: performance.now() - started,
      time,
    });
    emitSafely(
      onEvent,
      object.errorType === undefined
        ? { type: 'records.out', source, count: object.count, bytes: body.byteLength, time }
        : { type: 'failure', source, count: object.count, code: ERROR_CODES[object.errorType], time },
    );
  }

  #retryOptions(object: PendingObject, retry: RetryOptions): RetryOptions {
    const { onEvent, source, clock } = this.#o;
    return {
      ...retry,
      onRetry: async (info) => {
        emitSafely(onEvent, {
          type: 'retry',
          source,
          attempt: info.attempt,
          delayMs: info.delayMs,
          count: object.count,
          reason: info.classification.kind,
          error: info.error,
          time: clock.now(),
        });
        await retry.onRetry?.(info);
      },
    };
  }

  /** The batcher's report of kept batches, as the delivery's error: their keys and records. */
  #deliveryError(error: unknown): unknown {
    // By code, not instanceof: the error may come from another copy of core.
    if (!TributaryError.isInstance(error) || error.code !== 'FLUSH_FAILED') return error;
    const { batches, waitingCount, cause } = error as FlushFailedError<DeliveryEntry>;
    const keys: string[] = [];
    let count = waitingCount;
    for (const batch of batches) {
      const objects = this.#objects.get(batch.info.sequence);
      if (objects === undefined) {
        count += batch.items.length;
        continue;
      }
      for (const object of objects) {
        if (object.delivered) continue;
        keys.push(object.key);
        count += object.count;
      }
    }
    const last = batches.at(-1)?.error;
    const why =
      last instanceof Error ? last.message : last === undefined ? 'no flush slot free' : String(last);
    const stream = this.#o.streamName;
    return new DeliveryError(
      `Delivery ${stream}: ${count} record(s) not delivered yet (kept for the next flush): ${why}`,
      { recordCount: count, keys, cause, stream },
    );
  }
}
