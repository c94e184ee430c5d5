import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ByteValues,
  buildDictionary,
  type DictionaryType,
} from '../../src/formats/parquet/dictionary.js';

/** Texts as the column buffer holds them: their UTF-8 bytes one after another, and each one's end. */
function byteValues(texts: readonly string[]): ByteValues {
  const parts = texts.map((text) => Buffer.from(text, 'utf8'));
  let end = 0;
  return { bytes: Buffer.concat(parts), ends: Int32Array.from(parts, (part) => (end += part.length)) };
}

/** The rule written plainly: values by identity (-0 apart from 0), first seen first. */
function model(values: ArrayLike<string | number | bigint>, type: DictionaryType) {
  const keyOf = (v: string | number | bigint) => (Object.is(v, -0) ? '-0' : v);
  const index = new Map<unknown, number>();
  const dictionary: (string | number | bigint)[] = [];
  const indexes: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as string | number | bigint;
    let at = index.get(keyOf(value));
    if (at === undefined) {
      at = dictionary.length;
      dictionary.push(value);
      index.set(keyOf(value), at);
    }
    indexes.push(at);
  }
  const width = type === 'BYTE_ARRAY' ? 0 : type === 'INT32' ? 4 : 8;
  const size = (v: string | number | bigint) => (width === 0 ? Buffer.byteLength(v as string) + 4 : width);
  let plain = 0;
  for (let i = 0; i < values.length; i++) plain += size(values[i] as string | number | bigint);
  const dictionaryBytes = dictionary.reduce<number>((sum, v) => sum + size(v), 0);
  const indexBytes = Math.ceil((values.length * Math.ceil(Math.log2(dictionary.length))) / 8);
  return 2 * (dictionaryBytes + indexBytes) > plain ? undefined : { values: dictionary, indexes };
}

function same(actual: ReturnType<typeof buildDictionary>, expected: ReturnType<typeof model>): void {
  if (expected === undefined) {
    expect(actual).toBeUndefined();
    return;
  }
  expect(actual).toBeDefined();
  expect(actual?.values.length).toBe(expected.values.length);
  for (const [i, v] of (actual?.values ?? []).entries()) {
    // Text comes back as its UTF-8 bytes.
    const value = v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
    expect(Object.is(value, expected.values[i])).toBe(true);
  }
  expect([...(actual?.indexes ?? [])]).toEqual(expected.indexes);
}

describe('buildDictionary', () => {
  // Few distinct values in long chunks: the sample never rejects them, so the full rule decides.
  const pool = <T>(values: fc.Arbitrary<T>) =>
    fc
      .tuple(
        fc.array(values, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 200, max: 3000 }),
        fc.integer(),
      )
      .map(([distinct, length, seed]) =>
        Array.from(
          { length },
          (_, i) => distinct[Math.abs(Math.imul(i + 1, seed | 1)) % distinct.length] as T,
        ),
      );

  it('builds what the plain rule builds for doubles, keeping -0 apart from 0', () => {
    const double = fc.oneof(
      fc.constantFrom(
        0,
        -0,
        1,
        1 + Number.EPSILON,
        1 + 2 * Number.EPSILON,
        1.5,
        -1.5,
        1e300,
        Number.MIN_VALUE,
      ),
      fc.double({ noNaN: true }),
    );
    fc.assert(
      fc.property(pool(double), (values) =>
        same(buildDictionary(Float64Array.from(values), 'DOUBLE'), model(values, 'DOUBLE')),
      ),
      { numRuns: 300 },
    );
  });

  it('builds what the plain rule builds for int64s and int32s', () => {
    fc.assert(
      fc.property(
        pool(
          fc.oneof(
            fc.constantFrom(0n, 1n, 2n, -1n, 2n ** 32n),
            fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
          ),
        ),
        (values) => same(buildDictionary(BigInt64Array.from(values), 'INT64'), model(values, 'INT64')),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(pool(fc.integer()), (values) =>
        same(buildDictionary(Int32Array.from(values), 'INT32'), model(values, 'INT32')),
      ),
      { numRuns: 300 },
    );
  });

  it('builds what the plain rule builds for strings', () => {
    fc.assert(
      fc.property(pool(fc.string({ unit: 'grapheme', maxLength: 12 })), (values) =>
        same(buildDictionary(byteValues(values), 'BYTE_ARRAY'), model(values, 'BYTE_ARRAY')),
      ),
      { numRuns: 300 },
    );
  });

  it('keeps apart 600 texts of one length that share all but their first or last byte', () => {
    // 600 ten-byte texts, each about 3 times in 2,000 values: the table is about a third full, so
    // probes pass other entries and compare their bytes (an offset off by one fails here).
    const values = Array.from({ length: 2_000 }, (_, i) => {
      const k = (i * 7919) % 600;
      return `${String.fromCharCode(0x61 + (k % 3))}reading-${String.fromCharCode(0x20 + Math.floor(k / 3))}`;
    });

    const dictionary = buildDictionary(byteValues(values), 'BYTE_ARRAY');

    same(dictionary, model(values, 'BYTE_ARRAY'));
    expect(dictionary?.values).toHaveLength(600);
  });

  it('grows its table past thousands of distinct doubles and still finds each one', () => {
    // Half zeros (so the sample keeps it) and 3,000 values 1 + k·ε that differ only in their low
    // 32 bits: the table rehashes three times and must compare all 64 bits.
    const values = Float64Array.from({ length: 120_000 }, (_, i) =>
      i % 2 === 0 ? 0 : 1 + ((i * 7919) % 6000) * Number.EPSILON,
    );

    const dictionary = buildDictionary(values, 'DOUBLE');

    expect(dictionary?.values).toHaveLength(3001);
    for (let i = 0; i < values.length; i += 997) {
      expect(dictionary?.values[dictionary.indexes[i] as number]).toBe(values[i]);
    }
  });

  it('leaves unique values plain (the sample rejects them)', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `id-${i}`);
    expect(buildDictionary(byteValues(ids), 'BYTE_ARRAY')).toBeUndefined();
    expect(
      buildDictionary(
        Float64Array.from(ids, (_, i) => i / 3),
        'DOUBLE',
      ),
    ).toBeUndefined();
  });
});
