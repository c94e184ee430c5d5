import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Fields, OptionsError, type Schema } from '@tributary/core';
import { LocalStorage, MemoryStorage, readDataset } from '@tributary/lake';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import type { DmsFileLayout } from '../../src/dms-layout.js';
import { replayExport } from '../../src/dms-replay.js';
import { normalizeListings } from '../../src/normalize.js';
import { CRYPTO_TABLES, type CryptoTableName, cryptocurrencySchema, quoteSchema } from '../../src/schemas.js';
import {
  cryptoRawToProcessed,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
} from '../../src/transforms.js';

// The readers against files laid out as an AWS DMS S3 target writes them, one variant per set of
// endpoint settings. The files are written by Python (csv module; pyarrow in the types DMS writes
// to Parquet), from changes whose end state is computed here, apart from the readers.

const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const WRITER = resolve(here, '../fixtures/write_dms_files.py');
const SCHEMA = 'cmc';
const PREFIX = 'dms/';
const TABLES = Object.keys(CRYPTO_TABLES) as CryptoTableName[];

type Row = Record<string, unknown>;
type Op = 'I' | 'U' | 'D';
interface ParquetOptions {
  version?: '1.0' | '2.6';
  data_page_version?: '1.0' | '2.0';
  unit?: 'us' | 'ms';
  text_decimals?: boolean;
  compression?: 'NONE' | 'SNAPPY' | 'GZIP';
  row_group_size?: number;
}

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

const fixtures = generateFixtures({ coins: 24, snapshots: 2 });
const day0 = normalizeListings(fixtures.listings(0, ['USD']));
const day1 = normalizeListings(fixtures.listings(1, ['USD']));
const loadRow = (n: number): Row => ({
  id: `00000000-0000-4000-8000-00000000000${n}`,
  started_at: new Date(Date.UTC(2026, 0, n, 0, 0, 0, 1)),
  finished_at: new Date(Date.UTC(2026, 0, n, 0, 1, 2, 345)),
  rows: 9_007_199_254_740_993n + BigInt(n), // past 2^53: int64 must stay exact
  credits_used: n,
  source: 'listings/latest',
});

const TABLE_ROWS: Record<CryptoTableName, Row[]> = {
  platform: day0.platform,
  tag: day0.tag,
  cryptocurrency: day0.cryptocurrency,
  cryptocurrency_tag: day0.cryptocurrency_tag,
  quote: day0.quote,
  load: [loadRow(1)],
};

const schemaOf = (table: CryptoTableName) => CRYPTO_TABLES[table] as Schema<Fields>;
const pkOf = (table: CryptoTableName, row: Row) =>
  JSON.stringify(
    schemaOf(table).primaryKey.map((k) =>
      row[k] instanceof Date ? (row[k] as Date).toISOString() : String(row[k]),
    ),
  );
const keyOnly = (table: CryptoTableName, row: Row): Row =>
  Object.fromEntries(schemaOf(table).primaryKey.map((k) => [k, row[k]]));

/** Two CDC files: the second (a month later) changes rows the first inserted. */
const CDC_FILES: { at: Date; changes: Partial<Record<CryptoTableName, { op: Op; row: Row }[]>> }[] = (() => {
  const half = Math.floor(day1.quote.length / 2);
  const quoted: Row = { slug: 'dms-new', name: 'Old, "quoted"\nname', category: null };
  const changedQuote = { ...(day1.quote[0] as Row), price: '1.000000000000000001' };
  return [
    {
      at: new Date('2026-01-02T10:00:00.123Z'),
      changes: {
        quote: day1.quote.slice(0, half).map((row) => ({ op: 'I' as const, row })),
        cryptocurrency: day1.cryptocurrency.map((row) => ({ op: 'U' as const, row })),
        cryptocurrency_tag: day0.cryptocurrency_tag
          .slice(0, 3)
          .map((row) => ({ op: 'D' as const, row: keyOnly('cryptocurrency_tag', row) })),
        platform: [{ op: 'D', row: keyOnly('platform', day0.platform[0] as Row) }],
        tag: [{ op: 'I', row: quoted }],
        load: [{ op: 'I', row: loadRow(2) }],
      },
    },
    {
      at: new Date('2026-02-01T09:00:00.000Z'),
      changes: {
        quote: [
          ...day1.quote.slice(half).map((row) => ({ op: 'I' as const, row })),
          { op: 'U', row: changedQuote },
          { op: 'D', row: keyOnly('quote', day0.quote[1] as Row) },
        ],
        tag: [{ op: 'U', row: { ...quoted, name: 'New name', category: 'Category' } }],
        cryptocurrency: [{ op: 'D', row: keyOnly('cryptocurrency', day1.cryptocurrency[2] as Row) }],
      },
    },
  ];
})();

/** Each table's rows after the full load and both CDC files, by primary key. */
function expectedTables(): Record<CryptoTableName, Map<string, Row>> {
  const out = {} as Record<CryptoTableName, Map<string, Row>>;
  for (const table of TABLES) {
    const rows = new Map<string, Row>();
    for (const row of TABLE_ROWS[table]) rows.set(pkOf(table, row), row);
    for (const file of CDC_FILES) {
      for (const { op, row } of file.changes[table] ?? []) {
        if (op === 'D') rows.delete(pkOf(table, row));
        else rows.set(pkOf(table, row), row);
      }
    }
    out[table] = rows;
  }
  return out;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `yyyyMMdd-HHmmssSSS`: how DMS names a CDC file. */
function cdcName(at: Date): string {
  return `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}-${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}${pad(at.getUTCMilliseconds(), 3)}`;
}

/** DMS's date folder for a sequence and delimiter, written out by hand. */
function dateFolder(at: Date, layout: DmsFileLayout): string {
  const parts: Record<string, string> = {
    YYYY: String(at.getUTCFullYear()),
    MM: pad(at.getUTCMonth() + 1),
    DD: pad(at.getUTCDate()),
    HH: pad(at.getUTCHours()),
  };
  const order: Record<string, string[]> = {
    YYYYMMDD: ['YYYY', 'MM', 'DD'],
    YYYYMMDDHH: ['YYYY', 'MM', 'DD', 'HH'],
    YYYYMM: ['YYYY', 'MM'],
    MMYYYYDD: ['MM', 'YYYY', 'DD'],
    DDMMYYYY: ['DD', 'MM', 'YYYY'],
  };
  const delimiter = { SLASH: '/', UNDERSCORE: '_', DASH: '-', NONE: '' }[
    layout.datePartitionDelimiter ?? 'SLASH'
  ];
  return `${(order[layout.datePartitionSequence ?? 'YYYYMMDD'] as string[]).map((p) => parts[p]).join(delimiter)}/`;
}

const stamp = (at: Date) => at.toISOString().replace('T', ' ').replace('Z', '000');
const jsonValue = (value: unknown) =>
  value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? value.toString() : value;

/** Write the full load and both CDC files of every table as DMS would with `layout`. */
function writeDmsFiles(layout: DmsFileLayout, parquet: ParquetOptions = {}): LocalStorage {
  const root = mkdtempSync(join(tmpdir(), 'dms-layout-'));
  roots.push(root);
  const ext = layout.dataFormat === 'parquet' ? '.parquet' : '.csv';
  const tsColumn = layout.timestampColumnName;
  const files: unknown[] = [];
  const spec = (
    table: CryptoTableName,
    key: string,
    load: boolean,
    rows: { op: Op; row: Row }[],
    at: Date,
  ) => ({
    key: `${PREFIX}${SCHEMA}/${table}/${key}`,
    table,
    load,
    columns: schemaOf(table).columns.map((c) => [c.name, c.def.kind]),
    rows: rows.map(({ op, row }) => ({
      Op: op,
      ...(tsColumn ? { [tsColumn]: stamp(at) } : {}),
      ...Object.fromEntries(Object.entries(row).map(([k, v]) => [k, jsonValue(v)])),
    })),
  });
  const loadedAt = new Date('2026-01-01T00:05:00.000Z');
  for (const table of TABLES) {
    const rows = TABLE_ROWS[table].map((row) => ({ op: 'I' as const, row }));
    // Two LOAD files where there are rows enough, as past MaxFileSize.
    const cut = rows.length > 10 ? Math.ceil(rows.length / 2) : rows.length;
    files.push(spec(table, `LOAD00000001${ext}`, true, rows.slice(0, cut), loadedAt));
    if (cut < rows.length) files.push(spec(table, `LOAD00000002${ext}`, true, rows.slice(cut), loadedAt));
    for (const file of CDC_FILES) {
      const changes = file.changes[table];
      if (!changes) continue;
      const folder = layout.datePartitionEnabled ? dateFolder(file.at, layout) : '';
      files.push(spec(table, `${folder}${cdcName(file.at)}${ext}`, false, changes, file.at));
    }
  }
  const run = spawnSync(PYTHON, [WRITER], {
    input: JSON.stringify({ root, layout, parquet, files }),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`write_dms_files.py failed: ${run.stderr}`);
  return new LocalStorage({ root });
}

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** A table's replayed rows in primary-key order, with every column (null where absent). */
function sorted(table: CryptoTableName, rows: Iterable<Row>): Row[] {
  const columns = schemaOf(table).columns.map((c) => c.name);
  return [...rows]
    .map((row) => Object.fromEntries(columns.map((c) => [c, row[c] ?? null])))
    .sort((a, b) => (pkOf(table, a) < pkOf(table, b) ? -1 : 1));
}

const VARIANTS: { name: string; layout: DmsFileLayout; parquet?: ParquetOptions }[] = [
  { name: 'CSV with no endpoint settings (no header, no Op on LOAD rows, no date folders)', layout: {} },
  {
    name: 'CSV with header, Op on LOAD rows, timestamp column, YYYY/MM/DD folders',
    layout: {
      addColumnName: true,
      includeOpForFullLoad: true,
      timestampColumnName: 'dms_commit_ts',
      datePartitionEnabled: true,
    },
  },
  {
    name: 'CSV without header, with Op on LOAD rows and a timestamp column, YYYY-MM-DD-HH folders',
    layout: {
      dataFormat: 'csv',
      includeOpForFullLoad: true,
      timestampColumnName: 'dms_commit_ts',
      datePartitionEnabled: true,
      datePartitionSequence: 'YYYYMMDDHH',
      datePartitionDelimiter: 'DASH',
    },
  },
  {
    name: 'CSV without header, with a timestamp column but no Op on LOAD rows',
    layout: { timestampColumnName: 'ts' },
  },
  {
    name: 'CSV with header, DDMMYYYY folders whose order is not the files’ time order',
    layout: {
      addColumnName: true,
      datePartitionEnabled: true,
      datePartitionSequence: 'DDMMYYYY',
      datePartitionDelimiter: 'NONE',
    },
  },
  {
    name: 'Parquet 1.0, TIMESTAMP micros, timestamp column, no Op on LOAD rows',
    layout: { dataFormat: 'parquet', timestampColumnName: 'dms_commit_ts' },
    parquet: { version: '1.0', unit: 'us' },
  },
  {
    name: 'Parquet 2.6 (v2 pages, snappy), TIMESTAMP millis, Op on LOAD rows, MM_YYYY_DD folders',
    layout: {
      dataFormat: 'parquet',
      includeOpForFullLoad: true,
      datePartitionEnabled: true,
      datePartitionSequence: 'MMYYYYDD',
      datePartitionDelimiter: 'UNDERSCORE',
    },
    parquet: {
      version: '2.6',
      data_page_version: '2.0',
      unit: 'ms',
      compression: 'SNAPPY',
      row_group_size: 7,
    },
  },
  {
    name: 'Parquet with decimals as STRING (an unbounded NUMERIC in DMS), YYYYMM folders',
    layout: { dataFormat: 'parquet', datePartitionEnabled: true, datePartitionSequence: 'YYYYMM' },
    parquet: { text_decimals: true, compression: 'GZIP' },
  },
];

describe('replayExport with a DMS layout', () => {
  it.each(VARIANTS)(
    'replays every table exactly: $name',
    async ({ layout, parquet }) => {
      const storage = writeDmsFiles(layout, parquet);
      const expected = expectedTables();

      const replayed: Record<string, Row[]> = {};
      for (const table of TABLES) {
        replayed[table] = [
          ...(await replayExport(storage, table, { prefix: PREFIX, schema: SCHEMA, dms: layout })).values(),
        ];
      }

      for (const table of TABLES) {
        expect(sorted(table, replayed[table] as Row[]), table).toEqual(
          sorted(table, expected[table].values()),
        );
      }
      expect(replayed.tag?.find((t) => t.slug === 'dms-new')).toMatchObject({ name: 'New name' });
    },
    30_000,
  );

  it('fails a replay whose layout is not the files’ instead of misreading them', async () => {
    const storage = writeDmsFiles({});
    const options = { prefix: PREFIX, schema: SCHEMA };

    const asHeader = await replayExport(storage, 'quote', { ...options, dms: { addColumnName: true } }).catch(
      (err: unknown) => err,
    );
    const withOp = await replayExport(storage, 'quote', {
      ...options,
      dms: { includeOpForFullLoad: true },
    }).catch((err: unknown) => err);
    const asParquet = await replayExport(storage, 'quote', {
      ...options,
      dms: { dataFormat: 'parquet' },
    }).catch((err: unknown) => err);

    expect(asHeader).toMatchObject({ code: 'CSV_INVALID' });
    expect(withOp).toMatchObject({ code: 'CSV_INVALID' });
    expect(asParquet).toMatchObject({ code: 'CMC_EXPORT_UNREAD' });
  }, 30_000);

  it('refuses files in date folders of another sequence, and LOAD rows whose Op is not I', async () => {
    const dated = writeDmsFiles({ datePartitionEnabled: true, datePartitionSequence: 'YYYYMMDDHH' });
    const opLoad = writeDmsFiles({ includeOpForFullLoad: true });
    const key = `${PREFIX}${SCHEMA}/platform/LOAD00000001.csv`;
    const text = Buffer.from(await opLoad.getBytes(key)).toString('utf8');
    await opLoad.put(key, text.replace(/^I,/, 'D,'));

    const wrongFolders = await replayExport(dated, 'quote', {
      prefix: PREFIX,
      schema: SCHEMA,
      dms: { datePartitionEnabled: true },
    }).catch((err: unknown) => err);
    const noFolders = await replayExport(dated, 'quote', { prefix: PREFIX, schema: SCHEMA, dms: {} }).catch(
      (err: unknown) => err,
    );
    const deleteOnLoad = await replayExport(opLoad, 'platform', {
      prefix: PREFIX,
      schema: SCHEMA,
      dms: { includeOpForFullLoad: true },
    }).catch((err: unknown) => err);

    expect(wrongFolders).toMatchObject({ code: 'CMC_EXPORT_UNREAD' });
    expect(String((wrongFolders as Error).message)).toContain('2026/01/02/10/');
    expect(noFolders).toMatchObject({ code: 'CMC_EXPORT_UNREAD' });
    expect(deleteOnLoad).toMatchObject({ code: 'CMC_EXPORT_INVALID' });
    expect(String((deleteOnLoad as Error).message)).toContain('unknown Op D in a full-load file');
  }, 30_000);
});

describe('cryptoRawToProcessed with a DMS layout', () => {
  it.each([VARIANTS[2], VARIANTS[6]] as (typeof VARIANTS)[number][])(
    'builds the processed tables from a DMS task’s files: $name',
    async ({ layout, parquet }) => {
      const raw = writeDmsFiles(layout, parquet);
      const processed = new MemoryStorage();
      const expected = expectedTables();

      const result = await cryptoRawToProcessed({
        raw,
        processed,
        prefix: PREFIX,
        schema: SCHEMA,
        dms: layout,
      });
      const coins = await collect(
        readDataset({
          storage: processed,
          table: PROCESSED_CRYPTOCURRENCY_TABLE,
          schema: cryptocurrencySchema,
        }),
      );
      const quotes = await collect(
        readDataset({ storage: processed, table: PROCESSED_QUOTE_TABLE, schema: quoteSchema }),
      );

      expect(result.cryptocurrencies).toBe(expected.cryptocurrency.size);
      expect(result.quotes).toBe(expected.quote.size);
      expect(sorted('cryptocurrency', coins)).toEqual(
        sorted('cryptocurrency', expected.cryptocurrency.values()),
      );
      expect(sorted('quote', quotes)).toEqual(sorted('quote', expected.quote.values()));
      expect(result.partitions).toEqual(['dt=2026-01-01/', 'dt=2026-01-02/']);
    },
    30_000,
  );

  it('rejects a layout with a setting it does not know, before reading anything', async () => {
    const raw = new MemoryStorage();
    const processed = new MemoryStorage();

    const error = await cryptoRawToProcessed({
      raw,
      processed,
      dms: { addColumnNames: true } as DmsFileLayout,
    }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(OptionsError);
    expect(error).toMatchObject({
      code: 'CMC_TRANSFORM_OPTIONS_INVALID',
      option: 'dms',
      context: { option: 'dms' },
    });
    expect(String((error as Error).message)).toContain('layout.addColumnNames');
  });
});
