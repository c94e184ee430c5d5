import type { FlushInfo } from './batcher-options.js';
import { type FailedItem, type PartialBatchFailureError, TributaryError } from './errors.js';
import { isRetryable } from './retry.js';

// How the Batcher reports failed flushes: the items of a failed batch, and the kept batches.

/**
 * Flushes with `failedBatches: 'keep'` failed: their items are kept and flushed again later, under
 * the same `sequence`.
 *
 * @example
 * ```ts
 * declare function put(key: string, lines: string[]): Promise<void>; // your sink
 * const batcher = new Batcher<string>({
 *   maxBytes: 5 * 1024 * 1024,
 *   failedBatches: 'keep',
 *   flush: (lines, { sequence }) => put(`batch-${sequence}.ndjson`, lines),
 * });
 * try {
 *   await batcher.close();
 * } catch (err) {
 *   if (err instanceof FlushFailedError) console.warn(`${err.itemCount} items kept; close() again later`);
 *   else throw err;
 * }
 * ```
 */
export class FlushFailedError<T = unknown> extends TributaryError {
  override name = 'FlushFailedError';
  /** The failed batches, each with its items, info and the error of its last try. */
  readonly batches: readonly { items: readonly T[]; info: FlushInfo; error: unknown }[];
  /** Items cut into batches that could not start because the failed ones hold every slot. */
  readonly waitingCount: number;
  /** Items of `batches` plus `waitingCount`. */
  readonly itemCount: number;

  constructor(
    batches: readonly { items: readonly T[]; info: FlushInfo; error: unknown }[],
    waitingCount: number,
    source: string,
  ) {
    const errors = batches.map((batch) => batch.error);
    const itemCount = batches.reduce((sum, batch) => sum + batch.items.length, waitingCount);
    const last = errors.at(-1);
    const why =
      last instanceof Error ? last.message : last === undefined ? 'no flush slot free' : String(last);
    super(`${itemCount} item(s) not flushed yet (kept for the next flush): ${why}`, {
      code: 'FLUSH_FAILED',
      cause:
        errors.length === 0
          ? undefined
          : errors.length === 1
            ? errors[0]
            : new AggregateError(errors, `${errors.length} flushes failed`),
      retryable: errors.length === 0 || errors.every((error) => isRetryable(error)),
      context: { source },
    });
    this.batches = Object.freeze([...batches]);
    this.waitingCount = waitingCount;
    this.itemCount = itemCount;
  }
}

export function failedItemsOf<T>(items: readonly T[], error: unknown): FailedItem<T>[] {
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

export function describeFailure(error: unknown): { code: string; message: string | undefined } {
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
