import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  defineSchema,
  field,
  type Infer,
  parseIsoTimestamp,
  TributaryError,
  ValidationError,
} from '../../src/index.js';
import { everyKind } from './fixtures.js';

const valid = {
  id: 'r-1',
  active: true,
  rank: 3,
  volume: 42n,
  value: 0.5,
  price: '1.5',
  small: 12.345,
  mid: '7',
  at: '2026-11-23T10:15:30.123Z',
  day: '2026-11-23',
  tags: ['a', 'b'],
};

function issuesOf(input: unknown) {
  const result = everyKind.validate(input);
  if (result.ok) throw new Error('expected validation to fail');
  return result.issues;
}

describe('defineSchema', () => {
  describe('types', () => {
    it('infers the record type from the fields', () => {
      type Row = Infer<typeof everyKind>;
      expectTypeOf<Row['id']>().toEqualTypeOf<string>();
      expectTypeOf<Row['volume']>().toEqualTypeOf<bigint>();
      expectTypeOf<Row['rank']>().toEqualTypeOf<number | null>();
      expectTypeOf<Row['price']>().toEqualTypeOf<string | null | undefined>();
      expectTypeOf<Row['at']>().toEqualTypeOf<Date>();
      expectTypeOf<Row['tags']>().toEqualTypeOf<string[] | null>();
      expectTypeOf<Row>().toHaveProperty('small');
    });
  });

  describe('validate', () => {
    it('coerces a valid record into its one form', () => {
      const result = everyKind.validate(valid);

      expect(result).toEqual({
        ok: true,
        value: {
          ...valid,
          price: '1.500000000000000000',
          small: '12.35',
          mid: '7.0000',
          at: new Date(Date.UTC(2026, 10, 23, 10, 15, 30, 123)),
          counts: null,
        },
      });
    });

    it('reports every problem with its path, expected and actual type', () => {
      const issues = issuesOf({ ...valid, id: 7, active: 'yes', value: Number.NaN, tags: ['a', 2, null] });

      expect(issues.map((i) => [i.path, i.code, i.expected, i.actual])).toEqual([
        ['id', 'type', 'string', 'number 7'],
        ['active', 'type', 'boolean', 'string "yes"'],
        ['value', 'range', 'finite double', 'number NaN'],
        ['tags[1]', 'type', 'string', 'number 2'],
        ['tags[2]', 'required', 'a value (lists hold no nulls)', 'null'],
      ]);
    });

    it('distinguishes required, nullable and optional', () => {
      const { rank: _rank, price: _price, ...withoutBoth } = valid;

      const issues = issuesOf({ ...withoutBoth, id: null });

      expect(issues.map((i) => [i.path, i.code])).toEqual([
        ['id', 'required'],
        ['rank', 'required'],
      ]);
      expect(everyKind.parse({ ...valid, rank: null, price: undefined })).toMatchObject({
        rank: null,
        price: null,
      });
    });

    it('rejects unknown fields by default and strips them when asked', () => {
      const strict = defineSchema({ a: field.string() });
      const lax = defineSchema({ a: field.string() }, { unknownFields: 'strip' });

      expect(strict.validate({ a: 'x', b: 1 })).toMatchObject({
        ok: false,
        issues: [{ path: 'b', code: 'unknown_field' }],
      });
      expect(lax.validate({ a: 'x', b: 1 })).toEqual({ ok: true, value: { a: 'x' } });
    });

    it('rejects a value that is not an object', () => {
      for (const input of [null, 'x', 3, [valid]]) {
        expect(issuesOf(input)).toEqual([
          expect.objectContaining({ path: '', code: 'type', expected: 'object' }),
        ]);
      }
    });

    it('counts maxLength in UTF-8 bytes', () => {
      const s = defineSchema({ s: field.string({ maxLength: 4 }) });

      expect(s.validate({ s: 'abcd' }).ok).toBe(true);
      expect(s.validate({ s: 'ééé' })).toMatchObject({ ok: false, issues: [{ code: 'range' }] });
    });
  });

  describe('integer coercion', () => {
    const ints = defineSchema({ i: field.int32(), l: field.int64() });

    it.each([
      [
        { i: 2147483647, l: '9223372036854775807' },
        { i: 2147483647, l: 9223372036854775807n },
      ],
      [
        { i: -2147483648, l: -9223372036854775808n },
        { i: -2147483648, l: -9223372036854775808n },
      ],
      [
        { i: 5n, l: 9007199254740991 },
        { i: 5, l: 9007199254740991n },
      ],
      [
        { i: 0, l: '-12' },
        { i: 0, l: -12n },
      ],
    ])('accepts %o', (input, expected) => {
      expect(ints.parse(input)).toEqual(expected);
    });

    it.each([
      [{ i: 2147483648, l: 1 }, 'i', 'range'],
      [{ i: 1.5, l: 1 }, 'i', 'type'],
      [{ i: '1', l: 1 }, 'i', 'type'],
      [{ i: 1, l: '9223372036854775808' }, 'l', 'range'],
      [{ i: 1, l: -9223372036854775809n }, 'l', 'range'],
      [{ i: 1, l: 2 ** 53 + 2 }, 'l', 'precision'],
      [{ i: 1, l: 1.5 }, 'l', 'type'],
      [{ i: 1, l: '1.0' }, 'l', 'type'],
      [{ i: 1, l: '12abc' }, 'l', 'type'],
    ])('rejects %o at %s (%s)', (input, path, code) => {
      const result = ints.validate(input);
      expect(result).toMatchObject({ ok: false, issues: [{ path, code }] });
    });
  });

  describe('decimal coercion', () => {
    const money = defineSchema({ d: field.decimal(10, 2) });

    it.each([
      ['12.345', '12.35'],
      ['-12.345', '-12.35'],
      ['12.344', '12.34'],
      ['0.005', '0.01'],
      ['-0.004', '0.00'],
      ['1e3', '1000.00'],
      ['12345678.99', '12345678.99'],
      [0.1, '0.10'],
      [1e-7, '0.00'],
      [42n, '42.00'],
      ['  7.5 ', '7.50'],
    ])('normalizes %o to %s', (input, expected) => {
      expect(money.parse({ d: input }).d).toBe(expected);
    });

    it.each([
      ['123456789.00', 'precision'],
      ['99999999.995', 'precision'],
      ['abc', 'format'],
      ['1.2.3', 'format'],
      ['', 'format'],
      [Number.POSITIVE_INFINITY, 'format'],
      [true, 'type'],
    ])('rejects %o (%s)', (input, code) => {
      expect(money.validate({ d: input })).toMatchObject({ ok: false, issues: [{ path: 'd', code }] });
    });

    it('never goes through a binary float', () => {
      const wide = defineSchema({ d: field.decimal(38, 18) });
      expect(wide.parse({ d: '12345678901234567890.123456789012345678' }).d).toBe(
        '12345678901234567890.123456789012345678',
      );
    });
  });

  describe('timestamp coercion', () => {
    const ts = defineSchema({ t: field.timestamp() });
    const at = (input: unknown) => (ts.parse({ t: input }).t as Date).toISOString();

    it.each([
      ['2026-11-23T10:15:30Z', '2026-11-23T10:15:30.000Z'],
      ['2026-11-23T10:15:30.5+02:00', '2026-11-23T08:15:30.500Z'],
      ['2026-11-23T10:15:30.123456-0130', '2026-11-23T11:45:30.123Z'],
      ['2026-11-23 10:15:30', '2026-11-23T10:15:30.000Z'],
      ['2026-11-23T10:15', '2026-11-23T10:15:00.000Z'],
      ['2026-11-23', '2026-11-23T00:00:00.000Z'],
      ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
      [1_700_000_000_123, '2023-11-14T22:13:20.123Z'],
      [1_700_000_000_123.9, '2023-11-14T22:13:20.123Z'],
      [new Date('2020-01-01T00:00:00Z'), '2020-01-01T00:00:00.000Z'],
    ])('reads %o as %s (no offset means UTC)', (input, expected) => {
      expect(at(input)).toBe(expected);
    });

    it('knows the leap days of the years 0 to 99 (the proleptic Gregorian calendar, not 1900–1999)', () => {
      expect(at('0000-02-29T12:00:00Z')).toBe('0000-02-29T12:00:00.000Z');
      expect(at('0004-02-29')).toBe('0004-02-29T00:00:00.000Z');
      expect(ts.validate({ t: '0001-02-29T00:00:00Z' }).ok).toBe(false);
      expect(ts.validate({ t: '0100-02-29T00:00:00Z' }).ok).toBe(false);
      expect(at('0400-02-29T00:00:00Z')).toBe('0400-02-29T00:00:00.000Z');
    });

    it.each([
      ['2026-13-01T00:00:00Z', 'format'],
      ['2023-02-29T00:00:00Z', 'format'],
      ['2026-11-23T24:00:00Z', 'format'],
      ['yesterday', 'format'],
      [new Date('nope'), 'range'],
      [Number.NaN, 'range'],
      [true, 'type'],
    ])('rejects %o (%s)', (input, code) => {
      expect(ts.validate({ t: input })).toMatchObject({ ok: false, issues: [{ path: 't', code }] });
    });

    it('gives the instant of every toISOString from year 0000 to 9999 (read without the regex)', () => {
      // Arrange: a fixed spread of instants, each leap rule and the ends of the range.
      const first = new Date('0000-01-01T00:00:00.000Z').getTime();
      const last = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
      const times = [
        first,
        last,
        Date.UTC(2000, 1, 29),
        Date.UTC(2100, 2, 1) - 1,
        Date.UTC(1600, 1, 29, 12),
        new Date('0000-02-29T23:59:59.999Z').getTime(),
      ];
      let state = 7;
      for (let i = 0; i < 20_000; i++) {
        state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
        times.push(first + Math.floor((state / 2 ** 32) * (last - first)));
      }

      // Act
      const wrong = times.filter((t) => parseIsoTimestamp(new Date(t).toISOString()) !== t);

      // Assert
      expect(wrong).toEqual([]);
    });

    it.each([
      '2023-02-29T00:00:00.000Z',
      '2026-11-31T00:00:00.000Z',
      '2026-11-23T24:00:00.000Z',
      '2026-11-23T10:60:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-11-23T10:00:00.00AZ',
    ])('refuses %s, in the form toISOString writes but not a real instant', (text) => {
      expect(parseIsoTimestamp(text)).toBeUndefined();
    });

    it('parses what Date#toISOString writes, for any instant', () => {
      fc.assert(
        fc.property(
          fc.date({ min: new Date('0000-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }),
          (d) => {
            expect(parseIsoTimestamp(d.toISOString())).toBe(d.getTime());
          },
        ),
      );
    });
  });

  describe('date coercion', () => {
    const day = defineSchema({ d: field.date() });

    it('accepts calendar dates and the UTC day of a Date', () => {
      expect(day.parse({ d: '2024-02-29' }).d).toBe('2024-02-29');
      expect(day.parse({ d: new Date('2026-11-23T23:59:59.999Z') }).d).toBe('2026-11-23');
    });

    it('accepts 29 February of year 0, a leap year', () => {
      expect(day.parse({ d: '0000-02-29' }).d).toBe('0000-02-29');
    });

    it.each(['2023-02-29', '0100-02-29', '2026-11-31', '26-11-23', '2026-11-23T00:00:00Z'])(
      'rejects %s',
      (input) => {
        expect(day.validate({ d: input }).ok).toBe(false);
      },
    );
  });

  describe('options', () => {
    it('rejects a primary key that is not a required field', () => {
      expect(() => defineSchema({ a: field.string() }, { primaryKey: ['b' as 'a'] })).toThrow(/not a field/);
      expect(() => defineSchema({ a: field.string().nullable() }, { primaryKey: ['a'] })).toThrow(/required/);
    });

    it('rejects impossible field definitions with a typed error', () => {
      const attempts = [
        () => field.decimal(0, 0),
        () => field.decimal(39, 2),
        () => field.decimal(10, 11),
        () => field.string({ maxLength: 0 }),
        () => field.list(field.string().nullable() as never),
        () => defineSchema({}),
      ];
      for (const attempt of attempts) {
        expect(attempt).toThrow(TributaryError);
        try {
          attempt();
        } catch (err) {
          expect((err as TributaryError).code).toBe('SCHEMA_INVALID');
        }
      }
    });
  });

  describe('hostile names and text', () => {
    it.each(['__proto__', 'constructor', 'prototype'])(
      'refuses a field named %s with a typed error',
      (name) => {
        const fields = Object.defineProperty({}, name, {
          value: field.string(),
          enumerable: true,
        }) as Record<string, ReturnType<typeof field.string>>;

        const attempt = () => defineSchema(fields);

        expect(attempt).toThrow(TributaryError);
        expect(attempt).toThrow(/reserved/);
      },
    );

    it('does not take inherited properties for fields', () => {
      const schema = defineSchema({ id: field.string(), toString: field.string().optional() });
      const input = Object.create({ id: 'inherited' }) as Record<string, unknown>;

      const result = schema.validate(input);

      expect(result.ok).toBe(false);
      expect(result.ok ? [] : result.issues.map((i) => [i.path, i.code])).toEqual([['id', 'required']]);
    });

    it('rejects a lone UTF-16 surrogate in a string or a list of strings, and keeps surrogate pairs', () => {
      const schema = defineSchema({ name: field.string(), tags: field.list(field.string()) });

      const lone = schema.validate({ name: 'a\uD800b', tags: ['ok'] });
      const inList = schema.validate({ name: 'ok', tags: ['x\uDC00'] });
      const pair = schema.validate({ name: '\uD83D\uDE00', tags: ['\u{1F600}'] });

      expect(lone.ok ? [] : lone.issues.map((i) => [i.path, i.code])).toEqual([['name', 'encoding']]);
      expect(inList.ok ? [] : inList.issues.map((i) => [i.path, i.code])).toEqual([['tags[0]', 'encoding']]);
      expect(pair).toEqual({ ok: true, value: { name: '😀', tags: ['😀'] } });
    });
  });

  describe('isRecord', () => {
    const record = everyKind.parse(valid);

    it('is true for what validate returns, so a writer can skip validating it again', () => {
      expect(everyKind.isRecord(record)).toBe(true);
      expect(everyKind.isRecord({ ...record, price: null, counts: [1n, -2n] })).toBe(true);
    });

    it.each([
      ['a value validate would coerce (an ISO timestamp text)', { at: '2026-11-23T10:15:30.123Z' }],
      ['an int64 given as a number', { volume: 42 }],
      ['decimal text that is not canonical', { small: '12.3' }],
      ['negative zero as decimal text', { small: '-0.00' }],
      ['an invalid Date', { at: new Date('nope') }],
      ['an int32 that is not an integer', { rank: 1.5 }],
      ['a double that is not finite', { value: Number.POSITIVE_INFINITY }],
      ['text with a lone surrogate', { id: 'a\uD800' }],
      ['text over maxLength in UTF-8 bytes', { id: 'é'.repeat(33) }],
      ['a list holding a null', { tags: ['a', null] }],
      ['a list element validate would coerce', { counts: [1] }],
      ['a date that is not on the calendar', { day: '2026-02-30' }],
      ['an unknown key', { extra: 1 }],
      ['undefined for a required field', { id: undefined }],
    ])('is false for %s', (_, change) => {
      expect(everyKind.isRecord({ ...record, ...change })).toBe(false);
    });

    it('is false when a key is missing, inherited or not enumerable, and for non-objects', () => {
      const { price: _price, ...missing } = record;
      const inherited = Object.assign(Object.create({ price: null }), missing);
      const hidden = Object.defineProperty({ ...missing, extra: 1 }, 'price', {
        value: null,
        enumerable: false,
      });
      for (const input of [missing, inherited, hidden, null, 'text', [record]]) {
        expect(everyKind.isRecord(input)).toBe(false);
      }
    });

    // Values of each field that validate accepts or refuses, in validated form or not.
    const anyValue = {
      id: fc.oneof(fc.string({ maxLength: 70 }), fc.constant('a\uDC00'), fc.integer()),
      active: fc.oneof(fc.boolean(), fc.constant('true')),
      rank: fc.oneof(fc.integer(), fc.double(), fc.bigInt({ min: -10n, max: 10n }), fc.constant(null)),
      volume: fc.oneof(fc.bigInt(), fc.integer(), fc.constant('12')),
      value: fc.oneof(fc.double(), fc.constant('1')),
      price: fc.oneof(fc.constant(null), fc.constant(undefined), fc.constant('1.5'), fc.double()),
      small: fc.oneof(
        fc.constantFrom('12.30', '12.3', '-0.00', '0.00', '1e2', '1234567.89', '12345678.90'),
        fc.double({ noNaN: true, min: -1e7, max: 1e7 }),
      ),
      mid: fc.constantFrom('7', '7.0000', '-7.0000', '00.1000'),
      at: fc.oneof(fc.date(), fc.constant('2026-11-23T10:15:30Z'), fc.integer()),
      day: fc.constantFrom('2026-11-23', '0000-02-29', '2023-02-29', new Date(0)),
      tags: fc.oneof(fc.constant(null), fc.array(fc.oneof(fc.string(), fc.constant(null)), { maxLength: 3 })),
      counts: fc.oneof(
        fc.constant(undefined),
        fc.array(fc.oneof(fc.bigInt(), fc.integer()), { maxLength: 3 }),
      ),
    };
    const same = (a: unknown, b: unknown) =>
      a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : Object.is(a, b);

    // Values already in validated form, field by field.
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const recordForm = {
      id: fc.string({ maxLength: 20 }),
      active: fc.boolean(),
      rank: fc.oneof(fc.integer(), fc.constant(null)),
      volume: int64,
      value: fc.double({ noNaN: true, noDefaultInfinity: true }),
      price: fc.constantFrom(null, '1.500000000000000000'),
      small: fc.constantFrom('12.30', '-0.01', '0.00'),
      mid: fc.constantFrom('7.0000', '-7.0000'),
      at: fc.date({ noInvalidDate: true }),
      day: fc.constantFrom('2026-11-23', '0000-02-29'),
      tags: fc.oneof(fc.constant(null), fc.array(fc.string(), { maxLength: 3 })),
      counts: fc.array(int64, { maxLength: 3 }),
    };
    const columnNames = everyKind.columns.map((c) => c.name) as (keyof typeof anyValue)[];
    // A record in validated form with one field replaced by any value, or that key missing.
    const oneFieldReplaced = fc
      .tuple(fc.record(recordForm), fc.constantFrom(...columnNames), fc.record(anyValue))
      .map(([base, key, replacement]) => {
        const input: Record<string, unknown> = { ...base, [key]: replacement[key] };
        if (replacement[key] === undefined && key !== 'price') delete input[key];
        return input;
      });

    it('is true only for input that validate accepts and returns unchanged', () => {
      let records = 0;
      let others = 0;
      fc.assert(
        fc.property(oneFieldReplaced, (input) => {
          if (!everyKind.isRecord(input)) {
            others++;
            return;
          }
          records++;
          const result = everyKind.validate(input);
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          for (const name of columnNames) {
            const before = input[name];
            const after = (result.value as Record<string, unknown>)[name];
            if (Array.isArray(before)) expect(after).toEqual(before);
            else expect(same(before, after)).toBe(true);
          }
        }),
        { numRuns: 3000 },
      );
      // Both answers were exercised.
      expect(records).toBeGreaterThan(300);
      expect(others).toBeGreaterThan(300);
    });

    it('is true for every record validate returns', () => {
      let accepted = 0;
      fc.assert(
        fc.property(oneFieldReplaced, (input) => {
          const result = everyKind.validate(input);
          if (!result.ok) return;
          accepted++;
          expect(everyKind.isRecord(result.value)).toBe(true);
        }),
        { numRuns: 2000 },
      );
      expect(accepted).toBeGreaterThan(300);
    });
  });

  describe('parse', () => {
    it('throws a ValidationError holding every issue', () => {
      const error = (() => {
        try {
          everyKind.parse({ ...valid, id: 1, day: 'x' });
        } catch (err) {
          return err;
        }
      })();

      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['id', 'day']);
      expect((error as ValidationError).message).toContain('id: expected string, got number 1');
    });
  });
});
