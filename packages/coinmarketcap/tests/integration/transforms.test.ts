import { decimalToUnscaled } from '@tributary/core';
import { listDatasetFiles, MemoryStorage, readDataset } from '@tributary/lake';
import { type PostgresServer, startPostgres } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { coinDailySchema, marketDailySchema } from '../../src/curated-schemas.js';
import { cryptocurrencySchema, quoteSchema } from '../../src/schemas.js';
import {
  COIN_DAILY_TABLE,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  MARKET_DAILY_TABLE,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
} from '../../src/transforms.js';
import { collect, exportThreeDays } from '../fixtures/transform-inputs.js';

const COINS = 40;
const SCHEMA = 'transforms';
const fixtures = generateFixtures({ coins: COINS, snapshots: 3 });
let server: PostgresServer;
let pool: pg.Pool;
const raw = new MemoryStorage();
const processed = new MemoryStorage();
const curated = new MemoryStorage();

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  await exportThreeDays({ pool, schema: SCHEMA, raw, fixtures });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

// The last snapshot of each coin on each UTC day.
const CLOSING = `WITH closing AS (
           SELECT DISTINCT ON (dt, cryptocurrency_id) * FROM (
             SELECT to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS dt, * FROM "${SCHEMA}".quote WHERE convert = 'USD') q
            ORDER BY dt, cryptocurrency_id, last_updated DESC)
         `;

const exact = (value: string | null | undefined) =>
  value === null || value === undefined ? null : decimalToUnscaled(value, 18);

async function snapshotOfZones(): Promise<string> {
  const coins = await collect(
    readDataset({ storage: processed, table: PROCESSED_CRYPTOCURRENCY_TABLE, schema: cryptocurrencySchema }),
  );
  const quotes = await collect(
    readDataset({ storage: processed, table: PROCESSED_QUOTE_TABLE, schema: quoteSchema }),
  );
  const coinDaily = await collect(
    readDataset({ storage: curated, table: COIN_DAILY_TABLE, schema: coinDailySchema }),
  );
  const marketDaily = await collect(
    readDataset({ storage: curated, table: MARKET_DAILY_TABLE, schema: marketDailySchema }),
  );
  const lines = [coins, quotes, coinDaily, marketDaily].map((rows) =>
    rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort(),
  );
  return JSON.stringify(lines);
}

describe('crypto transforms', () => {
  describe('cryptoRawToProcessed', () => {
    it('writes the latest cryptocurrencies and the quote history by day, matching PostgreSQL', async () => {
      const result = await cryptoRawToProcessed({ raw, processed, schema: SCHEMA });

      expect(result.cryptocurrencies).toBe(COINS);
      const coins = await collect(
        readDataset({
          storage: processed,
          table: PROCESSED_CRYPTOCURRENCY_TABLE,
          schema: cryptocurrencySchema,
        }),
      );
      expect(coins.map((c) => c.id).sort((a, b) => a - b)).toEqual(
        (await pool.query(`SELECT id FROM "${SCHEMA}".cryptocurrency ORDER BY id`)).rows.map((r) => r.id),
      );
      const { rows: perDay } = await pool.query(
        `SELECT to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS dt, count(*)::int AS n
           FROM "${SCHEMA}".quote GROUP BY 1 ORDER BY 1`,
      );
      expect(perDay).toHaveLength(3);
      expect(result.partitions).toEqual(perDay.map((r) => `dt=${r.dt}/`));
      for (const { dt, n } of perDay) {
        const rows = await collect(
          readDataset({
            storage: processed,
            table: PROCESSED_QUOTE_TABLE,
            schema: quoteSchema,
            partitions: { dt },
          }),
        );
        expect({ dt, n: rows.length }).toEqual({ dt, n });
        expect(rows.every((r) => r.last_updated.toISOString().startsWith(dt))).toBe(true);
      }
    }, 30_000);
  });

  describe('cryptoProcessedToCurated', () => {
    it('computes coin_daily and market_daily exactly as SQL does', async () => {
      await cryptoRawToProcessed({ raw, processed, schema: SCHEMA });
      const result = await cryptoProcessedToCurated({ processed, curated });

      expect(result.days).toHaveLength(3);
      expect(result.coinDays).toBe(COINS * 3);
      const { rows: twice } = await pool.query(
        `SELECT count(*)::int AS n FROM "${SCHEMA}".quote WHERE (last_updated AT TIME ZONE 'UTC')::date = ($1::timestamptz AT TIME ZONE 'UTC')::date`,
        [fixtures.snapshotTime(1)],
      );
      expect(twice[0].n).toBe(COINS * 2);
      const { rows: chosen } = await pool.query(
        `SELECT id FROM "${SCHEMA}".cryptocurrency ORDER BY id OFFSET 7 LIMIT 1`,
      );
      const id = chosen[0].id as number;
      const { rows: expected } = await pool.query(
        `SELECT dt,
                (array_agg(price::text ORDER BY last_updated))[1] AS open,
                (array_agg(price::text ORDER BY last_updated DESC))[1] AS close,
                max(price)::text AS high, min(price)::text AS low,
                (array_agg(market_cap::text ORDER BY last_updated DESC))[1] AS market_cap,
                (array_agg(volume_24h::text ORDER BY last_updated DESC))[1] AS volume_24h,
                (array_agg(market_cap_dominance::text ORDER BY last_updated DESC))[1] AS dominance
           FROM (SELECT *, to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS dt FROM "${SCHEMA}".quote
                  WHERE cryptocurrency_id = $1 AND convert = 'USD') q
          GROUP BY dt ORDER BY dt`,
        [id],
      );
      const coinDaily = (
        await collect(readDataset({ storage: curated, table: COIN_DAILY_TABLE, schema: coinDailySchema }))
      )
        .filter((r) => r.cryptocurrency_id === id)
        .sort((a, b) => (a.date < b.date ? -1 : 1));
      const fields = ['open', 'close', 'high', 'low', 'market_cap', 'volume_24h', 'dominance'] as const;
      expect(coinDaily.map((r) => [r.date, ...fields.map((f) => exact(r[f]))])).toEqual(
        expected.map((r) => [r.dt, ...fields.map((f) => exact(r[f]))]),
      );
      expect(coinDaily[1]?.snapshots).toBe(2);
      expect(coinDaily[1]?.open).not.toBe(coinDaily[1]?.close);
      const { rows: ranks } = await pool.query(
        `${CLOSING} SELECT dt, rank::int FROM (
           SELECT dt, cryptocurrency_id, rank() OVER (PARTITION BY dt ORDER BY market_cap DESC NULLS LAST, cryptocurrency_id) AS rank
             FROM closing) r
          WHERE cryptocurrency_id = $1 ORDER BY dt`,
        [id],
      );
      expect(coinDaily.map((r) => r.rank)).toEqual(ranks.map((r) => r.rank));
      expect(coinDaily.map((r) => r.rank_change)).toEqual([
        null,
        (ranks[0]?.rank as number) - (ranks[1]?.rank as number),
        (ranks[1]?.rank as number) - (ranks[2]?.rank as number),
      ]);

      const { rows: totals } = await pool.query(
        `${CLOSING} SELECT dt, sum(market_cap)::text AS cap, sum(volume_24h)::text AS volume, count(*)::int AS coins
           FROM closing GROUP BY dt ORDER BY dt`,
      );
      const market = (
        await collect(readDataset({ storage: curated, table: MARKET_DAILY_TABLE, schema: marketDailySchema }))
      ).sort((a, b) => (a.date < b.date ? -1 : 1));
      expect(
        market.map((r) => [r.date, exact(r.total_market_cap), exact(r.total_volume_24h), r.coins]),
      ).toEqual(totals.map((r) => [r.dt, exact(r.cap), exact(r.volume), r.coins]));
      const { rows: top } = await pool.query(
        `${CLOSING} SELECT DISTINCT ON (dt) dt, cryptocurrency_id AS id FROM closing
          ORDER BY dt, market_cap DESC NULLS LAST, cryptocurrency_id`,
      );
      expect(market.map((r) => r.top_coin_id)).toEqual(top.map((r) => r.id));
      for (const row of market) {
        expect(row.top_coin_dominance).toBeGreaterThan(0);
        expect(row.top_coin_dominance).toBeLessThanOrEqual(100);
        expect(row.top_gainer_change as number).toBeGreaterThanOrEqual(row.top_loser_change as number);
      }
    }, 30_000);

    it('gives identical rows when both transforms run twice', async () => {
      await cryptoRawToProcessed({ raw, processed, schema: SCHEMA });
      await cryptoProcessedToCurated({ processed, curated });
      const first = await snapshotOfZones();
      const filesBefore = (await listDatasetFiles(processed, PROCESSED_QUOTE_TABLE)).length;

      await cryptoRawToProcessed({ raw, processed, schema: SCHEMA });
      await cryptoProcessedToCurated({ processed, curated });

      expect(await snapshotOfZones()).toBe(first);
      expect((await listDatasetFiles(processed, PROCESSED_QUOTE_TABLE)).length).toBe(filesBefore);
    }, 30_000);
  });
});
