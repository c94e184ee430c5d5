import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  defineSchema,
  type Fields,
  field,
  type Infer,
  type Schema,
  unscaledToDecimal,
} from '@tributary/core';
import { parquetMetadata, snappyUncompress } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { snappyCompress as jsSnappy } from 'hyparquet-writer/src/snappy.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SNAPPY_VARIABLE } from '../../src/formats/parquet/codecs.js';
import { parquetFormat } from '../../src/formats/parquet.js';
import { MemoryStorage } from '../../src/memory-storage.js';

const PYTHON = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../spark/.venv/bin/python');
const ROWS = 10_000;
const TYPES = ['power_factor', 'temperature', 'hydraulic_pressure'];
/** The file is written twice, with each snappy the writer can use (TRIBUTARY_PARQUET_SNAPPY). */
const SNAPPY = ['native', 'js'] as const;
const nativeSnappy = createRequire(import.meta.url)('snappy') as {
  compressSync(input: Uint8Array): Uint8Array;
};

// Every field kind, around sensor readings.
const interop = defineSchema({
  id: field.string(),
  sensorId: field.string(),
  type: field.string(),
  source: field.string(),
  value: field.double(),
  reading: field.double().nullable(),
  level: field.int32(),
  seq: field.int64(),
  active: field.boolean(),
  small: field.decimal(9, 2),
  mid: field.decimal(18, 4).nullable(),
  big: field.decimal(38, 10),
  at: field.timestamp(),
  day: field.date(),
  tags: field.list(field.string()).nullable(),
  counts: field.list(field.int64()).optional(),
});
type Row = Infer<typeof interop>;

function sensorRows(count: number): Row[] {
  let state = 7;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const hex = () =>
    Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  const start = Date.UTC(2026, 10, 23, 10);
  return Array.from({ length: count }, (_, i) => {
    const h = hex() + hex() + hex() + hex();
    const type = TYPES[i % 3] as string;
    const cents = BigInt(Math.floor(random() * 2e9)) - 1_000_000_000n;
    return interop.parse({
      id: `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`,
      sensorId: `${type}-${i % 250}`,
      type,
      source: 'simulator',
      value: Math.round(random() * 1e6) / 1000,
      reading: i % 10 === 0 ? null : i / 4,
      level: i % 2 === 0 ? 0 - i * 1000 : i * 1000,
      seq: i === 0 ? -(2n ** 63n) : i === 1 ? 2n ** 63n - 1n : BigInt(i) * 1_000_000_007n,
      active: i % 3 === 0,
      small: unscaledToDecimal(cents % 99_999_999n, 2),
      mid: i % 7 === 0 ? null : unscaledToDecimal(cents * 1_000_003n, 4),
      big: unscaledToDecimal(cents * 10n ** 27n + BigInt(i), 10),
      at: new Date(start + i * 1_237),
      day: new Date(start + i * 86_400_000).toISOString().slice(0, 10),
      tags: i % 5 === 0 ? null : i % 5 === 1 ? [] : [type, `t${i % 4}`],
      counts: i % 2 === 0 ? [BigInt(i), -1n] : undefined,
    });
  });
}

interface PageAt {
  column: string;
  type: string;
  crc: number | undefined;
  uncompressedSize: number;
  dataStart: number;
  dataEnd: number;
}

/** Every page of every column chunk, from the footer and the page headers. */
function pagesOf(file: Buffer): PageAt[] {
  const metadata = parquetMetadata(
    file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer,
  );
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const pages: PageAt[] = [];
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta) throw new Error('column chunk without metadata');
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const reader = { view, offset: start };
      while (reader.offset < start + Number(meta.total_compressed_size)) {
        const header = parquetHeader(reader);
        const dataStart = reader.offset;
        reader.offset += header.compressed_page_size;
        pages.push({
          column: meta.path_in_schema.join('.'),
          type: header.type,
          crc: header.crc,
          uncompressedSize: header.uncompressed_page_size,
          dataStart,
          dataEnd: reader.offset,
        });
      }
    }
  }
  return pages;
}

const storedPage = (file: Buffer, page: PageAt) => file.subarray(page.dataStart, page.dataEnd);

function uncompressedPage(file: Buffer, page: PageAt): Uint8Array {
  const raw = new Uint8Array(page.uncompressedSize);
  snappyUncompress(storedPage(file, page), raw);
  return raw;
}

/** Copy a file with one byte inverted in the middle of the first page of this column and type. */
async function corruptCopy(path: string, column: string, type: string): Promise<string> {
  const bytes = await readFile(path);
  const page = pagesOf(bytes).find((p) => p.column === column && p.type === type);
  if (!page) throw new Error(`${path} has no ${type} in column ${column}`);
  const at = Math.floor((page.dataStart + page.dataEnd) / 2);
  bytes[at] = (bytes[at] as number) ^ 0xff;
  const corrupt = path.replace(/\.parquet$/, `-corrupt-${column}-${type}.parquet`);
  await writeFile(corrupt, bytes);
  return corrupt;
}

const sumDecimals = (values: readonly (string | null)[], scale: number) =>
  unscaledToDecimal(
    values.reduce((sum, v) => (v === null ? sum : sum + BigInt(v.replace('.', ''))), 0n),
    scale,
  );

let folder: string;
/** The file of each snappy; `file` is the native one's, for the checksum tests. */
const files = {} as Record<(typeof SNAPPY)[number], string>;
let file: string;
let rows: Row[];
let instance: DuckDBInstance;
let duck: DuckDBConnection;

async function query(sql: string) {
  return (await duck.runAndReadAll(sql)).getRowObjectsJson();
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tributary-parquet-'));
  rows = sensorRows(ROWS);
  for (const snappy of SNAPPY) {
    files[snappy] = join(folder, `sensors-${snappy}.parquet`);
    vi.stubEnv(SNAPPY_VARIABLE, snappy);
    // Small row groups, so that readers also cross row group boundaries.
    const writer = parquetFormat.createWriter(createWriteStream(files[snappy]), interop, {
      rowGroupBytes: 256 * 1024,
    });
    for (const row of rows) await writer.write(row);
    await writer.close();
    vi.unstubAllEnvs();
  }
  file = files.native;
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  await duck.run("SET TimeZone = 'UTC'");
});

afterAll(async () => {
  duck?.closeSync();
  instance?.closeSync();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('parquetFormat interop', () => {
  describe.each(SNAPPY)('pages compressed by the %s snappy', (snappy) => {
    // The readers below read this snappy's file: `file` shadows the suite's (the native one).
    let file: string;

    beforeAll(() => {
      file = files[snappy];
    });

    it(`were compressed by the ${snappy} snappy, whose bytes differ from the other's`, async () => {
      const bytes = await readFile(file);
      const compress = snappy === 'native' ? nativeSnappy.compressSync : jsSnappy;

      const pages = pagesOf(bytes);

      expect(pages.length).toBeGreaterThan(16);
      expect(
        pages.filter((p) => !Buffer.from(compress(uncompressedPage(bytes, p))).equals(storedPage(bytes, p))),
      ).toEqual([]);
      expect(bytes.equals(await readFile(files[snappy === 'native' ? 'js' : 'native']))).toBe(false);
    });

    describe('DuckDB', () => {
      it('reads every column with the type we meant', async () => {
        const described = await query(`DESCRIBE SELECT * FROM read_parquet('${file}')`);

        expect(Object.fromEntries(described.map((c) => [c.column_name, c.column_type]))).toEqual({
          id: 'VARCHAR',
          sensorId: 'VARCHAR',
          type: 'VARCHAR',
          source: 'VARCHAR',
          value: 'DOUBLE',
          reading: 'DOUBLE',
          level: 'INTEGER',
          seq: 'BIGINT',
          active: 'BOOLEAN',
          small: 'DECIMAL(9,2)',
          mid: 'DECIMAL(18,4)',
          big: 'DECIMAL(38,10)',
          at: 'TIMESTAMP WITH TIME ZONE',
          day: 'DATE',
          tags: 'VARCHAR[]',
          counts: 'BIGINT[]',
        });
      });

      it('reads the values: counts, sums, extremes, exact decimals and nulls', async () => {
        const [agg] = await query(`
          SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT type) AS types,
            sum(value) AS value_sum, count(*) FILTER (WHERE reading IS NULL) AS reading_nulls,
            min(seq)::VARCHAR AS seq_min, max(seq)::VARCHAR AS seq_max, sum(level)::VARCHAR AS level_sum,
            sum(small)::VARCHAR AS small_sum, sum(mid)::VARCHAR AS mid_sum, count(*) FILTER (WHERE mid IS NULL) AS mid_nulls,
            sum(big)::VARCHAR AS big_sum, epoch_ms(min("at")) AS at_min, epoch_ms(max("at")) AS at_max,
            min(day)::VARCHAR AS day_min, max(day)::VARCHAR AS day_max, count(*) FILTER (WHERE active) AS active,
            count(*) FILTER (WHERE tags IS NULL) AS tags_null, count(*) FILTER (WHERE len(tags) = 0) AS tags_empty,
            sum(len(tags)) AS tag_count, sum(list_sum(counts))::VARCHAR AS counts_sum,
            count(DISTINCT source) AS sources
          FROM read_parquet('${file}')`);

        expect(agg).toEqual({
          n: String(ROWS),
          ids: String(ROWS),
          types: '3',
          value_sum: expect.closeTo(
            rows.reduce((s, r) => s + r.value, 0),
            6,
          ),
          reading_nulls: String(ROWS / 10),
          seq_min: '-9223372036854775808',
          seq_max: '9223372036854775807',
          level_sum: String(rows.reduce((s, r) => s + r.level, 0)),
          small_sum: sumDecimals(
            rows.map((r) => r.small),
            2,
          ),
          mid_sum: sumDecimals(
            rows.map((r) => r.mid),
            4,
          ),
          mid_nulls: String(rows.filter((r) => r.mid === null).length),
          big_sum: sumDecimals(
            rows.map((r) => r.big),
            10,
          ),
          at_min: String(rows[0]?.at.getTime()),
          at_max: String(rows[ROWS - 1]?.at.getTime()),
          day_min: rows[0]?.day,
          day_max: rows[ROWS - 1]?.day,
          active: String(rows.filter((r) => r.active).length),
          tags_null: String(ROWS / 5),
          tags_empty: String(ROWS / 5),
          tag_count: String(((ROWS * 3) / 5) * 2),
          counts_sum: String(rows.reduce((s, r) => s + (r.counts ?? []).reduce((a, b) => a + b, 0n), 0n)),
          sources: '1',
        });
      });

      it('reads rows identical to what was written', async () => {
        const back = await query(`
          SELECT id, sensorId, reading, seq::VARCHAR AS seq, big::VARCHAR AS big, mid::VARCHAR AS mid,
            epoch_ms("at") AS "at", day::VARCHAR AS day, tags
          FROM read_parquet('${file}') WHERE id IN ('${rows[0]?.id}', '${rows[3]?.id}', '${rows[ROWS - 1]?.id}')
          ORDER BY "at"`);

        expect(back).toEqual(
          [rows[0], rows[3], rows[ROWS - 1]].map((r) => ({
            id: r?.id,
            sensorId: r?.sensorId,
            reading: r?.reading,
            seq: r?.seq.toString(),
            big: r?.big,
            mid: r?.mid,
            at: String(r?.at.getTime()),
            day: r?.day,
            tags: r?.tags,
          })),
        );
      });
    });

    describe('pyarrow', () => {
      // Independent of every JS library: pyarrow for schema, values and chunk offsets, and a tiny
      // Thrift compact-protocol walk over the page headers for their types.
      const script = `
import datetime, json, sys, decimal
decimal.getcontext().prec = 80
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc

def varint(b, i):
    shift = result = 0
    while True:
        x = b[i]; i += 1
        result |= (x & 0x7f) << shift
        if not x & 0x80: return result, i
        shift += 7

def skip(b, i, t):
    if t in (1, 2): return i
    if t == 3: return i + 1
    if t in (4, 5, 6): return varint(b, i)[1]
    if t == 7: return i + 8
    if t == 8:
        n, i = varint(b, i); return i + n
    if t in (9, 10):
        h = b[i]; i += 1; n, et = h >> 4, h & 0x0f
        if n == 15: n, i = varint(b, i)
        for _ in range(n): i = i + 1 if et in (1, 2) else skip(b, i, et)
        return i
    if t == 12: return struct(b, i)[1]
    raise ValueError('unexpected thrift type %d' % t)

def struct(b, i):
    fields, fid = {}, 0
    while True:
        h = b[i]; i += 1
        if h == 0: return fields, i
        t, delta = h & 0x0f, h >> 4
        if delta == 0:
            v, i = varint(b, i); fid = (v >> 1) ^ -(v & 1)
        else:
            fid += delta
        if t in (4, 5, 6):
            v, i = varint(b, i); fields[fid] = (v >> 1) ^ -(v & 1)
        else:
            i = skip(b, i, t)

PAGE_TYPES = {0: 'DATA_PAGE', 1: 'INDEX_PAGE', 2: 'DICTIONARY_PAGE', 3: 'DATA_PAGE_V2'}
path = sys.argv[1]
raw = open(path, 'rb').read()
pf = pq.ParquetFile(path)
table = pf.read()
pages, encodings = {}, set()
for g in range(pf.metadata.num_row_groups):
    group = pf.metadata.row_group(g)
    for c in range(group.num_columns):
        col = group.column(c)
        encodings.update(col.encodings)
        at = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
        end = at + col.total_compressed_size
        while at < end:
            header, body = struct(raw, at)
            kind = PAGE_TYPES[header[1]]
            pages[kind] = pages.get(kind, 0) + 1
            at = body + header[3]

def plain(v):
    if isinstance(v, decimal.Decimal): return str(v)
    if isinstance(v, datetime.datetime): return v.isoformat(timespec='milliseconds')
    if isinstance(v, datetime.date): return v.isoformat()
    return v

stats = pf.metadata.row_group(0).column(table.schema.get_field_index('big')).statistics
print(json.dumps({
    'types': {f.name: str(f.type) for f in table.schema},
    'rows': table.num_rows,
    'rowGroups': pf.metadata.num_row_groups,
    'createdBy': pf.metadata.created_by,
    'pages': pages,
    'encodings': sorted(encodings),
    'valueSum': pc.sum(table['value']).as_py(),
    'readingNulls': table['reading'].null_count,
    'seqMin': str(pc.min(table['seq']).as_py()),
    'seqMax': str(pc.max(table['seq']).as_py()),
    'smallSum': str(pc.sum(table['small']).as_py()),
    'bigSum': str(sum(v for v in table['big'].to_pylist())),
    'midNulls': table['mid'].null_count,
    'atMin': pc.min(table['at']).cast(pa.int64()).as_py(),
    'atMax': pc.max(table['at']).cast(pa.int64()).as_py(),
    'bigStats': [str(stats.min), str(stats.max), stats.null_count],
    'first': [{k: plain(v) if not isinstance(v, list) else [plain(x) for x in v] for k, v in r.items()} for r in table.slice(0, 3).to_pylist()],
}))
  `;
      let result: Record<string, unknown>;

      beforeAll(async () => {
        const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, file], {
          maxBuffer: 16 * 1024 * 1024,
        });
        result = JSON.parse(stdout);
      });

      it('reads every column with the Arrow type we meant', () => {
        expect(result.types).toEqual({
          id: 'string',
          sensorId: 'string',
          type: 'string',
          source: 'string',
          value: 'double',
          reading: 'double',
          level: 'int32',
          seq: 'int64',
          active: 'bool',
          small: 'decimal128(9, 2)',
          mid: 'decimal128(18, 4)',
          big: 'decimal128(38, 10)',
          at: 'timestamp[ms, tz=UTC]',
          day: 'date32[day]',
          // core's lists hold no nulls, so the element is required.
          tags: 'list<element: string not null>',
          counts: 'list<element: int64 not null>',
        });
      });

      it('finds only V1 data pages (and dictionary pages) in every column chunk', () => {
        expect(result.rowGroups).toBeGreaterThan(1);
        expect(Object.keys(result.pages as object).sort()).toEqual(['DATA_PAGE', 'DICTIONARY_PAGE']);
        expect(result.encodings).toEqual(['PLAIN', 'RLE', 'RLE_DICTIONARY']);
        expect(result.createdBy).toBe('tributary');
      });

      it('reads the values: sums, extremes, exact decimals, nulls and statistics', () => {
        const bigs = rows
          .map((r) => r.big)
          .sort((a, b) => (BigInt(a.replace('.', '')) < BigInt(b.replace('.', '')) ? -1 : 1));
        expect(result).toMatchObject({
          rows: ROWS,
          valueSum: expect.closeTo(
            rows.reduce((s, r) => s + r.value, 0),
            6,
          ),
          readingNulls: ROWS / 10,
          seqMin: '-9223372036854775808',
          seqMax: '9223372036854775807',
          smallSum: sumDecimals(
            rows.map((r) => r.small),
            2,
          ),
          bigSum: sumDecimals(
            rows.map((r) => r.big),
            10,
          ),
          midNulls: rows.filter((r) => r.mid === null).length,
          atMin: rows[0]?.at.getTime(),
          atMax: rows[ROWS - 1]?.at.getTime(),
        });
        // The first row group's statistics, exact for a DECIMAL(38,10).
        const firstGroup = (result.bigStats as [string, string, number]).slice(0, 2);
        expect(bigs).toContain(firstGroup[0]);
        expect(bigs).toContain(firstGroup[1]);
        expect(result.first).toEqual(
          rows.slice(0, 3).map((r) => ({
            ...r,
            seq: Number(r.seq),
            at: r.at.toISOString().replace('Z', '+00:00'),
            counts: r.counts?.map(Number) ?? null,
          })),
        );
      });
    });

    describe('our reader', () => {
      it('reads back every row of the file as written', async () => {
        const storage = new MemoryStorage();
        await storage.put('sensors.parquet', await readFile(file));

        const back: Row[] = [];
        for await (const row of parquetFormat.read(storage, 'sensors.parquet', interop)) back.push(row);

        expect(back).toEqual(rows);
      });
    });
  });

  describe('page checksums', () => {
    // pyarrow with page_checksum_verification=True on each file: rows read, or the error raised.
    const verify = `
import json, sys, pyarrow.parquet as pq
out = {}
for path in sys.argv[1:]:
    try:
        out[path] = {'rows': pq.read_table(path, page_checksum_verification=True).num_rows}
    except Exception as e:
        out[path] = {'error': type(e).__name__ + ': ' + str(e)}
print(json.dumps(out))
`;
    // A table written by pyarrow with and without page checksums, in V1 and V2 data pages.
    const writeWithPyarrow = `
import sys, pyarrow as pa, pyarrow.parquet as pq
folder, n = sys.argv[1], 5000
table = pa.table({
    'id': [f'r-{i:06d}' for i in range(n)],
    'type': [('power_factor', 'temperature', 'hydraulic_pressure')[i % 3] for i in range(n)],
    'value': [None if i % 5 == 0 else i / 10 for i in range(n)],
    'seq': pa.array(range(n), pa.int64()),
    'tags': pa.array([[f't{i % 4}'] if i % 2 else [] for i in range(n)],
                     pa.list_(pa.field('element', pa.string(), nullable=False))),
})
for version in ('1.0', '2.0'):
    pq.write_table(table, f'{folder}/pyarrow-v{version[0]}.parquet', write_page_checksum=True,
                   data_page_version=version, data_page_size=4096)
pq.write_table(table, f'{folder}/pyarrow-plain.parquet')
`;
    const pyarrowSchema = defineSchema({
      id: field.string(),
      type: field.string(),
      value: field.double().nullable(),
      seq: field.int64(),
      tags: field.list(field.string()),
    });
    const expected = Array.from({ length: 5000 }, (_, i) => ({
      id: `r-${String(i).padStart(6, '0')}`,
      type: ['power_factor', 'temperature', 'hydraulic_pressure'][i % 3],
      value: i % 5 === 0 ? null : i / 10,
      seq: BigInt(i),
      tags: i % 2 ? [`t${i % 4}`] : [],
    }));
    const files: Record<string, string> = {};
    let pyarrow: Record<string, { rows?: number; error?: string }>;

    async function ourRead<F extends Fields>(path: string, schema: Schema<F>) {
      const storage = new MemoryStorage();
      await storage.put('table/part-0.parquet', await readFile(path));
      const back: unknown[] = [];
      for await (const row of parquetFormat.read(storage, 'table/part-0.parquet', schema)) back.push(row);
      return back;
    }

    beforeAll(async () => {
      await promisify(execFile)(PYTHON, ['-c', writeWithPyarrow, folder]);
      files.duckdb = join(folder, 'duckdb.parquet');
      await duck.run(
        `COPY (SELECT 'r-' || lpad(i::VARCHAR, 6, '0') AS id, 'temperature' AS type, i / 10 AS value,
            i::BIGINT AS seq, [] :: VARCHAR[] AS tags FROM range(5000) t(i))
          TO '${files.duckdb}' (FORMAT parquet)`,
      );
      files.ours = file;
      files.oursData = await corruptCopy(file, 'value', 'DATA_PAGE');
      files.oursDictionary = await corruptCopy(file, 'type', 'DICTIONARY_PAGE');
      files.pyarrowV1 = join(folder, 'pyarrow-v1.parquet');
      files.pyarrowV2 = join(folder, 'pyarrow-v2.parquet');
      files.pyarrowPlain = join(folder, 'pyarrow-plain.parquet');
      files.pyarrowV1Corrupt = await corruptCopy(files.pyarrowV1, 'value', 'DATA_PAGE');
      files.pyarrowV2Corrupt = await corruptCopy(files.pyarrowV2, 'value', 'DATA_PAGE_V2');
      const { stdout } = await promisify(execFile)(PYTHON, ['-c', verify, ...Object.values(files)]);
      pyarrow = JSON.parse(stdout);
    });

    it('pyarrow verifies the CRC-32 in every page we write', async () => {
      const pages = pagesOf(await readFile(file));

      expect(pages.length).toBeGreaterThan(16);
      expect(pages.filter((p) => p.crc === undefined)).toEqual([]);
      expect(pyarrow[files.ours as string]).toEqual({ rows: ROWS });
    });

    it('pyarrow rejects our file with one byte flipped in a data page or a dictionary page', () => {
      for (const corrupt of [files.oursData, files.oursDictionary]) {
        expect(pyarrow[corrupt as string]?.error).toMatch(/CRC checksum verification failed/);
      }
    });

    it('our reader rejects the same files with PARQUET_PAGE_CHECKSUM_MISMATCH', async () => {
      await expect(ourRead(files.oursData as string, interop)).rejects.toMatchObject({
        name: 'ParquetError',
        code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
        context: expect.objectContaining({ key: 'table/part-0.parquet', column: 'value', rowGroup: 0 }),
      });
      await expect(ourRead(files.oursDictionary as string, interop)).rejects.toMatchObject({
        code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
        context: expect.objectContaining({ column: 'type', pageType: 'DICTIONARY_PAGE' }),
      });
    });

    it("our reader verifies pyarrow's page checksums, V1 and V2 pages: reads them whole, rejects them corrupt", async () => {
      for (const path of [files.pyarrowV1, files.pyarrowV2] as string[]) {
        expect(pagesOf(await readFile(path)).every((p) => typeof p.crc === 'number')).toBe(true);
        expect(await ourRead(path, pyarrowSchema)).toEqual(expected);
      }
      for (const [path, pageType] of [
        [files.pyarrowV1Corrupt, 'DATA_PAGE'],
        [files.pyarrowV2Corrupt, 'DATA_PAGE_V2'],
      ] as const) {
        expect(pyarrow[path as string]?.error).toMatch(/CRC checksum verification failed/);
        await expect(ourRead(path as string, pyarrowSchema)).rejects.toMatchObject({
          code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
          context: expect.objectContaining({ column: 'value', pageType }),
        });
      }
    });

    it('our reader reads files without page checksums (pyarrow default, DuckDB)', async () => {
      const plain = await readFile(files.pyarrowPlain as string);
      const fromDuckdb = await readFile(files.duckdb as string);

      expect(pagesOf(plain).every((p) => p.crc === undefined)).toBe(true);
      expect(pagesOf(fromDuckdb).every((p) => p.crc === undefined)).toBe(true);
      expect(await ourRead(files.pyarrowPlain as string, pyarrowSchema)).toEqual(expected);
      expect(await ourRead(files.duckdb as string, pyarrowSchema)).toEqual(
        expected.map((r, i) => ({ ...r, type: 'temperature', value: i / 10, tags: [] })),
      );
    });
  });

  it('pyarrow and DuckDB read -0 apart from 0 in a dictionary-encoded double column', async () => {
    // Few distinct values: the column is dictionary-encoded, and -0 has a dictionary entry of its own.
    const zeros = defineSchema({ value: field.double() });
    const values = Array.from({ length: 2000 }, (_, i) => [0, -0, 1.5, -0, 0][i % 5] as number);
    const path = join(folder, 'zeros.parquet');
    const writer = parquetFormat.createWriter(createWriteStream(path), zeros);
    for (const value of values) await writer.write({ value });
    await writer.close();
    const script = [
      'import json, math, sys, pyarrow.parquet as pq',
      'meta = pq.ParquetFile(sys.argv[1]).metadata.row_group(0).column(0)',
      "values = pq.read_table(sys.argv[1]).column('value').to_pylist()",
      "print(json.dumps({'dictionary': meta.has_dictionary_page, 'negative': [math.copysign(1, v) < 0 for v in values]}))",
    ].join('\n');

    const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, path]);
    const fromPyarrow = JSON.parse(stdout) as { dictionary: boolean; negative: boolean[] };
    const fromDuckdb = await query(
      `SELECT count(*) FILTER (WHERE signbit(value)) AS negative FROM read_parquet('${path}')`,
    );

    const negative = values.map((v) => Object.is(v, -0));
    expect(fromPyarrow.dictionary).toBe(true);
    expect(fromPyarrow.negative).toEqual(negative);
    expect(Number(fromDuckdb[0]?.negative)).toBe(negative.filter(Boolean).length);
  });
});
