import {
  COIN_DAILY_TABLE,
  CoinMarketCapClient,
  coinDailySchema,
  cryptocurrencySchema,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  exportTables,
  installChangeCapture,
  normalizeListings,
  PostgresStore,
  PROCESSED_CRYPTOCURRENCY_TABLE,
} from '@tributary/coinmarketcap';
import { startFixtureServer } from '@tributary/coinmarketcap/testing';
import { loadConfig } from '@tributary/core';
import { type Lake, type LakeTableFormat, localLake, readDataset } from '@tributary/lake';
import { startPostgres } from '@tributary/local';
import pg from 'pg';

export interface CryptoToPostgresOptions {
  /** Where the lake's zones go. */
  out: string;
  /** Snapshots to load, a day apart (fixtures only; the live API gives the current one). Default 3. */
  snapshots?: number;
  /** Coins per snapshot (the fixtures hold 300). Default: all. */
  coins?: number;
  /** The processed and curated tables' format: `iceberg` (default, Apache Iceberg tables) or `hive`. */
  tableFormat?: LakeTableFormat;
  env?: Record<string, string | undefined>;
}

export interface TopCoin {
  rank: number;
  name: string;
  symbol: string;
  close: string;
  marketCap: string;
  /** Percent change of the closing price over the previous day; null on the first day. */
  change24h: number | null;
}

export interface CryptoToPostgresResult {
  source: 'fixtures' | 'coinmarketcap';
  snapshots: number;
  loaded: number;
  exportedFiles: number;
  processed: { cryptocurrencies: number; quotes: number };
  curatedDays: number;
  top10: TopCoin[];
  lake: Lake;
}

/**
 * The batch pipeline on the embedded local stack: listings from CoinMarketCap (the bundled
 * synthetic fixtures served on loopback, or the live API when CMC_API_KEY is set) → PostgreSQL
 * (embedded, unless DATABASE_URL is set) → DMS-style export into the raw zone (full load, then CDC)
 * → processed → curated; then the top 10 coins by market cap on the last day.
 */
export async function runCryptoToPostgres(options: CryptoToPostgresOptions): Promise<CryptoToPostgresResult> {
  const env = options.env ?? process.env;
  const config = loadConfig({ ...env, TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: options.out });
  const lake = localLake(config);
  const live = config.coinmarketcap.apiKey !== undefined;
  const snapshots = live ? 1 : (options.snapshots ?? 3);
  const server = config.database.url ? undefined : await startPostgres();
  const fixtures = live ? undefined : await startFixtureServer();
  const pool = new pg.Pool({ connectionString: config.database.url?.reveal() ?? server?.url });
  try {
    const client = live
      ? new CoinMarketCapClient({
          apiKey: config.coinmarketcap.apiKey,
          sandbox: config.coinmarketcap.sandbox,
          ...(config.coinmarketcap.baseUrl ? { baseUrl: config.coinmarketcap.baseUrl } : {}),
        })
      : new CoinMarketCapClient({ baseUrl: fixtures?.baseUrl, apiKey: 'fixture' });
    const store = new PostgresStore({ pool });
    await store.init();
    await installChangeCapture(pool);
    let loaded = 0;
    let exportedFiles = 0;
    for (let snapshot = 0; snapshot < snapshots; snapshot++) {
      fixtures?.setSnapshot(snapshot);
      const listings = [];
      for await (const page of client.listingsAll({ limit: options.coins, pageSize: 100, convert: 'USD' })) {
        listings.push(...page.data);
      }
      const result = await store.load(normalizeListings(listings, { convert: 'USD' }), {
        source: live ? 'coinmarketcap' : 'fixtures',
      });
      loaded += result.rows;
      // The first export of a run is a full load; later ones carry the changes (Op I/U/D).
      const exports = await exportTables({ pool, storage: lake.raw, mode: snapshot === 0 ? 'full' : 'cdc' });
      exportedFiles += exports.reduce((sum, e) => sum + e.keys.length, 0);
    }
    const tableFormat = options.tableFormat ?? 'iceberg';
    const processed = await cryptoRawToProcessed({ raw: lake.raw, processed: lake.processed, tableFormat });
    const curated = await cryptoProcessedToCurated({
      processed: lake.processed,
      curated: lake.curated,
      tableFormat,
    });
    return {
      source: live ? 'coinmarketcap' : 'fixtures',
      snapshots,
      loaded,
      exportedFiles,
      processed: { cryptocurrencies: processed.cryptocurrencies, quotes: processed.quotes },
      curatedDays: curated.days.length,
      top10: await topCoins(lake),
      lake,
    };
  } finally {
    await pool.end();
    await fixtures?.stop();
    await server?.stop();
  }
}

async function topCoins(lake: Lake): Promise<TopCoin[]> {
  const names = new Map<number, { name: string; symbol: string }>();
  for await (const coin of readDataset({
    storage: lake.processed,
    table: PROCESSED_CRYPTOCURRENCY_TABLE,
    schema: cryptocurrencySchema,
  })) {
    names.set(coin.id, { name: coin.name, symbol: coin.symbol });
  }
  const byDay = new Map<
    string,
    Map<number, { rank: number; close: string | null; marketCap: string | null }>
  >();
  for await (const row of readDataset({
    storage: lake.curated,
    table: COIN_DAILY_TABLE,
    schema: coinDailySchema,
  })) {
    if (row.convert !== 'USD') continue;
    const day = byDay.get(row.date) ?? new Map();
    day.set(row.cryptocurrency_id, { rank: row.rank, close: row.close, marketCap: row.market_cap });
    byDay.set(row.date, day);
  }
  const days = [...byDay.keys()].sort();
  const last = byDay.get(days.at(-1) ?? '') ?? new Map();
  const previous = days.length > 1 ? byDay.get(days.at(-2) as string) : undefined;
  return [...last.entries()]
    .filter(([, r]) => r.rank <= 10)
    .sort((a, b) => a[1].rank - b[1].rank)
    .map(([id, r]) => {
      const before = previous?.get(id)?.close;
      const change =
        before && r.close && Number(before) !== 0 ? (Number(r.close) / Number(before) - 1) * 100 : null;
      return {
        rank: r.rank,
        name: names.get(id)?.name ?? String(id),
        symbol: names.get(id)?.symbol ?? '',
        close: r.close ?? '',
        marketCap: r.marketCap ?? '',
        change24h: change,
      };
    });
}
