import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OptionsError } from '@tributary/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStartError, PortTakenError, type PostgresServer, startPostgres } from '../../src/index.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startPostgres', () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres({ databases: ['tributary', 'other'] });
    pool = new pg.Pool({ connectionString: server.url });
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  describe('startPostgres', () => {
    it('runs PostgreSQL 18 on loopback, connected to the first database', async () => {
      const { rows } = await pool.query<{ version: string; db: string; usr: string }>(
        'SELECT version() AS version, current_database() AS db, current_user AS usr',
      );

      expect(server.url).toBe(`postgres://tributary:${server.password}@127.0.0.1:${server.port}/tributary`);
      expect(server.host).toBe('127.0.0.1');
      expect(server.password).toMatch(/^[0-9a-f]{36}$/);
      expect(rows[0]?.version).toMatch(/^PostgreSQL 18\.\d+ /);
      expect(rows[0]?.db).toBe('tributary');
      expect(rows[0]?.usr).toBe('tributary');
    });

    it('listens on 127.0.0.1 only, with the test-speed settings', async () => {
      const { rows } = await pool.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings
         WHERE name IN ('listen_addresses', 'fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name`,
      );

      expect(rows).toEqual([
        { name: 'fsync', setting: 'off' },
        { name: 'full_page_writes', setting: 'off' },
        { name: 'listen_addresses', setting: '127.0.0.1' },
        { name: 'synchronous_commit', setting: 'off' },
      ]);
    });

    it('stores and returns rows', async () => {
      await pool.query('CREATE TABLE readings (id int PRIMARY KEY, value double precision, label text)');
      await pool.query('INSERT INTO readings VALUES ($1, $2, $3), ($4, $5, $6)', [
        1,
        20.5,
        'a',
        2,
        -3.25,
        'b',
      ]);

      const { rows } = await pool.query('SELECT id, value, label FROM readings ORDER BY id');

      expect(rows).toEqual([
        { id: 1, value: 20.5, label: 'a' },
        { id: 2, value: -3.25, label: 'b' },
      ]);
    });

    it('creates every listed database, reachable through urlFor', async () => {
      const other = new pg.Client({ connectionString: server.urlFor('other') });
      await other.connect();
      const { rows } = await other.query<{ db: string }>('SELECT current_database() AS db');
      await other.end();

      expect(server.urlFor('other')).toBe(server.url.replace(/\/tributary$/, '/other'));
      expect(rows[0]?.db).toBe('other');
    });

    it('rejects invalid options before starting anything', async () => {
      await expect(startPostgres({ databases: [] })).rejects.toThrow(OptionsError);
      await expect(startPostgres({ databases: ['a', 'a'] })).rejects.toThrow(/duplicates/);
      await expect(startPostgres({ user: 'x'.repeat(64) })).rejects.toMatchObject({
        code: 'LOCAL_OPTIONS_INVALID',
        option: 'user',
      });
      await expect(startPostgres({ port: 70_000 })).rejects.toMatchObject({
        code: 'LOCAL_OPTIONS_INVALID',
        option: 'port',
      });
    });

    it('rejects a port another server holds with a PortTakenError, a LocalStartError naming postgres', async () => {
      const failure = await startPostgres({ port: server.port }).catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(PortTakenError);
      expect(failure).toBeInstanceOf(LocalStartError);
      expect(failure).toMatchObject({
        code: 'LOCAL_PORT_TAKEN',
        retryable: true,
        context: { server: 'postgres' },
      });
    }, 120_000);
  });

  describe('stop', () => {
    it('runs a second server beside the first, and stop() ends it and removes its data, even twice', async () => {
      const second = await startPostgres({ user: 'other_user', password: 'p@ss word/:' });
      const client = new pg.Client({ connectionString: second.url });
      await client.connect();
      await client.query('CREATE TABLE only_here (x int)');
      const { rows } = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'only_here'",
      );
      await client.end();
      const firstSees = await pool.query(
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'only_here'",
      );
      const dataDirBefore = existsSync(second.dataDir);

      await second.stop();
      await second.stop();

      expect(second.port).not.toBe(server.port);
      expect(rows[0]?.n).toBe('1');
      expect(firstSees.rowCount).toBe(0);
      expect(dataDirBefore).toBe(true);
      expect(existsSync(second.dataDir)).toBe(false);
      expect(existsSync(dirname(second.dataDir))).toBe(false);
      expect(isRunning(second.pid)).toBe(false);
      // The first server is untouched.
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });

    it('keeps the data directory with keepData', async () => {
      const kept = await startPostgres({ keepData: true });

      await kept.stop();

      expect(isRunning(kept.pid)).toBe(false);
      expect(existsSync(`${kept.dataDir}/PG_VERSION`)).toBe(true);
      await rm(dirname(kept.dataDir), { recursive: true, force: true });
    });
  });
});
