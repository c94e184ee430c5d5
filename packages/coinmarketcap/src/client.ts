import {
  type Clock,
  type EventListener,
  emitSafely,
  type RetryOptions,
  Secret,
  systemClock,
  TokenBucket,
  type TributaryConfig,
  TributaryError,
  withRetry,
} from '@tributary/core';
import { callUrl, type FetchLike, fetchResponse } from './client-http.js';
import {
  checkConverts,
  checkInteger,
  type FiatMapParams,
  type GlobalMetricsParams,
  type InfoParams,
  invalid,
  isObject,
  type ListingsAllParams,
  type ListingsHistoricalParams,
  type ListingsLatestParams,
  type ListingsPage,
  MAX_CONVERTS,
  MAX_LIMIT,
  type MapParams,
  type Query,
  type QuotesHistoricalParams,
  type QuotesLatestParams,
  selectedCount,
} from './client-params.js';
import { CreditLedger, type CreditUsage, estimateCredits } from './credits.js';
import type {
  CmcFiat,
  CmcGlobalMetrics,
  CmcInfoData,
  CmcListing,
  CmcMapItem,
  CmcQuotesHistoricalData,
  CmcQuotesLatestData,
  CmcResponse,
} from './types.js';

export type { FetchLike } from './client-http.js';
export type {
  CoinSelector,
  FiatMapParams,
  GlobalMetricsParams,
  InfoParams,
  ListingsAllParams,
  ListingsHistoricalParams,
  ListingsLatestParams,
  ListingsPage,
  MapParams,
  QuotesHistoricalParams,
  QuotesLatestParams,
} from './client-params.js';

/** The production API. */
export const CMC_PRO_BASE_URL = 'https://pro-api.coinmarketcap.com';
/** The sandbox API (fake data, sandbox keys). */
export const CMC_SANDBOX_BASE_URL = 'https://sandbox-api.coinmarketcap.com';

const SOURCE = 'coinmarketcap';

/** The limits of a subscription plan. */
export interface CoinMarketCapPlan {
  /** Calls per minute (Basic: 30). */
  callsPerMinute: number;
  /** Refuse calls beyond this many credits per UTC day. */
  dailyCredits?: number;
  /** Refuse calls beyond this many credits per calendar month (Basic: 10 000). */
  monthlyCredits?: number;
  /** Most `convert` currencies per call the plan allows (Basic: 1). Default 120, the API's cap. */
  maxConvert?: number;
}

/** Options of {@link CoinMarketCapClient}. */
export interface CoinMarketCapClientOptions {
  /** The API key, sent only as the `X-CMC_PRO_API_KEY` header. */
  apiKey?: Secret | string;
  /** Overrides `sandbox`; no trailing slash needed. */
  baseUrl?: string;
  /** Use the sandbox API. Default false. */
  sandbox?: boolean;
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Default `{ callsPerMinute: 30 }` (the Basic plan) with no credit budget. */
  plan?: CoinMarketCapPlan;
  /** Passed to core's `withRetry`. Default: 4 attempts. */
  retry?: RetryOptions;
  onEvent?: EventListener;
  /** Time for the rate limiter and the credit ledger. Default: the system clock. */
  clock?: Clock;
}

/** Options that every endpoint method takes. */
export interface CallOptions {
  signal?: AbortSignal;
}

// What a header value can carry as sent: a key with anything else would be echoed by fetch's own error.
const API_KEY_SHAPE = /^[\x21-\x7e]+$/;

/**
 * The base URL, checked without ever echoing it: it may carry a secret (userinfo, or a key in
 * its query string, which the API also accepts). Errors show the scheme and host at most.
 */
function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== 'string') throw invalid('baseUrl must be a string', 'baseUrl');
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw invalid('baseUrl must be an absolute http(s) URL (it does not parse as a URL)', 'baseUrl');
  }
  const shown = `${parsed.protocol}//${parsed.hostname}`;
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(`baseUrl must be an http(s) URL (got scheme ${parsed.protocol})`, 'baseUrl');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw invalid(
      `baseUrl (${shown}) must not carry credentials: pass the key as apiKey, which goes in a header`,
      'baseUrl',
    );
  }
  if (parsed.search !== '' || baseUrl.includes('?')) {
    throw invalid(`baseUrl (${shown}) must not have a query string: pass the key as apiKey`, 'baseUrl');
  }
  if (parsed.hash !== '' || baseUrl.includes('#')) {
    throw invalid(`baseUrl (${shown}) must not have a fragment`, 'baseUrl');
  }
  return parsed.toString();
}

/**
 * A typed client for the CoinMarketCap Pro API: listings, quotes, map, info, global metrics and
 * the fiat map. Calls go through a per-plan token bucket and a credit budget, are retried on
 * 429/1008 and 5xx (honouring `Retry-After`), and fail with typed errors. The key travels only in
 * the `X-CMC_PRO_API_KEY` header: no message, event or `toString` contains it.
 *
 * @example
 * ```ts
 * const cmc = CoinMarketCapClient.fromConfig(loadConfig().coinmarketcap, { plan: { callsPerMinute: 30, dailyCredits: 300 } });
 * const { data } = await cmc.listingsLatest({ limit: 100, convert: ['USD', 'EUR'] });
 * console.log(data[0]?.quote.USD?.price);
 * ```
 */
export class CoinMarketCapClient {
  readonly baseUrl: string;
  readonly #apiKey: Secret | undefined;
  readonly #fetch: FetchLike;
  readonly #plan: Readonly<CoinMarketCapPlan>;
  readonly #retry: Readonly<RetryOptions>;
  readonly #onEvent: EventListener | undefined;
  readonly #clock: Clock;
  readonly #bucket: TokenBucket;
  readonly #ledger: CreditLedger;

  constructor(options: CoinMarketCapClientOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw invalid('CoinMarketCapClientOptions must be an object', 'options');
    }
    const { apiKey, baseUrl, sandbox, plan, retry, onEvent, clock } = options;
    if (apiKey !== undefined && typeof apiKey !== 'string' && !(apiKey instanceof Secret)) {
      throw invalid('apiKey must be a string or a Secret', 'apiKey');
    }
    const key = typeof apiKey === 'string' ? new Secret(apiKey) : apiKey;
    if (key !== undefined && !API_KEY_SHAPE.test(key.reveal())) {
      throw invalid(
        'apiKey must be non-empty printable ASCII without spaces or control characters (as the API issues keys)',
        'apiKey',
      );
    }
    if (sandbox !== undefined && typeof sandbox !== 'boolean')
      throw invalid('sandbox must be a boolean', 'sandbox');
    const base =
      baseUrl === undefined ? (sandbox ? CMC_SANDBOX_BASE_URL : CMC_PRO_BASE_URL) : checkBaseUrl(baseUrl);
    const fetchFn = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchFn !== 'function')
      throw invalid('fetch must be a function (no global fetch found)', 'fetch');
    if (onEvent !== undefined && typeof onEvent !== 'function')
      throw invalid('onEvent must be a function', 'onEvent');
    if (plan !== undefined && (typeof plan !== 'object' || plan === null))
      throw invalid('plan must be an object', 'plan');
    if (plan?.maxConvert !== undefined) checkInteger('plan.maxConvert', plan.maxConvert, 1, MAX_CONVERTS);
    const callsPerMinute: unknown = plan?.callsPerMinute ?? 30;
    if (typeof callsPerMinute !== 'number' || !Number.isFinite(callsPerMinute) || callsPerMinute <= 0) {
      throw invalid(
        `plan.callsPerMinute must be a positive number (got ${String(callsPerMinute)})`,
        'plan.callsPerMinute',
      );
    }

    this.baseUrl = base.replace(/\/+$/, '');
    this.#apiKey = key;
    this.#fetch = fetchFn;
    this.#plan = Object.freeze({ callsPerMinute: 30, ...plan });
    this.#retry = Object.freeze({ maxAttempts: 4, ...retry });
    this.#onEvent = onEvent;
    this.#clock = clock ?? systemClock;
    // callsPerMinute tokens at most, refilled at that rate: a short burst goes out at once.
    this.#bucket = new TokenBucket({
      capacity: this.#plan.callsPerMinute,
      refillPerSecond: this.#plan.callsPerMinute / 60,
      clock: this.#clock,
    });
    this.#ledger = new CreditLedger({
      dailyBudget: this.#plan.dailyCredits,
      monthlyBudget: this.#plan.monthlyCredits,
      now: () => this.#clock.now(),
    });
    Object.freeze(this);
  }

  /**
   * A client from core's `loadConfig().coinmarketcap` (key, base URL, sandbox) plus other options.
   *
   * @example
   * ```ts
   * const cmc = CoinMarketCapClient.fromConfig(loadConfig().coinmarketcap);
   * ```
   */
  static fromConfig(
    config: TributaryConfig['coinmarketcap'],
    options: Omit<CoinMarketCapClientOptions, 'apiKey' | 'baseUrl' | 'sandbox'> = {},
  ): CoinMarketCapClient {
    return new CoinMarketCapClient({
      ...options,
      apiKey: config.apiKey,
      baseUrl: config.baseUrl,
      sandbox: config.sandbox,
    });
  }

  /** Credits used today and this month, as reported by the API. */
  creditUsage(): CreditUsage {
    return this.#ledger.usage();
  }

  toString(): string {
    return `CoinMarketCapClient(${this.baseUrl}, key ${this.#apiKey === undefined ? 'unset' : '[redacted]'})`;
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, apiKey: this.#apiKey === undefined ? undefined : '[redacted]' };
  }

  /** `/v1/cryptocurrency/listings/latest`: one page of coins ranked by market cap. */
  listingsLatest(
    params: ListingsLatestParams = {},
    options: CallOptions = {},
  ): Promise<CmcResponse<CmcListing[]>> {
    checkInteger('start', params.start, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('limit', params.limit, 1, MAX_LIMIT);
    const converts = this.#checkConverts(params.convert);
    return this.#call<CmcListing[]>(
      '/v1/cryptocurrency/listings/latest',
      { ...params, convert: converts },
      estimateCredits('listingsLatest', { items: params.limit ?? 100, converts: converts?.length }),
      options,
    );
  }

  /**
   * Every listing, page by page (`start` = 1, 1 + pageSize, ...), until a short page, `limit`, or
   * `status.total_count` when the API reports it. Pages are fetched as they are asked for: give
   * the generator to `PostgresStore.loadSnapshot` to store them all in one transaction, so a
   * failure on any page leaves nothing of the snapshot behind.
   *
   * @example
   * ```ts
   * const result = await store.loadSnapshot(cmc.listingsAll({ pageSize: 1000, convert: 'USD' }), {
   *   source: 'listings/latest',
   * });
   * console.log(`${result.tables.cryptocurrency.inserted} new coins in load ${result.loadId}`);
   * ```
   */
  async *listingsAll(
    params: ListingsAllParams = {},
    options: CallOptions = {},
  ): AsyncGenerator<ListingsPage> {
    const { limit, pageSize = MAX_LIMIT, ...rest } = params;
    checkInteger('pageSize', pageSize, 1, MAX_LIMIT);
    checkInteger('limit', limit, 1, Number.MAX_SAFE_INTEGER);
    let start = 1;
    let remaining = limit ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const want = Math.min(pageSize, remaining);
      const response = await this.listingsLatest({ ...rest, start, limit: want }, options);
      yield { start, data: response.data, status: response.status };
      if (response.data.length < want) return;
      start += response.data.length;
      // When the API says how many there are, a full last page need not be followed by an empty one.
      const total = response.status.total_count;
      if (typeof total === 'number' && start > total) return;
      remaining -= response.data.length;
    }
  }

  /** `/v1/cryptocurrency/listings/historical` (paid plans): the ranking on a past date. */
  listingsHistorical(
    params: ListingsHistoricalParams,
    options: CallOptions = {},
  ): Promise<CmcResponse<CmcListing[]>> {
    if (!isObject(params) || typeof params.date !== 'string' || params.date === '') {
      throw invalid('listingsHistorical needs a date', 'date');
    }
    checkInteger('start', params.start, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('limit', params.limit, 1, MAX_LIMIT);
    const converts = this.#checkConverts(params.convert);
    return this.#call<CmcListing[]>(
      '/v1/cryptocurrency/listings/historical',
      { ...params, convert: converts },
      estimateCredits('listingsHistorical', { items: params.limit ?? 100, converts: converts?.length }),
      options,
    );
  }

  /** `/v2/cryptocurrency/quotes/latest` by `id`, `symbol` or `slug`. */
  quotesLatest(
    params: QuotesLatestParams,
    options: CallOptions = {},
  ): Promise<CmcResponse<CmcQuotesLatestData>> {
    const items = selectedCount(params);
    const converts = this.#checkConverts(params.convert);
    return this.#call<CmcQuotesLatestData>(
      '/v2/cryptocurrency/quotes/latest',
      { ...params, convert: converts },
      estimateCredits('quotesLatest', { items, converts: converts?.length }),
      options,
    );
  }

  /** `/v2/cryptocurrency/quotes/historical` (paid plans): a time series per coin. */
  quotesHistorical(
    params: QuotesHistoricalParams,
    options: CallOptions = {},
  ): Promise<CmcResponse<CmcQuotesHistoricalData>> {
    const coins = selectedCount(params);
    checkInteger('count', params.count, 1, 10_000);
    const converts = this.#checkConverts(params.convert);
    return this.#call<CmcQuotesHistoricalData>(
      '/v2/cryptocurrency/quotes/historical',
      { ...params, convert: converts },
      estimateCredits('quotesHistorical', {
        items: coins * (params.count ?? 10),
        converts: converts?.length,
      }),
      options,
    );
  }

  /** `/v1/cryptocurrency/map`: ids, names, symbols and slugs. */
  map(params: MapParams = {}, options: CallOptions = {}): Promise<CmcResponse<CmcMapItem[]>> {
    checkInteger('start', params.start, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('limit', params.limit, 1, MAX_LIMIT);
    return this.#call<CmcMapItem[]>('/v1/cryptocurrency/map', { ...params }, estimateCredits('map'), options);
  }

  /** `/v2/cryptocurrency/info`: static metadata (logo, links, description). */
  info(params: InfoParams, options: CallOptions = {}): Promise<CmcResponse<CmcInfoData>> {
    const items = selectedCount(params);
    return this.#call<CmcInfoData>(
      '/v2/cryptocurrency/info',
      { ...params },
      estimateCredits('info', { items }),
      options,
    );
  }

  /** `/v1/global-metrics/quotes/latest`: total market cap, dominance, volumes. */
  globalMetricsLatest(
    params: GlobalMetricsParams = {},
    options: CallOptions = {},
  ): Promise<CmcResponse<CmcGlobalMetrics>> {
    const converts = this.#checkConverts(params.convert);
    return this.#call<CmcGlobalMetrics>(
      '/v1/global-metrics/quotes/latest',
      { convert: converts },
      estimateCredits('globalMetricsLatest', { converts: converts?.length }),
      options,
    );
  }

  /** `/v1/fiat/map`: the fiat currencies `convert` accepts. */
  fiatMap(params: FiatMapParams = {}, options: CallOptions = {}): Promise<CmcResponse<CmcFiat[]>> {
    checkInteger('start', params.start, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('limit', params.limit, 1, MAX_LIMIT);
    return this.#call<CmcFiat[]>('/v1/fiat/map', { ...params }, estimateCredits('fiatMap'), options);
  }

  #checkConverts(convert: ListingsLatestParams['convert']): string[] | undefined {
    return checkConverts(convert, this.#plan.maxConvert ?? MAX_CONVERTS);
  }

  async #call<T>(
    path: string,
    query: Query,
    estimate: number,
    options: CallOptions,
  ): Promise<CmcResponse<T>> {
    // Refused before the rate limiter and the network: a budget breach must cost nothing.
    this.#ledger.assertCanSpend(estimate, path);
    const url = callUrl(this.baseUrl, path, query);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.#apiKey !== undefined) headers['X-CMC_PRO_API_KEY'] = this.#apiKey.reveal();
    const startedAt = this.#clock.now();
    const response = await withRetry(
      async () => {
        await this.#bucket.take();
        return fetchResponse<T>({
          fetch: this.#fetch,
          url,
          endpoint: path,
          headers,
          signal: options.signal,
          apiKey: this.#apiKey,
          now: () => this.#clock.now(),
        });
      },
      {
        ...this.#retry,
        signal: options.signal ?? this.#retry.signal,
        onRetry: async (info) => {
          emitSafely(this.#onEvent, {
            type: 'retry',
            source: SOURCE,
            attempt: info.attempt,
            delayMs: info.delayMs,
            reason: info.classification.kind,
            error: info.error,
            time: this.#clock.now(),
          });
          await this.#retry.onRetry?.(info);
        },
      },
    ).catch((err: unknown) => {
      emitSafely(this.#onEvent, {
        type: 'failure',
        source: SOURCE,
        count: 1,
        code: TributaryError.isInstance(err) ? err.code : 'CMC_REQUEST_FAILED',
        error: err,
        time: this.#clock.now(),
      });
      throw err;
    });
    this.#ledger.record(response.body.status.credit_count);
    const data: unknown = response.body.data;
    emitSafely(this.#onEvent, {
      type: 'batch',
      source: SOURCE,
      count: Array.isArray(data) ? data.length : isObject(data) ? Object.keys(data).length : 0,
      bytes: response.bytes,
      durationMs: this.#clock.now() - startedAt,
      time: this.#clock.now(),
    });
    return response.body;
  }
}
