import { csvFormat, MemoryStorage, type Storage } from '@tributary/lake';
import { type PostgresServer, startPostgres, terminatingPool } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { cdcSchema, DmsExportError, exportTables, installChangeCapture } from '../../src/dms-export.js';
import { replayExport } from '../../src/dms-replay.js';
import { normalizeListings } from '../../src/normalize.js';
import { PostgresStore } from '../../src/postgres-store.js';
import { CRYPTO_TABLES, type CryptoTableName } from '../../src/schemas.js';

let server: PostgresServer;
let pool: pg.Pool;
const fixtures = generateFixtures({ coins: 120, snapshots: 2 });
const TABLES = Object.keys(CRYPTO_TABLES) as CryptoTableName[];

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

/** A value as text, the same for what pg returns and what the export reads back. */
function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function canonical(row: Record<string, unknown>, table: CryptoTableName): string {
  return JSON.stringify(CRYPTO_TABLES[table].columns.map((c) => text(row[c.name])));
}

async function tableRows(schema: string, table: CryptoTableName): Promise<string[]> {
  // Decimals come back from pg as exact text.
  const { rows } = await pool.query(`SELECT * FROM "${schema}"."${table}"`);
  return rows.map((r) => canonical(r, table)).sort();
}

async function replayed(storage: MemoryStorage, schema: string, table: CryptoTableName): Promise<string[]> {
  const rows = await replayExport(storage, table, { schema });
  return [...rows.values()].map((r) => canonical(r, table)).sort();
}

async function keysUnder(storage: MemoryStorage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys;
}

describe('installChangeCapture', () => {
  it('keeps a schema name holding $$ inside the function body, where it cannot end the body early', async () => {
    const schema = 'x$$; DROP TABLE public.capture_victim; --';
    await pool.query('CREATE TABLE IF NOT EXISTS public.capture_victim (id int)');
    const store = new PostgresStore({ pool, schema });
    await store.init();

    await installChangeCapture(pool, schema);
    await store.load(normalizeListings(fixtures.listings(0, ['USD'])), { source: 'fixtures' });
    const victim = await pool.query("SELECT to_regclass('public.capture_victim') AS t");
    const changes = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema.replace(/"/g, '""')}"._changes`,
    );

    expect(victim.rows[0].t).toBe('capture_victim');
    expect(changes.rows[0].n).toBeGreaterThan(0);
  });
});

describe('exportTables', () => {
  describe('full then cdc', () => {
    it('writes LOAD and CDC files whose replay reproduces every table exactly', async () => {
      const schema = 'dms_replay';
      const store = new PostgresStore({ pool, schema });
      await store.init();
      await installChangeCapture(pool, schema);
      await store.load(normalizeListings(fixtures.listings(0, ['USD'])), { source: 'fixtures' });
      const storage = new MemoryStorage();

      const full = await exportTables({ pool, storage, schema, mode: 'full', maxRowsPerFile: 100 });
      await store.load(normalizeListings(fixtures.listings(1, ['USD'])), { source: 'fixtures' });
      await pool.query(`DELETE FROM "${schema}".cryptocurrency_tag WHERE cryptocurrency_id IN (
        SELECT cryptocurrency_id FROM "${schema}".cryptocurrency_tag ORDER BY 1 LIMIT 3)`);
      await pool.query(
        `DELETE FROM "${schema}".quote WHERE cryptocurrency_id = (SELECT min(id) FROM "${schema}".cryptocurrency)`,
      );
      const renamed = await pool.query(
        `UPDATE "${schema}".tag SET slug = slug || '-renamed' WHERE slug = (SELECT min(slug) FROM "${schema}".tag)`,
      );
      const cdc = await exportTables({
        pool,
        storage,
        schema,
        mode: 'cdc',
        now: () => new Date('2026-11-23T10:11:12.345Z'),
      });

      const quoteFull = full.find((r) => r.table === 'quote');
      expect(quoteFull?.keys).toEqual([
        `coinmarketcap/${schema}/quote/LOAD00000001.csv`,
        `coinmarketcap/${schema}/quote/LOAD00000002.csv`,
      ]);
      expect(quoteFull?.rows).toBe(120);
      const quoteCdc = cdc.find((r) => r.table === 'quote');
      expect(quoteCdc?.keys).toEqual([`coinmarketcap/${schema}/quote/20261123-101112345.csv`]);
      const ops: Record<string, number> = {};
      for await (const change of csvFormat.read(storage, quoteCdc?.keys[0] as string, cdcSchema('quote'))) {
        ops[change.Op as string] = (ops[change.Op as string] ?? 0) + 1;
        expect(change.commit_ts).toBeInstanceOf(Date);
      }
      expect(ops).toEqual({ I: 120, D: 2 });
      expect(renamed.rowCount).toBe(1);
      for (const table of TABLES) {
        expect({ table, rows: await replayed(storage, schema, table) }).toEqual({
          table,
          rows: await tableRows(schema, table),
        });
      }
      expect(await keysUnder(storage, 'coinmarketcap/_watermarks/')).toEqual([
        `coinmarketcap/_watermarks/${schema}.json`,
      ]);
    }, 30_000);

    it('replays CDC files in DMS date folders, and refuses objects it cannot read instead of skipping them', async () => {
      const schema = 'dms_dated';
      const store = new PostgresStore({ pool, schema });
      await store.init();
      await installChangeCapture(pool, schema);
      await store.load(normalizeListings(fixtures.listings(0, ['USD'])), { source: 'fixtures' });
      const storage = new MemoryStorage();
      await exportTables({ pool, storage, schema, mode: 'full' });
      await store.load(normalizeListings(fixtures.listings(1, ['USD'])), { source: 'fixtures' });
      const cdc = await exportTables({
        pool,
        storage,
        schema,
        mode: 'cdc',
        now: () => new Date('2026-11-23T10:11:12.345Z'),
      });
      // Where DMS puts CDC files with DatePartitionEnabled.
      for (const key of cdc.flatMap((r) => r.keys)) {
        const dated = key.replace(/\/([^/]+)$/, '/2026/11/23/$1');
        await storage.put(dated, await storage.getBytes(key));
        await storage.delete([key]);
      }
      await storage.put(`coinmarketcap/${schema}/quote/_SUCCESS`, '');

      const dated = await replayed(storage, schema, 'quote');
      await storage.put(`coinmarketcap/${schema}/quote/20261124-000000000.csv.gz`, 'gzipped');
      const unread = await replayExport(storage, 'quote', { schema }).catch((err: unknown) => err);

      expect(dated).toEqual(await tableRows(schema, 'quote'));
      expect(dated.length).toBeGreaterThan(120);
      expect(unread).toBeInstanceOf(DmsExportError);
      expect(unread).toMatchObject({
        code: 'CMC_EXPORT_UNREAD',
        context: { key: `coinmarketcap/${schema}/quote/20261124-000000000.csv.gz` },
      });
    }, 30_000);

    it('exports nothing twice: a second cdc run without changes writes no files', async () => {
      const schema = 'dms_idle';
      const store = new PostgresStore({ pool, schema });
      await store.init();
      await installChangeCapture(pool, schema);
      await store.load(normalizeListings(fixtures.listings(0, ['USD'])), { source: 'fixtures' });
      const storage = new MemoryStorage();
      await exportTables({ pool, storage, schema, mode: 'full', tables: ['cryptocurrency'] });
      await pool.query(`UPDATE "${schema}".cryptocurrency SET cmc_rank = cmc_rank + 1000 WHERE id IN (
        SELECT id FROM "${schema}".cryptocurrency ORDER BY id LIMIT 5)`);

      const first = await exportTables({ pool, storage, schema, mode: 'cdc', tables: ['cryptocurrency'] });
      const second = await exportTables({ pool, storage, schema, mode: 'cdc', tables: ['cryptocurrency'] });

      expect(first[0]?.rows).toBe(5);
      expect(second[0]).toEqual({ table: 'cryptocurrency', keys: [], rows: 0 });
      expect(await replayed(storage, schema, 'cryptocurrency')).toEqual(
        await tableRows(schema, 'cryptocurrency'),
      );
    }, 30_000);
  });

  describe('parquet', () => {
    it('round-trips LOAD and CDC Parquet files with exact decimals', async () => {
      const schema = 'dms_parquet';
      const store = new PostgresStore({ pool, schema });
      await store.init();
      await installChangeCapture(pool, schema);
      await store.load(normalizeListings(fixtures.listings(0, ['USD'])), { source: 'fixtures' });
      const storage = new MemoryStorage();
      const tables: CryptoTableName[] = ['quote', 'load'];

      const full = await exportTables({ pool, storage, schema, mode: 'full', format: 'parquet', tables });
      await store.load(normalizeListings(fixtures.listings(1, ['USD'])), { source: 'fixtures' });
      await pool.query(
        `DELETE FROM "${schema}".quote WHERE cryptocurrency_id = (SELECT max(id) FROM "${schema}".cryptocurrency)`,
      );
      await exportTables({ pool, storage, schema, mode: 'cdc', format: 'parquet', tables });

      expect(full[0]?.keys).toEqual([`coinmarketcap/${schema}/quote/LOAD00000001.parquet`]);
      for (const table of tables) {
        const rows = await replayExport(storage, table, { schema, format: 'parquet' });
        expect([...rows.values()].map((r) => canonical(r, table)).sort()).toEqual(
          await tableRows(schema, table),
        );
      }
    }, 30_000);
  });

  describe('cdc', () => {
    it('refuses after a full export that failed, since its old LOAD files are gone', async () => {
      const schema = 'dms_failed_full';
      await new PostgresStore({ pool, schema }).init();
      const storage = new MemoryStorage();
      await exportTables({ pool, storage, schema, mode: 'full', tables: ['tag'] });
      const failing: Storage = {
        url: storage.url,
        put: (key, body, options) =>
          key.includes('LOAD') ? Promise.reject(new Error('disk full')) : storage.put(key, body, options),
        get: (key, options) => storage.get(key, options),
        getBytes: (key, options) => storage.getBytes(key, options),
        head: (key) => storage.head(key),
        list: (prefix, options) => storage.list(prefix, options),
        listPrefixes: (prefix) => storage.listPrefixes(prefix),
        delete: (keys) => storage.delete(keys),
      };

      const full = exportTables({ pool, storage: failing, schema, mode: 'full', tables: ['tag'] });
      await expect(full).rejects.toMatchObject({ code: 'CMC_EXPORT_FAILED', context: { table: 'tag' } });
      const cdc = exportTables({ pool, storage, schema, mode: 'cdc', tables: ['tag'] });

      await expect(cdc).rejects.toMatchObject({ code: 'CMC_EXPORT_NO_WATERMARK' });
    });

    it('rejects invalid options with a typed error', async () => {
      const storage = new MemoryStorage();

      const bad = [
        exportTables({ pool, storage, mode: 'both' as never }),
        exportTables({ pool, storage, mode: 'full', format: 'orc' as never }),
        exportTables({ pool, storage, mode: 'full', tables: ['nope' as never] }),
        exportTables({ pool, storage, mode: 'full', maxRowsPerFile: 0 }),
        exportTables({ pool, storage, mode: 'full', prefix: 'no-slash' }),
      ];

      for (const run of bad) await expect(run).rejects.toMatchObject({ code: 'CMC_EXPORT_OPTIONS_INVALID' });
    });

    it('exports a transaction still open during a run in the next run, and nothing twice', async () => {
      const schema = 'dms_open_tx';
      const store = new PostgresStore({ pool, schema });
      await store.init();
      await installChangeCapture(pool, schema);
      await store.load(normalizeListings(fixtures.listings(0, ['USD'])), { source: 'fixtures' });
      const storage = new MemoryStorage();
      await exportTables({ pool, storage, schema, mode: 'full', tables: ['cryptocurrency'] });
      const { rows: ids } = await pool.query(`SELECT id FROM "${schema}".cryptocurrency ORDER BY id LIMIT 2`);
      const open = await pool.connect();
      const changesOf = async (run: Awaited<ReturnType<typeof exportTables>>) => {
        const out: string[] = [];
        for (const key of run[0]?.keys ?? []) {
          for await (const c of csvFormat.read(storage, key, cdcSchema('cryptocurrency')))
            out.push(`${c.Op}${c.id}`);
        }
        return out;
      };
      let first: Awaited<ReturnType<typeof exportTables>>;
      try {
        await open.query('BEGIN');
        await open.query(`UPDATE "${schema}".cryptocurrency SET cmc_rank = 9001 WHERE id = $1`, [ids[0].id]);
        await pool.query(`UPDATE "${schema}".cryptocurrency SET cmc_rank = 9002 WHERE id = $1`, [ids[1].id]);

        first = await exportTables({
          pool,
          storage,
          schema,
          mode: 'cdc',
          tables: ['cryptocurrency'],
          now: () => new Date('2026-11-23T10:00:00.000Z'),
        });
        await open.query('COMMIT');
      } finally {
        open.release();
      }
      const second = await exportTables({
        pool,
        storage,
        schema,
        mode: 'cdc',
        tables: ['cryptocurrency'],
        now: () => new Date('2026-11-23T10:00:01.000Z'),
      });

      expect(await changesOf(first)).toEqual([`U${ids[1].id}`]);
      expect(await changesOf(second)).toEqual([`U${ids[0].id}`]);
      expect(await replayed(storage, schema, 'cryptocurrency')).toEqual(
        await tableRows(schema, 'cryptocurrency'),
      );
    }, 30_000);

    it('refuses to run before a full export', async () => {
      const schema = 'dms_nowm';
      await new PostgresStore({ pool, schema }).init();
      const storage = new MemoryStorage();

      const run = exportTables({ pool, storage, schema, mode: 'cdc', tables: ['tag'] });

      await expect(run).rejects.toBeInstanceOf(DmsExportError);
      await expect(run).rejects.toMatchObject({ code: 'CMC_EXPORT_NO_WATERMARK' });
    });
  });

  describe('failures', () => {
    /** A storage whose put of a key that `fails` matches misbehaves as `how` says; the rest is `inner`. */
    function faultyStorage(
      inner: MemoryStorage,
      fails: (key: string) => boolean,
      how: 'refuse' | 'fail-midway',
    ): Storage {
      return {
        url: inner.url,
        async put(key, body, options) {
          if (!fails(key)) return inner.put(key, body, options);
          // Either way the body is no longer read: whoever writes into it must not wait forever.
          if (how === 'refuse') throw new Error('put refused');
          for await (const _chunk of body as AsyncIterable<Uint8Array>) break;
          throw new Error('connection reset while uploading');
        },
        get: (key, options) => inner.get(key, options),
        getBytes: (key, options) => inner.getBytes(key, options),
        head: (key) => inner.head(key),
        list: (prefix, options) => inner.list(prefix, options),
        listPrefixes: (prefix) => inner.listPrefixes(prefix),
        delete: (keys) => inner.delete(keys),
      };
    }

    /** The export's outcome, or 'hung' when it has not settled within `ms`. */
    async function settle(run: Promise<unknown>, ms = 5_000): Promise<unknown> {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise((resolve) => {
        timer = setTimeout(() => resolve('hung'), ms);
      });
      try {
        return await Promise.race([
          run.then(
            () => 'resolved',
            (e: unknown) => e,
          ),
          hung,
        ]);
      } finally {
        clearTimeout(timer);
      }
    }

    let schema: string;
    beforeAll(async () => {
      schema = 'dms_failures';
      const store = new PostgresStore({ pool, schema });
      await store.init();
      await store.load(normalizeListings(fixtures.listings(0, ['USD', 'EUR'])), { source: 'fixtures' });
      await store.load(normalizeListings(fixtures.listings(1, ['USD', 'EUR'])), { source: 'fixtures' });
    });

    for (const how of ['refuse', 'fail-midway'] as const) {
      it(`rejects promptly with the cause when the storage's put fails (${how}), and leaves no object of the run`, async () => {
        const inner = new MemoryStorage();
        // quote (480 rows, more than a stream buffer holds) fails on its second file.
        const storage = faultyStorage(inner, (key) => key.endsWith('quote/LOAD00000002.csv'), how);

        const outcome = await settle(
          exportTables({ pool, storage, schema, mode: 'full', maxRowsPerFile: 400 }),
        );

        expect(outcome).toBeInstanceOf(DmsExportError);
        expect((outcome as DmsExportError).code).toBe('CMC_EXPORT_FAILED');
        expect((outcome as DmsExportError).context.table).toBe('quote');
        expect(((outcome as Error).cause as Error).message).toMatch(/put refused|connection reset/);
        expect(await keysUnder(inner, `coinmarketcap/${schema}/`)).toEqual([]);
        expect(pool.totalCount).toBe(pool.idleCount);
      });
    }

    it('rejects with a typed error when the backend dies while rows are fetched, leaves no object, and the pool serves on', async () => {
      const storage = new MemoryStorage();
      const dying = terminatingPool(server.url, (text) => text.startsWith('FETCH 1000 FROM "export_quote"'));
      try {
        const outcome = await settle(exportTables({ pool: dying.pool, storage, schema, mode: 'full' }));

        expect(dying.terminated()).toBe(1);
        expect(outcome).toBeInstanceOf(DmsExportError);
        expect((outcome as DmsExportError).context.table).toBe('quote');
        expect(((outcome as Error).cause as { code?: string }).code).toBe('57P01');
        expect(await keysUnder(storage, `coinmarketcap/${schema}/`)).toEqual([]);
        const again = await exportTables({ pool: dying.pool, storage, schema, mode: 'full' });
        expect(again.find((t) => t.table === 'quote')?.rows).toBe(480);
      } finally {
        await dying.end();
      }
    });
  });
});
