import { type ErrorContext, TributaryError } from '@tributary/core';
import type { ColumnChange } from './table.js';

/**
 * The catalog could not do what was asked: an invalid name or option (`CATALOG_INVALID`), a
 * table with no data files (`CATALOG_EMPTY_TABLE`), files in different formats
 * (`CATALOG_MIXED_FORMATS`) or folder layouts (`CATALOG_LAYOUT_INCONSISTENT`), a sampled line
 * that is not a JSON object (`CATALOG_MALFORMED_RECORD`), a missing database or table
 * (`CATALOG_DATABASE_NOT_FOUND`, `CATALOG_TABLE_NOT_FOUND`), or a failed call to the catalog
 * service (`CATALOG_FAILED`, with the SDK's error as `cause`).
 *
 * @example
 * ```ts
 * try {
 *   await crawl(lake.raw, 'sensors');
 * } catch (err) {
 *   if (err instanceof CatalogError && err.code === 'CATALOG_EMPTY_TABLE') console.log('nothing to crawl yet');
 *   else throw err;
 * }
 * ```
 */
export class CatalogError extends TributaryError {
  override name = 'CatalogError';

  constructor(
    message: string,
    options: { code?: string; cause?: unknown; retryable?: boolean; context?: ErrorContext } = {},
  ) {
    super(message, { code: 'CATALOG_FAILED', ...options });
  }
}

/**
 * A new definition of a table is not compatible with the one in the catalog: a column's type
 * changed in a way old files cannot be read with (`bigint` → `string`, `double` → `bigint`), the
 * partition keys or the format changed. Widening (`int` → `bigint` → `double`, a wider decimal)
 * and added columns are not errors. `changes` lists every incompatible change found.
 *
 * @example
 * ```ts
 * const catalog = new LocalCatalog({ storage: lake.raw, database: 'tributary' });
 * try {
 *   await catalog.putTable(await crawl(lake.raw, 'sensors'));
 * } catch (err) {
 *   if (!(err instanceof SchemaChangeError)) throw err;
 *   for (const c of err.changes) console.log(`${c.column}: ${c.from} -> ${c.to}`);
 * }
 * ```
 */
export class SchemaChangeError extends TributaryError {
  override name = 'SchemaChangeError';

  readonly changes: readonly ColumnChange[];

  constructor(table: string, changes: readonly ColumnChange[], context: ErrorContext = {}) {
    const head = changes
      .slice(0, 3)
      .map((c) => `${c.column}: ${c.from} -> ${c.to}`)
      .join('; ');
    const more = changes.length > 3 ? `; and ${changes.length - 3} more` : '';
    super(`Incompatible schema change for table ${table}: ${head}${more}`, {
      code: 'SCHEMA_INCOMPATIBLE',
      context: { ...context, table },
    });
    this.changes = Object.freeze(changes.map((c) => Object.freeze({ ...c })));
  }
}
