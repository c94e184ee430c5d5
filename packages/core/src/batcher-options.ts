import type { Clock } from './clock.js';
import { describeValue, TributaryError } from './errors.js';
import type { EventListener } from './events.js';
import { optionChecks } from './options.js';
import { utf8ByteLength } from './utf8.js';

// The Batcher's public option types and their run-time check.

/**
 * Why a batch was cut: it reached `maxCount` or `maxBytes`, its first item reached `maxAgeMs`,
 * `flush()` was called, or `close()`.
 */
export type FlushReason = 'count' | 'bytes' | 'age' | 'manual' | 'close';

/** What the flush function is told about the batch it receives. */
export interface FlushInfo {
  reason: FlushReason;
  /** Sum of `sizeOf` + overhead over the batch's items. */
  bytes: number;
  /** Position of the batch in the order batches were cut, starting at 0; the same on every try of a kept batch. */
  sequence: number;
}

/**
 * The time source of a batcher.
 *
 * @deprecated Use core's {@link Clock}; this is the same type.
 *
 * @example
 * ```ts
 * const clock: BatcherClock = systemClock;
 * ```
 */
export type BatcherClock = Clock;

export interface BatcherOptions<T> {
  /** Most items in one batch (500 for Kinesis PutRecords and Firehose PutRecordBatch). Integer >= 1. Default: no limit. */
  maxCount?: number;
  /** Most bytes in one batch, overhead included (5 MiB for PutRecords). Integer >= 1. */
  maxBytes: number;
  /**
   * Cut a non-empty buffer this long after its first item arrived (0: at the next turn of the
   * timer). Default: no age limit.
   */
  maxAgeMs?: number;
  /** Batches being flushed at once (with `failedBatches: 'keep'`, kept failed batches hold their slot). Default 1. */
  maxInFlight?: number;
  /**
   * Bytes of the encoded item. Default: UTF-8 length of a string, `byteLength` of a
   * `Uint8Array` (or other binary view), otherwise the UTF-8 length of `JSON.stringify(item)`.
   */
  sizeOf?: (item: T) => number;
  /** Bytes added to each item on top of `sizeOf`, such as a Kinesis partition key. Default 0. */
  overheadBytes?: number | ((item: T) => number);
  /**
   * An item larger than `maxBytes`: `reject` refuses it with `ItemTooLargeError` (default);
   * `alone` accepts it and sends it in a batch of its own (Firehose does this with a record
   * larger than its buffer).
   */
  oversized?: 'reject' | 'alone';
  /**
   * What becomes of a batch whose flush rejects. `report` (default): its items count as failed
   * and the next `flush()` / `close()` rejects with a `PartialBatchFailureError` (when the flush
   * rejects with a `PartialBatchFailureError` naming some of the batch's items, only those).
   * `keep`: the batch keeps its items, its slot and its `sequence`, and is flushed again, whole,
   * at the next cut, `flush()` or `close()` (or when an `add` needs its slot); the failure is
   * reported once, by the next `add` (which then accepts nothing) or by a `flush()` / `close()`
   * that cannot finish, as a `FlushFailedError`. A failed `close()` may be called again.
   */
  failedBatches?: 'report' | 'keep';
  /**
   * Sends one batch. Retrying a call is its job (or its client's). With `failedBatches: 'keep'`
   * it may be called again with the same items and `sequence` after it rejected: skip what was
   * already done.
   */
  flush: (items: T[], info: FlushInfo) => Promise<void>;
  /**
   * Told about each batch once it is flushed, in the order batches were cut: a batch's call waits
   * until every earlier batch is flushed (or, with `report`, failed for good) and its call
   * returned. `flush()` and `close()` wait for these calls. An error it throws becomes a
   * `failure` event with code `ON_FLUSHED_FAILED`.
   */
  onFlushed?: (items: T[], info: FlushInfo) => void | Promise<void>;
  /** Default: `Date.now` and the global timers (unref'd: the age timer keeps no process alive). */
  clock?: Clock;
  /**
   * Observes flushes and failures as `flush` and `failure` events (progress, metrics). Errors it
   * throws are ignored.
   */
  onEvent?: EventListener;
  /** The `source` of the events. Default `batcher`. */
  source?: string;
}

/** The checked options, with their defaults. */
export interface ResolvedBatcherOptions<T> {
  maxCount: number;
  maxBytes: number;
  maxAgeMs: number | undefined;
  maxInFlight: number;
  sizeOf: (item: T) => number;
  overheadBytes: (item: T) => number;
  oversized: 'reject' | 'alone';
  keep: boolean;
  flush: (items: T[], info: FlushInfo) => Promise<void>;
  onFlushed: ((items: T[], info: FlushInfo) => void | Promise<void>) | undefined;
  clock: Clock;
  onEvent: EventListener | undefined;
  source: string;
}

// setTimeout fires at once for longer delays, which would turn an age limit into no buffering.
const MAX_TIMER_MS = 2_147_483_647;

// The default: unref'd timers, so that a batcher's age timer keeps no process alive.
export const unrefClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    unref(timer);
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

function defaultSizeOf(item: unknown): number {
  if (typeof item === 'string') return utf8ByteLength(item);
  if (ArrayBuffer.isView(item) || item instanceof ArrayBuffer) return item.byteLength;
  const json = JSON.stringify(item);
  if (json === undefined) {
    throw new TributaryError(`Cannot size ${describeValue(item)}: it has no JSON form; pass sizeOf`, {
      code: 'ITEM_INVALID',
    });
  }
  return utf8ByteLength(json);
}

function unref(timer: unknown): void {
  // Node returns a Timeout that can be unref'd; browsers and other runtimes return a number.
  if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') {
    timer.unref();
  }
}

export function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

const check = optionChecks('Batcher', 'BATCHER_OPTIONS_INVALID');

// The options come from plain-JS callers too (and, through the deliveries, from config): check them.
export function resolveBatcherOptions<T>(options: BatcherOptions<T>): Readonly<ResolvedBatcherOptions<T>> {
  if (typeof options !== 'object' || options === null) throw check.invalid('options', options, 'an object');
  const maxCount =
    options.maxCount === undefined
      ? Number.POSITIVE_INFINITY
      : check.positiveInteger('maxCount', options.maxCount);
  const maxBytes = check.positiveInteger('maxBytes', options.maxBytes);
  const maxInFlight = check.positiveInteger('maxInFlight', options.maxInFlight ?? 1);

  const maxAgeMs =
    options.maxAgeMs === undefined
      ? undefined
      : check.nonNegativeNumber('maxAgeMs', options.maxAgeMs, { max: MAX_TIMER_MS });

  const flush = check.function<BatcherOptions<T>['flush']>('flush', options.flush);
  for (const option of ['sizeOf', 'onFlushed', 'onEvent'] as const) {
    if (options[option] !== undefined) check.function(option, options[option]);
  }
  const clock = options.clock === undefined ? unrefClock : check.clock('clock', options.clock);

  const { overheadBytes } = options;
  let overhead: (item: T) => number;
  if (overheadBytes === undefined) {
    overhead = () => 0;
  } else if (typeof overheadBytes === 'function') {
    overhead = overheadBytes;
  } else if (isSize(overheadBytes)) {
    overhead = () => overheadBytes;
  } else {
    throw check.invalid('overheadBytes', overheadBytes, 'a finite number >= 0 or a function');
  }

  return Object.freeze({
    maxCount,
    maxBytes,
    maxAgeMs,
    maxInFlight,
    sizeOf: options.sizeOf ?? defaultSizeOf,
    overheadBytes: overhead,
    oversized: check.oneOf('oversized', options.oversized ?? 'reject', ['reject', 'alone'] as const),
    keep:
      check.oneOf('failedBatches', options.failedBatches ?? 'report', ['report', 'keep'] as const) === 'keep',
    flush,
    onFlushed: options.onFlushed,
    clock,
    onEvent: options.onEvent,
    source: options.source ?? 'batcher',
  });
}
