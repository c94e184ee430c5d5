import { Writable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  defineSchema,
  type Fields,
  field,
  isWellFormedText,
  OptionsError,
  type Schema,
  utf8ByteLength,
} from '@tributary/core';
import fc from 'fast-check';
import { type FileMetaData, parquetMetadata } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '../../src/errors.js';
import { timestampInt64 } from '../../src/formats/parquet/column-buffer.js';
import { writeTimestamps } from '../../src/formats/parquet/column-chunk.js';
import { TextBuffer } from '../../src/formats/parquet/text-buffer.js';
import {
  ParquetError,
  parquetFormat,
  parquetRowCount,
  readParquetSchema,
} from '../../src/formats/parquet.js';
import type { WriterOptions } from '../../src/formats/types.js';
import { MemoryStorage } from '../../src/memory-storage.js';

// Like core's `everyKind` fixture: one field of every kind and presence.
const everyKind = defineSchema({
  id: field.string({ maxLength: 64 }),
  active: field.boolean(),
  rank: field.int32().nullable(),
  volume: field.int64(),
  value: field.double(),
  price: field.decimal(38, 18).optional(),
  small: field.decimal(9, 2),
  mid: field.decimal(18, 4),
  at: field.timestamp(),
  day: field.date(),
  tags: field.list(field.string()).nullable(),
  counts: field.list(field.int64()).optional(),
});

const KEY = 'sensors/dt=2026-11-23/part-0.parquet';

function memorySink(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

async function writeParquet<F extends Fields>(
  schema: Schema<F>,
  inputs: readonly unknown[],
  options?: WriterOptions,
) {
  const { sink, bytes } = memorySink();
  const writer = parquetFormat.createWriter(sink, schema, options);
  const records = inputs.map((input) => schema.parse(input));
  for (const record of records) await writer.write(record);
  const stats = await writer.close();
  const file = bytes();
  const storage = new MemoryStorage();
  await storage.put(KEY, file);
  return { storage, file, stats, records, writer };
}

async function readAll<F extends Fields>(storage: MemoryStorage, schema: Schema<F>, columns?: string[]) {
  const out: Record<string, unknown>[] = [];
  for await (const record of parquetFormat.read(storage, KEY, schema, columns ? { columns } : {}))
    out.push(record);
  return out;
}

function footer(file: Buffer): FileMetaData {
  return parquetMetadata(
    file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer,
  );
}

interface PageInfo {
  column: string;
  rowGroup: number;
  /** Ordinal of the page in its column chunk. */
  page: number;
  type: string;
  crc: number | undefined;
  /** Where the page's bytes (after its header) start and end in the file. */
  dataStart: number;
  dataEnd: number;
}

/** Walk every page header of every column chunk, in file order. */
function pageInfos(file: Buffer): PageInfo[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const pages: PageInfo[] = [];
  footer(file).row_groups.forEach((group, rowGroup) => {
    for (const column of group.columns) {
      const meta = column.meta_data;
      if (!meta) throw new Error('column chunk without metadata');
      const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      const reader = { view, offset: start };
      for (let page = 0; reader.offset < end; page++) {
        const header = parquetHeader(reader);
        const dataStart = reader.offset;
        reader.offset += header.compressed_page_size;
        pages.push({
          column: meta.path_in_schema.join('.'),
          rowGroup,
          page,
          type: header.type,
          crc: header.crc,
          dataStart,
          dataEnd: reader.offset,
        });
      }
    }
  });
  return pages;
}

/** `column -> page types`, in file order. */
function pageTypes(file: Buffer): Map<string, string[]> {
  const pages = new Map<string, string[]>();
  for (const { column, type } of pageInfos(file)) pages.set(column, [...(pages.get(column) ?? []), type]);
  return pages;
}

/** A copy of the file with one byte inverted, in the middle of the page's data. */
function flipByteInPage(file: Buffer, page: PageInfo): Buffer {
  const copy = Buffer.from(file);
  const at = Math.floor((page.dataStart + page.dataEnd) / 2);
  copy[at] = (copy[at] as number) ^ 0xff;
  return copy;
}

const full = {
  id: 'r-1',
  active: true,
  rank: 7,
  volume: 42n,
  value: 0.5,
  price: '-12345678901234567890.123456789012345678',
  small: '12.34',
  mid: '-7.0001',
  at: '2026-11-23T10:15:30.123Z',
  day: '2026-11-23',
  tags: ['a', 'b'],
  counts: [1n, -2n, 3n],
};
const sparse = {
  id: 'r-2',
  active: false,
  rank: null,
  volume: -1n,
  value: -1.25,
  small: '0',
  mid: '0',
  at: new Date(0),
  day: '1969-12-31',
  tags: null,
};

describe('parquetFormat', () => {
  describe('createWriter and read', () => {
    it('round-trips a record of every field kind, with nulls and missing optional keys', async () => {
      const { storage, records, stats } = await writeParquet(everyKind, [full, sparse]);

      const back = await readAll(storage, everyKind);

      expect(stats.rows).toBe(2);
      expect(back).toEqual(records);
      expect(back[0]).toEqual({
        ...full,
        small: '12.34',
        mid: '-7.0001',
        at: new Date('2026-11-23T10:15:30.123Z'),
      });
      expect(back[1]).toMatchObject({ rank: null, price: null, counts: null, tags: null, small: '0.00' });
      expect(back[1]?.at).toBeInstanceOf(Date);
      expect(typeof back[0]?.volume).toBe('bigint');
    });

    it('keeps int32, int64 and double extremes exact', async () => {
      const schema = defineSchema({ i32: field.int32(), i64: field.int64(), d: field.double() });
      const inputs = [
        { i32: -(2 ** 31), i64: -(2n ** 63n), d: -Number.MAX_VALUE },
        { i32: 2 ** 31 - 1, i64: 2n ** 63n - 1n, d: Number.MIN_VALUE },
        { i32: 0, i64: 9007199254740993n, d: -0 },
      ];
      const { storage, records } = await writeParquet(schema, inputs);

      const back = await readAll(storage, schema);

      expect(back).toEqual(records);
      expect(back[1]?.i64).toBe(9223372036854775807n);
      expect(Object.is(back[2]?.d, -0)).toBe(true);
    });

    it('keeps decimals exact at precision 9, 18 and 38, negative, and at scale 0', async () => {
      const schema = defineSchema({
        d9: field.decimal(9, 2),
        d18: field.decimal(18, 4),
        d38: field.decimal(38, 10),
        whole38: field.decimal(38, 0),
        whole9: field.decimal(9, 0).nullable(),
      });
      const inputs = [
        {
          d9: '9999999.99',
          d18: '99999999999999.9999',
          d38: '9999999999999999999999999999.9999999999',
          whole38: '99999999999999999999999999999999999999',
          whole9: 999999999,
        },
        {
          d9: '-9999999.99',
          d18: '-99999999999999.9999',
          d38: '-1234567890123456789012345678.9012345678',
          whole38: '-99999999999999999999999999999999999999',
          whole9: -999999999,
        },
        { d9: '-0.01', d18: 0.0001, d38: '0.0000000001', whole38: 0n, whole9: null },
      ];
      const { storage, file } = await writeParquet(schema, inputs);

      const back = await readAll(storage, schema);

      expect(back).toEqual([
        {
          d9: '9999999.99',
          d18: '99999999999999.9999',
          d38: '9999999999999999999999999999.9999999999',
          whole38: '99999999999999999999999999999999999999',
          whole9: '999999999',
        },
        {
          d9: '-9999999.99',
          d18: '-99999999999999.9999',
          d38: '-1234567890123456789012345678.9012345678',
          whole38: '-99999999999999999999999999999999999999',
          whole9: '-999999999',
        },
        { d9: '-0.01', d18: '0.0001', d38: '0.0000000001', whole38: '0', whole9: null },
      ]);
      const types = footer(file)
        .schema.slice(1)
        .map((e) => [e.type, e.type_length, e.precision, e.scale]);
      expect(types).toEqual([
        ['INT32', undefined, 9, 2],
        ['INT64', undefined, 18, 4],
        ['FIXED_LEN_BYTE_ARRAY', 16, 38, 10],
        ['FIXED_LEN_BYTE_ARRAY', 16, 38, 0],
        ['INT32', undefined, 9, 0],
      ]);
    });

    it('round-trips unicode strings and orders their statistics by UTF-8 bytes', async () => {
      const schema = defineSchema({ s: field.string() });
      // U+FFFD sorts below 🌊 (U+1F30A) in UTF-8, above it in UTF-16 code units.
      const texts = ['héllo', '日本語', '🌊 wave', '\uFFFD', '', 'Zürich', 'e\u0301'];
      const { storage, file } = await writeParquet(
        schema,
        texts.map((s) => ({ s })),
      );

      const back = await readAll(storage, schema);

      expect(back.map((r) => r.s)).toEqual(texts);
      const statistics = footer(file).row_groups[0]?.columns[0]?.meta_data?.statistics;
      expect(statistics?.min_value).toBe('');
      expect(statistics?.max_value).toBe('🌊 wave');
    });

    // Units around each boundary of UTF-8 lengths and of the surrogates, and plain ASCII.
    const unit = fc.oneof(
      fc.constantFrom(
        0x41,
        0x7f,
        0x80,
        0x7ff,
        0x800,
        0xd7ff,
        0xd800,
        0xdbff,
        0xdc00,
        0xdfff,
        0xe000,
        0xfffd,
        0xffff,
      ),
      fc.integer({ min: 0x20, max: 0x7e }),
      fc.integer({ min: 0, max: 0xffff }),
    );
    // Whole characters too, so that well-formed texts often hold surrogate pairs next to U+E000 and up.
    const piece = fc.oneof(
      unit.map((code) => String.fromCharCode(code)),
      fc.constantFrom('🌊', '\u{10000}', '\u{10FFFF}', '\uE000', '\uFFFD', 'é', '日', 'a'),
    );
    const units = fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join(''));

    it('buffers any UTF-16 text as its UTF-8 bytes, of the length core measures (a lone surrogate as U+FFFD)', () => {
      fc.assert(
        fc.property(fc.array(units, { maxLength: 6 }), (texts) => {
          // Arrange: a plain buffer with room for the first text only, so that appending grows it.
          const text = new TextBuffer(1, false);
          let plainBytes = 0;
          for (const value of texts) plainBytes += 4 + text.push(value);
          const bytes = text.bytes.view();
          const ends = [...text.ends.view()];

          // Assert
          // Each text on its own: a lone surrogate at the end of one and the start of the next is no pair.
          const expected = Buffer.concat(texts.map((text) => Buffer.from(text, 'utf8')));
          expect(Buffer.from(bytes).equals(expected)).toBe(true);
          let end = 0;
          const expectedEnds = texts.map((text) => {
            end += utf8ByteLength(text);
            return end;
          });
          expect(ends).toEqual(expectedEnds);
          expect(plainBytes).toBe(end + 4 * texts.length);
        }),
        { numRuns: 3000 },
      );
    });

    it('writes timestamps held as milliseconds as the int64s of their unit, for any safe integer', () => {
      const millis = fc.oneof(
        fc.maxSafeInteger(),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.constantFrom(0, -1, 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, 8.64e15, -8.64e15),
        fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
      );
      fc.assert(
        fc.property(
          fc.array(millis, { minLength: 1, maxLength: 20 }),
          fc.constantFrom('MILLIS' as const, 'MICROS' as const),
          (values, unit) => {
            // Arrange: the first value is left out (a page starts anywhere in the chunk).
            const body = new ByteWriter(8);

            // Act
            writeTimestamps(body, Float64Array.from(values), 1, values.length, unit);

            // Assert
            const expected = BigInt64Array.from(values.slice(1), (ms) => timestampInt64(ms, unit));
            expect(Buffer.from(body.getBytes()).equals(Buffer.from(expected.buffer))).toBe(true);
            expect(body.offset).toBe(8 * (values.length - 1));
          },
        ),
        { numRuns: 3000 },
      );
    });

    it('takes string statistics in UTF-8 byte order, whatever the texts', async () => {
      const schema = defineSchema({ s: field.string() });
      const wellFormed = units.filter((text) => isWellFormedText(text));
      await fc.assert(
        fc.asyncProperty(fc.array(wellFormed, { minLength: 1, maxLength: 12 }), async (texts) => {
          const { file } = await writeParquet(
            schema,
            texts.map((s) => ({ s })),
          );
          const sorted = [...texts].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
          const statistics = footer(file).row_groups[0]?.columns[0]?.meta_data?.statistics;
          expect(statistics?.min_value).toBe(sorted[0]);
          expect(statistics?.max_value).toBe(sorted[sorted.length - 1]);
        }),
        { numRuns: 300 },
      );
    });

    it('round-trips lists: null, empty, one and many elements', async () => {
      const schema = defineSchema({
        tags: field.list(field.string()).nullable(),
        points: field.list(field.int64()),
        prices: field.list(field.decimal(38, 2)).optional(),
      });
      const many = Array.from({ length: 500 }, (_, i) => `t${i}`);
      const inputs = [
        { tags: null, points: [], prices: null },
        { tags: [], points: [1n], prices: [] },
        {
          tags: ['only'],
          points: [-(2n ** 63n), 2n ** 63n - 1n],
          prices: ['-1.50', '123456789012345678901234567890.12'],
        },
        { tags: many, points: [], prices: ['0.01'] },
        { tags: [], points: [], prices: null },
      ];
      const { storage, records } = await writeParquet(schema, inputs);

      const back = await readAll(storage, schema);

      expect(back).toEqual(records);
      expect(back[0]).toEqual({ tags: null, points: [], prices: null });
      expect(back[1]).toEqual({ tags: [], points: [1n], prices: [] });
      expect(back[3]?.tags).toHaveLength(500);
    });

    it('writes a valid file for zero rows', async () => {
      const { storage, file, stats } = await writeParquet(everyKind, []);

      expect(stats).toMatchObject({ rows: 0, bytes: file.byteLength });
      expect(stats.columns?.every((c) => c.valueCount === 0 && c.min === undefined)).toBe(true);
      expect(file.subarray(0, 4).toString()).toBe('PAR1');
      expect(file.subarray(-4).toString()).toBe('PAR1');
      expect(footer(file).row_groups).toEqual([]);
      expect(await parquetRowCount(storage, KEY)).toBe(0);
      expect(await readAll(storage, everyKind)).toEqual([]);
      expect((await readParquetSchema(storage, KEY)).map((c) => c.name)).toEqual(
        everyKind.columns.map((c) => c.name),
      );
    });

    it('writes several row groups when rowGroupBytes is small, and reads every row back in order', async () => {
      const schema = defineSchema({
        n: field.int32(),
        label: field.string(),
        at: field.timestamp().nullable(),
      });
      const inputs = Array.from({ length: 3000 }, (_, n) => ({
        n,
        label: `row-${n}`,
        at: n % 7 === 0 ? null : new Date(n * 1000),
      }));
      const { storage, file } = await writeParquet(schema, inputs, { rowGroupBytes: 8 * 1024 });

      const back = await readAll(storage, schema);

      const groups = footer(file).row_groups;
      expect(groups.length).toBeGreaterThanOrEqual(5);
      expect(groups.reduce((sum, g) => sum + Number(g.num_rows), 0)).toBe(3000);
      // Each row buffers 4 + 4 + 5..8 + 8 bytes: a group closes as soon as it holds 8 KiB.
      for (const group of groups.slice(0, -1)) expect(Number(group.num_rows)).toBeLessThan((8 * 1024) / 20);
      expect(back.map((r) => r.n)).toEqual(inputs.map((r) => r.n));
      expect(back[7]?.at).toBeNull();
      expect(back[8]?.at).toEqual(new Date(8000));
    });

    it('keeps -0 apart from 0 in a dictionary-encoded column (every other value as written)', async () => {
      const schema = defineSchema({ value: field.double() });
      // Few distinct values: the column is dictionary-encoded.
      const inputs = Array.from({ length: 2000 }, (_, i) => ({ value: [0, -0, 1.5, -0, 0][i % 5] }));
      const { storage, file } = await writeParquet(schema, inputs);

      const back = await readAll(storage, schema);

      expect(pageTypes(file).get('value')?.[0]).toBe('DICTIONARY_PAGE');
      expect(back.map((r) => Object.is(r.value, -0))).toEqual(inputs.map((r) => Object.is(r.value, -0)));
      expect(back.map((r) => r.value)).toEqual(inputs.map((r) => r.value));
    });

    it('writes only V1 data pages (DataPageHeader), with a dictionary page where it pays', async () => {
      const schema = defineSchema({
        id: field.string(),
        type: field.string(),
        value: field.double().nullable(),
        tags: field.list(field.string()).optional(),
      });
      // 8,000 ids of 160 bytes: more than 1 MiB, so the id column spans several pages.
      const inputs = Array.from({ length: 8000 }, (_, i) => ({
        id: `${String(i).padStart(8, '0')}-7d3c-4a51-9f0e-${String(i * 7919).padStart(12, '0')}`.repeat(4),
        type: ['power_factor', 'temperature', 'hydraulic_pressure'][i % 3],
        value: i % 5 === 0 ? null : i / 10,
        tags: i % 2 === 0 ? ['x', 'y'] : [],
      }));
      const { file } = await writeParquet(schema, inputs);

      const pages = pageTypes(file);

      expect([...pages.keys()]).toEqual(['id', 'type', 'value', 'tags.list.element']);
      for (const types of pages.values()) {
        expect(types.filter((t) => t === 'DATA_PAGE').length).toBeGreaterThan(0);
        expect(types.every((t) => t === 'DATA_PAGE' || t === 'DICTIONARY_PAGE')).toBe(true);
      }
      expect(pages.get('id')?.length).toBeGreaterThan(1);
      expect(pages.get('type')?.[0]).toBe('DICTIONARY_PAGE');
      const encodingStats = footer(file).row_groups.flatMap((g) =>
        g.columns.flatMap((c) => c.meta_data?.encoding_stats ?? []),
      );
      expect(new Set(encodingStats.map((s) => s.page_type))).toEqual(
        new Set(['DATA_PAGE', 'DICTIONARY_PAGE']),
      );
    });

    it('writes min, max and null count statistics, and created_by "tributary"', async () => {
      const { file } = await writeParquet(everyKind, [full, sparse]);

      const metadata = footer(file);
      const stats = Object.fromEntries(
        (metadata.row_groups[0]?.columns ?? []).map((c) => [
          c.meta_data?.path_in_schema.join('.'),
          c.meta_data?.statistics,
        ]),
      );

      expect(metadata.created_by).toBe('tributary');
      expect(stats.id).toMatchObject({ min_value: 'r-1', max_value: 'r-2', null_count: 0n });
      expect(stats.rank).toMatchObject({ min_value: 7, max_value: 7, null_count: 1n });
      expect(stats.volume).toMatchObject({ min_value: -1n, max_value: 42n });
      expect(stats.at).toMatchObject({
        min_value: new Date(0),
        max_value: new Date('2026-11-23T10:15:30.123Z'),
      });
      expect(stats.day).toMatchObject({
        min_value: new Date('1969-12-31'),
        max_value: new Date('2026-11-23'),
      });
      expect(stats.mid?.min_value).toBeCloseTo(-7.0001, 6);
      expect(stats.price).toMatchObject({ null_count: 1n });
      // Empty and null lists are null slots of the element column.
      expect(stats['tags.list.element']).toMatchObject({ min_value: 'a', max_value: 'b', null_count: 1n });
      expect(stats['counts.list.element']).toMatchObject({ min_value: -2n, max_value: 3n, null_count: 1n });
    });

    it('keeps string statistics whole up to 256 bytes and bounds longer ones', async () => {
      const schema = defineSchema({ short: field.string(), long: field.string() });
      const short = `${'s'.repeat(255)}z`;
      const long = 'l'.repeat(300);
      const { file } = await writeParquet(schema, [{ short, long }]);

      const [shortStats, longStats] = (footer(file).row_groups[0]?.columns ?? []).map(
        (c) => c.meta_data?.statistics,
      );
      const longMin = String(longStats?.min_value);
      const longMax = String(longStats?.max_value);

      expect(shortStats).toMatchObject({ min_value: short, max_value: short });
      expect(longMin.length).toBeLessThanOrEqual(256);
      expect(long.startsWith(longMin)).toBe(true);
      expect(longMax > long).toBe(true);
      expect(longStats?.is_max_value_exact).toBe(false);
    });

    it('compresses with snappy by default and writes uncompressed pages on request', async () => {
      const inputs = Array.from({ length: 200 }, (_, i) => ({ ...full, id: `r-${i}` }));
      const snappy = await writeParquet(everyKind, inputs);
      const plain = await writeParquet(everyKind, inputs, { compression: 'UNCOMPRESSED' });

      const codecs = (file: Buffer) =>
        new Set(footer(file).row_groups[0]?.columns.map((c) => c.meta_data?.codec));

      expect(codecs(snappy.file)).toEqual(new Set(['SNAPPY']));
      expect(codecs(plain.file)).toEqual(new Set(['UNCOMPRESSED']));
      expect(snappy.file.byteLength).toBeLessThan(plain.file.byteLength);
      expect(await readAll(plain.storage, everyKind)).toEqual(plain.records);
    });

    it('estimates the file size while buffering and reports the exact size once closed', async () => {
      const { sink, bytes } = memorySink();
      const writer = parquetFormat.createWriter(sink, everyKind, { rowGroupBytes: 4096 });
      const estimates: number[] = [];

      for (let i = 0; i < 300; i++) {
        await writer.write(everyKind.parse({ ...full, id: `r-${i}` }));
        estimates.push(writer.estimatedBytes);
      }
      const stats = await writer.close();

      expect(writer.rows).toBe(300);
      expect(estimates[0]).toBeGreaterThan(100);
      expect(estimates.at(-1)).toBeGreaterThan(estimates[0] as number);
      expect(stats.bytes).toBe(bytes().byteLength);
      expect(writer.estimatedBytes).toBe(stats.bytes);
      // Before close the estimate is within a factor 2 of the final size.
      expect(estimates.at(-1)).toBeGreaterThan(stats.bytes / 2);
      expect(estimates.at(-1)).toBeLessThan(stats.bytes * 2);
    });
  });

  describe('createWriter failures', () => {
    it('rejects invalid options with PARQUET_OPTIONS_INVALID', () => {
      const { sink } = memorySink();

      const bad = [{ rowGroupBytes: 0 }, { rowGroupBytes: 1.5 }, { compression: 'GZIP' as 'SNAPPY' }];

      for (const options of bad) {
        expect(() => parquetFormat.createWriter(sink, everyKind, options)).toThrow(
          expect.objectContaining({ name: 'OptionsError', code: 'PARQUET_OPTIONS_INVALID' }),
        );
      }
    });

    it('names the option in an OptionsError that is still a ParquetError', () => {
      const { sink } = memorySink();
      const bad: [WriterOptions, string][] = [
        [{ rowGroupBytes: 0 }, 'rowGroupBytes'],
        [{ compression: 'GZIP' as 'SNAPPY' }, 'compression'],
      ];

      const failures = bad.map(([options]) => {
        try {
          parquetFormat.createWriter(sink, everyKind, options);
          return undefined;
        } catch (err) {
          return err;
        }
      });

      expect(failures.map((f) => (f as { context?: { option?: unknown } })?.context?.option)).toEqual(
        bad.map(([, option]) => option),
      );
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(OptionsError);
        expect(failure).toBeInstanceOf(ParquetError);
      }
      expect(new ParquetError('x', { code: 'PARQUET_READ_FAILED' })).not.toBeInstanceOf(OptionsError);
      expect(new OptionsError('x', { code: 'ICEBERG_OPTIONS_INVALID', option: 'mode' })).not.toBeInstanceOf(
        ParquetError,
      );
    });

    it('waits for a slow sink to drain instead of buffering the file in it', async () => {
      let maxBuffered = 0;
      const chunks: Buffer[] = [];
      const sink = new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          maxBuffered = Math.max(maxBuffered, sink.writableLength);
          setImmediate(callback);
        },
      });
      const schema = defineSchema({ id: field.string(), n: field.double() });
      const writer = parquetFormat.createWriter(sink, schema, {
        compression: 'UNCOMPRESSED',
        rowGroupBytes: 1 << 20,
      });

      for (let i = 0; i < 120_000; i++) {
        await writer.write({ id: `${i}-aaaaaaaa-bbbb-cccc-dddd-${i * 31}`, n: i });
      }
      const { bytes } = await writer.close();

      expect(bytes).toBeGreaterThan(5 * 1024 * 1024);
      expect(Buffer.concat(chunks).byteLength).toBe(bytes);
      // At most one chunk (about 1 MiB) waits in the sink at a time.
      expect(maxBuffered).toBeLessThan(2.5 * 1024 * 1024);
    });

    it('rejects with PARQUET_WRITE_FAILED, the cause attached, when the sink fails', async () => {
      const sink = new Writable({
        write(_chunk, _encoding, callback) {
          callback(new Error('disk full'));
        },
      });
      const writer = parquetFormat.createWriter(sink, everyKind, { rowGroupBytes: 1 });

      const failure = writer.write(everyKind.parse(full));

      await expect(failure).rejects.toMatchObject({
        name: 'ParquetError',
        code: 'PARQUET_WRITE_FAILED',
        cause: expect.objectContaining({ message: 'disk full' }),
      });
      await expect(writer.write(everyKind.parse(full))).rejects.toMatchObject({
        code: 'PARQUET_WRITE_FAILED',
      });
      await expect(writer.close()).rejects.toBeInstanceOf(ParquetError);
    });

    it('rejects write() after close()', async () => {
      const { sink } = memorySink();
      const writer = parquetFormat.createWriter(sink, everyKind);
      await writer.close();

      await expect(writer.write(everyKind.parse(full))).rejects.toMatchObject({
        code: 'PARQUET_WRITER_CLOSED',
      });
    });

    it('rejects values a column cannot hold instead of wrapping them, and stays usable', async () => {
      const schema = defineSchema({
        tags: field.list(field.string()),
        i32: field.int32(),
        d: field.decimal(9, 2),
        i64: field.int64(),
      });
      const { sink, bytes } = memorySink();
      const writer = parquetFormat.createWriter(sink, schema);

      // Not validated by the schema: the writer itself must refuse them.
      const cases = [
        { tags: ['a', 'b'], i32: 2 ** 31, d: '1.00', i64: 1n },
        { tags: ['a'], i32: 1, d: '12345678.00', i64: 1n },
        { tags: [], i32: 1, d: '1.00', i64: 2n ** 63n },
        { tags: ['a', 'b', 'c'], i32: 1, d: '1.00', i64: null },
      ];

      for (const record of cases) {
        await expect(writer.write(record as never)).rejects.toMatchObject({
          code: 'PARQUET_WRITE_FAILED',
          context: { column: expect.any(String) },
        });
      }
      // A refused record is undone in every column: the writer goes on, columns aligned.
      await writer.write({ tags: ['z'], i32: 5, d: '1.25', i64: 6n });
      const stats = await writer.close();
      const storage = new MemoryStorage();
      await storage.put(KEY, bytes());

      expect(stats.rows).toBe(1);
      expect(await readAll(storage, schema)).toEqual([{ tags: ['z'], i32: 5, d: '1.25', i64: 6n }]);
    });
  });

  describe('read', () => {
    it('returns only the requested columns, reading only their column chunks', async () => {
      // Unique, incompressible 40-character ids make the id column most of the file.
      let seed = 1;
      const hex = () => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        return seed.toString(16).padStart(8, '0');
      };
      const inputs = Array.from({ length: 8000 }, (_, i) => ({
        ...full,
        id: `${hex()}${hex()}${hex()}${hex()}${hex()}`,
        rank: i,
      }));
      const { storage } = await writeParquet(everyKind, inputs);
      let fetched = 0;
      const getBytes = storage.getBytes.bind(storage);
      storage.getBytes = async (key, options) => {
        const bytes = await getBytes(key, options);
        fetched += bytes.byteLength;
        return bytes;
      };
      await readAll(storage, everyKind);
      const fetchedForAll = fetched;
      fetched = 0;

      const back = await readAll(storage, everyKind, ['day', 'rank']);

      expect(back).toHaveLength(8000);
      expect(back[7999]).toEqual({ rank: 7999, day: '2026-11-23' });
      expect(fetched).toBeLessThan(fetchedForAll / 2);
    });

    it('reads a column missing from the file as null when the schema allows it', async () => {
      const { storage } = await writeParquet(everyKind, [full]);
      const wider = defineSchema({ ...everyKind.fields, note: field.string().optional() });
      const required = defineSchema({ ...everyKind.fields, note: field.string() });

      const back = await readAll(storage, wider);

      expect(back[0]).toMatchObject({ id: 'r-1', note: null });
      await expect(readAll(storage, required)).rejects.toMatchObject({
        code: 'PARQUET_SCHEMA_MISMATCH',
        context: expect.objectContaining({ column: 'note', key: KEY }),
      });
    });

    it('widens int32 into int64, double and decimal, and rejects narrowing', async () => {
      const narrow = defineSchema({ n: field.int32(), day: field.date() });
      const { storage } = await writeParquet(narrow, [{ n: -5, day: '2026-11-23' }]);
      const wide = defineSchema({ n: field.int64(), day: field.timestamp() });
      const asDouble = defineSchema({ n: field.double(), day: field.date() });
      const asDecimal = defineSchema({ n: field.decimal(10, 2), day: field.date() });
      const asString = defineSchema({ n: field.string(), day: field.date() });

      expect(await readAll(storage, wide)).toEqual([{ n: -5n, day: new Date('2026-11-23T00:00:00Z') }]);
      expect(await readAll(storage, asDouble)).toEqual([{ n: -5, day: '2026-11-23' }]);
      expect(await readAll(storage, asDecimal)).toEqual([{ n: '-5.00', day: '2026-11-23' }]);
      await expect(readAll(storage, asString)).rejects.toMatchObject({ code: 'PARQUET_SCHEMA_MISMATCH' });
    });

    it('rejects a requested column that is not in the schema', async () => {
      const { storage } = await writeParquet(everyKind, [full]);

      await expect(readAll(storage, everyKind, ['nope'])).rejects.toMatchObject({
        code: 'PARQUET_SCHEMA_MISMATCH',
      });
    });

    it('throws ObjectNotFoundError for a missing key and PARQUET_READ_FAILED for a file that is not Parquet', async () => {
      const storage = new MemoryStorage();
      await storage.put('bad.parquet', '{"not":"parquet"}\n');

      await expect(readAll(storage, everyKind)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(readParquetSchema(storage, 'bad.parquet')).rejects.toMatchObject({
        name: 'ParquetError',
        code: 'PARQUET_READ_FAILED',
        context: expect.objectContaining({ key: 'bad.parquet' }),
      });
    });
  });

  describe('page checksums', () => {
    // A dictionary column, a nullable one (definition levels) and a list (repetition levels).
    const readings = defineSchema({
      id: field.string(),
      type: field.string(),
      value: field.double().nullable(),
      tags: field.list(field.string()).optional(),
    });
    const inputs = Array.from({ length: 3000 }, (_, i) => ({
      id: `reading-${String(i).padStart(6, '0')}`,
      type: ['power_factor', 'temperature', 'hydraulic_pressure'][i % 3],
      value: i % 5 === 0 ? null : i / 10,
      tags: i % 2 === 0 ? ['x', `t${i % 7}`] : [],
    }));
    const pageOf = (file: Buffer, column: string, type: string, rowGroup = 0) => {
      const page = pageInfos(file).find(
        (p) => p.column === column && p.type === type && p.rowGroup === rowGroup,
      );
      if (!page) throw new Error(`no ${type} of ${column} in row group ${rowGroup}`);
      return page;
    };

    it('writes the CRC-32 of each page as stored, data and dictionary pages, compressed or not', async () => {
      for (const compression of ['SNAPPY', 'UNCOMPRESSED'] as const) {
        const { file } = await writeParquet(readings, inputs, { compression, rowGroupBytes: 16 * 1024 });

        const pages = pageInfos(file);

        expect(new Set(pages.map((p) => p.type))).toEqual(new Set(['DATA_PAGE', 'DICTIONARY_PAGE']));
        expect(new Set(pages.map((p) => p.rowGroup)).size).toBeGreaterThan(1);
        for (const page of pages) {
          // Thrift's i32: the unsigned CRC-32 read as a signed 32-bit integer.
          expect(page.crc, `${page.column} page ${page.page}`).toBe(
            crc32(file.subarray(page.dataStart, page.dataEnd)) | 0,
          );
        }
      }
    });

    it('rejects a flipped byte inside a data page with PARQUET_PAGE_CHECKSUM_MISMATCH, naming key, column and page', async () => {
      // Uncompressed PLAIN doubles: without a checksum the flip reads back as another number.
      const { file } = await writeParquet(readings, inputs, {
        compression: 'UNCOMPRESSED',
        rowGroupBytes: 16 * 1024,
      });
      const target = pageOf(file, 'value', 'DATA_PAGE', 1);
      const storage = new MemoryStorage();
      await storage.put(KEY, flipByteInPage(file, target));

      const read = readAll(storage, readings);

      await expect(read).rejects.toBeInstanceOf(ParquetError);
      await expect(read).rejects.toMatchObject({
        code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
        context: expect.objectContaining({
          key: KEY,
          column: 'value',
          rowGroup: 1,
          page: target.page,
          pageType: 'DATA_PAGE',
        }),
      });
      await expect(read).rejects.toThrow(new RegExp(`${KEY}.*column value.*row group 1`));
    });

    it('rejects a flipped byte inside a snappy-compressed dictionary page', async () => {
      const { file } = await writeParquet(readings, inputs);
      const target = pageOf(file, 'type', 'DICTIONARY_PAGE');
      const storage = new MemoryStorage();
      await storage.put(KEY, flipByteInPage(file, target));

      await expect(readAll(storage, readings)).rejects.toMatchObject({
        code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
        context: expect.objectContaining({ column: 'type', page: 0, pageType: 'DICTIONARY_PAGE' }),
      });
    });

    it('verifies the columns it reads: a corrupt column fails its readers only', async () => {
      const { file, records } = await writeParquet(readings, inputs, { compression: 'UNCOMPRESSED' });
      const storage = new MemoryStorage();
      await storage.put(KEY, flipByteInPage(file, pageOf(file, 'id', 'DATA_PAGE')));

      const ids = await readAll(storage, readings, ['type', 'value']);

      expect(ids).toEqual(records.map(({ type, value }) => ({ type, value })));
      await expect(readAll(storage, readings, ['id'])).rejects.toMatchObject({
        code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
        context: expect.objectContaining({ column: 'id' }),
      });
    });

    it('reads pages that carry no checksum, as many writers leave them', async () => {
      const buffer = parquetWriteBuffer({
        columnData: [{ name: 'n', data: Int32Array.from({ length: 500 }, (_, i) => i) }],
        schema: [
          { name: 'root', num_children: 1 },
          { name: 'n', type: 'INT32', repetition_type: 'REQUIRED' },
        ],
      });
      const file = Buffer.from(buffer);
      const storage = new MemoryStorage();
      await storage.put(KEY, file);

      const back = await readAll(storage, defineSchema({ n: field.int32() }));

      expect(pageInfos(file).every((p) => p.crc === undefined)).toBe(true);
      expect(back.map((r) => r.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    });
  });

  describe('readParquetSchema', () => {
    it('describes a lake file as core field kinds', async () => {
      const { storage } = await writeParquet(everyKind, [full]);

      const columns = await readParquetSchema(storage, KEY);

      expect(columns.map(({ parquetType: _, ...c }) => c)).toEqual([
        { name: 'id', kind: 'string', nullable: false },
        { name: 'active', kind: 'boolean', nullable: false },
        { name: 'rank', kind: 'int32', nullable: true },
        { name: 'volume', kind: 'int64', nullable: false },
        { name: 'value', kind: 'double', nullable: false },
        { name: 'price', kind: 'decimal', precision: 38, scale: 18, nullable: true },
        { name: 'small', kind: 'decimal', precision: 9, scale: 2, nullable: false },
        { name: 'mid', kind: 'decimal', precision: 18, scale: 4, nullable: false },
        { name: 'at', kind: 'timestamp', nullable: false },
        { name: 'day', kind: 'date', nullable: false },
        { name: 'tags', kind: 'list', element: { kind: 'string' }, nullable: true },
        { name: 'counts', kind: 'list', element: { kind: 'int64' }, nullable: true },
      ]);
      expect(columns.find((c) => c.name === 'at')?.parquetType).toBe('INT64 TIMESTAMP(MILLIS,true)');
    });

    it('describes and reads columns written by other tools, marking those core cannot hold', async () => {
      const uuid = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
      const buffer = parquetWriteBuffer({
        columnData: [
          { name: 'f', data: [1.5] },
          { name: 'small', data: [-3] },
          { name: 'u32', data: [4_000_000_000] },
          { name: 'u64', data: [18_000_000_000_000_000_000n] },
          { name: 'micros', data: [1_700_000_000_123_456n] },
          { name: 'uid', data: [uuid] },
          { name: 'json', data: [{ a: 1 }] },
          { name: 'raw', data: [new Uint8Array([1, 2])] },
        ],
        schema: [
          { name: 'root', num_children: 8 },
          { name: 'f', type: 'FLOAT', repetition_type: 'REQUIRED' },
          {
            name: 'small',
            type: 'INT32',
            repetition_type: 'OPTIONAL',
            converted_type: 'INT_16',
            logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true },
          },
          { name: 'u32', type: 'INT32', repetition_type: 'REQUIRED', converted_type: 'UINT_32' },
          { name: 'u64', type: 'INT64', repetition_type: 'REQUIRED', converted_type: 'UINT_64' },
          {
            name: 'micros',
            type: 'INT64',
            repetition_type: 'REQUIRED',
            logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
          },
          {
            name: 'uid',
            type: 'FIXED_LEN_BYTE_ARRAY',
            type_length: 16,
            repetition_type: 'REQUIRED',
            logical_type: { type: 'UUID' },
          },
          { name: 'json', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED', converted_type: 'JSON' },
          { name: 'raw', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
        ],
      });
      const storage = new MemoryStorage();
      await storage.put(KEY, new Uint8Array(buffer));
      const schema = defineSchema({
        f: field.double(),
        small: field.int32().nullable(),
        u32: field.int64(),
        u64: field.decimal(20, 0),
        micros: field.timestamp(),
        uid: field.string(),
        json: field.string(),
      });

      const columns = await readParquetSchema(storage, KEY);
      const back = await readAll(storage, schema);

      expect(columns.map((c) => [c.name, c.kind, c.precision ?? null])).toEqual([
        ['f', 'double', null],
        ['small', 'int32', null],
        ['u32', 'int64', null],
        ['u64', 'decimal', 20],
        ['micros', 'timestamp', null],
        ['uid', 'string', null],
        ['json', 'string', null],
        ['raw', 'unsupported', null],
      ]);
      expect(columns.find((c) => c.name === 'raw')?.parquetType).toBe('BYTE_ARRAY');
      expect(back).toEqual([
        {
          f: 1.5,
          small: -3,
          u32: 4_000_000_000n,
          u64: '18000000000000000000',
          micros: new Date(1_700_000_000_123),
          uid: uuid,
          json: '{"a":1}',
        },
      ]);
      await expect(readAll(storage, defineSchema({ raw: field.string() }))).rejects.toMatchObject({
        code: 'PARQUET_SCHEMA_MISMATCH',
      });
    });
  });

  describe('parquetRowCount', () => {
    it('reads the row count from the footer', async () => {
      const inputs = Array.from({ length: 1234 }, (_, i) => ({ ...full, id: `r-${i}` }));
      const { storage } = await writeParquet(everyKind, inputs, { rowGroupBytes: 16 * 1024 });

      expect(await parquetRowCount(storage, KEY)).toBe(1234);
    });
  });
});
