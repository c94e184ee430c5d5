// Schema, table and column names that break naive SQL building: quotes, semicolons, spaces,
// comment markers, backslashes and non-ASCII. Both loaders, all three modes, read back exactly,
// and nothing but the targets appears in or disappears from the catalog.
import { defineSchema, field, qualifiedName, quoteIdentifier, type TableName } from '@tributary/core';
import { byField, writeDataset } from '@tributary/lake';
import { type PostgresServer, startPostgres } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLoader } from '../../src/postgres-loader.js';
import { RedshiftLoader } from '../../src/redshift-loader.js';
import type { Loader } from '../../src/types.js';
import { installRedshiftEmulation, redshiftOnPg, S3LikeStorage } from './support/redshift-on-pg.js';

const KEY = 'id"key';
const schema = defineSchema(
  {
    [KEY]: field.string(),
    'semi;colon': field.int64(),
    'with space': field.decimal(10, 2).nullable(),
    '--comment': field.string().nullable(),
    'back\\slash': field.timestamp(),
    温度: field.double(),
    ünïcode: field.boolean(),
    dt: field.date(),
  },
  { primaryKey: [KEY] },
);
type Row = typeof schema.$record;
const COLUMNS = schema.columns.map((c) => c.name);
const SCHEMA = 'we"ird; schema--';

function row(i: number, version = 0): Row {
  return {
    [KEY]: `k${i}"; DROP TABLE x; --`,
    'semi;colon': 2n ** 61n + BigInt(i + version),
    'with space': i % 4 === 0 ? null : `${i + version}.25`,
    '--comment': i % 3 === 0 ? null : `/* ${i} */ '\\' \t ${version}`,
    'back\\slash': new Date(Date.UTC(2026, 10, 23, 0, 0, i, version)),
    温度: i / 4 + version,
    ünïcode: (i + version) % 2 === 0,
    dt: i % 2 === 0 ? '2026-11-22' : '2026-11-23',
  } as Row;
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

async function catalog(): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT n.nspname || ' / ' || c.relname || ' / ' || c.relkind::text AS item FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
     UNION ALL SELECT nspname::text || ' / (schema)' FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
     ORDER BY 1`,
  );
  return rows.map((r) => r.item as string);
}

async function readBack(table: TableName) {
  const select = COLUMNS.map((c) => {
    const q = quoteIdentifier(c);
    return ['semi;colon', 'with space', 'dt'].includes(c) ? `${q}::text AS ${q}` : q;
  }).join(', ');
  const { rows } = await pool.query(
    `SELECT ${select} FROM ${qualifiedName(table)} ORDER BY ${quoteIdentifier(KEY)}`,
  );
  return rows;
}

function expected(records: Row[]) {
  return [...records]
    .sort((a, b) => ((a[KEY] as string) < (b[KEY] as string) ? -1 : 1))
    .map((r) => ({ ...r, 'semi;colon': String(r['semi;colon']) }));
}

async function dataset(records: Row[]) {
  const storage = new S3LikeStorage('s3://lake-bucket/zone with space');
  await writeDataset(records, { storage, table: 'hostile', schema, partitionBy: [byField('dt')] });
  return { storage, table: 'hostile', schema };
}

type Make = (src: Awaited<ReturnType<typeof dataset>>) => Loader;
const loaders: [string, TableName, Make][] = [
  [
    'PostgresLoader',
    { schema: SCHEMA, name: 't a"b;\\ 温度 ünïcode -- pg' },
    () => new PostgresLoader({ pool }),
  ],
  [
    'RedshiftLoader',
    { schema: SCHEMA, name: 't a"b;\\ 温度 ünïcode -- rs' },
    (src) =>
      new RedshiftLoader({
        pool: redshiftOnPg(pool, src.storage, schema as never),
        iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy',
      }),
  ],
];

describe('hostile identifiers', () => {
  for (const [name, target, make] of loaders) {
    it(`${name}: append, merge, replace with hostile schema, table and column names`, async () => {
      const before = await catalog();

      const first = Array.from({ length: 30 }, (_, i) => row(i));
      const src1 = await dataset(first);
      const appended = await make(src1).load(target, src1, { mode: 'append' });
      expect(appended).toMatchObject({ rows: 30, inserted: 30, created: true });
      expect(await readBack(target)).toEqual(expected(first));

      const second = [
        ...Array.from({ length: 10 }, (_, i) => row(20 + i, 1)),
        ...Array.from({ length: 5 }, (_, i) => row(30 + i)),
      ];
      const src2 = await dataset(second);
      const merged = await make(src2).load(target, src2, { mode: 'merge' });
      expect(merged).toMatchObject({ rows: 15, updated: 10, inserted: 5 });
      expect(await readBack(target)).toEqual(expected([...first.slice(0, 20), ...second]));

      const third = Array.from({ length: 7 }, (_, i) => row(100 + i, 2));
      const src3 = await dataset(third);
      const replaced = await make(src3).load(target, src3, { mode: 'replace' });
      expect(replaced).toMatchObject({ rows: 7, inserted: 7, deleted: 35 });
      expect(await readBack(target)).toEqual(expected(third));

      // Only the target (its table, primary key index, and the schema on the first run) appeared.
      const after = await catalog();
      const added = after.filter((x) => !before.includes(x));
      const removed = before.filter((x) => !after.includes(x));
      expect(removed).toEqual([]);
      expect(added.filter((x) => !x.startsWith(`${SCHEMA} / (schema)`)).sort()).toEqual(
        [`${SCHEMA} / ${target.name} / r`, `${SCHEMA} / ${target.name}_pkey / i`].sort(),
      );
    });
  }
});
