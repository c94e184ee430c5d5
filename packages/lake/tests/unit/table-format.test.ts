import { OptionsError, optionChecks } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { StorageCatalog } from '../../src/iceberg/catalog.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import { checkIcebergCatalog, checkTableFormat, tableFormatOptions } from '../../src/table-format.js';

const check = optionChecks('copyTable', 'COPY_OPTIONS_INVALID');

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('checkTableFormat', () => {
  it('takes hive when no format is given, and hive or iceberg as given', () => {
    expect(checkTableFormat(check, undefined)).toBe('hive');
    expect(checkTableFormat(check, 'hive')).toBe('hive');
    expect(checkTableFormat(check, 'iceberg')).toBe('iceberg');
  });

  it.each([['delta'], ['Iceberg'], [null], [1]])(
    'refuses %j with the owner’s OptionsError naming tableFormat',
    (value) => {
      const error = caught(() => checkTableFormat(check, value));

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'COPY_OPTIONS_INVALID', option: 'tableFormat' });
      expect((error as Error).message).toMatch(/^copyTable option tableFormat must be "hive" or "iceberg"/);
    },
  );
});

describe('checkIcebergCatalog', () => {
  const processed = new MemoryStorage('processed');

  it('takes no catalog as none, and an Iceberg catalog of the zone for an Iceberg table', () => {
    const catalog = new StorageCatalog(processed);

    expect(checkIcebergCatalog(check, 'catalog', undefined, { tableFormat: 'hive' })).toBeUndefined();
    expect(
      checkIcebergCatalog(check, 'catalog', catalog, { tableFormat: 'iceberg', storage: processed }),
    ).toBe(catalog);
    expect(checkIcebergCatalog(check, 'catalog', catalog, { tableFormat: 'iceberg' })).toBe(catalog);
  });

  it('refuses what is not a catalog, naming the option it was given as', () => {
    const error = caught(() =>
      checkIcebergCatalog(check, 'processedCatalog', { load: () => undefined }, { tableFormat: 'iceberg' }),
    );

    expect(error).toBeInstanceOf(OptionsError);
    expect(error).toMatchObject({ code: 'COPY_OPTIONS_INVALID', option: 'processedCatalog' });
    expect((error as Error).message).toContain('must be an Iceberg catalog');
  });

  it('refuses a catalog for a hive table', () => {
    const error = caught(() =>
      checkIcebergCatalog(check, 'catalog', new StorageCatalog(processed), { tableFormat: 'hive' }),
    );

    expect(error).toMatchObject({ code: 'COPY_OPTIONS_INVALID', option: 'catalog' });
    expect((error as Error).message).toContain("absent unless tableFormat is 'iceberg'");
  });

  it('refuses a catalog of another storage than the table’s', () => {
    const curated = new MemoryStorage('curated');

    const error = caught(() =>
      checkIcebergCatalog(check, 'catalog', new StorageCatalog(curated), {
        tableFormat: 'iceberg',
        storage: processed,
      }),
    );

    expect(error).toMatchObject({ code: 'COPY_OPTIONS_INVALID', option: 'catalog' });
    expect((error as Error).message).toContain(`a catalog of ${processed.url}, not of ${curated.url}`);
  });

  it('takes a catalog of another storage object at the same location', () => {
    const catalog = new StorageCatalog(new MemoryStorage('processed'));

    const taken = checkIcebergCatalog(check, 'catalog', catalog, {
      tableFormat: 'iceberg',
      storage: new MemoryStorage('processed'),
    });

    expect(taken).toBe(catalog);
  });
});

describe('tableFormatOptions', () => {
  it('gives the table format alone, or with the catalog when there is one', () => {
    const catalog = new StorageCatalog(new MemoryStorage('processed'));

    const hive = tableFormatOptions({ tableFormat: 'hive', catalog: undefined });
    const iceberg = tableFormatOptions({ tableFormat: 'iceberg', catalog });

    expect(hive).toStrictEqual({ tableFormat: 'hive' });
    expect(iceberg).toStrictEqual({ tableFormat: 'iceberg', catalog });
  });
});
