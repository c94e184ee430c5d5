import { describeValue, TributaryError } from '@tributary/core';

/** `DatePartitionSequence` of a DMS S3 target: the order of the date parts of a date folder. */
export type DmsDatePartitionSequence = 'YYYYMMDD' | 'YYYYMMDDHH' | 'YYYYMM' | 'MMYYYYDD' | 'DDMMYYYY';

/** `DatePartitionDelimiter` of a DMS S3 target: what separates the date parts of a date folder. */
export type DmsDatePartitionDelimiter = 'SLASH' | 'UNDERSCORE' | 'DASH' | 'NONE';

/**
 * How an AWS DMS S3 target endpoint lays out the files of each table: the endpoint settings that
 * change what a reader sees, under their `S3Settings` names. An omitted field takes DMS's own
 * default, so `{}` describes an endpoint created without any of these settings (headerless CSV,
 * no `Op` on full-load rows, no timestamp column, no date folders). Pass the same object to
 * `createDmsS3TargetEndpointInput` (`@tributary/coinmarketcap/dms`) and to the readers
 * (`cryptoRawToProcessed`, `replayExport`), so the endpoint and the transforms cannot disagree.
 *
 * @example
 * ```ts
 * const layout: DmsFileLayout = {
 *   dataFormat: 'parquet',
 *   includeOpForFullLoad: true,
 *   timestampColumnName: 'dms_commit_ts',
 *   datePartitionEnabled: true,
 *   datePartitionSequence: 'YYYYMMDDHH',
 * };
 * await cryptoRawToProcessed({ raw: lake.raw, processed: lake.processed, dms: layout });
 * ```
 */
export interface DmsFileLayout {
  /** `DataFormat`. Default `csv`. */
  dataFormat?: 'csv' | 'parquet';
  /** `AddColumnName`: CSV files start with a row of column names. Default false. */
  addColumnName?: boolean;
  /** `IncludeOpForFullLoad`: full-load rows carry `Op` = `I` as their first column. Default false. */
  includeOpForFullLoad?: boolean;
  /**
   * `TimestampColumnName`: a column DMS adds after `Op` and before the table's columns (the
   * transfer time on full-load rows, the commit time on CDC rows). Default: none.
   */
  timestampColumnName?: string;
  /** `DatePartitionEnabled`: CDC files land in date folders under the table folder. Default false. */
  datePartitionEnabled?: boolean;
  /** `DatePartitionSequence`. Default `YYYYMMDD`. */
  datePartitionSequence?: DmsDatePartitionSequence;
  /** `DatePartitionDelimiter`. Default `SLASH`. */
  datePartitionDelimiter?: DmsDatePartitionDelimiter;
}

/** A {@link DmsFileLayout} with every default applied, checked. */
export interface ResolvedDmsLayout {
  readonly dataFormat: 'csv' | 'parquet';
  readonly addColumnName: boolean;
  readonly includeOpForFullLoad: boolean;
  readonly timestampColumnName: string | undefined;
  readonly datePartitionEnabled: boolean;
  readonly datePartitionSequence: DmsDatePartitionSequence;
  readonly datePartitionDelimiter: DmsDatePartitionDelimiter;
}

/** The date-folder sequences DMS offers, with the digits of each part. */
const SEQUENCES: Record<DmsDatePartitionSequence, readonly number[]> = {
  YYYYMMDD: [4, 2, 2],
  YYYYMMDDHH: [4, 2, 2, 2],
  YYYYMM: [4, 2],
  MMYYYYDD: [2, 4, 2],
  DDMMYYYY: [2, 2, 4],
};
const DELIMITERS: Record<DmsDatePartitionDelimiter, string> = {
  SLASH: '/',
  UNDERSCORE: '_',
  DASH: '-',
  NONE: '',
};
/** A name Athena, Glue and Spark take without quoting, and that CSV needs no quotes for. */
export const DMS_COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * The layout of the files `exportTables` writes: a header row, `Op` and `commit_ts` in CDC
 * files only, CDC files also read from `YYYY/MM/DD/` folders. Read by header (CSV) or by name
 * (Parquet), so whether `Op` and `commit_ts` are there or not is seen per file.
 */
export function exportTablesLayout(format: 'csv' | 'parquet'): ResolvedDmsLayout {
  return Object.freeze({
    dataFormat: format,
    addColumnName: true,
    includeOpForFullLoad: false,
    timestampColumnName: 'commit_ts',
    datePartitionEnabled: true,
    datePartitionSequence: 'YYYYMMDD',
    datePartitionDelimiter: 'SLASH',
  });
}

function oneOf<T extends string>(
  where: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw layoutError(where, name, `one of ${allowed.join(', ')}`, value);
}

function flag(where: string, name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  throw layoutError(where, name, 'a boolean', value);
}

function layoutError(where: string, name: string, expected: string, value: unknown): TributaryError {
  return new TributaryError(`${where}: layout.${name} must be ${expected}, got ${describeValue(value)}`, {
    code: 'CMC_DMS_LAYOUT_INVALID',
    context: { option: `layout.${name}` },
  });
}

/**
 * Check a {@link DmsFileLayout} (it may come from JSON) and apply DMS's defaults. `where` names
 * the caller in the error message. Errors have code `CMC_DMS_LAYOUT_INVALID`.
 */
export function resolveDmsLayout(layout: DmsFileLayout, where: string): ResolvedDmsLayout {
  if (typeof layout !== 'object' || layout === null) {
    throw layoutError(where, '', 'an object', layout);
  }
  const known = new Set([
    'dataFormat',
    'addColumnName',
    'includeOpForFullLoad',
    'timestampColumnName',
    'datePartitionEnabled',
    'datePartitionSequence',
    'datePartitionDelimiter',
  ]);
  for (const key of Object.keys(layout)) {
    // A misspelt setting would silently describe another layout than the endpoint's.
    if (!known.has(key))
      throw layoutError(where, key, `one of ${[...known].join(', ')}`, 'an unknown setting');
  }
  const timestampColumnName = layout.timestampColumnName;
  if (
    timestampColumnName !== undefined &&
    (typeof timestampColumnName !== 'string' ||
      !DMS_COLUMN_NAME.test(timestampColumnName) ||
      timestampColumnName.toLowerCase() === 'op')
  ) {
    throw layoutError(
      where,
      'timestampColumnName',
      'a column name of letters, digits and "_" (not Op), at most 128 characters',
      timestampColumnName,
    );
  }
  return Object.freeze({
    dataFormat: oneOf(where, 'dataFormat', layout.dataFormat, ['csv', 'parquet'], 'csv'),
    addColumnName: flag(where, 'addColumnName', layout.addColumnName),
    includeOpForFullLoad: flag(where, 'includeOpForFullLoad', layout.includeOpForFullLoad),
    timestampColumnName,
    datePartitionEnabled: flag(where, 'datePartitionEnabled', layout.datePartitionEnabled),
    datePartitionSequence: oneOf(
      where,
      'datePartitionSequence',
      layout.datePartitionSequence,
      Object.keys(SEQUENCES) as DmsDatePartitionSequence[],
      'YYYYMMDD',
    ),
    datePartitionDelimiter: oneOf(
      where,
      'datePartitionDelimiter',
      layout.datePartitionDelimiter,
      Object.keys(DELIMITERS) as DmsDatePartitionDelimiter[],
      'SLASH',
    ),
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * What a file's path below the table folder may look like: the file itself, or, with date
 * partitioning, the date folder of the layout's sequence and delimiter and then the file
 * (`2026/11/23/`, `2026-11-23-10/`, `11_2026_23/`, `20261123/`).
 */
export function datedPathPattern(layout: ResolvedDmsLayout): RegExp | undefined {
  if (!layout.datePartitionEnabled) return undefined;
  const parts = SEQUENCES[layout.datePartitionSequence].map((digits) => `\\d{${digits}}`);
  return new RegExp(`^${parts.join(escapeRegExp(DELIMITERS[layout.datePartitionDelimiter]))}/[^/]+$`);
}
