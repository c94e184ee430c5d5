import {
  byDay,
  MemoryStorage,
  readDataset,
  StorageCatalog,
  scanIceberg,
  writeDataset,
} from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { coinDailySchema } from '../../src/curated-schemas.js';
import { quoteSchema } from '../../src/schemas.js';
import {
  COIN_DAILY_TABLE,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  MARKET_DAILY_TABLE,
  PROCESSED_QUOTE_TABLE,
} from '../../src/transforms.js';
import { collect, quoteRow } from '../fixtures/transform-inputs.js';

const invalidOption = (option: string, owner = '') => ({
  name: 'OptionsError',
  code: 'CMC_TRANSFORM_OPTIONS_INVALID',
  message: expect.stringContaining(`${owner} option ${option} must be`),
  option,
  context: { option },
});

describe('crypto transforms on Iceberg', () => {
  describe('options', () => {
    it('rejects an unknown tableFormat, naming the option', async () => {
      const zones = { processed: new MemoryStorage('processed'), curated: new MemoryStorage('curated') };

      const raw = cryptoRawToProcessed({
        raw: new MemoryStorage('raw'),
        ...zones,
        tableFormat: 'delta' as never,
      });
      const curated = cryptoProcessedToCurated({ ...zones, tableFormat: 'Iceberg' as never });

      await expect(raw).rejects.toMatchObject(invalidOption('tableFormat', 'cryptoRawToProcessed'));
      await expect(curated).rejects.toMatchObject(invalidOption('tableFormat', 'cryptoProcessedToCurated'));
    });

    it('rejects a catalog that is not one, one of another zone, or one without tableFormat iceberg', async () => {
      const raw = new MemoryStorage('raw');
      const processed = new MemoryStorage('processed');
      const curated = new MemoryStorage('curated');

      const notACatalog = cryptoRawToProcessed({
        raw,
        processed,
        tableFormat: 'iceberg',
        catalog: { load: () => undefined } as never,
      });
      const otherZone = cryptoRawToProcessed({
        raw,
        processed,
        tableFormat: 'iceberg',
        catalog: new StorageCatalog(curated),
      });
      const hive = cryptoRawToProcessed({ raw, processed, catalog: new StorageCatalog(processed) });
      const curatedOfProcessed = cryptoProcessedToCurated({
        processed,
        curated,
        tableFormat: 'iceberg',
        catalog: new StorageCatalog(processed),
      });
      const processedOfCurated = cryptoProcessedToCurated({
        processed,
        curated,
        tableFormat: 'iceberg',
        processedCatalog: new StorageCatalog(curated),
      });

      await expect(notACatalog).rejects.toMatchObject(invalidOption('catalog', 'cryptoRawToProcessed'));
      await expect(otherZone).rejects.toMatchObject({
        ...invalidOption('catalog', 'cryptoRawToProcessed'),
        message: expect.stringContaining(`a catalog of ${processed.url}, not of ${curated.url}`),
      });
      await expect(hive).rejects.toMatchObject({
        ...invalidOption('catalog', 'cryptoRawToProcessed'),
        message: expect.stringContaining("absent unless tableFormat is 'iceberg'"),
      });
      await expect(curatedOfProcessed).rejects.toMatchObject(
        invalidOption('catalog', 'cryptoProcessedToCurated'),
      );
      await expect(processedOfCurated).rejects.toMatchObject(
        invalidOption('processedCatalog', 'cryptoProcessedToCurated'),
      );
    });
  });

  describe('cryptoProcessedToCurated', () => {
    it('reads an Iceberg quote table by day and writes Iceberg curated tables partitioned by dt and convert', async () => {
      const processed = new MemoryStorage('processed');
      const curated = new MemoryStorage('curated');
      const quotes = await writeDataset(
        [
          quoteRow(1, '2026-01-01T00:00:00Z', '100', '1000'),
          quoteRow(1, '2026-01-01T18:00:00Z', '90', '900'),
          quoteRow(2, '2026-01-01T18:00:00Z', '5', '500'),
          quoteRow(1, '2026-01-02T00:00:00Z', '1', '1'),
          quoteRow(2, '2026-01-02T00:00:00Z', '2', '2'),
        ],
        {
          storage: processed,
          table: PROCESSED_QUOTE_TABLE,
          schema: quoteSchema,
          partitionBy: byDay('last_updated'),
          tableFormat: 'iceberg',
        },
      );

      const result = await cryptoProcessedToCurated({ processed, curated, tableFormat: 'iceberg' });

      const coinDaily = await scanIceberg({ storage: curated, table: COIN_DAILY_TABLE });
      const marketDaily = await scanIceberg({ storage: curated, table: MARKET_DAILY_TABLE });
      expect(result).toEqual({
        coinDays: 4,
        days: ['2026-01-01', '2026-01-02'],
        tableFormat: 'iceberg',
        snapshotIds: {
          [COIN_DAILY_TABLE]: String(coinDaily.snapshot?.['snapshot-id']),
          [MARKET_DAILY_TABLE]: String(marketDaily.snapshot?.['snapshot-id']),
        },
        quoteSnapshotId: quotes.snapshotId,
      });
      expect(
        coinDaily.files.map((f) => f.partition).sort((a, b) => (String(a.dt) < String(b.dt) ? -1 : 1)),
      ).toEqual([
        { dt: '2026-01-01', convert: 'USD' },
        { dt: '2026-01-02', convert: 'USD' },
      ]);
      // Folders as Java (Spark) names them: an identity partition of a date is its ISO text.
      expect(coinDaily.files.map((f) => f.key.slice(0, f.key.lastIndexOf('/') + 1)).sort()).toEqual([
        `${COIN_DAILY_TABLE}/data/dt=2026-01-01/convert=USD/`,
        `${COIN_DAILY_TABLE}/data/dt=2026-01-02/convert=USD/`,
      ]);
      const day2 = await collect(
        readDataset({
          storage: curated,
          table: COIN_DAILY_TABLE,
          schema: coinDailySchema,
          tableFormat: 'iceberg',
          partitions: { dt: '2026-01-02', convert: 'USD' },
        }),
      );
      expect(day2.map((r) => [r.date, r.cryptocurrency_id, r.rank, r.rank_change])).toEqual([
        ['2026-01-02', 1, 2, -1],
        ['2026-01-02', 2, 1, 1],
      ]);
    });
  });
});
