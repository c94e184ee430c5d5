import { defineSchema, type Fields, field, type Schema } from '@tributary/core';
import {
  byDay,
  byField,
  byHour,
  type IcebergSchema,
  MemoryStorage,
  readDataset,
  StorageCatalog,
  schemaFromIceberg,
  type TableMetadata,
  writeDataset,
} from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { planIcebergSchema, planPartitionSpec } from '../../src/iceberg/schema.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const base = defineSchema({
  id: field.string(),
  count: field.int32(),
  total: field.int64(),
  price: field.decimal(10, 2),
  note: field.string().nullable(),
});

const row = (id: string) => ({ id, count: 7, total: 9_007_199_254_740_993n, price: '12.50', note: null });

async function tableWith(schema: Schema<Fields> = base): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  await writeDataset([row('a')], { storage, table: 't', schema, tableFormat: 'iceberg' });
  return storage;
}

async function metadataOf(storage: MemoryStorage): Promise<TableMetadata> {
  return (await new StorageCatalog(storage).load('t'))?.metadata as TableMetadata;
}

const write = (storage: MemoryStorage, schema: Schema<Fields>, rows: unknown[]) =>
  writeDataset(rows, { storage, table: 't', schema, tableFormat: 'iceberg' });

describe('Iceberg schema evolution (writeDataset)', () => {
  it('adds a nullable column as a new schema with the next id; older rows read it as null', async () => {
    const storage = await tableWith();
    const wider = defineSchema({ ...base.fields, unit: field.string().nullable() });

    await write(storage, wider, [{ ...row('b'), unit: 'kW' }]);

    const metadata = await metadataOf(storage);
    expect(metadata['current-schema-id']).toBe(1);
    expect(metadata.schemas.map((s) => s['schema-id'])).toEqual([0, 1]);
    expect(metadata.schemas[1]?.fields.at(-1)).toEqual({
      id: 6,
      name: 'unit',
      required: false,
      type: 'string',
    });
    expect(metadata['last-column-id']).toBe(6);
    const rows = await collect(readDataset({ storage, table: 't', schema: wider, tableFormat: 'iceberg' }));
    expect(rows.map((r) => [r.id, r.unit]).sort()).toEqual([
      ['a', null],
      ['b', 'kW'],
    ]);
  });

  it('keeps the table’s schema when a write leaves out a nullable column', async () => {
    const storage = await tableWith();
    const { note: _note, ...rest } = base.fields;
    const narrower = defineSchema(rest);

    await write(storage, narrower, [{ id: 'b', count: 1, total: 1n, price: '1.00' }]);

    const metadata = await metadataOf(storage);
    expect(metadata.schemas.length).toBe(1);
    expect(metadata.schemas[0]?.fields.map((f) => f.name)).toContain('note');
  });

  it('promotes int to long, and reads the older int files as long', async () => {
    const storage = await tableWith();
    const promoted = defineSchema({ ...base.fields, count: field.int64() });

    await write(storage, promoted, [{ ...row('b'), count: 2n ** 40n }]);

    const metadata = await metadataOf(storage);
    expect(metadata.schemas.at(-1)?.fields.find((f) => f.name === 'count')).toMatchObject({
      id: 2,
      type: 'long',
    });
    const rows = await collect(
      readDataset({ storage, table: 't', schema: promoted, tableFormat: 'iceberg' }),
    );
    expect(rows.sort((x, y) => (x.id < y.id ? -1 : 1)).map((r) => r.count)).toEqual([7n, 2n ** 40n]);
  });

  it('widens a decimal’s precision at the same scale', async () => {
    const storage = await tableWith();

    await write(storage, defineSchema({ ...base.fields, price: field.decimal(12, 2) }), [row('b')]);

    expect((await metadataOf(storage)).schemas.at(-1)?.fields.find((f) => f.name === 'price')?.type).toBe(
      'decimal(12,2)',
    );
  });

  it.each([
    ['a new required column', { ...base.fields, unit: field.string() }, { unit: 'kW' }],
    ['a narrowed type (long → int)', { ...base.fields, total: field.int32() }, { total: 1 }],
    ['another type (int → string)', { ...base.fields, count: field.string() }, { count: '7' }],
    ['another decimal scale', { ...base.fields, price: field.decimal(10, 3) }, { price: '1.000' }],
    ['a nullable column made required', { ...base.fields, note: field.string() }, { note: 'x' }],
  ] as const)(
    'refuses %s with ICEBERG_SCHEMA_INCOMPATIBLE and commits nothing',
    async (_what, fields, values) => {
      const storage = await tableWith();
      const before = await metadataOf(storage);

      const result = write(storage, defineSchema(fields as Fields), [{ ...row('b'), ...values }]);

      await expect(result).rejects.toMatchObject({
        name: 'IcebergError',
        code: 'ICEBERG_SCHEMA_INCOMPATIBLE',
      });
      expect(await metadataOf(storage)).toEqual(before);
      expect([...(await collect(storage.list('t/data/')))].length).toBe(1);
    },
  );

  it('refuses a write without a column the table requires with ICEBERG_SCHEMA_INCOMPATIBLE', async () => {
    const storage = await tableWith();
    const { price: _price, ...rest } = base.fields;

    const result = write(storage, defineSchema(rest), [{ id: 'b', count: 1, total: 1n, note: null }]);

    await expect(result).rejects.toMatchObject({
      code: 'ICEBERG_SCHEMA_INCOMPATIBLE',
      context: { column: 'price' },
    });
  });
});

describe('planIcebergSchema', () => {
  it('numbers a new table’s columns 1, 2, … in order, giving a list’s element the next id', () => {
    const schema = defineSchema({
      id: field.string(),
      tags: field.list(field.string()),
      at: field.timestamp(),
      day: field.date(),
      ok: field.boolean().nullable(),
      x: field.double(),
    });

    const plan = planIcebergSchema(schema);

    expect(plan.schema).toEqual({
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'id', required: true, type: 'string' },
        {
          id: 2,
          name: 'tags',
          required: true,
          type: { type: 'list', 'element-id': 3, element: 'string', 'element-required': true },
        },
        { id: 4, name: 'at', required: true, type: 'timestamptz' },
        { id: 5, name: 'day', required: true, type: 'date' },
        { id: 6, name: 'ok', required: false, type: 'boolean' },
        { id: 7, name: 'x', required: true, type: 'double' },
      ],
    });
    expect(plan.lastColumnId).toBe(7);
    expect(plan.fieldIds.get('tags')).toEqual({ id: 2, elementId: 3 });
  });

  it('keeps existing ids by name whatever the write’s column order', () => {
    const current = planIcebergSchema(base).schema;
    const reordered = defineSchema({
      note: field.string().nullable(),
      price: field.decimal(10, 2),
      id: field.string(),
      total: field.int64(),
      count: field.int32(),
    });

    const plan = planIcebergSchema(reordered, { schema: current, lastColumnId: 5, nextSchemaId: 1 });

    expect(plan.changed).toBe(false);
    expect(plan.schema).toBe(current);
    expect(Object.fromEntries([...plan.fieldIds].map(([k, v]) => [k, v.id]))).toEqual({
      id: 1,
      count: 2,
      total: 3,
      price: 4,
      note: 5,
    });
  });
});

describe('planPartitionSpec', () => {
  const schema = planIcebergSchema(
    defineSchema({
      id: field.string(),
      type: field.string(),
      value: field.double(),
      timestamp: field.timestamp(),
    }),
  ).schema;

  it('maps byHour to one hour field, byDay to day and byField to identity, with ids from 1000', () => {
    expect(planPartitionSpec(byHour('timestamp'), schema).fields).toEqual([
      { name: 'timestamp_hour', transform: 'hour', 'source-id': 4, 'field-id': 1000 },
    ]);
    expect(planPartitionSpec(byDay('timestamp'), schema).fields).toEqual([
      { name: 'timestamp_day', transform: 'day', 'source-id': 4, 'field-id': 1000 },
    ]);
    expect(planPartitionSpec([byField('type'), ...byHour('timestamp')], schema).fields).toEqual([
      { name: 'type', transform: 'identity', 'source-id': 2, 'field-id': 1000 },
      { name: 'timestamp_hour', transform: 'hour', 'source-id': 4, 'field-id': 1001 },
    ]);
  });

  it('refuses a time transform of a non-time column and identity of a double with ICEBERG_UNSUPPORTED', () => {
    expect(() => planPartitionSpec(byHour('type'), schema)).toThrow(
      expect.objectContaining({ code: 'ICEBERG_UNSUPPORTED' }),
    );
    expect(() => planPartitionSpec([byField('value')], schema)).toThrow(
      expect.objectContaining({ code: 'ICEBERG_UNSUPPORTED' }),
    );
  });

  it('refuses a partition source that is not a column with ICEBERG_SPEC_MISMATCH', () => {
    expect(() => planPartitionSpec([byField('missing')], schema)).toThrow(
      expect.objectContaining({ code: 'ICEBERG_SPEC_MISMATCH' }),
    );
  });
});

describe('schemaFromIceberg', () => {
  it('reads other engines’ types as the lake’s: float as double, uuid as string, timestamp and timestamptz as timestamps', () => {
    const iceberg: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'f', required: true, type: 'float' },
        { id: 2, name: 'u', required: false, type: 'uuid' },
        { id: 3, name: 't', required: true, type: 'timestamp' },
        { id: 4, name: 'tz', required: true, type: 'timestamptz' },
        { id: 5, name: 'd', required: false, type: 'decimal(38, 18)' },
        {
          id: 6,
          name: 'l',
          required: true,
          type: { type: 'list', 'element-id': 7, element: 'long', 'element-required': true },
        },
      ],
    };

    const schema = schemaFromIceberg(iceberg);

    expect(schema.columns.map((c) => [c.name, c.def.kind, c.def.presence])).toEqual([
      ['f', 'double', 'required'],
      ['u', 'string', 'nullable'],
      ['t', 'timestamp', 'required'],
      ['tz', 'timestamp', 'required'],
      ['d', 'decimal', 'nullable'],
      ['l', 'list', 'required'],
    ]);
  });

  it('refuses columns the lake cannot hold with ICEBERG_UNSUPPORTED, naming them', () => {
    const iceberg: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'ok', required: true, type: 'string' },
        { id: 2, name: 'blob', required: false, type: 'binary' },
        {
          id: 3,
          name: 'nested',
          required: false,
          type: {
            type: 'list',
            'element-id': 4,
            element: { type: 'struct', fields: [] },
            'element-required': true,
          },
        },
      ],
    };

    expect(() => schemaFromIceberg(iceberg, 'events')).toThrow(
      expect.objectContaining({
        code: 'ICEBERG_UNSUPPORTED',
        message: expect.stringMatching(/blob \(binary\).*nested \(list<struct>\)/),
      }),
    );
  });

  it('reads a list whose elements Spark declares optional as a list (a null element fails the read)', () => {
    const iceberg: IcebergSchema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        {
          id: 1,
          name: 'tags',
          required: false,
          type: { type: 'list', 'element-id': 2, element: 'string', 'element-required': false },
        },
      ],
    };

    expect(schemaFromIceberg(iceberg).fields.tags?.def).toMatchObject({
      kind: 'list',
      presence: 'nullable',
      element: { kind: 'string' },
    });
  });
});
