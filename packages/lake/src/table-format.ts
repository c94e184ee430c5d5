import type { OptionChecks } from '@tributary/core';
import type { IcebergCatalog } from './iceberg/catalog.js';
import type { Storage } from './storage.js';

// The table format a caller of the lake chooses (hive or Iceberg, and the Iceberg catalog), checked
// once here for every package whose functions pass that choice on to writeDataset and readDataset.

/**
 * How a table's files and commits are laid out: `hive` folders committed by the lake's manifest,
 * or an Apache `iceberg` (v2) table.
 *
 * @example
 * ```ts
 * const tableFormat: LakeTableFormat = 'iceberg';
 * await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema, tableFormat });
 * ```
 */
export type LakeTableFormat = 'hive' | 'iceberg';

/**
 * The options of `writeDataset`, `readDataset` and `compact` that choose a table's format and,
 * for Iceberg, its catalog.
 *
 * @example
 * ```ts
 * const lakeFormat: TableFormatOptions = { tableFormat: 'iceberg', catalog: new StorageCatalog(lake.processed) };
 * await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema, ...lakeFormat });
 * ```
 */
export interface TableFormatOptions {
  tableFormat: LakeTableFormat;
  catalog?: IcebergCatalog;
}

const TABLE_FORMATS: readonly LakeTableFormat[] = ['hive', 'iceberg'];

/**
 * Checks a `tableFormat` option given to a function that writes or reads lake tables: `hive` when
 * absent. A wrong value throws the `OptionsError` of `check` (its owner and code) naming
 * `tableFormat`.
 *
 * @example
 * ```ts
 * declare const options: { tableFormat?: LakeTableFormat };
 * const check = optionChecks('copyTable', 'COPY_OPTIONS_INVALID');
 * const tableFormat = checkTableFormat(check, options.tableFormat); // 'hive' unless options say 'iceberg'
 * ```
 */
export function checkTableFormat(check: OptionChecks, value: unknown): LakeTableFormat {
  return value === undefined ? 'hive' : check.oneOf('tableFormat', value, TABLE_FORMATS);
}

/**
 * Checks an Iceberg catalog option (named `option`, e.g. `catalog` or `processedCatalog`): absent,
 * or an `IcebergCatalog` given with `tableFormat` `iceberg`; with `storage`, a catalog of that
 * storage (the table's zone), which the lake would otherwise refuse only when it first reads or
 * writes. A wrong value throws the `OptionsError` of `check` naming `option`.
 *
 * @example
 * ```ts
 * declare const options: { tableFormat?: LakeTableFormat; catalog?: IcebergCatalog };
 * const check = optionChecks('copyTable', 'COPY_OPTIONS_INVALID');
 * const tableFormat = checkTableFormat(check, options.tableFormat);
 * const catalog = checkIcebergCatalog(check, 'catalog', options.catalog, { tableFormat, storage: lake.processed });
 * const lakeFormat = tableFormatOptions({ tableFormat, catalog });
 * await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema, ...lakeFormat });
 * ```
 */
export function checkIcebergCatalog(
  check: OptionChecks,
  option: string,
  value: unknown,
  table: { readonly tableFormat: LakeTableFormat; readonly storage?: Storage },
): IcebergCatalog | undefined {
  if (value === undefined) return undefined;
  if (!isIcebergCatalog(value)) {
    throw check.invalid(option, value, 'an Iceberg catalog (StorageCatalog, GlueIcebergCatalog)');
  }
  if (table.tableFormat !== 'iceberg') {
    throw check.invalid(option, value, "absent unless tableFormat is 'iceberg'");
  }
  const { storage } = table;
  if (storage !== undefined && value.storage !== storage && value.storage.url !== storage.url) {
    throw check.invalid(option, value, `a catalog of ${storage.url}, not of ${value.storage.url}`);
  }
  return value;
}

function isIcebergCatalog(value: unknown): value is IcebergCatalog {
  const catalog = value as Partial<IcebergCatalog> | null;
  return (
    typeof catalog === 'object' &&
    catalog !== null &&
    typeof catalog.load === 'function' &&
    typeof catalog.commit === 'function' &&
    typeof catalog.storage?.url === 'string'
  );
}

/**
 * The lake options of a checked choice, to spread into `writeDataset`, `readDataset` or
 * `compact`: the catalog only when there is one.
 *
 * @example
 * ```ts
 * const lakeFormat = tableFormatOptions({ tableFormat: 'iceberg', catalog: undefined }); // { tableFormat: 'iceberg' }
 * for await (const r of readDataset({ storage: lake.processed, table: 'sensors', schema: readingSchema, ...lakeFormat })) {
 *   console.log(r.id);
 * }
 * ```
 */
export function tableFormatOptions(choice: {
  readonly tableFormat: LakeTableFormat;
  readonly catalog: IcebergCatalog | undefined;
}): TableFormatOptions {
  return choice.catalog === undefined
    ? { tableFormat: choice.tableFormat }
    : { tableFormat: choice.tableFormat, catalog: choice.catalog };
}
