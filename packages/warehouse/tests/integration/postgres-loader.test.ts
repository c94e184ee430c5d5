import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defineSchema,
  type EventListener,
  field,
  type PgClient,
  type PgPool,
  type TributaryEvent,
} from '@tributary/core';
import { byField, LocalStorage, MemoryStorage, writeDataset } from '@tributary/lake';
import { type PostgresServer, startPostgres, terminatingPool } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadError, WarehouseOptionsError } from '../../src/errors.js';
import { PostgresLoader } from '../../src/postgres-loader.js';

const ROWS = 21_000;
const DAYS = ['2026-11-21', '2026-11-22', '2026-11-23'];

const schema = defineSchema(
  {
    id: field.string(),
    dt: field.date(),
    seq: field.int32(),
    big: field.int64(),
    price: field.decimal(38, 18),
    ratio: field.double().nullable(),
    ok: field.boolean(),
    at: field.timestamp(),
    note: field.string().nullable(),
    tags: field.list(field.string()),
  },
  { primaryKey: ['id', 'dt'] },
);
type Reading = typeof schema.$record;

const NOTES = [
  'plain',
  'tab\there',
  'new\nline',
  'back\\slash \\N',
  'quote\'s "double"',
  '温度 ünïcode',
  'cr\r\n',
  '',
];

function reading(i: number, version = 0): Reading {
  return {
    id: `r${String(i).padStart(6, '0')}`,
    dt: DAYS[i % DAYS.length] as string,
    seq: i + version,
    big: 2n ** 60n + BigInt(i) * 1_000_003n + BigInt(version),
    price: `${i}.${String((i * 7919 + version) % 1e9).padStart(9, '0')}123456789`,
    ratio: i % 11 === 0 ? null : (i + version) / 7,
    ok: (i + version) % 2 === 0,
    at: new Date(Date.UTC(2026, 10, 21) + i * 1237 + version),
    note: i % 13 === 0 ? null : (NOTES[i % NOTES.length] as string),
    tags: i % 5 === 0 ? [] : [`t${i % 3}`, 'a"b', 'c,d'],
  };
}

let server: PostgresServer;
let pool: pg.Pool;
let folder: string;
let parquet: LocalStorage;
let ndjson: LocalStorage;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  folder = await mkdtemp(join(tmpdir(), 'warehouse-pg-loader-'));
  parquet = new LocalStorage({ root: join(folder, 'parquet') });
  ndjson = new LocalStorage({ root: join(folder, 'ndjson') });
  const all = Array.from({ length: ROWS }, (_, i) => reading(i));
  await writeDataset(all, {
    storage: parquet,
    table: 'readings',
    schema,
    partitionBy: [byField('dt')],
    format: 'parquet',
  });
  await writeDataset(all, {
    storage: ndjson,
    table: 'readings',
    schema,
    partitionBy: [byField('dt')],
    format: 'ndjson',
  });
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

interface Row {
  id: string;
  dt: string;
  seq: number;
  big: string;
  price: string;
  ratio: number | null;
  ok: boolean;
  at: Date;
  note: string | null;
  tags: string[];
}

async function readBack(table: string): Promise<Row[]> {
  const { rows } = await pool.query(
    `SELECT id, dt::text AS dt, seq, big::text AS big, price::text AS price, ratio, ok, at, note, tags FROM ${table} ORDER BY id, dt`,
  );
  return rows as Row[];
}

function expected(records: Reading[]): Row[] {
  return [...records]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.dt < b.dt ? -1 : 1))
    .map((r) => ({
      id: r.id,
      dt: r.dt,
      seq: r.seq,
      big: r.big.toString(),
      price: r.price,
      ratio: r.ratio,
      ok: r.ok,
      at: r.at,
      note: r.note ?? null,
      tags: r.tags,
    }));
}

/** A pool whose clients throw on the first statement `fails` matches. */
function failingPool(fails: (text: string) => boolean): PgPool {
  return {
    query: (text, values) => pool.query(text, values),
    async connect(): Promise<PgClient> {
      const client = await pool.connect();
      return {
        query: (text: string, values?: unknown[]) => {
          if (typeof text === 'string' && fails(text)) return Promise.reject(new Error('injected failure'));
          return client.query(text as never, values as never) as never;
        },
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  };
}

const source = (storage: LocalStorage | MemoryStorage, partitions?: Record<string, string>) => ({
  storage,
  table: 'readings',
  schema,
  ...(partitions ? { partitions } : {}),
});

describe('PostgresLoader', () => {
  describe('append', () => {
    it(`loads ${ROWS} rows from Parquet exactly: dt restored, decimals, bigints > 2^53, timestamps, hostile text, lists`, async () => {
      const events: TributaryEvent[] = [];
      const onEvent: EventListener = (e) => events.push(e);
      const loader = new PostgresLoader({ pool, onEvent });
      const result = await loader.load({ schema: 'lake', name: 'readings_parquet' }, source(parquet), {
        mode: 'append',
      });
      console.log(
        `PostgresLoader append parquet: ${result.rows} rows, ${result.files} files, ${result.bytes} bytes in ${result.elapsedMs.toFixed(0)} ms`,
      );
      expect(result).toMatchObject({
        table: '"lake"."readings_parquet"',
        rows: ROWS,
        inserted: ROWS,
        updated: 0,
        deleted: 0,
        files: 3,
        created: true,
      });
      expect(result.bytes).toBeGreaterThan(0);
      expect(await readBack('lake.readings_parquet')).toEqual(
        expected(Array.from({ length: ROWS }, (_, i) => reading(i))),
      );
      // Progress: chunks as `batch`, then the committed rows as one `records.out`.
      const batches = events.filter((e) => e.type === 'batch');
      expect(batches.length).toBeGreaterThan(1);
      expect(batches.reduce((n, e) => n + e.count, 0)).toBe(ROWS);
      expect(events.at(-1)).toMatchObject({ type: 'records.out', source: 'postgres-loader', count: ROWS });
      // The table was created with the schema's types and primary key.
      const types = await pool.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'lake' AND table_name = 'readings_parquet' ORDER BY ordinal_position",
      );
      expect(types.rows.map((r) => r.data_type)).toEqual([
        'text',
        'date',
        'integer',
        'bigint',
        'numeric',
        'double precision',
        'boolean',
        'timestamp with time zone',
        'text',
        'ARRAY',
      ]);
    });

    it(`loads ${ROWS} rows from NDJSON exactly`, async () => {
      const loader = new PostgresLoader({ pool });
      const result = await loader.load({ schema: 'lake', name: 'readings_ndjson' }, source(ndjson), {
        mode: 'append',
      });
      console.log(
        `PostgresLoader append ndjson: ${result.rows} rows, ${result.bytes} bytes in ${result.elapsedMs.toFixed(0)} ms`,
      );
      expect(result).toMatchObject({ rows: ROWS, inserted: ROWS, files: 3 });
      expect(await readBack('lake.readings_ndjson')).toEqual(
        expected(Array.from({ length: ROWS }, (_, i) => reading(i))),
      );
    });

    it('loads only the partitions asked for, and counts only their files', async () => {
      const result = await new PostgresLoader({ pool }).load(
        'readings_one_day',
        source(parquet, { dt: DAYS[1] as string }),
        {
          mode: 'append',
        },
      );
      expect(result.files).toBe(1);
      expect(result.rows).toBe(ROWS / 3);
      const { rows } = await pool.query('SELECT DISTINCT dt::text AS dt FROM readings_one_day');
      expect(rows).toEqual([{ dt: DAYS[1] }]);
    });
  });

  describe('a table another engine wrote (no manifest)', () => {
    const daily = defineSchema(
      { date: field.date(), convert: field.string(), coin: field.string(), close: field.decimal(38, 18) },
      { primaryKey: ['date', 'convert', 'coin'] },
    );
    const rows = [
      { date: '2026-11-22', convert: 'USD', coin: 'BTC', close: '1.500000000000000000' },
      { date: '2026-11-23', convert: 'USD', coin: 'BTC', close: '2.000000000000000001' },
      { date: '2026-11-23', convert: 'EUR', coin: 'BTC', close: '1.900000000000000000' },
    ];
    const partitionBy = [byField('date', 'dt'), byField('convert')];

    async function sparkLike(): Promise<MemoryStorage> {
      const storage = new MemoryStorage();
      await writeDataset(rows, { storage, table: 'daily', schema: daily, partitionBy, format: 'parquet' });
      const manifests: string[] = [];
      // The lake keeps a table's manifests beside it, under _tributary/<table>/.
      for await (const o of storage.list('_tributary/daily/')) manifests.push(o.key);
      await storage.delete(manifests);
      return storage;
    }

    it('fills fields from folders whose keys differ from the field names, given partitionBy', async () => {
      const storage = await sparkLike();
      const result = await new PostgresLoader({ pool }).load(
        'daily_spark',
        { storage, table: 'daily', schema: daily, partitionBy },
        { mode: 'merge' },
      );

      expect(result).toMatchObject({ rows: 3, inserted: 3 });
      const back = await pool.query(
        "SELECT to_char(date, 'YYYY-MM-DD') AS date, convert, coin, close::text AS close FROM daily_spark ORDER BY date, convert",
      );
      expect(back.rows).toEqual([rows[0], rows[2], rows[1]]);
    });

    it('says which field is missing when the folders do not name it and no partitionBy is given', async () => {
      const storage = await sparkLike();
      const error = (await new PostgresLoader({ pool })
        .load('daily_unmapped', { storage, table: 'daily', schema: daily }, { mode: 'append' })
        .catch((e: unknown) => e)) as LoadError;

      expect(error).toBeInstanceOf(LoadError);
      expect(String(error.cause)).toMatch(/date/);
    });
  });

  describe('replace', () => {
    it('empties the target and loads the source in one transaction', async () => {
      const loader = new PostgresLoader({ pool });
      await loader.load('replace_me', source(parquet), { mode: 'append' });
      const result = await loader.load('replace_me', source(parquet, { dt: DAYS[0] as string }), {
        mode: 'replace',
      });
      expect(result).toMatchObject({ deleted: ROWS, inserted: ROWS / 3, rows: ROWS / 3, created: false });
      expect(await readBack('replace_me')).toEqual(
        expected(Array.from({ length: ROWS }, (_, i) => reading(i)).filter((r) => r.dt === DAYS[0])),
      );
    });
  });

  describe('merge', () => {
    it('updates matched rows, inserts the others, and a second identical load changes nothing', async () => {
      const storage = new MemoryStorage();
      const first = Array.from({ length: 1000 }, (_, i) => reading(i));
      await writeDataset(first, { storage, table: 'readings', schema, partitionBy: [byField('dt')] });
      const loader = new PostgresLoader({ pool });
      const initial = await loader.load('merged', source(storage), { mode: 'merge' });
      expect(initial).toMatchObject({ inserted: 1000, updated: 0, created: true });

      // 400 changed rows (new versions of 600..999) and 500 new ones (1000..1499).
      const next = new MemoryStorage();
      const second = [
        ...Array.from({ length: 400 }, (_, i) => reading(600 + i, 1)),
        ...Array.from({ length: 500 }, (_, i) => reading(1000 + i)),
      ];
      await writeDataset(second, { storage: next, table: 'readings', schema, partitionBy: [byField('dt')] });
      const merged = await loader.load('merged', source(next), { mode: 'merge' });
      expect(merged).toMatchObject({ rows: 900, updated: 400, inserted: 500, deleted: 0 });
      const want = expected([...first.slice(0, 600), ...second]);
      expect(await readBack('merged')).toEqual(want);

      const again = await loader.load('merged', source(next), { mode: 'merge' });
      // Rows equal to the target still count as updated (documented): nothing is inserted.
      expect(again).toMatchObject({ rows: 900, updated: 900, inserted: 0 });
      expect(await readBack('merged')).toEqual(want);
    });

    it('rejects duplicate keys in the source with a typed error naming some, and changes nothing', async () => {
      const loader = new PostgresLoader({ pool });
      const storage = new MemoryStorage();
      await writeDataset([reading(1), reading(2)], { storage, table: 'readings', schema });
      await loader.load('dupes', source(storage), { mode: 'append' });
      const dupes = new MemoryStorage();
      await writeDataset([reading(1, 1), reading(1, 2), reading(3), reading(3, 1), reading(4)], {
        storage: dupes,
        table: 'readings',
        schema,
      });
      const error = (await loader
        .load('dupes', source(dupes), { mode: 'merge' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error).toBeInstanceOf(LoadError);
      expect(error.code).toBe('SOURCE_DUPLICATE_KEYS');
      expect(error.message).toContain('("r000001", "2026-11-22") ×2');
      expect(error.message).toContain('("r000003", "2026-11-21") ×2');
      expect(await readBack('dupes')).toEqual(expected([reading(1), reading(2)]));
    });

    it('rejects NULL keys', async () => {
      const loader = new PostgresLoader({ pool });
      const storage = new MemoryStorage();
      await writeDataset([reading(1), reading(13)], { storage, table: 'readings', schema });
      const error = (await loader
        .load('null_keys', source(storage), { mode: 'merge', keys: ['note'] })
        .catch((e: unknown) => e)) as LoadError;
      expect(error.code).toBe('SOURCE_NULL_KEYS');
      expect(error.message).toContain('1 source rows have a NULL key');
    });

    it('needs keys', async () => {
      const keyless = defineSchema({ id: field.string() });
      const storage = new MemoryStorage();
      await expect(
        new PostgresLoader({ pool }).load(
          'keyless',
          { storage, table: 'k', schema: keyless },
          { mode: 'merge' },
        ),
      ).rejects.toBeInstanceOf(WarehouseOptionsError);
    });
  });

  describe('failures leave the target unchanged', () => {
    it('a client that throws on the final INSERT of a merge', async () => {
      const loader = new PostgresLoader({ pool });
      const storage = new MemoryStorage();
      await writeDataset(
        Array.from({ length: 50 }, (_, i) => reading(i)),
        { storage, table: 'readings', schema },
      );
      await loader.load('fails_late', source(storage), { mode: 'append' });
      const before = await readBack('fails_late');
      const next = new MemoryStorage();
      await writeDataset(
        Array.from({ length: 100 }, (_, i) => reading(i, 5)),
        { storage: next, table: 'readings', schema },
      );
      const failing = new PostgresLoader({
        pool: failingPool((t) => t.startsWith('INSERT INTO "fails_late"')),
      });
      const error = (await failing
        .load('fails_late', source(next), { mode: 'merge' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error).toBeInstanceOf(LoadError);
      expect((error.cause as Error).message).toBe('injected failure');
      expect(await readBack('fails_late')).toEqual(before);
    });

    it('a NOT NULL violation in the middle of a replace', async () => {
      await pool.query(
        'CREATE TABLE strict_target (id text, dt date, seq integer, big bigint, price numeric(38,18), ratio double precision NOT NULL, ok boolean, at timestamptz, note text, tags text[])',
      );
      await pool.query("INSERT INTO strict_target (id, ratio) VALUES ('kept', 1)");
      const error = (await new PostgresLoader({ pool })
        .load('strict_target', source(parquet), { mode: 'replace' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error).toBeInstanceOf(LoadError);
      expect((error.cause as { code?: string }).code).toBe('23502');
      const { rows } = await pool.query('SELECT id FROM strict_target');
      expect(rows).toEqual([{ id: 'kept' }]);
    });

    it('a target that lacks source columns: typed error naming them, table not altered', async () => {
      await pool.query('CREATE TABLE narrow_target (id text, dt date)');
      const error = (await new PostgresLoader({ pool })
        .load('narrow_target', source(parquet), { mode: 'append' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error.code).toBe('TARGET_COLUMNS_MISSING');
      expect(error.message).toContain('"seq", "big", "price", "ratio", "ok", "at", "note", "tags"');
      const { rows } = await pool.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'narrow_target'",
      );
      expect(rows[0].n).toBe(2);
    });

    it('createTable: false with no target', async () => {
      const error = (await new PostgresLoader({ pool })
        .load('never_created', source(parquet), { mode: 'append', createTable: false })
        .catch((e: unknown) => e)) as LoadError;
      expect(error.code).toBe('TARGET_MISSING');
      const { rows } = await pool.query("SELECT to_regclass('never_created') AS t");
      expect(rows[0].t).toBeNull();
    });

    it('an aborted load', async () => {
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await expect(
        new PostgresLoader({ pool }).load('aborted', source(parquet), {
          mode: 'append',
          signal: controller.signal,
        }),
      ).rejects.toBeInstanceOf(LoadError);
      const { rows } = await pool.query("SELECT to_regclass('aborted') AS t");
      expect(rows[0].t).toBeNull();
    });
  });

  describe('a backend that dies mid-load', () => {
    it('rejects with a LoadError whose cause is the driver error, keeps the target, and the pool serves on', async () => {
      const storage = new MemoryStorage();
      await writeDataset(
        Array.from({ length: 50 }, (_, i) => reading(i)),
        { storage, table: 'readings', schema },
      );
      await new PostgresLoader({ pool }).load('dies_mid_merge', source(storage), { mode: 'append' });
      const before = await readBack('dies_mid_merge');
      const next = new MemoryStorage();
      await writeDataset(
        Array.from({ length: 100 }, (_, i) => reading(i, 5)),
        { storage: next, table: 'readings', schema },
      );
      // Killed after the COPY into the staging table, before the target is touched.
      const dying = terminatingPool(server.url, (text) => text.startsWith('UPDATE "dies_mid_merge"'));
      try {
        const loader = new PostgresLoader({ pool: dying.pool });

        const error = await loader
          .load('dies_mid_merge', source(next), { mode: 'merge', keys: ['id', 'dt'] })
          .catch((e: unknown) => e);

        expect(dying.terminated()).toBe(1);
        expect(error).toBeInstanceOf(LoadError);
        expect((error as LoadError).code).toBe('LOAD_FAILED');
        expect(((error as LoadError).cause as { code?: string }).code).toBe('57P01');
        expect(await readBack('dies_mid_merge')).toEqual(before);
        const again = await loader.load('dies_mid_merge', source(next), {
          mode: 'merge',
          keys: ['id', 'dt'],
        });
        expect(again).toMatchObject({ updated: 50, inserted: 50 });
      } finally {
        await dying.end();
      }
    });
  });
});
