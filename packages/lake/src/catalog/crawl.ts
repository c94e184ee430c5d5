import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { hiveType, mapLimit } from '@tributary/core';
import { type DatasetFile, listDatasetFiles } from '../dataset.js';
import { parseCsv } from '../formats/csv.js';
import { type ParquetColumnInfo, parquetRowCount, readParquetSchema } from '../formats/parquet.js';
import { formatOfKey } from '../formats/registry.js';
import { unescapePartitionValue } from '../partitions.js';
import type { Storage } from '../storage.js';
import { CatalogError } from './errors.js';
import {
  type ColumnSample,
  columnsFromSamples,
  type FileSample,
  type InferredType,
  mergeCsv,
  mergeInferred,
  typeOfCsvCell,
  typeOfJson,
} from './infer.js';
import {
  type ColumnConflict,
  catalogName,
  type TableColumn,
  type TableDefinition,
  type TableFormat,
  type TablePartition,
} from './table.js';

/** Options of {@link crawl}. */
export interface CrawlOptions {
  /** The table's name in the catalog. Default: the last folder of the table's path, lowercased, other characters than letters, digits and `_` replaced by `_`. */
  name?: string;
  database?: string;
  /**
   * The URL to record as the table's location instead of `${storage.url}/${table}/`: e.g. crawl
   * a local copy and register its S3 location. Partition locations follow it.
   */
  location?: string;
  /**
   * Names of the partition keys of a layout that is not hive `k=v` (one per folder level), e.g.
   * `['dt', 'hour']`. Firehose's `YYYY/MM/DD/HH` folders default to `year, month, day, hour`
   * (Glue's crawler says `partition_0..3`); other folder layouts to `partition_0..n`. A single
   * name for several levels makes one key whose value is the joined path (`['datehour']` →
   * `2026/11/23/10`, the key Athena's Firehose projection example uses).
   */
  partitionNames?: readonly string[];
  /** NDJSON and CSV: records read from each sampled file. Default 1,000. */
  sampleRecords?: number;
  /** NDJSON and CSV: files sampled, spread evenly over the table (first and last included). Default 10. */
  sampleFiles?: number;
  /** Parquet: footers read at once. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
}

const FIREHOSE_SEGMENTS = [/^\d{4}$/, /^(0[1-9]|1[0-2])$/, /^(0[1-9]|[12]\d|3[01])$/, /^([01]\d|2[0-3])$/];
const FIREHOSE_NAMES = ['year', 'month', 'day', 'hour'];
const KEY_NAME = /^[A-Za-z0-9_]{1,255}$/;

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new CatalogError(`CrawlOptions.${name} must be a positive integer (got ${String(value)})`, {
      code: 'CATALOG_INVALID',
    });
  }
  return v;
}

function invalid(message: string, context: Record<string, unknown> = {}): CatalogError {
  return new CatalogError(message, { code: 'CATALOG_INVALID', context });
}

/** Evenly spread indexes over `count` items, at most `max` of them, first and last included. */
function spread(count: number, max: number): number[] {
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  if (max === 1) return [0];
  const picked = new Set<number>();
  for (let i = 0; i < max; i++) picked.add(Math.round((i * (count - 1)) / (max - 1)));
  return [...picked].sort((a, b) => a - b);
}

interface Layout {
  keys: string[];
  /** Per file key: partition values and the folder (relative to the table, ending in `/`, or ''). */
  partitionOf: (file: DatasetFile) => { values: string[]; folder: string };
}

function folderSegments(prefix: string, key: string): string[] {
  return key.slice(prefix.length).split('/').slice(0, -1);
}

function detectLayout(
  prefix: string,
  files: readonly DatasetFile[],
  partitionNames: readonly string[] | undefined,
): Layout {
  const first = files[0] as DatasetFile;
  const firstDirs = folderSegments(prefix, first.key);
  const depth = firstDirs.length;
  const isHive = (seg: string) => seg.indexOf('=') > 0;
  const hive = firstDirs.length > 0 && firstDirs.every(isHive);
  const hiveNames = hive ? firstDirs.map((s) => s.slice(0, s.indexOf('='))) : [];
  let firehose = depth === 4;
  for (const file of files) {
    const dirs = folderSegments(prefix, file.key);
    const same =
      dirs.length === depth &&
      (hive
        ? dirs.every((s, i) => isHive(s) && s.slice(0, s.indexOf('=')) === hiveNames[i])
        : !dirs.some(isHive));
    if (!same) {
      throw new CatalogError(
        `Files of ${prefix} are not laid out alike: ${first.key} and ${file.key} have different partition folders`,
        { code: 'CATALOG_LAYOUT_INCONSISTENT', context: { key: file.key } },
      );
    }
    if (firehose && !dirs.every((s, i) => FIREHOSE_SEGMENTS[i]?.test(s))) firehose = false;
  }
  if (depth === 0) {
    if (partitionNames && partitionNames.length > 0)
      throw invalid(`partitionNames given, but ${prefix} has no partition folders`);
    return { keys: [], partitionOf: () => ({ values: [], folder: '' }) };
  }
  if (hive) {
    if (partitionNames && partitionNames.join('/').toLowerCase() !== hiveNames.join('/').toLowerCase()) {
      throw invalid(
        `partitionNames ${partitionNames.join(', ')} differ from the hive keys of ${prefix} (${hiveNames.join(', ')})`,
      );
    }
    for (const name of hiveNames)
      if (!KEY_NAME.test(name))
        throw invalid(`Partition key ${JSON.stringify(name)} of ${prefix} is not a valid column name`);
    return {
      keys: hiveNames,
      partitionOf: (file) => {
        const dirs = folderSegments(prefix, file.key);
        // Hive's default partition stays as its marker text: Glue stores partition values as text.
        return {
          values: dirs.map((s) => unescapePartitionValue(s.slice(s.indexOf('=') + 1))),
          folder: `${dirs.join('/')}/`,
        };
      },
    };
  }
  const names =
    partitionNames ?? (firehose ? FIREHOSE_NAMES : Array.from({ length: depth }, (_, i) => `partition_${i}`));
  if (names.length !== depth && names.length !== 1) {
    throw invalid(
      `partitionNames has ${names.length} names; the folders of ${prefix} have ${depth} levels (give ${depth} names, or 1 for the joined path)`,
    );
  }
  const joined = names.length === 1 && depth > 1;
  return {
    keys: [...names],
    partitionOf: (file) => {
      const dirs = folderSegments(prefix, file.key);
      return { values: joined ? [dirs.join('/')] : dirs, folder: `${dirs.join('/')}/` };
    },
  };
}

type ParquetType = { column: TableColumn } | { unsupported: string };

function parquetColumnType(info: ParquetColumnInfo): ParquetType {
  const { name, nullable } = info;
  if (info.kind === 'unsupported') {
    if (/^(BYTE_ARRAY|FIXED_LEN_BYTE_ARRAY\(\d+\))$/.test(info.parquetType)) {
      return { column: { name, type: 'binary', kind: 'binary', nullable } };
    }
    return { unsupported: info.parquetType };
  }
  if (info.kind === 'list') {
    const element = info.element;
    if (!element || element.kind === 'unsupported') return { unsupported: info.parquetType };
    const elementDef = {
      kind: element.kind,
      presence: 'required' as const,
      precision: element.precision,
      scale: element.scale,
    };
    const column: TableColumn = {
      name,
      type: hiveType({ kind: 'list', presence: 'nullable', element: elementDef }),
      kind: 'list',
      nullable,
      element: { kind: element.kind },
    };
    if (element.precision !== undefined)
      column.element = { kind: element.kind, precision: element.precision, scale: element.scale ?? 0 };
    return { column };
  }
  const column: TableColumn = {
    name,
    type: hiveType({ kind: info.kind, presence: 'nullable', precision: info.precision, scale: info.scale }),
    kind: info.kind,
    nullable,
  };
  if (info.precision !== undefined) column.precision = info.precision;
  if (info.scale !== undefined) column.scale = info.scale;
  return { column };
}

async function parquetColumns(
  storage: Storage,
  files: readonly DatasetFile[],
  concurrency: number,
  signal: AbortSignal | undefined,
): Promise<{ columns: TableColumn[]; conflicts: ColumnConflict[] }> {
  const schemas = await mapLimit(files, concurrency, async (file) => {
    signal?.throwIfAborted();
    return readParquetSchema(storage, file.key);
  });
  const order: string[] = [];
  const seen = new Map<string, { file: string; type: ParquetType }[]>();
  schemas.forEach((columns, i) => {
    const file = (files[i] as DatasetFile).key;
    for (const info of columns) {
      let list = seen.get(info.name);
      if (!list) {
        list = [];
        seen.set(info.name, list);
        order.push(info.name);
      }
      list.push({ file, type: parquetColumnType(info) });
    }
  });
  const columns: TableColumn[] = [];
  const conflicts: ColumnConflict[] = [];
  for (const name of order) {
    const list = seen.get(name) ?? [];
    const types: string[] = [];
    for (const { type } of list) {
      const text = 'column' in type ? type.column.type : `unsupported ${type.unsupported}`;
      if (!types.includes(text)) types.push(text);
    }
    const firstType = list[0]?.type;
    if (types.length > 1 || !firstType || !('column' in firstType)) {
      conflicts.push({ column: name, types, files: list.map((x) => x.file) });
      continue;
    }
    const nullable =
      list.length < files.length || list.some((x) => 'column' in x.type && x.type.column.nullable);
    columns.push({ ...firstType.column, nullable });
  }
  return { columns, conflicts };
}

function recordColumn(
  sample: FileSample,
  order: string[],
  seenNames: Set<string>,
  name: string,
): ColumnSample {
  let column = sample.columns.get(name);
  if (!column) {
    column = { type: { t: 'null' }, nulls: 0 };
    sample.columns.set(name, column);
    if (!seenNames.has(name)) {
      seenNames.add(name);
      order.push(name);
    }
  }
  return column;
}

function finishSample(sample: FileSample, present: Map<string, number>): FileSample {
  for (const [name, column] of sample.columns) column.nulls = sample.records - (present.get(name) ?? 0);
  return sample;
}

async function sampleNdjson(
  storage: Storage,
  key: string,
  limit: number,
  order: string[],
  seenNames: Set<string>,
  signal: AbortSignal | undefined,
): Promise<FileSample> {
  const body = await storage.get(key, { signal });
  let source: Readable = body;
  if (key.endsWith('.gz')) {
    const gunzip = createGunzip();
    // pipe() does not forward errors: a failed download must fail the crawl.
    body.on('error', (err) => gunzip.destroy(err));
    source = body.pipe(gunzip);
  }
  const sample: FileSample = { file: key, records: 0, columns: new Map() };
  const present = new Map<string, number>();
  const lines = createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (err) {
        throw new CatalogError(`${key} line ${lineNumber} is not JSON`, {
          code: 'CATALOG_MALFORMED_RECORD',
          cause: err,
          context: { key, line: lineNumber },
        });
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw new CatalogError(`${key} line ${lineNumber} is not a JSON object`, {
          code: 'CATALOG_MALFORMED_RECORD',
          context: { key, line: lineNumber },
        });
      }
      sample.records++;
      for (const [name, value] of Object.entries(record)) {
        const column = recordColumn(sample, order, seenNames, name);
        column.type = mergeInferred(column.type, typeOfJson(value));
        if (value !== null) present.set(name, (present.get(name) ?? 0) + 1);
      }
      if (sample.records >= limit) break;
    }
  } finally {
    lines.close();
    source.destroy();
    body.destroy();
  }
  return finishSample(sample, present);
}

async function sampleCsv(
  storage: Storage,
  key: string,
  limit: number,
  order: string[],
  seenNames: Set<string>,
  signal: AbortSignal | undefined,
): Promise<FileSample> {
  const body = await storage.get(key, { signal });
  const sample: FileSample = { file: key, records: 0, columns: new Map() };
  const present = new Map<string, number>();
  let names: string[] | undefined;
  try {
    for await (const { cells, line } of parseCsv(body)) {
      if (!names) {
        names = cells.map((c) => c.text);
        if (names.some((n) => n === '') || new Set(names).size !== names.length) {
          throw new CatalogError(`${key}: the header row has empty or repeated column names`, {
            code: 'CATALOG_MALFORMED_RECORD',
            context: { key, line },
          });
        }
        for (const name of names) recordColumn(sample, order, seenNames, name);
        continue;
      }
      if (cells.length === 1 && cells[0]?.text === '' && !cells[0].quoted) continue;
      if (cells.length !== names.length) {
        throw new CatalogError(
          `${key} line ${line}: ${cells.length} fields, the header has ${names.length}`,
          { code: 'CATALOG_MALFORMED_RECORD', context: { key, line } },
        );
      }
      sample.records++;
      cells.forEach((cell, i) => {
        const name = names?.[i] as string;
        const column = recordColumn(sample, order, seenNames, name);
        const type: InferredType = typeOfCsvCell(cell.text, cell.quoted);
        column.type = mergeCsv(column.type, type);
        if (type.t !== 'null') present.set(name, (present.get(name) ?? 0) + 1);
      });
      if (sample.records >= limit) break;
    }
  } finally {
    body.destroy();
  }
  return finishSample(sample, present);
}

function defaultName(prefix: string): string {
  const last = prefix.replace(/\/$/, '').split('/').pop() ?? '';
  return last.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/**
 * Crawl a table of the lake, as Glue's crawler does, into a {@link TableDefinition}: its
 * committed data files (from the dataset's manifest, else every data file under the table,
 * skipping `_` and `.` paths), its partitions — hive `k=v` folders, or Firehose's
 * `YYYY/MM/DD/HH` folders as keys `year, month, day, hour` (every key typed `string`, as Glue's
 * crawler does) — and its columns:
 *
 * - Parquet: every file's footer; a column with different types in different files is a conflict.
 * - NDJSON (plain or `.gz`): the first `sampleRecords` records of up to `sampleFiles` files. JSON
 *   numbers are `bigint` or, once any is fractional, `double`; strings are `date` when every value
 *   is `YYYY-MM-DD`, else `string` (ISO-8601 date-times too: Athena's JSON SerDes do not read
 *   them as timestamps, see `InferredType`); arrays
 *   `array<T>`; objects `struct<...>` (as Glue's crawler makes them); a column that only held
 *   null is a nullable `string`. Values of different JSON types (a string here, a number there)
 *   are a conflict naming the files, never a guess.
 * - CSV: the header row names the columns; a column is `bigint`, `double` or `boolean` when every
 *   sampled value parses as one, else `string`.
 *
 * Conflicting columns are left out of `columns` and listed in `conflicts`.
 *
 * @example
 * ```ts
 * const table = await crawl(lake.raw, 'sensors', { database: 'tributary' });
 * console.log(table.partitionKeys.map((k) => k.name)); // ['year', 'month', 'day', 'hour']
 * if (table.conflicts.length > 0) console.warn(table.conflicts);
 * ```
 */
export async function crawl(
  storage: Storage,
  table: string,
  options: CrawlOptions = {},
): Promise<TableDefinition> {
  const sampleRecords = positiveInteger(options.sampleRecords, 1_000, 'sampleRecords');
  const sampleFiles = positiveInteger(options.sampleFiles, 10, 'sampleFiles');
  const concurrency = positiveInteger(options.concurrency, 4, 'concurrency');
  const { signal } = options;
  if (options.partitionNames !== undefined) {
    if (
      !Array.isArray(options.partitionNames) ||
      options.partitionNames.some((n) => typeof n !== 'string' || !KEY_NAME.test(n))
    ) {
      throw invalid('CrawlOptions.partitionNames must be names of letters, digits and "_"');
    }
    if (new Set(options.partitionNames.map((n) => n.toLowerCase())).size !== options.partitionNames.length) {
      throw invalid('CrawlOptions.partitionNames must be distinct');
    }
  }
  if (options.location !== undefined && !/^[a-z][a-z0-9+.-]*:\/\/./i.test(options.location)) {
    throw invalid(
      `CrawlOptions.location must be a URL such as s3://bucket/table/ (got ${JSON.stringify(options.location)})`,
    );
  }
  const prefix = `${table.replace(/^\/+|\/+$/g, '')}/`;
  const name = catalogName(options.name ?? defaultName(prefix), 'table');
  const database = options.database === undefined ? undefined : catalogName(options.database, 'database');
  const base = options.location ?? `${storage.url.replace(/\/+$/, '')}/${prefix}`;
  const location = base.endsWith('/') ? base : `${base}/`;

  const files = await listDatasetFiles(storage, table);
  signal?.throwIfAborted();
  if (files.length === 0) {
    throw new CatalogError(`No data files under ${prefix} in ${storage.url}`, {
      code: 'CATALOG_EMPTY_TABLE',
      context: { table },
    });
  }
  const formats = new Set(files.map((f) => formatOfKey(f.key)?.name));
  if (formats.size > 1 || formats.has(undefined)) {
    throw new CatalogError(`${prefix} holds files of several formats (${[...formats].join(', ')})`, {
      code: 'CATALOG_MIXED_FORMATS',
      context: { table },
    });
  }
  const format = [...formats][0] as TableFormat;

  const layout = detectLayout(prefix, files, options.partitionNames);
  const partitions = new Map<string, TablePartition>();
  for (const file of layout.keys.length > 0 ? files : []) {
    const { values, folder } = layout.partitionOf(file);
    if (!partitions.has(folder)) partitions.set(folder, { values, location: `${location}${folder}` });
  }

  let inferred: { columns: TableColumn[]; conflicts: ColumnConflict[] };
  if (format === 'parquet') {
    inferred = await parquetColumns(storage, files, concurrency, signal);
  } else {
    const order: string[] = [];
    const seenNames = new Set<string>();
    const samples: FileSample[] = [];
    for (const index of spread(files.length, sampleFiles)) {
      signal?.throwIfAborted();
      const key = (files[index] as DatasetFile).key;
      samples.push(
        format === 'csv'
          ? await sampleCsv(storage, key, sampleRecords, order, seenNames, signal)
          : await sampleNdjson(storage, key, sampleRecords, order, seenNames, signal),
      );
    }
    inferred = columnsFromSamples(order, samples, format === 'csv' ? mergeCsv : mergeInferred);
  }

  const keyNames = new Set(layout.keys.map((k) => k.toLowerCase()));
  const clash = [...inferred.columns.map((c) => c.name), ...inferred.conflicts.map((c) => c.column)].find(
    (c) => keyNames.has(c.toLowerCase()),
  );
  if (clash !== undefined) {
    throw new CatalogError(
      `A column of ${prefix} has the name of a partition key (${clash}); pass other partitionNames`,
      {
        code: 'CATALOG_LAYOUT_INCONSISTENT',
        context: { table },
      },
    );
  }

  let rows: number | undefined;
  if (files.every((f) => f.rows >= 0)) rows = files.reduce((n, f) => n + f.rows, 0);
  else if (format === 'parquet') {
    const counts = await mapLimit(files, concurrency, (f) =>
      f.rows >= 0 ? Promise.resolve(f.rows) : parquetRowCount(storage, f.key),
    );
    rows = counts.reduce((n, c) => n + c, 0);
  }

  const definition: TableDefinition = {
    name,
    location,
    format,
    columns: inferred.columns,
    partitionKeys: layout.keys.map((k) => ({ name: k, type: 'string' })),
    partitions: [...partitions.values()].sort((a, b) =>
      a.location < b.location ? -1 : a.location > b.location ? 1 : 0,
    ),
    conflicts: inferred.conflicts,
    files: files.length,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    updatedAt: new Date().toISOString(),
  };
  if (database !== undefined) definition.database = database;
  if (format !== 'parquet') {
    const gz = files.filter((f) => f.key.endsWith('.gz')).length;
    definition.compression = gz === 0 ? 'none' : gz === files.length ? 'gzip' : 'mixed';
  }
  if (rows !== undefined) definition.rows = rows;
  return definition;
}
