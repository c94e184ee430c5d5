import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Fields, normalizeDecimal, type Schema } from '@tributary/core';
import {
  byDay,
  type IcebergCatalog,
  LocalStorage,
  MemoryStorage,
  readDataset,
  type Storage,
  StorageCatalog,
  writeDataset,
} from '@tributary/lake';
import { type PostgresServer, startPostgres } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { coinDailySchema, marketDailySchema } from '../../src/curated-schemas.js';
import { cryptocurrencySchema, type QuoteRow, quoteSchema } from '../../src/schemas.js';
import {
  COIN_DAILY_TABLE,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  MARKET_DAILY_TABLE,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
} from '../../src/transforms.js';
import { exportThreeDays } from '../fixtures/transform-inputs.js';

// The crypto transforms with `tableFormat: 'iceberg'`, on local folders, checked against the
// hive runs of the same raw zone and read back by pyiceberg (spark/.venv), the outside reader.

const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const READER = resolve(here, '../fixtures/read_iceberg_tables.py');

const COINS = 40;
const SCHEMA = 'transforms_iceberg';
const fixtures = generateFixtures({ coins: COINS, snapshots: 3 });
let server: PostgresServer;
let pool: pg.Pool;
/** The whole export: a full load and two CDC runs (three UTC days of quotes). */
const raw = new MemoryStorage('raw');
/** The raw zone as it was after the full load only (one day of quotes). */
const rawFirst = new MemoryStorage('raw-first');
let dir: string;

const TABLES = [
  { zone: 'processed', table: PROCESSED_CRYPTOCURRENCY_TABLE, schema: cryptocurrencySchema },
  { zone: 'processed', table: PROCESSED_QUOTE_TABLE, schema: quoteSchema },
  { zone: 'curated', table: COIN_DAILY_TABLE, schema: coinDailySchema },
  { zone: 'curated', table: MARKET_DAILY_TABLE, schema: marketDailySchema },
] as const;

const CURATED_SPEC = [
  { name: 'dt', transform: 'identity', source: 'date' },
  { name: 'convert', transform: 'identity', source: 'convert' },
];
const SPECS: Record<string, unknown[]> = {
  [PROCESSED_CRYPTOCURRENCY_TABLE]: [],
  [PROCESSED_QUOTE_TABLE]: [{ name: 'last_updated_day', transform: 'day', source: 'last_updated' }],
  [COIN_DAILY_TABLE]: CURATED_SPEC,
  [MARKET_DAILY_TABLE]: CURATED_SPEC,
};

interface Zones {
  processed: Storage;
  curated: Storage;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmc-iceberg-'));
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  await exportThreeDays({
    pool,
    schema: SCHEMA,
    raw,
    fixtures,
    afterFullLoad: async () => {
      for await (const object of raw.list('')) await rawFirst.put(object.key, await raw.getBytes(object.key));
    },
  });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let folders = 0;
/** Fresh processed and curated zones in folders of their own. */
function localZones(): Zones {
  const root = join(dir, `run-${folders++}`);
  return {
    processed: new LocalStorage({ root: join(root, 'processed') }),
    curated: new LocalStorage({ root: join(root, 'curated') }),
  };
}

async function runIceberg(source: Storage, zones: Zones) {
  const processed = await cryptoRawToProcessed({
    raw: source,
    processed: zones.processed,
    schema: SCHEMA,
    tableFormat: 'iceberg',
  });
  const curated = await cryptoProcessedToCurated({ ...zones, tableFormat: 'iceberg' });
  return { processed, curated };
}

/** A row as pyiceberg's side prints it: integers and timestamps (epoch µs) as text, decimals at scale 18. */
function normalize<F extends Fields>(schema: Schema<F>, row: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const { name, def } of [...schema.columns].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const v = row[name];
    if (v === null || v === undefined) out[name] = null;
    else if (def.kind === 'int32' || def.kind === 'int64') out[name] = String(v);
    else if (def.kind === 'timestamp') out[name] = String(BigInt((v as Date).getTime()) * 1000n);
    else if (def.kind === 'decimal') out[name] = normalizeDecimal(v as string, 38, 18);
    else out[name] = v;
  }
  return JSON.stringify(out);
}

/** Each table's rows, normalised and sorted, by table. */
async function rowsOf(
  zones: Zones,
  read: { tableFormat?: 'hive' | 'iceberg'; snapshotIds?: Record<string, string> } = {},
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const { zone, table, schema } of TABLES) {
    const rows: string[] = [];
    const snapshotId = read.snapshotIds?.[table];
    for await (const row of readDataset({
      storage: zones[zone],
      table,
      schema: schema as Schema<Fields>,
      ...(read.tableFormat ? { tableFormat: read.tableFormat } : {}),
      ...(snapshotId ? { snapshotId } : {}),
    })) {
      rows.push(normalize(schema as Schema<Fields>, row as Record<string, unknown>));
    }
    out[table] = rows.sort();
  }
  return out;
}

interface PyTable {
  error?: string;
  spec: { name: string; transform: string; source: string }[];
  currentSnapshotId: string | null;
  snapshots: { id: string; operation: string }[];
  rows: Record<string, unknown>[];
}

/** pyiceberg's view of each table (`StaticTable.from_metadata` on its current metadata file). */
async function pyiceberg(zones: Zones): Promise<Record<string, PyTable>> {
  const locations: string[] = [];
  for (const { zone, table } of TABLES) {
    const loaded = await new StorageCatalog(zones[zone]).load(table);
    if (!loaded) throw new Error(`no Iceberg table ${table}`);
    locations.push(loaded.metadataLocation);
  }
  const run = spawnSync(PYTHON, [READER], { input: JSON.stringify(locations), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`read_iceberg_tables.py exited with ${run.status}: ${run.stderr}`);
  const answers = JSON.parse(run.stdout) as PyTable[];
  return Object.fromEntries(TABLES.map(({ table }, i) => [table, answers[i] as PyTable]));
}

async function currentSnapshotId(storage: Storage, table: string): Promise<string | undefined> {
  const loaded = await new StorageCatalog(storage).load(table);
  return loaded ? String(loaded.metadata['current-snapshot-id']) : undefined;
}

describe('crypto transforms on Iceberg', () => {
  describe('cryptoRawToProcessed and cryptoProcessedToCurated', () => {
    it('write the same rows as the hive runs, and return the snapshots they committed', async () => {
      const hive = {
        processed: new MemoryStorage('hive-processed'),
        curated: new MemoryStorage('hive-curated'),
      };
      const hiveProcessed = await cryptoRawToProcessed({ raw, processed: hive.processed, schema: SCHEMA });
      const hiveCurated = await cryptoProcessedToCurated(hive);
      const zones = localZones();

      const { processed, curated } = await runIceberg(raw, zones);

      expect(processed).toMatchObject({
        cryptocurrencies: hiveProcessed.cryptocurrencies,
        quotes: hiveProcessed.quotes,
        tableFormat: 'iceberg',
        partitions: hiveProcessed.partitions.map((p) => p.replace(/^dt=/, 'last_updated_day=')),
      });
      expect(hiveProcessed.partitions).toHaveLength(3);
      expect(curated).toMatchObject({
        coinDays: hiveCurated.coinDays,
        days: hiveCurated.days,
        tableFormat: 'iceberg',
      });
      expect(hiveProcessed.snapshotIds).toEqual({});
      expect(hiveCurated.snapshotIds).toEqual({});
      const ids = { ...processed.snapshotIds, ...curated.snapshotIds };
      for (const { zone, table } of TABLES) {
        expect({ table, id: ids[table] }).toEqual({ table, id: await currentSnapshotId(zones[zone], table) });
      }
      expect(curated.quoteSnapshotId).toBe(processed.snapshotIds[PROCESSED_QUOTE_TABLE]);
      const icebergRows = await rowsOf(zones, { tableFormat: 'iceberg' });
      const hiveRows = await rowsOf(hive, { tableFormat: 'hive' });
      for (const { table } of TABLES) {
        expect(icebergRows[table]?.length, table).toBeGreaterThan(0);
        expect(icebergRows[table], table).toEqual(hiveRows[table]);
      }
    }, 60_000);

    it('leave tables that pyiceberg reads with the same rows, spec and current snapshot', async () => {
      const zones = localZones();
      const { processed, curated } = await runIceberg(raw, zones);
      const ids = { ...processed.snapshotIds, ...curated.snapshotIds };
      const ours = await rowsOf(zones, { tableFormat: 'iceberg' });

      const theirs = await pyiceberg(zones);

      for (const { table } of TABLES) {
        const py = theirs[table] as PyTable;
        expect(py.error, table).toBeUndefined();
        expect(py.spec, table).toEqual(SPECS[table]);
        expect(py.currentSnapshotId, table).toBe(ids[table]);
        expect(py.rows.length, table).toBe(ours[table]?.length);
        const rows = py.rows.map((row) =>
          JSON.stringify(Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : 1)))),
        );
        expect(rows.sort(), table).toEqual(ours[table]);
      }
      expect(theirs[PROCESSED_QUOTE_TABLE]?.rows).toHaveLength(processed.quotes);
      expect(theirs[COIN_DAILY_TABLE]?.rows).toHaveLength(curated.coinDays);
    }, 60_000);

    it('add one snapshot per table on each run, leave the same rows, and travel back to the first run', async () => {
      const zones = localZones();
      const first = await runIceberg(rawFirst, zones);
      const firstIds = { ...first.processed.snapshotIds, ...first.curated.snapshotIds };
      const firstRows = await rowsOf(zones, { tableFormat: 'iceberg' });
      const second = await runIceberg(raw, zones);
      const secondRows = await rowsOf(zones, { tableFormat: 'iceberg' });

      const third = await runIceberg(raw, zones);

      expect(first.curated.days).toHaveLength(1);
      expect(third.curated.days).toHaveLength(3);
      expect(await rowsOf(zones, { tableFormat: 'iceberg' })).toEqual(secondRows);
      const secondIds = { ...second.processed.snapshotIds, ...second.curated.snapshotIds };
      const thirdIds = { ...third.processed.snapshotIds, ...third.curated.snapshotIds };
      const theirs = await pyiceberg(zones);
      for (const { table } of TABLES) {
        expect(secondRows[table], table).not.toEqual(firstRows[table]);
        expect(
          theirs[table]?.snapshots.map((s) => s.id),
          table,
        ).toEqual([firstIds[table], secondIds[table], thirdIds[table]]);
        expect(
          theirs[table]?.snapshots.slice(1).map((s) => s.operation),
          table,
        ).toEqual(['overwrite', 'overwrite']);
      }
      expect(await rowsOf(zones, { tableFormat: 'iceberg', snapshotIds: firstIds })).toEqual(firstRows);
      expect(await rowsOf(zones, { tableFormat: 'iceberg', snapshotIds: secondIds })).toEqual(secondRows);
    }, 90_000);
  });

  describe('cryptoProcessedToCurated', () => {
    it('reads every day from the quote snapshot it pinned, not from one committed during the run', async () => {
      const zones = localZones();
      const processed = await cryptoRawToProcessed({
        raw,
        processed: zones.processed,
        schema: SCHEMA,
        tableFormat: 'iceberg',
      });
      const pinned = processed.snapshotIds[PROCESSED_QUOTE_TABLE];
      const baseline = await cryptoProcessedToCurated({ ...zones, tableFormat: 'iceberg' });
      const baselineRows = await rowsOf(zones, { tableFormat: 'iceberg' });
      // A coin with the largest market cap on every day, committed after the run planned its read
      // (the catalog's first load) and before it read the first day (the second load).
      const inner = new StorageCatalog(zones.processed);
      const intruder: QuoteRow[] = processed.partitions.map((p) => ({
        ...quoteOf(999_999, `${p.slice('last_updated_day='.length, -1)}T06:00:00Z`),
      }));
      let loads = 0;
      let intruderSnapshot: string | undefined;
      const catalog: IcebergCatalog = {
        storage: inner.storage,
        kind: 'storage',
        load: async (table) => {
          if (table === PROCESSED_QUOTE_TABLE && ++loads === 2) {
            const written = await writeDataset(intruder, {
              storage: zones.processed,
              table: PROCESSED_QUOTE_TABLE,
              schema: quoteSchema,
              partitionBy: byDay('last_updated'),
              mode: 'append',
              tableFormat: 'iceberg',
              catalog: inner,
            });
            intruderSnapshot = written.snapshotId;
          }
          return inner.load(table);
        },
        commit: (table, base, next) => inner.commit(table, base, next),
      };

      const result = await cryptoProcessedToCurated({
        ...zones,
        tableFormat: 'iceberg',
        processedCatalog: catalog,
      });

      expect(intruderSnapshot).toBeDefined();
      expect(await currentSnapshotId(zones.processed, PROCESSED_QUOTE_TABLE)).toBe(intruderSnapshot);
      expect(result.quoteSnapshotId).toBe(pinned);
      expect(result).toMatchObject({ coinDays: baseline.coinDays, days: baseline.days });
      const rows = await rowsOf(zones, { tableFormat: 'iceberg' });
      expect(rows[COIN_DAILY_TABLE]).toEqual(baselineRows[COIN_DAILY_TABLE]);
      expect(rows[MARKET_DAILY_TABLE]).toEqual(baselineRows[MARKET_DAILY_TABLE]);
    }, 60_000);
  });
});

function quoteOf(id: number, at: string): QuoteRow {
  return {
    cryptocurrency_id: id,
    convert: 'USD',
    last_updated: new Date(at),
    price: '1',
    volume_24h: '1',
    volume_change_24h: null,
    percent_change_1h: null,
    percent_change_24h: null,
    percent_change_7d: null,
    percent_change_30d: null,
    market_cap: '99999999999999999999',
    market_cap_dominance: '99',
    fully_diluted_market_cap: null,
  };
}
