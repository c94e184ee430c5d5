// A page's rows become COPY's CSV while they are validated: rows already in the form the schema's
// validation returns take a fast path, every other row the validation itself. The fast path must
// never accept a row the validation refuses, nor encode a row differently from it.

import { setImmediate as turn } from 'node:timers/promises';
import { type Fields, type Schema, unscaledToDecimal } from '@tributary/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { type NormalizedListings, normalizeListings } from '../../src/normalize.js';
import { PostgresStoreError } from '../../src/postgres-store.js';
import { checkPage, csvChunks, EncodeAhead } from '../../src/postgres-store-pages.js';
import { csvEncoder, DATA_TABLES, type DataTable, STAGED_TABLES } from '../../src/postgres-store-sql.js';
import { CRYPTO_TABLES } from '../../src/schemas.js';

const SEED = Number(process.env.FC_SEED ?? 20261205);
const EMPTY: NormalizedListings = {
  cryptocurrency: [],
  platform: [],
  tag: [],
  cryptocurrency_tag: [],
  quote: [],
};

/** The CSV of a table's rows by the schema's validation alone (the slow path), or its refusal. */
function slowCsv(name: DataTable, rows: readonly unknown[]): string | 'refused' {
  const schema = CRYPTO_TABLES[name] as Schema<Fields>;
  let out = '';
  for (const row of rows) {
    const result = schema.validate(row);
    if (!result.ok) return 'refused';
    out += `${csvEncoder(name).line(result.value as Record<string, unknown>)}\n`;
  }
  return out;
}

/** What a load sends of the rows of one table: its CSV, or `refused`. */
function pageCsv(name: DataTable, rows: readonly unknown[]): string | 'refused' {
  try {
    const page = checkPage({ ...EMPTY, [name]: rows } as NormalizedListings, undefined);
    return Buffer.concat([...csvChunks(page, name)]).toString('utf8');
  } catch (error) {
    if (error instanceof PostgresStoreError && error.code === 'CMC_LOAD_INVALID') return 'refused';
    throw error;
  }
}

// Values as the schemas' validation returns them (what the fast path takes as they are)...
const canonical: Record<string, fc.Arbitrary<unknown>> = {
  decimal: fc
    .bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n })
    .map((unscaled) => unscaledToDecimal(unscaled, 18)),
  timestamp: fc.date({ noInvalidDate: true, min: new Date(-8.64e15), max: new Date(8.64e15) }),
  string: fc.oneof(fc.string(), fc.string({ unit: 'binary' })),
  int32: fc.integer(),
  boolean: fc.boolean(),
};
// ...and near misses of every kind, which the validation refuses or normalizes.
const nearMiss: Record<string, fc.Arbitrary<unknown>> = {
  decimal: fc.oneof(
    fc.constantFrom(
      '-0.000000000000000000',
      '-00.000000000000000000',
      '00.500000000000000000',
      '+1.000000000000000000',
      ' 1.000000000000000000',
      '1.5',
      '1e3',
      '123456789012345678901.000000000000000000',
      '1.0000000000000000000',
      'not a number',
      '',
    ),
    fc.double(),
    fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }),
    fc.integer(),
  ),
  timestamp: fc.constantFrom(
    new Date(Number.NaN),
    new Date(8.64e15 + 1),
    '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00.123+02:00',
    'yesterday',
    1_767_225_600_000,
  ),
  string: fc.constantFrom('\uD800', 'a\uDC00b', 7, null),
  int32: fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1.5, -0, Number.NaN, Infinity, '7', 7n),
  boolean: fc.constantFrom(0, 1, 'true', 'f'),
};

/**
 * Rows of a table: canonical values, at most one column spoilt, sometimes a column too few, too
 * many or renamed.
 */
function rowsOf(name: DataTable): fc.Arbitrary<unknown[]> {
  const columns = (CRYPTO_TABLES[name] as Schema<Fields>).columns;
  const row = fc
    .tuple(
      fc.tuple(
        ...columns.map((c) =>
          c.def.presence === 'required'
            ? (canonical[c.def.kind] as fc.Arbitrary<unknown>)
            : fc.option(canonical[c.def.kind] as fc.Arbitrary<unknown>, { nil: null }),
        ),
      ),
      fc.nat({ max: columns.length - 1 }),
      fc.oneof(
        { arbitrary: fc.constant('keep' as const), weight: 2 },
        { arbitrary: fc.constant('near miss' as const), weight: 2 },
        { arbitrary: fc.constantFrom('null' as const, 'undefined' as const), weight: 1 },
      ),
      fc.constantFrom('as is', 'as is', 'as is', 'drop', 'extra', 'rename', 'reorder'),
    )
    .chain(([values, spoilt, how, shape]) =>
      (how === 'near miss'
        ? (nearMiss[(columns[spoilt] as (typeof columns)[number]).def.kind] as fc.Arbitrary<unknown>)
        : fc.constant(how === 'null' ? null : undefined)
      ).map((bad) => {
        const entries = columns.map((c, i) => [c.name, values[i]] as [string, unknown]);
        if (how !== 'keep') (entries[spoilt] as [string, unknown])[1] = bad;
        if (shape === 'drop') entries.pop();
        if (shape === 'extra') entries.push(['unknown_column', 1]);
        // As many properties as columns, one of them unknown: a column is missing.
        if (shape === 'rename') (entries[entries.length - 1] as [string, unknown])[0] = 'unknown_column';
        if (shape === 'reorder') entries.reverse();
        return Object.fromEntries(entries);
      }),
    );
  return fc.array(row, { maxLength: 4 });
}

describe('csvChunks', () => {
  it('encodes normalized listings exactly as the schemas validation would', () => {
    const fixtures = generateFixtures({ coins: 200, snapshots: 2 });
    const rows = normalizeListings(fixtures.listings(1, ['USD', 'EUR']));

    for (const name of DATA_TABLES) {
      expect(rows[name].length, name).toBeGreaterThan(0);
      expect(pageCsv(name, rows[name]), name).toBe(slowCsv(name, rows[name]));
    }
  });

  it('never accepts what the schemas refuse, nor encodes a value differently (property)', () => {
    for (const name of DATA_TABLES) {
      fc.assert(
        fc.property(rowsOf(name), (rows) => {
          expect(pageCsv(name, rows)).toBe(slowCsv(name, rows));
        }),
        { seed: SEED, numRuns: 400 },
      );
    }
  });

  it('refuses a row the fast path declines with the error and context it always had', () => {
    const rows = normalizeListings(generateFixtures({ coins: 3, snapshots: 1 }).listings(0, ['USD']));
    (rows.quote[2] as { price: unknown }).price = '-0.5e';

    const error = (() => {
      try {
        const page = checkPage(rows, 4);
        for (const name of DATA_TABLES) [...csvChunks(page, name)];
      } catch (e) {
        return e;
      }
    })();

    expect(error).toBeInstanceOf(PostgresStoreError);
    expect((error as PostgresStoreError).context).toMatchObject({ table: 'quote', row: 2, page: 4 });
    expect(((error as Error).cause as { issues: { path: string }[] }).issues[0]?.path).toBe('price');
  });
});

describe('EncodeAhead', () => {
  // Large enough for several chunks per table (a chunk is about 64 KiB).
  const fixtures = generateFixtures({ coins: 1500, snapshots: 1 });
  const listing = () => normalizeListings(fixtures.listings(0, ['USD']));
  const csvOf = (chunks: Iterable<Buffer>) => Buffer.concat([...chunks]).toString('utf8');
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await turn();
  };

  /** Rows whose `name` counts its reads: how many times the encoder went over them. */
  function counted(rows: NormalizedListings): { rows: NormalizedListings; reads: () => number } {
    let reads = 0;
    const cryptocurrency = rows.cryptocurrency.map((row) => {
      const copy = { ...row } as Record<string, unknown>;
      const name = copy.name;
      Object.defineProperty(copy, 'name', {
        enumerable: true,
        get: () => {
          reads++;
          return name;
        },
      });
      return copy;
    });
    return { rows: { ...rows, cryptocurrency } as NormalizedListings, reads: () => reads };
  }

  it('gives each table the CSV of csvChunks, whether taken at once or after the background encoded it', async () => {
    const rows = listing();
    const page = checkPage(rows, undefined);
    const expected = Object.fromEntries(STAGED_TABLES.map((name) => [name, csvOf(csvChunks(page, name))]));

    const now = new EncodeAhead(checkPage(rows, undefined), STAGED_TABLES);
    const later = new EncodeAhead(checkPage(rows, undefined), STAGED_TABLES);
    await turns(200);

    for (const name of STAGED_TABLES) {
      expect(csvOf(now.take(name)), name).toBe(expected[name]);
      expect(csvOf(later.take(name)), name).toBe(expected[name]);
    }
    // Read as a COPY reads, the event loop turning between chunks: the background leaves a taken
    // table alone (and goes on with the next).
    const slowly = new EncodeAhead(checkPage(rows, undefined), STAGED_TABLES);
    for (const name of STAGED_TABLES) {
      const chunks: Buffer[] = [];
      for (const chunk of slowly.take(name)) {
        chunks.push(chunk);
        await turns(2);
      }
      expect(csvOf(chunks), name).toBe(expected[name]);
    }
  });

  it('encodes in the background, each row once, and stops when told', async () => {
    const one = counted(listing());
    [...csvChunks(checkPage(one.rows, undefined), 'cryptocurrency')];
    const perPass = one.reads();
    expect(perPass).toBeGreaterThanOrEqual(1500);

    // Taken halfway through: what the background encoded, then the rest, nothing twice.
    const half = counted(listing());
    const ahead = new EncodeAhead(checkPage(half.rows, undefined), ['cryptocurrency']);
    while (half.reads() === 0) await turn();
    expect(half.reads()).toBeLessThan(perPass);
    expect(csvOf(ahead.take('cryptocurrency'))).toBe(
      csvOf(csvChunks(checkPage(listing(), undefined), 'cryptocurrency')),
    );
    expect(half.reads()).toBe(perPass);

    // Stopped: the background reads no more rows.
    const stopped = counted(listing());
    const idle = new EncodeAhead(checkPage(stopped.rows, undefined), ['cryptocurrency']);
    while (stopped.reads() === 0) await turn();
    idle.stop();
    const at = stopped.reads();
    await turns(50);
    expect(stopped.reads()).toBe(at);
    expect(at).toBeLessThan(perPass);
  });

  it("cuts another COPY's chunks short once a row of its tables does not fit, and throws at that table too", async () => {
    const rows = listing();
    (rows.cryptocurrency[1200] as { name: unknown }).name = 7;
    const ahead = new EncodeAhead(checkPage(rows, 3), STAGED_TABLES);
    const quotes = ahead.guard(csvChunks(checkPage(rows, 3), 'quote'));

    // The quotes go through until the background meets the row.
    const first = quotes.next();
    expect(first.done).toBe(false);
    await turns(200);
    const stopped = (() => {
      try {
        quotes.next();
      } catch (error) {
        return error;
      }
    })();

    expect(stopped).toBeInstanceOf(PostgresStoreError);
    expect((stopped as PostgresStoreError).context).toMatchObject({
      table: 'cryptocurrency',
      row: 1200,
      page: 3,
    });
    // The tables before it are whole; the table itself throws the same error after its chunks so far.
    expect(csvOf(ahead.take('platform'))).toBe(csvOf(csvChunks(checkPage(rows, 3), 'platform')));
    expect(() => [...ahead.take('cryptocurrency')]).toThrow(stopped as Error);
  });
});
