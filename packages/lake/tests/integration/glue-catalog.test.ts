import { GetPartitionsCommand, GetTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crawl } from '../../src/catalog/crawl.js';
import { SchemaChangeError } from '../../src/catalog/errors.js';
import { GlueCatalog } from '../../src/catalog/glue-catalog.js';
import type { TableDefinition, TablePartition } from '../../src/catalog/table.js';
import { MemoryStorage } from '../../src/memory-storage.js';

let moto: MotoServer;
let client: GlueClient;
let crawled: TableDefinition;

const ndjson = (records: readonly unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

beforeAll(async () => {
  moto = await startMotoServer();
  client = new GlueClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  // Firehose-style raw files, crawled from memory and registered with their S3 location.
  const storage = new MemoryStorage('raw');
  await storage.put(
    'sensors/2026/11/23/10/sensors-1-a.ndjson',
    ndjson([{ id: 'a', value: 1, timestamp: '2026-11-23T10:00:00Z' }]),
  );
  await storage.put(
    'sensors/2026/11/23/11/sensors-1-b.ndjson',
    ndjson([{ id: 'b', value: 1.5, timestamp: '2026-11-23T11:00:00Z' }]),
  );
  crawled = await crawl(storage, 'sensors', { database: 'raw', location: 's3://tributary-raw/sensors/' });
});

afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

function hours(count: number): TablePartition[] {
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(Date.UTC(2026, 10, 1) + i * 3_600_000).toISOString();
    const [year, month, day, hour] = [at.slice(0, 4), at.slice(5, 7), at.slice(8, 10), at.slice(11, 13)];
    return {
      values: [year, month, day, hour],
      location: `s3://tributary-raw/sensors/${year}/${month}/${day}/${hour}/`,
    };
  });
}

describe('GlueCatalog (moto_server)', () => {
  it('creates the database once; a second ensureDatabase is fine', async () => {
    const catalog = new GlueCatalog({ client, database: 'raw' });

    expect(await catalog.ensureDatabase({ description: 'raw zone' })).toBe('created');
    expect(await catalog.ensureDatabase()).toBe('existed');
  });

  it('registers a crawled table and reads it back', async () => {
    const catalog = new GlueCatalog({ client, database: 'raw' });

    const result = await catalog.putTable(crawled);
    const table = await catalog.getTable('sensors');

    expect(result.action).toBe('created');
    expect(table?.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'string'],
      ['value', 'double'],
      ['timestamp', 'string'],
    ]);
    expect(table?.partitionKeys.map((k) => k.name)).toEqual(['year', 'month', 'day', 'hour']);
    expect(table).toMatchObject({
      format: 'ndjson',
      location: 's3://tributary-raw/sensors/',
      files: 2,
      compression: 'none',
    });
    const raw = (await client.send(new GetTableCommand({ DatabaseName: 'raw', Name: 'sensors' }))).Table;
    expect(raw?.TableType).toBe('EXTERNAL_TABLE');
    expect(raw?.Parameters?.classification).toBe('json');
    expect(raw?.StorageDescriptor).toMatchObject({
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
    });
    expect(await catalog.listTables()).toEqual(['sensors']);
    expect(result.partitions).toEqual({ added: 2, existing: 0, projected: false });
    expect(await catalog.listPartitions('sensors')).toEqual([
      { values: ['2026', '11', '23', '10'], location: 's3://tributary-raw/sensors/2026/11/23/10/' },
      { values: ['2026', '11', '23', '11'], location: 's3://tributary-raw/sensors/2026/11/23/11/' },
    ]);
  });

  it('updates the table with an added column, and leaves it as is when nothing changed', async () => {
    const catalog = new GlueCatalog({ client, database: 'raw' });
    const next: TableDefinition = {
      ...crawled,
      columns: [...crawled.columns, { name: 'unit', type: 'string', kind: 'string', nullable: true }],
    };

    const updated = await catalog.putTable(next);
    const again = await catalog.putTable(next);

    expect(updated).toMatchObject({ action: 'updated', added: ['unit'] });
    expect(again.action).toBe('unchanged');
    expect((await catalog.getTable('sensors'))?.columns.map((c) => c.name)).toEqual([
      'id',
      'value',
      'timestamp',
      'unit',
    ]);
  });

  it('rejects an incompatible type change and keeps the table', async () => {
    const catalog = new GlueCatalog({ client, database: 'raw' });
    const next: TableDefinition = {
      ...crawled,
      columns: crawled.columns.map((c) =>
        c.name === 'value' ? { ...c, type: 'bigint', kind: 'int64' as const } : c,
      ),
    };

    const error = await catalog.putTable(next).catch((e) => e);

    expect(error).toBeInstanceOf(SchemaChangeError);
    expect(error.changes).toEqual([{ column: 'value', from: 'double', to: 'bigint' }]);
    expect((await catalog.getTable('sensors'))?.columns.find((c) => c.name === 'value')?.type).toBe('double');
  });

  it('adds 150 partitions in two batches; adding them again is fine', async () => {
    let batches = 0;
    const catalog = new GlueCatalog({
      client,
      database: 'raw',
      onEvent: (e) => void (e.type === 'batch' && batches++),
    });
    const partitions = hours(150);

    const first = await catalog.addPartitions({ name: 'sensors', partitions });
    const second = await catalog.addPartitions({
      name: 'sensors',
      partitions: [...partitions, ...hours(152).slice(150)],
    });

    expect(first).toEqual({ added: 150, existing: 0, projected: false });
    expect(batches).toBe(4);
    expect(second).toEqual({ added: 2, existing: 150, projected: false });
    const listed =
      (await client.send(new GetPartitionsCommand({ DatabaseName: 'raw', TableName: 'sensors' })))
        .Partitions ?? [];
    // 152 hours of November 1-7, and the 2 of the crawl (November 23) that putTable registered.
    expect(listed).toHaveLength(154);
    const table = await catalog.getTable('sensors', { partitions: true });
    expect(table?.partitions[0]).toEqual({
      values: ['2026', '11', '01', '00'],
      location: 's3://tributary-raw/sensors/2026/11/01/00/',
    });
    expect(table?.partitions).toHaveLength(154);
  });

  it('deletes the table', async () => {
    const catalog = new GlueCatalog({ client, database: 'raw' });

    expect(await catalog.deleteTable('sensors')).toBe(true);
    expect(await catalog.deleteTable('sensors')).toBe(false);
    expect(await catalog.getTable('sensors')).toBeUndefined();
  });
});
