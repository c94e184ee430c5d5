import {
  CreateTableCommand,
  GetTableCommand,
  GlueClient,
  type Table,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { defineSchema, field, OptionsError } from '@tributary/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CatalogError } from '../../src/catalog/errors.js';
import { readDataset, writeDataset } from '../../src/dataset.js';
import { IcebergError } from '../../src/iceberg/errors.js';
import { GlueIcebergCatalog, icebergGlueColumns } from '../../src/iceberg/glue-catalog.js';
import { stringifyJson } from '../../src/iceberg/json.js';
import { newTableMetadata, type TableMetadata } from '../../src/iceberg/metadata.js';
import type { IcebergSchema } from '../../src/iceberg/schema.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import { byHour } from '../../src/partitions.js';

const glue = mockClient(GlueClient);
afterEach(() => glue.reset());

const awsError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $fault: 'client', $metadata: { httpStatusCode: status } });

const SCHEMA: IcebergSchema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'string' },
    { id: 2, name: 'price', required: false, type: 'decimal(38,18)' },
    { id: 3, name: 'timestamp', required: true, type: 'timestamptz' },
    {
      id: 4,
      name: 'tags',
      required: true,
      type: { type: 'list', 'element-id': 5, element: 'string', 'element-required': true },
    },
  ],
};

function metadataOf(storage: MemoryStorage, table: string, schema = SCHEMA): TableMetadata {
  return newTableMetadata({
    location: `${storage.url}/${table}`,
    schema,
    lastColumnId: 5,
    spec: {
      'spec-id': 0,
      fields: [{ name: 'timestamp_hour', transform: 'hour', 'source-id': 3, 'field-id': 1000 }],
    },
    now: 1_795_000_000_000,
  });
}

/** A Glue Iceberg table whose metadata file is in the storage, as Glue returns it. */
async function registered(
  storage: MemoryStorage,
  table: string,
  file: string,
  versionId: string,
  extra: Record<string, string> = {},
): Promise<{ raw: Table; metadata: TableMetadata; location: string }> {
  const metadata = metadataOf(storage, table);
  const key = `${table}/metadata/${file}`;
  await storage.put(key, stringifyJson(metadata));
  const location = `${storage.url}/${key}`;
  return {
    metadata,
    location,
    raw: {
      Name: 'coinmarketcap_quote',
      DatabaseName: 'curated',
      VersionId: versionId,
      TableType: 'EXTERNAL_TABLE',
      Parameters: { table_type: 'ICEBERG', metadata_location: location, ...extra },
    },
  };
}

async function metadataFiles(storage: MemoryStorage, table: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list(`${table}/metadata/`)) keys.push(o.key);
  return keys.sort();
}

function catalogOn(storage: MemoryStorage) {
  return new GlueIcebergCatalog({
    client: new GlueClient({ region: 'us-east-1' }),
    database: 'curated',
    storage,
  });
}

async function rejection(run: Promise<unknown>): Promise<unknown> {
  return run.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('GlueIcebergCatalog', () => {
  describe('constructor', () => {
    it.each([
      ['client', { client: {} }],
      ['storage', { storage: {} }],
      ['tableName', { tableName: 'curated' }],
    ])('refuses a wrong %s with an OptionsError naming it', (option, patch) => {
      const options = {
        client: new GlueClient({ region: 'us-east-1' }),
        database: 'curated',
        storage: new MemoryStorage('s3'),
        ...patch,
      } as never;

      expect(() => new GlueIcebergCatalog(options)).toThrow(
        expect.objectContaining({ name: 'OptionsError', code: 'CATALOG_OPTIONS_INVALID', option }),
      );
    });

    it('maps the lake table path to a Glue name, by default and by the given function', () => {
      const storage = new MemoryStorage('s3');
      const client = new GlueClient({ region: 'us-east-1' });

      const byDefault = new GlueIcebergCatalog({ client, database: 'Curated', storage });
      const custom = new GlueIcebergCatalog({
        client,
        database: 'curated',
        storage,
        tableName: (t) => `t_${t.split('/')[1]}`,
      });

      expect(byDefault.tableName('coinmarketcap/quote')).toBe('coinmarketcap_quote');
      expect(byDefault.tableName('sensors-2026/Readings')).toBe('sensors_2026_readings');
      expect(byDefault.database).toBe('curated');
      expect(custom.tableName('coinmarketcap/quote')).toBe('t_quote');
    });

    it('rejects a missing client or storage with an OptionsError and a name Glue cannot hold with CatalogError', () => {
      const storage = new MemoryStorage('s3');
      const client = new GlueClient({ region: 'us-east-1' });

      const missing = [
        () => new GlueIcebergCatalog({ client: undefined as unknown as GlueClient, database: 'db', storage }),
        () =>
          new GlueIcebergCatalog({ client, database: 'db', storage: undefined as unknown as MemoryStorage }),
      ];
      const calls = [
        () => new GlueIcebergCatalog({ client, database: 'no such db', storage }),
        () =>
          new GlueIcebergCatalog({ client, database: 'db', storage, tableName: () => 'a.b' }).tableName('x'),
      ];

      for (const call of missing) expect(call).toThrow(OptionsError);
      for (const call of calls) expect(call).toThrow(CatalogError);
    });
  });

  describe('load', () => {
    it('returns undefined when Glue has no such table', async () => {
      glue.on(GetTableCommand).rejects(awsError('EntityNotFoundException', 400));

      const loaded = await catalogOn(new MemoryStorage('s3')).load('coinmarketcap/quote');

      expect(loaded).toBeUndefined();
      expect(glue.commandCalls(GetTableCommand)[0]?.args[0].input).toEqual({
        DatabaseName: 'curated',
        Name: 'coinmarketcap_quote',
      });
    });

    it('reads the metadata file that metadata_location names, with the Glue VersionId as version', async () => {
      const storage = new MemoryStorage('s3');
      const { raw, metadata, location } = await registered(
        storage,
        'coinmarketcap/quote',
        '00002-a.metadata.json',
        '7',
      );
      glue.on(GetTableCommand).resolves({ Table: raw });

      const loaded = await catalogOn(storage).load('coinmarketcap/quote');

      expect(loaded).toMatchObject({
        metadataLocation: location,
        metadataKey: 'coinmarketcap/quote/metadata/00002-a.metadata.json',
        version: '7',
      });
      expect(loaded?.metadata['table-uuid']).toBe(metadata['table-uuid']);
    });

    it('refuses a Glue table that is not an Iceberg table (ICEBERG_TABLE_NOT_FOUND)', async () => {
      glue.on(GetTableCommand).resolves({
        Table: { Name: 'coinmarketcap_quote', VersionId: '1', Parameters: { classification: 'parquet' } },
      });

      const err = await rejection(catalogOn(new MemoryStorage('s3')).load('coinmarketcap/quote'));

      expect(err).toBeInstanceOf(IcebergError);
      expect((err as IcebergError).code).toBe('ICEBERG_TABLE_NOT_FOUND');
    });

    it('refuses a metadata_location outside its storage (ICEBERG_FILE_OUTSIDE_STORAGE)', async () => {
      glue.on(GetTableCommand).resolves({
        Table: {
          Name: 'coinmarketcap_quote',
          VersionId: '1',
          Parameters: {
            table_type: 'iceberg',
            metadata_location: 's3://elsewhere/q/metadata/00000-a.metadata.json',
          },
        },
      });

      const err = await rejection(catalogOn(new MemoryStorage('s3')).load('coinmarketcap/quote'));

      expect((err as IcebergError).code).toBe('ICEBERG_FILE_OUTSIDE_STORAGE');
    });

    it('wraps any other Glue failure in a CatalogError with the SDK error as cause', async () => {
      const denied = awsError('AccessDeniedException', 400);
      glue.on(GetTableCommand).rejects(denied);

      const err = await rejection(catalogOn(new MemoryStorage('s3')).load('coinmarketcap/quote'));

      expect(err).toBeInstanceOf(CatalogError);
      expect((err as CatalogError).code).toBe('CATALOG_FAILED');
      expect((err as CatalogError).cause).toBe(denied);
    });
  });

  describe('commit (create)', () => {
    it('writes 00000-<uuid>.metadata.json and creates an ICEBERG table with Hive-typed columns and no partition keys', async () => {
      const storage = new MemoryStorage('s3');
      glue.on(CreateTableCommand).resolves({});
      glue.on(GetTableCommand).callsFake(async () => ({
        Table: {
          Name: 'coinmarketcap_quote',
          VersionId: '1',
          Parameters: glue.commandCalls(CreateTableCommand)[0]?.args[0].input.TableInput?.Parameters,
        },
      }));
      const next = metadataOf(storage, 'coinmarketcap/quote');

      const loaded = await catalogOn(storage).commit('coinmarketcap/quote', undefined, next);

      const files = await metadataFiles(storage, 'coinmarketcap/quote');
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^coinmarketcap\/quote\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
      expect(loaded).toMatchObject({
        metadataKey: files[0],
        metadataLocation: `memory://s3/${files[0]}`,
        version: '1',
      });
      const input = glue.commandCalls(CreateTableCommand)[0]?.args[0].input;
      expect(input?.DatabaseName).toBe('curated');
      expect(input?.TableInput).toEqual({
        Name: 'coinmarketcap_quote',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { table_type: 'ICEBERG', metadata_location: `memory://s3/${files[0]}` },
        StorageDescriptor: {
          Location: 'memory://s3/coinmarketcap/quote',
          Columns: [
            {
              Name: 'id',
              Type: 'string',
              Parameters: {
                'iceberg.field.id': '1',
                'iceberg.field.optional': 'false',
                'iceberg.field.current': 'true',
              },
            },
            {
              Name: 'price',
              Type: 'decimal(38,18)',
              Parameters: {
                'iceberg.field.id': '2',
                'iceberg.field.optional': 'true',
                'iceberg.field.current': 'true',
              },
            },
            {
              Name: 'timestamp',
              Type: 'timestamp',
              Parameters: {
                'iceberg.field.id': '3',
                'iceberg.field.optional': 'false',
                'iceberg.field.current': 'true',
              },
            },
            {
              Name: 'tags',
              Type: 'array<string>',
              Parameters: {
                'iceberg.field.id': '4',
                'iceberg.field.optional': 'false',
                'iceberg.field.current': 'true',
              },
            },
          ],
        },
      });
    });

    it('turns AlreadyExistsException into a retryable ICEBERG_COMMIT_CONFLICT and deletes its metadata file', async () => {
      const storage = new MemoryStorage('s3');
      glue.on(CreateTableCommand).rejects(awsError('AlreadyExistsException', 400));
      const other = await registered(storage, 'coinmarketcap/quote', '00000-other.metadata.json', '1');
      glue.on(GetTableCommand).resolves({ Table: other.raw });

      const err = await rejection(
        catalogOn(storage).commit(
          'coinmarketcap/quote',
          undefined,
          metadataOf(storage, 'coinmarketcap/quote'),
        ),
      );

      expect(err).toBeInstanceOf(IcebergError);
      expect((err as IcebergError).code).toBe('ICEBERG_COMMIT_CONFLICT');
      expect((err as IcebergError).retryable).toBe(true);
      expect(await metadataFiles(storage, 'coinmarketcap/quote')).toEqual([
        'coinmarketcap/quote/metadata/00000-other.metadata.json',
      ]);
    });

    it('turns a missing database into CATALOG_DATABASE_NOT_FOUND and deletes its metadata file', async () => {
      const storage = new MemoryStorage('s3');
      glue.on(CreateTableCommand).rejects(awsError('EntityNotFoundException', 400));
      glue.on(GetTableCommand).rejects(awsError('EntityNotFoundException', 400));

      const err = await rejection(
        catalogOn(storage).commit(
          'coinmarketcap/quote',
          undefined,
          metadataOf(storage, 'coinmarketcap/quote'),
        ),
      );

      expect((err as CatalogError).code).toBe('CATALOG_DATABASE_NOT_FOUND');
      expect(await metadataFiles(storage, 'coinmarketcap/quote')).toEqual([]);
    });
  });

  describe('commit (update)', () => {
    it('sends UpdateTable guarded by the VersionId, with the previous location and the parameters it does not manage', async () => {
      const storage = new MemoryStorage('s3');
      const base = await registered(storage, 'coinmarketcap/quote', '00002-base.metadata.json', '3', {
        owner_note: 'kept',
      });
      glue.on(GetTableCommand).resolves({ Table: { ...base.raw, Description: 'quotes' } });
      glue.on(UpdateTableCommand).resolves({});
      const catalog = catalogOn(storage);
      const loaded = await catalog.load('coinmarketcap/quote');
      const evolved: IcebergSchema = {
        ...SCHEMA,
        'schema-id': 1,
        fields: [...SCHEMA.fields, { id: 6, name: 'volume', required: false, type: 'double' }],
      };
      const next = {
        ...base.metadata,
        schemas: [SCHEMA, evolved],
        'current-schema-id': 1,
        'last-column-id': 6,
      };

      const committed = await catalog.commit('coinmarketcap/quote', loaded, next);

      const written = (await metadataFiles(storage, 'coinmarketcap/quote')).filter(
        (k) => !k.includes('base'),
      );
      expect(written[0]).toMatch(/metadata\/00003-[0-9a-f-]{36}\.metadata\.json$/);
      expect(committed.version).toBe('4');
      expect(committed.metadata['metadata-log'].map((e) => e['metadata-file'])).toEqual([base.location]);
      const input = glue.commandCalls(UpdateTableCommand)[0]?.args[0].input;
      expect(input).toMatchObject({ DatabaseName: 'curated', VersionId: '3', SkipArchive: true });
      expect(input?.TableInput).toMatchObject({
        Name: 'coinmarketcap_quote',
        TableType: 'EXTERNAL_TABLE',
        Description: 'quotes',
        Parameters: {
          owner_note: 'kept',
          table_type: 'ICEBERG',
          metadata_location: committed.metadataLocation,
          previous_metadata_location: base.location,
        },
      });
      expect(input?.TableInput?.StorageDescriptor?.Columns?.map((c) => [c.Name, c.Type])).toEqual([
        ['id', 'string'],
        ['price', 'decimal(38,18)'],
        ['timestamp', 'timestamp'],
        ['tags', 'array<string>'],
        ['volume', 'double'],
      ]);
    });

    it('fails with ICEBERG_COMMIT_CONFLICT and sends nothing when the table moved since its base (VersionId re-check)', async () => {
      const storage = new MemoryStorage('s3');
      const base = await registered(storage, 'coinmarketcap/quote', '00002-base.metadata.json', '3');
      const newer = await registered(storage, 'coinmarketcap/quote', '00003-newer.metadata.json', '4');
      glue.on(GetTableCommand).resolvesOnce({ Table: base.raw }).resolves({ Table: newer.raw });
      const catalog = catalogOn(storage);
      const loaded = await catalog.load('coinmarketcap/quote');

      const err = await rejection(catalog.commit('coinmarketcap/quote', loaded, base.metadata));

      expect((err as IcebergError).code).toBe('ICEBERG_COMMIT_CONFLICT');
      expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(0);
      expect(await metadataFiles(storage, 'coinmarketcap/quote')).toEqual([
        'coinmarketcap/quote/metadata/00002-base.metadata.json',
        'coinmarketcap/quote/metadata/00003-newer.metadata.json',
      ]);
    });

    it('turns ConcurrentModificationException into ICEBERG_COMMIT_CONFLICT and deletes its metadata file', async () => {
      const storage = new MemoryStorage('s3');
      const base = await registered(storage, 'coinmarketcap/quote', '00002-base.metadata.json', '3');
      const newer = await registered(storage, 'coinmarketcap/quote', '00003-newer.metadata.json', '4');
      glue
        .on(GetTableCommand)
        .resolvesOnce({ Table: base.raw })
        .resolvesOnce({ Table: base.raw })
        .resolves({ Table: newer.raw });
      glue.on(UpdateTableCommand).rejects(awsError('ConcurrentModificationException', 400));
      const catalog = catalogOn(storage);
      const loaded = await catalog.load('coinmarketcap/quote');

      const err = await rejection(catalog.commit('coinmarketcap/quote', loaded, base.metadata));

      expect((err as IcebergError).code).toBe('ICEBERG_COMMIT_CONFLICT');
      expect((err as IcebergError).retryable).toBe(true);
      expect(await metadataFiles(storage, 'coinmarketcap/quote')).toHaveLength(2);
    });

    it('deletes its metadata file and rethrows a CatalogError when UpdateTable is refused', async () => {
      const storage = new MemoryStorage('s3');
      const base = await registered(storage, 'coinmarketcap/quote', '00002-base.metadata.json', '3');
      const denied = awsError('AccessDeniedException', 400);
      glue.on(GetTableCommand).resolves({ Table: base.raw });
      glue.on(UpdateTableCommand).rejects(denied);
      const catalog = catalogOn(storage);
      const loaded = await catalog.load('coinmarketcap/quote');

      const err = await rejection(catalog.commit('coinmarketcap/quote', loaded, base.metadata));

      expect(err).toBeInstanceOf(CatalogError);
      expect((err as CatalogError).cause).toBe(denied);
      expect(await metadataFiles(storage, 'coinmarketcap/quote')).toEqual([
        'coinmarketcap/quote/metadata/00002-base.metadata.json',
      ]);
    });

    it('counts a commit as made when UpdateTable failed but Glue shows its metadata file (a lost response)', async () => {
      const storage = new MemoryStorage('s3');
      const base = await registered(storage, 'coinmarketcap/quote', '00002-base.metadata.json', '3');
      let landed: Table | undefined;
      glue.on(GetTableCommand).callsFake(async () => ({ Table: landed ?? base.raw }));
      glue.on(UpdateTableCommand).callsFake(async (input) => {
        landed = { ...base.raw, ...input.TableInput, VersionId: '4' };
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      });
      const catalog = catalogOn(storage);
      const loaded = await catalog.load('coinmarketcap/quote');

      const committed = await catalog.commit('coinmarketcap/quote', loaded, base.metadata);

      expect(committed.version).toBe('4');
      expect(landed?.Parameters?.metadata_location).toBe(committed.metadataLocation);
      expect(await storage.head(committed.metadataKey)).toBeDefined();
    });

    it('keeps its metadata file when it cannot tell whether the commit landed', async () => {
      const storage = new MemoryStorage('s3');
      const base = await registered(storage, 'coinmarketcap/quote', '00002-base.metadata.json', '3');
      const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      glue
        .on(GetTableCommand)
        .resolvesOnce({ Table: base.raw })
        .resolvesOnce({ Table: base.raw })
        .rejects(reset);
      glue.on(UpdateTableCommand).rejects(reset);
      const catalog = catalogOn(storage);
      const loaded = await catalog.load('coinmarketcap/quote');

      const err = await rejection(catalog.commit('coinmarketcap/quote', loaded, base.metadata));

      expect(err).toBeInstanceOf(CatalogError);
      expect((err as CatalogError).retryable).toBe(false);
      expect((err as CatalogError).context).toMatchObject({ commitState: 'unknown' });
      expect(await metadataFiles(storage, 'coinmarketcap/quote')).toHaveLength(2);
    });
  });

  describe('icebergGlueColumns', () => {
    it('gives every Iceberg type its Hive type, current columns first, then dropped ones marked not current', () => {
      const old: IcebergSchema = {
        type: 'struct',
        'schema-id': 0,
        fields: [
          { id: 1, name: 'a', required: true, type: 'long' },
          { id: 9, name: 'dropped', required: false, type: 'uuid' },
        ],
      };
      const current: IcebergSchema = {
        type: 'struct',
        'schema-id': 1,
        fields: [
          { id: 1, name: 'a', required: true, type: 'long', doc: 'the id' },
          { id: 2, name: 'b', required: false, type: 'boolean' },
          { id: 3, name: 'c', required: false, type: 'int' },
          { id: 4, name: 'd', required: false, type: 'float' },
          { id: 5, name: 'e', required: false, type: 'date' },
          { id: 6, name: 'f', required: false, type: 'timestamp' },
          { id: 7, name: 'g', required: false, type: 'fixed[16]' },
          { id: 8, name: 'h', required: false, type: 'time' },
          {
            id: 10,
            name: 's',
            required: false,
            type: {
              type: 'struct',
              fields: [
                { id: 11, name: 'x', required: true, type: 'double' },
                {
                  id: 12,
                  name: 'm',
                  required: false,
                  type: {
                    type: 'map',
                    'key-id': 13,
                    key: 'string',
                    'value-id': 14,
                    value: 'binary',
                    'value-required': false,
                  },
                },
              ],
            },
          },
        ],
      };
      const metadata = {
        ...metadataOf(new MemoryStorage('s3'), 't'),
        schemas: [old, current],
        'current-schema-id': 1,
      };

      const columns = icebergGlueColumns(metadata);

      expect(columns.map((c) => [c.Name, c.Type, c.Parameters?.['iceberg.field.current']])).toEqual([
        ['a', 'bigint', 'true'],
        ['b', 'boolean', 'true'],
        ['c', 'int', 'true'],
        ['d', 'float', 'true'],
        ['e', 'date', 'true'],
        ['f', 'timestamp', 'true'],
        ['g', 'binary', 'true'],
        ['h', 'string', 'true'],
        ['s', 'struct<x:double,m:map<string,binary>>', 'true'],
        ['dropped', 'string', 'false'],
      ]);
      expect(columns[0]?.Comment).toBe('the id');
    });
  });

  describe('with writeDataset', () => {
    it('leaves the files of a commit whose outcome is unknown, so a commit Glue took reads whole', async () => {
      // A stateful Glue: the second commit's UpdateTable lands but its response is lost, and the
      // catalog's read-back fails too; later reads work.
      const storage = new MemoryStorage('s3');
      let table: Table | undefined;
      let failReads = 0;
      glue.on(GetTableCommand).callsFake(async () => {
        if (failReads > 0) {
          failReads--;
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        if (!table) throw awsError('EntityNotFoundException', 400);
        return { Table: table };
      });
      glue.on(CreateTableCommand).callsFake(async (input) => {
        table = { ...input.TableInput, VersionId: '1' };
        return {};
      });
      glue.on(UpdateTableCommand).callsFake(async (input) => {
        table = { ...input.TableInput, VersionId: String(Number(table?.VersionId) + 1) };
        failReads = 1;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      });
      const schema = defineSchema({ id: field.string(), timestamp: field.timestamp() });
      const rows = (prefix: string) =>
        [0, 1, 2].map((i) => ({ id: `${prefix}${i}`, timestamp: new Date(Date.UTC(2026, 10, 23, 10 + i)) }));
      const catalog = catalogOn(storage);
      const options = {
        storage,
        table: 'sensors',
        schema,
        partitionBy: byHour('timestamp'),
        tableFormat: 'iceberg' as const,
        catalog,
      };
      await writeDataset(rows('a'), options);

      const err = await rejection(writeDataset(rows('b'), options));
      const read: string[] = [];
      for await (const r of readDataset(options)) read.push(r.id);

      expect((err as CatalogError).context).toMatchObject({ commitState: 'unknown' });
      expect(read.sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    });
  });
});
