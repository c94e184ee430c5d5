import type {
  PgClient as CorePgClient,
  PgPool as CorePgPool,
  EventListener,
  Fields,
  PgQueryResult,
  Schema,
  TableName,
} from '@tributary/core';
import type {
  IcebergCatalog,
  LakeTableFormat,
  PartitionSpec,
  Storage,
  TableDefinition,
} from '@tributary/lake';

// ---------------------------------------------------------------------------------------------
// Query engines
// ---------------------------------------------------------------------------------------------

/**
 * A value bound to a `?` placeholder. Bound by the engine (DuckDB prepared statements, Athena
 * `ExecutionParameters`), never spliced into the SQL text.
 */
export type QueryParam = string | number | bigint | boolean | Date | null;

/**
 * One result row, keyed by column name. Values take the JS shape core's schemas use, whichever
 * engine ran the query: `varchar` → string, `integer`/`smallint`/`tinyint` → number,
 * `bigint` → bigint, `double`/`real` → number, `decimal` → exact decimal text, `boolean` →
 * boolean, `timestamp` → Date (UTC), `date` → `YYYY-MM-DD`, arrays → arrays, SQL NULL → null.
 */
export type Row = Record<string, unknown>;

/** A result column: its name and its type as the engine spells it (`varchar`, `decimal(38,18)`). */
export interface QueryColumn {
  name: string;
  type: string;
}

/** What a finished query cost. */
export interface QueryStats {
  engine: EngineName;
  /** Athena's QueryExecutionId; DuckDB has none. */
  queryId?: string;
  /** Rows returned to the caller. */
  rows: number;
  /** Athena: DataScannedInBytes. DuckDB: not reported. */
  bytesScanned?: number;
  /** Wall time from submission to the last row, in milliseconds. */
  elapsedMs: number;
  /** Athena: the engine's own execution time (EngineExecutionTimeInMillis). */
  engineMs?: number;
}

/** The engines this package has. */
export type EngineName = 'athena' | 'duckdb';

/** Options of one query. */
export interface QueryOptions {
  /** Values for the `?` placeholders, in order. */
  params?: readonly QueryParam[];
  /** Aborting cancels the query on the engine (Athena StopQueryExecution, DuckDB interrupt). */
  signal?: AbortSignal;
}

/**
 * A running query: iterate it for its rows (streamed page by page or chunk by chunk), or
 * `collect()` them. `columns` is known once the first page has arrived and `stats` once the rows
 * are exhausted.
 *
 * @example
 * ```ts
 * declare const engine: QueryEngine; // a DuckDbEngine or an AthenaEngine
 * const result = engine.query('SELECT type, avg(value) AS mean FROM sensors WHERE dt = ? GROUP BY type', {
 *   params: ['2026-11-23'],
 * });
 * for await (const row of result) console.log(row.type, row.mean);
 * console.log(result.stats?.bytesScanned);
 * ```
 */
export interface QueryResult<R extends Row = Row> extends AsyncIterable<R> {
  readonly columns: readonly QueryColumn[] | undefined;
  readonly stats: QueryStats | undefined;
  /** Every row in memory, with the columns and stats. */
  collect(): Promise<CollectedResult<R>>;
  /** Stop the query on the engine; iteration then ends with a `QueryCancelledError`. */
  cancel(): Promise<void>;
}

/** What `QueryResult.collect()` resolves to. */
export interface CollectedResult<R extends Row = Row> {
  rows: R[];
  columns: readonly QueryColumn[];
  stats: QueryStats;
}

/** Options of `registerTable`. */
export interface RegisterTableOptions {
  /** Replace an existing table or view of the same name. Default `true` for DuckDB views; Athena uses `CREATE EXTERNAL TABLE IF NOT EXISTS` unless this is `true`, when it drops the table first. */
  replace?: boolean;
}

/**
 * SQL over the lake: Athena on AWS, DuckDB locally. The same SQL (Trino/Presto dialect, `?`
 * placeholders) runs on both for the queries the pipelines use, and rows come back in the same
 * shape (see {@link Row}).
 *
 * @example
 * ```ts
 * async function hourlyMeans(engine: QueryEngine) {
 *   const { rows } = await engine
 *     .query('SELECT hour, avg(value) AS mean FROM sensors WHERE type = ? GROUP BY hour ORDER BY hour', { params: ['temperature'] })
 *     .collect();
 *   return rows;
 * }
 * ```
 */
export interface QueryEngine {
  readonly name: EngineName;
  query<R extends Row = Row>(sql: string, options?: QueryOptions): QueryResult<R>;
  /** Run a statement for its effect (DDL, `MSCK REPAIR TABLE`...); rows, if any, are discarded. */
  execute(sql: string, options?: QueryOptions): Promise<QueryStats>;
  /** Make a cataloged lake table queryable under its name: an external table (Athena) or a view over the files (DuckDB). */
  registerTable(definition: TableDefinition, options?: RegisterTableOptions): Promise<void>;
  /** Release what the engine holds (DuckDB's connection). Clients passed in are not closed. */
  close(): Promise<void>;
  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Loaders
// ---------------------------------------------------------------------------------------------

/** How a load changes the target table. */
export type LoadMode = 'append' | 'replace' | 'merge';

/**
 * A dataset of the lake to load: a table written by `writeDataset` (its manifest says which files
 * are committed) or by another tool (every data file under its folder). Field partitions (e.g.
 * `dt`) come back from the file paths.
 */
export interface LakeSource<F extends Fields = Fields> {
  storage: Storage;
  /** The dataset's path in the zone, e.g. `sensor_hourly`. */
  table: string;
  schema: Schema<F>;
  /** Only these partitions: `{ dt: '2026-11-23' }`, or a predicate on the partition values. */
  partitions?: Record<string, string> | ((values: Record<string, string | null>) => boolean);
  /**
   * Which folder keys are fields of the schema (`byField('date', 'dt')`). Default: what the
   * dataset's manifest says, or, for a table without one (written by Spark), every hive key that
   * names a field. Needed only when another engine wrote a table whose keys differ from its fields.
   */
  partitionBy?: readonly PartitionSpec[];
  /**
   * `iceberg` or `hive`. Default: Iceberg when `catalog` is given, or when the table has Iceberg
   * metadata and no lake manifest (as `readDataset` decides). An Iceberg source loads one snapshot
   * (the current one, or `snapshotId`); `partitions` then match its partition fields
   * (`{ at_hour: '2026-11-23-10' }`).
   */
  tableFormat?: LakeTableFormat;
  /** The Iceberg catalog the table is in. Default: the storage's own (Hadoop layout). */
  catalog?: IcebergCatalog;
  /** Iceberg: load this snapshot instead of the current one. */
  snapshotId?: bigint | string | number;
}

/** Options of `Loader.load`. */
export interface LoadOptions {
  mode: LoadMode;
  /** Merge keys. Default: the source schema's `primaryKey`. `merge` without either is an error. */
  keys?: readonly string[];
  /** Create the target table from the source schema when it does not exist. Default `true`. */
  createTable?: boolean;
  signal?: AbortSignal;
  onEvent?: EventListener;
}

/** What a load did. */
export interface LoadResult {
  /** The target, as quoted SQL (`"analytics"."sensor_hourly"`). */
  table: string;
  mode: LoadMode;
  /** Rows read from the source. */
  rows: number;
  /** Rows inserted into the target (all of them for append/replace). */
  inserted: number;
  /** Merge: target rows updated from the source. */
  updated: number;
  /** Replace: rows removed first. */
  deleted: number;
  /** Files of the lake read. */
  files: number;
  bytes: number;
  elapsedMs: number;
  /** Whether the target table was created by this load. */
  created: boolean;
  /** Iceberg: the snapshot loaded (decimal text). */
  snapshotId?: string;
  /** Iceberg: the target already held this snapshot of the source, so nothing was changed. */
  skipped?: boolean;
}

/**
 * Loads lake data into a warehouse table, in one transaction: `append` adds the rows, `replace`
 * makes the table hold exactly the source's rows, `merge` updates rows whose keys match and
 * inserts the others. A failure leaves the target as it was.
 *
 * @example
 * ```ts
 * import type { Lake } from '@tributary/lake';
 * import { curatedHourlySchema } from '@tributary/sensors';
 *
 * async function publish(loader: Loader, lake: Lake) {
 *   return loader.load({ schema: 'analytics', name: 'sensor_hourly' },
 *     { storage: lake.curated, table: 'sensor_hourly', schema: curatedHourlySchema },
 *     { mode: 'merge', keys: ['dt', 'hour', 'type'] });
 * }
 * ```
 */
export interface Loader {
  load<F extends Fields>(
    table: TableName | string,
    source: LakeSource<F>,
    options: LoadOptions,
  ): Promise<LoadResult>;
}

// ---------------------------------------------------------------------------------------------
// pg, typed by what the loaders call
// ---------------------------------------------------------------------------------------------

/**
 * The result of a `pg` query that the loaders read.
 *
 * @deprecated Use `PgQueryResult` from `@tributary/core`; this is the same type.
 */
export type PgResult = PgQueryResult;

/**
 * What the loaders need of one connection: `pg.PoolClient` fits.
 *
 * @deprecated Use `PgClient` from `@tributary/core`; this is the same type.
 */
export type PgClient = CorePgClient;

/**
 * What the loaders need of a pool: `pg.Pool` fits. The loaders never end it.
 *
 * @deprecated Use `PgPool` from `@tributary/core`; this is the same type.
 */
export type PgPool = CorePgPool;
