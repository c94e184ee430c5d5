import { defineSchema, field, type Infer } from '@tributary/core';

// The same exact decimal as the relational model: sums of market caps stay exact.
const amount = () => field.decimal(38, 18);

/**
 * One cryptocurrency on one UTC day, from the quote snapshots of that day in one convert currency.
 * `rank` is derived by `market_cap` at the day's close (descending, ties by id) so that
 * `rank_change` means something; it is `previous rank - rank` (positive: moved up), null on the
 * coin's first day.
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * for await (const row of readDataset({ storage: lake.curated, table: COIN_DAILY_TABLE, schema: coinDailySchema })) {
 *   console.log(row.date, row.cryptocurrency_id, row.close);
 * }
 * ```
 */
export const coinDailySchema = defineSchema(
  {
    date: field.date().describe('UTC day of the snapshots (partition dt)'),
    cryptocurrency_id: field.int32(),
    convert: field.string(),
    open: amount().nullable().describe("first snapshot's price of the day"),
    high: amount().nullable(),
    low: amount().nullable(),
    close: amount().nullable().describe("last snapshot's price of the day"),
    volume_24h: amount().nullable().describe('of the last snapshot'),
    market_cap: amount().nullable().describe('of the last snapshot'),
    dominance: amount().nullable().describe('market_cap_dominance of the last snapshot'),
    rank: field.int32().describe('by market_cap at the close, 1 = largest'),
    rank_change: field.int32().nullable().describe('previous day rank - rank; null on the first day'),
    snapshots: field.int32().describe('quote snapshots of the day'),
  },
  { primaryKey: ['date', 'cryptocurrency_id', 'convert'], description: 'daily OHLC per cryptocurrency' },
);

/**
 * The whole market on one UTC day, from {@link coinDailySchema}'s rows of that day. Percentages are
 * doubles; totals are exact decimals.
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * for await (const row of readDataset({ storage: lake.curated, table: MARKET_DAILY_TABLE, schema: marketDailySchema })) {
 *   console.log(row.date, row.total_market_cap);
 * }
 * ```
 */
export const marketDailySchema = defineSchema(
  {
    date: field.date().describe('UTC day (partition dt)'),
    convert: field.string(),
    total_market_cap: amount().describe('sum of the coins’ closing market caps'),
    total_volume_24h: amount().describe('sum of the coins’ closing volume_24h'),
    coins: field.int32(),
    top_coin_id: field.int32().nullable().describe('largest closing market cap'),
    top_coin_dominance: field.double().nullable().describe('percent of total_market_cap'),
    top_gainer_id: field.int32().nullable().describe('highest close over open'),
    top_gainer_change: field.double().nullable().describe('percent'),
    top_loser_id: field.int32().nullable().describe('lowest close over open'),
    top_loser_change: field.double().nullable().describe('percent'),
  },
  { primaryKey: ['date', 'convert'], description: 'daily market totals' },
);

export type CoinDailyRow = Infer<typeof coinDailySchema>;
export type MarketDailyRow = Infer<typeof marketDailySchema>;
