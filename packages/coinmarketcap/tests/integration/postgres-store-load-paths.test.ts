import { type PgClient, type PgPool, ValidationError } from '@tributary/core';
import { type PostgresServer, startPostgres } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { installChangeCapture } from '../../src/dms-export.js';
import { type NormalizedListings, normalizeListings } from '../../src/normalize.js';
import { PostgresStore, PostgresStoreError } from '../../src/postgres-store.js';
import { tableCounts } from '../fixtures/table-counts.js';

// How a load reaches the tables: quotes straight into their table when none is stored yet, the
// staging path when some are, and no row touched (not even locked) when nothing changed. Rows are
// validated as they are sent, so a row that does not fit is found in the middle of a load.

let server: PostgresServer;
let pool: pg.Pool;
const fixtures = generateFixtures({ coins: 120, snapshots: 3 });
const snapshot = (n: number): NormalizedListings => normalizeListings(fixtures.listings(n, ['USD']));

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

/** A pool whose clients record the text of every statement they send (a COPY by its SQL). */
function recordingPool(statements: string[]): PgPool {
  return {
    query: (text, values) => pool.query(text, values),
    async connect(): Promise<PgClient> {
      const client = await pool.connect();
      return {
        query: ((config: unknown, values?: unknown[]) => {
          const text = typeof config === 'string' ? config : (config as { text?: string }).text;
          statements.push(text ?? '');
          return client.query(config as never, values as never);
        }) as PgClient['query'],
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  };
}

async function freshStore(schema: string, statements?: string[]): Promise<PostgresStore> {
  await new PostgresStore({ pool, schema }).init();
  return new PostgresStore({ pool: statements ? recordingPool(statements) : pool, schema });
}

// Large enough for several COPY chunks per table.
const big = generateFixtures({ coins: 1500, snapshots: 2 });
const counts = (schema: string) => tableCounts(pool, schema);

async function quoteKeys(store: PostgresStore): Promise<string[]> {
  const { rows } = await pool.query(
    `SELECT cryptocurrency_id || '/' || convert || '/' || last_updated::text AS k, price::text AS price
       FROM ${store.tableName('quote')} ORDER BY 1`,
  );
  return rows.map((r) => `${r.k}=${r.price}`);
}

describe('PostgresStore', () => {
  describe('load paths', () => {
    it('copies quotes that are all new straight into the quote table, staging none of them', async () => {
      const statements: string[] = [];
      const store = await freshStore('paths_direct', statements);
      await store.load(snapshot(0), { source: 'fixtures' });
      statements.length = 0;

      const result = await store.load(snapshot(1), { source: 'fixtures' });

      expect(result.tables.quote).toEqual({ inserted: 120, updated: 0 });
      expect(statements.some((s) => /^COPY "paths_direct"\."quote"/.test(s))).toBe(true);
      expect(statements.some((s) => s.includes('tributary_staging_quote'))).toBe(false);
      expect((await quoteKeys(store)).length).toBe(240);
    });

    it('falls back to the staging upsert when some quotes are stored already, and comes back after', async () => {
      const statements: string[] = [];
      const store = await freshStore('paths_fallback', statements);
      await store.load(snapshot(0), { source: 'fixtures' });
      const mixed = snapshot(1);
      // Half the quotes of snapshot 0 again (stored), half of snapshot 1 (new).
      mixed.quote = [...snapshot(0).quote.slice(0, 60), ...mixed.quote.slice(60)];

      const result = await store.load(mixed, { source: 'mixed' });

      expect(result.tables.quote).toEqual({ inserted: 60, updated: 0 });
      expect(statements.some((s) => s.includes('tributary_staging_quote'))).toBe(true);
      const keys = await quoteKeys(store);
      expect(keys).toHaveLength(180);
      expect(new Set(keys.map((k) => k.split('=')[0])).size).toBe(180);

      statements.length = 0;
      const later = await store.load(snapshot(2), { source: 'fixtures' });
      const last = await store.load(snapshot(2), { source: 'fixtures' }); // all stored: nothing new

      expect(later.tables.quote).toEqual({ inserted: 120, updated: 0 });
      expect(last.tables.quote).toEqual({ inserted: 0, updated: 0 });
      expect(await quoteKeys(store)).toHaveLength(300);
    });

    it('stores a quote that a page holds twice once, keeping the first', async () => {
      const store = await freshStore('paths_twice');
      const rows = snapshot(0);
      const twin = { ...(rows.quote[3] as (typeof rows.quote)[number]), price: '1.000000000000000000' };
      rows.quote.push(twin);

      const result = await store.load(rows, { source: 'twice' });

      expect(result.tables.quote).toEqual({ inserted: 120, updated: 0 });
      const { rows: stored } = await pool.query(
        `SELECT price::text AS price FROM ${store.tableName('quote')} WHERE cryptocurrency_id = $1`,
        [twin.cryptocurrency_id],
      );
      expect(stored).toEqual([{ price: rows.quote[3]?.price }]);
    });

    it('neither rewrites nor locks a row when the same snapshot is loaded again', async () => {
      const store = await freshStore('paths_unchanged');
      await store.load(snapshot(0), { source: 'fixtures' });
      await store.load(snapshot(1), { source: 'fixtures' });
      const versions = async () => {
        const out: Record<string, string[]> = {};
        for (const table of ['platform', 'tag', 'cryptocurrency', 'cryptocurrency_tag', 'quote'] as const) {
          const { rows } = await pool.query(
            `SELECT xmin::text || ':' || xmax::text AS v FROM ${store.tableName(table)} ORDER BY 1`,
          );
          out[table] = rows.map((r) => r.v as string);
        }
        return out;
      };
      const before = await versions();

      const result = await store.load(snapshot(1), { source: 'fixtures' });

      expect(result.rows).toBe(0);
      // xmin: no new row version; xmax: no row locked by an ON CONFLICT that then changed nothing.
      expect(await versions()).toEqual(before);
    });

    it('sends no INSERT of new coins when every staged coin was stored and updated', async () => {
      const statements: string[] = [];
      const store = await freshStore('paths_no_insert', statements);
      const partial = snapshot(0);
      partial.cryptocurrency = partial.cryptocurrency.slice(0, 100);
      await store.load(partial, { source: 'fixtures' });
      const coinInserts = () =>
        statements.filter((s) => /INSERT INTO "paths_no_insert"\."cryptocurrency" /.test(s)).length;
      statements.length = 0;

      const some = await store.load(snapshot(1), { source: 'fixtures' }); // 20 coins are new
      const withNew = coinInserts();
      statements.length = 0;
      const none = await store.load(snapshot(2), { source: 'fixtures' }); // every coin is stored

      expect(some.tables.cryptocurrency).toEqual({ inserted: 20, updated: 100 });
      expect(withNew).toBe(1);
      expect(none.tables.cryptocurrency).toEqual({ inserted: 0, updated: 120 });
      expect(coinInserts()).toBe(0);
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n, max(last_updated) AS t FROM ${store.tableName('cryptocurrency')}`,
      );
      expect(rows[0]).toEqual({ n: 120, t: new Date(fixtures.snapshotTime(2)) });
    });

    it('sorts no staged coins when a page holds each once, and keeps the newest when it holds one twice', async () => {
      const statements: string[] = [];
      const store = await freshStore('paths_distinct', statements);
      await store.load(snapshot(0), { source: 'fixtures' });
      const coinUpdate = () =>
        statements.find((s) => /^UPDATE "paths_distinct"\."cryptocurrency"/.test(s)) ?? '';
      statements.length = 0;
      await store.load(snapshot(1), { source: 'fixtures' });
      const once = coinUpdate();
      const twice = snapshot(2);
      // Coin 5 twice: its snapshot-1 version (older, renamed) after its snapshot-2 one.
      const older = {
        ...(snapshot(1).cryptocurrency[5] as (typeof twice.cryptocurrency)[number]),
        name: 'Stale',
      };
      twice.cryptocurrency.push(older);
      statements.length = 0;

      const result = await store.load(twice, { source: 'fixtures' });

      expect(once).not.toContain('DISTINCT ON');
      expect(coinUpdate()).toContain('DISTINCT ON');
      expect(result.tables.cryptocurrency).toEqual({ inserted: 0, updated: 120 });
      const { rows } = await pool.query(
        `SELECT name, last_updated FROM ${store.tableName('cryptocurrency')} WHERE id = $1`,
        [older.id],
      );
      expect(rows).toEqual([
        { name: twice.cryptocurrency[5]?.name, last_updated: new Date(fixtures.snapshotTime(2)) },
      ]);
    });

    it('leaves room in the latest-state table for its updates, so that it stops growing', async () => {
      const store = await freshStore('paths_room');
      const pages = async () => {
        const { rows } = await pool.query(
          `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int AS pages`,
          [store.tableName('cryptocurrency')],
        );
        return Number(rows[0].pages);
      };
      await store.load(snapshot(0), { source: 'fixtures' });
      await store.load(snapshot(1), { source: 'fixtures' });
      const settled = await pages();

      await store.load(snapshot(2), { source: 'fixtures' });

      const { rows } = await pool.query(
        `SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'paths_room' AND c.relname = 'cryptocurrency'`,
      );
      expect(rows).toEqual([{ reloptions: ['fillfactor=70'] }]);
      // Every coin was updated again: the new versions took the room of the pruned old ones.
      expect(await pages()).toBe(settled);
    });

    it('logs every change of a load for the CDC export, quotes copied straight in included', async () => {
      const store = await freshStore('paths_capture');
      await installChangeCapture(pool, 'paths_capture');
      await store.load(snapshot(0), { source: 'fixtures' });
      const mixed = snapshot(1);
      mixed.quote = [...snapshot(0).quote.slice(0, 10), ...mixed.quote.slice(10)];

      await store.load(snapshot(1), { source: 'fixtures' });
      await store.load(mixed, { source: 'mixed' });

      const { rows } = await pool.query(
        `SELECT table_name, op, count(*)::int AS n FROM paths_capture._changes GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      const first = snapshot(0);
      expect(rows).toEqual([
        { table_name: 'cryptocurrency', op: 'I', n: 120 },
        { table_name: 'cryptocurrency', op: 'U', n: 120 },
        { table_name: 'cryptocurrency_tag', op: 'I', n: first.cryptocurrency_tag.length },
        { table_name: 'load', op: 'I', n: 3 },
        { table_name: 'platform', op: 'I', n: first.platform.length },
        { table_name: 'quote', op: 'I', n: 240 },
        { table_name: 'tag', op: 'I', n: first.tag.length },
      ]);
    });
  });

  describe('rows that do not fit, found mid-load', () => {
    // Large enough for several COPY chunks per table: the rows before the bad one are sent already.
    const bigSnapshot = (n: number): NormalizedListings => normalizeListings(big.listings(n, ['USD']));

    it.each([
      // The first table staged; a coin deep in its COPY (encoded while the quotes are COPYed); a quote.
      { table: 'platform', spoil: (rows: NormalizedListings) => spoilLast(rows.platform, 'id', 1.5) },
      {
        table: 'cryptocurrency',
        spoil: (rows: NormalizedListings) => spoilAt(rows.cryptocurrency, 1400, 'name', 7),
      },
      {
        table: 'quote',
        spoil: (rows: NormalizedListings) => spoilAt(rows.quote, 1400, 'price', 'not a number'),
      },
    ] as const)(
      'refuses a bad row of $table with CMC_LOAD_INVALID and writes nothing',
      async ({ table, spoil }) => {
        const schema = `paths_invalid_${table}`;
        const store = await freshStore(schema);
        await store.load(bigSnapshot(0), { source: 'fixtures' });
        const before = await counts(schema);
        const bad = bigSnapshot(1);
        const row = spoil(bad);

        const error = await store.load(bad, { source: 'fixtures' }).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(PostgresStoreError);
        expect((error as PostgresStoreError).code).toBe('CMC_LOAD_INVALID');
        expect((error as PostgresStoreError).context).toMatchObject({ table, row });
        expect((error as Error).cause).toBeInstanceOf(ValidationError);
        expect(await counts(schema)).toEqual(before);
        expect(pool.totalCount).toBe(pool.idleCount);
        // The pool serves on, and the same rows load once mended.
        const again = await store.load(bigSnapshot(1), { source: 'fixtures' });
        expect(again.tables.quote.inserted).toBe(1500);
      },
    );
  });

  describe('a backend that dies while the quotes stream in', () => {
    it('fails the load with the driver error, sends nothing more but the ROLLBACK, and leaves the tables as they were', async () => {
      const schema = 'paths_dies_mid_copy';
      const store = await freshStore(schema);
      await store.load(normalizeListings(big.listings(0, ['USD'])), { source: 'fixtures' });
      const before = await counts(schema);
      // The backend is terminated from another connection as soon as the quote COPY has sent its
      // first chunk: the COPY is mid-stream, and the page's other tables are being encoded.
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      const statements: string[] = [];
      let killed: Promise<unknown> | undefined;
      const dying: PgPool = {
        query: (text, values) => pool.query(text, values),
        async connect(): Promise<PgClient> {
          const client = await pool.connect();
          return {
            query: ((config: unknown, values?: unknown[]) => {
              const text = typeof config === 'string' ? config : ((config as { text?: string }).text ?? '');
              statements.push(text);
              const result = client.query(config as never, values as never);
              if (killed === undefined && /^COPY \S+\."quote"/.test(text)) {
                const stream = result as unknown as NodeJS.WritableStream;
                const write = stream.write.bind(stream);
                (stream as { write: unknown }).write = (...args: unknown[]) => {
                  killed ??= admin.query('SELECT pg_terminate_backend($1)', [
                    (client as unknown as { processID: number }).processID,
                  ]);
                  return (write as (...a: unknown[]) => boolean)(...args);
                };
              }
              return result;
            }) as PgClient['query'],
            release: (error?: Error | boolean) => client.release(error),
            // A real connection's events: the store listens for its death while it has it.
            on: (event, listener) => client.on(event, listener),
            removeListener: (event, listener) => client.removeListener(event, listener),
          };
        },
      };
      try {
        const error = await new PostgresStore({ pool: dying, schema })
          .load(normalizeListings(big.listings(1, ['USD'])), { source: 'fixtures' })
          .catch((e: unknown) => e);
        await killed;

        expect(killed).toBeDefined();
        expect(error).toBeInstanceOf(PostgresStoreError);
        expect((error as PostgresStoreError).code).toBe('CMC_LOAD_FAILED');
        expect((error as PostgresStoreError).context.table).toBe('quote');
        // The server's FATAL (57P01) when it is read before the socket resets, else the reset.
        expect(['57P01', 'ECONNRESET', 'EPIPE']).toContain(
          ((error as Error).cause as { code?: string }).code,
        );
        // No statement after the quote COPY went out but the ROLLBACK (which the dead connection refuses).
        expect(statements.slice(-2)).toEqual([expect.stringMatching(/^COPY \S+\."quote"/), 'ROLLBACK']);
        expect(await counts(schema)).toEqual(before);
        const again = await store.load(normalizeListings(big.listings(1, ['USD'])), { source: 'fixtures' });
        expect(again.tables.quote.inserted).toBe(1500);
      } finally {
        await admin.end();
      }
    });
  });

  describe('staging tables', () => {
    /** The staging tables on the connection of a one-connection pool, with their row counts. */
    async function stagingTables(single: pg.Pool): Promise<Record<string, number>> {
      const { rows } = await single.query(
        `SELECT c.relname FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema() AND c.relname LIKE 'tributary_staging_%' ORDER BY 1`,
      );
      const out: Record<string, number> = {};
      for (const { relname } of rows as { relname: string }[]) {
        const counted = await single.query(`SELECT count(*)::int AS n FROM pg_temp."${relname}"`);
        out[relname] = counted.rows[0].n;
      }
      return out;
    }

    it('keeps them on the connection, empty once a load commits, and recreates them when dropped', async () => {
      const single = new pg.Pool({ connectionString: server.url, max: 1 });
      try {
        await new PostgresStore({ pool, schema: 'staging_kept' }).init();
        const store = new PostgresStore({ pool: single, schema: 'staging_kept' });
        await store.load(snapshot(0), { source: 'fixtures' });
        const kept = await stagingTables(single);

        await single.query('DISCARD TEMP'); // other code on the connection drops them
        const again = await store.load(snapshot(1), { source: 'fixtures' });

        expect(Object.keys(kept)).toHaveLength(4);
        expect(Object.values(kept)).toEqual([0, 0, 0, 0]);
        expect(again.tables.cryptocurrency).toEqual({ inserted: 0, updated: 120 });
        expect(await stagingTables(single)).toEqual(kept);
      } finally {
        await single.end();
      }
    });

    it('gives the tables of each schema staging tables of their own on a shared connection', async () => {
      const single = new pg.Pool({ connectionString: server.url, max: 1 });
      try {
        const stores: PostgresStore[] = [];
        for (const schema of ['staging_one', 'staging_two']) {
          await new PostgresStore({ pool, schema }).init();
          stores.push(new PostgresStore({ pool: single, schema }));
        }

        const results = [];
        for (const store of stores) results.push(await store.load(snapshot(0), { source: 'fixtures' }));
        results.push(await stores[0]?.load(snapshot(1), { source: 'fixtures' }));

        expect(results.map((r) => r?.tables.cryptocurrency)).toEqual([
          { inserted: 120, updated: 0 },
          { inserted: 120, updated: 0 },
          { inserted: 0, updated: 120 },
        ]);
        const tables = await stagingTables(single);
        expect(Object.keys(tables)).toHaveLength(8);
        expect(Object.values(tables).every((n) => n === 0)).toBe(true);
      } finally {
        await single.end();
      }
    });
  });
});

/** Spoil `column` of the row at `index`: the index of the row spoilt. */
function spoilAt(rows: readonly object[], index: number, column: string, value: unknown): number {
  (rows[index] as Record<string, unknown>)[column] = value;
  return index;
}

function spoilLast(rows: readonly object[], column: string, value: unknown): number {
  return spoilAt(rows, rows.length - 1, column, value);
}
