import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decimalByteLength,
  defineSchema,
  field,
  quoteIdentifier,
  quoteLiteral,
  TributaryError,
  toAthenaColumns,
  toGlueColumns,
  toParquetMessage,
  toParquetSchema,
  toPostgresDdl,
  toRedshiftDdl,
  toSparkSchema,
} from '../../src/index.js';
import { everyKind } from './fixtures.js';

const golden = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url), 'utf8');
const goldenJson = (name: string) => JSON.parse(golden(name));

describe('schema mappings', () => {
  describe('toParquetSchema', () => {
    it('matches the golden message', () => {
      expect(`${toParquetMessage(everyKind, 'every_kind')}\n`).toBe(golden('every-kind.parquet.txt'));
    });

    it('writes timestamps as INT64 TIMESTAMP(MILLIS) adjusted to UTC, never INT96', () => {
      const at = toParquetSchema(everyKind).find((n) => n.name === 'at');

      expect(at).toEqual({
        name: 'at',
        repetition: 'REQUIRED',
        physicalType: 'INT64',
        logicalType: { type: 'TIMESTAMP', unit: 'MILLIS', isAdjustedToUTC: true },
        convertedType: 'TIMESTAMP_MILLIS',
      });
    });

    it('picks the smallest physical type for each decimal precision', () => {
      const s = defineSchema({
        a: field.decimal(9, 0),
        b: field.decimal(10, 0),
        c: field.decimal(18, 0),
        d: field.decimal(19, 0),
      });

      expect(toParquetSchema(s).map((n) => [n.physicalType, n.typeLength])).toEqual([
        ['INT32', undefined],
        ['INT64', undefined],
        ['INT64', undefined],
        ['FIXED_LEN_BYTE_ARRAY', 9],
      ]);
    });

    it.each([
      [1, 1],
      [2, 1],
      [3, 2],
      [9, 4],
      [18, 8],
      [19, 9],
      [38, 16],
    ])('sizes a FIXED_LEN_BYTE_ARRAY for precision %i as %i bytes', (precision, bytes) => {
      expect(decimalByteLength(precision)).toBe(bytes);
      // the largest value of that precision fits in a signed integer of that many bytes
      expect(10n ** BigInt(precision) - 1n).toBeLessThan(2n ** BigInt(bytes * 8 - 1));
    });
  });

  describe('toPostgresDdl', () => {
    it('matches the golden DDL', () => {
      expect(`${toPostgresDdl(everyKind, { table: { schema: 'lake', name: 'every_kind' } })}\n`).toBe(
        golden('every-kind.postgres.sql'),
      );
    });

    it('can leave out IF NOT EXISTS and the schema', () => {
      const ddl = toPostgresDdl(defineSchema({ a: field.int32() }), {
        table: { name: 't' },
        ifNotExists: false,
      });

      expect(ddl).toBe('CREATE TABLE "t" (\n  "a" integer NOT NULL\n);');
    });
  });

  describe('toRedshiftDdl', () => {
    it('matches the golden DDL', () => {
      const ddl = toRedshiftDdl(everyKind, {
        table: { schema: 'curated', name: 'every_kind' },
        distKey: 'id',
        sortKey: ['at', 'day'],
      });

      expect(`${ddl}\n`).toBe(golden('every-kind.redshift.sql'));
    });

    it('writes EVEN distribution with an interleaved sort key', () => {
      const s = defineSchema({ a: field.string(), b: field.date() });

      expect(
        toRedshiftDdl(s, {
          table: { name: 't' },
          distStyle: 'EVEN',
          sortKey: ['b', 'a'],
          sortStyle: 'INTERLEAVED',
        }),
      ).toBe(
        'CREATE TABLE IF NOT EXISTS "t" (\n  "a" VARCHAR(65535) NOT NULL,\n  "b" DATE NOT NULL\n)\nDISTSTYLE EVEN\nINTERLEAVED SORTKEY ("b", "a");',
      );
    });

    it.each([
      [{ distKey: 'nope' }, /distKey "nope" is not a field/],
      [{ distKey: 'id', distStyle: 'EVEN' }, /distKey needs distStyle KEY/],
      [{ distStyle: 'KEY' }, /needs a distKey/],
      [{ sortKey: ['nope'] }, /sortKey "nope" is not a field/],
      [{ sortStyle: 'INTERLEAVED' }, /sortStyle needs a sortKey/],
    ])('rejects %o', (options, message) => {
      expect(() => toRedshiftDdl(everyKind, { table: { name: 't' }, ...(options as object) })).toThrow(
        message,
      );
    });
  });

  describe('toGlueColumns', () => {
    it('matches the golden columns', () => {
      expect(toGlueColumns(everyKind)).toEqual(goldenJson('every-kind.glue.json'));
    });
  });

  describe('toAthenaColumns', () => {
    it('matches the golden columns (Hive types for DDL, Trino types for queries)', () => {
      expect(toAthenaColumns(everyKind)).toEqual(goldenJson('every-kind.athena.json'));
    });
  });

  describe('toSparkSchema', () => {
    it('matches the golden StructType JSON', () => {
      expect(toSparkSchema(everyKind)).toEqual(goldenJson('every-kind.spark.json'));
    });
  });

  describe('quoteIdentifier', () => {
    it.each([
      ['plain', '"plain"'],
      ['we"ird', '"we""ird"'],
      ['drop table x; --', '"drop table x; --"'],
      ['ünïcødé 名前', '"ünïcødé 名前"'],
    ])('quotes %s', (name, quoted) => {
      expect(quoteIdentifier(name)).toBe(quoted);
    });

    it('rejects empty names and NUL', () => {
      expect(() => quoteIdentifier('')).toThrow(TributaryError);
      expect(() => quoteIdentifier('a\0b')).toThrow(/NUL/);
    });

    it('quotes hostile names in every DDL', () => {
      const hostile = defineSchema({ 'x"; DROP TABLE y; --': field.string() }, { description: "it's" });

      const ddl = toPostgresDdl(hostile, { table: { schema: 's"', name: 't;' } });

      expect(ddl).toContain(
        'CREATE TABLE IF NOT EXISTS "s"""."t;" (\n  "x""; DROP TABLE y; --" text NOT NULL\n)',
      );
      expect(ddl).toContain(`COMMENT ON TABLE "s"""."t;" IS 'it''s'`);
    });
  });

  describe('quoteLiteral', () => {
    it('doubles quotes and keeps backslashes', () => {
      expect(quoteLiteral("a'b\\c")).toBe("'a''b\\c'");
    });
  });
});
