import { type ErrorContext, TributaryError } from '@tributary/core';
import { isInstanceOrOptionsError } from '../options-error-instance.js';

/** The codes of {@link IcebergError}. */
export type IcebergErrorCode =
  /** The table's metadata (or a manifest) cannot be read as Iceberg. */
  | 'ICEBERG_METADATA_INVALID'
  /** The schema of a write cannot evolve the table's schema (a type change, a new required column...). */
  | 'ICEBERG_SCHEMA_INCOMPATIBLE'
  /** The write's partitioning differs from the table's partition spec. */
  | 'ICEBERG_SPEC_MISMATCH'
  /** A partitioning or type that the lake cannot write or read as Iceberg. */
  | 'ICEBERG_UNSUPPORTED'
  /** Another writer committed first and this write's changes conflict with it (retryable). */
  | 'ICEBERG_COMMIT_CONFLICT'
  /** No snapshot with that id, or none at or before that time. */
  | 'ICEBERG_SNAPSHOT_NOT_FOUND'
  /** A table that does not exist, or a file the metadata names outside the table's storage. */
  | 'ICEBERG_TABLE_NOT_FOUND'
  | 'ICEBERG_FILE_OUTSIDE_STORAGE'
  /** Invalid options of a call: a core `OptionsError` whose `option` names it (still an `IcebergError` to `instanceof`). */
  | 'ICEBERG_OPTIONS_INVALID';

/**
 * An Iceberg table could not be read, written or committed. `ICEBERG_COMMIT_CONFLICT` is
 * retryable: run the write again. Wrong options of an Iceberg call are core `OptionsError`s with
 * code `ICEBERG_OPTIONS_INVALID` (`option` names the option); `instanceof IcebergError` is true for
 * them too, as it was when they were `IcebergError`s.
 *
 * @example
 * ```ts
 * try {
 *   await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema, tableFormat: 'iceberg' });
 * } catch (err) {
 *   if (err instanceof IcebergError && err.code === 'ICEBERG_COMMIT_CONFLICT') console.log('another writer won; try again');
 *   else throw err;
 * }
 * ```
 */
export class IcebergError extends TributaryError {
  override name = 'IcebergError';
  declare readonly code: IcebergErrorCode;

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof, maybe a subclass
    return isInstanceOrOptionsError(this, IcebergError, value, 'ICEBERG_OPTIONS_INVALID');
  }

  constructor(
    message: string,
    options: { code: IcebergErrorCode; context?: ErrorContext; cause?: unknown; retryable?: boolean },
  ) {
    super(message, {
      ...options,
      retryable: options.retryable ?? options.code === 'ICEBERG_COMMIT_CONFLICT',
    });
  }
}
