import { type ErrorContext, OptionsError, TributaryError } from '@tributary/core';

/**
 * A query failed on its engine. `reason` is the engine's own words (Athena's
 * `StateChangeReason`, DuckDB's message); `queryId` is Athena's execution id.
 *
 * @example
 * ```ts
 * declare const engine: QueryEngine; // a DuckDbEngine or an AthenaEngine
 * try {
 *   await engine.query('SELECT nope FROM sensors').collect();
 * } catch (err) {
 *   if (err instanceof QueryFailedError) console.error(err.reason);
 *   else throw err;
 * }
 * ```
 */
export class QueryFailedError extends TributaryError {
  override name = 'QueryFailedError';
  readonly engine: string;
  readonly reason: string;
  readonly queryId: string | undefined;
  /** Athena's `AthenaError.ErrorCategory`: 1 system, 2 user, 3 other. */
  readonly errorCategory: number | undefined;
  /** Athena's `AthenaError.ErrorType`. */
  readonly errorType: number | undefined;

  constructor(options: {
    engine: string;
    reason: string;
    queryId?: string;
    errorCategory?: number;
    errorType?: number;
    retryable?: boolean;
    cause?: unknown;
    context?: ErrorContext;
  }) {
    super(
      `${options.engine} query ${options.queryId ? `${options.queryId} ` : ''}failed: ${options.reason}`,
      {
        code: 'QUERY_FAILED',
        retryable: options.retryable ?? false,
        cause: options.cause,
        context: { ...options.context, queryId: options.queryId },
      },
    );
    this.engine = options.engine;
    this.reason = options.reason;
    this.queryId = options.queryId;
    this.errorCategory = options.errorCategory;
    this.errorType = options.errorType;
  }
}

/**
 * The query was cancelled: by `cancel()`, by the caller's `AbortSignal`, or on the engine
 * (Athena state CANCELLED).
 */
export class QueryCancelledError extends TributaryError {
  override name = 'QueryCancelledError';
  readonly queryId: string | undefined;

  constructor(engine: string, queryId?: string, reason?: string, cause?: unknown) {
    super(`${engine} query ${queryId ? `${queryId} ` : ''}was cancelled${reason ? `: ${reason}` : ''}`, {
      code: 'QUERY_CANCELLED',
      cause,
      context: { queryId },
    });
    this.queryId = queryId;
  }
}

/** One rejected row of a Redshift COPY, as `stl_load_errors` / `sys_load_error_detail` describe it. */
export interface LoadErrorDetail {
  file: string;
  line: number | undefined;
  column: string | undefined;
  columnType: string | undefined;
  /** The offending value (`stl_load_errors.raw_field_value`; not in `sys_load_error_detail`). */
  rawValue: string | undefined;
  /** The whole input line, when the system table keeps it. */
  rawLine: string | undefined;
  errorCode: number | undefined;
  reason: string;
}

/**
 * A load failed and was rolled back: the target table is as it was. For a rejected Redshift
 * COPY, `details` holds the rows the system tables name (file, line, column, raw value).
 *
 * @example
 * ```ts
 * const loader = new RedshiftLoader({ pool, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy' });
 * try {
 *   await loader.load('sensors', { storage: lake.processed, table: 'sensors', schema: readingSchema }, { mode: 'append' });
 * } catch (err) {
 *   if (!(err instanceof LoadError)) throw err;
 *   for (const d of err.details) console.error(d.file, d.line, d.column, d.reason);
 * }
 * ```
 */
export class LoadError extends TributaryError {
  override name = 'LoadError';
  readonly table: string;
  readonly details: readonly LoadErrorDetail[];

  constructor(
    message: string,
    options: {
      table: string;
      code?: string;
      details?: readonly LoadErrorDetail[];
      retryable?: boolean;
      cause?: unknown;
      context?: ErrorContext;
    },
  ) {
    const first = options.details?.[0];
    const where = first
      ? ` (${first.file}${first.line === undefined ? '' : ` line ${first.line}`}${first.column ? `, column ${first.column}` : ''}: ${first.reason}${first.rawValue === undefined ? '' : ` — value ${JSON.stringify(first.rawValue)}`})`
      : '';
    super(`${message}${where}`, {
      code: options.code ?? 'LOAD_FAILED',
      retryable: options.retryable ?? false,
      cause: options.cause,
      context: { ...options.context, table: options.table },
    });
    this.table = options.table;
    this.details = Object.freeze([...(options.details ?? [])]);
  }
}

/**
 * Options of a loader or an engine are invalid (a merge without keys, a key that is not a column):
 * core's `OptionsError` with code `WAREHOUSE_OPTIONS_INVALID`; `option` names the option when the
 * context does (`options` otherwise).
 *
 * @example
 * ```ts
 * import { AthenaClient } from '@aws-sdk/client-athena';
 * import { AthenaEngine } from '@tributary/warehouse/athena';
 * try {
 *   new AthenaEngine({ client: new AthenaClient({}), pageSize: 5000 });
 * } catch (err) {
 *   if (err instanceof WarehouseOptionsError) console.log(err.option); // pageSize
 *   else throw err;
 * }
 * ```
 */
export class WarehouseOptionsError extends OptionsError {
  override name = 'WarehouseOptionsError';

  constructor(message: string, context: ErrorContext = {}) {
    const option = typeof context.option === 'string' ? context.option : 'options';
    super(message, { code: 'WAREHOUSE_OPTIONS_INVALID', option, context });
  }
}

/**
 * Every code the warehouse package's errors carry. `<AREA>_OPTIONS_INVALID` is a wrong option,
 * `<THING>_INVALID` wrong data.
 *
 * @example
 * ```ts
 * const retryLater: readonly WarehouseErrorCode[] = ['LOAD_SERIALIZATION_CONFLICT'];
 * ```
 */
export type WarehouseErrorCode =
  | 'WAREHOUSE_OPTIONS_INVALID'
  | 'QUERY_FAILED'
  | 'QUERY_CANCELLED'
  | 'QUERY_RESULT_CONSUMED'
  | 'LOAD_FAILED'
  | 'LOAD_SERIALIZATION_CONFLICT'
  | 'SOURCE_COLUMNS_UNKNOWN'
  | 'SOURCE_DUPLICATE_KEYS'
  | 'SOURCE_FORMATS_MIXED'
  | 'SOURCE_FORMAT_UNSUPPORTED'
  | 'SOURCE_NULL_KEYS'
  | 'STOP_FAILED'
  | 'TARGET_COLUMNS_MISSING'
  | 'TARGET_MISSING';
