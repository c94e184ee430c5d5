// What the DuckDB engine's views write into SQL: quoted names, file paths as literals, and the
// local folder of a location (DuckDB reads local files only).
import { fileURLToPath } from 'node:url';
import { quoteIdentifierFor, quoteLiteral } from '@tributary/core';
import { TableDefinitionError } from './errors.js';

/** A quoted DuckDB identifier: core's quoting, without PostgreSQL's 63-byte limit. */
export const duckDbIdentifier = quoteIdentifierFor('duckdb');

/**
 * A file path as a literal DuckDB's readers take as that one file: they expand `*`, `?` and
 * `[...]` in every path given, so each of those is put in a bracket class of its own.
 */
export function pathLiteral(path: string): string {
  return quoteLiteral(path.replace(/[[*?]/g, '[$&]'));
}

/** The local path of a `file://` location; anything else cannot be read without a download. */
export function localPath(location: string, table: string): string {
  if (!location.startsWith('file://')) {
    throw new TableDefinitionError(
      `DuckDbEngine reads local lakes only: table ${table} is at ${location}. Query s3:// tables with AthenaEngine.`,
      { code: 'TABLE_LOCATION_UNSUPPORTED', table },
    );
  }
  return fileURLToPath(location);
}
