import { decimalToUnscaled, unscaledToDecimal } from '@tributary/core';
import type { CoinDailyRow, MarketDailyRow } from './curated-schemas.js';
import type { QuoteRow } from './schemas.js';

// The figures of the curated crypto tables, computed on 18-digit scaled BigInts (the scale of the
// quote table's decimals), never on floats; only percentages are doubles.

const SCALE = 18;

const unscaled = (value: string | null): bigint | null =>
  value === null ? null : decimalToUnscaled(value, SCALE);
const text = (value: bigint | null): string | null =>
  value === null ? null : unscaledToDecimal(value, SCALE);

/** `(close - open) / open` in percent; BigInt first so the only rounding is the final double. */
function percentChange(open: bigint | null, close: bigint | null): number | null {
  if (open === null || close === null || open === 0n) return null;
  return Number(((close - open) * 10n ** 12n) / open) / 1e10;
}

function sortDesc(values: (bigint | null)[]): (a: number, b: number) => number {
  return (a, b) => {
    const x = values[a] ?? null;
    const y = values[b] ?? null;
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return x > y ? -1 : x < y ? 1 : 0;
  };
}

/** The coin-day rows of one day's quotes (sorted by time), ranked by closing market cap. */
export function coinDays(
  date: string,
  convert: string,
  quotes: readonly QuoteRow[],
  previousRank: Map<number, number>,
) {
  const byCoin = new Map<number, QuoteRow[]>();
  for (const q of quotes) {
    const list = byCoin.get(q.cryptocurrency_id);
    if (list) list.push(q);
    else byCoin.set(q.cryptocurrency_id, [q]);
  }
  const rows: CoinDailyRow[] = [];
  const caps: (bigint | null)[] = [];
  for (const [id, list] of [...byCoin.entries()].sort((a, b) => a[0] - b[0])) {
    const first = list[0] as QuoteRow;
    const last = list[list.length - 1] as QuoteRow;
    let high: bigint | null = null;
    let low: bigint | null = null;
    for (const q of list) {
      const price = unscaled(q.price);
      if (price === null) continue;
      if (high === null || price > high) high = price;
      if (low === null || price < low) low = price;
    }
    caps.push(unscaled(last.market_cap));
    rows.push({
      date,
      cryptocurrency_id: id,
      convert,
      open: first.price,
      high: text(high),
      low: text(low),
      close: last.price,
      volume_24h: last.volume_24h,
      market_cap: last.market_cap,
      dominance: last.market_cap_dominance,
      rank: 0,
      rank_change: null,
      snapshots: list.length,
    });
  }
  const order = rows.map((_, i) => i).sort((a, b) => sortDesc(caps)(a, b) || a - b);
  order.forEach((index, position) => {
    const row = rows[index] as CoinDailyRow;
    row.rank = position + 1;
    const before = previousRank.get(row.cryptocurrency_id);
    row.rank_change = before === undefined ? null : before - row.rank;
  });
  return { rows, order };
}

export function marketDay(
  date: string,
  convert: string,
  rows: readonly CoinDailyRow[],
  order: readonly number[],
): MarketDailyRow {
  let cap = 0n;
  let volume = 0n;
  let gainer: { id: number; change: number } | null = null;
  let loser: { id: number; change: number } | null = null;
  for (const row of rows) {
    cap += unscaled(row.market_cap) ?? 0n;
    volume += unscaled(row.volume_24h) ?? 0n;
    const change = percentChange(unscaled(row.open), unscaled(row.close));
    if (change === null) continue;
    if (gainer === null || change > gainer.change) gainer = { id: row.cryptocurrency_id, change };
    if (loser === null || change < loser.change) loser = { id: row.cryptocurrency_id, change };
  }
  const top = order.length > 0 ? (rows[order[0] as number] as CoinDailyRow) : undefined;
  const topCap = top ? unscaled(top.market_cap) : null;
  return {
    date,
    convert,
    total_market_cap: text(cap) as string,
    total_volume_24h: text(volume) as string,
    coins: rows.length,
    top_coin_id: top && topCap !== null ? top.cryptocurrency_id : null,
    top_coin_dominance: topCap === null || cap === 0n ? null : Number((topCap * 10n ** 12n) / cap) / 1e10,
    top_gainer_id: gainer?.id ?? null,
    top_gainer_change: gainer?.change ?? null,
    top_loser_id: loser?.id ?? null,
    top_loser_change: loser?.change ?? null,
  };
}
