import { describeFailure, type FlushFailedError, failedItemsOf, flushFailed } from './batcher-failures.js';
import {
  type BatcherOptions,
  type FlushInfo,
  type FlushReason,
  isSize,
  type ResolvedBatcherOptions,
  resolveBatcherOptions,
} from './batcher-options.js';
import {
  describeValue,
  type FailedItem,
  ItemTooLargeError,
  PartialBatchFailureError,
  TributaryError,
} from './errors.js';
import { emitSafely } from './events.js';

export { FlushFailedError } from './batcher-failures.js';
export type { BatcherClock, BatcherOptions, FlushInfo, FlushReason } from './batcher-options.js';

interface Batch<T> {
  readonly items: T[];
  readonly info: Readonly<FlushInfo>;
  /** `waiting`: cut, no slot yet; `failed`: kept after a failed flush (`keep` only). */
  state: 'waiting' | 'running' | 'failed';
  error: unknown;
  reported: boolean;
}

const noop = (): void => {};

/**
 * The buffer-and-flush engine: groups items into batches bounded by count, UTF-8 bytes and age,
 * and hands each batch to a flush function with at most `maxInFlight` flushes running. A batch
 * is cut as soon as a limit is reached; when no slot is free it waits, and the next `add` waits
 * with it, so a fast producer is slowed to the pace of the sink (memory holds at most
 * `maxInFlight` batches being flushed plus one full batch). A failed flush never passes
 * silently: it is reported (`failedBatches: 'report'`) or kept and flushed again
 * (`failedBatches: 'keep'`).
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
  private readonly options: Readonly<ResolvedBatcherOptions<T>>;
  private buffer: T[] = [];
  private bufferBytes = 0;
  // Bumped at every cut, so an age timer that fired for an earlier buffer leaves the current one alone.
  private generation = 0;
  private timer: unknown;
  private timerSet = false;
  // Cut batches not done yet, in sequence order: waiting for a slot, running, or kept after a failure.
  private readonly batches: Batch<T>[] = [];
  private change: { promise: Promise<void>; resolve: () => void } | undefined;
  // Every change to the buffer runs on this chain, so callers that do not await `add` still
  // get their items batched in call order.
  private queue: Promise<void> = Promise.resolve();
  private sequence = 0;
  // onFlushed runs in sequence order: finished batches wait here for the earlier ones.
  private readonly finished = new Map<number, Batch<T> | undefined>();
  private nextFinished = 0;
  private hooks: Promise<void> = Promise.resolve();
  private failed: FailedItem<T>[] = [];
  private errors: unknown[] = [];
  private succeeded = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: BatcherOptions<T>) {
    this.options = resolveBatcherOptions(options);
    // Bound so that `items.map(batcher.add)` and `process.once('SIGTERM', batcher.close)` work.
    this.add = this.add.bind(this);
    this.flush = this.flush.bind(this);
    this.close = this.close.bind(this);
  }

  /** Items in the buffer, plus those of cut batches still waiting for a flush slot. */
  get pendingCount(): number {
    let count = this.buffer.length;
    for (const batch of this.batches) if (batch.state === 'waiting') count += batch.items.length;
    return count;
  }

  /** Bytes of the items counted by `pendingCount`. */
  get pendingBytes(): number {
    let bytes = this.bufferBytes;
    for (const batch of this.batches) if (batch.state === 'waiting') bytes += batch.info.bytes;
    return bytes;
  }

  /** Flush calls running now. */
  get inFlight(): number {
    return this.batches.filter((batch) => batch.state === 'running').length;
  }

  /**
   * Adds one item. Resolves once the item is in the buffer; waits first while a cut batch waits
   * for a flush slot. Rejects with `ItemTooLargeError` when the item alone exceeds `maxBytes`
   * and `oversized` is `reject` (nothing else is affected), with a `FlushFailedError` once after
   * a kept batch failed (the item is not accepted), and with code `BATCHER_CLOSED` after
   * `close()`.
   */
  async add(item: T): Promise<void> {
    if (this.closed) {
      throw new TributaryError('Cannot add to a closed Batcher', { code: 'BATCHER_CLOSED' });
    }
    const size = this.measure(item);
    if (size > this.options.maxBytes && this.options.oversized === 'reject') {
      throw new ItemTooLargeError(size, this.options.maxBytes);
    }
    await this.serially(() => this.accept(item, size));
  }

  /**
   * Cuts the current buffer (reason `manual`), flushes kept batches again and waits for every
   * batch cut so far. Rejects with `PartialBatchFailureError` if any flush failed since the last
   * report (`report`), or with `FlushFailedError` if kept batches are still not flushed (`keep`).
   */
  async flush(): Promise<void> {
    await this.settle('manual');
  }

  /**
   * Sends the current buffer (reason `close`), waits for every flush and refuses further items.
   * Calling it again returns the same promise, except after a `FlushFailedError`: then it tries
   * the kept batches again.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = this.settle('close').then(
        () => this.stopTimer(),
        (error: unknown) => {
          if (this.options.keep) this.closing = undefined;
          throw error;
        },
      );
    }
    return this.closing;
  }

  /** `close()`, for `await using`: the block's end sends what is buffered and waits for it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async accept(item: T, size: number): Promise<void> {
    const { maxCount, maxBytes } = this.options;
    this.throwUnreported();
    // Room first, then the item: an add that rejects never leaves its item half-accepted.
    if (this.buffer.length > 0 && this.bufferBytes + size > maxBytes) this.cut('bytes');
    while (this.batches.some((batch) => batch.state === 'waiting')) {
      this.retryKept();
      await this.nextChange();
      this.throwUnreported();
    }
    this.buffer.push(item);
    this.bufferBytes += size;
    if (this.buffer.length === 1) this.startTimer();
    if (this.buffer.length >= maxCount) this.cut('count');
    else if (this.bufferBytes >= maxBytes) this.cut('bytes');
  }

  private async settle(reason: FlushReason): Promise<void> {
    const target = await this.serially(async () => {
      this.cut(reason);
      return this.sequence - 1;
    });
    for (;;) {
      const pending = this.batches.filter((batch) => batch.info.sequence <= target);
      if (pending.length === 0) break;
      // Nothing running means nothing changes until the next cut: report what is stuck.
      if (this.options.keep && !this.batches.some((batch) => batch.state === 'running')) {
        const failed = pending.filter((batch) => batch.state === 'failed');
        for (const batch of failed) batch.reported = true;
        const waiting = pending.filter((batch) => batch.state === 'waiting');
        throw this.keptError(
          failed,
          waiting.reduce((sum, batch) => sum + batch.items.length, 0),
        );
      }
      await this.nextChange();
    }
    await this.hooks;
    this.report();
  }

  /** Cuts the buffer into a batch (if it holds anything), then tries kept batches again and fills free slots. */
  private cut(reason: FlushReason): void {
    if (this.buffer.length > 0) {
      this.batches.push({
        items: this.buffer,
        info: Object.freeze({ reason, bytes: this.bufferBytes, sequence: this.sequence++ }),
        state: 'waiting',
        error: undefined,
        reported: false,
      });
      this.buffer = [];
      this.bufferBytes = 0;
      this.generation++;
      this.stopTimer();
    }
    this.retryKept();
    this.pump();
  }

  private retryKept(): void {
    if (!this.options.keep) return;
    for (const batch of this.batches) if (batch.state === 'failed') this.start(batch);
  }

  private pump(): void {
    let busy = this.batches.filter((batch) => batch.state !== 'waiting').length;
    for (const batch of this.batches) {
      if (busy >= this.options.maxInFlight) return;
      if (batch.state !== 'waiting') continue;
      busy++;
      this.start(batch);
    }
  }

  private start(batch: Batch<T>): void {
    const { flush, keep, onEvent, source, clock } = this.options;
    const { items, info } = batch;
    batch.state = 'running';
    batch.reported = false;
    const started = performance.now();
    // A copy, so a flush function that trims its array cannot change what we report or keep.
    void (async () => flush([...items], { ...info }))().then(
      () => {
        this.batches.splice(this.batches.indexOf(batch), 1);
        if (!keep) this.succeeded += items.length;
        emitSafely(onEvent, {
          type: 'flush',
          source,
          count: items.length,
          bytes: info.bytes,
          reason: info.reason,
          durationMs: performance.now() - started,
          time: clock.now(),
        });
        this.finish(info.sequence, batch);
      },
      (error: unknown) => {
        let code: string;
        let count = items.length;
        if (keep) {
          batch.state = 'failed';
          batch.error = error;
          code = describeFailure(error).code;
        } else {
          this.batches.splice(this.batches.indexOf(batch), 1);
          const failed = failedItemsOf(items, error);
          this.failed.push(...failed);
          this.errors.push(error);
          this.succeeded += items.length - failed.length;
          count = failed.length;
          code = failed[0]?.code ?? 'FLUSH_FAILED';
          this.finish(info.sequence, undefined);
        }
        emitSafely(onEvent, { type: 'failure', source, count, code, error, time: clock.now() });
        this.notify();
      },
    );
  }

  /** A batch is done (`undefined`: failed for good); runs the onFlushed calls now in order. */
  private finish(sequence: number, batch: Batch<T> | undefined): void {
    const { onFlushed, onEvent, source, clock } = this.options;
    if (onFlushed !== undefined) {
      this.finished.set(sequence, batch);
      while (this.finished.has(this.nextFinished)) {
        const done = this.finished.get(this.nextFinished);
        this.finished.delete(this.nextFinished);
        this.nextFinished++;
        if (done === undefined) continue;
        this.hooks = this.hooks.then(async () => {
          try {
            await onFlushed([...done.items], { ...done.info });
          } catch (error) {
            emitSafely(onEvent, {
              type: 'failure',
              source,
              count: done.items.length,
              code: 'ON_FLUSHED_FAILED',
              error,
              time: clock.now(),
            });
          }
        });
      }
    }
    this.pump();
    this.notify();
  }

  private throwUnreported(): void {
    if (!this.options.keep) return;
    const failed = this.batches.filter((batch) => batch.state === 'failed' && !batch.reported);
    if (failed.length === 0) return;
    for (const batch of failed) batch.reported = true;
    throw this.keptError(failed, 0);
  }

  private keptError(failed: readonly Batch<T>[], waitingCount: number): FlushFailedError<T> {
    return flushFailed<T>(
      failed.map((batch) => ({ items: [...batch.items], info: batch.info, error: batch.error })),
      waitingCount,
      this.options.source,
    );
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
        code: 'ITEM_INVALID',
        cause: error,
      });
    }
    if (!isSize(size)) {
      throw new TributaryError(`sizeOf must return a finite number >= 0, got ${describeValue(size)}`, {
        code: 'ITEM_INVALID',
      });
    }
    if (!isSize(overhead)) {
      throw new TributaryError(
        `overheadBytes must return a finite number >= 0, got ${describeValue(overhead)}`,
        { code: 'ITEM_INVALID' },
      );
    }
    return size + overhead;
  }

  private startTimer(): void {
    const { maxAgeMs, clock } = this.options;
    if (maxAgeMs === undefined) return;
    const generation = this.generation;
    const handle = clock.setTimeout(() => {
      if (this.timerSet && this.timer === handle) {
        this.timerSet = false;
        this.timer = undefined;
      }
      void this.serially(async () => {
        if (this.generation === generation) this.cut('age');
      });
    }, maxAgeMs);
    this.timer = handle;
    this.timerSet = true;
  }

  private stopTimer(): void {
    if (!this.timerSet) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerSet = false;
  }

  private nextChange(): Promise<void> {
    if (this.change === undefined) {
      let resolve = noop;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.change = { promise, resolve };
    }
    return this.change.promise;
  }

  private notify(): void {
    const change = this.change;
    this.change = undefined;
    change?.resolve();
  }

  private serially<R>(task: () => Promise<R>): Promise<R> {
    const run = this.queue.then(task);
    this.queue = run.then(noop, noop);
    return run;
  }
}
