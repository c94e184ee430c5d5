import {
  type ErrorContext,
  type EventListener,
  emitSafely,
  type FailedItem,
  PartialBatchFailureError,
  TributaryError,
} from '@tributary/core';
import type { StreamsErrorCode } from './errors.js';

// The book of a producer's records from `put` to their fate: the room they hold (backpressure),
// which are delivered or failed, the counts, the events that say so, and the report of failures
// that `flush()` and `close()` give.

/** What a producer did over its life: records delivered, records sent again, records lost. */
export interface ProducerResult {
  /** Records the service accepted. */
  sent: number;
  /** Re-sends: a record sent three times before it was accepted counts 2. */
  retried: number;
  /** Records that failed for good (they travel in a `PartialBatchFailureError`). */
  failed: number;
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
export interface BatchWatch {
  open: number;
  done: () => void;
}

// Enough to explain a failure without keeping every error of a long outage in memory.
const MAX_KEPT_ERRORS = 10;

/** The code a failure is reported with: a tributary code, an AWS error name, a Node code, or `fallback`. */
export function codeOf(error: unknown, fallback: StreamsErrorCode): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (TributaryError.isInstance(error)) return error.code;
    if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
    if (typeof code === 'string' && code !== '') return code;
  }
  return fallback;
}

/** The message of a failure, if it has one. */
export function messageOf(error: unknown): string | undefined {
  return error instanceof Error ? error.message : error === undefined ? undefined : String(error);
}

/**
 * Counts the records between `put` and their fate. Accepting one takes room (`admit` waits while
 * `maxBuffered` are held); settling it — delivered or failed — gives the room back and tells the
 * batch it was cut in. Failures wait in it until `report()` throws them.
 */
export class ProducerLedger<T> {
  private held = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly totals: ProducerResult = { sent: 0, retried: 0, failed: 0 };
  private unreported: FailedItem<T>[] = [];
  private errors: unknown[] = [];

  constructor(
    private readonly source: string,
    private readonly context: ErrorContext,
    private readonly maxBuffered: number,
    private readonly onEvent: EventListener | undefined,
  ) {}

  /** Records accepted and not yet settled. */
  get buffered(): number {
    return this.held;
  }

  /** Counts so far (a copy). */
  get stats(): ProducerResult {
    return { ...this.totals };
  }

  /**
   * Takes room for one record of `bytes`, first waiting while the buffer is full (calling
   * `whenFull` before each wait, to get records moving), and reports it in.
   */
  async admit(bytes: number, whenFull: () => void): Promise<void> {
    while (this.held >= this.maxBuffered) {
      whenFull();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.held++;
    emitSafely(this.onEvent, { type: 'records.in', source: this.source, count: 1, bytes, time: Date.now() });
  }

  /** Gives back the room of `count` records that were admitted and not settled (nor batched). */
  release(count: number): void {
    this.held -= count;
    for (let i = 0; i < count && this.waiters.length > 0; i++) this.waiters.shift()?.();
  }

  /** Counts `count` user records as sent once more. */
  resent(count: number): void {
    this.totals.retried += count;
  }

  /** Settles records the service accepted (`bytes` of entries holding them). */
  delivered(envelopes: readonly Envelope<T>[], bytes: number): void {
    this.settle(envelopes);
    this.totals.sent += envelopes.length;
    emitSafely(this.onEvent, {
      type: 'records.out',
      source: this.source,
      count: envelopes.length,
      bytes,
      time: Date.now(),
    });
  }

  /** Settles the records of `envelopes` not yet settled as failed with `code`; keeps them for the report. */
  fail(envelopes: readonly Envelope<T>[], code: string, message: string | undefined, error?: unknown): void {
    const open = envelopes.filter((envelope) => !envelope.settled);
    if (open.length === 0) return;
    for (const envelope of open) this.unreported.push({ item: envelope.record, code, message });
    this.settle(open);
    if (error !== undefined && this.errors.length < MAX_KEPT_ERRORS && !this.errors.includes(error)) {
      this.errors.push(error);
    }
    this.totals.failed += open.length;
    emitSafely(this.onEvent, {
      type: 'failure',
      source: this.source,
      count: open.length,
      code,
      error,
      time: Date.now(),
    });
  }

  /**
   * The counts so far; throws a `PartialBatchFailureError` with the records that failed since the
   * last report (each failure is reported once).
   */
  report(): ProducerResult {
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
      context: { ...this.context, ...result },
    });
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
}
