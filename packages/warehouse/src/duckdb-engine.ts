import {
  createDuckDBValueConverter,
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBResult,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  JSDuckDBValueConverter,
  timestampTZValue,
} from '@duckdb/node-api';
import { describeValue, quoteLiteral, TributaryError } from '@tributary/core';
import { scanIceberg, type TableDefinition } from '@tributary/lake';
import {
  type IcebergRegistration,
  icebergSelectSql,
  type RegisterIcebergTableOptions,
} from './duckdb-iceberg.js';
import { duckDbIdentifier } from './duckdb-sql.js';
import { duckDbViewSql } from './duckdb-views.js';
import {
  QueryCancelledError,
  QueryFailedError,
  QueryParameterError,
  WarehouseOptionsError,
} from './errors.js';
import { createQueryResult, type QueryControl } from './query-result.js';
import type {
  QueryEngine,
  QueryOptions,
  QueryParam,
  QueryResult,
  QueryStats,
  RegisterTableOptions,
  Row,
} from './types.js';

export { duckDbType, duckDbViewSql } from './duckdb-views.js';

/** Options of {@link DuckDbEngine.create}. */
export interface DuckDbEngineOptions {
  /**
   * An instance of your own (closed by you). Default: a new in-memory instance, closed by
   * `close()`.
   */
  instance?: DuckDBInstance;
  /**
   * The default database: tables whose definition names none go into a DuckDB schema of this
   * name, and unqualified names in queries resolve there, as with Athena's
   * `QueryExecutionContext.Database`. Any name DuckDB can hold (quotes, dots, commas and spaces
   * stay part of the name); not empty, no NUL or lone surrogate. Default `main`.
   */
  database?: string;
  /** DuckDB's `threads` setting. Default: DuckDB's (the number of cores). */
  threads?: number;
  /** DuckDB's `memory_limit`: a number and a unit, e.g. `'1GB'`, `'512MiB'`. Default: DuckDB's (80 % of RAM). */
  memoryLimit?: string;
}

/**
 * Macros that give DuckDB the names of the Athena (Trino) functions the pipelines' queries use,
 * so the same SQL text runs on both engines.
 */
const ATHENA_COMPAT_MACROS = [
  // Trino's approx_percentile returns a value of the column (a rank), as quantile_disc does.
  'CREATE OR REPLACE MACRO approx_percentile(x, p) AS quantile_disc(x, p)',
  'CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)',
  'CREATE OR REPLACE MACRO from_unixtime(s) AS to_timestamp(s)',
  'CREATE OR REPLACE MACRO to_unixtime(t) AS epoch(t)',
];

// Rows in the shape core's schemas use (see `Row`): decimals stay exact text and dates stay
// `YYYY-MM-DD`, as Athena returns them; the rest is DuckDB's own JS conversion.
const exactText: DuckDBValueConverter<unknown> = (value) => (value === null ? null : String(value));
const ROW_CONVERTER = createDuckDBValueConverter<unknown>({
  ...(Object.fromEntries(
    Object.values(DuckDBTypeId)
      .filter((id): id is DuckDBTypeId => typeof id === 'number')
      .map((id) => [id, JSDuckDBValueConverter as DuckDBValueConverter<unknown>]),
  ) as Record<DuckDBTypeId, DuckDBValueConverter<unknown>>),
  [DuckDBTypeId.DECIMAL]: exactText,
  [DuckDBTypeId.DATE]: exactText,
});

// What DuckDB's memory_limit reads: a number and a unit (1000- or 1024-based).
const MEMORY_LIMIT = /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/**
 * The local stand-in for Athena: DuckDB over the lake's files. `registerTable` turns a cataloged
 * table (from `crawl` or a `LocalCatalog`) into a view over exactly the files of its partitions
 * (Parquet or NDJSON, hive `k=v` folders or Firehose `YYYY/MM/DD/HH` ones), with the catalog's
 * partition keys as columns. Queries bind `?` parameters through prepared statements.
 *
 * Only `file://` locations can be read: reading `s3://` would need DuckDB's httpfs extension,
 * which DuckDB downloads at run time.
 *
 * @example
 * ```ts
 * import { crawl } from '@tributary/lake';
 * import { DuckDbEngine } from '@tributary/warehouse/duckdb';
 *
 * const engine = await DuckDbEngine.create({ database: 'tributary' });
 * await engine.registerTable(await crawl(lake.processed, 'sensors'));
 * const { rows } = await engine
 *   .query('SELECT type, avg(value) AS mean FROM sensors WHERE dt = ? GROUP BY type', { params: ['2026-11-23'] })
 *   .collect();
 * await engine.close();
 * ```
 */
export class DuckDbEngine implements QueryEngine {
  readonly name = 'duckdb' as const;
  readonly database: string;
  readonly #instance: DuckDBInstance;
  readonly #ownsInstance: boolean;
  // One connection per query, so that results stream side by side and one can be interrupted
  // alone; views and macros live in the instance's catalog and are shared by all of them.
  readonly #connections = new Set<DuckDBConnection>();
  #closed = false;

  private constructor(instance: DuckDBInstance, ownsInstance: boolean, database: string) {
    this.#instance = instance;
    this.#ownsInstance = ownsInstance;
    this.database = database;
  }

  /**
   * Open the engine: an instance (yours or a new in-memory one), UTC, the Athena-compatible macros.
   * Options that cannot be used as given (a database name with NUL or a lone surrogate, a
   * `memoryLimit` DuckDB does not read) throw a `WarehouseOptionsError` (`DUCKDB_OPTIONS_INVALID`)
   * before anything starts.
   */
  static async create(options: DuckDbEngineOptions = {}): Promise<DuckDbEngine> {
    const database = options.database ?? 'main';
    if (typeof database !== 'string' || database.length === 0) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.database must be a non-empty string, got ${describeValue(database)}`,
        { code: 'DUCKDB_OPTIONS_INVALID', option: 'database' },
      );
    }
    try {
      duckDbIdentifier(database);
    } catch (error) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.database cannot be a DuckDB schema name: ${(error as Error).message}`,
        { code: 'DUCKDB_OPTIONS_INVALID', option: 'database', cause: error },
      );
    }
    if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1)) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.threads must be a positive integer, got ${describeValue(options.threads)}`,
        { code: 'DUCKDB_OPTIONS_INVALID', option: 'threads' },
      );
    }
    if (
      options.memoryLimit !== undefined &&
      !(typeof options.memoryLimit === 'string' && MEMORY_LIMIT.test(options.memoryLimit))
    ) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.memoryLimit must be a size such as '512MB' or '1.5GiB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got ${describeValue(options.memoryLimit)}`,
        { code: 'DUCKDB_OPTIONS_INVALID', option: 'memoryLimit' },
      );
    }
    const config: Record<string, string> = {};
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    let instance: DuckDBInstance;
    try {
      instance = options.instance ?? (await DuckDBInstance.create(':memory:', config));
    } catch (error) {
      throw wrapDuckDbError(error, 'creating the DuckDB instance');
    }
    const engine = new DuckDbEngine(instance, !options.instance, database);
    try {
      await engine.#withConnection(async (connection) => {
        if (options.instance) {
          for (const [k, v] of Object.entries(config)) await connection.run(`SET ${k} = ${quoteLiteral(v)}`);
        }
        for (const macro of ATHENA_COMPAT_MACROS) await connection.run(macro);
        if (database !== 'main') {
          await connection.run(`CREATE SCHEMA IF NOT EXISTS ${duckDbIdentifier(database)}`);
        }
      }, false);
    } catch (error) {
      await engine.close();
      throw wrapDuckDbError(error, 'opening the engine');
    }
    return engine;
  }

  query<R extends Row = Row>(sql: string, options: QueryOptions = {}): QueryResult<R> {
    this.#assertOpen();
    const params = (options.params ?? []).map(toDuckDbValue);
    return createQueryResult<R>('duckdb', (control) => this.#stream<R>(sql, params, control), options.signal);
  }

  async execute(sql: string, options: QueryOptions = {}): Promise<QueryStats> {
    const { stats } = await this.query(sql, options).collect();
    return stats;
  }

  async registerTable(definition: TableDefinition, options: RegisterTableOptions = {}): Promise<void> {
    this.#assertOpen();
    const sql = await duckDbViewSql(definition, {
      replace: options.replace ?? true,
      database: this.database,
    });
    try {
      await this.#withConnection(async (connection) => {
        for (const statement of sql) await connection.run(statement);
      });
    } catch (error) {
      throw wrapDuckDbError(error, `registering table ${definition.name}`, { table: definition.name });
    }
  }

  /**
   * Make an Iceberg table of the lake queryable as a view over one snapshot: the current one, or
   * the one `snapshotId` names or `asOf` finds (time travel). The view reads exactly that
   * snapshot's data files, with columns matched by Parquet field id and typed from the Iceberg
   * schema, so a query never sees a commit made after registration (register again to see it),
   * nor a file a later overwrite removed. A table without a snapshot is a view with its columns
   * and no rows. DuckDB's iceberg extension is not used (DuckDB downloads it at run time).
   *
   * @example
   * ```ts
   * import { DuckDbEngine } from '@tributary/warehouse/duckdb';
   *
   * const engine = await DuckDbEngine.create();
   * const { snapshotId } = await engine.registerIcebergTable({ storage: lake.processed, table: 'sensors' });
   * // Yesterday's table, side by side with today's:
   * await engine.registerIcebergTable({ storage: lake.processed, table: 'sensors', name: 'sensors_before', asOf: Date.now() - 86_400_000 });
   * const { rows } = await engine.query('SELECT count(*) AS n FROM sensors').collect();
   * console.log(snapshotId, rows[0]?.n);
   * await engine.close();
   * ```
   */
  async registerIcebergTable(options: RegisterIcebergTableOptions): Promise<IcebergRegistration> {
    this.#assertOpen();
    if (typeof options !== 'object' || options === null || typeof options.table !== 'string') {
      throw new WarehouseOptionsError('registerIcebergTable needs { storage, table }', {
        code: 'REGISTER_TABLE_OPTIONS_INVALID',
        option: 'table',
      });
    }
    const name = options.name ?? options.table.replace(/\/+$/, '').split('/').pop() ?? '';
    const database = options.database ?? this.database;
    const view = `${duckDbIdentifier(database)}.${duckDbIdentifier(name)}`;
    // The lake's Iceberg errors (no table, no such snapshot) are typed already: they pass as they are.
    const scan = await scanIceberg({
      storage: options.storage,
      table: options.table,
      ...(options.catalog ? { catalog: options.catalog } : {}),
      ...(options.snapshotId !== undefined ? { snapshotId: options.snapshotId } : {}),
      ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
    });
    const body = icebergSelectSql(scan, options.storage, options.table);
    const statements = [
      ...(database === 'main' ? [] : [`CREATE SCHEMA IF NOT EXISTS ${duckDbIdentifier(database)}`]),
      `CREATE ${(options.replace ?? true) ? 'OR REPLACE ' : ''}VIEW ${view} AS\n${body}`,
    ];
    try {
      await this.#withConnection(async (connection) => {
        for (const statement of statements) await connection.run(statement);
      });
    } catch (error) {
      throw wrapDuckDbError(error, `registering Iceberg table ${options.table}`, { table: options.table });
    }
    return {
      view,
      snapshotId: scan.snapshot === undefined ? undefined : String(scan.snapshot['snapshot-id']),
      files: scan.files.length,
      rows: scan.files.reduce((sum, f) => sum + f.rows, 0),
    };
  }

  /** `await using engine = await DuckDbEngine.create()` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Closes every connection, and the instance when the engine created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const connection of this.#connections) connection.closeSync();
    this.#connections.clear();
    if (this.#ownsInstance) this.#instance.closeSync();
  }

  #assertOpen(): void {
    if (this.#closed) throw new TributaryError('The DuckDbEngine is closed', { code: 'ENGINE_CLOSED' });
  }

  async #connect(useDatabase = true): Promise<DuckDBConnection> {
    this.#assertOpen();
    const connection = await this.#instance.connect();
    this.#connections.add(connection);
    try {
      // The lake's timestamps are UTC, as Athena's are; DuckDB would use the machine's zone.
      await connection.run(`SET TimeZone = 'UTC'`);
      if (useDatabase && this.database !== 'main') {
        // DuckDB reads the value as a qualified name (`a.b` is catalog a, schema b; `"` opens a
        // quoted part), so the name goes in quoted, as one part.
        await connection.run(`SET schema = ${quoteLiteral(duckDbIdentifier(this.database))}`);
      }
    } catch (error) {
      this.#release(connection);
      throw error;
    }
    return connection;
  }

  #release(connection: DuckDBConnection): void {
    if (this.#connections.delete(connection)) connection.closeSync();
  }

  async #withConnection<T>(
    task: (connection: DuckDBConnection) => Promise<T>,
    useDatabase = true,
  ): Promise<T> {
    const connection = await this.#connect(useDatabase);
    try {
      return await task(connection);
    } finally {
      this.#release(connection);
    }
  }

  async *#stream<R extends Row>(
    sql: string,
    params: DuckDBValue[],
    control: QueryControl,
  ): AsyncGenerator<R> {
    const cancelled = (error?: unknown) => new QueryCancelledError('duckdb', undefined, undefined, error);
    let connection: DuckDBConnection;
    try {
      connection = await this.#connect();
    } catch (error) {
      throw wrapDuckDbError(error, 'connecting');
    }
    const interrupt = () => connection.interrupt();
    control.signal.addEventListener('abort', interrupt, { once: true });
    try {
      let result: DuckDBResult;
      try {
        result = await connection.stream(sql, params);
      } catch (error) {
        if (control.isCancelled()) throw cancelled(error);
        throw wrapDuckDbError(error, 'running the query');
      }
      const names = result.deduplicatedColumnNames();
      control.onColumns(names.map((name, i) => ({ name, type: String(result.columnType(i)) })));
      for (;;) {
        if (control.isCancelled()) throw cancelled();
        let chunk: Awaited<ReturnType<DuckDBResult['fetchChunk']>>;
        try {
          chunk = await result.fetchChunk();
        } catch (error) {
          if (control.isCancelled()) throw cancelled(error);
          throw wrapDuckDbError(error, 'reading the results');
        }
        if (!chunk || chunk.rowCount === 0) break;
        for (const values of chunk.convertRows(ROW_CONVERTER)) {
          const row: Row = {};
          for (let i = 0; i < names.length; i++) row[names[i] as string] = values[i] ?? null;
          yield row as R;
        }
      }
    } finally {
      control.signal.removeEventListener('abort', interrupt);
      this.#release(connection);
    }
  }
}

/** A `?` parameter as DuckDB binds it: Dates become TIMESTAMPTZ (UTC), the rest binds as is. */
function toDuckDbValue(value: QueryParam, index: number): DuckDBValue {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) {
      throw new QueryParameterError(`Query parameter ${index + 1} is an invalid Date`, index + 1);
    }
    return timestampTZValue(BigInt(ms) * 1000n);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new QueryParameterError(`Query parameter ${index + 1} must be finite, got ${value}`, index + 1);
  }
  if (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'boolean'
  ) {
    return value;
  }
  throw new QueryParameterError(
    `Query parameter ${index + 1} must be a string, number, bigint, boolean, Date or null, got ${describeValue(value)}`,
    index + 1,
  );
}

function wrapDuckDbError(
  error: unknown,
  doing: string,
  context: Record<string, unknown> = {},
): QueryFailedError {
  const reason = error instanceof Error ? error.message : String(error);
  return new QueryFailedError({ engine: 'duckdb', reason: `${doing}: ${reason}`, cause: error, context });
}
