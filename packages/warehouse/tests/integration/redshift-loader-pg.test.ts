// RedshiftLoader's real statements (staging, MERGE / DELETE USING, INSERT … SELECT, BEGIN /
// COMMIT / ROLLBACK, stl_load_errors) run on PostgreSQL 18; only COPY FROM S3 is emulated
// (support/redshift-on-pg.ts).
import { defineSchema, field } from '@tributary/core';
import { byField, writeDataset } from '@tributary/lake';
import { type PostgresServer, startPostgres, terminatingPool } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadError } from '../../src/errors.js';
import { RedshiftLoader, type RedshiftLoaderOptions } from '../../src/redshift-loader.js';
import { installRedshiftEmulation, redshiftOnPg, S3LikeStorage } from './support/redshift-on-pg.js';

const ROLE = 'arn:aws:iam::123456789012:role/RedshiftCopy';

const schema = defineSchema(
  {
    id: field.string(),
    dt: field.date(),
    big: field.int64(),
    price: field.decimal(20, 6),
    at: field.timestamp(),
    note: field.string().nullable(),
  },
  { primaryKey: ['id', 'dt'] },
);
type Reading = typeof schema.$record;
const DAYS = ['2026-11-22', '2026-11-23'];

function reading(i: number, version = 0): Reading {
  return {
    id: `r${String(i).padStart(5, '0')}`,
    dt: DAYS[i % 2] as string,
    big: 2n ** 62n + BigInt(i * 1000 + version),
    price: `${i}.${String(100000 + version).slice(1)}5`,
    at: new Date(Date.UTC(2026, 10, 22, 1, 2, 3, i % 1000)),
    note: i % 7 === 0 ? null : `note ${i}\tv${version} "q" \\ 温度`,
  };
}

let server: PostgresServer;
let pool: pg.Pool;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  await installRedshiftEmulation(pool);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

async function dataset(records: Reading[], format: 'parquet' | 'ndjson' = 'parquet', gzip = false) {
  const storage = new S3LikeStorage();
  await writeDataset(records, {
    storage,
    table: 'readings',
    schema,
    partitionBy: [byField('dt')],
    format,
    formatOptions: { gzip },
  });
  return { storage, table: 'readings', schema };
}

async function readBack(table: string) {
  const { rows } = await pool.query(
    `SELECT id, dt::text AS dt, big::text AS big, price::text AS price, at, note FROM ${table} ORDER BY id, dt`,
  );
  return rows;
}

function expected(records: Reading[]) {
  return [...records]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.dt < b.dt ? -1 : 1))
    .map((r) => ({
      id: r.id,
      dt: r.dt,
      big: r.big.toString(),
      price: r.price,
      at: r.at,
      note: r.note ?? null,
    }));
}

function loaderOn(
  src: { storage: S3LikeStorage },
  extra: Partial<RedshiftLoaderOptions> = {},
  failOn?: (t: string) => Error | undefined,
) {
  const wrapped = redshiftOnPg(pool, src.storage, schema as never, failOn);
  return {
    wrapped,
    loader: new RedshiftLoader({ pool: wrapped, iamRole: ROLE, retryBaseDelayMs: 1, ...extra }),
  };
}

async function manifestsLeft(storage: S3LikeStorage): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list('_redshift/')) keys.push(o.key);
  return keys;
}

describe('RedshiftLoader on PostgreSQL', () => {
  it('append creates the table (Redshift DDL) and restores the field partition from the paths', async () => {
    const records = Array.from({ length: 2000 }, (_, i) => reading(i));
    const src = await dataset(records);
    const { wrapped, loader } = loaderOn(src);
    const result = await loader.load({ schema: 'rs', name: 'readings' }, src, { mode: 'append' });
    expect(result).toMatchObject({ rows: 2000, inserted: 2000, files: 2, created: true });
    expect(wrapped.copies).toBe(2);
    expect(await readBack('rs.readings')).toEqual(expected(records));
    expect(await manifestsLeft(src.storage)).toEqual([]);
    // Temporary tables are dropped before COMMIT: none left in the pooled sessions.
    const temp = await pool.query(
      "SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'tributary_stage%'",
    );
    expect(temp.rows[0].n).toBe(0);
  });

  it('append from gzipped NDJSON', async () => {
    const records = Array.from({ length: 300 }, (_, i) => reading(i));
    const src = await dataset(records, 'ndjson', true);
    const { loader, wrapped } = loaderOn(src);
    const result = await loader.load('readings_json', src, { mode: 'append' });
    expect(result.rows).toBe(300);
    expect(wrapped.statements.find((s) => s.startsWith('COPY'))).toContain(
      "FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto'",
    );
    expect(await readBack('readings_json')).toEqual(expected(records));
  });

  for (const mergeStrategy of ['merge', 'delete-insert'] as const) {
    it(`merge (${mergeStrategy}): counts match what changed, and a second identical load is idempotent`, async () => {
      const table = `merged_${mergeStrategy.replace('-', '_')}`;
      const first = Array.from({ length: 500 }, (_, i) => reading(i));
      const src0 = await dataset(first);
      const initial = await loaderOn(src0, { mergeStrategy }).loader.load(table, src0, { mode: 'merge' });
      expect(initial).toMatchObject({ rows: 500, inserted: 500, updated: 0, created: true });
      const second = [
        ...Array.from({ length: 200 }, (_, i) => reading(300 + i, 1)),
        ...Array.from({ length: 100 }, (_, i) => reading(500 + i)),
      ];
      const src = await dataset(second);
      const { loader: next } = loaderOn(src, { mergeStrategy });
      const result = await next.load(table, src, { mode: 'merge' });
      expect(result).toMatchObject({ rows: 300, updated: 200, inserted: 100 });
      const want = expected([...first.slice(0, 300), ...second]);
      expect(await readBack(table)).toEqual(want);
      const again = await next.load(table, src, { mode: 'merge' });
      expect(again).toMatchObject({ rows: 300, updated: 300, inserted: 0 });
      expect(await readBack(table)).toEqual(want);
    });
  }

  it('replace deletes (not truncates) and inserts in one transaction', async () => {
    const first = Array.from({ length: 100 }, (_, i) => reading(i));
    const src1 = await dataset(first);
    await loaderOn(src1).loader.load('replaced', src1, { mode: 'append' });
    const second = Array.from({ length: 40 }, (_, i) => reading(1000 + i));
    const src2 = await dataset(second);
    const { loader, wrapped } = loaderOn(src2);
    const result = await loader.load('replaced', src2, { mode: 'replace' });
    expect(result).toMatchObject({ deleted: 100, inserted: 40, rows: 40 });
    expect(wrapped.statements).toContain('DELETE FROM "replaced"');
    expect(wrapped.statements.some((s) => s.startsWith('TRUNCATE'))).toBe(false);
    expect(await readBack('replaced')).toEqual(expected(second));
  });

  it('a failure on MERGE rolls everything back; the next load on the same sessions works', async () => {
    const first = Array.from({ length: 50 }, (_, i) => reading(i));
    const src1 = await dataset(first);
    await loaderOn(src1).loader.load('rolled_back', src1, { mode: 'append' });
    const before = await readBack('rolled_back');
    const src2 = await dataset(Array.from({ length: 80 }, (_, i) => reading(i, 9)));
    const { loader } = loaderOn(src2, {}, (t) =>
      t.startsWith('MERGE') ? new Error('injected failure') : undefined,
    );
    const error = (await loader
      .load('rolled_back', src2, { mode: 'merge' })
      .catch((e: unknown) => e)) as LoadError;
    expect(error).toBeInstanceOf(LoadError);
    expect((error.cause as Error).message).toBe('injected failure');
    expect(await readBack('rolled_back')).toEqual(before);
    expect(await manifestsLeft(src2.storage)).toEqual([]);
    const ok = await loaderOn(src2).loader.load('rolled_back', src2, { mode: 'merge' });
    expect(ok).toMatchObject({ updated: 50, inserted: 30 });
  });

  it('a serialization conflict (40001 on PostgreSQL) is retried and the load succeeds', async () => {
    const src = await dataset(Array.from({ length: 20 }, (_, i) => reading(i)));
    let thrown = 0;
    const { loader, wrapped } = loaderOn(src, {}, (t) => {
      if (t.startsWith('INSERT INTO "retried"') && thrown === 0) {
        thrown += 1;
        return Object.assign(new Error('could not serialize access due to read/write dependencies'), {
          code: '40001',
        });
      }
      return undefined;
    });
    const result = await loader.load('retried', src, { mode: 'append' });
    expect(result.rows).toBe(20);
    expect(wrapped.statements.filter((s) => s === 'BEGIN')).toHaveLength(2);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM retried');
    expect(rows[0].n).toBe(20);
  });

  it('a rejected COPY: rolled back, details read from stl_load_errors via pg_last_copy_id()', async () => {
    // The target's smallint column cannot hold the third row's value.
    await pool.query(
      'CREATE TABLE rejected (id varchar(100), big smallint, price numeric(20,6), at timestamptz, note varchar(100))',
    );
    await pool.query("INSERT INTO rejected (id, big) VALUES ('kept', 1)");
    const flat = defineSchema({
      id: field.string(),
      big: field.int64(),
      price: field.decimal(20, 6),
      at: field.timestamp(),
      note: field.string().nullable(),
    });
    const storage = new S3LikeStorage();
    await writeDataset(
      [
        { id: 'a', big: 1n, price: '1.5', at: new Date(0), note: null },
        { id: 'b', big: 2n, price: '2.5', at: new Date(0), note: 'x' },
        { id: 'c', big: 70000n, price: '3.5', at: new Date(0), note: 'y' },
      ],
      { storage, table: 'flat', schema: flat },
    );
    const wrapped = redshiftOnPg(pool, storage, flat as never);
    const loader = new RedshiftLoader({ pool: wrapped, iamRole: ROLE });
    const error = (await loader
      .load('rejected', { storage, table: 'flat', schema: flat }, { mode: 'append' })
      .catch((e: unknown) => e)) as LoadError;
    expect(error).toBeInstanceOf(LoadError);
    expect(error.code).toBe('COPY_REJECTED');
    expect(error.details).toHaveLength(1);
    const detail = error.details[0];
    expect(detail?.file).toMatch(/^s3:\/\/lake-bucket\/processed\/flat\/part-.*\.parquet$/);
    expect(detail).toMatchObject({
      line: 3,
      column: 'big',
      columnType: 'smallint',
      rawValue: '70000',
      errorCode: 1216,
    });
    expect(detail?.reason).toContain('out of range for type smallint');
    expect(detail?.rawLine).toContain('70000');
    expect(error.message).toContain('line 3, column big');
    // Read in the same session, after the ROLLBACK.
    const i = wrapped.statements.indexOf('ROLLBACK');
    expect(wrapped.statements[i + 1]).toContain('FROM stl_load_errors WHERE query = pg_last_copy_id()');
    const { rows } = await pool.query('SELECT id, big FROM rejected');
    expect(rows).toEqual([{ id: 'kept', big: 1 }]);
    expect(await manifestsLeft(storage)).toEqual([]);
  });

  it('a backend that dies mid-load: LoadError with the driver error as cause, target unchanged, the pool serves on', async () => {
    const first = Array.from({ length: 40 }, (_, i) => reading(i));
    const src1 = await dataset(first);
    await loaderOn(src1).loader.load('dies_rs', src1, { mode: 'append' });
    const before = await readBack('dies_rs');
    const src2 = await dataset(Array.from({ length: 60 }, (_, i) => reading(i + 100)));
    // Killed after the COPYs into the staging table, before the target is touched.
    const dying = terminatingPool(server.url, (text) => text.startsWith('INSERT INTO "dies_rs"'));
    try {
      const wrapped = redshiftOnPg(dying.pool, src2.storage, schema as never);
      const loader = new RedshiftLoader({ pool: wrapped, iamRole: ROLE, retryBaseDelayMs: 1 });

      const error = await loader.load('dies_rs', src2, { mode: 'append' }).catch((e: unknown) => e);

      expect(dying.terminated()).toBe(1);
      expect(error).toBeInstanceOf(LoadError);
      expect((error as LoadError).code).toBe('LOAD_FAILED');
      expect(((error as LoadError).cause as { code?: string }).code).toBe('57P01');
      expect(await readBack('dies_rs')).toEqual(before);
      expect(await manifestsLeft(src2.storage)).toEqual([]);
      const again = await loader.load('dies_rs', src2, { mode: 'append' });
      expect(again.inserted).toBe(60);
    } finally {
      await dying.end();
    }
  });
});
