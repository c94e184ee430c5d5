// Response shapes of the CoinMarketCap Pro API, written from its reference documentation.
// Numbers stay JSON numbers here; the normalizer turns prices into NUMERIC text later.

/** The `status` object of every response. */
export interface CmcStatus {
  /** ISO 8601 time of the response. */
  timestamp: string;
  /** 0 on success. */
  error_code: number;
  error_message: string | null;
  /** Server time in milliseconds. */
  elapsed: number;
  /** Credits this call used. */
  credit_count: number;
  notice?: string | null;
  total_count?: number;
}

/** Every response: `{ status, data }`. */
export interface CmcResponse<T> {
  status: CmcStatus;
  data: T;
}

/** The parent chain of a token. */
export interface CmcPlatform {
  id: number;
  name: string;
  symbol: string;
  slug: string;
  token_address: string;
}

/** One currency in `quote` of a listing or a quotes response. */
export interface CmcQuote {
  price: number | null;
  volume_24h: number | null;
  volume_change_24h: number | null;
  percent_change_1h: number | null;
  percent_change_24h: number | null;
  percent_change_7d: number | null;
  percent_change_30d: number | null;
  percent_change_60d: number | null;
  percent_change_90d: number | null;
  market_cap: number | null;
  market_cap_dominance: number | null;
  fully_diluted_market_cap: number | null;
  tvl?: number | null;
  last_updated: string;
}

/** One cryptocurrency of `/v1/cryptocurrency/listings/latest` (and `/historical`). */
export interface CmcListing {
  id: number;
  name: string;
  symbol: string;
  slug: string;
  cmc_rank: number | null;
  num_market_pairs: number | null;
  circulating_supply: number | null;
  total_supply: number | null;
  max_supply: number | null;
  infinite_supply: boolean | null;
  last_updated: string;
  date_added: string;
  tags: string[];
  platform: CmcPlatform | null;
  self_reported_circulating_supply: number | null;
  self_reported_market_cap: number | null;
  tvl_ratio?: number | null;
  /** Keyed by `convert` currency, e.g. `quote.USD.price`. */
  quote: Record<string, CmcQuote>;
}

/** A tag of `/v2/cryptocurrency/quotes/latest`. */
export interface CmcTag {
  slug: string;
  name: string;
  category: string;
}

/** One cryptocurrency of `/v2/cryptocurrency/quotes/latest`. */
export interface CmcQuoteItem extends Omit<CmcListing, 'tags'> {
  is_active: number;
  is_fiat: number;
  tags: CmcTag[];
}

/**
 * `data` of `/v2/cryptocurrency/quotes/latest`: keyed by the id, symbol or slug asked for. Asked by
 * `symbol`, each value is an array (several coins share a symbol); by `id` or `slug`, an object.
 */
export type CmcQuotesLatestData = Record<string, CmcQuoteItem | CmcQuoteItem[]>;

/** One entry of `/v1/cryptocurrency/map`. */
export interface CmcMapItem {
  id: number;
  rank: number | null;
  name: string;
  symbol: string;
  slug: string;
  is_active: number;
  first_historical_data: string | null;
  last_historical_data: string | null;
  platform: CmcPlatform | null;
}

/** Links of `/v2/cryptocurrency/info`. */
export interface CmcUrls {
  website: string[];
  twitter: string[];
  message_board: string[];
  chat: string[];
  facebook: string[];
  explorer: string[];
  reddit: string[];
  technical_doc: string[];
  source_code: string[];
  announcement: string[];
}

/** One cryptocurrency of `/v2/cryptocurrency/info`. */
export interface CmcInfoItem {
  id: number;
  name: string;
  symbol: string;
  category: string;
  description: string;
  slug: string;
  logo: string;
  subreddit: string;
  notice: string;
  tags: string[] | null;
  'tag-names': string[] | null;
  'tag-groups': string[] | null;
  urls: CmcUrls;
  platform: CmcPlatform | null;
  date_added: string;
  date_launched: string | null;
  twitter_username: string;
  is_hidden: number;
  infinite_supply: boolean;
  self_reported_circulating_supply: number | null;
  self_reported_tags: string[] | null;
  self_reported_market_cap: number | null;
}

/** `data` of `/v2/cryptocurrency/info`: like quotes, arrays when asked by `symbol`. */
export type CmcInfoData = Record<string, CmcInfoItem | CmcInfoItem[]>;

/** One currency in `quote` of `/v1/global-metrics/quotes/latest`. */
export interface CmcGlobalQuote {
  total_market_cap: number;
  total_volume_24h: number;
  total_volume_24h_reported: number;
  altcoin_volume_24h: number;
  altcoin_volume_24h_reported: number;
  altcoin_market_cap: number;
  defi_volume_24h: number;
  defi_market_cap: number;
  stablecoin_volume_24h: number;
  stablecoin_market_cap: number;
  derivatives_volume_24h: number;
  total_market_cap_yesterday: number;
  total_volume_24h_yesterday: number;
  total_market_cap_yesterday_percentage_change: number;
  total_volume_24h_yesterday_percentage_change: number;
  last_updated: string;
}

/** `data` of `/v1/global-metrics/quotes/latest`. */
export interface CmcGlobalMetrics {
  active_cryptocurrencies: number;
  total_cryptocurrencies: number;
  active_market_pairs: number;
  active_exchanges: number;
  total_exchanges: number;
  eth_dominance: number;
  btc_dominance: number;
  eth_dominance_yesterday: number;
  btc_dominance_yesterday: number;
  eth_dominance_24h_percentage_change: number;
  btc_dominance_24h_percentage_change: number;
  defi_volume_24h: number;
  defi_market_cap: number;
  stablecoin_volume_24h: number;
  stablecoin_market_cap: number;
  derivatives_volume_24h: number;
  quote: Record<string, CmcGlobalQuote>;
  last_updated: string;
}

/** One entry of `/v1/fiat/map`. */
export interface CmcFiat {
  id: number;
  name: string;
  sign: string;
  symbol: string;
}

/** One point of `/v2/cryptocurrency/quotes/historical`. */
export interface CmcHistoricalQuotePoint {
  timestamp: string;
  quote: Record<
    string,
    {
      price: number | null;
      volume_24h: number | null;
      market_cap: number | null;
      circulating_supply: number | null;
      total_supply: number | null;
      timestamp: string;
    }
  >;
}

/** One cryptocurrency of `/v2/cryptocurrency/quotes/historical`. */
export interface CmcHistoricalQuotes {
  id: number;
  name: string;
  symbol: string;
  is_active: number;
  is_fiat: number;
  quotes: CmcHistoricalQuotePoint[];
}

/** `data` of `/v2/cryptocurrency/quotes/historical`, keyed by id (arrays when asked by symbol). */
export type CmcQuotesHistoricalData = Record<string, CmcHistoricalQuotes | CmcHistoricalQuotes[]>;
