// Core's DDL against a real PostgreSQL: here rather than in packages/core, because the embedded
// server comes from @tributary/local, which depends on core (a dev dependency back would be a cycle).

import { toPostgresDdl } from '@tributary/core';
import { type PostgresServer, startPostgres } from '@tributary/local';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everyKind } from '../../packages/core/tests/unit/fixtures.js';

let server: PostgresServer;
let pool: pg.Pool;

beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

describe('toPostgresDdl', () => {
  it('creates a table PostgreSQL accepts, with the types, nullability, key and comments meant', async () => {
    const ddl = toPostgresDdl(everyKind, { table: { schema: 'lake', name: 'every_kind' } });

    await pool.query(ddl);
    await pool.query(ddl); // IF NOT EXISTS: running it again is harmless
    const columns = await pool.query(
      `SELECT column_name, format_type(a.atttypid, a.atttypmod) AS type, is_nullable
         FROM information_schema.columns c
         JOIN pg_attribute a ON a.attrelid = 'lake.every_kind'::regclass AND a.attname = c.column_name
        WHERE table_schema = 'lake' AND table_name = 'every_kind' ORDER BY ordinal_position`,
    );
    const key = await pool.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = 'lake.every_kind'::regclass AND i.indisprimary`,
    );
    const comment = await pool.query(`SELECT col_description('lake.every_kind'::regclass, 9) AS at_comment`);

    expect(columns.rows.map((r) => [r.column_name, r.type, r.is_nullable])).toEqual([
      ['id', 'text', 'NO'],
      ['active', 'boolean', 'NO'],
      ['rank', 'integer', 'YES'],
      ['volume', 'bigint', 'NO'],
      ['value', 'double precision', 'NO'],
      ['price', 'numeric(38,18)', 'YES'],
      ['small', 'numeric(9,2)', 'NO'],
      ['mid', 'numeric(18,4)', 'NO'],
      ['at', 'timestamp(3) with time zone', 'NO'],
      ['day', 'date', 'NO'],
      ['tags', 'text[]', 'YES'],
      ['counts', 'bigint[]', 'YES'],
    ]);
    expect(key.rows.map((r) => r.attname)).toEqual(['id']);
    expect(comment.rows[0].at_comment).toBe("event time, UTC (it's millisecond precision)");
  });

  it('stores a parsed record exactly: decimals as text, int64 beyond 2^53, UTC milliseconds', async () => {
    const record = everyKind.parse({
      id: 'r1',
      active: true,
      rank: null,
      volume: 9223372036854775807n,
      value: 0.1,
      price: '12345678901234567890.123456789012345678',
      small: '1.005',
      mid: 7,
      at: '2026-11-23T10:15:30.123+02:00',
      day: '2024-02-29',
      tags: ['a', 'b'],
    });

    await pool.query(
      'INSERT INTO lake.every_kind (id, active, rank, volume, value, price, small, mid, at, day, tags, counts) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)',
      [
        record.id,
        record.active,
        record.rank,
        record.volume.toString(),
        record.value,
        record.price,
        record.small,
        record.mid,
        record.at,
        record.day,
        record.tags,
        record.counts,
      ],
    );
    const { rows } = await pool.query(
      `SELECT volume::text, price::text, small::text, mid::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS at, day::text, tags FROM lake.every_kind WHERE id = 'r1'`,
    );

    expect(rows[0]).toEqual({
      volume: '9223372036854775807',
      price: '12345678901234567890.123456789012345678',
      small: '1.01',
      mid: '7.0000',
      at: '2026-11-23 08:15:30.123',
      day: '2024-02-29',
      tags: ['a', 'b'],
    });
  });
});
