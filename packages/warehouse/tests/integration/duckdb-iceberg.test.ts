import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, type Fields, field, type Schema } from '@tributary/core';
import { byHour, IcebergError, LocalStorage, readDataset, writeDataset } from '@tributary/lake';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/duckdb-engine.js';

// Iceberg tables written by the lake (writeDataset, tableFormat 'iceberg', byHour), read through
// DuckDbEngine.registerIcebergTable and compared with the lake's own reader.

const quoteV1 = defineSchema({
  id: field.string(),
  symbol: field.string(),
  price: field.decimal(18, 6),
  tags: field.list(field.string()).nullable(),
  timestamp: field.timestamp(),
});
const quoteV2 = defineSchema({
  id: field.string(),
  symbol: field.string(),
  price: field.decimal(18, 6),
  tags: field.list(field.string()).nullable(),
  timestamp: field.timestamp(),
  volume: field.double().nullable(),
});

const START = Date.UTC(2026, 10, 23, 10);
const SYMBOLS = ['BTC', 'ETH', 'SOL'];

/** `count` quotes over three hours, ids prefixed so that batches never collide. */
function quotes(prefix: string, count: number, hours = 3, volume?: number) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    symbol: SYMBOLS[i % SYMBOLS.length] as string,
    price: `${100 + i}.${String(i % 1_000_000).padStart(6, '0')}`,
    tags: i % 4 === 0 ? null : ['spot', `t${i % 3}`],
    timestamp: new Date(START + (i % hours) * 3_600_000 + i * 1000),
    ...(volume === undefined ? {} : { volume: volume + i }),
  }));
}

let dir: string;
let storage: LocalStorage;
let engine: DuckDbEngine;
let tableNo = 0;
let table: string;

async function write(
  records: unknown[],
  mode: 'append' | 'overwrite' | 'overwrite_partitions',
  schema: Schema<Fields> = quoteV1,
) {
  return writeDataset(records, {
    storage,
    table,
    schema,
    partitionBy: byHour('timestamp'),
    mode,
    tableFormat: 'iceberg',
  });
}

async function lakeRows(schema: Schema<Fields> = quoteV1, snapshotId?: string) {
  const rows: Record<string, unknown>[] = [];
  for await (const r of readDataset({
    storage,
    table,
    schema,
    tableFormat: 'iceberg',
    ...(snapshotId ? { snapshotId } : {}),
  })) {
    rows.push(r as Record<string, unknown>);
  }
  return rows;
}

async function ids(view = 'quotes'): Promise<string[]> {
  const { rows } = await engine.query<{ id: string }>(`SELECT id FROM ${view} ORDER BY id`).collect();
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-iceberg-'));
  storage = new LocalStorage({ root: dir });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  tableNo++;
  table = `quotes_${tableNo}`;
  engine = await DuckDbEngine.create();
});

afterEach(async () => {
  await engine.close();
});

describe('DuckDbEngine', () => {
  describe('registerIcebergTable', () => {
    it('gives the rows, counts and sums the lake reader gives, with the Iceberg types', async () => {
      const written = await write(quotes('a', 500), 'append');

      const registration = await engine.registerIcebergTable({ storage, table, name: 'quotes' });

      const lake = await lakeRows();
      const { rows } = await engine
        .query<{ n: bigint; total: string; tagged: bigint }>(
          'SELECT count(*) AS n, sum(price) AS total, count(tags) AS tagged FROM quotes',
        )
        .collect();
      const lakeTotal = lake.reduce((sum, r) => sum + BigInt((r.price as string).replace('.', '')), 0n);
      expect(registration).toMatchObject({
        view: '"main"."quotes"',
        snapshotId: written.snapshotId,
        rows: 500,
      });
      expect(registration.files).toBeGreaterThanOrEqual(3);
      expect(rows[0]?.n).toBe(BigInt(lake.length));
      expect(BigInt(String(rows[0]?.total).replace('.', ''))).toBe(lakeTotal);
      expect(rows[0]?.tagged).toBe(BigInt(lake.filter((r) => r.tags !== null).length));
      const { rows: columns } = await engine
        .query<{ column_name: string; column_type: string }>('DESCRIBE quotes')
        .collect();
      expect(columns.map((c) => [c.column_name, c.column_type])).toEqual([
        ['id', 'VARCHAR'],
        ['symbol', 'VARCHAR'],
        ['price', 'DECIMAL(18,6)'],
        ['tags', 'VARCHAR[]'],
        ['timestamp', 'TIMESTAMP WITH TIME ZONE'],
      ]);
      const { rows: one } = await engine.query("SELECT * FROM quotes WHERE id = 'a-1'").collect();
      const fromLake = lake.find((r) => r.id === 'a-1');
      expect(one[0]).toEqual(fromLake);
    });

    it('keeps showing the registered snapshot after an append, until registered again', async () => {
      await write(quotes('a', 90), 'append');
      await engine.registerIcebergTable({ storage, table, name: 'quotes' });

      const appended = await write(quotes('b', 30), 'append');

      expect(await ids()).toHaveLength(90);
      const again = await engine.registerIcebergTable({ storage, table, name: 'quotes' });
      expect(again.snapshotId).toBe(appended.snapshotId);
      expect(await ids()).toEqual((await lakeRows()).map((r) => r.id as string).sort());
      expect(await ids()).toHaveLength(120);
    });

    it('travels to the first snapshot by id, next to the current one', async () => {
      const first = await write(quotes('a', 60), 'append');
      await write(quotes('b', 45), 'append');

      await engine.registerIcebergTable({ storage, table, name: 'quotes' });
      const old = await engine.registerIcebergTable({
        storage,
        table,
        name: 'quotes_first',
        snapshotId: first.snapshotId,
      });

      expect(old.snapshotId).toBe(first.snapshotId);
      expect(await ids('quotes_first')).toEqual(
        (await lakeRows(quoteV1, first.snapshotId)).map((r) => r.id as string).sort(),
      );
      expect(await ids('quotes_first')).toHaveLength(60);
      expect(await ids('quotes')).toHaveLength(105);
    });

    it('shows none of the rows of files a partition overwrite removed', async () => {
      await write(quotes('a', 90, 3), 'append');
      // One hour (START's) rewritten with 5 new rows: its 30 old rows are gone.
      const replacement = quotes('r', 5, 1);
      const overwrite = await write(replacement, 'overwrite_partitions');
      expect(overwrite.removed.length).toBeGreaterThan(0);

      await engine.registerIcebergTable({ storage, table, name: 'quotes' });

      const lake = (await lakeRows()).map((r) => r.id as string).sort();
      expect(await ids()).toEqual(lake);
      expect(lake).toHaveLength(65);
      const { rows } = await engine
        .query<{ n: bigint }>("SELECT count(*) AS n FROM quotes WHERE date_trunc('hour', timestamp) = ?", {
          params: [new Date(START)],
        })
        .collect();
      expect(rows[0]?.n).toBe(5n);
    });

    it('reads a column added later as NULL in the older files', async () => {
      await write(quotes('a', 30), 'append');
      await write(quotes('b', 12, 3, 1000), 'append', quoteV2);

      await engine.registerIcebergTable({ storage, table, name: 'quotes' });

      const { rows } = await engine
        .query<{ old: string; n: bigint; with_volume: bigint; volume_sum: number }>(
          "SELECT starts_with(id, 'a') AS old, count(*) AS n, count(volume) AS with_volume, sum(volume) AS volume_sum FROM quotes GROUP BY old ORDER BY old",
        )
        .collect();
      expect(rows).toEqual([
        { old: false, n: 12n, with_volume: 12n, volume_sum: 12 * 1000 + 66 },
        { old: true, n: 30n, with_volume: 0n, volume_sum: null },
      ]);
      const lake = await lakeRows(quoteV2);
      expect(lake.filter((r) => r.volume === null)).toHaveLength(30);
    });

    it('makes a table without rows a view with its columns and no rows', async () => {
      await write([], 'append');

      const registration = await engine.registerIcebergTable({ storage, table, name: 'quotes' });

      expect(registration.files).toBe(0);
      expect(await ids()).toEqual([]);
      const { rows: columns } = await engine.query<{ column_name: string }>('DESCRIBE quotes').collect();
      expect(columns.map((c) => c.column_name)).toEqual(['id', 'symbol', 'price', 'tags', 'timestamp']);
    });

    it('rejects a snapshot the table does not have with the lake error', async () => {
      await write(quotes('a', 3), 'append');

      await expect(
        engine.registerIcebergTable({ storage, table, name: 'quotes', snapshotId: '123' }),
      ).rejects.toSatisfy((e) => e instanceof IcebergError && e.code === 'ICEBERG_SNAPSHOT_NOT_FOUND');
    });
  });
});
