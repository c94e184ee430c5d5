import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TributaryError } from '@tributary/core';
import {
  FIXTURE_NOTICE,
  type FixtureCoin,
  type FixtureOptions,
  generateFixtures,
} from '../fixtures/generate.js';
import { estimateCredits } from './credits.js';
import type { CmcHistoricalQuotes, CmcQuoteItem } from './types.js';

/** One scripted fault, used for one request (whatever its endpoint), in order. */
export interface FixtureFault {
  /** HTTP status. Default 500 (429 for `credits`, 200 for `truncated`). */
  status?: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** `status.error_code`. Default: 1008 for 429, the HTTP status otherwise. */
  errorCode?: number;
  errorMessage?: string;
  /** A raw body instead of the JSON envelope (e.g. an HTML error page). */
  body?: string;
  /** Sends half of a valid body, announces the full length, and cuts the connection. */
  truncated?: boolean;
  /** The daily (1009) or monthly (1010) credit limit. */
  credits?: 'daily' | 'monthly';
}

/** A request the server received. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The `X-CMC_PRO_API_KEY` header as received (the server is a test double). */
  apiKey: string | undefined;
}

/** Options of {@link startFixtureServer}. */
export interface FixtureServerOptions extends FixtureOptions {
  /** The snapshot served first. Default 0. */
  snapshot?: number;
  /** Faults for the first requests. */
  failures?: FixtureFault[];
  /** When set, any other key is refused with 401/1001. A missing key is always 401/1002. */
  apiKey?: string;
}

/** A running fixture server. */
export interface FixtureServer {
  /** `http://127.0.0.1:<port>`: pass it as the client's `baseUrl`. */
  readonly baseUrl: string;
  readonly snapshots: number;
  /** Serves another snapshot from now on (history moves one day per snapshot). */
  setSnapshot(snapshot: number): void;
  /** Queues faults for the next requests. */
  fail(nextResponses: FixtureFault[]): void;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** The generated dataset (for assertions). */
  readonly dataset: ReturnType<typeof generateFixtures>;
  stop(): Promise<void>;
  /** The same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const ERROR_MESSAGES: Readonly<Record<number, string>> = {
  1001: 'This API Key is invalid.',
  1002: 'API key missing.',
  1008: "You've exceeded your API Key's HTTP request rate limit. Rate limits reset every minute.",
  1009: "You've exceeded your API Key's daily rate limit.",
  1010: "You've exceeded your API Key's monthly rate limit.",
};

class HttpFailure extends Error {
  constructor(
    readonly httpStatus: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

function bad(message: string): HttpFailure {
  return new HttpFailure(400, 400, message);
}

function intParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw bad(`Invalid value for "${name}": "${raw}"`);
  return value;
}

function csv(query: URLSearchParams, name: string): string[] | undefined {
  const raw = query.get(name);
  return raw === null ? undefined : raw.split(',').map((s) => s.trim());
}

/**
 * Starts a loopback HTTP server that answers like the CoinMarketCap Pro API from synthetic,
 * seeded data (see `fixtures/README.md`), with scripted faults for tests. It requires the
 * `X-CMC_PRO_API_KEY` header and charges `credit_count` per the client's estimator.
 *
 * @example
 * ```ts
 * import { startFixtureServer } from '@tributary/coinmarketcap/testing';
 *
 * const server = await startFixtureServer({ failures: [{ status: 429, retryAfter: 1, errorCode: 1008 }] });
 * const cmc = new CoinMarketCapClient({ baseUrl: server.baseUrl, apiKey: 'fixture' });
 * await cmc.listingsLatest({ limit: 10 });
 * await server.stop();
 * ```
 */
export async function startFixtureServer(options: FixtureServerOptions = {}): Promise<FixtureServer> {
  const dataset = generateFixtures(options);
  const faults: FixtureFault[] = [...(options.failures ?? [])];
  const requests: RecordedRequest[] = [];
  let snapshot = 0;
  const setSnapshot = (n: number): void => {
    if (!Number.isInteger(n) || n < 0 || n >= dataset.snapshots) {
      throw new TributaryError(`snapshot must be an integer from 0 to ${dataset.snapshots - 1} (got ${n})`, {
        code: 'ARGUMENT_INVALID',
      });
    }
    snapshot = n;
  };
  setSnapshot(options.snapshot ?? 0);

  const byId = new Map(dataset.coins.map((c) => [String(c.id), c]));
  const bySlug = new Map(dataset.coins.map((c) => [c.slug, c]));
  const bySymbol = new Map(dataset.coins.map((c) => [c.symbol, c]));

  const envelope = (data: unknown, credits: number, totalCount?: number): string =>
    JSON.stringify({
      status: {
        timestamp: new Date().toISOString(),
        error_code: 0,
        error_message: null,
        elapsed: 1,
        credit_count: credits,
        notice: FIXTURE_NOTICE,
        ...(totalCount === undefined ? {} : { total_count: totalCount }),
      },
      data,
    });

  const converts = (query: URLSearchParams): string[] => {
    const list = csv(query, 'convert') ?? ['USD'];
    for (const code of list)
      if (!dataset.knowsCurrency(code)) throw bad(`Invalid value for "convert": "${code}"`);
    return list;
  };

  /** Resolves id|symbol|slug into [key, coins] pairs, as v2 endpoints key their `data`. */
  const select = (query: URLSearchParams): { bySymbol: boolean; entries: [string, FixtureCoin[]][] } => {
    const given = ['id', 'symbol', 'slug'].filter((k) => query.has(k));
    if (given.length !== 1) throw bad('"value" must contain at least one of [id, symbol, slug]');
    const which = given[0] as 'id' | 'symbol' | 'slug';
    const keys = csv(query, which) ?? [];
    const index = which === 'id' ? byId : which === 'slug' ? bySlug : bySymbol;
    const entries: [string, FixtureCoin[]][] = keys.map((key) => {
      const coin = index.get(which === 'symbol' ? key.toUpperCase() : key);
      if (coin === undefined) throw bad(`Invalid value for "${which}": "${key}"`);
      return [which === 'symbol' ? key.toUpperCase() : key, [coin]];
    });
    return { bySymbol: which === 'symbol', entries };
  };

  const route = (path: string, query: URLSearchParams): string => {
    switch (path) {
      case '/v1/cryptocurrency/listings/latest':
      case '/v1/cryptocurrency/listings/historical': {
        const start = intParam(query, 'start', 1, Number.MAX_SAFE_INTEGER);
        const limit = intParam(query, 'limit', 100, 5000);
        const codes = converts(query);
        let at = snapshot;
        if (path.endsWith('historical')) {
          const date = query.get('date');
          const ms = date === null ? Number.NaN : /^\d+$/.test(date) ? Number(date) * 1000 : Date.parse(date);
          if (Number.isNaN(ms)) throw bad('"date" is required');
          at = Math.max(
            0,
            Math.min(
              dataset.snapshots - 1,
              Math.floor((ms - Date.parse(dataset.snapshotTime(0))) / 86_400_000),
            ),
          );
        }
        const page = dataset.listings(at, codes).slice(start - 1, start - 1 + limit);
        const endpoint = path.endsWith('historical') ? 'listingsHistorical' : 'listingsLatest';
        return envelope(
          page,
          estimateCredits(endpoint, { items: page.length, converts: codes.length }),
          dataset.coins.length,
        );
      }
      case '/v2/cryptocurrency/quotes/latest': {
        const codes = converts(query);
        const picked = select(query);
        const listings = new Map(dataset.listings(snapshot, codes).map((l) => [l.id, l]));
        const item = (coin: FixtureCoin): CmcQuoteItem => {
          const listing = listings.get(coin.id);
          if (listing === undefined) throw new HttpFailure(500, 500, 'fixture inconsistency');
          return {
            ...listing,
            is_active: 1,
            is_fiat: 0,
            tags: coin.tags.map((t) => ({ slug: t, name: t.replace(/-/g, ' '), category: 'OTHERS' })),
          };
        };
        const data = Object.fromEntries(
          picked.entries.map(([key, list]) => [
            key,
            picked.bySymbol ? list.map(item) : item(list[0] as FixtureCoin),
          ]),
        );
        return envelope(
          data,
          estimateCredits('quotesLatest', { items: picked.entries.length, converts: codes.length }),
        );
      }
      case '/v2/cryptocurrency/quotes/historical': {
        const codes = converts(query);
        const picked = select(query);
        const from = Date.parse(query.get('time_start') ?? dataset.snapshotTime(0));
        const to = Date.parse(query.get('time_end') ?? dataset.snapshotTime(dataset.snapshots - 1));
        const count = intParam(query, 'count', 10, 10_000);
        const series = (coin: FixtureCoin): CmcHistoricalQuotes => {
          const quotes = [];
          for (let s = 0; s < dataset.snapshots && quotes.length < count; s++) {
            const t = Date.parse(dataset.snapshotTime(s));
            if (t < from || t > to) continue;
            const listing = dataset.listings(s, codes).find((l) => l.id === coin.id);
            quotes.push({
              timestamp: dataset.snapshotTime(s),
              quote: Object.fromEntries(
                codes.map((code) => {
                  const q = listing?.quote[code];
                  return [
                    code,
                    {
                      price: q?.price ?? null,
                      volume_24h: q?.volume_24h ?? null,
                      market_cap: q?.market_cap ?? null,
                      circulating_supply: listing?.circulating_supply ?? null,
                      total_supply: listing?.total_supply ?? null,
                      timestamp: dataset.snapshotTime(s),
                    },
                  ];
                }),
              ),
            });
          }
          return { id: coin.id, name: coin.name, symbol: coin.symbol, is_active: 1, is_fiat: 0, quotes };
        };
        const data = Object.fromEntries(
          picked.entries.map(([key, list]) => [
            key,
            picked.bySymbol ? list.map(series) : series(list[0] as FixtureCoin),
          ]),
        );
        const points = picked.entries.length * count;
        return envelope(data, estimateCredits('quotesHistorical', { items: points, converts: codes.length }));
      }
      case '/v1/cryptocurrency/map': {
        const start = intParam(query, 'start', 1, Number.MAX_SAFE_INTEGER);
        const limit = intParam(query, 'limit', 5000, 5000);
        const status = query.get('listing_status') ?? 'active';
        const symbols = csv(query, 'symbol')?.map((s) => s.toUpperCase());
        let items = status.split(',').includes('active') ? dataset.map() : [];
        if (symbols !== undefined) items = items.filter((m) => symbols.includes(m.symbol));
        return envelope(items.slice(start - 1, start - 1 + limit), estimateCredits('map'));
      }
      case '/v2/cryptocurrency/info': {
        const picked = select(query);
        const data = Object.fromEntries(
          picked.entries.map(([key, list]) => [
            key,
            picked.bySymbol ? list.map(dataset.info) : dataset.info(list[0] as FixtureCoin),
          ]),
        );
        return envelope(data, estimateCredits('info', { items: picked.entries.length }));
      }
      case '/v1/global-metrics/quotes/latest': {
        const codes = converts(query);
        return envelope(
          dataset.globalMetrics(snapshot, codes),
          estimateCredits('globalMetricsLatest', { converts: codes.length }),
        );
      }
      case '/v1/fiat/map': {
        const start = intParam(query, 'start', 1, Number.MAX_SAFE_INTEGER);
        const limit = intParam(query, 'limit', 5000, 5000);
        return envelope(dataset.fiats.slice(start - 1, start - 1 + limit), estimateCredits('fiatMap'));
      }
      default:
        throw new HttpFailure(404, 404, `Not found: ${path}`);
    }
  };

  const sendError = (
    res: ServerResponse,
    httpStatus: number,
    errorCode: number,
    message: string,
    retryAfter?: number,
  ) => {
    const body = JSON.stringify({
      status: {
        timestamp: new Date().toISOString(),
        error_code: errorCode,
        error_message: message,
        elapsed: 0,
        credit_count: 0,
        notice: FIXTURE_NOTICE,
      },
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8' };
    if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
    res.writeHead(httpStatus, headers).end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const header = req.headers['x-cmc_pro_api_key'];
    const apiKey = Array.isArray(header) ? header[0] : header;
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      apiKey,
    });
    const fault = faults.shift();
    if (fault !== undefined) {
      if (fault.truncated) {
        const body = envelope(dataset.listings(snapshot, ['USD']).slice(0, 20), 1);
        res.writeHead(fault.status ?? 200, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': String(Buffer.byteLength(body)),
        });
        res.write(body.slice(0, Math.floor(body.length / 2)));
        // Give the half body time to leave before the connection drops.
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (fault.body !== undefined) {
        const html = fault.body.trimStart().startsWith('<');
        res
          .writeHead(fault.status ?? 500, { 'Content-Type': html ? 'text/html' : 'application/json' })
          .end(fault.body);
        return;
      }
      const status = fault.status ?? (fault.credits ? 429 : 500);
      const code =
        fault.errorCode ??
        (fault.credits === 'daily'
          ? 1009
          : fault.credits === 'monthly'
            ? 1010
            : status === 429
              ? 1008
              : status);
      sendError(
        res,
        status,
        code,
        fault.errorMessage ?? ERROR_MESSAGES[code] ?? `HTTP ${status}`,
        fault.retryAfter,
      );
      return;
    }
    if (apiKey === undefined || apiKey === '') {
      sendError(res, 401, 1002, ERROR_MESSAGES[1002] ?? '');
      return;
    }
    if (options.apiKey !== undefined && apiKey !== options.apiKey) {
      sendError(res, 401, 1001, ERROR_MESSAGES[1001] ?? '');
      return;
    }
    try {
      const body = route(url.pathname, url.searchParams);
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' }).end(body);
    } catch (err) {
      if (err instanceof HttpFailure) sendError(res, err.httpStatus, err.errorCode, err.message);
      else sendError(res, 500, 500, 'An internal server error occurred');
    }
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
    return stopping;
  };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    snapshots: dataset.snapshots,
    setSnapshot,
    fail: (next) => {
      faults.push(...next);
    },
    requests,
    dataset,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
