import type { PgClient, PgPool } from '@tributary/core';
import pg from 'pg';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ExportTablesOptions } from '../../src/dms-export.js';
import type { PgClientLike, PgPoolLike, PostgresStoreOptions } from '../../src/index.js';
import * as main from '../../src/index.js';

describe('PostgresStore', () => {
  describe('types', () => {
    it("takes core's PgPool, which a real pg.Pool is", async () => {
      // A pool opens no connection until one is asked for.
      const real = new pg.Pool({ host: '127.0.0.1', port: 1, max: 1 });

      const store = new main.PostgresStore({ pool: real });

      expectTypeOf<PostgresStoreOptions['pool']>().toEqualTypeOf<PgPool>();
      expectTypeOf<ExportTablesOptions['pool']>().toEqualTypeOf<PgPool>();
      expect(store).toBeInstanceOf(main.PostgresStore);
      await real.end();
    });

    it("keeps the old pg names as aliases of core's, so code that uses them still compiles", () => {
      const client: PgClientLike = {
        query: async () => ({ rows: [], rowCount: 0 }),
        release: () => undefined,
      };
      const pool: PgPoolLike = { connect: async () => client, query: client.query };

      expectTypeOf<PgPoolLike>().toEqualTypeOf<PgPool>();
      expectTypeOf<PgClientLike>().toEqualTypeOf<PgClient>();
      expect(() => new main.PostgresStore({ pool })).not.toThrow();
    });
  });
});
