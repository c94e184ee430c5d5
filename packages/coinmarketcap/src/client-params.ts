// The endpoints' parameters and their checks: what a call may ask for, refused before the rate
// limiter, the credit budget and the network.
import { OptionsError } from '@tributary/core';
import type { CmcListing, CmcResponse } from './types.js';

/** Most items per listings call (`limit`), and most `convert` currencies per call: the API's caps. */
export const MAX_LIMIT = 5000;
export const MAX_CONVERTS = 120;

/** One currency code, several comma-separated, or a list of them. */
export type Convert = string | readonly string[];

/** Parameters of {@link CoinMarketCapClient.listingsLatest}. */
export interface ListingsLatestParams {
  /** 1-based offset. Default 1. */
  start?: number;
  /** 1–5000. Default 100. */
  limit?: number;
  convert?: Convert;
  sort?:
    | 'market_cap'
    | 'name'
    | 'symbol'
    | 'date_added'
    | 'market_cap_strict'
    | 'price'
    | 'circulating_supply'
    | 'total_supply'
    | 'max_supply'
    | 'num_market_pairs'
    | 'volume_24h'
    | 'percent_change_1h'
    | 'percent_change_24h'
    | 'percent_change_7d'
    | 'cmc_rank';
  sort_dir?: 'asc' | 'desc';
  cryptocurrency_type?: 'all' | 'coins' | 'tokens';
  tag?: string;
  aux?: string;
  price_min?: number;
  price_max?: number;
  market_cap_min?: number;
  market_cap_max?: number;
  volume_24h_min?: number;
  volume_24h_max?: number;
}

/** Parameters of {@link CoinMarketCapClient.listingsAll}. */
export interface ListingsAllParams extends Omit<ListingsLatestParams, 'start' | 'limit'> {
  /** Stop after this many coins in total. Default: every coin. */
  limit?: number;
  /** Coins per request, 1–5000. Default 5000. */
  pageSize?: number;
}

/** One page of {@link CoinMarketCapClient.listingsAll}. */
export interface ListingsPage {
  /** The 1-based `start` of this page. */
  start: number;
  data: CmcListing[];
  status: CmcResponse<CmcListing[]>['status'];
}

/** Parameters of {@link CoinMarketCapClient.listingsHistorical}. */
export interface ListingsHistoricalParams extends Omit<ListingsLatestParams, 'price_min' | 'price_max'> {
  /** ISO 8601 date or Unix time. */
  date: string;
}

/** Exactly one of `id`, `symbol` and `slug`. */
export type CoinSelector =
  | { id: number | readonly number[]; symbol?: never; slug?: never }
  | { symbol: string | readonly string[]; id?: never; slug?: never }
  | { slug: string | readonly string[]; id?: never; symbol?: never };

/** Parameters of {@link CoinMarketCapClient.quotesLatest}. */
export type QuotesLatestParams = CoinSelector & { convert?: Convert; aux?: string; skip_invalid?: boolean };

/** Parameters of {@link CoinMarketCapClient.quotesHistorical}. */
export type QuotesHistoricalParams = CoinSelector & {
  time_start?: string;
  time_end?: string;
  /** Data points to return, 1–10000. Default 10. */
  count?: number;
  interval?: string;
  convert?: Convert;
  aux?: string;
  skip_invalid?: boolean;
};

/** Parameters of {@link CoinMarketCapClient.map}. */
export interface MapParams {
  listing_status?: 'active' | 'inactive' | 'untracked' | string;
  start?: number;
  limit?: number;
  sort?: 'id' | 'cmc_rank';
  symbol?: string | readonly string[];
  aux?: string;
}

/** Parameters of {@link CoinMarketCapClient.info}. */
export type InfoParams = CoinSelector & { aux?: string; skip_invalid?: boolean };

/** Parameters of {@link CoinMarketCapClient.globalMetricsLatest}. */
export interface GlobalMetricsParams {
  convert?: Convert;
}

/** Parameters of {@link CoinMarketCapClient.fiatMap}. */
export interface FiatMapParams {
  start?: number;
  limit?: number;
  sort?: 'id' | 'name';
  include_metals?: boolean;
}

/** A query string's values before encoding: lists are sent comma-separated. */
export type Query = Record<string, string | number | boolean | readonly (string | number)[] | undefined>;

/** The client's options error: `CMC_OPTIONS_INVALID`, naming the option or parameter. */
export function invalid(message: string, option: string): OptionsError {
  return new OptionsError(message, { code: 'CMC_OPTIONS_INVALID', option });
}

/** An integer parameter within `[min, max]`, when given. */
export function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max} (got ${String(value)})`, name);
  }
}

function list(value: string | number | readonly (string | number)[]): (string | number)[] {
  return Array.isArray(value) ? [...value] : [value as string | number];
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `convert` currencies as a list, checked against the plan's most per call. */
export function checkConverts(convert: Convert | undefined, max: number): string[] | undefined {
  if (convert === undefined) return undefined;
  const values = (typeof convert === 'string' ? convert.split(',') : [...convert]).map((c) =>
    String(c).trim(),
  );
  if (values.length === 0 || values.some((c) => c === ''))
    throw invalid('convert must list non-empty currency codes', 'convert');
  if (values.length > max)
    throw invalid(`convert lists ${values.length} currencies; the plan allows ${max}`, 'convert');
  return values;
}

/** Validates "exactly one of id, symbol, slug" and returns how many coins it names. */
export function selectedCount(params: unknown): number {
  if (!isObject(params)) throw invalid('expected { id } or { symbol } or { slug }', 'params');
  const given = (['id', 'symbol', 'slug'] as const).filter((k) => params[k] !== undefined);
  const [which] = given;
  if (given.length !== 1 || which === undefined) {
    throw invalid(
      `give exactly one of id, symbol and slug (got ${given.length === 0 ? 'none' : given.join(', ')})`,
      'params',
    );
  }
  const values = list(params[which] as string | number | readonly (string | number)[]);
  if (values.length === 0) throw invalid(`${which} must not be empty`, which);
  if (which === 'id' && values.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1)) {
    throw invalid('id must be positive integers', 'id');
  }
  return values.length;
}
