import { describe, expect, it } from 'vitest';
import { SchemaChangeError } from '../../src/catalog/errors.js';
import { evolveTable } from '../../src/catalog/evolution.js';
import { LocalCatalog } from '../../src/catalog/local-catalog.js';
import {
  type Catalog,
  columnFromHiveType,
  normalizeHiveType,
  parseHiveType,
  type TableDefinition,
} from '../../src/catalog/table.js';
import { MemoryStorage } from '../../src/memory-storage.js';

function sensors(overrides: Partial<TableDefinition> = {}): TableDefinition {
  return {
    name: 'sensors',
    location: 's3://bucket/sensors/',
    format: 'parquet',
    columns: [
      { name: 'id', type: 'string', kind: 'string', nullable: false },
      { name: 'count', type: 'int', kind: 'int32', nullable: false },
      { name: 'value', type: 'double', kind: 'double', nullable: false },
    ],
    partitionKeys: [{ name: 'dt', type: 'string' }],
    partitions: [{ values: ['2026-11-23'], location: 's3://bucket/sensors/dt=2026-11-23/' }],
    conflicts: [],
    files: 1,
    bytes: 100,
    updatedAt: '2026-11-23T10:00:00.000Z',
    ...overrides,
  };
}

const withColumn = (def: TableDefinition, name: string, type: string): TableDefinition => ({
  ...def,
  columns: def.columns.map((c) => (c.name === name ? columnFromHiveType(name, type, c.nullable) : c)),
});

async function catalogWithDatabase(): Promise<{ storage: MemoryStorage; catalog: LocalCatalog }> {
  const storage = new MemoryStorage();
  const catalog = new LocalCatalog({ storage, database: 'tributary' });
  await catalog.createDatabase();
  return { storage, catalog };
}

describe('LocalCatalog', () => {
  describe('putTable', () => {
    it('creates a table stored as JSON under _catalog/<database>/<table>.json and reads it back', async () => {
      const { storage, catalog } = await catalogWithDatabase();

      const result = await catalog.putTable(sensors());

      expect(result.action).toBe('created');
      expect(await storage.head('_catalog/tributary/sensors.json')).toBeDefined();
      expect(await catalog.getTable('sensors')).toEqual({ ...sensors(), database: 'tributary' });
      expect(await catalog.listTables()).toEqual(['sensors']);
    });

    it('appends an added column as nullable and widens int to bigint', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());
      const next = withColumn(sensors(), 'count', 'bigint');
      next.columns.push({ name: 'unit', type: 'string', kind: 'string', nullable: false });
      next.partitions = [{ values: ['2026-11-24'], location: 's3://bucket/sensors/dt=2026-11-24/' }];

      const result = await catalog.putTable(next);

      expect(result.action).toBe('updated');
      expect(result.added).toEqual(['unit']);
      expect(result.widened).toEqual([{ column: 'count', from: 'int', to: 'bigint' }]);
      const stored = await catalog.getTable('sensors');
      expect(stored?.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
        ['id', 'string', false],
        ['count', 'bigint', false],
        ['value', 'double', false],
        ['unit', 'string', true],
      ]);
      expect(stored?.partitions.map((p) => p.values[0])).toEqual(['2026-11-23', '2026-11-24']);
    });

    it('says unchanged when only the crawl time differs', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());

      const result = await catalog.putTable(sensors({ updatedAt: '2026-11-24T00:00:00.000Z' }));

      expect(result.action).toBe('unchanged');
    });

    it('rejects an incompatible type change with SchemaChangeError and keeps the stored table', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());

      const error = await catalog
        .putTable(withColumn(withColumn(sensors(), 'count', 'string'), 'value', 'bigint'))
        .catch((e) => e);

      expect(error).toBeInstanceOf(SchemaChangeError);
      expect(error).toMatchObject({
        code: 'SCHEMA_INCOMPATIBLE',
        context: { table: 'sensors', database: 'tributary' },
      });
      expect(error.changes).toEqual([
        { column: 'count', from: 'int', to: 'string' },
        { column: 'value', from: 'double', to: 'bigint' },
      ]);
      expect((await catalog.getTable('sensors'))?.columns.map((c) => c.type)).toEqual([
        'string',
        'int',
        'double',
      ]);
    });

    it('rejects changed partition keys and a changed format', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());

      const error = await catalog
        .putTable(
          sensors({
            format: 'ndjson',
            partitionKeys: [
              { name: 'dt', type: 'string' },
              { name: 'hour', type: 'string' },
            ],
            partitions: [],
          }),
        )
        .catch((e) => e);

      expect(error).toBeInstanceOf(SchemaChangeError);
      expect(error.changes.map((c: { column: string }) => c.column)).toEqual([
        '(format)',
        '(partition keys)',
      ]);
    });

    it('stores column names lowercased, as GlueCatalog does, and refuses names equal but for case', async () => {
      const { catalog } = await catalogWithDatabase();
      const camel = sensors();
      camel.columns.push({ name: 'sensorId', type: 'string', kind: 'string', nullable: false });

      const result = await catalog.putTable(camel);
      const clash = await catalog
        .putTable(
          sensors({
            name: 'other',
            columns: [...camel.columns, { name: 'ID', type: 'string', kind: 'string', nullable: true }],
          }),
        )
        .catch((e) => e);

      expect(result.table.columns.map((c) => c.name)).toEqual(['id', 'count', 'value', 'sensorid']);
      expect((await catalog.getTable('sensors'))?.columns.at(-1)?.name).toBe('sensorid');
      expect(clash).toMatchObject({ code: 'CATALOG_INVALID' });
      expect(await catalog.getTable('other')).toBeUndefined();
    });

    it('needs the database to exist', async () => {
      const catalog = new LocalCatalog({ storage: new MemoryStorage() });

      await expect(catalog.putTable(sensors())).rejects.toMatchObject({ code: 'CATALOG_DATABASE_NOT_FOUND' });
    });
  });

  describe('ensureDatabase', () => {
    it('creates the database once, then says it existed', async () => {
      const storage = new MemoryStorage();
      const catalog: Catalog = new LocalCatalog({ storage, database: 'Raw' });

      expect(await catalog.ensureDatabase()).toBe('created');
      expect(await catalog.ensureDatabase()).toBe('existed');
      expect(await storage.head('_catalog/raw.json')).toBeDefined();
    });
  });

  describe('addPartitions', () => {
    it('adds new partitions and counts those already there', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());

      const result = await catalog.addPartitions({
        name: 'sensors',
        partitions: [
          { values: ['2026-11-23'], location: 's3://bucket/sensors/dt=2026-11-23/' },
          { values: ['2026-11-25'], location: 's3://bucket/sensors/dt=2026-11-25/' },
        ],
      });

      expect(result).toEqual({ added: 1, existing: 1, projected: false });
      expect((await catalog.listPartitions('sensors')).map((p) => p.values[0])).toEqual([
        '2026-11-23',
        '2026-11-25',
      ]);
    });

    it('rejects partitions whose values do not match the keys, and tables that do not exist', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());

      await expect(
        catalog.addPartitions({
          name: 'sensors',
          partitions: [{ values: ['a', 'b'], location: 's3://b/x/' }],
        }),
      ).rejects.toMatchObject({ code: 'CATALOG_INVALID' });
      await expect(catalog.addPartitions({ name: 'other', partitions: [] })).rejects.toMatchObject({
        code: 'CATALOG_TABLE_NOT_FOUND',
      });
    });
  });

  describe('deleteTable', () => {
    it('deletes the definition and says whether there was one', async () => {
      const { catalog } = await catalogWithDatabase();
      await catalog.putTable(sensors());

      expect(await catalog.deleteTable('sensors')).toBe(true);
      expect(await catalog.deleteTable('sensors')).toBe(false);
      expect(await catalog.getTable('sensors')).toBeUndefined();
    });
  });

  describe('constructor', () => {
    it('validates its options', () => {
      expect(() => new LocalCatalog({ storage: undefined as never })).toThrow(
        expect.objectContaining({ name: 'OptionsError', code: 'CATALOG_OPTIONS_INVALID', option: 'storage' }),
      );
      expect(() => new LocalCatalog({ storage: new MemoryStorage(), prefix: 'no-slash' })).toThrow(
        expect.objectContaining({ code: 'CATALOG_OPTIONS_INVALID', option: 'prefix' }),
      );
      expect(() => new LocalCatalog({ storage: new MemoryStorage(), database: 'bad name' })).toThrow(
        expect.objectContaining({ code: 'CATALOG_INVALID' }),
      );
    });
  });
});

describe('evolveTable', () => {
  it('widens along int, bigint, double and to wider decimals, and unions struct fields', () => {
    const existing = sensors({
      columns: [
        columnFromHiveType('a', 'int'),
        columnFromHiveType('b', 'bigint'),
        columnFromHiveType('c', 'decimal(10,2)'),
        columnFromHiveType('s', 'struct<x:int,y:string>'),
        columnFromHiveType('gone', 'string', false),
      ],
    });
    const next = sensors({
      columns: [
        columnFromHiveType('a', 'bigint'),
        columnFromHiveType('b', 'double'),
        columnFromHiveType('c', 'DECIMAL(12, 3)'),
        columnFromHiveType('s', 'struct<x:bigint,z:boolean>'),
      ],
    });

    const { table, widened } = evolveTable(existing, next);

    expect(table.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
      ['a', 'bigint', true],
      ['b', 'double', true],
      ['c', 'decimal(12,3)', true],
      ['s', 'struct<x:bigint,y:string,z:boolean>', true],
      ['gone', 'string', true],
    ]);
    expect(widened.map((w) => w.column)).toEqual(['a', 'b', 'c', 's']);
  });

  it('rejects narrowing integers', () => {
    const existing = sensors({ columns: [columnFromHiveType('n', 'bigint')] });

    expect(() => evolveTable(existing, sensors({ columns: [columnFromHiveType('n', 'int')] }))).toThrow(
      SchemaChangeError,
    );
  });

  it('rejects narrowing decimals and changing array element types', () => {
    const existing = sensors({
      columns: [columnFromHiveType('c', 'decimal(10,2)'), columnFromHiveType('l', 'array<double>')],
    });
    const next = sensors({
      columns: [columnFromHiveType('c', 'decimal(10,3)'), columnFromHiveType('l', 'array<string>')],
    });

    expect(() => evolveTable(existing, next)).toThrow(SchemaChangeError);
  });
});

describe('parseHiveType', () => {
  it('parses nested types and prints them canonically', () => {
    expect(normalizeHiveType('ARRAY< struct<a:INTEGER, `b c`:map<string,decimal(5, 1)>> >')).toBe(
      'array<struct<a:int,`b c`:map<string,decimal(5,1)>>>',
    );
    expect(() => parseHiveType('array<int')).toThrow(expect.objectContaining({ code: 'CATALOG_INVALID' }));
  });
});
