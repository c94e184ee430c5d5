// Names and options that DuckDbEngine puts into SQL: each one either works as given or is refused
// up front with a WarehouseOptionsError, never accepted and then failing every query.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TableDefinition } from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/duckdb-engine.js';
import { WarehouseOptionsError } from '../../src/errors.js';

let dir: string;

/** A folder of Parquet files, one row each (column `a`), written by DuckDB itself. */
async function parquetFolder(name: string, files: Record<string, number>): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  for (const [file, value] of Object.entries(files)) {
    const path = join(folder, file).replace(/'/g, "''");
    await connection.run(`COPY (SELECT ${value}::INTEGER AS a) TO '${path}' (FORMAT parquet)`);
  }
  connection.closeSync();
  instance.closeSync();
  return folder;
}

function definition(name: string, folder: string, column = 'a'): TableDefinition {
  return {
    name,
    location: `${pathToFileURL(folder).href}/`,
    format: 'parquet',
    columns: [{ name: column, type: 'int', kind: 'int32', nullable: true }],
    partitionKeys: [],
    partitions: [],
    conflicts: [],
    files: 0,
    bytes: 0,
    updatedAt: '2026-11-23T00:00:00.000Z',
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-names-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('DuckDbEngine', () => {
  describe('create: database', () => {
    it.each(['we"ird', 'a.b', 'a,b', ' spaced ', "it's; DROP SCHEMA main; --", 'Mixed'])(
      'takes %j as the default database: unqualified names resolve there',
      async (database) => {
        const folder = await parquetFolder(`db-${encodeURIComponent(database)}`, { 'p.parquet': 7 });
        await using engine = await DuckDbEngine.create({ database, threads: 1 });

        await engine.registerTable(definition('t', folder));
        const { rows } = await engine.query('SELECT a, current_schema() AS s FROM t').collect();

        expect(rows).toEqual([{ a: 7, s: database }]);
      },
    );

    it.each([
      ['NUL', 'a\0b'],
      ['a lone surrogate', 'a\uD800'],
      ['an empty name', ''],
      ['a number', 3],
    ])('refuses %s up front with a WarehouseOptionsError', async (_what, database) => {
      await expect(DuckDbEngine.create({ database: database as string })).rejects.toThrow(
        WarehouseOptionsError,
      );
    });
  });

  describe('create: memoryLimit', () => {
    it.each(["1GB'; SET threads = 1; --", '80%', '', 'lots'])(
      'refuses %j up front with a WarehouseOptionsError',
      async (memoryLimit) => {
        await expect(DuckDbEngine.create({ memoryLimit })).rejects.toThrow(WarehouseOptionsError);
      },
    );

    it.each(['512MB', '1GB', '1.5GiB', '2 GB'])('takes %j', async (memoryLimit) => {
      await using engine = await DuckDbEngine.create({ memoryLimit, threads: 1 });

      const { rows } = await engine.query("SELECT current_setting('memory_limit') <> '' AS set").collect();

      expect(rows).toEqual([{ set: true }]);
    });
  });

  describe('registerTable', () => {
    it('reads a file whose name holds glob characters as that one file, never as a pattern', async () => {
      const folder = await parquetFolder('globby', {
        'part-1.parquet': 1,
        'part-[1].parquet': 2,
        'part-x.parquet': 3,
        'part-*.parquet': 4,
        'part-?.parquet': 5,
      });
      await using engine = await DuckDbEngine.create({ threads: 1 });

      await engine.registerTable(definition('globby', folder));
      const { rows } = await engine.query('SELECT a FROM globby ORDER BY a').collect();

      expect(rows.map((r) => r.a)).toEqual([1, 2, 3, 4, 5]);
    });

    it('keeps a column name longer than PostgreSQL would (DuckDB has no limit)', async () => {
      const column = `c_${'x'.repeat(100)}`;
      const folder = await parquetFolder('long', {});
      await using engine = await DuckDbEngine.create({ threads: 1 });

      await engine.registerTable(definition('long', folder, column));
      const { columns } = await engine.query('SELECT * FROM long').collect();

      expect(columns.map((c) => c.name)).toEqual([column]);
    });
  });
});
