import { ConfigError, defineSchema, field, loadConfig, OptionsError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { writeDataset } from '../../src/dataset.js';
import { createLake, localLake } from '../../src/lake.js';
import { MemoryStorage } from '../../src/memory-storage.js';

const schema = defineSchema({ id: field.string() });

async function* rows(): AsyncIterable<{ id: string }> {
  yield { id: 'a' };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('writeDataset', () => {
  describe('options', () => {
    it.each([
      ['mode', { mode: 'upsert' }],
      ['tableFormat', { tableFormat: 'delta' }],
      ['format', { tableFormat: 'iceberg', format: 'ndjson' }],
      ['maxOpenFiles', { maxOpenFiles: 0 }],
      ['maxRowsPerFile', { maxRowsPerFile: 0 }],
      ['targetFileBytes', { targetFileBytes: -1 }],
    ])('refuses a wrong %s with an OptionsError naming it', async (option, patch) => {
      const options = { storage: new MemoryStorage(), table: 't', schema, ...patch } as never;

      const error = await writeDataset(rows(), options).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'DATASET_OPTIONS_INVALID', option });
    });
  });
});

describe('createLake', () => {
  it('names the zone it lacks', () => {
    const zones = { raw: new MemoryStorage(), processed: undefined, curated: new MemoryStorage() } as never;

    const error = thrown(() => createLake(zones));

    expect(error).toBeInstanceOf(OptionsError);
    expect(error).toMatchObject({ code: 'LAKE_OPTIONS_INVALID', option: 'processed' });
  });

  it('refuses a zone name it does not know', () => {
    const lake = createLake({
      raw: new MemoryStorage(),
      processed: new MemoryStorage(),
      curated: new MemoryStorage(),
    });

    expect(thrown(() => lake.zone('gold' as never))).toMatchObject({ code: 'ZONE_INVALID' });
  });
});

describe('localLake', () => {
  it('refuses an aws config with a ConfigError naming TRIBUTARY_MODE', () => {
    const config = loadConfig({
      TRIBUTARY_MODE: 'aws',
      AWS_REGION: 'eu-west-1',
      TRIBUTARY_BUCKET_PREFIX: 'acme-tributary',
    });

    const error = thrown(() => localLake(config));

    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', variable: 'TRIBUTARY_MODE' });
  });
});
