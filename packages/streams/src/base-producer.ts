import {
  addSdkRetryEvents,
  Batcher,
  describeValue,
  ItemTooLargeError,
  type SdkMiddlewareHost,
  TributaryError,
  utf8ByteLength,
} from '@tributary/core';
import { ProducerClosedError, type StreamsErrorCode } from './errors.js';
import {
  type BatchWatch,
  codeOf,
  type Envelope,
  messageOf,
  ProducerLedger,
  type ProducerResult,
} from './producer-ledger.js';
import type { ProducerLimits, ResolvedProducerOptions } from './producer-options.js';
import { type EntryOutcome, SendQueue, type WireEntry } from './send-queue.js';

const noop = (): void => {};

/**
 * Everything the Kinesis and Firehose producers share: accepting records with backpressure,
 * batching (core's `Batcher`), sending requests with at most N in flight and resending only the
 * entries that failed with backoff (the `SendQueue`), the record TTL, events, counts and failure
 * reports (the `ProducerLedger`). A batch's flush (the `Batcher`'s) ends when all its records are
 * settled, which is what `flush()` and `close()` wait for.
 */
export abstract class BaseProducer<T> {
  protected readonly common: Readonly<ResolvedProducerOptions<T>>;
  protected readonly limits: Readonly<ProducerLimits>;
  private readonly batcher: Batcher<Envelope<T>>;
  private readonly ledger: ProducerLedger<T>;
  private readonly queue: SendQueue<T>;
  private readonly accepting = new Set<Promise<void>>();
  private closed = false;
  private closing: Promise<ProducerResult> | undefined;

  protected constructor(common: Readonly<ResolvedProducerOptions<T>>, limits: ProducerLimits) {
    this.common = common;
    this.limits = Object.freeze({ ...limits });
    this.ledger = new ProducerLedger<T>(
      limits.source,
      limits.context,
      common.maxBufferedRecords,
      common.onEvent,
    );
    this.queue = new SendQueue<T>(common, this.limits, this.ledger, {
      send: (entries) => this.send(entries),
      rateWait: (entry, now) => this.rateWait(entry, now),
      rateTake: (entry, now) => this.rateTake(entry, now),
      accepted: (entry, outcome) => this.accepted(entry, outcome),
    });
    this.batcher = new Batcher<Envelope<T>>({
      maxCount: limits.batchMaxCount ?? limits.maxRequestCount,
      maxBytes: limits.maxRequestBytes,
      maxAgeMs: common.maxAgeMs,
      // Requests in flight are counted by the send queue; a batch's flush lasts until its records
      // settle, which must never keep the next batch from being cut. Each open batch holds a
      // buffered record, so this bound is never reached.
      maxInFlight: common.maxBufferedRecords,
      sizeOf: limits.batchSizeOf ?? ((envelope) => envelope.size),
      flush: (batch) => this.deliverBatch(batch),
    });
    this.put = this.put.bind(this);
    this.flush = this.flush.bind(this);
    this.close = this.close.bind(this);
  }

  /** Counts so far (a copy). */
  get stats(): ProducerResult {
    return this.ledger.stats;
  }

  /** Records accepted and not yet delivered or failed. */
  get bufferedRecords(): number {
    return this.ledger.buffered;
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
    return this.ledger.report();
  }

  /**
   * `close()`, for `await using`: the block's end sends what is buffered and rejects if a record
   * failed, as `close()` does (use `close()` to read the counts).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Refuses further records, sends what is buffered, waits for every record to be delivered or
   * to fail, and resolves with the counts. Rejects with a `PartialBatchFailureError` holding the
   * records that failed (and were not reported by an earlier `flush()`), with their error codes
   * and the counts in `context` — never success while records failed. Calling it again returns
   * the same promise.
   */
  close(): Promise<ProducerResult> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = (async () => {
        await Promise.allSettled([...this.accepting]);
        await this.batcher.close();
        return this.ledger.report();
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

  /** Last touch on a record's bytes (Firehose adds a missing newline). */
  protected finishData(data: Uint8Array): Uint8Array {
    return data;
  }

  private envelope(record: T): Envelope<T> {
    const encoded = this.common.encode(record);
    let data: Uint8Array;
    if (typeof encoded === 'string') data = Buffer.from(encoded, 'utf8');
    else if (encoded instanceof Uint8Array) data = encoded;
    else {
      const code: StreamsErrorCode = 'RECORD_INVALID';
      throw new TributaryError(`encode must return a string or a Uint8Array, got ${describeValue(encoded)}`, {
        code,
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

  private async accept(envelope: Envelope<T>): Promise<void> {
    // When the buffer is full, send what waits in it now rather than at the end of its linger.
    await this.ledger.admit(envelope.data.byteLength, () => {
      if (this.batcher.pendingCount > 0) this.batcher.flush().catch(noop);
    });
    envelope.deadline = this.common.clock.now() + this.common.recordTtlMs;
    try {
      await this.batcher.add(envelope);
    } catch (error) {
      this.ledger.release(1);
      throw error;
    }
  }

  // The Batcher's flush: it never rejects, since every record's fate is settled here.
  private async deliverBatch(batch: Envelope<T>[]): Promise<void> {
    let entries: WireEntry<T>[];
    try {
      entries = await this.toEntries(batch);
    } catch (error) {
      this.ledger.fail(batch, codeOf(error, 'PRODUCER_FAILED'), messageOf(error), error);
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
      this.ledger.fail(missing, 'PRODUCER_FAILED', 'The record was in no request entry');
    }
    this.queue.push(entries);
    await settled;
  }
}
