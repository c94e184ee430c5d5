import { GlueClient } from '@aws-sdk/client-glue';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlueCatalog } from '../../src/catalog/glue-catalog.js';
import { LocalCatalog } from '../../src/catalog/local-catalog.js';
import type { Catalog, TableDefinition, TablePartition } from '../../src/catalog/table.js';
import { MemoryStorage } from '../../src/memory-storage.js';

// One contract, two catalogs: whatever a pipeline can rely on in local mode (LocalCatalog) it
// gets in aws mode (GlueCatalog, here on moto_server), and the other way round.

let moto: MotoServer;
let glue: GlueClient;
let databases = 0;

beforeAll(async () => {
  moto = await startMotoServer();
  glue = new GlueClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
}, 60_000);

afterAll(async () => {
  glue?.destroy();
  await moto?.stop();
});

const catalogs: [string, () => Promise<Catalog>][] = [
  [
    'LocalCatalog',
    async () => {
      const catalog = new LocalCatalog({ storage: new MemoryStorage(), database: `contract_${++databases}` });
      await catalog.ensureDatabase();
      return catalog;
    },
  ],
  [
    'GlueCatalog (moto_server)',
    async () => {
      const catalog = new GlueCatalog({ client: glue, database: `contract_${++databases}` });
      await catalog.ensureDatabase();
      return catalog;
    },
  ],
];

function days(count: number, from = 0): TablePartition[] {
  return Array.from({ length: count }, (_, i) => {
    const dt = new Date(Date.UTC(2026, 0, 1) + (from + i) * 86_400_000).toISOString().slice(0, 10);
    return { values: [dt, '10'], location: `s3://lake-processed/sensors/dt=${dt}/hour=10/` };
  });
}

function sensors(overrides: Partial<TableDefinition> = {}): TableDefinition {
  return {
    name: 'sensors',
    location: 's3://lake-processed/sensors/',
    format: 'parquet',
    columns: [
      { name: 'id', type: 'string', kind: 'string', nullable: false },
      { name: 'sensorId', type: 'string', kind: 'string', nullable: false },
      { name: 'value', type: 'double', kind: 'double', nullable: false },
    ],
    partitionKeys: [
      { name: 'dt', type: 'string' },
      { name: 'hour', type: 'string' },
    ],
    partitions: days(150),
    conflicts: [],
    files: 150,
    bytes: 150_000,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe.each(catalogs)('Catalog contract: %s', (_, open) => {
  describe('putTable', () => {
    it('registers every partition of the definition (more than one Glue batch)', async () => {
      const catalog = await open();

      const result = await catalog.putTable(sensors());

      expect(result.action).toBe('created');
      expect(result.partitions).toEqual({ added: 150, existing: 0, projected: false });
      const listed = await catalog.listPartitions('sensors');
      expect(listed).toEqual(days(150));
    });

    it('registers new partitions of a known table and counts those it had, idempotently', async () => {
      const catalog = await open();
      await catalog.putTable(sensors());

      const again = await catalog.putTable(sensors({ partitions: days(152) }));
      const third = await catalog.putTable(sensors({ partitions: days(152) }));

      expect(again.partitions).toEqual({ added: 2, existing: 150, projected: false });
      expect(third.partitions).toEqual({ added: 0, existing: 152, projected: false });
      expect(await catalog.listPartitions('sensors')).toHaveLength(152);
      expect((await catalog.getTable('sensors', { partitions: true }))?.partitions).toEqual(days(152));
    });

    it('stores column and key names lowercased; the same names in another case are no change', async () => {
      const catalog = await open();
      await catalog.putTable(
        sensors({
          partitionKeys: [
            { name: 'DT', type: 'string' },
            { name: 'hour', type: 'string' },
          ],
        }),
      );

      const again = await catalog.putTable(sensors({ partitions: [] }));
      const table = await catalog.getTable('sensors');

      expect(again.action).toBe('unchanged');
      expect(table?.columns.map((c) => c.name)).toEqual(['id', 'sensorid', 'value']);
      expect(table?.partitionKeys.map((k) => k.name)).toEqual(['dt', 'hour']);
    });

    it('refuses names that differ only by case, and creates nothing', async () => {
      const catalog = await open();
      const clash = sensors();
      clash.columns.push({ name: 'sensorid', type: 'bigint', kind: 'int64', nullable: true });

      await expect(catalog.putTable(clash)).rejects.toMatchObject({ code: 'CATALOG_INVALID' });
      expect(await catalog.getTable('sensors')).toBeUndefined();
    });

    it('refuses a partition whose values do not match the keys, and creates nothing', async () => {
      const catalog = await open();
      const bad = sensors({ partitions: [...days(3), { values: ['2026-01-09'], location: 's3://x/y/' }] });

      await expect(catalog.putTable(bad)).rejects.toMatchObject({ code: 'CATALOG_INVALID' });
      expect(await catalog.getTable('sensors')).toBeUndefined();
    });
  });

  describe('addPartitions', () => {
    it('adds only what is new, and needs the table', async () => {
      const catalog = await open();
      await catalog.putTable(sensors({ partitions: days(2) }));

      const result = await catalog.addPartitions({ name: 'sensors', partitions: days(3) });

      expect(result).toEqual({ added: 1, existing: 2, projected: false });
      expect(await catalog.listPartitions('sensors')).toEqual(days(3));
      await expect(catalog.addPartitions({ name: 'other', partitions: days(1) })).rejects.toMatchObject({
        code: 'CATALOG_TABLE_NOT_FOUND',
      });
    });
  });
});
