import type { AthenaClient } from '@aws-sdk/client-athena';
import { type EventListener, type RetryOptions, TributaryError } from '@tributary/core';
import type { ProjectionOptions } from '@tributary/lake';
import { athenaLiteral, describeKind } from './athena-literals.js';
import { WarehouseOptionsError } from './errors.js';
import type { QueryOptions } from './types.js';

/** What the engine calls on the client: an `AthenaClient` fits. */
export type AthenaSender = Pick<AthenaClient, 'send'>;

/**
 * The options of the engine's former retry loop around `send`.
 *
 * @deprecated The engine no longer retries API calls: the AWS SDK retries each call itself.
 * Configure `maxAttempts` or `retryStrategy` on the `AthenaClient` you pass.
 */
export type AthenaRetryOptions = Pick<RetryOptions, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'random'>;

/** Options of `AthenaEngine`. */
export interface AthenaEngineOptions {
  /**
   * An `AthenaClient` you create and destroy; the engine only calls `send`. The client retries
   * each call (throttling, 5xx, network errors) as its `maxAttempts` (default 3) and
   * `retryStrategy` say; the engine adds no retry of its own.
   */
  client: AthenaSender;
  /** The workgroup queries run in. Default: Athena's (`primary`). */
  workGroup?: string;
  /** The database unqualified names resolve in (`QueryExecutionContext.Database`). */
  database?: string;
  /** The data catalog (`QueryExecutionContext.Catalog`). Default `AwsDataCatalog`. */
  catalog?: string;
  /** Where Athena writes results (`s3://bucket/prefix/`); needed unless the workgroup enforces its own. */
  outputLocation?: string;
  /** First wait between two GetQueryExecution calls, doubled after each until `maxPollIntervalMs`. Default 200. */
  pollIntervalMs?: number;
  /** Longest wait between two polls. Default 5000. */
  maxPollIntervalMs?: number;
  /** Stop a query (StopQueryExecution) that has not delivered its last row this long after submission. */
  timeoutMs?: number;
  /** Rows per GetQueryResults page (`MaxResults`, 1 to 1000). Default 1000. */
  pageSize?: number;
  /** Partition projection for `registerTable`, as `toAthenaDdl` takes it. Default none. */
  projection?: boolean | ProjectionOptions;
  /**
   * @deprecated Removed: the AWS SDK retries each call. Set `maxAttempts` or `retryStrategy` on
   * the `AthenaClient`; an engine given `retry` throws a `WarehouseOptionsError`.
   */
  retry?: never;
  /** Receives `records.out` per page, `failure` for failed queries and a `retry` per SDK retry. */
  onEvent?: EventListener;
}

/** Options of one Athena query. */
export interface AthenaQueryOptions extends QueryOptions {
  /** Athena's idempotency token (32 to 128 characters): a second start with the same token returns the same query. */
  clientRequestToken?: string;
}

/** The engine's options, checked, with defaults, frozen. */
export interface ResolvedOptions {
  readonly client: AthenaSender;
  readonly workGroup: string | undefined;
  readonly database: string | undefined;
  readonly catalog: string;
  readonly outputLocation: string | undefined;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly timeoutMs: number | undefined;
  readonly pageSize: number;
  readonly projection: boolean | ProjectionOptions | undefined;
  readonly onEvent: EventListener | undefined;
}

/** One query's text and options, checked, with its parameters as Athena literals. */
export interface CheckedQuery {
  sql: string;
  parameters: string[] | undefined;
  signal: AbortSignal | undefined;
  clientRequestToken: string | undefined;
}

function positive(options: AthenaEngineOptions, key: keyof AthenaEngineOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.${key} must be a finite number > 0, got ${describeKind(value)} ${String(value)}`,
      { code: 'ATHENA_OPTIONS_INVALID', option: key },
    );
  }
  return value;
}

function optionalText(options: AthenaEngineOptions, key: keyof AthenaEngineOptions): string | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new WarehouseOptionsError(`AthenaEngineOptions.${key} must be a non-empty string`, {
      code: 'ATHENA_OPTIONS_INVALID',
      option: key,
    });
  }
  return value;
}

/** Check the engine's options (they may come from plain JavaScript or config) and fill in defaults. */
export function resolveOptions(options: AthenaEngineOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new WarehouseOptionsError('AthenaEngine needs an options object with a client', {
      code: 'ATHENA_OPTIONS_INVALID',
      option: 'options',
    });
  }
  if (typeof options.client?.send !== 'function') {
    throw new WarehouseOptionsError(
      'AthenaEngineOptions.client must be an AthenaClient (something with send)',
      { code: 'ATHENA_OPTIONS_INVALID', option: 'client' },
    );
  }
  if ((options as { retry?: unknown }).retry !== undefined) {
    throw new WarehouseOptionsError(
      'AthenaEngineOptions.retry is no longer supported: the AWS SDK retries each Athena call; ' +
        'set maxAttempts or retryStrategy on the AthenaClient you pass',
      { code: 'ATHENA_OPTIONS_INVALID', option: 'retry' },
    );
  }
  const outputLocation = optionalText(options, 'outputLocation');
  if (outputLocation !== undefined && !outputLocation.startsWith('s3://')) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.outputLocation must be an s3:// URL, got ${JSON.stringify(outputLocation)}`,
      { code: 'ATHENA_OPTIONS_INVALID', option: 'outputLocation' },
    );
  }
  const pollIntervalMs = positive(options, 'pollIntervalMs', 200);
  const maxPollIntervalMs = positive(options, 'maxPollIntervalMs', 5000);
  if (maxPollIntervalMs < pollIntervalMs) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.maxPollIntervalMs (${maxPollIntervalMs}) is below pollIntervalMs (${pollIntervalMs})`,
      { code: 'ATHENA_OPTIONS_INVALID', option: 'maxPollIntervalMs' },
    );
  }
  const pageSize = positive(options, 'pageSize', 1000);
  if (!Number.isInteger(pageSize) || pageSize > 1000) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.pageSize must be an integer from 1 to 1000, got ${pageSize}`,
      { code: 'ATHENA_OPTIONS_INVALID', option: 'pageSize' },
    );
  }
  const projection = options.projection;
  if (
    projection !== undefined &&
    typeof projection !== 'boolean' &&
    (typeof projection !== 'object' || projection === null)
  ) {
    throw new WarehouseOptionsError(
      'AthenaEngineOptions.projection must be a boolean or projection options',
      { code: 'ATHENA_OPTIONS_INVALID', option: 'projection' },
    );
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new WarehouseOptionsError('AthenaEngineOptions.onEvent must be a function', {
      code: 'ATHENA_OPTIONS_INVALID',
      option: 'onEvent',
    });
  }
  const database = optionalText(options, 'database');
  return Object.freeze({
    client: options.client,
    workGroup: optionalText(options, 'workGroup'),
    database,
    catalog: optionalText(options, 'catalog') ?? 'AwsDataCatalog',
    outputLocation,
    pollIntervalMs,
    maxPollIntervalMs,
    timeoutMs: options.timeoutMs === undefined ? undefined : positive(options, 'timeoutMs', 0),
    pageSize,
    projection,
    onEvent: options.onEvent,
  });
}

/** Check one query's text and options; its parameters become Athena literals here, before anything is sent. */
export function checkQuery(sql: string, options: AthenaQueryOptions): CheckedQuery {
  if (typeof sql !== 'string' || sql.trim() === '') {
    throw new TributaryError('Athena query text must be a non-empty string', { code: 'QUERY_TEXT_INVALID' });
  }
  const { params, signal, clientRequestToken } = options ?? {};
  if (params !== undefined && !Array.isArray(params)) {
    throw new WarehouseOptionsError('QueryOptions.params must be an array', {
      code: 'QUERY_OPTIONS_INVALID',
      option: 'params',
    });
  }
  if (
    clientRequestToken !== undefined &&
    (typeof clientRequestToken !== 'string' ||
      clientRequestToken.length < 32 ||
      clientRequestToken.length > 128)
  ) {
    throw new WarehouseOptionsError(
      'AthenaQueryOptions.clientRequestToken must be a string of 32 to 128 characters',
      { code: 'QUERY_OPTIONS_INVALID', option: 'clientRequestToken' },
    );
  }
  const parameters = params && params.length > 0 ? params.map((p, i) => athenaLiteral(p, i)) : undefined;
  return { sql, parameters, signal, clientRequestToken };
}
