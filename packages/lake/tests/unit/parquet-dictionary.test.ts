import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ByteValues,
  buildDictionary,
  type DictionaryType,
} from '../../src/formats/parquet/dictionary.js';
import { TextBuffer } from '../../src/formats/parquet/text-buffer.js';

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

describe('TextBuffer, coded', () => {
  // A pool of texts, so that values repeat; records of 1 to 3 texts (a list column), now and then
  // one taken back whole (a record refused by a later column).
  const records = fc.array(
    fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 9 })),
    { minLength: 1, maxLength: 200 },
  );
  const texts = fc.array(fc.string({ unit: 'grapheme', maxLength: 10 }), { minLength: 1, maxLength: 60 });

  it('holds what a plain buffer holds, and gives the dictionary the plain rule gives', () => {
    fc.assert(
      fc.property(texts, records, (pool, steps) => {
        // Arrange
        const coded = new TextBuffer(1);
        const plain = new TextBuffer(1, false);
        let plainBytes = 0;

        // Act
        for (const [picks, chance] of steps) {
          const before = [coded.count, coded.texts, plain.count, plain.texts, plainBytes] as const;
          for (const pick of picks) {
            const value = pool[pick % pool.length] as string;
            const length = coded.push(value);
            expect(plain.push(value)).toBe(length);
            plainBytes += 4 + length;
          }
          if (chance < 2) {
            coded.rollback(before[0], before[1]);
            plain.rollback(before[2], before[3]);
            plainBytes = before[4];
          }
        }
        const expected = buildDictionary(
          { bytes: plain.bytes.view(), ends: plain.ends.view() },
          'BYTE_ARRAY',
        );
        coded.seal(plainBytes);

        // Assert: coded only if that is the chunk's dictionary; else the same bytes as plain.
        expect(coded.count).toBe(plain.count);
        if (coded.codes) {
          const actual = coded.dictionary(plainBytes);
          expect(actual?.values.map((v) => Buffer.from(v as Uint8Array).toString('hex'))).toEqual(
            expected?.values.map((v: unknown) => Buffer.from(v as Uint8Array).toString('hex')),
          );
          expect([...(actual?.indexes ?? [])]).toEqual([...(expected?.indexes ?? [])]);
        } else {
          expect(expected).toBeUndefined();
          expect(Buffer.from(coded.bytes.view()).equals(Buffer.from(plain.bytes.view()))).toBe(true);
          expect([...coded.ends.view()]).toEqual([...plain.ends.view()]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('takes back a record whose texts turned it plain', () => {
    // Arrange: 4,096 values, 3,001 of them distinct, coded (the warm-up); the next new text turns
    // the column plain, so the record's mark of 3,001 texts no longer tells where it stood.
    const coded = new TextBuffer(16);
    const ids = [
      ...Array.from({ length: 1096 }, () => 'same'),
      ...Array.from({ length: 3000 }, (_, i) => `id-${i}`),
    ];
    for (const id of ids) coded.push(id);
    const codedBefore = coded.codes !== undefined;
    const [count, texts] = [coded.count, coded.texts];

    // Act: a record of two new texts, then taken back.
    coded.push('new-1');
    coded.push('new-2');
    coded.rollback(count, texts);
    coded.push('after');

    // Assert
    expect(codedBefore).toBe(true);
    expect([count, texts]).toEqual([4096, 3001]);
    expect(coded.codes).toBeUndefined();
    expect(coded.count).toBe(4097);
    expect(Buffer.from(coded.bytes.view()).toString()).toBe(`${ids.join('')}after`);
  });

  it('turns plain at a lone surrogate, whose UTF-8 another text can share', () => {
    // Arrange: two texts that differ as UTF-16 and are the same U+FFFD in UTF-8.
    const coded = new TextBuffer(16);
    const plain = new TextBuffer(16, false);
    // Repeated enough for a dictionary to pay.
    const values = Array.from({ length: 20 }, () => ['a', 'a', '\ud800', '\udc00', 'a', '\ud800']).flat();
    let plainBytes = 0;

    // Act
    for (const value of values) {
      plainBytes += 4 + coded.push(value);
      plain.push(value);
    }
    coded.seal(plainBytes);

    // Assert: plain, as the plain buffer; the dictionary built on it merges the two.
    expect(coded.codes).toBeUndefined();
    expect(Buffer.from(coded.bytes.view()).equals(Buffer.from(plain.bytes.view()))).toBe(true);
    const dictionary = buildDictionary({ bytes: coded.bytes.view(), ends: coded.ends.view() }, 'BYTE_ARRAY');
    expect(dictionary?.values).toHaveLength(2);
  });

  it('turns plain once most values are distinct, keeping every value', () => {
    // Arrange: unique ids, as an id column has.
    const coded = new TextBuffer(16);
    const ids = Array.from({ length: 10_000 }, (_, i) => `id-${i}`);

    // Act
    for (const id of ids) coded.push(id);

    // Assert
    expect(coded.codes).toBeUndefined();
    expect(Buffer.from(coded.bytes.view()).toString()).toBe(ids.join(''));
    expect(coded.count).toBe(10_000);
  });
});
