import {
  addSdkRetryEvents,
  Batcher,
  classifyError,
  computeBackoff,
  describeValue,
  type ErrorContext,
  type EventListener,
  emitSafely,
  type FailedItem,
  ItemTooLargeError,
  PartialBatchFailureError,
  type SdkMiddlewareHost,
  TributaryError,
  utf8ByteLength,
} from '@tributary/core';
import { ProducerClosedError, ProducerOptionsError } from './errors.js';

/** Time as producers see it; replace it in tests to drive backoff, TTL and rate limits. */
export interface ProducerClock {
  /** Milliseconds from any fixed origin (only differences are used). */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** What a producer did over its life: records delivered, records sent again, records lost. */
export interface ProducerResult {
  /** Records the service accepted. */
  sent: number;
  /** Re-sends: a record sent three times before it was accepted counts 2. */
  retried: number;
  /** Records that failed for good (they travel in a `PartialBatchFailureError`). */
  failed: number;
}

/** Options every producer shares. */
export interface ProducerCommonOptions<T> {
  /**
   * Turns a record into the bytes of one service record. Default: one NDJSON line, the record as
   * compact JSON then `\n` (core's `encodeNdjsonLine`; call it with a schema here to validate
   * each record). Its errors (a `ValidationError`, say) reject `put`.
   */
  encode?: (record: T) => string | Uint8Array;
  /** How long a record may wait for a batch to fill before it is sent anyway. Default 100 ms. */
  maxAgeMs?: number;
  /** Records accepted but not yet delivered or failed; `put` waits while there are this many. Default 10,000. */
  maxBufferedRecords?: number;
  /** Requests in flight at once (a record waiting to be sent again holds none). Default 4. */
  maxConcurrentRequests?: number;
  /**
   * A record not delivered this long after `put` accepted it fails with code
   * `RECORD_TTL_EXPIRED` (the KPL's `RecordTtl`). Default 30,000 ms.
   */
  recordTtlMs?: number;
  /**
   * Cap of the wait before a failed record is sent again (full jitter) when its shard (or, when
   * the shard is unknown, its request) accepted nothing; the cap doubles with each such failure
   * in a row. A record refused while its shard accepted others in the same call waits at most
   * this, whatever the error: that shard is taking records (the KPL re-sends such records at
   * once). Default 100 ms.
   */
  baseDelayMs?: number;
  /** The same, when the service said it was throttling and the shard accepted nothing. Default 500 ms. */
  throttledBaseDelayMs?: number;
  /** Cap of any one wait. Default 5,000 ms. */
  maxDelayMs?: number;
  /** Receives `records.in`, `batch`, `retry`, `failure` and `records.out` events. */
  onEvent?: EventListener;
  /** Time source. Default: `performance.now()` and `setTimeout`. */
  clock?: ProducerClock;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** One user record on its way. */
export interface Envelope<T> {
  readonly record: T;
  readonly data: Uint8Array;
  readonly key: string;
  /** Bytes counted against the service's limits: data plus partition key. */
  readonly size: number;
  /** When its time to live ends: set once it is accepted (the wait for room does not count). */
  deadline: number;
  settled: boolean;
  /** The batch it was cut in, told when it settles. */
  watch: BatchWatch | undefined;
}

/** The records of one cut batch not yet settled; the batch's flush call ends when none is left. */
interface BatchWatch {
  open: number;
  done: () => void;
}

/** One entry of a request: one user record, or several packed into one (KPL aggregation). */
export interface WireEntry<T> {
  readonly users: readonly Envelope<T>[];
  readonly data: Uint8Array;
  readonly key: string;
  /** Index of the shard it should land on, or -1 when unknown. */
  readonly shard: number;
  readonly size: number;
  readonly deadline: number;
  /** Times it was sent. */
  attempts: number;
  /**
   * Failed attempts in a row in which its shard (or, when the shard is unknown, its request)
   * accepted nothing: the exponent of its backoff.
   */
  stalls: number;
  /** Not to be sent again before this time (backoff). */
  notBefore: number;
  lastCode: string | undefined;
}

/** What the service said about one entry of a request, by position. */
export type EntryOutcome =
  | { ok: true; shardId?: string | undefined }
  | { ok: false; code: string; message?: string | undefined; retryable?: boolean };

/** The limits of one kind of producer. */
export interface ProducerLimits {
  source: string;
  context: ErrorContext;
  /** Largest record (data + key). */
  maxRecordBytes: number;
  /** Most entries and bytes in one request. */
  maxRequestCount: number;
  maxRequestBytes: number;
  /** How user records are grouped before they become entries. */
  batchMaxCount: number;
  batchMaxBytes: number;
  /** Bytes a user record adds to a batch. Default: its `size`. */
  batchSizeOf?: (envelope: Envelope<unknown>) => number;
}

interface ResolvedCommon<T> {
  encode: (record: T) => string | Uint8Array;
  maxAgeMs: number;
  maxBufferedRecords: number;
  maxConcurrentRequests: number;
  recordTtlMs: number;
  baseDelayMs: number;
  throttledBaseDelayMs: number;
  maxDelayMs: number;
  onEvent: EventListener | undefined;
  clock: ProducerClock;
  random: () => number;
}

const MAX_TIMER_MS = 2_147_483_647;
// Enough to explain a failure without keeping every error of a long outage in memory.
const MAX_KEPT_ERRORS = 10;
const MIN_RATE_WAIT_MS = 50;

const defaultClock: ProducerClock = Object.freeze({
  now: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
});

const noop = (): void => {};

/** Validate the shared options; `name` prefixes the messages (`KinesisProducer`). */
export function resolveCommonOptions<T>(
  name: string,
  options: ProducerCommonOptions<T>,
  defaultEncode: (record: T) => string | Uint8Array,
): Readonly<ResolvedCommon<T>> {
  const invalid = (option: string, value: unknown, expected: string) =>
    new ProducerOptionsError(
      `${name} option ${option} must be ${expected}, got ${describeValue(value)}`,
      option,
    );
  const integer = (option: keyof ProducerCommonOptions<T>, fallback: number, min: number): number => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw invalid(option, value, `an integer ≥ ${min}`);
    }
    return value;
  };
  const milliseconds = (option: keyof ProducerCommonOptions<T>, fallback: number, min: number): number => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
      throw invalid(option, value, `a number of milliseconds from ${min} to ${MAX_TIMER_MS}`);
    }
    return value;
  };
  const fn = <F>(option: keyof ProducerCommonOptions<T>, fallback: F): F => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'function') throw invalid(option, value, 'a function');
    return value as F;
  };
  const clock = options.clock ?? defaultClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.sleep !== 'function'
  ) {
    throw invalid('clock', clock, 'an object with now() and sleep(ms)');
  }
  return Object.freeze({
    encode: fn('encode', defaultEncode),
    maxAgeMs: milliseconds('maxAgeMs', 100, 1),
    maxBufferedRecords: integer('maxBufferedRecords', 10_000, 1),
    maxConcurrentRequests: integer('maxConcurrentRequests', 4, 1),
    recordTtlMs: milliseconds('recordTtlMs', 30_000, 1),
    baseDelayMs: milliseconds('baseDelayMs', 100, 0),
    throttledBaseDelayMs: milliseconds('throttledBaseDelayMs', 500, 0),
    maxDelayMs: milliseconds('maxDelayMs', 5_000, 0),
    onEvent: fn<EventListener | undefined>('onEvent', undefined),
    clock,
    random: fn('random', Math.random),
  });
}

/** Throws a `ProducerOptionsError` unless `options` is an object. */
export function assertOptionsObject(name: string, options: unknown): asserts options is object {
  if (typeof options !== 'object' || options === null) {
    throw new ProducerOptionsError(
      `${name} needs an options object, got ${describeValue(options)}`,
      'options',
    );
  }
}

function codeOf(error: unknown, fallback: string): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (TributaryError.isInstance(error)) return error.code;
    if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
    if (typeof code === 'string' && code !== '') return code;
  }
  return fallback;
}

function messageOf(error: unknown): string | undefined {
  return error instanceof Error ? error.message : error === undefined ? undefined : String(error);
}

/** How a per-entry error code is classified: the AWS error of that name would be. */
function classifyCode(code: string): { retryable: boolean; throttled: boolean } {
  const classification = classifyError({ name: code, $metadata: {} });
  return { retryable: classification.retryable, throttled: classification.kind === 'throttling' };
}

/** A failed entry to send again, and what its failure says. */
interface Retry<T> {
  entry: WireEntry<T>;
  code: string;
  throttled: boolean;
  /** Whether its shard (or request) accepted other entries in the same call. */
  progress: boolean;
}

/**
 * Everything the Kinesis and Firehose producers share: accepting records with backpressure,
 * batching (core's `Batcher`), sending requests with at most N in flight, resending only the
 * entries that failed with backoff, the record TTL, events, counts and failure reports.
 *
 * Sending works like the KPL's: the entries of every cut batch join one send queue, and each free
 * request slot takes the next request from it — first the failed entries whose backoff is over,
 * then new entries in the order they were put. A failed entry goes back into that queue with its
 * own attempt count, backoff and deadline, and out again with newer records in a later request; a
 * slot is free as soon as its call returns, so retries never hold one. A batch's flush (the
 * `Batcher`'s) ends when all its records are settled, which is what `flush()` and `close()` wait for.
 */
export abstract class BaseProducer<T> {
  protected readonly common: Readonly<ResolvedCommon<T>>;
  protected readonly limits: Readonly<ProducerLimits>;
  private readonly batcher: Batcher<Envelope<T>>;
  // The send queue: entries never sent, in put order, and failed entries waiting for their backoff.
  private fresh: WireEntry<T>[] = [];
  private again: WireEntry<T>[] = [];
  private requests = 0;
  // When the pending wake-up (a sleep on the clock) ends; one at a time, the earliest needed.
  private wakeAt = Number.POSITIVE_INFINITY;
  private buffered = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly accepting = new Set<Promise<void>>();
  private closed = false;
  private closing: Promise<ProducerResult> | undefined;
  private readonly totals: ProducerResult = { sent: 0, retried: 0, failed: 0 };
  private unreported: FailedItem<T>[] = [];
  private errors: unknown[] = [];

  protected constructor(common: Readonly<ResolvedCommon<T>>, limits: ProducerLimits) {
    this.common = common;
    this.limits = Object.freeze({ ...limits });
    const sizeOf = limits.batchSizeOf ?? ((envelope: Envelope<unknown>) => envelope.size);
    this.batcher = new Batcher<Envelope<T>>({
      maxCount: limits.batchMaxCount,
      maxBytes: limits.batchMaxBytes,
      maxAgeMs: common.maxAgeMs,
      // Requests in flight are counted by the send queue; a batch's flush lasts until its records
      // settle, which must never keep the next batch from being cut. Each open batch holds a
      // buffered record, so this bound is never reached.
      maxInFlight: common.maxBufferedRecords,
      sizeOf,
      flush: (batch) => this.deliverBatch(batch),
    });
    this.put = this.put.bind(this);
    this.flush = this.flush.bind(this);
    this.close = this.close.bind(this);
  }

  /** Counts so far (a copy). */
  get stats(): ProducerResult {
    return { ...this.totals };
  }

  /** Records accepted and not yet delivered or failed. */
  get bufferedRecords(): number {
    return this.buffered;
  }

  /**
   * Accepts one record: resolves once it is buffered (not once it is delivered: `flush()` and
   * `close()` tell that), and waits while `maxBufferedRecords` are buffered. Rejects at once
   * with the encoder's error (e.g. `ValidationError`), an `InvalidPartitionKeyError`, an
   * `ItemTooLargeError`, or a `ProducerClosedError` after `close()`.
   */
  async put(record: T): Promise<void> {
    if (this.closed) throw new ProducerClosedError(this.limits.context);
    const envelope = this.envelope(record);
    const task = this.accept(envelope);
    this.accepting.add(task);
    try {
      await task;
    } finally {
      this.accepting.delete(task);
    }
  }

  /**
   * Puts every record of a (possibly async) iterable, one after the other, with the same
   * backpressure. Resolves with how many were accepted; the first rejected record rejects it.
   */
  async putMany(records: Iterable<T> | AsyncIterable<T>): Promise<number> {
    let count = 0;
    for await (const record of records) {
      await this.put(record);
      count++;
    }
    return count;
  }

  /**
   * Sends what is buffered and waits until every record accepted so far is delivered or has
   * failed. Resolves with the counts so far; rejects with a `PartialBatchFailureError` holding
   * the records that failed since the last report (each failure is reported once).
   */
  async flush(): Promise<ProducerResult> {
    await Promise.allSettled([...this.accepting]);
    await this.batcher.flush();
    return this.report();
  }

  /**
   * Refuses further records, sends what is buffered, waits for every record to be delivered or
   * to fail, and resolves with the counts. Rejects with a `PartialBatchFailureError` holding the
   * records that failed (and were not reported by an earlier `flush()`), with their error codes
   * and the counts in `context` — never success while records failed. Calling it again returns
   * the same promise.
   */
  /**
   * `close()`, for `await using`: the block's end sends what is buffered and rejects if a record
   * failed, as `close()` does (use `close()` to read the counts).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  close(): Promise<ProducerResult> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = (async () => {
        await Promise.allSettled([...this.accepting]);
        await this.batcher.close();
        return this.report();
      })();
    }
    return this.closing;
  }

  /** The partition key of a record ('' where the service has none). */
  protected abstract partitionKeyOf(record: T): string;

  /** Turns a batch of user records into request entries. May throw: the batch then fails. */
  protected abstract toEntries(batch: Envelope<T>[]): Promise<WireEntry<T>[]> | WireEntry<T>[];

  /** Sends one request and returns the outcome of each entry by position. */
  protected abstract send(entries: readonly WireEntry<T>[]): Promise<EntryOutcome[]>;

  /**
   * `command`, with core's middleware that reports the client's own retries of it as `retry`
   * events: the client retries each request (its `maxAttempts` / `retryStrategy`), the producer
   * only re-sends the entries a request answered with an error.
   */
  protected counted<C extends SdkMiddlewareHost>(command: C): C {
    return addSdkRetryEvents(command, { source: this.limits.source, onEvent: this.common.onEvent });
  }

  /** Milliseconds before `entry` may be sent under the rate limit (0: now, and counted). */
  protected rateWait(_entry: WireEntry<T>, _now: number): number {
    return 0;
  }

  /** Counts `entry` against the rate limit: it is being sent. */
  protected rateTake(_entry: WireEntry<T>, _now: number): void {}

  /** Told about each entry the service accepted. */
  protected accepted(_entry: WireEntry<T>, _outcome: EntryOutcome & { ok: true }): void {}

  /** A plain one-record entry. */
  protected entryOf(envelope: Envelope<T>, shard: number): WireEntry<T> {
    return {
      users: [envelope],
      data: envelope.data,
      key: envelope.key,
      shard,
      size: envelope.size,
      deadline: envelope.deadline,
      attempts: 0,
      stalls: 0,
      notBefore: Number.NEGATIVE_INFINITY,
      lastCode: undefined,
    };
  }

  private envelope(record: T): Envelope<T> {
    const encoded = this.common.encode(record);
    let data: Uint8Array;
    if (typeof encoded === 'string') data = Buffer.from(encoded, 'utf8');
    else if (encoded instanceof Uint8Array) data = encoded;
    else {
      throw new TributaryError(`encode must return a string or a Uint8Array, got ${describeValue(encoded)}`, {
        code: 'RECORD_INVALID',
        context: this.limits.context,
      });
    }
    data = this.finishData(data);
    const key = this.partitionKeyOf(record);
    const size = data.byteLength + utf8ByteLength(key);
    if (size > this.limits.maxRecordBytes) {
      throw new ItemTooLargeError(size, this.limits.maxRecordBytes, this.limits.context);
    }
    return {
      record,
      data,
      key,
      size,
      deadline: Number.POSITIVE_INFINITY,
      settled: false,
      watch: undefined,
    };
  }

  /** Last touch on a record's bytes (Firehose adds a missing newline). */
  protected finishData(data: Uint8Array): Uint8Array {
    return data;
  }

  private async accept(envelope: Envelope<T>): Promise<void> {
    while (this.buffered >= this.common.maxBufferedRecords) {
      // Send what waits in the buffer now rather than at the end of its linger: we need room.
      if (this.batcher.pendingCount > 0) this.batcher.flush().catch(noop);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.buffered++;
    envelope.deadline = this.common.clock.now() + this.common.recordTtlMs;
    emitSafely(this.common.onEvent, {
      type: 'records.in',
      source: this.limits.source,
      count: 1,
      bytes: envelope.data.byteLength,
      time: Date.now(),
    });
    try {
      await this.batcher.add(envelope);
    } catch (error) {
      this.release(1);
      throw error;
    }
  }

  private release(count: number): void {
    this.buffered -= count;
    for (let i = 0; i < count && this.waiters.length > 0; i++) this.waiters.shift()?.();
  }

  // The Batcher's flush: it never rejects, since every record's fate is settled here.
  private async deliverBatch(batch: Envelope<T>[]): Promise<void> {
    let entries: WireEntry<T>[];
    try {
      entries = await this.toEntries(batch);
    } catch (error) {
      this.fail(batch, codeOf(error, 'PRODUCER_FAILED'), messageOf(error), error);
      return;
    }
    const settled = new Promise<void>((done) => {
      const watch: BatchWatch = { open: 0, done };
      for (const envelope of batch) {
        if (envelope.settled) continue;
        envelope.watch = watch;
        watch.open++;
      }
      if (watch.open === 0) done();
    });
    // Only a bug could leave a record out of every entry; still, none may go unaccounted for.
    let users = 0;
    for (const entry of entries) users += entry.users.length;
    if (users !== batch.length) {
      const covered = new Set(entries.flatMap((entry) => entry.users));
      const missing = batch.filter((envelope) => !covered.has(envelope));
      this.fail(missing, 'PRODUCER_FAILED', 'The record was in no request entry');
    }
    for (const entry of entries) this.fresh.push(entry);
    this.pump();
    await settled;
  }

  /** Starts requests while slots are free and entries can go; when idle, sleeps until one can. */
  private pump(): void {
    const { clock, maxConcurrentRequests } = this.common;
    while (this.requests < maxConcurrentRequests && this.fresh.length + this.again.length > 0) {
      const now = clock.now();
      const { chunk, waitMs, rateLimited, untilDeadline } = this.take(now);
      if (chunk.length > 0) {
        this.requests++;
        void this.sendChunk(chunk).finally(() => {
          this.requests--;
          this.pump();
        });
        continue;
      }
      // A request in flight pumps again when it returns; a timer is needed only when none is.
      if (this.requests > 0 || this.fresh.length + this.again.length === 0) return;
      // Waiting for a few tokens more makes requests of many records rather than of one.
      const wait = rateLimited ? Math.max(waitMs, MIN_RATE_WAIT_MS) : waitMs;
      this.wake(now, Math.min(wait, untilDeadline));
      return;
    }
  }

  private wake(now: number, waitMs: number): void {
    const delay = Number.isFinite(waitMs) ? Math.max(1, Math.ceil(waitMs)) : 1;
    const at = now + delay;
    if (at >= this.wakeAt) return;
    this.wakeAt = at;
    const woken = () => {
      if (this.wakeAt === at) this.wakeAt = Number.POSITIVE_INFINITY;
      this.pump();
    };
    this.common.clock.sleep(delay).then(woken, woken);
  }

  /**
   * Takes the next request from the send queue: failed entries whose backoff is over first (they
   * are older), then new ones, within the request's limits and the rate limit; fails the entries
   * whose TTL ran out. When nothing can go, says how long until something can.
   */
  private take(now: number): {
    chunk: WireEntry<T>[];
    waitMs: number;
    rateLimited: boolean;
    untilDeadline: number;
  } {
    const { maxRequestCount, maxRequestBytes } = this.limits;
    const chunk: WireEntry<T>[] = [];
    let bytes = 0;
    let waitMs = Number.POSITIVE_INFINITY;
    let rateLimited = false;
    let untilDeadline = Number.POSITIVE_INFINITY;
    // Shards the rate limit holds back in this pass: their later entries wait without asking,
    // so that a small entry never jumps ahead of a larger one of the same shard.
    const held = new Set<number>();
    // Takes what can go from `queue` and compacts the rest in place, in order.
    const from = (queue: WireEntry<T>[]): void => {
      let kept = 0;
      let index = 0;
      for (; index < queue.length && chunk.length < maxRequestCount; index++) {
        const entry = queue[index] as WireEntry<T>;
        if (now >= entry.deadline) {
          this.expire(entry);
          continue;
        }
        let go = bytes + entry.size <= maxRequestBytes && entry.notBefore <= now;
        if (go && entry.shard >= 0 && held.has(entry.shard)) go = false;
        else if (go) {
          const wait = this.rateWait(entry, now);
          if (wait > 0) {
            go = false;
            rateLimited = true;
            waitMs = Math.min(waitMs, wait);
            if (entry.shard >= 0) held.add(entry.shard);
          }
        }
        if (go) {
          this.rateTake(entry, now);
          chunk.push(entry);
          bytes += entry.size;
          continue;
        }
        queue[kept++] = entry;
        untilDeadline = Math.min(untilDeadline, entry.deadline - now);
        if (entry.notBefore > now) waitMs = Math.min(waitMs, entry.notBefore - now);
      }
      if (kept === index) return;
      if (kept === 0) {
        queue.splice(0, index);
        return;
      }
      // What was not looked at (the request filled up) moves up behind what was kept.
      for (let next = index; next < queue.length; next++) queue[kept++] = queue[next] as WireEntry<T>;
      queue.length = kept;
    };
    from(this.again);
    from(this.fresh);
    return { chunk, waitMs, rateLimited, untilDeadline };
  }

  private expire(entry: WireEntry<T>): void {
    const last = entry.lastCode ?? 'none, it waited for the rate limit';
    this.fail(
      entry.users,
      'RECORD_TTL_EXPIRED',
      `Not delivered within recordTtlMs (${this.common.recordTtlMs} ms) after ${entry.attempts} attempt(s); last error: ${last}`,
    );
  }

  /** Sends one request and settles or re-queues each of its entries. */
  private async sendChunk(chunk: WireEntry<T>[]): Promise<void> {
    try {
      await this.sendOnce(chunk);
    } catch (error) {
      // Only a bug gets here; still, no record may go unaccounted for.
      for (const entry of chunk)
        this.fail(entry.users, codeOf(error, 'PRODUCER_FAILED'), messageOf(error), error);
    }
  }

  private async sendOnce(chunk: WireEntry<T>[]): Promise<void> {
    const { clock, onEvent } = this.common;
    const { source } = this.limits;
    for (const entry of chunk) {
      if (entry.attempts > 0) this.totals.retried += entry.users.length;
      entry.attempts++;
    }
    const users = (entries: readonly WireEntry<T>[]) =>
      entries.reduce((sum, entry) => sum + entry.users.length, 0);
    const bytes = chunk.reduce((sum, entry) => sum + entry.size, 0);
    const started = clock.now();
    let outcomes: EntryOutcome[];
    try {
      outcomes = await this.send(chunk);
    } catch (error) {
      const classification = classifyError(error);
      const code = codeOf(error, 'REQUEST_FAILED');
      if (!classification.retryable) {
        for (const entry of chunk) this.fail(entry.users, code, messageOf(error), error);
        return;
      }
      const throttled = classification.kind === 'throttling';
      this.requeue(
        chunk.map((entry) => ({ entry, code, throttled, progress: false })),
        classification.retryAfterMs ?? 0,
        error,
      );
      return;
    }
    emitSafely(onEvent, {
      type: 'batch',
      source,
      count: users(chunk),
      bytes,
      durationMs: clock.now() - started,
      time: Date.now(),
    });
    const failed: Omit<Retry<T>, 'progress'>[] = [];
    const delivered: WireEntry<T>[] = [];
    chunk.forEach((entry, index) => {
      const outcome: EntryOutcome = outcomes[index] ?? {
        ok: false,
        code: 'MISSING_RESULT',
        message: 'The response had no result for this entry',
        retryable: true,
      };
      if (outcome.ok) {
        delivered.push(entry);
        this.accepted(entry, outcome);
        return;
      }
      const classified = classifyCode(outcome.code);
      if (outcome.retryable ?? classified.retryable) {
        failed.push({ entry, code: outcome.code, throttled: classified.throttled });
      } else {
        this.fail(entry.users, outcome.code, outcome.message);
      }
    });
    if (delivered.length > 0) {
      let count = 0;
      for (const entry of delivered) {
        this.settle(entry.users);
        count += entry.users.length;
      }
      this.totals.sent += count;
      emitSafely(onEvent, {
        type: 'records.out',
        source,
        count,
        bytes: delivered.reduce((sum, entry) => sum + entry.size, 0),
        time: Date.now(),
      });
    }
    if (failed.length === 0) return;
    // A shard that took some of the call's entries is taking records: what it refused goes back
    // soon. Only failures where it took none make the backoff longer.
    const acceptedShards = new Set(delivered.map((entry) => entry.shard));
    const progress = (entry: WireEntry<T>) =>
      entry.shard < 0 ? delivered.length > 0 : acceptedShards.has(entry.shard);
    this.requeue(
      failed.map((retry) => ({ ...retry, progress: progress(retry.entry) })),
      0,
      undefined,
    );
  }

  /**
   * Puts failed entries back into the send queue. An entry refused while its shard accepted
   * others waits up to `baseDelayMs`; one whose shard accepted nothing backs off from
   * `throttledBaseDelayMs` when the service said it was throttling, else from `baseDelayMs`,
   * doubling with each such failure in a row; at least the server's Retry-After (full jitter).
   * The entries of one response wait the longest of their backoffs, so that they go back
   * together (with newer records) rather than one by one.
   */
  private requeue(retries: Retry<T>[], retryAfterMs: number, error: unknown): void {
    const { baseDelayMs, throttledBaseDelayMs, maxDelayMs, random, clock, onEvent } = this.common;
    const draw = random();
    let delay = Math.min(retryAfterMs, maxDelayMs);
    let attempt = 0;
    let count = 0;
    for (const { entry, throttled, progress } of retries) {
      entry.stalls = progress ? 0 : entry.stalls + 1;
      const base = throttled && !progress ? throttledBaseDelayMs : baseDelayMs;
      delay = Math.max(
        delay,
        computeBackoff(Math.max(1, entry.stalls), base, maxDelayMs, () => draw),
      );
      attempt = Math.max(attempt, entry.attempts);
      count += entry.users.length;
    }
    const notBefore = clock.now() + delay;
    for (const { entry, code } of retries) {
      entry.notBefore = notBefore;
      entry.lastCode = code;
      this.again.push(entry);
    }
    emitSafely(onEvent, {
      type: 'retry',
      source: this.limits.source,
      attempt,
      delayMs: delay,
      count,
      reason: retries.find((r) => r.throttled)?.code ?? retries[0]?.code,
      error,
      time: Date.now(),
    });
    this.pump();
  }

  /** Marks records delivered or failed: frees their room and tells their batch. */
  private settle(envelopes: readonly Envelope<T>[]): void {
    for (const envelope of envelopes) {
      envelope.settled = true;
      const watch = envelope.watch;
      envelope.watch = undefined;
      if (watch !== undefined && --watch.open === 0) watch.done();
    }
    this.release(envelopes.length);
  }

  private fail(
    envelopes: readonly Envelope<T>[],
    code: string,
    message: string | undefined,
    error?: unknown,
  ): void {
    const open = envelopes.filter((envelope) => !envelope.settled);
    if (open.length === 0) return;
    for (const envelope of open) this.unreported.push({ item: envelope.record, code, message });
    this.settle(open);
    if (error !== undefined && this.errors.length < MAX_KEPT_ERRORS && !this.errors.includes(error)) {
      this.errors.push(error);
    }
    this.totals.failed += open.length;
    emitSafely(this.common.onEvent, {
      type: 'failure',
      source: this.limits.source,
      count: open.length,
      code,
      error,
      time: Date.now(),
    });
  }

  private report(): ProducerResult {
    const result = { ...this.totals };
    const failed = this.unreported;
    const errors = this.errors;
    if (failed.length === 0) return result;
    this.unreported = [];
    this.errors = [];
    const codes = [...new Set(failed.map((f) => f.code))].slice(0, 5).join(', ');
    throw new PartialBatchFailureError<T>(failed, {
      succeededCount: result.sent,
      message: `${failed.length} record(s) failed (${codes}); ${result.sent} sent, ${result.retried} re-sent, ${result.failed} failed in all`,
      cause: errors.length === 0 ? undefined : errors.length === 1 ? errors[0] : new AggregateError(errors),
      context: { ...this.limits.context, ...result },
    });
  }
}
