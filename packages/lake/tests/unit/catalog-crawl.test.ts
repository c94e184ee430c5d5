import { gzipSync } from 'node:zlib';
import { defineSchema, field } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { crawl } from '../../src/catalog/crawl.js';
import { writeDataset } from '../../src/dataset.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import { byHour } from '../../src/partitions.js';

const readingSchema = defineSchema({
  id: field.string(),
  type: field.string(),
  value: field.double(),
  count: field.int64(),
  small: field.int32().nullable(),
  price: field.decimal(12, 4),
  tags: field.list(field.string()),
  day: field.date(),
  timestamp: field.timestamp(),
});

function readings(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: `r${i}`,
    type: ['temperature', 'power_factor'][i % 2] as string,
    value: i / 4,
    count: BigInt(i),
    small: i % 3 === 0 ? null : i,
    price: `${i}.5`,
    tags: ['a', `t${i}`],
    day: '2026-11-23',
    // Hours 10 and 11 of one day.
    timestamp: new Date(Date.UTC(2026, 10, 23, 10 + (i % 2), i % 60)),
  }));
}

const ndjson = (records: readonly unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

/** Raw sensor records as Firehose delivers them: `sensors/YYYY/MM/DD/HH/<stream>-<time>-<uuid>.ndjson[.gz]`. */
async function firehoseRaw(storage: MemoryStorage): Promise<string[]> {
  const files = {
    'sensors/2026/11/23/10/sensors-1-2026-11-23-10-00-00-aaaa.ndjson.gz': gzipSync(
      ndjson([
        {
          id: 'a1',
          sensorId: 's1',
          type: 'temperature',
          value: 21,
          timestamp: '2026-11-23T10:00:00.000Z',
          tags: ['x'],
          meta: { fw: '1.2', rev: 3 },
          note: null,
          readingDate: '2026-11-23',
        },
        {
          id: 'a2',
          sensorId: 's2',
          type: 'power_factor',
          value: 1,
          timestamp: '2026-11-23T10:00:01.500Z',
          tags: [],
          meta: { fw: '1.2' },
          note: null,
          readingDate: '2026-11-23',
        },
      ]),
    ),
    'sensors/2026/11/23/10/sensors-1-2026-11-23-10-01-00-bbbb.ndjson': ndjson([
      {
        id: 'b1',
        sensorId: 's1',
        type: 'temperature',
        value: 21.5,
        timestamp: '2026-11-23T10:01:00Z',
        tags: ['y', 'z'],
        note: null,
        readingDate: '2026-11-23',
      },
    ]),
    'sensors/2026/11/23/11/sensors-1-2026-11-23-11-00-00-cccc.ndjson.gz': gzipSync(
      ndjson([
        {
          id: 'c1',
          sensorId: 's3',
          type: 'hydraulic_pressure',
          value: 180,
          timestamp: '2026-11-23T11:00:00+00:00',
          note: null,
          readingDate: '2026-11-24',
          extra: true,
        },
      ]),
    ),
  };
  for (const [key, body] of Object.entries(files)) await storage.put(key, body);
  return Object.keys(files);
}

describe('crawl', () => {
  describe('Parquet', () => {
    it('reads the columns from the footers and the hive partitions from the paths', async () => {
      const storage = new MemoryStorage('lake');
      await writeDataset(readings(20), {
        storage,
        table: 'processed/sensors',
        schema: readingSchema,
        partitionBy: byHour('timestamp'),
        format: 'parquet',
      });

      const table = await crawl(storage, 'processed/sensors', {
        database: 'Tributary',
        location: 's3://bucket/processed/sensors',
      });

      expect(table).toMatchObject({
        name: 'sensors',
        database: 'tributary',
        format: 'parquet',
        location: 's3://bucket/processed/sensors/',
        files: 2,
        rows: 20,
        conflicts: [],
      });
      expect(table.compression).toBeUndefined();
      expect(table.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
        ['id', 'string', false],
        ['type', 'string', false],
        ['value', 'double', false],
        ['count', 'bigint', false],
        ['small', 'int', true],
        ['price', 'decimal(12,4)', false],
        ['tags', 'array<string>', false],
        ['day', 'date', false],
        ['timestamp', 'timestamp', false],
      ]);
      expect(table.columns.find((c) => c.name === 'price')).toMatchObject({
        kind: 'decimal',
        precision: 12,
        scale: 4,
      });
      expect(table.columns.find((c) => c.name === 'tags')).toMatchObject({
        kind: 'list',
        element: { kind: 'string' },
      });
      expect(table.partitionKeys).toEqual([
        { name: 'dt', type: 'string' },
        { name: 'hour', type: 'string' },
      ]);
      expect(table.partitions).toEqual([
        { values: ['2026-11-23', '10'], location: 's3://bucket/processed/sensors/dt=2026-11-23/hour=10/' },
        { values: ['2026-11-23', '11'], location: 's3://bucket/processed/sensors/dt=2026-11-23/hour=11/' },
      ]);
      expect(table.bytes).toBeGreaterThan(0);
    });

    it('reports a column whose type differs between files, and keeps it out of the columns', async () => {
      const storage = new MemoryStorage();
      const a = defineSchema({ id: field.string(), code: field.int64() });
      const b = defineSchema({ id: field.string(), code: field.string(), more: field.double() });
      const first = await writeDataset([{ id: '1', code: 1n }], {
        storage,
        table: 't',
        schema: a,
        partitionBy: [{ name: 'p', value: () => 'a' }],
      });
      const second = await writeDataset([{ id: '2', code: 'x', more: 1 }], {
        storage,
        table: 't',
        schema: b,
        partitionBy: [{ name: 'p', value: () => 'b' }],
      });

      const table = await crawl(storage, 't');

      expect(table.conflicts).toEqual([
        { column: 'code', types: ['bigint', 'string'], files: [first.files[0]?.key, second.files[0]?.key] },
      ]);
      expect(table.columns.map((c) => [c.name, c.nullable])).toEqual([
        ['id', false],
        ['more', true],
      ]);
      expect(table.location).toBe('memory://memory/t/');
    });
  });

  describe('NDJSON', () => {
    it('turns Firehose date folders into year/month/day/hour partitions and samples gzip and plain files', async () => {
      const storage = new MemoryStorage('raw');
      await firehoseRaw(storage);

      const table = await crawl(storage, 'sensors', { location: 's3://raw-bucket/sensors/' });

      expect(table).toMatchObject({
        name: 'sensors',
        format: 'ndjson',
        compression: 'mixed',
        files: 3,
        conflicts: [],
      });
      expect(table.rows).toBeUndefined();
      expect(table.partitionKeys.map((k) => k.name)).toEqual(['year', 'month', 'day', 'hour']);
      expect(table.partitions).toEqual([
        { values: ['2026', '11', '23', '10'], location: 's3://raw-bucket/sensors/2026/11/23/10/' },
        { values: ['2026', '11', '23', '11'], location: 's3://raw-bucket/sensors/2026/11/23/11/' },
      ]);
      expect(table.columns.map((c) => [c.name, c.type, c.kind, c.nullable])).toEqual([
        ['id', 'string', 'string', false],
        ['sensorId', 'string', 'string', false],
        ['type', 'string', 'string', false],
        // 21 and 1 in one file, 21.5 in another: int widens to double.
        ['value', 'double', 'double', false],
        // ISO-8601 text stays a string: Athena's JSON SerDes do not read `…T…Z` as a timestamp.
        ['timestamp', 'string', 'string', false],
        ['tags', 'array<string>', 'list', true],
        ['meta', 'struct<fw:string,rev:bigint>', 'struct', true],
        ['note', 'string', 'string', true],
        ['readingDate', 'date', 'date', false],
        ['extra', 'boolean', 'boolean', true],
      ]);
    });

    it('reports a field that is a string in one file and a number in another, with both files', async () => {
      const storage = new MemoryStorage();
      await storage.put(
        'events/2026/11/23/10/a.ndjson',
        ndjson([
          { id: '1', code: 'E42' },
          { id: '2', code: null },
        ]),
      );
      await storage.put('events/2026/11/23/10/b.ndjson', ndjson([{ id: '3', code: 42 }]));
      await storage.put('events/2026/11/23/11/c.ndjson', ndjson([{ id: '4' }]));

      const table = await crawl(storage, 'events');

      expect(table.conflicts).toEqual([
        {
          column: 'code',
          types: ['string', 'bigint'],
          files: ['events/2026/11/23/10/a.ndjson', 'events/2026/11/23/10/b.ndjson'],
        },
      ]);
      expect(table.columns.map((c) => c.name)).toEqual(['id']);
    });

    it('reports a conflict nested in an object by its path', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/a.ndjson', ndjson([{ m: { v: 1 } }, { m: { v: 'one' } }]));

      const table = await crawl(storage, 't');

      expect(table.conflicts).toEqual([
        { column: 'm.v', types: ['bigint', 'string'], files: ['t/a.ndjson'] },
      ]);
      expect(table.columns).toEqual([]);
      expect(table.partitionKeys).toEqual([]);
    });

    it('keeps strings that are not all timestamps as strings', async () => {
      const storage = new MemoryStorage();
      await storage.put(
        't/a.ndjson',
        ndjson([
          { at: '2026-11-23T10:00:00Z', d: '2026-02-28' },
          { at: 'yesterday', d: '2026-02-30' },
        ]),
      );

      const table = await crawl(storage, 't');

      expect(table.columns.map((c) => c.type)).toEqual(['string', 'string']);
    });

    it('samples only sampleRecords records of sampleFiles files', async () => {
      const storage = new MemoryStorage();
      for (let i = 0; i < 5; i++)
        await storage.put(`t/f${i}.ndjson`, ndjson([{ a: 1 }, { [`late${i}`]: 1 }]));

      const table = await crawl(storage, 't', { sampleRecords: 1, sampleFiles: 2 });

      expect(table.columns.map((c) => c.name)).toEqual(['a']);
      const wider = await crawl(storage, 't', { sampleRecords: 2, sampleFiles: 2 });
      // Spread sampling takes the first and the last file.
      expect(wider.columns.map((c) => c.name)).toEqual(['a', 'late0', 'late4']);
    });

    it('names the partition keys as asked, or joins the folders into one key', async () => {
      const storage = new MemoryStorage();
      await firehoseRaw(storage);

      const named = await crawl(storage, 'sensors', { partitionNames: ['y', 'm', 'd', 'h'] });
      const joined = await crawl(storage, 'sensors', { partitionNames: ['datehour'] });

      expect(named.partitionKeys.map((k) => k.name)).toEqual(['y', 'm', 'd', 'h']);
      expect(joined.partitionKeys).toEqual([{ name: 'datehour', type: 'string' }]);
      expect(joined.partitions.map((p) => p.values)).toEqual([['2026/11/23/10'], ['2026/11/23/11']]);
    });

    it('names other folder layouts partition_0..n as Glue does', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/eu/x/a.ndjson', ndjson([{ a: 1 }]));

      const table = await crawl(storage, 't');

      expect(table.partitionKeys.map((k) => k.name)).toEqual(['partition_0', 'partition_1']);
      expect(table.partitions).toEqual([{ values: ['eu', 'x'], location: 'memory://memory/t/eu/x/' }]);
    });
  });

  describe('CSV', () => {
    it('names columns from the header and types those whose every value parses', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/LOAD00000001.csv', 'id,price,n,flag,name\n1,1.5,7,true,"a"\n2,2,,false,b\n');
      await storage.put('t/LOAD00000002.csv', 'id,price,n,flag,name\nx,3.25,8,true,c\n');

      const table = await crawl(storage, 't');

      expect(table.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
        ['id', 'string', false],
        ['price', 'double', false],
        ['n', 'bigint', true],
        ['flag', 'boolean', false],
        ['name', 'string', false],
      ]);
      expect(table.compression).toBe('none');
    });
  });

  describe('errors', () => {
    it('rejects a table without data files', async () => {
      await expect(crawl(new MemoryStorage(), 'nothing')).rejects.toMatchObject({
        name: 'CatalogError',
        code: 'CATALOG_EMPTY_TABLE',
      });
    });

    it('rejects files laid out in different folder depths', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/2026/11/23/10/a.ndjson', '{"a":1}\n');
      await storage.put('t/b.ndjson', '{"a":1}\n');

      await expect(crawl(storage, 't')).rejects.toMatchObject({ code: 'CATALOG_LAYOUT_INCONSISTENT' });
    });

    it('rejects a sampled line that is not a JSON object, naming the file and line', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/a.ndjson', '{"a":1}\nnot json\n');

      await expect(crawl(storage, 't')).rejects.toMatchObject({
        code: 'CATALOG_MALFORMED_RECORD',
        context: { key: 't/a.ndjson', line: 2 },
      });
    });

    it('rejects a column named like a partition key', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/2026/11/23/10/a.ndjson', '{"hour":1}\n');

      await expect(crawl(storage, 't')).rejects.toMatchObject({ code: 'CATALOG_LAYOUT_INCONSISTENT' });
      await expect(crawl(storage, 't', { partitionNames: ['datehour'] })).resolves.toMatchObject({
        partitionKeys: [{ name: 'datehour' }],
      });
    });

    it('rejects invalid options', async () => {
      const storage = new MemoryStorage();
      await storage.put('t/a.ndjson', '{"a":1}\n');

      await expect(crawl(storage, 't', { sampleRecords: 0 })).rejects.toMatchObject({
        code: 'CATALOG_INVALID',
      });
      await expect(crawl(storage, 't', { partitionNames: ['a'] })).rejects.toMatchObject({
        code: 'CATALOG_INVALID',
      });
      await expect(crawl(storage, 't', { location: 'bucket/t' })).rejects.toMatchObject({
        code: 'CATALOG_INVALID',
      });
      await expect(crawl(storage, 't', { name: 'bad-name' })).rejects.toMatchObject({
        code: 'CATALOG_INVALID',
      });
    });
  });
});
