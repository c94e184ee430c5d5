import { describeValue, TributaryError } from './errors.js';
import type { EventListener } from './events.js';
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
 * The time source of a batcher: the age timer and event times. Inject a fake one in tests.
 *
 * @example
 * ```ts
 * const systemClock: BatcherClock = {
 *   now: () => Date.now(),
 *   setTimeout: (fn, ms) => setTimeout(fn, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
 * };
 * ```
 */
export interface BatcherClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

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
  clock?: BatcherClock;
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
  clock: BatcherClock;
  onEvent: EventListener | undefined;
  source: string;
}

// setTimeout fires at once for longer delays, which would turn an age limit into no buffering.
const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: BatcherClock = {
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
      code: 'INVALID_ITEM',
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

function invalidOption(option: string, value: unknown, expected: string): TributaryError {
  return new TributaryError(`Batcher option ${option} must be ${expected}, got ${describeValue(value)}`, {
    code: 'INVALID_OPTION',
    context: { option },
  });
}

function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidOption(option, value, 'an integer >= 1');
  }
  return value;
}

function oneOf<V extends string>(option: string, value: unknown, allowed: readonly V[]): V {
  if (!allowed.includes(value as V)) {
    throw invalidOption(option, value, allowed.map((v) => `"${v}"`).join(' or '));
  }
  return value as V;
}

function optionalFunction(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(option, value, 'a function');
}

// The options come from plain-JS callers too (and, through the deliveries, from config): check them.
export function resolveBatcherOptions<T>(options: BatcherOptions<T>): Readonly<ResolvedBatcherOptions<T>> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object');
  const maxCount =
    options.maxCount === undefined ? Number.POSITIVE_INFINITY : positiveInteger('maxCount', options.maxCount);
  const maxBytes = positiveInteger('maxBytes', options.maxBytes);
  const maxInFlight = positiveInteger('maxInFlight', options.maxInFlight ?? 1);

  const { maxAgeMs } = options;
  if (
    maxAgeMs !== undefined &&
    (typeof maxAgeMs !== 'number' || !Number.isFinite(maxAgeMs) || maxAgeMs < 0 || maxAgeMs > MAX_TIMER_MS)
  ) {
    throw invalidOption('maxAgeMs', maxAgeMs, `a number >= 0 and <= ${MAX_TIMER_MS}`);
  }

  if (typeof options.flush !== 'function') throw invalidOption('flush', options.flush, 'a function');
  optionalFunction('sizeOf', options.sizeOf);
  optionalFunction('onFlushed', options.onFlushed);
  optionalFunction('onEvent', options.onEvent);
  const clock = options.clock ?? systemClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw invalidOption('clock', clock, 'an object with now, setTimeout and clearTimeout');
  }

  const { overheadBytes } = options;
  let overhead: (item: T) => number;
  if (overheadBytes === undefined) {
    overhead = () => 0;
  } else if (typeof overheadBytes === 'function') {
    overhead = overheadBytes;
  } else if (isSize(overheadBytes)) {
    overhead = () => overheadBytes;
  } else {
    throw invalidOption('overheadBytes', overheadBytes, 'a finite number >= 0 or a function');
  }

  return Object.freeze({
    maxCount,
    maxBytes,
    maxAgeMs,
    maxInFlight,
    sizeOf: options.sizeOf ?? defaultSizeOf,
    overheadBytes: overhead,
    oversized: oneOf('oversized', options.oversized ?? 'reject', ['reject', 'alone'] as const),
    keep: oneOf('failedBatches', options.failedBatches ?? 'report', ['report', 'keep'] as const) === 'keep',
    flush: options.flush,
    onFlushed: options.onFlushed,
    clock,
    onEvent: options.onEvent,
    source: options.source ?? 'batcher',
  });
}
