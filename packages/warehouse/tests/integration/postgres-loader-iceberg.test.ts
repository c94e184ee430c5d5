import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, field } from '@tributary/core';
import { byHour, LocalStorage, readDataset, scanIceberg, writeDataset } from '@tributary/lake';
import { type PostgresServer, startPostgres } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLoader } from '../../src/postgres-loader.js';

const schema = defineSchema(
  {
    id: field.string(),
    at: field.timestamp(),
    sensor: field.string(),
    value: field.decimal(12, 3),
    seq: field.int64(),
  },
  { primaryKey: ['id'] },
);
type Reading = typeof schema.$record;

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 10, 23, 8);

/** `count` readings spread over hours 08:00 to 11:00 UTC; `version` changes every value. */
function readings(count: number, version: number, from = 0): Reading[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      id: `r${String(i).padStart(5, '0')}`,
      at: new Date(BASE + (i % 4) * HOUR + i * 1000),
      sensor: `s${i % 7}`,
      value: `${i}.${String((i * 37 + version) % 1000).padStart(3, '0')}`,
      seq: 2n ** 55n + BigInt(i * 10 + version),
    };
  });
}

let server: PostgresServer;
let pool: pg.Pool;
let folder: string;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  folder = await mkdtemp(join(tmpdir(), 'warehouse-pg-iceberg-'));
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

let tables = 0;
/** A fresh Iceberg table (hour(at)) holding `records`, and a fresh target name. */
async function icebergTable(records: Reading[]) {
  tables += 1;
  const storage = new LocalStorage({ root: join(folder, `lake-${tables}`) });
  const write = await writeDataset(records, {
    storage,
    table: 'readings',
    schema,
    partitionBy: byHour('at'),
    tableFormat: 'iceberg',
    mode: 'append',
  });
  return { storage, target: `readings_${tables}`, snapshotId: write.snapshotId as string };
}

/** Rows as text, in id order: what the target holds, comparable with the lake's records. */
async function targetRows(target: string): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, sensor, value::text AS value, seq::text AS seq FROM ${target} ORDER BY id`,
  );
  return rows.map((r) => [r.id, r.at, r.sensor, r.value, r.seq].join('|'));
}

function lakeRows(records: readonly Reading[]): string[] {
  return records.map((r) => [r.id, r.at.toISOString(), r.sensor, r.value, r.seq.toString()].join('|')).sort();
}

async function lakeSnapshot(storage: LocalStorage, snapshotId?: string): Promise<Reading[]> {
  const out: Reading[] = [];
  for await (const r of readDataset({
    storage,
    table: 'readings',
    schema,
    tableFormat: 'iceberg',
    ...(snapshotId === undefined ? {} : { snapshotId }),
  })) {
    out.push(r);
  }
  return out;
}

/** Count, a checksum of the rows, and the row versions (xmin): a rewrite of equal rows changes the last. */
async function fingerprint(target: string) {
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n, md5(string_agg(id || '|' || at::text || '|' || sensor || '|' || value::text || '|' || seq::text, ',' ORDER BY id)) AS checksum, md5(string_agg(xmin::text, ',' ORDER BY id)) AS versions FROM ${target}`,
  );
  return rows[0] as { n: number; checksum: string; versions: string };
}

const loader = () => new PostgresLoader({ pool });
const source = (storage: LocalStorage, extra: Record<string, unknown> = {}) => ({
  storage,
  table: 'readings',
  schema,
  ...extra,
});

describe('PostgresLoader on an Iceberg table (hour(at), written by writeDataset)', () => {
  it("loads the current snapshot's rows exactly, as readDataset reads them", async () => {
    const { storage, target, snapshotId } = await icebergTable(readings(2_000, 0));

    const result = await loader().load(target, source(storage), { mode: 'append' });

    const lake = await lakeSnapshot(storage);
    expect(lake).toHaveLength(2_000);
    expect(await targetRows(target)).toEqual(lakeRows(lake));
    const scan = await scanIceberg({ storage, table: 'readings' });
    expect(result).toMatchObject({
      rows: 2_000,
      inserted: 2_000,
      files: scan.files.length,
      bytes: scan.files.reduce((n, f) => n + f.bytes, 0),
      snapshotId,
      skipped: false,
    });
  });

  for (const mode of ['append', 'replace', 'merge'] as const) {
    it(`a second ${mode} of the same snapshot changes nothing: same count, checksum and row versions`, async () => {
      const { storage, target, snapshotId } = await icebergTable(readings(1_500, 0));
      await loader().load(target, source(storage), { mode });
      const before = await fingerprint(target);

      const again = await loader().load(target, source(storage), { mode });

      expect(await fingerprint(target)).toEqual(before);
      expect(before.n).toBe(1_500);
      expect(again).toMatchObject({
        snapshotId,
        skipped: true,
        rows: 0,
        inserted: 0,
        updated: 0,
        deleted: 0,
      });
    });
  }

  it("after an append to the lake, a load leaves exactly the new snapshot's rows", async () => {
    const { storage, target } = await icebergTable(readings(1_000, 0));
    await loader().load(target, source(storage), { mode: 'replace' });
    const appended = await writeDataset(readings(500, 0, 1_000), {
      storage,
      table: 'readings',
      schema,
      partitionBy: byHour('at'),
      tableFormat: 'iceberg',
      mode: 'append',
    });

    const result = await loader().load(target, source(storage), { mode: 'replace' });

    const lake = await lakeSnapshot(storage, appended.snapshotId as string);
    expect(lake).toHaveLength(1_500);
    expect(await targetRows(target)).toEqual(lakeRows(lake));
    expect(result).toMatchObject({ snapshotId: appended.snapshotId, skipped: false, rows: 1_500 });
  });

  it("after overwrite_partitions, a load holds none of the removed files' rows", async () => {
    const first = readings(1_200, 0);
    const { storage, target } = await icebergTable(first);
    await loader().load(target, source(storage), { mode: 'merge' });
    // Rewrite hour 09:00 only, with new values and fewer rows.
    const nine = BASE + HOUR;
    const rewritten = readings(1_200, 1).filter(
      (r, i) => r.at.getTime() >= nine && r.at.getTime() < nine + HOUR && i % 8 === 1,
    );
    const overwrite = await writeDataset(rewritten, {
      storage,
      table: 'readings',
      schema,
      partitionBy: byHour('at'),
      tableFormat: 'iceberg',
      mode: 'overwrite_partitions',
    });
    expect(rewritten).toHaveLength(150);
    expect(overwrite.removed.length).toBeGreaterThan(0);

    await loader().load(target, source(storage), { mode: 'replace' });

    const lake = await lakeSnapshot(storage);
    const rows = await targetRows(target);
    expect(rows).toEqual(lakeRows(lake));
    const removed = new Set(
      lakeRows(first.filter((r) => r.at.getTime() >= nine && r.at.getTime() < nine + HOUR)),
    );
    expect(rows.filter((r) => removed.has(r))).toEqual([]);
    expect(rows).toHaveLength(1_200 - 300 + rewritten.length);
  });

  it('loads the snapshot it is given (time travel), files and records of that one snapshot', async () => {
    const { storage, target, snapshotId } = await icebergTable(readings(800, 0));
    await writeDataset(readings(400, 0, 800), {
      storage,
      table: 'readings',
      schema,
      partitionBy: byHour('at'),
      tableFormat: 'iceberg',
      mode: 'append',
    });

    const result = await loader().load(target, source(storage, { snapshotId }), { mode: 'replace' });

    expect(await targetRows(target)).toEqual(lakeRows(await lakeSnapshot(storage, snapshotId)));
    const scan = await scanIceberg({ storage, table: 'readings', snapshotId });
    expect(result).toMatchObject({ rows: 800, files: scan.files.length, snapshotId });
  });

  it('loads again when the target was dropped after a load of the same snapshot', async () => {
    const { storage, target } = await icebergTable(readings(300, 0));
    await loader().load(target, source(storage), { mode: 'append' });
    await pool.query(`DROP TABLE ${target}`);

    const result = await loader().load(target, source(storage), { mode: 'append' });

    expect(result).toMatchObject({ skipped: false, rows: 300, created: true });
    expect((await fingerprint(target)).n).toBe(300);
  });
});
