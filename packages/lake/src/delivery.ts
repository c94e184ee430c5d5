import { randomUUID as cryptoRandomUUID } from 'node:crypto';
import { inspect, promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import {
  describeValue,
  type EventListener,
  emitSafely,
  encodeNdjsonLine,
  isRetryable,
  RetryExhaustedError,
  type RetryOptions,
  type Schema,
  TributaryError,
  type ValidationIssue,
  withRetry,
} from '@tributary/core';
import { FirehosePrefixError } from './errors.js';
import { evaluateFirehosePrefix, type FirehosePrefix, resolveFirehosePrefixes } from './firehose-prefix.js';
import { compileJavaTimePattern, formatJavaTime } from './java-time-pattern.js';
import { assertValidKey, type Storage } from './storage.js';

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

/** The time source of a delivery; inject a fake one in tests. */
export interface DeliveryClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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
  /** Retries of each object put (core `withRetry`). A flush that still fails keeps its records for the next flush. */
  retry?: RetryOptions;
  /** Default: `Date.now` and the global timers. */
  clock?: DeliveryClock;
  /** The uuid of object names. Default `crypto.randomUUID`. */
  randomUUID?: () => string;
  onEvent?: EventListener;
  /** The `source` of events. Default `delivery:<streamName>`. */
  source?: string;
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
 * base64, plus `issues` for schema failures). A put is retried with core's `withRetry`; a flush
 * that still fails keeps its records, surfaces as a `DeliveryError` and is tried again.
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
  return new BufferedDelivery(resolveOptions(options));
}

interface ResolvedOptions {
  readonly storage: Storage;
  readonly prefix: FirehosePrefix;
  readonly errorPrefix: FirehosePrefix;
  readonly streamName: string;
  readonly bufferIntervalMs: number;
  readonly bufferBytes: number;
  readonly gzip: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  readonly schema: Schema<any> | undefined;
  readonly maxInFlight: number;
  readonly retry: RetryOptions;
  readonly clock: DeliveryClock;
  readonly randomUUID: () => string;
  readonly onEvent: EventListener | undefined;
  readonly source: string;
}

interface Entry {
  line: string;
  size: number;
  arrival: number;
  errorType?: DeliveryErrorType;
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

interface Batch {
  seq: number;
  reason: DeliveryFlushReason;
  count: number;
  objects: PendingObject[];
  state: 'running' | 'failed';
  error: unknown;
  reported: boolean;
}

const MAX_TIMER_MS = 2_147_483_647;
const DEFAULT_BYTES = 5 * 1024 * 1024;
const ERROR_CODES: Record<DeliveryErrorType, string> = {
  'invalid-json': 'INVALID_JSON',
  'validation-failed': 'VALIDATION_FAILED',
};
const utf8 = new TextDecoder('utf-8', { fatal: true });

const defaultClock: DeliveryClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const noop = (): void => {};

class BufferedDelivery implements Delivery {
  readonly #o: ResolvedOptions;
  #buffer: Entry[] = [];
  #bufferBytes = 0;
  #oldest = Number.POSITIVE_INFINITY;
  // The sequence number the current buffer gets when it is cut.
  #bufferSeq = 0;
  #timer: unknown;
  #timerSet = false;
  // Set when the buffer must be cut as soon as a flush slot is free, and why.
  #due: DeliveryFlushReason | undefined;
  // Cut batches not yet delivered, failed ones included: at most maxInFlight.
  readonly #batches: Batch[] = [];
  #change: { promise: Promise<void>; resolve: () => void } | undefined;
  // Writes and flush requests run one after the other, so records keep their call order.
  #tail: Promise<void> = Promise.resolve();
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

  constructor(options: ResolvedOptions) {
    this.#o = options;
    this.write = this.write.bind(this);
    this.flush = this.flush.bind(this);
    this.close = this.close.bind(this);
  }

  write(record: DeliveryRecord | DeliveryData): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new TributaryError('Cannot write to a closed delivery', {
          code: 'DELIVERY_CLOSED',
          context: { stream: this.#o.streamName },
        }),
      );
    }
    let entry: Entry;
    try {
      entry = this.#prepare(record);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#serially(() => this.#accept(entry));
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
    await this.#flushAll('manual');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  close(): Promise<DeliveryStats> {
    this.#closed = true;
    if (this.#closing === undefined) {
      const closing = this.#flushAll('close').then(
        () => {
          this.#stopTimer();
          return this.stats();
        },
        (error: unknown) => {
          // A later close() tries the kept records again.
          this.#closing = undefined;
          throw error;
        },
      );
      this.#closing = closing;
    }
    return this.#closing;
  }

  stats(): DeliveryStats {
    let pending = this.#buffer.length;
    for (const batch of this.#batches) {
      for (const object of batch.objects) if (!object.delivered) pending += object.count;
    }
    return { ...this.#stats, recordsPending: pending };
  }

  #prepare(input: DeliveryRecord | DeliveryData): Entry {
    let data: unknown = input;
    let arrival = this.#o.clock.now();
    if (isEnvelope(input)) {
      data = input.data;
      if (input.arrivalTime !== undefined) arrival = timeOf(input.arrivalTime);
    }
    const classified = classify(data, this.#o.schema);
    if (classified.ok) return { line: classified.line, size: Buffer.byteLength(classified.line), arrival };
    const line = `${JSON.stringify({
      attemptsMade: 1,
      arrivalTimestamp: arrival,
      errorCode: classified.code,
      errorMessage: classified.message,
      attemptEndingTimestamp: this.#o.clock.now(),
      rawData: Buffer.from(classified.raw).toString('base64'),
      ...(classified.issues ? { issues: classified.issues } : {}),
    })}\n`;
    return { line, size: Buffer.byteLength(line), arrival, errorType: classified.type };
  }

  async #accept(entry: Entry): Promise<void> {
    this.#throwUnreported();
    const limit = this.#o.bufferBytes;
    // Room first, then the record: a write that rejects never leaves its record half-accepted.
    while (this.#buffer.length > 0 && this.#bufferBytes + entry.size > limit) {
      this.#trigger('size');
      if (this.#buffer.length === 0) break;
      await this.#nextChange();
      this.#throwUnreported();
    }
    this.#buffer.push(entry);
    this.#bufferBytes += entry.size;
    if (entry.arrival < this.#oldest) this.#oldest = entry.arrival;
    if (this.#buffer.length === 1) this.#startTimer();
    this.#stats.recordsIn++;
    emitSafely(this.#o.onEvent, {
      type: 'records.in',
      source: this.#o.source,
      count: 1,
      bytes: entry.size,
      time: this.#o.clock.now(),
    });
    // A record larger than the whole buffer is not refused: Firehose delivers it in its own object.
    if (this.#bufferBytes >= limit) this.#trigger('size');
  }

  async #flushAll(reason: DeliveryFlushReason): Promise<void> {
    const target = await this.#serially(async () => {
      const seq = this.#buffer.length > 0 ? this.#bufferSeq : this.#bufferSeq - 1;
      this.#trigger(reason);
      return seq;
    });
    for (;;) {
      const bufferPending = this.#buffer.length > 0 && this.#bufferSeq <= target;
      const pending = this.#batches.filter((batch) => batch.seq <= target);
      if (!bufferPending && pending.length === 0) return;
      // Nothing running means nothing will change until the next trigger: report what is stuck.
      if (!this.#batches.some((batch) => batch.state === 'running')) {
        const failed = pending.filter((batch) => batch.state === 'failed');
        for (const batch of failed) batch.reported = true;
        throw this.#errorOf(failed, bufferPending ? this.#buffer.length : 0);
      }
      await this.#nextChange();
    }
  }

  #trigger(reason: DeliveryFlushReason): void {
    if (this.#buffer.length > 0) this.#due ??= reason;
    for (const batch of this.#batches) if (batch.state === 'failed') this.#start(batch);
    this.#pump();
  }

  #pump(): void {
    if (this.#due === undefined || this.#buffer.length === 0) return;
    if (this.#batches.length >= this.#o.maxInFlight) return;
    const batch = this.#cut(this.#due);
    this.#batches.push(batch);
    this.#start(batch);
  }

  #cut(reason: DeliveryFlushReason): Batch {
    const entries = this.#buffer;
    const startedAt = this.#o.clock.now();
    const oldest = this.#oldest;
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#oldest = Number.POSITIVE_INFINITY;
    this.#due = undefined;
    this.#stopTimer();

    const data: string[] = [];
    const errors = new Map<DeliveryErrorType, string[]>();
    for (const entry of entries) {
      if (entry.errorType === undefined) {
        data.push(entry.line);
      } else {
        const lines = errors.get(entry.errorType) ?? [];
        lines.push(entry.line);
        errors.set(entry.errorType, lines);
      }
    }
    const objects: PendingObject[] = [];
    if (data.length > 0) objects.push(this.#object(this.#o.prefix, undefined, data, oldest, startedAt));
    for (const [type, lines] of errors) {
      objects.push(this.#object(this.#o.errorPrefix, type, lines, oldest, startedAt));
    }
    return {
      seq: this.#bufferSeq++,
      reason,
      count: entries.length,
      objects,
      state: 'running',
      error: undefined,
      reported: false,
    };
  }

  #object(
    template: FirehosePrefix,
    errorType: DeliveryErrorType | undefined,
    lines: string[],
    oldest: number,
    startedAt: number,
  ): PendingObject {
    const { streamName, gzip: zipped, randomUUID } = this.#o;
    const name = `${streamName}-${formatJavaTime(NAME_TIME, startedAt)}-${randomUUID()}.ndjson${zipped ? '.gz' : ''}`;
    const key = `${evaluate(template, oldest, errorType ?? 'invalid-json', randomUUID)}${name}`;
    return { key, errorType, count: lines.length, lines, body: undefined, delivered: false };
  }

  #start(batch: Batch): void {
    batch.state = 'running';
    batch.reported = false;
    void this.#deliver(batch).then(
      () => {
        this.#batches.splice(this.#batches.indexOf(batch), 1);
        this.#pump();
        this.#notify();
      },
      (error: unknown) => {
        batch.state = 'failed';
        batch.error = error;
        this.#stats.failedFlushes++;
        const undelivered = batch.objects.filter((object) => !object.delivered);
        emitSafely(this.#o.onEvent, {
          type: 'failure',
          source: this.#o.source,
          count: undelivered.reduce((sum, object) => sum + object.count, 0),
          code: 'DELIVERY_FAILED',
          error,
          time: this.#o.clock.now(),
        });
        this.#notify();
      },
    );
  }

  async #deliver(batch: Batch): Promise<void> {
    const { storage, onEvent, source, clock } = this.#o;
    for (const object of batch.objects) {
      if (object.delivered) continue;
      if (object.body === undefined) {
        const text = Buffer.from(object.lines.join(''));
        object.body = this.#o.gzip ? await gzip(text) : text;
        object.lines = [];
      }
      const body = object.body;
      const started = performance.now();
      await withRetry(
        () =>
          storage.put(object.key, body, {
            contentType: this.#o.gzip ? 'application/gzip' : 'application/x-ndjson',
          }),
        this.#retryOptions(object),
      );
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
        reason: batch.reason,
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
  }

  #retryOptions(object: PendingObject): RetryOptions {
    const { retry, onEvent, source, clock } = this.#o;
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

  #throwUnreported(): void {
    const failed = this.#batches.filter((batch) => batch.state === 'failed' && !batch.reported);
    if (failed.length === 0) return;
    for (const batch of failed) batch.reported = true;
    throw this.#errorOf(failed, 0);
  }

  #errorOf(failed: readonly Batch[], stuckInBuffer: number): DeliveryError {
    const keys: string[] = [];
    let count = stuckInBuffer;
    for (const batch of failed) {
      for (const object of batch.objects) {
        if (object.delivered) continue;
        keys.push(object.key);
        count += object.count;
      }
    }
    const errors = failed.map((batch) => batch.error);
    const cause =
      errors.length === 0
        ? undefined
        : errors.length === 1
          ? errors[0]
          : new AggregateError(errors, `${errors.length} flushes failed`);
    const last = errors.at(-1);
    const why =
      last instanceof Error ? last.message : last === undefined ? 'no flush slot free' : String(last);
    return new DeliveryError(
      `Delivery ${this.#o.streamName}: ${count} record(s) not delivered yet (kept for the next flush): ${why}`,
      { recordCount: count, keys, cause, stream: this.#o.streamName },
    );
  }

  #startTimer(): void {
    this.#stopTimer();
    const handle = this.#o.clock.setTimeout(() => {
      if (this.#timer !== handle) return;
      this.#timerSet = false;
      this.#timer = undefined;
      this.#trigger('interval');
    }, this.#o.bufferIntervalMs);
    this.#timer = handle;
    this.#timerSet = true;
  }

  #stopTimer(): void {
    if (!this.#timerSet) return;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerSet = false;
  }

  #nextChange(): Promise<void> {
    if (this.#change === undefined) {
      let resolve = noop;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#change = { promise, resolve };
    }
    return this.#change.promise;
  }

  #notify(): void {
    const change = this.#change;
    this.#change = undefined;
    change?.resolve();
  }

  #serially<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#tail.then(task);
    this.#tail = run.then(noop, noop);
    return run;
  }
}

// ---------------------------------------------------------------------------------------------
// Records

type Classified =
  | { ok: true; line: string }
  | {
      ok: false;
      type: DeliveryErrorType;
      code: string;
      message: string;
      raw: Uint8Array | string;
      issues?: ValidationIssue[];
    };

function isEnvelope(value: unknown): value is DeliveryRecord {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.includes('data') && keys.every((key) => key === 'data' || key === 'arrivalTime');
}

function timeOf(value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TributaryError(
      `arrivalTime must be a valid Date or epoch milliseconds, got ${describeValue(value)}`,
      {
        code: 'DELIVERY_INVALID_RECORD',
      },
    );
  }
  return ms;
}

// biome-ignore lint/suspicious/noExplicitAny: any schema
function classify(data: unknown, schema: Schema<any> | undefined): Classified {
  let line: string;
  let parsed: unknown;
  let raw: Uint8Array | string;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    raw = data;
    let text: string;
    try {
      text = typeof data === 'string' ? data : utf8.decode(data);
      parsed = JSON.parse(text);
    } catch (error) {
      return invalid(raw, 'INVALID_JSON', `not JSON: ${(error as Error).message}`);
    }
    if (!isJsonObject(parsed))
      return invalid(raw, 'NOT_A_JSON_OBJECT', `expected a JSON object, got ${kindOf(parsed)}`);
    // Compacted from the text, not re-encoded: numbers keep their digits (a JSON.parse round trip
    // would round integers beyond 2^53).
    line = `${compactJson(text)}\n`;
  } else {
    if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
      const bytes =
        data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return classify(bytes, schema);
    }
    try {
      line = encodeNdjsonLine(data);
    } catch (error) {
      return invalid(
        inspect(data, { depth: 4 }),
        'UNSERIALIZABLE',
        `cannot encode as JSON: ${(error as Error).message}`,
      );
    }
    raw = line.slice(0, -1);
    if (typeof data !== 'object' || data === null || Array.isArray(data) || !line.startsWith('{')) {
      return invalid(raw, 'NOT_A_JSON_OBJECT', `expected an object, got ${describeValue(data)}`);
    }
    parsed = data;
  }
  if (schema !== undefined) {
    const result = schema.validate(parsed);
    if (!result.ok) {
      const head = result.issues
        .slice(0, 3)
        .map((issue) => `${issue.path || '(record)'}: ${issue.message}`)
        .join('; ');
      return {
        ok: false,
        type: 'validation-failed',
        code: 'VALIDATION_FAILED',
        message: result.issues.length > 3 ? `${head}; and ${result.issues.length - 3} more` : head,
        raw,
        issues: result.issues,
      };
    }
  }
  return { ok: true, line };
}

function invalid(raw: Uint8Array | string, code: string, message: string): Classified {
  return { ok: false, type: 'invalid-json', code, message, raw };
}

function isJsonObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Remove the whitespace between JSON tokens, leaving strings and numbers byte for byte. */
function compactJson(text: string): string {
  if (!/[ \t\n\r]/.test(text)) return text;
  const parts: string[] = [];
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      if (i > start) parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (start < text.length) parts.push(text.slice(start));
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Prefixes: Firehose's grammar lives in firehose-prefix.ts.

const NAME_TIME = compileJavaTimePattern('yyyy-MM-dd-HH-mm-ss');

function evaluate(
  prefix: FirehosePrefix,
  time: number,
  errorType: DeliveryErrorType,
  randomUUID: () => string,
): string {
  // Firehose's random-string is 11 characters, e.g. 046b6c7f-0b: the head of a uuid.
  return evaluateFirehosePrefix(prefix, {
    time,
    errorOutputType: errorType,
    randomString: () => randomUUID().slice(0, 11),
  });
}

// ---------------------------------------------------------------------------------------------
// Options

function invalidOption(option: string, value: unknown, expected: string): TributaryError {
  return new TributaryError(`Delivery option ${option} must be ${expected}, got ${describeValue(value)}`, {
    code: 'DELIVERY_INVALID',
    context: { option },
  });
}

function integerOption(option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidOption(option, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

function resolveOptions(options: DeliveryOptions): Readonly<ResolvedOptions> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object');
  const { storage, streamName } = options;
  if (typeof storage !== 'object' || storage === null || typeof storage.put !== 'function') {
    throw invalidOption('storage', storage, 'a Storage');
  }
  if (typeof streamName !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(streamName)) {
    throw invalidOption(
      'streamName',
      streamName,
      '1 to 64 letters, digits, "_", "." or "-" (a Firehose stream name)',
    );
  }
  if (typeof options.prefix !== 'string') throw invalidOption('prefix', options.prefix, 'a string');

  const errorPrefixOption = options.errorPrefix;
  if (errorPrefixOption !== undefined && typeof errorPrefixOption !== 'string') {
    throw invalidOption('errorPrefix', errorPrefixOption, 'a string');
  }
  let prefixes: ReturnType<typeof resolveFirehosePrefixes>;
  try {
    prefixes = resolveFirehosePrefixes({ prefix: options.prefix, errorPrefix: errorPrefixOption });
  } catch (error) {
    if (!(error instanceof FirehosePrefixError)) throw error;
    throw new TributaryError(`Delivery option ${error.context.option}: ${error.message}`, {
      code: 'DELIVERY_INVALID',
      context: { option: error.context.option },
      cause: error,
    });
  }

  const compression = options.compression ?? 'none';
  if (compression !== 'none' && compression !== 'gzip') {
    throw invalidOption('compression', compression, '"none" or "gzip"');
  }
  const { clock = defaultClock, randomUUID = cryptoRandomUUID, onEvent, schema } = options;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw invalidOption('clock', clock, 'an object with now, setTimeout and clearTimeout');
  }
  if (typeof randomUUID !== 'function') throw invalidOption('randomUUID', randomUUID, 'a function');
  if (onEvent !== undefined && typeof onEvent !== 'function')
    throw invalidOption('onEvent', onEvent, 'a function');
  if (
    schema !== undefined &&
    (typeof schema !== 'object' || schema === null || typeof schema.validate !== 'function')
  ) {
    throw invalidOption('schema', schema, 'a schema from defineSchema');
  }
  if (options.retry !== undefined && (typeof options.retry !== 'object' || options.retry === null)) {
    throw invalidOption('retry', options.retry, 'retry options');
  }

  const resolved: ResolvedOptions = {
    storage,
    prefix: prefixes.prefix,
    errorPrefix: prefixes.errorPrefix,
    streamName,
    bufferIntervalMs: integerOption('bufferIntervalMs', options.bufferIntervalMs, 60_000, 0, MAX_TIMER_MS),
    bufferBytes: integerOption('bufferBytes', options.bufferBytes, DEFAULT_BYTES, 1, Number.MAX_SAFE_INTEGER),
    gzip: compression === 'gzip',
    schema,
    maxInFlight: integerOption('maxInFlight', options.maxInFlight, 1, 1, 1_000),
    retry: Object.freeze({ ...options.retry }),
    clock,
    randomUUID,
    onEvent,
    source: options.source ?? `delivery:${streamName}`,
  };

  // Every key has the same shape, so one sample tells whether the storage will accept them all.
  const sampleName = `${streamName}-${formatJavaTime(NAME_TIME, 0)}-00000000-0000-0000-0000-000000000000.ndjson`;
  try {
    assertValidKey(`${evaluate(resolved.prefix, 0, 'invalid-json', resolved.randomUUID)}${sampleName}`);
  } catch (error) {
    throw new TributaryError(`Delivery option prefix gives invalid keys: ${(error as Error).message}`, {
      code: 'DELIVERY_INVALID',
      context: { option: 'prefix' },
      cause: error,
    });
  }
  try {
    assertValidKey(
      `${evaluate(resolved.errorPrefix, 0, 'validation-failed', resolved.randomUUID)}${sampleName}`,
    );
  } catch (error) {
    throw new TributaryError(`Delivery option errorPrefix gives invalid keys: ${(error as Error).message}`, {
      code: 'DELIVERY_INVALID',
      context: { option: 'errorPrefix' },
      cause: error,
    });
  }
  return Object.freeze(resolved);
}
