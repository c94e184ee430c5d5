import type { FlushInfo } from './batcher-options.js';
import {
  type FailedItem,
  FlushFailedError,
  type PartialBatchFailureError,
  TributaryError,
} from './errors.js';
import { isRetryable } from './retry.js';

export { FlushFailedError };

// How the Batcher reports failed flushes: the items of a failed batch, and the kept batches.

/** The error of the batches a `keep` batcher holds: retryable when every last error is. */
export function flushFailed<T>(
  batches: readonly { items: readonly T[]; info: FlushInfo; error: unknown }[],
  waitingCount: number,
  source: string,
): FlushFailedError<T> {
  const retryable = batches.every((batch) => isRetryable(batch.error));
  return new FlushFailedError(batches, waitingCount, source, retryable);
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
