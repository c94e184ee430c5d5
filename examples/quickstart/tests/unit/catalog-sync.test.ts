import type { TributaryEvent } from '@tributary/core';
import { type Catalog, LocalCatalog, MemoryStorage } from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { CatalogSync } from '../../src/catalog-sync.js';

const line = (id: string) => `${JSON.stringify({ id, sensorId: 's-1', value: 1 })}\n`;

function flush(target: string): TributaryEvent {
  return { type: 'flush', source: 'delivery', count: 1, bytes: 10, reason: 'size', target, time: 0 };
}

async function setup(): Promise<{ storage: MemoryStorage; catalog: LocalCatalog; sync: CatalogSync }> {
  const storage = new MemoryStorage('raw');
  const catalog = new LocalCatalog({ storage: new MemoryStorage('catalog'), database: 'tributary' });
  return { storage, catalog, sync: new CatalogSync(catalog) };
}

describe('CatalogSync', () => {
  describe('register', () => {
    it('creates the database and puts the crawled table with every partition', async () => {
      const { storage, catalog, sync } = await setup();
      await storage.put('sensors/dt=2026-11-23/hour=10/part-0.ndjson', line('a'));
      await storage.put('sensors/dt=2026-11-23/hour=11/part-0.ndjson', line('b'));

      const { definition, result } = await sync.register({ storage, folder: 'sensors', name: 'sensors' });

      expect(result.partitions).toEqual({ added: 2, existing: 0, projected: false });
      expect(definition.partitions).toHaveLength(2);
      expect((await catalog.listPartitions('sensors')).map((p) => p.values)).toEqual([
        ['2026-11-23', '10'],
        ['2026-11-23', '11'],
      ]);
    });
  });

  describe('follow', () => {
    it('registers a partition as soon as a flush lands in a new folder, and only then', async () => {
      const { storage, catalog, sync } = await setup();
      const registered: number[] = [];
      const follower = sync.follow({ storage, folder: 'sensors', name: 'raw_sensors' }, (r) =>
        registered.push(r.partitions.added),
      );

      await storage.put('sensors/2026/11/23/10/a.ndjson', line('a'));
      follower.listener(flush('sensors/2026/11/23/10/a.ndjson'));
      await follower.settle();
      const afterFirst = await catalog.listPartitions('raw_sensors');
      await storage.put('sensors/2026/11/23/10/b.ndjson', line('b'));
      follower.listener(flush('sensors/2026/11/23/10/b.ndjson'));
      await storage.put('sensors/2026/11/23/11/c.ndjson', line('c'));
      follower.listener(flush('sensors/2026/11/23/11/c.ndjson'));
      follower.listener(flush('errors/sensors/invalid-json/2026/11/23/11/x.ndjson'));
      await follower.settle();

      expect(afterFirst.map((p) => p.values.join('/'))).toEqual(['2026/11/23/10']);
      expect((await catalog.listPartitions('raw_sensors')).map((p) => p.values.join('/'))).toEqual([
        '2026/11/23/10',
        '2026/11/23/11',
      ]);
      // Two new folders, two registrations: the second flush into 10/ and the error object sent none.
      expect(registered).toEqual([1, 1]);
    });

    it('reports a registration that failed when settled, never as done', async () => {
      const { storage } = await setup();
      const failing = {
        database: 'tributary',
        ensureDatabase: async () => 'existed' as const,
        putTable: async () => {
          throw new Error('Glue is down');
        },
      } as unknown as Catalog;
      const follower = new CatalogSync(failing).follow({ storage, folder: 'sensors', name: 'raw_sensors' });

      await storage.put('sensors/2026/11/23/10/a.ndjson', line('a'));
      follower.listener(flush('sensors/2026/11/23/10/a.ndjson'));

      await expect(follower.settle()).rejects.toThrow('Glue is down');
    });
  });
});
