import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { describeValue, quoteIdentifierFor, quoteLiteral } from '@tributary/core';
import {
  type HiveTypeNode,
  parseHiveType,
  scanIceberg,
  type TableDefinition,
  type TablePartition,
} from '@tributary/lake';
import {
  type IcebergRegistration,
  icebergSelectSql,
  type RegisterIcebergTableOptions,
} from './duckdb-iceberg.js';
import { QueryCancelledError, QueryFailedError, WarehouseOptionsError } from './errors.js';
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

/** A quoted DuckDB identifier: core's quoting, without PostgreSQL's 63-byte limit. */
const duckDbIdentifier = quoteIdentifierFor('duckdb');

/**
 * A file path as a literal DuckDB's readers take as that one file: they expand `*`, `?` and
 * `[...]` in every path given, so each of those is put in a bracket class of its own.
 */
function pathLiteral(path: string): string {
  return quoteLiteral(path.replace(/[[*?]/g, '[$&]'));
}

const DATA_FILE = /\.(parquet|ndjson|json|jsonl)(\.gz)?$/;

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
   * `memoryLimit` DuckDB does not read) throw a `WarehouseOptionsError` before anything starts.
   */
  static async create(options: DuckDbEngineOptions = {}): Promise<DuckDbEngine> {
    const database = options.database ?? 'main';
    if (typeof database !== 'string' || database.length === 0) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.database must be a non-empty string, got ${describeValue(database)}`,
      );
    }
    try {
      duckDbIdentifier(database);
    } catch (error) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.database cannot be a DuckDB schema name: ${(error as Error).message}`,
        { option: 'database' },
      );
    }
    if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1)) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.threads must be a positive integer, got ${describeValue(options.threads)}`,
      );
    }
    if (
      options.memoryLimit !== undefined &&
      !(typeof options.memoryLimit === 'string' && MEMORY_LIMIT.test(options.memoryLimit))
    ) {
      throw new WarehouseOptionsError(
        `DuckDbEngineOptions.memoryLimit must be a size such as '512MB' or '1.5GiB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got ${describeValue(options.memoryLimit)}`,
        { option: 'memoryLimit' },
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
      throw new WarehouseOptionsError('registerIcebergTable needs { storage, table }');
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
    if (this.#closed) throw new WarehouseOptionsError('The DuckDbEngine is closed');
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
      throw new WarehouseOptionsError(`Query parameter ${index + 1} is an invalid Date`);
    }
    return timestampTZValue(BigInt(ms) * 1000n);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new WarehouseOptionsError(`Query parameter ${index + 1} must be finite, got ${value}`);
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
  throw new WarehouseOptionsError(
    `Query parameter ${index + 1} must be a string, number, bigint, boolean, Date or null, got ${describeValue(value)}`,
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

// ---------------------------------------------------------------------------------------------
// Views over the lake

/** The DuckDB type of a Hive type from the catalog (`decimal(38,18)` → `DECIMAL(38,18)`). */
export function duckDbType(hiveType: string): string {
  return duckDbTypeOf(parseHiveType(hiveType));
}

function duckDbTypeOf(node: HiveTypeNode): string {
  if ('element' in node) return `${duckDbTypeOf(node.element)}[]`;
  if ('key' in node) return `MAP(${duckDbTypeOf(node.key)}, ${duckDbTypeOf(node.value)})`;
  if ('fields' in node) {
    return `STRUCT(${node.fields.map((f) => `${duckDbIdentifier(f.name)} ${duckDbTypeOf(f.type)}`).join(', ')})`;
  }
  switch (node.name) {
    case 'boolean':
      return 'BOOLEAN';
    case 'tinyint':
      return 'TINYINT';
    case 'smallint':
      return 'SMALLINT';
    case 'int':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'timestamp':
      // The lake's timestamps are instants (Parquet isAdjustedToUTC, ISO `…Z` in NDJSON).
      return 'TIMESTAMPTZ';
    case 'date':
      return 'DATE';
    case 'binary':
      return 'BLOB';
    case 'decimal':
      return node.params?.length ? `DECIMAL(${node.params.join(',')})` : 'DECIMAL(10,0)';
    default:
      // string, varchar(n), char(n) and anything the lake has no closer word for.
      return 'VARCHAR';
  }
}

/** The local path of a `file://` location; anything else cannot be read without a download. */
function localPath(location: string, table: string): string {
  if (!location.startsWith('file://')) {
    throw new WarehouseOptionsError(
      `DuckDbEngine reads local lakes only: table ${table} is at ${location}. Query s3:// tables with AthenaEngine.`,
      { table },
    );
  }
  return fileURLToPath(location);
}

/** The data files directly in a folder (not in sub-folders), skipping `_` and `.` names. */
async function dataFilesIn(folder: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('_') && !e.name.startsWith('.') && DATA_FILE.test(e.name))
    .map((e) => join(folder, e.name))
    .sort();
}

function isHiveLayout(definition: TableDefinition, partition: TablePartition): boolean {
  const segments = partition.location.replace(/\/$/, '').split('/').slice(-definition.partitionKeys.length);
  return definition.partitionKeys.every((key, i) => segments[i]?.startsWith(`${key.name}=`));
}

function readerCall(definition: TableDefinition, files: readonly string[], hive: boolean): string {
  const list = `[${files.map(pathLiteral).join(', ')}]`;
  const hiveOptions = hive
    ? `, hive_partitioning = true, hive_types = {${definition.partitionKeys
        .map((k) => `${quoteLiteral(k.name)}: ${duckDbType(k.type)}`)
        .join(', ')}}`
    : ', hive_partitioning = false';
  if (definition.format === 'parquet') return `read_parquet(${list}, union_by_name = true${hiveOptions})`;
  if (definition.format === 'ndjson') {
    // The catalog's types, not DuckDB's guesses: the same columns Athena's JSON SerDe would give.
    const columns = definition.columns
      .map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(duckDbType(c.type))}`)
      .join(', ');
    return `read_json(${list}, format = 'newline_delimited', columns = {${columns}}, timestampformat = 'iso'${hiveOptions})`;
  }
  throw new WarehouseOptionsError(
    `DuckDbEngine cannot register table ${definition.name}: format ${definition.format} is not supported (Parquet and NDJSON are)`,
    { table: definition.name },
  );
}

/** A typed empty relation with the table's columns, for a table with no files yet. */
function emptySelect(definition: TableDefinition): string {
  const columns = [...definition.columns, ...definition.partitionKeys].map(
    (c) => `CAST(NULL AS ${duckDbType(c.type)}) AS ${duckDbIdentifier(c.name)}`,
  );
  return `SELECT ${columns.join(', ')} WHERE false`;
}

/**
 * The statements that register a table as a view: one reader over the files of every hive
 * partition, or one per partition (with its values as constant columns) for folders that are not
 * `k=v`.
 */
export async function duckDbViewSql(
  definition: TableDefinition,
  options: { replace: boolean; database: string },
): Promise<string[]> {
  const database = definition.database ?? options.database;
  const name = `${duckDbIdentifier(database)}.${duckDbIdentifier(definition.name)}`;
  // Column and key names also reach SQL as string literals (read_json's columns, hive_types),
  // where an empty name or NUL would not fail until DuckDB binds: check them all as names first.
  for (const column of [...definition.columns, ...definition.partitionKeys]) duckDbIdentifier(column.name);
  const root = localPath(definition.location, definition.name);
  const keys = definition.partitionKeys;
  let body: string;
  if (keys.length === 0) {
    const files = await dataFilesIn(root);
    body =
      files.length === 0 ? emptySelect(definition) : `SELECT * FROM ${readerCall(definition, files, false)}`;
  } else {
    const hive: string[] = [];
    const other: string[] = [];
    for (const partition of definition.partitions) {
      const files = await dataFilesIn(localPath(partition.location, definition.name));
      if (files.length === 0) continue;
      if (isHiveLayout(definition, partition)) hive.push(...files);
      else {
        const values = keys.map(
          (k, i) =>
            `CAST(${partition.values[i] === undefined ? 'NULL' : quoteLiteral(partition.values[i] as string)} AS ${duckDbType(k.type)}) AS ${duckDbIdentifier(k.name)}`,
        );
        other.push(`SELECT *, ${values.join(', ')} FROM ${readerCall(definition, files, false)}`);
      }
    }
    const parts = [
      ...(hive.length > 0 ? [`SELECT * FROM ${readerCall(definition, hive, true)}`] : []),
      ...other,
    ];
    body = parts.length === 0 ? emptySelect(definition) : parts.join('\nUNION ALL BY NAME\n');
  }
  const statements: string[] = [];
  if (database !== 'main') statements.push(`CREATE SCHEMA IF NOT EXISTS ${duckDbIdentifier(database)}`);
  statements.push(`CREATE ${options.replace ? 'OR REPLACE ' : ''}VIEW ${name} AS\n${body}`);
  return statements;
}
