import { OptionsError, TributaryError } from '@tributary/core';

/** CoinMarketCap `status.error_code`s that mean the per-minute limit: worth waiting for. */
const MINUTE_RATE_LIMIT = 1008;
/** Daily (1009) and monthly (1010) credit limits: repeating the call today cannot succeed. */
const CREDIT_LIMITS: ReadonlySet<number> = new Set([1009, 1010]);

/** Options of {@link CoinMarketCapApiError}. */
export interface CoinMarketCapApiErrorOptions {
  /** `status.error_code` from the body, or the HTTP status when the body carried none. */
  errorCode: number;
  /** `status.error_message` from the body. */
  errorMessage: string;
  httpStatus: number;
  /** The endpoint path, e.g. `/v1/cryptocurrency/listings/latest` (never the key, never the query). */
  endpoint: string;
  /** The server's `Retry-After`, in milliseconds. */
  retryAfterMs?: number;
}

/**
 * The API answered with a non-success `status.error_code` (or a non-2xx HTTP status).
 *
 * Retryable on HTTP 429 with error 1008 (per-minute rate limit) and on 5xx; a `Retry-After`
 * travels in `retryAfterMs`, which core's `withRetry` honours. Key and plan errors
 * (1001–1007, HTTP 401/402/403) and the daily/monthly credit limits (1009/1010) are not.
 *
 * @example
 * ```ts
 * try {
 *   await cmc.listingsLatest({ limit: 100 });
 * } catch (err) {
 *   if (err instanceof CoinMarketCapApiError && err.errorCode === 1009) console.error('daily credit limit reached: try again tomorrow');
 *   else throw err;
 * }
 * ```
 */
export class CoinMarketCapApiError extends TributaryError {
  override name = 'CoinMarketCapApiError';
  readonly errorCode: number;
  readonly errorMessage: string;
  readonly httpStatus: number;
  readonly endpoint: string;
  readonly retryAfterMs: number | undefined;

  constructor(options: CoinMarketCapApiErrorOptions) {
    super(
      `CoinMarketCap ${options.endpoint} failed with HTTP ${options.httpStatus}, error ${options.errorCode}: ${options.errorMessage}`,
      {
        code: 'CMC_API_ERROR',
        retryable: isRetryableApiFailure(options.httpStatus, options.errorCode),
        context: {
          statusCode: options.httpStatus,
          errorCode: options.errorCode,
          endpoint: options.endpoint,
          ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
        },
      },
    );
    this.errorCode = options.errorCode;
    this.errorMessage = options.errorMessage;
    this.httpStatus = options.httpStatus;
    this.endpoint = options.endpoint;
    this.retryAfterMs = options.retryAfterMs;
  }
}

function isRetryableApiFailure(httpStatus: number, errorCode: number): boolean {
  if (CREDIT_LIMITS.has(errorCode)) return false;
  if (httpStatus >= 500) return true;
  // A 429 without a code we know is treated like the per-minute limit; 1011 (IP limit) is also a minute limit.
  return httpStatus === 429 && (errorCode === MINUTE_RATE_LIMIT || errorCode === 1011 || errorCode === 429);
}

/** Why a response could not be used. */
export type CoinMarketCapResponseProblem =
  | 'network'
  | 'truncated'
  | 'malformed_json'
  | 'not_json'
  | 'bad_shape';

/** Options of {@link CoinMarketCapResponseError}. */
export interface CoinMarketCapResponseErrorOptions {
  problem: CoinMarketCapResponseProblem;
  /** The HTTP status, or `undefined` when no response arrived. */
  httpStatus: number | undefined;
  endpoint: string;
  /** The first characters of the body (never a header, so never the key). */
  excerpt: string;
  cause?: unknown;
}

const EXCERPT_LENGTH = 200;

/** The first {@link EXCERPT_LENGTH} characters of a body, on one line. */
export function bodyExcerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH)}…` : flat;
}

/**
 * No usable response: the request failed on the network, the body was cut short, was not JSON
 * (an HTML error page from a proxy) or lacked the `{ status, data }` envelope.
 *
 * Retryable when no response arrived (`network`) or the HTTP status is 5xx. A cut or malformed
 * 2xx body is not retried: the API has already charged its credits for it.
 *
 * @example
 * ```ts
 * try {
 *   await cmc.listingsLatest({ limit: 100 });
 * } catch (err) {
 *   if (err instanceof CoinMarketCapResponseError) console.warn(err.problem, err.httpStatus, err.excerpt);
 *   else throw err;
 * }
 * ```
 */
export class CoinMarketCapResponseError extends TributaryError {
  override name = 'CoinMarketCapResponseError';
  readonly problem: CoinMarketCapResponseProblem;
  readonly httpStatus: number | undefined;
  readonly endpoint: string;
  readonly excerpt: string;

  constructor(options: CoinMarketCapResponseErrorOptions) {
    const status = options.httpStatus === undefined ? 'no response' : `HTTP ${options.httpStatus}`;
    const excerpt = options.excerpt === '' ? '' : `: ${options.excerpt}`;
    super(
      `CoinMarketCap ${options.endpoint} returned an unusable response (${options.problem}, ${status})${excerpt}`,
      {
        code: 'CMC_BAD_RESPONSE',
        retryable:
          options.problem === 'network' || (options.httpStatus !== undefined && options.httpStatus >= 500),
        cause: options.cause,
        context: {
          ...(options.httpStatus === undefined ? {} : { statusCode: options.httpStatus }),
          endpoint: options.endpoint,
          problem: options.problem,
        },
      },
    );
    this.problem = options.problem;
    this.httpStatus = options.httpStatus;
    this.endpoint = options.endpoint;
    this.excerpt = options.excerpt;
  }
}

/** Which budget a call would break. */
export type CreditPeriod = 'daily' | 'monthly';

/**
 * A call was refused before it was sent: its estimated credits would take the running total of
 * the day or the month past the configured budget.
 *
 * @example
 * ```ts
 * try {
 *   await cmc.listingsLatest({ limit: 5000 });
 * } catch (err) {
 *   if (err instanceof CreditBudgetExceededError) console.log(`${err.period}: ${err.used}/${err.budget}`);
 *   else throw err;
 * }
 * ```
 */
export class CreditBudgetExceededError extends TributaryError {
  override name = 'CreditBudgetExceededError';
  readonly period: CreditPeriod;
  readonly budget: number;
  readonly used: number;
  readonly estimate: number;

  constructor(period: CreditPeriod, budget: number, used: number, estimate: number, endpoint: string) {
    super(
      `CoinMarketCap ${endpoint} refused: ${estimate} credit(s) would exceed the ${period} budget (${used} of ${budget} used)`,
      {
        code: 'CMC_CREDIT_BUDGET_EXCEEDED',
        retryable: false,
        context: { endpoint, period, budget, used, estimate },
      },
    );
    this.period = period;
    this.budget = budget;
    this.used = used;
    this.estimate = estimate;
  }
}

/**
 * A value of the response does not fit the relational model (a number beyond NUMERIC(38,18), a
 * malformed timestamp). `context.path` says where.
 *
 * @example
 * ```ts
 * const { data } = await cmc.listingsLatest({ limit: 100 });
 * try {
 *   normalizeListings(data);
 * } catch (err) {
 *   if (err instanceof CoinMarketCapNormalizeError) console.error(err.context.path);
 *   else throw err;
 * }
 * ```
 */
export class CoinMarketCapNormalizeError extends TributaryError {
  override name = 'CoinMarketCapNormalizeError';

  constructor(message: string, path: string, value: unknown) {
    super(message, { code: 'CMC_NORMALIZE_FAILED', context: { path, value: String(value) } });
  }
}

/**
 * A load was rolled back: nothing of it is in the database. `cause` holds the driver's error
 * (e.g. SQLSTATE 57P01 when the backend was terminated), a `ValidationError` for rows that do not
 * fit the schemas (`CMC_LOAD_INVALID`), or the error of the page source of
 * {@link PostgresStore.loadSnapshot} (`CMC_LOAD_SOURCE_FAILED`, retryable when that error is);
 * `context.table` names the table at fault, `context.page` the 1-based page.
 *
 * @example
 * ```ts
 * const { data } = await cmc.listingsLatest({ limit: 100 });
 * try {
 *   await store.load(normalizeListings(data), { source: 'listings/latest' });
 * } catch (err) {
 *   if (err instanceof PostgresStoreError) console.error(err.context.table, err.cause);
 *   else throw err;
 * }
 * ```
 */
export class PostgresStoreError extends TributaryError {
  override name = 'PostgresStoreError';
}

/**
 * Exporting to the raw zone failed: `cause` holds the driver's or storage's error.
 *
 * @example
 * ```ts
 * try { await exportTables({ pool, storage, mode: 'cdc' }); } catch (err) {
 *   if (err instanceof DmsExportError && err.code === 'CMC_EXPORT_NO_WATERMARK') await exportTables({ pool, storage, mode: 'full' });
 * }
 * ```
 */
export class DmsExportError extends TributaryError {
  override name = 'DmsExportError';
}

/**
 * `createDmsS3TargetEndpointInput` or `createDmsReplicationTaskInput` got an option DMS would
 * refuse, or one that would make files the transforms cannot read (`CMC_DMS_SETUP_INVALID`,
 * `context.option` names it).
 *
 * @example
 * ```ts
 * import { createDmsS3TargetEndpointInput, DmsSetupError } from '@tributary/coinmarketcap/dms';
 *
 * try {
 *   createDmsS3TargetEndpointInput({
 *     endpointIdentifier: 'cmc-raw',
 *     bucketName: 'Not_A_Bucket',
 *     serviceAccessRoleArn: 'arn:aws:iam::123456789012:role/dms-s3',
 *   });
 * } catch (err) {
 *   if (err instanceof DmsSetupError) console.log(err.context.option); // 'bucketName'
 *   else throw err;
 * }
 * ```
 */
export class DmsSetupError extends OptionsError {
  override name = 'DmsSetupError';

  constructor(message: string, option: string, cause?: unknown) {
    super(message, { code: 'CMC_DMS_OPTIONS_INVALID', option, cause });
  }
}

/**
 * A crypto transform failed: `cause` holds the lake's error.
 *
 * @example
 * ```ts
 * try {
 *   await cryptoRawToProcessed({ raw: lake.raw, processed: lake.processed });
 * } catch (err) {
 *   if (err instanceof CryptoTransformError) console.error(err.code, err.cause);
 *   else throw err;
 * }
 * ```
 */
export class CryptoTransformError extends TributaryError {
  override name = 'CryptoTransformError';
}

/**
 * Every code the coinmarketcap package's errors carry. `<AREA>_OPTIONS_INVALID` is a wrong option
 * (an `OptionsError` from core), `<THING>_INVALID` wrong data.
 *
 * @example
 * ```ts
 * const retryLater: readonly CoinMarketCapErrorCode[] = ['CMC_API_ERROR', 'CMC_BAD_RESPONSE'];
 * ```
 */
export type CoinMarketCapErrorCode =
  | 'CMC_OPTIONS_INVALID'
  | 'CMC_API_ERROR'
  | 'CMC_BAD_RESPONSE'
  | 'CMC_REQUEST_FAILED'
  | 'CMC_CREDIT_BUDGET_EXCEEDED'
  | 'CMC_NORMALIZE_FAILED'
  | 'CMC_STORE_OPTIONS_INVALID'
  | 'CMC_STORE_INIT_FAILED'
  | 'CMC_LOAD_INVALID'
  | 'CMC_LOAD_FAILED'
  | 'CMC_LOAD_SOURCE_FAILED'
  | 'CMC_EXPORT_OPTIONS_INVALID'
  | 'CMC_EXPORT_INVALID'
  | 'CMC_EXPORT_FAILED'
  | 'CMC_EXPORT_CAPTURE_FAILED'
  | 'CMC_EXPORT_NO_WATERMARK'
  | 'CMC_EXPORT_UNREAD'
  | 'CMC_EXPORT_WATERMARK_FAILED'
  | 'CMC_DMS_OPTIONS_INVALID'
  | 'CMC_DMS_LAYOUT_INVALID'
  | 'CMC_TRANSFORM_OPTIONS_INVALID'
  | 'CMC_TRANSFORM_INVALID'
  | 'CMC_TRANSFORM_FAILED';
