import { defineSchema, field, type PgClient, type PgPool, type PgQueryResult } from '@tributary/core';
import { MemoryStorage, writeDataset } from '@tributary/lake';
import type pg from 'pg';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { LoadError, WarehouseOptionsError } from '../../src/errors.js';
import type * as deprecated from '../../src/index.js';
import { encodeCopyLine, encodeCopyValue, PostgresLoader } from '../../src/postgres-loader.js';

const col = (name: string, f: { def: unknown }) =>
  ({ name, def: f.def }) as Parameters<typeof encodeCopyValue>[0];

describe('PostgresLoader', () => {
  describe('types', () => {
    it('accepts a pg.Pool as its pool', () => {
      expectTypeOf<pg.Pool>().toMatchTypeOf<PgPool>();
      // and a real one type-checks as the option
      expectTypeOf<{ pool: pg.Pool }>().toMatchTypeOf<ConstructorParameters<typeof PostgresLoader>[0]>();
    });

    it("keeps the old pg names as aliases of core's, so code that uses them still compiles", () => {
      expectTypeOf<deprecated.PgPool>().toEqualTypeOf<PgPool>();
      expectTypeOf<deprecated.PgClient>().toEqualTypeOf<PgClient>();
      expectTypeOf<deprecated.PgResult>().toEqualTypeOf<PgQueryResult>();
    });
  });

  describe('COPY text encoding', () => {
    it.each([
      ['NULL', col('s', field.string().nullable()), null, '\\N'],
      ['undefined (optional)', col('s', field.string().optional()), undefined, '\\N'],
      ['plain text', col('s', field.string()), 'hello', 'hello'],
      ['empty string (not NULL)', col('s', field.string()), '', ''],
      ['the text \\N (not NULL)', col('s', field.string()), '\\N', '\\\\N'],
      ['backslash', col('s', field.string()), 'a\\b', 'a\\\\b'],
      ['tab', col('s', field.string()), 'a\tb', 'a\\tb'],
      ['newline', col('s', field.string()), 'a\nb', 'a\\nb'],
      ['carriage return', col('s', field.string()), 'a\r\nb', 'a\\r\\nb'],
      ['quotes, semicolons, SQL', col('s', field.string()), `'); DROP TABLE x; --"`, `'); DROP TABLE x; --"`],
      ['unicode', col('s', field.string()), '温度 ünïcode 🌡', '温度 ünïcode 🌡'],
      ['true', col('b', field.boolean()), true, 't'],
      ['false', col('b', field.boolean()), false, 'f'],
      ['int32', col('i', field.int32()), -2147483648, '-2147483648'],
      ['bigint beyond 2^53', col('l', field.int64()), 9007199254740993n, '9007199254740993'],
      ['negative bigint', col('l', field.int64()), -9223372036854775808n, '-9223372036854775808'],
      ['double', col('d', field.double()), 0.1, '0.1'],
      ['double with exponent', col('d', field.double()), 1.5e300, '1.5e+300'],
      [
        'decimal as exact text',
        col('m', field.decimal(38, 18)),
        '12345678901234567890.123456789012345678',
        '12345678901234567890.123456789012345678',
      ],
      [
        'timestamp as ISO UTC',
        col('t', field.timestamp()),
        new Date(Date.UTC(2026, 10, 23, 10, 5, 7, 89)),
        '2026-11-23T10:05:07.089Z',
      ],
      ['date', col('d', field.date()), '2026-11-23', '2026-11-23'],
      ['empty list', col('l', field.list(field.string())), [], '{}'],
      [
        'list of strings with quotes, commas, braces, backslashes',
        col('l', field.list(field.string())),
        ['a"b', 'c,d', '{e}', 'f\\g', 'NULL', ''],
        '{"a\\\\"b","c,d","{e}","f\\\\\\\\g","NULL",""}',
      ],
      ['list of strings with a tab', col('l', field.list(field.string())), ['a\tb'], '{"a\\tb"}'],
      [
        'list of bigints',
        col('l', field.list(field.int64())),
        [1n, 9007199254740993n],
        '{1,9007199254740993}',
      ],
      ['list of booleans', col('l', field.list(field.boolean())), [true, false], '{t,f}'],
      [
        'list of timestamps',
        col('l', field.list(field.timestamp())),
        [new Date(0)],
        '{"1970-01-01T00:00:00.000Z"}',
      ],
      ['list of decimals', col('l', field.list(field.decimal(5, 2))), ['1.50', '-0.01'], '{1.50,-0.01}'],
    ])('%s', (_name, column, value, expected) => {
      expect(encodeCopyValue(column, value)).toBe(expected);
    });

    it('joins a record into one tab-separated line in column order', () => {
      const schema = defineSchema({
        id: field.int64(),
        name: field.string().nullable(),
        ok: field.boolean(),
      });
      expect(encodeCopyLine(schema.columns, { ok: true, id: 7n, name: 'x\ty' })).toBe('7\tx\\ty\tt\n');
      expect(encodeCopyLine(schema.columns, { ok: false, id: 8n, name: null })).toBe('8\t\\N\tf\n');
    });
  });

  describe('options', () => {
    it.each([
      ['no options', undefined],
      ['no pool', {}],
      ['a pool without connect()', { pool: { query: () => undefined } }],
      ['a non-function onEvent', { pool: { connect: async () => ({}) }, onEvent: 'log' }],
    ])('rejects %s', (_name, options) => {
      expect(() => new PostgresLoader(options as never)).toThrow(WarehouseOptionsError);
    });

    const pool: PgPool = {
      connect: async () => Promise.reject(new Error('must not connect')),
      query: async () => Promise.reject(new Error('must not query')),
    };
    const schema = defineSchema({ id: field.string(), v: field.int32() });
    const source = { storage: new MemoryStorage(), table: 'things', schema };

    it('rejects a merge without keys before connecting', async () => {
      const error = await new PostgresLoader({ pool })
        .load('t', source, { mode: 'merge' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WarehouseOptionsError);
      expect((error as Error).message).toMatch(/needs keys/);
    });

    it('rejects keys that are not columns, an unknown mode, an empty table name', async () => {
      const l = new PostgresLoader({ pool });
      await expect(l.load('t', source, { mode: 'merge', keys: ['nope'] })).rejects.toThrow(/"nope"/);
      await expect(l.load('t', source, { mode: 'upsert' as never })).rejects.toBeInstanceOf(
        WarehouseOptionsError,
      );
      await expect(l.load('', source, { mode: 'append' })).rejects.toBeInstanceOf(WarehouseOptionsError);
      await expect(l.load({ schema: '', name: 't' }, source, { mode: 'append' })).rejects.toBeInstanceOf(
        WarehouseOptionsError,
      );
    });
  });

  describe('failures', () => {
    it('rolls back, releases the connection with the error and wraps it in a LoadError', async () => {
      const storage = new MemoryStorage();
      const schema = defineSchema({ id: field.string() });
      await writeDataset([{ id: 'a' }], { storage, table: 'things', schema, format: 'ndjson' });
      const calls: string[] = [];
      const released: unknown[] = [];
      const broken = Object.assign(new Error('permission denied for schema public'), { code: '42501' });
      const client: PgClient = {
        query: async (text: string) => {
          calls.push(text);
          if (text.startsWith('SELECT column_name')) throw broken;
          return { rows: [], rowCount: 0 };
        },
        release: (error) => {
          released.push(error);
        },
      };
      const events: string[] = [];
      const error = (await new PostgresLoader({
        pool: { connect: async () => client, query: client.query },
        onEvent: (e) => events.push(e.type),
      })
        .load('things', { storage, table: 'things', schema }, { mode: 'append' })
        .catch((e: unknown) => e)) as LoadError;
      expect(error).toBeInstanceOf(LoadError);
      expect(error.cause).toBe(broken);
      expect(error.table).toBe('"things"');
      expect(calls).toEqual(['BEGIN', expect.stringMatching(/^SELECT column_name/), 'ROLLBACK']);
      expect(released).toEqual([broken]);
      expect(events).toEqual(['failure']);
    });
  });
});
