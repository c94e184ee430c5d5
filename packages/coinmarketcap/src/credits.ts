import { OptionsError } from '@tributary/core';
import { CreditBudgetExceededError } from './errors.js';

/** The endpoints whose cost {@link estimateCredits} knows. */
export type CoinMarketCapEndpoint =
  | 'listingsLatest'
  | 'listingsHistorical'
  | 'quotesLatest'
  | 'quotesHistorical'
  | 'map'
  | 'info'
  | 'globalMetricsLatest'
  | 'fiatMap';

/** What a call asks for, as far as its cost depends on it. */
export interface CreditEstimateInput {
  /** Items (coins, or historical data points) the call may return. */
  items?: number;
  /** Currencies in `convert`. */
  converts?: number;
}

// Items covered by one credit, per the "Credits" line of each endpoint in the API reference.
const ITEMS_PER_CREDIT: Readonly<Record<CoinMarketCapEndpoint, number | undefined>> = Object.freeze({
  listingsLatest: 200,
  listingsHistorical: 100,
  quotesLatest: 100,
  quotesHistorical: 100,
  info: 100,
  map: undefined,
  globalMetricsLatest: undefined,
  fiatMap: undefined,
});

const CONVERT_CHARGED: ReadonlySet<CoinMarketCapEndpoint> = new Set([
  'listingsLatest',
  'listingsHistorical',
  'quotesLatest',
  'quotesHistorical',
  'globalMetricsLatest',
]);

/**
 * Estimates the credits of one call from the documented rules, before it is sent: 1 credit per
 * 200 coins for latest listings, 1 per 100 coins (or data points) for quotes, historical listings
 * and info, 1 per call for the map, global metrics and the fiat map, rounded up, plus 1 per
 * `convert` currency beyond the first where the endpoint charges for it. The server's
 * `status.credit_count` stays the truth that the ledger records afterwards.
 *
 * @example
 * ```ts
 * estimateCredits('listingsLatest', { items: 5000, converts: 2 }); // 25 + 1 = 26
 * ```
 */
export function estimateCredits(endpoint: CoinMarketCapEndpoint, input: CreditEstimateInput = {}): number {
  const per = ITEMS_PER_CREDIT[endpoint];
  const items = Math.max(1, Math.floor(input.items ?? 1));
  const base = per === undefined ? 1 : Math.max(1, Math.ceil(items / per));
  const extraConverts = CONVERT_CHARGED.has(endpoint) ? Math.max(0, Math.floor(input.converts ?? 1) - 1) : 0;
  return base + extraConverts;
}

/** Credits used so far in the current UTC day and month. */
export interface CreditUsage {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  /** `YYYY-MM` (UTC). */
  month: string;
  usedToday: number;
  usedThisMonth: number;
  dailyBudget: number | undefined;
  monthlyBudget: number | undefined;
}

/** Options of {@link CreditLedger}. */
export interface CreditLedgerOptions {
  dailyBudget?: number;
  monthlyBudget?: number;
  /** Epoch milliseconds; injectable for tests. Default `Date.now`. */
  now?: () => number;
}

function checkBudget(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new OptionsError(`${name} must be a non-negative number (got ${String(value)})`, {
      code: 'CMC_OPTIONS_INVALID',
      option: name,
    });
  }
}

/**
 * Running totals of credits per UTC day and calendar month, and the gate that refuses a call
 * whose estimate would break a budget. Counts reset when the day or the month changes; the
 * API's own monthly cycle follows the subscription date, so a calendar month is the cautious
 * approximation.
 *
 * @example
 * ```ts
 * const ledger = new CreditLedger({ dailyBudget: 300 });
 * ledger.assertCanSpend(26, '/v1/cryptocurrency/listings/latest');
 * ledger.record(26);
 * ```
 */
export class CreditLedger {
  readonly #dailyBudget: number | undefined;
  readonly #monthlyBudget: number | undefined;
  readonly #now: () => number;
  #day = '';
  #month = '';
  #usedToday = 0;
  #usedThisMonth = 0;

  constructor(options: CreditLedgerOptions = {}) {
    checkBudget('dailyCredits', options.dailyBudget);
    checkBudget('monthlyCredits', options.monthlyBudget);
    this.#dailyBudget = options.dailyBudget;
    this.#monthlyBudget = options.monthlyBudget;
    this.#now = options.now ?? Date.now;
  }

  /** Throws {@link CreditBudgetExceededError} when `estimate` more credits would break a budget. */
  assertCanSpend(estimate: number, endpoint: string): void {
    this.#roll();
    if (this.#dailyBudget !== undefined && this.#usedToday + estimate > this.#dailyBudget) {
      throw new CreditBudgetExceededError('daily', this.#dailyBudget, this.#usedToday, estimate, endpoint);
    }
    if (this.#monthlyBudget !== undefined && this.#usedThisMonth + estimate > this.#monthlyBudget) {
      throw new CreditBudgetExceededError(
        'monthly',
        this.#monthlyBudget,
        this.#usedThisMonth,
        estimate,
        endpoint,
      );
    }
  }

  /** Adds the credits a call actually used (`status.credit_count`). */
  record(credits: number): void {
    this.#roll();
    if (!Number.isFinite(credits) || credits <= 0) return;
    this.#usedToday += credits;
    this.#usedThisMonth += credits;
  }

  /** A copy of the current totals. */
  usage(): CreditUsage {
    this.#roll();
    return {
      day: this.#day,
      month: this.#month,
      usedToday: this.#usedToday,
      usedThisMonth: this.#usedThisMonth,
      dailyBudget: this.#dailyBudget,
      monthlyBudget: this.#monthlyBudget,
    };
  }

  #roll(): void {
    const iso = new Date(this.#now()).toISOString();
    const day = iso.slice(0, 10);
    const month = iso.slice(0, 7);
    if (month !== this.#month) {
      this.#month = month;
      this.#usedThisMonth = 0;
    }
    if (day !== this.#day) {
      this.#day = day;
      this.#usedToday = 0;
    }
  }
}
