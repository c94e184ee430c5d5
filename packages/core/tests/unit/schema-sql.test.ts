// What reaches SQL from a schema and the DDL options: every value is either one of the words the
// dialect allows, a quoted identifier that stays the name given, or refused with a typed error.
import { describe, expect, it } from 'vitest';
import {
  defineSchema,
  field,
  postgresType,
  qualifiedName,
  quoteIdentifier,
  quoteIdentifierFor,
  quoteLiteral,
  redshiftType,
  TributaryError,
  toPostgresDdl,
  toRedshiftDdl,
} from '../../src/index.js';

const schema = defineSchema({ id: field.string(), at: field.timestamp(), tags: field.list(field.string()) });
const table = { name: 't' };

function refusal(fn: () => unknown): TributaryError {
  try {
    fn();
  } catch (error) {
    if (TributaryError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a TributaryError');
}

describe('toRedshiftDdl', () => {
  describe('distStyle', () => {
    it.each(['EVEN; DROP TABLE victim; --', 'even', 'KEY)', '', 'AUTO\n'])(
      'refuses %j, naming the option',
      (distStyle) => {
        const error = refusal(() => toRedshiftDdl(schema, { table, distStyle: distStyle as 'EVEN' }));

        expect(error.code).toBe('DDL_OPTIONS_INVALID');
        expect(error.context.option).toBe('distStyle');
        expect(error.message).toMatch(/distStyle must be AUTO, EVEN, ALL or KEY/);
      },
    );

    it.each(['AUTO', 'EVEN', 'ALL'] as const)('writes DISTSTYLE %s', (distStyle) => {
      expect(toRedshiftDdl(schema, { table, distStyle })).toMatch(new RegExp(`\\nDISTSTYLE ${distStyle};$`));
    });
  });

  describe('sortStyle', () => {
    it.each(['COMPOUND; DROP TABLE victim; --', 'interleaved', 'COMPOUND SORTKEY ("id"); --'])(
      'refuses %j, naming the option',
      (sortStyle) => {
        const error = refusal(() =>
          toRedshiftDdl(schema, { table, sortKey: ['id'], sortStyle: sortStyle as 'COMPOUND' }),
        );

        expect(error.code).toBe('DDL_OPTIONS_INVALID');
        expect(error.context.option).toBe('sortStyle');
      },
    );

    it('writes SORTKEY AUTO without columns', () => {
      expect(toRedshiftDdl(schema, { table, sortStyle: 'AUTO' })).toMatch(/\nSORTKEY AUTO;$/);
    });

    it('refuses AUTO with sort columns', () => {
      const error = refusal(() => toRedshiftDdl(schema, { table, sortStyle: 'AUTO', sortKey: ['id'] }));

      expect(error.context.option).toBe('sortKey');
    });

    it('refuses more than 8 interleaved sort columns', () => {
      const wide = defineSchema(
        Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`c${i}`, field.int32()])),
      );

      const error = refusal(() =>
        toRedshiftDdl(wide, { table, sortKey: wide.columns.map((c) => c.name), sortStyle: 'INTERLEAVED' }),
      );

      expect(error.context.option).toBe('sortKey');
    });
  });

  describe('keys', () => {
    it.each([
      [{ sortKey: 'id' }, 'sortKey'],
      [{ sortKey: ['id', 'id'] }, 'sortKey'],
      [{ sortKey: ['tags'] }, 'sortKey'],
      [{ distKey: 'tags' }, 'distKey'],
      [{ distKey: 7 }, 'distKey'],
      [{ ifNotExists: 'no' }, 'ifNotExists'],
    ])('refuses %o', (options, option) => {
      const error = refusal(() => toRedshiftDdl(schema, { table, ...(options as object) }));

      expect(error.code).toBe('DDL_OPTIONS_INVALID');
      expect(error.context.option).toBe(option);
    });
  });

  describe('identifiers', () => {
    it('allows the 127 bytes Redshift allows and refuses more', () => {
      const longest = `${'é'.repeat(63)}a`; // 127 bytes
      const ok = defineSchema({ [longest]: field.int32() });
      const tooLong = defineSchema({ [`${longest}b`]: field.int32() });

      expect(toRedshiftDdl(ok, { table })).toContain(`"${longest}" INTEGER`);
      expect(refusal(() => toRedshiftDdl(tooLong, { table })).code).toBe('SQL_IDENTIFIER_INVALID');
    });
  });
});

describe('toPostgresDdl', () => {
  it.each([
    [{ table: { name: 't', schema: '' } }, 'table.schema'],
    [{ table: { name: 3 } }, 'table.name'],
    [{ table: 't' }, 'table'],
    [{ table, ifNotExists: 'false' }, 'ifNotExists'],
    [{ table: { schema: 's', name: 't' }, createSchema: 0 }, 'createSchema'],
    [{ table, fillfactor: 9 }, 'fillfactor'],
    [{ table, fillfactor: 70.5 }, 'fillfactor'],
    [{ table, fillfactor: '70); DROP TABLE victim; --' }, 'fillfactor'],
  ])('refuses %o', (options, option) => {
    const error = refusal(() => toPostgresDdl(schema, options as never));

    expect(error.code).toBe('DDL_OPTIONS_INVALID');
    expect(error.context.option).toBe(option);
  });

  it('leaves room in each page for updates with a fillfactor, and none without one', () => {
    const roomy = toPostgresDdl(schema, { table, fillfactor: 70 });

    expect(roomy).toMatch(/^CREATE TABLE IF NOT EXISTS [^;]*\n\) WITH \(fillfactor = 70\);/m);
    expect(toPostgresDdl(schema, { table })).not.toContain('fillfactor');
  });

  it('refuses a name PostgreSQL would truncate (over 63 bytes) instead of creating another table', () => {
    const error = refusal(() => toPostgresDdl(schema, { table: { name: 'x'.repeat(64) } }));

    expect(error.code).toBe('SQL_IDENTIFIER_INVALID');
    expect(toPostgresDdl(schema, { table: { name: 'x'.repeat(63) } })).toContain(`"${'x'.repeat(63)}"`);
  });
});

describe('column types from hand-built field definitions', () => {
  it.each([
    [{ kind: 'string', presence: 'required', maxLength: '1) ; DROP TABLE victim; --' }],
    [{ kind: 'decimal', presence: 'required', precision: '38,0); DROP TABLE victim; --(1', scale: 0 }],
    [{ kind: 'decimal', presence: 'required', precision: 10, scale: 11 }],
    [{ kind: 'text); DROP TABLE victim; --', presence: 'required' }],
    [{ kind: 'list', presence: 'required' }],
    [{ kind: 'list', presence: 'required', element: { kind: 'list', presence: 'required' } }],
  ])('are refused with a typed error: %o', (def) => {
    // As a plain-JS caller or a schema built elsewhere would hand it over, past defineSchema's checks.
    const hostile = { columns: [{ name: 'c', def }], primaryKey: [], description: undefined } as never;

    expect(refusal(() => toPostgresDdl(hostile, { table })).code).toBe('SCHEMA_INVALID');
    expect(refusal(() => toRedshiftDdl(hostile, { table })).code).toBe('SCHEMA_INVALID');
  });

  it("refuses a VARCHAR wider than Redshift's 65535 bytes", () => {
    const wide = {
      columns: [{ name: 'c', def: { kind: 'string', presence: 'required', maxLength: 65536 } }],
      primaryKey: [],
      description: undefined,
    } as never;

    expect(refusal(() => toRedshiftDdl(wide, { table })).code).toBe('SCHEMA_INVALID');
    expect(toPostgresDdl(wide, { table })).toContain('"c" text NOT NULL');
  });

  it('still maps every valid kind', () => {
    expect(postgresType({ kind: 'decimal', presence: 'required', precision: 9, scale: 2 })).toBe(
      'numeric(9,2)',
    );
    expect(redshiftType({ kind: 'string', presence: 'required', maxLength: 65535 })).toBe('VARCHAR(65535)');
  });
});

describe('quoteIdentifier and quoteLiteral', () => {
  it.each([
    ['a lone high surrogate', 'a\uD800b'],
    ['a lone low surrogate', '\uDC00'],
  ])('refuse %s, which the driver would send as U+FFFD', (_what, text) => {
    expect(refusal(() => quoteIdentifier(text)).code).toBe('SQL_IDENTIFIER_INVALID');
    expect(refusal(() => quoteLiteral(text)).code).toBe('SQL_LITERAL_INVALID');
  });

  it('refuse values that are not strings', () => {
    expect(refusal(() => quoteIdentifier(1 as never)).code).toBe('SQL_IDENTIFIER_INVALID');
    expect(refusal(() => quoteLiteral(undefined as never)).code).toBe('SQL_LITERAL_INVALID');
  });

  it('keep surrogate pairs', () => {
    expect(quoteIdentifier('😀')).toBe('"😀"');
    expect(quoteLiteral('😀')).toBe("'😀'");
  });

  it('limit identifiers by dialect: 63 bytes for PostgreSQL, 127 for Redshift, none for DuckDB', () => {
    const name = 'x'.repeat(100);

    expect(refusal(() => qualifiedName({ name })).code).toBe('SQL_IDENTIFIER_INVALID');
    expect(refusal(() => quoteIdentifierFor('postgres')(name)).code).toBe('SQL_IDENTIFIER_INVALID');
    expect(quoteIdentifierFor('redshift')(name)).toBe(`"${name}"`);
    expect(refusal(() => quoteIdentifierFor('redshift')(name + name)).code).toBe('SQL_IDENTIFIER_INVALID');
    expect(quoteIdentifierFor('duckdb')('x'.repeat(500))).toBe(`"${'x'.repeat(500)}"`);
  });

  it('keep one argument, so map() cannot pass an index as a dialect', () => {
    expect(() => ['x'.repeat(64)].map(quoteIdentifier)).toThrow(/longer than the 63 UTF-8 bytes/);
  });
});
