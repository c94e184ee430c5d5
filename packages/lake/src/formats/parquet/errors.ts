import { type ErrorContext, TributaryError } from '@tributary/core';
import { isInstanceOrOptionsError } from '../../options-error-instance.js';

/**
 * The codes a {@link ParquetError} carries.
 *
 * @example
 * ```ts
 * const retryWithSmallerGroups = (code: ParquetErrorCode) => code === 'PARQUET_WRITE_FAILED';
 * ```
 */
export type ParquetErrorCode =
  | 'PARQUET_OPTIONS_INVALID'
  | 'PARQUET_WRITE_FAILED'
  | 'PARQUET_WRITER_CLOSED'
  | 'PARQUET_READ_FAILED'
  | 'PARQUET_PAGE_CHECKSUM_MISMATCH'
  | 'PARQUET_SCHEMA_MISMATCH';

/**
 * Writing or reading a Parquet file failed: invalid writer options (`PARQUET_OPTIONS_INVALID`, a
 * core `OptionsError` whose `option` names the option, still a `ParquetError` to `instanceof`),
 * a sink or encoder failure (`PARQUET_WRITE_FAILED`), a write after `close()`
 * (`PARQUET_WRITER_CLOSED`), an unreadable file (`PARQUET_READ_FAILED`), a page whose bytes do not
 * match the CRC-32 in its header (`PARQUET_PAGE_CHECKSUM_MISMATCH`, with `column`, `rowGroup`,
 * `page` and `pageType` in the context), or a file whose columns cannot give the schema's values
 * (`PARQUET_SCHEMA_MISMATCH`). `cause` holds the underlying error.
 *
 * @example
 * ```ts
 * try {
 *   for await (const record of parquetFormat.read(storage, 'sensors/dt=2026-11-23/part-0.parquet', readingSchema)) console.log(record);
 * } catch (err) {
 *   if (err instanceof ParquetError && err.code === 'PARQUET_SCHEMA_MISMATCH') console.log(err.context.column);
 *   else throw err;
 * }
 * ```
 */
export class ParquetError extends TributaryError {
  override name = 'ParquetError';
  declare readonly code: ParquetErrorCode;

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof, maybe a subclass
    return isInstanceOrOptionsError(this, ParquetError, value, 'PARQUET_OPTIONS_INVALID');
  }

  constructor(
    message: string,
    options: { code: ParquetErrorCode; cause?: unknown; context?: ErrorContext; retryable?: boolean },
  ) {
    super(message, options);
  }
}

/** Keep tributary errors (already typed, e.g. `ObjectNotFoundError`) as they are; wrap anything else. */
export function wrapParquetError(
  err: unknown,
  code: ParquetErrorCode,
  message: string,
  context: ErrorContext = {},
): TributaryError {
  if (TributaryError.isInstance(err)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new ParquetError(`${message}: ${detail}`, { code, cause: err, context });
}
