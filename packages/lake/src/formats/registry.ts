import { TributaryError } from '@tributary/core';
import { csvFormat } from './csv.js';
import { ndjsonFormat } from './ndjson.js';
import { parquetFormat } from './parquet.js';
import type { FileFormat, FormatName } from './types.js';

const FORMATS: Record<FormatName, FileFormat> = {
  parquet: parquetFormat,
  ndjson: ndjsonFormat,
  csv: csvFormat,
};

/** The format of a name, or a typed error for an unknown one. */
export function formatFor(name: FormatName): FileFormat {
  const format = FORMATS[name];
  if (!format) throw new TributaryError(`Unknown format ${JSON.stringify(name)}`, { code: 'FORMAT_UNKNOWN' });
  return format;
}

/** The format of a data file from its extension, or `undefined` for anything else. */
export function formatOfKey(key: string): FileFormat | undefined {
  if (key.endsWith('.parquet')) return parquetFormat;
  if (
    key.endsWith('.ndjson') ||
    key.endsWith('.ndjson.gz') ||
    key.endsWith('.json') ||
    key.endsWith('.json.gz')
  )
    return ndjsonFormat;
  if (key.endsWith('.csv')) return csvFormat;
  return undefined;
}
