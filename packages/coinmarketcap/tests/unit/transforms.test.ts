import { OptionsError } from '@tributary/core';
import { byDay, MemoryStorage, readDataset, writeDataset } from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { coinDailySchema, marketDailySchema } from '../../src/curated-schemas.js';
import { quoteSchema } from '../../src/schemas.js';
import {
  COIN_DAILY_TABLE,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  MARKET_DAILY_TABLE,
  PROCESSED_QUOTE_TABLE,
} from '../../src/transforms.js';
import { collect, quoteRow } from '../fixtures/transform-inputs.js';

/** A volume with 19 significant digits: decimals must survive exactly. */
const VOLUME = '1.000000000000000001';

describe('crypto transforms', () => {
  describe('options', () => {
    it('rejects a missing storage with a typed error', async () => {
      const processed = new MemoryStorage();
      await expect(cryptoRawToProcessed({ raw: undefined as never, processed })).rejects.toMatchObject({
        name: 'OptionsError',
        code: 'CMC_TRANSFORM_OPTIONS_INVALID',
        option: 'raw',
      });
      await expect(cryptoProcessedToCurated({ processed, curated: {} as never })).rejects.toBeInstanceOf(
        OptionsError,
      );
    });

    it('rejects options that are not an object and an empty convert, naming the option', async () => {
      const processed = new MemoryStorage();
      const curated = new MemoryStorage();

      const none = cryptoRawToProcessed(null as never);
      const emptyConvert = cryptoProcessedToCurated({ processed, curated, convert: '' });

      await expect(none).rejects.toMatchObject({ code: 'CMC_TRANSFORM_OPTIONS_INVALID', option: 'options' });
      await expect(emptyConvert).rejects.toMatchObject({
        name: 'OptionsError',
        code: 'CMC_TRANSFORM_OPTIONS_INVALID',
        option: 'convert',
        message: expect.stringContaining(
          'cryptoProcessedToCurated option convert must be a non-empty string',
        ),
      });
    });
  });

  describe('cryptoProcessedToCurated', () => {
    it('computes OHLC, exact totals, ranks and gainers from the snapshots of each day', async () => {
      const processed = new MemoryStorage();
      const curated = new MemoryStorage();
      await writeDataset(
        [
          quoteRow(
            1,
            '2026-01-01T00:00:00Z',
            '100.000000000000000001',
            '900000000000000000.000000000000000001',
            { volume24h: VOLUME },
          ),
          quoteRow(1, '2026-01-01T12:00:00Z', '120', '900000000000000000.000000000000000002', {
            volume24h: VOLUME,
          }),
          quoteRow(1, '2026-01-01T18:00:00Z', '90.5', '900000000000000000.000000000000000003', {
            volume24h: VOLUME,
          }),
          quoteRow(2, '2026-01-01T00:00:00Z', '10', '1000', { volume24h: VOLUME }),
          quoteRow(2, '2026-01-01T18:00:00Z', '5', '500', { volume24h: VOLUME }),
          quoteRow(2, '2026-01-01T18:00:00Z', '999', '999', { convert: 'EUR', volume24h: VOLUME }),
          quoteRow(1, '2026-01-02T00:00:00Z', '1', '1', { volume24h: VOLUME }),
          quoteRow(2, '2026-01-02T00:00:00Z', '2', '2', { volume24h: VOLUME }),
        ],
        {
          storage: processed,
          table: PROCESSED_QUOTE_TABLE,
          schema: quoteSchema,
          partitionBy: byDay('last_updated'),
          format: 'parquet',
        },
      );

      const result = await cryptoProcessedToCurated({ processed, curated });

      expect(result).toEqual({
        coinDays: 4,
        days: ['2026-01-01', '2026-01-02'],
        tableFormat: 'hive',
        snapshotIds: {},
      });
      const coins = await collect(
        readDataset({ storage: curated, table: COIN_DAILY_TABLE, schema: coinDailySchema }),
      );
      const day1 = coins.find((c) => c.date === '2026-01-01' && c.cryptocurrency_id === 1);
      expect(day1).toMatchObject({
        open: '100.000000000000000001',
        high: '120.000000000000000000',
        low: '90.500000000000000000',
        close: '90.500000000000000000',
        market_cap: '900000000000000000.000000000000000003',
        rank: 1,
        rank_change: null,
        snapshots: 3,
      });
      const day2 = coins.find((c) => c.date === '2026-01-02' && c.cryptocurrency_id === 1);
      expect(day2).toMatchObject({ rank: 2, rank_change: -1 });
      const market = await collect(
        readDataset({ storage: curated, table: MARKET_DAILY_TABLE, schema: marketDailySchema }),
      );
      const first = market.find((m) => m.date === '2026-01-01');
      expect(first).toMatchObject({
        total_market_cap: '900000000000000500.000000000000000003',
        total_volume_24h: '2.000000000000000002',
        coins: 2,
        top_coin_id: 1,
        top_gainer_id: 1,
        top_loser_id: 2,
        top_loser_change: -50,
      });
      expect(first?.top_gainer_change).toBeCloseTo(-9.5, 9);
    });
  });
});
