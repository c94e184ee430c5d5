import {
  describeValue,
  type FailedItem,
  ItemTooLargeError,
  PartialBatchFailureError,
  TributaryError,
} from './errors.js';
import { type EventListener, emitSafely } from './events.js';
import { utf8ByteLength } from './utf8.js';

/** Why a batch was cut: a limit was reached, its age ran out, or `flush()` / `close()` asked. */
export type FlushReason = 'count' | 'bytes' | 'age' | 'manual' | 'close';

/** What the flush function is told about the batch it receives. */
export interface FlushInfo {
  reason: FlushReason;
  /** Sum of `sizeOf` + overhead over the batch's items. */
  bytes: number;
  /** Position of the batch in the order batches were cut, starting at 0. */
  sequence: number;
}

export interface BatcherOptions<T> {
  /** Most items in one batch (500 for Kinesis PutRecords and Firehose PutRecordBatch). Integer >= 1. */
  maxCount: number;
  /** Most bytes in one batch, overhead included (5 MiB for PutRecords). Integer >= 1. */
  maxBytes: number;
  /** Flush a non-empty buffer this long after its first item arrived. Default: no age limit. */
  maxAgeMs?: number;
  /** How many flush calls may run at once. Default 1. */
  maxInFlight?: number;
  /**
   * Bytes of the encoded item. Default: UTF-8 length of a string, `byteLength` of a
   * `Uint8Array` (or other binary view), otherwise the UTF-8 length of `JSON.stringify(item)`.
   */
  sizeOf?: (item: T) => number;
  /** Bytes added to each item on top of `sizeOf`, such as a Kinesis partition key. Default 0. */
  overheadBytes?: number | ((item: T) => number);
  /**
   * Sends one batch. Retrying is its job. When it rejects, the batch's items are kept as failed
   * and reported by the next `flush()` / `close()`; when it rejects with a
   * `PartialBatchFailureError` whose failed items all belong to the batch, only those count as
   * failed.
   */
  flush: (items: T[], info: FlushInfo) => Promise<void>;
  /**
   * Observes flushes and failures as `flush` and `failure` events (progress, metrics). Errors it
   * throws are ignored.
   */
  onEvent?: EventListener;
  /** The `source` of the events. Default `batcher`. */
  source?: string;
}

interface ResolvedOptions<T> {
  maxCount: number;
  maxBytes: number;
  maxAgeMs: number | undefined;
  maxInFlight: number;
  sizeOf: (item: T) => number;
  overheadBytes: (item: T) => number;
  flush: (items: T[], info: FlushInfo) => Promise<void>;
  onEvent: EventListener | undefined;
  source: string;
}

interface Batch<T> {
  items: T[];
  bytes: number;
  reason: FlushReason;
  sequence: number;
}

type Timer = ReturnType<typeof setTimeout>;

// setTimeout fires at once for longer delays, which would turn an age limit into no buffering.
const MAX_TIMER_MS = 2_147_483_647;

const noop = (): void => {};

/**
 * Groups items into batches bounded by count, bytes and age, and hands each batch to a flush
 * function with at most `maxInFlight` flushes running. `add` waits while a full batch cannot be
 * sent yet, so a fast producer is slowed to the pace of the sink. A failed flush never passes
 * silently: the next `flush()` or `close()` rejects with a `PartialBatchFailureError` holding
 * every failed item since the previous report.
 *
 * @example
 * ```ts
 * declare function putRecords(entries: { partitionKey: string; data: string }[]): Promise<void>; // your sink
 * const batcher = new Batcher<Reading>({
 *   maxCount: 500,
 *   maxBytes: 5 * 1024 * 1024,
 *   maxAgeMs: 1000,
 *   sizeOf: (reading) => utf8ByteLength(encodeNdjsonLine(reading)),
 *   overheadBytes: (reading) => utf8ByteLength(reading.id), // the partition key counts towards the limit
 *   flush: (batch) => putRecords(batch.map((reading) => ({ partitionKey: reading.id, data: encodeNdjsonLine(reading) }))),
 * });
 * for await (const reading of readings) await batcher.add(reading);
 * await batcher.close(); // throws PartialBatchFailureError if any batch was lost
 * ```
 */
export class Batcher<T> {
  private readonly options: Readonly<ResolvedOptions<T>>;
  private buffer: T[] = [];
  private bufferBytes = 0;
  // Bumped at every cut, so an age timer that fired for an earlier buffer leaves the current one alone.
  private generation = 0;
  private timer: Timer | undefined;
  // A batch already cut that waits for a free flush slot.
  private waiting: Batch<T> | undefined;
  private readonly running = new Set<Promise<void>>();
  // Every change to the buffer runs on this chain, so callers that do not await `add` still
  // get their items batched in call order.
  private queue: Promise<void> = Promise.resolve();
  private sequence = 0;
  private failed: FailedItem<T>[] = [];
  private errors: unknown[] = [];
  private succeeded = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: BatcherOptions<T>) {
    this.options = resolveOptions(options);
    // Bound so that `items.map(batcher.add)` and `process.once('SIGTERM', batcher.close)` work.
    this.add = this.add.bind(this);
    this.flush = this.flush.bind(this);
    this.close = this.close.bind(this);
  }

  /** Items in the buffer, plus those of a cut batch still waiting for a flush slot. */
  get pendingCount(): number {
    return this.buffer.length + (this.waiting?.items.length ?? 0);
  }

  /** Bytes of the items counted by `pendingCount`. */
  get pendingBytes(): number {
    return this.bufferBytes + (this.waiting?.bytes ?? 0);
  }

  /** Flush calls running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Adds one item. Resolves once the item is in a buffer; waits while `maxInFlight` flushes
   * are running and a full buffer has to be sent. Rejects with `ItemTooLargeError` when the
   * item alone exceeds `maxBytes` (nothing else is affected), and with code `BATCHER_CLOSED`
   * after `close()`.
   */
  async add(item: T): Promise<void> {
    if (this.closed) {
      throw new TributaryError('Cannot add to a closed Batcher', { code: 'BATCHER_CLOSED' });
    }
    const size = this.measure(item);
    if (size > this.options.maxBytes) throw new ItemTooLargeError(size, this.options.maxBytes);
    await this.serially(() => this.accept(item, size));
  }

  /**
   * Sends the current buffer and waits for every flush started so far. Rejects with
   * `PartialBatchFailureError` if any flush failed since the last report.
   */
  async flush(): Promise<void> {
    await this.settle('manual');
  }

  /**
   * Sends the current buffer, waits for every flush and refuses further items. Calling it again
   * returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = this.settle('close');
    }
    return this.closing;
  }

  /** `close()`, for `await using`: the block's end sends what is buffered and waits for it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async accept(item: T, size: number): Promise<void> {
    const { maxCount, maxBytes } = this.options;
    if (this.bufferBytes + size > maxBytes) await this.cut('bytes');
    this.buffer.push(item);
    this.bufferBytes += size;
    if (this.buffer.length === 1) this.startTimer();
    if (this.buffer.length >= maxCount) await this.cut('count');
    else if (this.bufferBytes >= maxBytes) await this.cut('bytes');
  }

  private async settle(reason: FlushReason): Promise<void> {
    const started = await this.serially(async () => {
      await this.cut(reason);
      return [...this.running];
    });
    await Promise.all(started);
    this.report();
  }

  private async cut(reason: FlushReason): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch: Batch<T> = {
      items: this.buffer,
      bytes: this.bufferBytes,
      reason,
      sequence: this.sequence++,
    };
    this.buffer = [];
    this.bufferBytes = 0;
    this.generation++;
    this.stopTimer();
    this.waiting = batch;
    while (this.running.size >= this.options.maxInFlight) await Promise.race(this.running);
    this.waiting = undefined;
    this.dispatch(batch);
  }

  private dispatch(batch: Batch<T>): void {
    const { flush } = this.options;
    const { items, bytes, reason, sequence } = batch;
    const started = performance.now();
    const run = (async () => {
      try {
        // A copy, so a flush function that trims its array cannot change what we report as failed.
        await flush([...items], { reason, bytes, sequence });
        this.succeeded += items.length;
        emitSafely(this.options.onEvent, {
          type: 'flush',
          source: this.options.source,
          count: items.length,
          bytes,
          reason,
          durationMs: performance.now() - started,
          time: Date.now(),
        });
      } catch (error) {
        const failed = failedItemsOf(items, error);
        this.failed.push(...failed);
        this.errors.push(error);
        this.succeeded += items.length - failed.length;
        emitSafely(this.options.onEvent, {
          type: 'failure',
          source: this.options.source,
          count: failed.length,
          code: failed[0]?.code ?? 'FLUSH_FAILED',
          error,
          time: Date.now(),
        });
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private report(): void {
    const failed = this.failed;
    const errors = this.errors;
    const succeededCount = this.succeeded;
    this.failed = [];
    this.errors = [];
    this.succeeded = 0;
    if (failed.length === 0) return;
    const codes = [...new Set(failed.map((f) => f.code))].slice(0, 5).join(', ');
    throw new PartialBatchFailureError<T>(failed, {
      succeededCount,
      message: `${failed.length} item(s) failed to flush (${codes}); ${succeededCount} flushed`,
      cause: errors.length === 1 ? errors[0] : new AggregateError(errors, `${errors.length} flushes failed`),
    });
  }

  private measure(item: T): number {
    const { sizeOf, overheadBytes } = this.options;
    let size: number;
    let overhead: number;
    try {
      size = sizeOf(item);
      overhead = overheadBytes(item);
    } catch (error) {
      if (TributaryError.isInstance(error)) throw error;
      throw new TributaryError('Could not measure the size of an item', {
        code: 'INVALID_ITEM',
        cause: error,
      });
    }
    if (!isSize(size)) {
      throw new TributaryError(`sizeOf must return a finite number >= 0, got ${describeValue(size)}`, {
        code: 'INVALID_ITEM',
      });
    }
    if (!isSize(overhead)) {
      throw new TributaryError(
        `overheadBytes must return a finite number >= 0, got ${describeValue(overhead)}`,
        {
          code: 'INVALID_ITEM',
        },
      );
    }
    return size + overhead;
  }

  private startTimer(): void {
    const { maxAgeMs } = this.options;
    if (maxAgeMs === undefined) return;
    const generation = this.generation;
    const timer = setTimeout(() => {
      if (this.timer === timer) this.timer = undefined;
      void this.serially(async () => {
        if (this.generation === generation) await this.cut('age');
      });
    }, maxAgeMs);
    unref(timer);
    this.timer = timer;
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private serially<R>(task: () => Promise<R>): Promise<R> {
    const run = this.queue.then(task);
    this.queue = run.then(noop, noop);
    return run;
  }
}

function failedItemsOf<T>(items: readonly T[], error: unknown): FailedItem<T>[] {
  // A flush that sent part of its batch reports the rest; trust that list only if every entry
  // is one of our items, else count the whole batch as failed rather than lose anything.
  if (TributaryError.isInstance(error) && error.code === 'PARTIAL_BATCH_FAILURE') {
    const partial = (error as Partial<PartialBatchFailureError<T>>).failed;
    if (Array.isArray(partial) && partial.length > 0 && partial.length <= items.length) {
      const members = new Set<unknown>(items);
      if (partial.every((f: FailedItem<T>) => members.has(f.item))) return [...partial];
    }
  }
  const { code, message } = describeFailure(error);
  return items.map((item) => ({ item, code, message }));
}

function describeFailure(error: unknown): { code: string; message: string | undefined } {
  if (typeof error === 'object' && error !== null) {
    const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
    return {
      code:
        typeof code === 'string' && code !== ''
          ? code
          : typeof name === 'string' && name !== ''
            ? name
            : 'FLUSH_FAILED',
      message: typeof message === 'string' ? message : undefined,
    };
  }
  return { code: 'FLUSH_FAILED', message: String(error) };
}

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

function isSize(value: unknown): value is number {
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

function resolveOptions<T>(options: BatcherOptions<T>): Readonly<ResolvedOptions<T>> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object');
  const maxCount = positiveInteger('maxCount', options.maxCount);
  const maxBytes = positiveInteger('maxBytes', options.maxBytes);
  const maxInFlight = positiveInteger('maxInFlight', options.maxInFlight ?? 1);

  const { maxAgeMs } = options;
  if (
    maxAgeMs !== undefined &&
    (typeof maxAgeMs !== 'number' || !Number.isFinite(maxAgeMs) || maxAgeMs <= 0 || maxAgeMs > MAX_TIMER_MS)
  ) {
    throw invalidOption('maxAgeMs', maxAgeMs, `a number > 0 and <= ${MAX_TIMER_MS}`);
  }

  if (typeof options.flush !== 'function') throw invalidOption('flush', options.flush, 'a function');
  if (options.sizeOf !== undefined && typeof options.sizeOf !== 'function') {
    throw invalidOption('sizeOf', options.sizeOf, 'a function');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw invalidOption('onEvent', options.onEvent, 'a function');
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
    flush: options.flush,
    onEvent: options.onEvent,
    source: options.source ?? 'batcher',
  });
}
