import type { PgClient, PgPool } from '@tributary/core';
import { type PostgresServer, startPostgres, terminatingPool } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { CoinMarketCapClient, type ListingsPage } from '../../src/client.js';
import { CoinMarketCapApiError } from '../../src/errors.js';
import { type FixtureServer, startFixtureServer } from '../../src/fixture-server.js';
import { type NormalizedListings, normalizeListings } from '../../src/normalize.js';
import { PostgresStore, PostgresStoreError, type SnapshotPage } from '../../src/postgres-store.js';
import { CRYPTO_SCHEMA } from '../../src/schemas.js';
import { tableCounts } from '../fixtures/table-counts.js';

let server: PostgresServer;
let pool: pg.Pool;
const fixtures = generateFixtures({ coins: 300, snapshots: 3 });
const snapshot = (n: number): NormalizedListings => normalizeListings(fixtures.listings(n, ['USD']));

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

const counts = (schema: string) => tableCounts(pool, schema);

/** A pool whose clients throw on the first statement that `fails` matches. */
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

describe('PostgresStore', () => {
  describe('init', () => {
    it('creates the tables with NUMERIC prices, and is harmless to repeat', async () => {
      const store = new PostgresStore({ pool });

      await store.init();
      await store.init();

      const { rows } = await pool.query(
        `SELECT table_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns
          WHERE table_schema = $1 AND column_name = 'price'`,
        [CRYPTO_SCHEMA],
      );
      expect(rows).toEqual([
        { table_name: 'quote', data_type: 'numeric', numeric_precision: 38, numeric_scale: 18 },
      ]);
      expect(await counts(CRYPTO_SCHEMA)).toEqual({
        platform: 0,
        tag: 0,
        cryptocurrency: 0,
        cryptocurrency_tag: 0,
        quote: 0,
        load: 0,
      });
    });
  });

  describe('load', () => {
    const store = () => new PostgresStore({ pool });
    const first = snapshot(0);

    it('loads a snapshot and reports what it inserted', async () => {
      const result = await store().load(first, { source: 'fixtures', creditsUsed: 2 });

      expect(result.tables.cryptocurrency).toEqual({ inserted: 300, updated: 0 });
      expect(result.tables.quote).toEqual({ inserted: 300, updated: 0 });
      expect(result.tables.platform).toEqual({ inserted: first.platform.length, updated: 0 });
      expect(result.tables.tag).toEqual({ inserted: first.tag.length, updated: 0 });
      expect(result.tables.load).toEqual({ inserted: 1, updated: 0 });
      const expectedRows =
        300 + 300 + first.platform.length + first.tag.length + first.cryptocurrency_tag.length;
      expect(result.rows).toBe(expectedRows);
      expect(await counts(CRYPTO_SCHEMA)).toEqual({
        platform: first.platform.length,
        tag: first.tag.length,
        cryptocurrency: 300,
        cryptocurrency_tag: first.cryptocurrency_tag.length,
        quote: 300,
        load: 1,
      });
      const load = await pool.query(
        `SELECT id, rows::text, credits_used, source FROM ${store().tableName('load')} WHERE id = $1`,
        [result.loadId],
      );
      expect(load.rows).toEqual([
        { id: result.loadId, rows: String(expectedRows), credits_used: 2, source: 'fixtures' },
      ]);
    });

    it('reads prices back exactly as text', async () => {
      const coin = first.quote[17];
      const { rows } = await pool.query(
        `SELECT price::text AS price, market_cap::text AS market_cap FROM ${store().tableName('quote')}
          WHERE cryptocurrency_id = $1 AND convert = 'USD' AND last_updated = $2`,
        [coin?.cryptocurrency_id, coin?.last_updated],
      );

      expect(rows).toEqual([{ price: coin?.price, market_cap: coin?.market_cap }]);
      expect(coin?.price).toMatch(/^\d+\.\d{18}$/);
    });

    it('changes nothing when the same snapshot is loaded again', async () => {
      const before = await pool.query(
        `SELECT xmin::text AS v FROM ${store().tableName('cryptocurrency')} ORDER BY id`,
      );

      const result = await store().load(snapshot(0), { source: 'fixtures' });

      for (const table of ['platform', 'tag', 'cryptocurrency', 'cryptocurrency_tag', 'quote'] as const) {
        expect(result.tables[table], table).toEqual({ inserted: 0, updated: 0 });
      }
      expect(result.rows).toBe(0);
      const after = await pool.query(
        `SELECT xmin::text AS v FROM ${store().tableName('cryptocurrency')} ORDER BY id`,
      );
      expect(after.rows).toEqual(before.rows); // no row version rewritten
      expect((await counts(CRYPTO_SCHEMA)).load).toBe(2);
    });

    it('adds quote history and updates coins with a newer snapshot', async () => {
      const result = await store().load(snapshot(1), { source: 'fixtures' });

      expect(result.tables.quote).toEqual({ inserted: 300, updated: 0 });
      expect(result.tables.cryptocurrency).toEqual({ inserted: 0, updated: 300 });
      const state = await counts(CRYPTO_SCHEMA);
      expect(state.quote).toBe(600);
      expect(state.cryptocurrency).toBe(300);
      const latest = await pool.query(
        `SELECT DISTINCT last_updated FROM ${store().tableName('cryptocurrency')}`,
      );
      expect(latest.rows).toEqual([{ last_updated: new Date(fixtures.snapshotTime(1)) }]);
    });

    it('does not roll coins back when an older snapshot comes late', async () => {
      const result = await store().load(snapshot(0), { source: 'fixtures' });

      expect(result.tables.cryptocurrency).toEqual({ inserted: 0, updated: 0 });
      expect(result.tables.quote).toEqual({ inserted: 0, updated: 0 });
    });

    it('keeps NULL and the empty string apart, and strings with quotes, commas and newlines intact', async () => {
      const rows: NormalizedListings = {
        cryptocurrency: [],
        platform: [{ id: 999_001, name: 'He said "hi", then\nleft', symbol: '', slug: 'odd\\slug' }],
        tag: [{ slug: 'weird-tag', name: '', category: null }],
        cryptocurrency_tag: [],
        quote: [],
      };

      await store().load(rows, { source: 'strings' });

      const platform = await pool.query(
        `SELECT name, symbol, slug FROM ${store().tableName('platform')} WHERE id = 999001`,
      );
      const tag = await pool.query(
        `SELECT name, category FROM ${store().tableName('tag')} WHERE slug = 'weird-tag'`,
      );
      expect(platform.rows).toEqual([{ name: 'He said "hi", then\nleft', symbol: '', slug: 'odd\\slug' }]);
      expect(tag.rows).toEqual([{ name: '', category: null }]);
    });

    it('keeps a tag name learnt from quotes when a listing knows only the slug', async () => {
      const empty = { cryptocurrency: [], platform: [], cryptocurrency_tag: [], quote: [] };
      await store().load(
        { ...empty, tag: [{ slug: 'named-tag', name: 'Named', category: 'INDUSTRY' }] },
        { source: 'quotes' },
      );

      const result = await store().load(
        { ...empty, tag: [{ slug: 'named-tag', name: null, category: null }] },
        { source: 'listings' },
      );

      expect(result.tables.tag).toEqual({ inserted: 0, updated: 0 });
      const { rows } = await pool.query(
        `SELECT name, category FROM ${store().tableName('tag')} WHERE slug = 'named-tag'`,
      );
      expect(rows).toEqual([{ name: 'Named', category: 'INDUSTRY' }]);
    });

    it('rolls everything back when a statement fails mid-load, and says where', async () => {
      const before = await counts(CRYPTO_SCHEMA);
      const failing = new PostgresStore({ pool: failingPool((text) => text.includes(`"load" (id`)) });

      const error = await failing.load(snapshot(2), { source: 'fixtures' }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PostgresStoreError);
      expect((error as PostgresStoreError).code).toBe('CMC_LOAD_FAILED');
      expect((error as PostgresStoreError).context.table).toBe('load');
      expect(((error as Error).cause as Error).message).toBe('injected failure');
      expect(await counts(CRYPTO_SCHEMA)).toEqual(before);
      const latest = await pool.query(
        `SELECT max(last_updated) AS t FROM ${store().tableName('cryptocurrency')}`,
      );
      expect(latest.rows[0].t).toEqual(new Date(fixtures.snapshotTime(1)));
      expect(pool.totalCount).toBe(pool.idleCount); // the client went back to the pool
    });

    it('rolls back earlier tables when PostgreSQL rejects the quotes', async () => {
      const schema = 'cmc_failing';
      const failing = new PostgresStore({ pool, schema });
      await failing.init();
      await pool.query(`CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'quotes refused'; END $$`);
      await pool.query(
        `CREATE TRIGGER refuse BEFORE INSERT ON ${schema}.quote FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse()`,
      );

      const error = await failing.load(snapshot(0), { source: 'fixtures' }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PostgresStoreError);
      expect((error as PostgresStoreError).context.table).toBe('quote');
      expect(((error as Error).cause as Error).message).toContain('quotes refused');
      expect(await counts(schema)).toEqual({
        platform: 0,
        tag: 0,
        cryptocurrency: 0,
        cryptocurrency_tag: 0,
        quote: 0,
        load: 0,
      });
    });

    it('refuses rows that do not fit the schemas before touching the database', async () => {
      const bad = snapshot(2);
      (bad.cryptocurrency[5] as { name: unknown }).name = null;

      const error = await store()
        .load(bad, { source: 'fixtures' })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PostgresStoreError);
      expect((error as PostgresStoreError).code).toBe('CMC_LOAD_INVALID');
      expect((error as PostgresStoreError).context).toMatchObject({ table: 'cryptocurrency', row: 5 });
      expect((await counts(CRYPTO_SCHEMA)).quote).toBe(600);
    });
  });

  describe('a database that cannot be reached', () => {
    const unreachable: PgPool = {
      query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
      connect: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
    };

    it('still tells rows that do not fit first, and a connection failure otherwise', async () => {
      const store = new PostgresStore({ pool: unreachable });
      const bad = snapshot(2);
      (bad.quote[9] as { price: unknown }).price = 'not a number';

      const invalid = await store.load(bad, { source: 'fixtures' }).catch((e: unknown) => e);
      const failed = await store.load(snapshot(2), { source: 'fixtures' }).catch((e: unknown) => e);

      expect((invalid as PostgresStoreError).code).toBe('CMC_LOAD_INVALID');
      expect((invalid as PostgresStoreError).context).toMatchObject({ table: 'quote', row: 9 });
      expect((failed as PostgresStoreError).code).toBe('CMC_LOAD_FAILED');
      expect(((failed as Error).cause as Error).message).toContain('ECONNREFUSED');
    });
  });

  describe('a backend that dies mid-load', () => {
    it('rejects with a typed error whose cause is the driver error, keeps the tables as they were, and the pool serves on', async () => {
      const schema = 'cmc_terminated';
      await new PostgresStore({ pool, schema }).init();
      await new PostgresStore({ pool, schema }).load(snapshot(0), { source: 'fixtures' });
      const before = await counts(schema);
      // Killed at the first upsert (the platforms' UPDATE), after the quotes were COPYed straight
      // into their table and platform, tag, cryptocurrency and cryptocurrency_tag were staged, all
      // in the transaction.
      const dying = terminatingPool(server.url, (text) => text.startsWith('UPDATE'));
      try {
        const store = new PostgresStore({ pool: dying.pool, schema });

        const error = await store.load(snapshot(1), { source: 'fixtures' }).catch((e: unknown) => e);

        expect(dying.terminated()).toBe(1);
        expect(error).toBeInstanceOf(PostgresStoreError);
        expect((error as PostgresStoreError).code).toBe('CMC_LOAD_FAILED');
        expect((error as PostgresStoreError).context.table).toBe('platform');
        expect(((error as Error).cause as { code?: string }).code).toBe('57P01');
        expect(await counts(schema)).toEqual(before);
        const again = await store.load(snapshot(1), { source: 'fixtures' });
        expect(again.tables.quote.inserted).toBe(300);
        expect((await counts(schema)).load).toBe((before.load ?? 0) + 1);
      } finally {
        await dying.end();
      }
    });
  });

  describe('loadSnapshot', () => {
    let api: FixtureServer;
    const KEY = 'fixture-key';

    beforeAll(async () => {
      api = await startFixtureServer({ apiKey: KEY, coins: 300, snapshots: 2 });
    });

    afterAll(async () => {
      await api?.stop();
    });

    const cmc = () =>
      new CoinMarketCapClient({
        apiKey: KEY,
        baseUrl: api.baseUrl,
        plan: { callsPerMinute: 10_000 },
        retry: { baseDelayMs: 1, maxDelayMs: 5 },
      });

    async function freshStore(schema: string): Promise<PostgresStore> {
      const store = new PostgresStore({ pool, schema });
      await store.init();
      return store;
    }

    const EMPTY = { platform: 0, tag: 0, cryptocurrency: 0, cryptocurrency_tag: 0, quote: 0, load: 0 };

    it('loads every page of listingsAll as one snapshot with one load row and their credits', async () => {
      const store = await freshStore('snap_whole');
      api.requests.length = 0;

      const result = await store.loadSnapshot(cmc().listingsAll({ pageSize: 100, convert: 'USD' }), {
        source: 'listings/latest',
      });

      expect(api.requests.map((r) => r.query.start)).toEqual(['1', '101', '201']);
      expect(result.tables.cryptocurrency).toEqual({ inserted: 300, updated: 0 });
      expect(result.tables.quote).toEqual({ inserted: 300, updated: 0 });
      const whole = normalizeListings(api.dataset.listings(0, ['USD']));
      expect(await counts('snap_whole')).toEqual({
        platform: whole.platform.length,
        tag: whole.tag.length,
        cryptocurrency: 300,
        cryptocurrency_tag: whole.cryptocurrency_tag.length,
        quote: 300,
        load: 1,
      });
      const load = await pool.query(`SELECT id, credits_used, source FROM ${store.tableName('load')}`);
      expect(load.rows).toEqual([{ id: result.loadId, credits_used: 3, source: 'listings/latest' }]);
    });

    it('leaves nothing of the snapshot when the API fails on page 2', async () => {
      const store = await freshStore('snap_api_fails');
      async function* failSecondRequest(pages: AsyncIterable<ListingsPage>): AsyncGenerator<ListingsPage> {
        for await (const page of pages) {
          yield page;
          // Page 1 is staged by now; the request for page 2 gets a non-retryable error.
          api.fail([{ status: 401, errorCode: 1001 }]);
        }
      }

      const error = await store
        .loadSnapshot(failSecondRequest(cmc().listingsAll({ pageSize: 100, convert: 'USD' })), {
          source: 'listings/latest',
        })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PostgresStoreError);
      expect((error as PostgresStoreError).code).toBe('CMC_LOAD_SOURCE_FAILED');
      expect((error as PostgresStoreError).context.page).toBe(2);
      expect((error as Error).cause).toBeInstanceOf(CoinMarketCapApiError);
      expect(((error as Error).cause as CoinMarketCapApiError).errorCode).toBe(1001);
      expect(await counts('snap_api_fails')).toEqual(EMPTY);
      expect(pool.totalCount).toBe(pool.idleCount);
    });

    it('leaves nothing of the snapshot when a generator throws on page 2', async () => {
      const store = await freshStore('snap_generator_fails');
      const listings = api.dataset.listings(0, ['USD']);
      async function* pages(): AsyncGenerator<SnapshotPage> {
        yield { data: listings.slice(0, 150), status: { credit_count: 1 } };
        throw new Error('page 2 went missing');
      }

      const error = await store.loadSnapshot(pages(), { source: 'generator' }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PostgresStoreError);
      expect((error as PostgresStoreError).code).toBe('CMC_LOAD_SOURCE_FAILED');
      expect((error as PostgresStoreError).context.page).toBe(2);
      expect(((error as Error).cause as Error).message).toBe('page 2 went missing');
      expect(await counts('snap_generator_fails')).toEqual(EMPTY);
    });

    it('rolls back earlier pages when a later page does not fit, and stops the source', async () => {
      const store = await freshStore('snap_invalid_page');
      const listings = api.dataset.listings(0, ['USD']);
      let closed = false;
      let asked = 0;
      function* pages(): Generator<SnapshotPage> {
        try {
          for (let i = 0; i < 3; i++) {
            asked += 1;
            const rows = normalizeListings(listings.slice(i * 100, i * 100 + 100));
            if (i === 1) (rows.quote[7] as { price: unknown }).price = 'not a number';
            yield rows;
          }
        } finally {
          closed = true;
        }
      }

      const error = await store.loadSnapshot(pages(), { source: 'generator' }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PostgresStoreError);
      expect((error as PostgresStoreError).code).toBe('CMC_LOAD_INVALID');
      expect((error as PostgresStoreError).context).toMatchObject({ table: 'quote', row: 7, page: 2 });
      expect(asked).toBe(2);
      expect(closed).toBe(true);
      expect(await counts('snap_invalid_page')).toEqual(EMPTY);
    });

    it('keeps the newest version of a coin that two pages both hold', async () => {
      const store = await freshStore('snap_overlap');
      const older = api.dataset.listings(0, ['USD']);
      const newer = api.dataset.listings(1, ['USD']);

      const second = newer.slice(0, 100);
      const again = new Set(second.slice(50).map((c) => c.id));
      // The ranking moved: page 1 holds 50 coins of page 2 too, as an older response saw them.
      const first = older.filter((c) => again.has(c.id));

      const result = await store.loadSnapshot([{ data: first }, { data: second }], {
        source: 'overlap',
        creditsUsed: 7,
      });

      expect(first).toHaveLength(50);
      expect(result.tables.cryptocurrency).toEqual({ inserted: 100, updated: 0 });
      const { rows } = await pool.query(
        `SELECT id, last_updated FROM ${store.tableName('cryptocurrency')} WHERE id = ANY($1::int[])`,
        [[...again]],
      );
      const stored = new Map(rows.map((r) => [r.id as number, (r.last_updated as Date).toISOString()]));
      for (const coin of second.slice(50)) expect(stored.get(coin.id)).toBe(coin.last_updated);
      expect(first.every((c) => c.last_updated !== stored.get(c.id))).toBe(true);
      const load = await pool.query(`SELECT credits_used FROM ${store.tableName('load')}`);
      expect(load.rows).toEqual([{ credits_used: 7 }]);
    });
  });
});
