import {
  BatchCreatePartitionCommand,
  CreateTableCommand,
  GetTableCommand,
  GlueClient,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { PartialBatchFailureError, type TributaryEvent } from '@tributary/core';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SchemaChangeError } from '../../src/catalog/errors.js';
import { fromGlueTable, GlueCatalog, toGlueTableInput } from '../../src/catalog/glue-catalog.js';
import type { TableDefinition } from '../../src/catalog/table.js';

const glue = mockClient(GlueClient);
afterEach(() => glue.reset());

function notFound(): Error {
  return Object.assign(new Error('Entity Not Found'), {
    name: 'EntityNotFoundException',
    $metadata: { httpStatusCode: 400 },
  });
}

function raw(overrides: Partial<TableDefinition> = {}): TableDefinition {
  return {
    name: 'sensors',
    location: 's3://raw-bucket/sensors/',
    format: 'ndjson',
    compression: 'gzip',
    columns: [
      { name: 'id', type: 'string', kind: 'string', nullable: false },
      { name: 'value', type: 'double', kind: 'double', nullable: false },
    ],
    partitionKeys: ['year', 'month', 'day', 'hour'].map((name) => ({ name, type: 'string' })),
    partitions: Array.from({ length: 250 }, (_, i) => {
      const hour = String(i % 24).padStart(2, '0');
      const day = String(1 + Math.floor(i / 24)).padStart(2, '0');
      return {
        values: ['2026', '11', day, hour],
        location: `s3://raw-bucket/sensors/2026/11/${day}/${hour}/`,
      };
    }),
    conflicts: [],
    files: 3,
    bytes: 4096,
    updatedAt: '2026-11-23T11:00:00.000Z',
    ...overrides,
  };
}

describe('GlueCatalog', () => {
  describe('putTable', () => {
    it('creates an external JSON table with the OpenX SerDe, the crawler parameters and the S3 location', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      glue.on(CreateTableCommand).resolves({});
      glue.on(BatchCreatePartitionCommand).resolves({});
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const result = await catalog.putTable(raw());

      expect(result.action).toBe('created');
      const input = glue.commandCalls(CreateTableCommand)[0]?.args[0].input;
      expect(input?.DatabaseName).toBe('raw');
      expect(input?.TableInput).toMatchObject({
        Name: 'sensors',
        TableType: 'EXTERNAL_TABLE',
        Parameters: {
          classification: 'json',
          compressionType: 'gzip',
          objectCount: '3',
          sizeKey: '4096',
          EXTERNAL: 'TRUE',
        },
        PartitionKeys: [
          { Name: 'year', Type: 'string' },
          { Name: 'month', Type: 'string' },
          { Name: 'day', Type: 'string' },
          { Name: 'hour', Type: 'string' },
        ],
        StorageDescriptor: {
          Columns: [
            { Name: 'id', Type: 'string' },
            { Name: 'value', Type: 'double' },
          ],
          Location: 's3://raw-bucket/sensors/',
          InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
          Compressed: true,
        },
      });
    });

    it('updates an existing table with an added column, keeping parameters it does not manage', async () => {
      const existing = toGlueTableInput(raw(), { 'projection.enabled': 'true' });
      glue
        .on(GetTableCommand)
        .resolves({ Table: { ...existing, Name: 'sensors', DatabaseName: 'raw' } as never });
      glue.on(UpdateTableCommand).resolves({});
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });
      const next = raw({ partitions: [] });
      next.columns.push({ name: 'unit', type: 'string', kind: 'string', nullable: false });

      const result = await catalog.putTable(next);

      expect(result).toMatchObject({ action: 'updated', added: ['unit'] });
      const input = glue.commandCalls(UpdateTableCommand)[0]?.args[0].input.TableInput;
      expect(input?.StorageDescriptor?.Columns?.map((c) => c.Name)).toEqual(['id', 'value', 'unit']);
      expect(input?.Parameters?.['projection.enabled']).toBe('true');
    });

    it('sends nothing and throws SchemaChangeError on an incompatible change', async () => {
      glue.on(GetTableCommand).resolves({ Table: { ...toGlueTableInput(raw()), Name: 'sensors' } as never });
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const next = raw({ columns: [{ name: 'id', type: 'bigint', kind: 'int64', nullable: false }] });

      await expect(catalog.putTable(next)).rejects.toBeInstanceOf(SchemaChangeError);
      expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(0);
    });

    it("registers the definition's partitions in batches of 100 after creating the table", async () => {
      glue.on(GetTableCommand).rejects(notFound());
      glue.on(CreateTableCommand).resolves({});
      glue
        .on(BatchCreatePartitionCommand)
        .resolvesOnce({
          Errors: [
            {
              PartitionValues: ['2026', '11', '01', '00'],
              ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'exists' },
            },
          ],
        })
        .resolves({});
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const result = await catalog.putTable(raw());

      const calls = glue.commandCalls(BatchCreatePartitionCommand);
      expect(calls.map((c) => c.args[0].input.PartitionInputList?.length)).toEqual([100, 100, 50]);
      expect(calls[0]?.args[0].input).toMatchObject({ DatabaseName: 'raw', TableName: 'sensors' });
      expect(calls[0]?.args[0].input.PartitionInputList?.[1]).toMatchObject({
        Values: ['2026', '11', '01', '01'],
        StorageDescriptor: {
          Location: 's3://raw-bucket/sensors/2026/11/01/01/',
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      });
      expect(result.partitions).toEqual({ added: 249, existing: 1, projected: false });
      expect(result.table.partitions).toHaveLength(250);
    });

    it('registers the partitions of an existing table too, with its updated storage descriptor', async () => {
      glue.on(GetTableCommand).resolves({ Table: { ...toGlueTableInput(raw()), Name: 'sensors' } as never });
      glue.on(UpdateTableCommand).resolves({});
      glue.on(BatchCreatePartitionCommand).resolves({});
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });
      const next = raw({ partitions: raw().partitions.slice(0, 2) });
      next.columns.push({ name: 'unit', type: 'string', kind: 'string', nullable: false });

      const result = await catalog.putTable(next);

      const sent = glue.commandCalls(BatchCreatePartitionCommand)[0]?.args[0].input.PartitionInputList;
      expect(sent?.map((p) => p.StorageDescriptor?.Columns?.map((c) => c.Name))).toEqual([
        ['id', 'value', 'unit'],
        ['id', 'value', 'unit'],
      ]);
      expect(result).toMatchObject({ action: 'updated', partitions: { added: 2, existing: 0 } });
    });

    it('registers no partition in a table that projects them, and says so', async () => {
      const projected = toGlueTableInput(raw(), { 'projection.enabled': 'true' });
      glue.on(GetTableCommand).resolves({ Table: { ...projected, Name: 'sensors' } as never });
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const put = await catalog.putTable(raw());
      const added = await catalog.addPartitions(raw());

      expect(glue.commandCalls(BatchCreatePartitionCommand)).toHaveLength(0);
      expect(put.partitions).toEqual({ added: 0, existing: 0, projected: true });
      expect(added).toEqual({ added: 0, existing: 0, projected: true });
    });

    it('throws a PartialBatchFailureError naming the partitions Glue refused, never a success', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      glue.on(CreateTableCommand).resolves({});
      glue.on(BatchCreatePartitionCommand).resolves({
        Errors: [
          {
            PartitionValues: ['2026', '11', '01', '03'],
            ErrorDetail: { ErrorCode: 'ResourceNumberLimitExceededException', ErrorMessage: 'limit' },
          },
        ],
      });
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const error = await catalog.putTable(raw({ partitions: raw().partitions.slice(0, 5) })).catch((e) => e);

      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect(error.failed.map((f: { item: { values: string[] } }) => f.item.values)).toEqual([
        ['2026', '11', '01', '03'],
      ]);
      expect(error.message).toContain('year=2026/month=11/day=01/hour=03');
      expect(error.context).toMatchObject({ database: 'raw', table: 'sensors' });
    });

    it('refuses partitions that do not match the keys before creating anything', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      glue.on(CreateTableCommand).resolves({});
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const error = await catalog
        .putTable(raw({ partitions: [{ values: ['2026'], location: 's3://raw-bucket/sensors/2026/' }] }))
        .catch((e) => e);

      expect(error).toMatchObject({ name: 'CatalogError', code: 'CATALOG_INVALID' });
      expect(glue.commandCalls(CreateTableCommand)).toHaveLength(0);
    });

    it('stores column and partition key names lowercased, as Glue and its crawler do', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      glue.on(CreateTableCommand).resolves({});
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });
      const camel = raw({
        columns: [
          { name: 'sensorId', type: 'string', kind: 'string', nullable: false },
          { name: 'Value', type: 'double', kind: 'double', nullable: false },
        ],
        partitionKeys: [{ name: 'DT', type: 'string' }],
        partitions: [],
      });

      const result = await catalog.putTable(camel);

      const input = glue.commandCalls(CreateTableCommand)[0]?.args[0].input.TableInput;
      expect(input?.StorageDescriptor?.Columns?.map((c) => c.Name)).toEqual(['sensorid', 'value']);
      expect(input?.PartitionKeys?.map((k) => k.Name)).toEqual(['dt']);
      expect(result.table.columns.map((c) => c.name)).toEqual(['sensorid', 'value']);
    });

    it('refuses two names that differ only by case', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });
      const clash = raw({
        columns: [
          { name: 'sensorId', type: 'string', kind: 'string', nullable: false },
          { name: 'sensorid', type: 'string', kind: 'string', nullable: false },
        ],
      });

      const error = await catalog.putTable(clash).catch((e) => e);

      expect(error).toMatchObject({ code: 'CATALOG_INVALID' });
      expect(error.message).toContain('sensorId');
      expect(glue.commandCalls(CreateTableCommand)).toHaveLength(0);
    });

    it('refuses a location that is not on S3', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      await expect(catalog.putTable(raw({ location: 'file:///tmp/lake/sensors/' }))).rejects.toMatchObject({
        code: 'CATALOG_INVALID',
      });
    });

    it('wraps SDK errors with their cause', async () => {
      const throttled = Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
      glue.on(GetTableCommand).rejects(throttled);
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      const error = await catalog.putTable(raw()).catch((e) => e);

      expect(error).toMatchObject({
        name: 'CatalogError',
        code: 'CATALOG_FAILED',
        retryable: true,
        context: { database: 'raw', table: 'sensors' },
      });
      expect(error.cause).toBe(throttled);
    });
  });

  describe('addPartitions', () => {
    it('sends batches of 100, counts existing partitions and throws the others in a PartialBatchFailureError', async () => {
      glue.on(GetTableCommand).resolves({ Table: { ...toGlueTableInput(raw()), Name: 'sensors' } as never });
      glue
        .on(BatchCreatePartitionCommand)
        .resolvesOnce({
          Errors: [
            {
              PartitionValues: ['2026', '11', '01', '00'],
              ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'exists' },
            },
          ],
        })
        .resolvesOnce({
          Errors: [
            {
              PartitionValues: ['2026', '11', '05', '04'],
              ErrorDetail: { ErrorCode: 'InternalServiceException', ErrorMessage: 'boom' },
            },
          ],
        })
        .resolves({});
      const events: TributaryEvent[] = [];
      const catalog = new GlueCatalog({
        client: new GlueClient({ region: 'us-east-1' }),
        database: 'raw',
        onEvent: (e) => events.push(e),
      });

      const error = await catalog.addPartitions(raw()).catch((e) => e);

      const calls = glue.commandCalls(BatchCreatePartitionCommand);
      expect(calls.map((c) => c.args[0].input.PartitionInputList?.length)).toEqual([100, 100, 50]);
      expect(calls[0]?.args[0].input.PartitionInputList?.[0]).toMatchObject({
        Values: ['2026', '11', '01', '00'],
        StorageDescriptor: {
          Location: 's3://raw-bucket/sensors/2026/11/01/00/',
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      });
      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect(error.failed).toEqual([
        {
          item: { values: ['2026', '11', '05', '04'], location: 's3://raw-bucket/sensors/2026/11/05/04/' },
          code: 'InternalServiceException',
          message: 'boom',
        },
      ]);
      expect(error.succeededCount).toBe(249);
      expect(events.filter((e) => e.type === 'batch')).toHaveLength(3);
      expect(events.at(-1)).toMatchObject({ type: 'failure', count: 1 });
    });

    it('needs the table to exist', async () => {
      glue.on(GetTableCommand).rejects(notFound());
      const catalog = new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'raw' });

      await expect(catalog.addPartitions(raw())).rejects.toMatchObject({ code: 'CATALOG_TABLE_NOT_FOUND' });
    });
  });

  describe('fromGlueTable', () => {
    it('reads back format, columns, keys and counts', () => {
      const table = fromGlueTable({ ...toGlueTableInput(raw({ rows: 7 })), Name: 'sensors' } as never, 'raw');

      expect(table).toMatchObject({
        name: 'sensors',
        database: 'raw',
        format: 'ndjson',
        compression: 'gzip',
        files: 3,
        bytes: 4096,
        rows: 7,
      });
      expect(table.columns).toEqual([
        { name: 'id', type: 'string', kind: 'string', nullable: true },
        { name: 'value', type: 'double', kind: 'double', nullable: true },
      ]);
    });
  });

  describe('constructor', () => {
    it('validates its options', () => {
      expect(() => new GlueCatalog({ client: {} as never, database: 'raw' })).toThrow(
        expect.objectContaining({ name: 'OptionsError', code: 'CATALOG_OPTIONS_INVALID', option: 'client' }),
      );
      expect(
        () =>
          new GlueCatalog({
            client: new GlueClient({ region: 'us-east-1' }),
            database: 'raw',
            onEvent: 1 as never,
          }),
      ).toThrow(expect.objectContaining({ code: 'CATALOG_OPTIONS_INVALID', option: 'onEvent' }));
      expect(
        () => new GlueCatalog({ client: new GlueClient({ region: 'us-east-1' }), database: 'no way' }),
      ).toThrow(expect.objectContaining({ code: 'CATALOG_INVALID' }));
    });
  });
});
