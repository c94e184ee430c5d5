import { normalizeDecimal, parseIsoTimestamp } from '@tributary/core';
import { CoinMarketCapNormalizeError } from './errors.js';
import type { CryptocurrencyRow, CryptocurrencyTagRow, PlatformRow, QuoteRow, TagRow } from './schemas.js';
import type {
  CmcListing,
  CmcQuote,
  CmcQuoteItem,
  CmcQuotesLatestData,
  CmcResponse,
  CmcTag,
} from './types.js';

export { CoinMarketCapNormalizeError };

/** The rows of one API response, per table of the relational model. */
export interface NormalizedListings {
  cryptocurrency: CryptocurrencyRow[];
  platform: PlatformRow[];
  tag: TagRow[];
  cryptocurrency_tag: CryptocurrencyTagRow[];
  quote: QuoteRow[];
}

/** Options of {@link normalizeListings} and {@link normalizeQuotes}. */
export interface NormalizeOptions {
  /** The convert currencies to keep (e.g. `'USD'` or `['USD', 'EUR']`). Default: every one in the response. */
  convert?: string | readonly string[];
}

const PRECISION = 38;
const SCALE = 18;

function decimal(value: number | null | undefined, path: string): string | null {
  if (value === null || value === undefined) return null;
  // normalizeDecimal reads a number through String(n), its shortest round-trip text: 0.1 stays 0.1.
  const out = normalizeDecimal(value, PRECISION, SCALE);
  if (typeof out === 'string') return out;
  throw new CoinMarketCapNormalizeError(
    `${path} = ${String(value)} does not fit NUMERIC(${PRECISION},${SCALE}) (${out.problem})`,
    path,
    value,
  );
}

function int32OrNull(value: number | null | undefined, path: string): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) {
    throw new CoinMarketCapNormalizeError(`${path} = ${String(value)} is not a 32-bit integer`, path, value);
  }
  return value;
}

function timestamp(value: string, path: string): Date {
  const time = typeof value === 'string' ? parseIsoTimestamp(value) : undefined;
  if (time === undefined) {
    throw new CoinMarketCapNormalizeError(
      `${path} = ${String(value)} is not an ISO-8601 timestamp`,
      path,
      value,
    );
  }
  return new Date(time);
}

function convertFilter(options: NormalizeOptions): (code: string) => boolean {
  if (options.convert === undefined) return () => true;
  const wanted = new Set(typeof options.convert === 'string' ? [options.convert] : options.convert);
  return (code) => wanted.has(code);
}

class Collector {
  readonly cryptocurrency = new Map<number, CryptocurrencyRow>();
  readonly platform = new Map<number, PlatformRow>();
  readonly tag = new Map<string, TagRow>();
  readonly cryptocurrencyTag = new Map<string, CryptocurrencyTagRow>();
  readonly quote = new Map<string, QuoteRow>();

  constructor(private readonly keepConvert: (code: string) => boolean) {}

  add(item: CmcListing | CmcQuoteItem, path: string): void {
    // A coin twice in one response (pages that shifted under us): its first row wins.
    if (this.cryptocurrency.has(item.id)) return;
    const platform = item.platform;
    if (platform) {
      this.platform.set(platform.id, {
        id: platform.id,
        name: platform.name,
        symbol: platform.symbol,
        slug: platform.slug,
      });
    }
    this.cryptocurrency.set(item.id, {
      id: item.id,
      name: item.name,
      symbol: item.symbol,
      slug: item.slug,
      cmc_rank: int32OrNull(item.cmc_rank, `${path}.cmc_rank`),
      num_market_pairs: int32OrNull(item.num_market_pairs, `${path}.num_market_pairs`),
      circulating_supply: decimal(item.circulating_supply, `${path}.circulating_supply`),
      total_supply: decimal(item.total_supply, `${path}.total_supply`),
      max_supply: decimal(item.max_supply, `${path}.max_supply`),
      infinite_supply: item.infinite_supply ?? null,
      date_added: timestamp(item.date_added, `${path}.date_added`),
      last_updated: timestamp(item.last_updated, `${path}.last_updated`),
      platform_id: platform ? platform.id : null,
      token_address: platform?.token_address ? platform.token_address : null,
    });
    for (const tag of item.tags ?? []) this.addTag(item.id, tag);
    for (const [convert, quote] of Object.entries(item.quote ?? {})) {
      if (this.keepConvert(convert)) this.addQuote(item.id, convert, quote, `${path}.quote.${convert}`);
    }
  }

  private addTag(id: number, tag: string | CmcTag): void {
    const row: TagRow =
      typeof tag === 'string'
        ? { slug: tag, name: null, category: null }
        : { slug: tag.slug, name: tag.name ?? null, category: tag.category ?? null };
    const seen = this.tag.get(row.slug);
    // Listings name tags by slug only; a name or category seen anywhere in the response is kept.
    this.tag.set(row.slug, {
      slug: row.slug,
      name: row.name ?? seen?.name ?? null,
      category: row.category ?? seen?.category ?? null,
    });
    this.cryptocurrencyTag.set(`${id}\u0000${row.slug}`, { cryptocurrency_id: id, tag_slug: row.slug });
  }

  private addQuote(id: number, convert: string, quote: CmcQuote, path: string): void {
    const lastUpdated = timestamp(quote.last_updated, `${path}.last_updated`);
    const key = `${id}\u0000${convert}\u0000${lastUpdated.getTime()}`;
    if (this.quote.has(key)) return;
    this.quote.set(key, {
      cryptocurrency_id: id,
      convert,
      last_updated: lastUpdated,
      price: decimal(quote.price, `${path}.price`),
      volume_24h: decimal(quote.volume_24h, `${path}.volume_24h`),
      volume_change_24h: decimal(quote.volume_change_24h, `${path}.volume_change_24h`),
      percent_change_1h: decimal(quote.percent_change_1h, `${path}.percent_change_1h`),
      percent_change_24h: decimal(quote.percent_change_24h, `${path}.percent_change_24h`),
      percent_change_7d: decimal(quote.percent_change_7d, `${path}.percent_change_7d`),
      percent_change_30d: decimal(quote.percent_change_30d, `${path}.percent_change_30d`),
      market_cap: decimal(quote.market_cap, `${path}.market_cap`),
      market_cap_dominance: decimal(quote.market_cap_dominance, `${path}.market_cap_dominance`),
      fully_diluted_market_cap: decimal(quote.fully_diluted_market_cap, `${path}.fully_diluted_market_cap`),
    });
  }

  result(): NormalizedListings {
    return {
      cryptocurrency: [...this.cryptocurrency.values()],
      platform: [...this.platform.values()],
      tag: [...this.tag.values()],
      cryptocurrency_tag: [...this.cryptocurrencyTag.values()],
      quote: [...this.quote.values()],
    };
  }
}

/**
 * Turn `/v1/cryptocurrency/listings/latest` (or `/historical`) data into rows of the relational
 * model: numbers become exact NUMERIC(38,18) text (from each JSON number's shortest decimal
 * form, never through float arithmetic), timestamps Dates; platforms and tags appear once.
 *
 * @example
 * ```ts
 * const { data } = await cmc.listingsLatest({ limit: 500, convert: ['USD'] });
 * const rows = normalizeListings(data, { convert: 'USD' });
 * await store.load(rows, { source: 'listings/latest', creditsUsed: 2 });
 * ```
 */
export function normalizeListings(
  listings: readonly CmcListing[],
  options: NormalizeOptions = {},
): NormalizedListings {
  const collector = new Collector(convertFilter(options));
  listings.forEach((listing, i) => {
    collector.add(listing, `[${i}]`);
  });
  return collector.result();
}

/**
 * Turn a `/v2/cryptocurrency/quotes/latest` response (or its `data`) into rows of the relational
 * model; values that are arrays (asked by symbol) contribute every coin they hold.
 *
 * @example
 * ```ts
 * const response = await cmc.quotesLatest({ id: [1, 1027] });
 * const rows = normalizeQuotes(response);
 * ```
 */
export function normalizeQuotes(
  response: CmcResponse<CmcQuotesLatestData> | CmcQuotesLatestData,
  options: NormalizeOptions = {},
): NormalizedListings {
  const data = isResponse(response) ? response.data : response;
  const collector = new Collector(convertFilter(options));
  for (const [key, value] of Object.entries(data)) {
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => {
      collector.add(item, Array.isArray(value) ? `${key}[${i}]` : key);
    });
  }
  return collector.result();
}

function isResponse(
  value: CmcResponse<CmcQuotesLatestData> | CmcQuotesLatestData,
): value is CmcResponse<CmcQuotesLatestData> {
  const status = (value as { status?: unknown }).status;
  return (
    typeof status === 'object' &&
    status !== null &&
    'error_code' in status &&
    typeof (value as { data?: unknown }).data === 'object'
  );
}
