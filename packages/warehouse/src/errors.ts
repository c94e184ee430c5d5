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
 * The code of a {@link WarehouseOptionsError}: which options were wrong. `ATHENA_OPTIONS_INVALID`
 * (`AthenaEngine`), `DUCKDB_OPTIONS_INVALID` (`DuckDbEngine.create`), `QUERY_OPTIONS_INVALID` (a
 * query's options), `REGISTER_TABLE_OPTIONS_INVALID` (`registerIcebergTable`),
 * `ICEBERG_DDL_OPTIONS_INVALID` (`icebergAthenaDdl`), `LOADER_OPTIONS_INVALID` (a loader's
 * constructor), `LOAD_OPTIONS_INVALID` (the table, source and options of `load()`).
 *
 * @example
 * ```ts
 * const loadArguments: WarehouseOptionsErrorCode = 'LOAD_OPTIONS_INVALID';
 * ```
 */
export type WarehouseOptionsErrorCode =
  | 'ATHENA_OPTIONS_INVALID'
  | 'DUCKDB_OPTIONS_INVALID'
  | 'QUERY_OPTIONS_INVALID'
  | 'REGISTER_TABLE_OPTIONS_INVALID'
  | 'ICEBERG_DDL_OPTIONS_INVALID'
  | 'LOADER_OPTIONS_INVALID'
  | 'LOAD_OPTIONS_INVALID';

/**
 * Options of a loader or an engine are invalid (a merge without keys, a key that is not a column,
 * a `pageSize` over 1000): core's `OptionsError` whose `code` says which options
 * ({@link WarehouseOptionsErrorCode}) and whose `option` names the one at fault. Wrong data is not
 * an options error: see {@link QueryParameterError} and {@link TableDefinitionError}.
 *
 * @example
 * ```ts
 * import { AthenaClient } from '@aws-sdk/client-athena';
 * import { AthenaEngine } from '@tributary/warehouse/athena';
 * try {
 *   new AthenaEngine({ client: new AthenaClient({}), pageSize: 5000 });
 * } catch (err) {
 *   if (err instanceof WarehouseOptionsError) console.log(err.code, err.option); // ATHENA_OPTIONS_INVALID pageSize
 *   else throw err;
 * }
 * ```
 */
export class WarehouseOptionsError extends OptionsError {
  override name = 'WarehouseOptionsError';

  constructor(
    message: string,
    options: { code: WarehouseOptionsErrorCode; option: string; cause?: unknown; context?: ErrorContext },
  ) {
    super(message, options);
  }
}

/**
 * A query parameter no engine can bind: a non-finite number, an invalid `Date` (or, for Athena, a
 * year outside 0 to 9999), or a value of another kind. `parameter` is its 1-based position.
 * Thrown by `query()` before anything is sent.
 *
 * @example
 * ```ts
 * declare const engine: QueryEngine; // a DuckDbEngine or an AthenaEngine
 * try {
 *   engine.query('SELECT * FROM sensors WHERE value > ?', { params: [Number.NaN] });
 * } catch (err) {
 *   if (err instanceof QueryParameterError) console.log(err.parameter); // 1
 *   else throw err;
 * }
 * ```
 */
export class QueryParameterError extends TributaryError {
  override name = 'QueryParameterError';
  /** The parameter's position, from 1. */
  readonly parameter: number;

  constructor(message: string, parameter: number) {
    super(message, { code: 'QUERY_PARAMETER_INVALID', context: { parameter } });
    this.parameter = parameter;
  }
}

/**
 * The code of a {@link TableDefinitionError}: `TABLE_NAME_INVALID` (a Glue database or table
 * name), `TABLE_DEFINITION_INVALID` (partitions that do not match the keys, no columns, a
 * partition an engine cannot express), `TABLE_FORMAT_UNSUPPORTED`, `TABLE_LOCATION_UNSUPPORTED`
 * (DuckDB reads `file://` only), `COLUMN_TYPE_UNSUPPORTED`.
 *
 * @example
 * ```ts
 * const readElsewhere: TableDefinitionErrorCode = 'TABLE_LOCATION_UNSUPPORTED';
 * ```
 */
export type TableDefinitionErrorCode =
  | 'TABLE_NAME_INVALID'
  | 'TABLE_DEFINITION_INVALID'
  | 'TABLE_FORMAT_UNSUPPORTED'
  | 'TABLE_LOCATION_UNSUPPORTED'
  | 'COLUMN_TYPE_UNSUPPORTED';

/**
 * A table an engine is asked to register, create or extend cannot be used as given: a name Glue
 * would not keep, partitions that do not match the keys, a table without columns, a format,
 * location or column type the engine cannot read or create. `table` names it when known.
 *
 * @example
 * ```ts
 * import { AthenaClient } from '@aws-sdk/client-athena';
 * import { AthenaEngine } from '@tributary/warehouse/athena';
 *
 * const engine = new AthenaEngine({ client: new AthenaClient({}), database: 'processed' });
 * try {
 *   await engine.repairTable('sensors; DROP TABLE t');
 * } catch (err) {
 *   if (err instanceof TableDefinitionError) console.log(err.code); // TABLE_NAME_INVALID
 *   else throw err;
 * }
 * ```
 */
export class TableDefinitionError extends TributaryError {
  override name = 'TableDefinitionError';
  readonly table: string | undefined;

  constructor(
    message: string,
    options: { code: TableDefinitionErrorCode; table?: string; cause?: unknown; context?: ErrorContext },
  ) {
    super(message, {
      code: options.code,
      cause: options.cause,
      context: { ...options.context, ...(options.table === undefined ? {} : { table: options.table }) },
    });
    this.table = options.table;
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
  | WarehouseOptionsErrorCode
  | TableDefinitionErrorCode
  | 'QUERY_PARAMETER_INVALID'
  | 'QUERY_TEXT_INVALID'
  | 'ENGINE_CLOSED'
  | 'QUERY_FAILED'
  | 'QUERY_CANCELLED'
  | 'QUERY_RESULT_CONSUMED'
  | 'LOAD_FAILED'
  | 'LOAD_SERIALIZATION_CONFLICT'
  | 'COPY_REJECTED'
  | 'SOURCE_COLUMNS_UNKNOWN'
  | 'SOURCE_DUPLICATE_KEYS'
  | 'SOURCE_FORMATS_MIXED'
  | 'SOURCE_FORMAT_UNSUPPORTED'
  | 'SOURCE_NULL_KEYS'
  | 'STOP_FAILED'
  | 'TARGET_COLUMNS_MISSING'
  | 'TARGET_MISSING';
