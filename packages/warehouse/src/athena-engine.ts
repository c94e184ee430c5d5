import {
  type AthenaClient,
  type Row as AthenaRow,
  type ColumnInfo,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  type QueryExecution,
  StartQueryExecutionCommand,
  type StartQueryExecutionCommandInput,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  classifyError,
  type EventListener,
  emitSafely,
  type RetryOptions,
  TributaryError,
  withRetry,
} from '@tributary/core';
import {
  hiveIdentifier,
  hiveString,
  type ProjectionOptions,
  type TableDefinition,
  toAthenaDdl,
} from '@tributary/lake';
import { QueryCancelledError, QueryFailedError, WarehouseOptionsError } from './errors.js';
import type {
  CollectedResult,
  QueryColumn,
  QueryEngine,
  QueryOptions,
  QueryParam,
  QueryResult,
  QueryStats,
  RegisterTableOptions,
  Row,
} from './types.js';

/** What the engine calls on the client: an `AthenaClient` fits. */
export type AthenaSender = Pick<AthenaClient, 'send'>;

/** How the engine retries throttled or failed calls to the Athena API (core's `withRetry`). */
export type AthenaRetryOptions = Pick<RetryOptions, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'random'>;

/** Options of {@link AthenaEngine}. */
export interface AthenaEngineOptions {
  /** An `AthenaClient` you create and destroy; the engine only calls `send`. */
  client: AthenaSender;
  /** The workgroup queries run in. Default: Athena's (`primary`). */
  workGroup?: string;
  /** The database unqualified names resolve in (`QueryExecutionContext.Database`). */
  database?: string;
  /** The data catalog (`QueryExecutionContext.Catalog`). Default `AwsDataCatalog`. */
  catalog?: string;
  /** Where Athena writes results (`s3://bucket/prefix/`); needed unless the workgroup enforces its own. */
  outputLocation?: string;
  /** First wait between two GetQueryExecution calls, doubled after each until `maxPollIntervalMs`. Default 200. */
  pollIntervalMs?: number;
  /** Longest wait between two polls. Default 5000. */
  maxPollIntervalMs?: number;
  /** Stop a query (StopQueryExecution) that has not delivered its last row this long after submission. */
  timeoutMs?: number;
  /** Rows per GetQueryResults page (`MaxResults`, 1 to 1000). Default 1000. */
  pageSize?: number;
  /** Partition projection for `registerTable`, as `toAthenaDdl` takes it. Default none. */
  projection?: boolean | ProjectionOptions;
  /** Retry of throttled and transient API errors. Default: core's `withRetry` defaults (5 attempts). */
  retry?: AthenaRetryOptions;
  onEvent?: EventListener;
}

/** Options of one Athena query. */
export interface AthenaQueryOptions extends QueryOptions {
  /** Athena's idempotency token (32 to 128 characters): a second start with the same token returns the same query. */
  clientRequestToken?: string;
}

/** Options of {@link AthenaEngine.registerTable}. */
export interface AthenaRegisterTableOptions extends RegisterTableOptions {
  /** Partition projection for this table; overrides the engine's `projection` option. */
  projection?: boolean | ProjectionOptions;
}

/** What {@link AthenaEngine.addPartitions} did. */
export interface AddPartitionsSummary {
  /** Partitions sent (Athena skips those that exist: `ADD IF NOT EXISTS`). */
  partitions: number;
  /** `ALTER TABLE` statements run. */
  statements: number;
}

interface ResolvedOptions {
  readonly client: AthenaSender;
  readonly workGroup: string | undefined;
  readonly database: string | undefined;
  readonly catalog: string;
  readonly outputLocation: string | undefined;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly timeoutMs: number | undefined;
  readonly pageSize: number;
  readonly projection: boolean | ProjectionOptions | undefined;
  readonly retry: Readonly<AthenaRetryOptions>;
  readonly onEvent: EventListener | undefined;
}

const ENGINE = 'athena';
const SOURCE = 'athena';
const PARTITIONS_PER_STATEMENT = 100;
const NAME = /^[a-z0-9_]{1,255}$/;

// ---------------------------------------------------------------------------------------------
// Literals and identifiers
// ---------------------------------------------------------------------------------------------

/**
 * A query parameter as the SQL literal text Athena's `ExecutionParameters` take: strings quoted
 * with `''` doubling (Trino reads no backslash escapes), numbers and bigints as digits, booleans
 * as `true`/`false`, a `Date` as `TIMESTAMP 'yyyy-MM-dd HH:mm:ss.SSS'` in UTC, `null` as `NULL`.
 *
 * @example
 * ```ts
 * import { athenaLiteral } from '@tributary/warehouse/athena';
 *
 * athenaLiteral("x'; DROP TABLE t; --"); // "'x''; DROP TABLE t; --'"
 * athenaLiteral(new Date('2026-11-23T10:00:00Z')); // "TIMESTAMP '2026-11-23 10:00:00.000'"
 * ```
 */
export function athenaLiteral(value: QueryParam, index = 0): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return `'${value.replace(/'/g, "''")}'`;
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number': {
      if (!Number.isFinite(value)) {
        throw new WarehouseOptionsError(
          `Query parameter ${index + 1} is ${value}: Athena has no literal for it (use nan() or infinity() in the SQL)`,
          { parameter: index + 1 },
        );
      }
      // String() gives the shortest text that reads back as the same double; Trino takes
      // `1.5` as a decimal and `1E+21` as a double, both compare as expected with a double column.
      return Object.is(value, -0) ? '0' : String(value).replace('e', 'E');
    }
    case 'object':
      if (value instanceof Date) {
        const time = value.getTime();
        const year = value.getUTCFullYear();
        if (Number.isNaN(time) || year < 0 || year > 9999) {
          throw new WarehouseOptionsError(
            `Query parameter ${index + 1} is a Date Athena cannot take (${Number.isNaN(time) ? 'invalid' : `year ${year}`})`,
            { parameter: index + 1 },
          );
        }
        return `TIMESTAMP '${value.toISOString().replace('T', ' ').replace('Z', '')}'`;
      }
      break;
    default:
      break;
  }
  throw new WarehouseOptionsError(
    `Query parameter ${index + 1} must be a string, number, bigint, boolean, Date or null, got ${describe(value)}`,
    { parameter: index + 1 },
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return value === null ? 'null' : (value.constructor?.name ?? 'object');
  return typeof value;
}

function catalogName(name: unknown, what: 'database' | 'table'): string {
  const lower = typeof name === 'string' ? name.toLowerCase() : '';
  if (!NAME.test(lower)) {
    throw new WarehouseOptionsError(
      `Invalid ${what} name ${JSON.stringify(name)}: use 1 to 255 letters, digits and "_"`,
      { [what]: String(name) },
    );
  }
  return lower;
}

/**
 * The `ALTER TABLE … ADD IF NOT EXISTS PARTITION (…) LOCATION '…'` statements that register a
 * definition's partitions, at most `perStatement` partitions each.
 */
export function addPartitionStatements(
  definition: TableDefinition,
  database: string | undefined,
  perStatement = PARTITIONS_PER_STATEMENT,
): string[] {
  const table = catalogName(definition.name, 'table');
  const databaseName = database ?? definition.database;
  const qualified = databaseName
    ? `${hiveIdentifier(catalogName(databaseName, 'database'))}.${hiveIdentifier(table)}`
    : hiveIdentifier(table);
  const keys = definition.partitionKeys.map((k) => k.name);
  if (keys.length === 0 && definition.partitions.length > 0) {
    throw new WarehouseOptionsError(`Table ${table} has partitions but no partition keys`, { table });
  }
  const clauses = definition.partitions.map((partition) => {
    if (partition.values.length !== keys.length) {
      throw new WarehouseOptionsError(
        `Partition ${JSON.stringify(partition.values)} of ${table} has ${partition.values.length} values for ${keys.length} keys`,
        { table },
      );
    }
    const spec = keys.map((k, i) => `${hiveIdentifier(k)} = ${hiveString(partition.values[i] as string)}`);
    return `  PARTITION (${spec.join(', ')}) LOCATION ${hiveString(partition.location)}`;
  });
  const statements: string[] = [];
  for (let i = 0; i < clauses.length; i += perStatement) {
    statements.push(
      [`ALTER TABLE ${qualified} ADD IF NOT EXISTS`, ...clauses.slice(i, i + perStatement)].join('\n'),
    );
  }
  return statements;
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

const INTEGER = /^-?\d+$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const ZONED = /^(.*?)(?: (UTC|Z)| ?([+-]\d{2}):?(\d{2}))$/;

/** The base type of an Athena `ColumnInfo.Type`: `timestamp(3)` → `timestamp`. */
function baseType(type: string): string {
  return type
    .toLowerCase()
    .replace(/\(.*\)$/, '')
    .trim();
}

/** The column's type as Athena spells it, with decimal precision and scale from ColumnInfo. */
function columnType(info: ColumnInfo): string {
  const type = (info.Type ?? 'varchar').toLowerCase();
  if (type === 'decimal' && info.Precision !== undefined)
    return `decimal(${info.Precision},${info.Scale ?? 0})`;
  return type;
}

function parseTimestamp(text: string): Date | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction] = m;
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const date = new Date(
    Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms),
  );
  // Date.UTC maps years 0–99 to 1900–1999.
  date.setUTCFullYear(Number(y));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function parseZonedTimestamp(text: string): Date | undefined {
  const m = ZONED.exec(text);
  if (!m) return undefined;
  const local = parseTimestamp(m[1] as string);
  if (!local) return undefined;
  if (m[2]) return local;
  const sign = (m[3] as string).startsWith('-') ? -1 : 1;
  const offset = sign * (Math.abs(Number(m[3])) * 60 + Number(m[4]));
  return new Date(local.getTime() - offset * 60_000);
}

/**
 * Athena renders an array as `[a, b, c]` with no quoting, and ColumnInfo says `array` without the
 * element type: elements come back as text (`null` as null). Nested arrays, maps and rows cannot
 * be split reliably, so such values stay the text Athena gave.
 */
function parseArray(text: string): unknown {
  if (!text.startsWith('[') || !text.endsWith(']')) return text;
  const inner = text.slice(1, -1);
  if (inner === '') return [];
  if (/[[\]{}]/.test(inner)) return text;
  return inner.split(', ').map((item) => (item === 'null' ? null : item));
}

class ValueError extends Error {}

function convert(text: string, type: string): unknown {
  switch (type) {
    case 'varchar':
    case 'char':
    case 'string':
    case 'decimal':
    case 'date':
      return text;
    case 'integer':
    case 'int':
    case 'smallint':
    case 'tinyint':
      if (!INTEGER.test(text)) throw new ValueError();
      return Number(text);
    case 'bigint':
      if (!INTEGER.test(text)) throw new ValueError();
      return BigInt(text);
    case 'double':
    case 'real':
    case 'float': {
      const n = Number(text);
      if (text.trim() === '' || (Number.isNaN(n) && text !== 'NaN')) throw new ValueError();
      return n;
    }
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ValueError();
    case 'timestamp': {
      const date = parseTimestamp(text);
      if (!date) throw new ValueError();
      return date;
    }
    case 'timestamp with time zone':
      return parseZonedTimestamp(text) ?? text;
    case 'array':
      return parseArray(text);
    default:
      // json, map, row, varbinary, time, interval, uuid, ipaddress...: the text Athena gives.
      return text;
  }
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

function positive(options: AthenaEngineOptions, key: keyof AthenaEngineOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.${key} must be a finite number > 0, got ${describe(value)} ${String(value)}`,
      { option: key },
    );
  }
  return value;
}

function optionalText(options: AthenaEngineOptions, key: keyof AthenaEngineOptions): string | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new WarehouseOptionsError(`AthenaEngineOptions.${key} must be a non-empty string`, { option: key });
  }
  return value;
}

function resolveOptions(options: AthenaEngineOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new WarehouseOptionsError('AthenaEngine needs an options object with a client');
  }
  if (typeof options.client?.send !== 'function') {
    throw new WarehouseOptionsError(
      'AthenaEngineOptions.client must be an AthenaClient (something with send)',
      {
        option: 'client',
      },
    );
  }
  const outputLocation = optionalText(options, 'outputLocation');
  if (outputLocation !== undefined && !outputLocation.startsWith('s3://')) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.outputLocation must be an s3:// URL, got ${JSON.stringify(outputLocation)}`,
      { option: 'outputLocation' },
    );
  }
  const pollIntervalMs = positive(options, 'pollIntervalMs', 200);
  const maxPollIntervalMs = positive(options, 'maxPollIntervalMs', 5000);
  if (maxPollIntervalMs < pollIntervalMs) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.maxPollIntervalMs (${maxPollIntervalMs}) is below pollIntervalMs (${pollIntervalMs})`,
      { option: 'maxPollIntervalMs' },
    );
  }
  const pageSize = positive(options, 'pageSize', 1000);
  if (!Number.isInteger(pageSize) || pageSize > 1000) {
    throw new WarehouseOptionsError(
      `AthenaEngineOptions.pageSize must be an integer from 1 to 1000, got ${pageSize}`,
      {
        option: 'pageSize',
      },
    );
  }
  const projection = options.projection;
  if (
    projection !== undefined &&
    typeof projection !== 'boolean' &&
    (typeof projection !== 'object' || projection === null)
  ) {
    throw new WarehouseOptionsError(
      'AthenaEngineOptions.projection must be a boolean or projection options',
      {
        option: 'projection',
      },
    );
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new WarehouseOptionsError('AthenaEngineOptions.onEvent must be a function', { option: 'onEvent' });
  }
  if (options.retry !== undefined && (typeof options.retry !== 'object' || options.retry === null)) {
    throw new WarehouseOptionsError('AthenaEngineOptions.retry must be an object', { option: 'retry' });
  }
  const database = optionalText(options, 'database');
  return Object.freeze({
    client: options.client,
    workGroup: optionalText(options, 'workGroup'),
    database,
    catalog: optionalText(options, 'catalog') ?? 'AwsDataCatalog',
    outputLocation,
    pollIntervalMs,
    maxPollIntervalMs,
    timeoutMs: options.timeoutMs === undefined ? undefined : positive(options, 'timeoutMs', 0),
    pageSize,
    projection,
    retry: Object.freeze({ ...options.retry }),
    onEvent: options.onEvent,
  });
}

/**
 * SQL over the lake with Amazon Athena: a {@link QueryEngine} on `@aws-sdk/client-athena`.
 *
 * `query` starts the query (StartQueryExecution, parameters bound through `ExecutionParameters`),
 * polls GetQueryExecution with exponential backoff (`pollIntervalMs` doubling up to
 * `maxPollIntervalMs`) and pages through GetQueryResults, converting each value by its column
 * type into the shape {@link Row} describes. Nothing starts until the result is iterated.
 *
 * Failures: a query Athena reports FAILED rejects with `QueryFailedError` (its `reason` is
 * `StateChangeReason`; `retryable` is Athena's own `AthenaError.Retryable` when given, else true
 * for `ErrorCategory` 1, a system error); CANCELLED, `cancel()`, an aborted `signal` and
 * `timeoutMs` reject with `QueryCancelledError` after StopQueryExecution. Throttled and transient
 * API calls are retried with core's `withRetry`; other SDK errors are wrapped in
 * `QueryFailedError` with the SDK error as `cause`.
 *
 * @example
 * ```ts
 * import { AthenaClient } from '@aws-sdk/client-athena';
 * import { AthenaEngine } from '@tributary/warehouse/athena';
 *
 * const client = new AthenaClient({});
 * const engine = new AthenaEngine({ client, database: 'processed', outputLocation: 's3://tributary-athena/results/' });
 * const { rows, stats } = await engine
 *   .query('SELECT type, avg(value) AS mean FROM sensors WHERE dt = ? GROUP BY type', { params: ['2026-11-23'] })
 *   .collect();
 * console.log(rows, stats.bytesScanned);
 * client.destroy();
 * ```
 */
export class AthenaEngine implements QueryEngine {
  readonly name = 'athena' as const;
  readonly #options: ResolvedOptions;

  constructor(options: AthenaEngineOptions) {
    this.#options = resolveOptions(options);
  }

  /** Run a query; its rows stream page by page as the result is iterated. */
  query<R extends Row = Row>(sql: string, options: AthenaQueryOptions = {}): QueryResult<R> {
    return new AthenaQueryResult<R>(this.#options, checkQuery(sql, options), true);
  }

  /** Run a statement to completion without reading its rows; `stats.rows` is 0. */
  async execute(sql: string, options: AthenaQueryOptions = {}): Promise<QueryStats> {
    const result = new AthenaQueryResult(this.#options, checkQuery(sql, options), false);
    return (await result.collect()).stats;
  }

  /**
   * Create the table in Athena (`CREATE EXTERNAL TABLE IF NOT EXISTS` from `toAthenaDdl`), in the
   * definition's database or else the engine's (as `DuckDbEngine` does); with `replace`, `DROP TABLE IF EXISTS` first
   * (an external table's files are kept).
   */
  async registerTable(definition: TableDefinition, options: AthenaRegisterTableOptions = {}): Promise<void> {
    const projection = options.projection ?? this.#options.projection;
    const ddl = wrapCatalog(() =>
      toAthenaDdl(definition, {
        database: definition.database ?? this.#options.database,
        projection: projection ?? false,
      }),
    );
    if (options.replace === true) {
      const databaseName = definition.database ?? this.#options.database;
      const table = hiveIdentifier(catalogName(definition.name, 'table'));
      const qualified = databaseName
        ? `${hiveIdentifier(catalogName(databaseName, 'database'))}.${table}`
        : table;
      await this.execute(`DROP TABLE IF EXISTS ${qualified}`);
    }
    await this.execute(ddl);
  }

  /** Load a table's partitions from its hive `k=v` folders: `MSCK REPAIR TABLE`. */
  async repairTable(table: string): Promise<QueryStats> {
    return this.execute(`MSCK REPAIR TABLE ${hiveIdentifier(catalogName(table, 'table'))}`);
  }

  /**
   * Register the definition's partitions with `ALTER TABLE … ADD IF NOT EXISTS PARTITION`, 100 per
   * statement; the folders need not follow the hive layout (each partition names its location).
   */
  async addPartitions(definition: TableDefinition): Promise<AddPartitionsSummary> {
    const statements = addPartitionStatements(definition, definition.database ?? this.#options.database);
    for (const statement of statements) await this.execute(statement);
    return { partitions: definition.partitions.length, statements: statements.length };
  }

  /** Nothing to release: the client is the caller's. */
  async close(): Promise<void> {}
}

function wrapCatalog<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (TributaryError.isInstance(err)) throw err;
    throw new WarehouseOptionsError(`Cannot build the Athena DDL: ${(err as Error)?.message ?? String(err)}`);
  }
}

interface CheckedQuery {
  sql: string;
  parameters: string[] | undefined;
  signal: AbortSignal | undefined;
  clientRequestToken: string | undefined;
}

function checkQuery(sql: string, options: AthenaQueryOptions): CheckedQuery {
  if (typeof sql !== 'string' || sql.trim() === '') {
    throw new WarehouseOptionsError('Athena query text must be a non-empty string');
  }
  const { params, signal, clientRequestToken } = options ?? {};
  if (params !== undefined && !Array.isArray(params)) {
    throw new WarehouseOptionsError('QueryOptions.params must be an array');
  }
  if (
    clientRequestToken !== undefined &&
    (typeof clientRequestToken !== 'string' ||
      clientRequestToken.length < 32 ||
      clientRequestToken.length > 128)
  ) {
    throw new WarehouseOptionsError(
      'AthenaQueryOptions.clientRequestToken must be a string of 32 to 128 characters',
      {
        option: 'clientRequestToken',
      },
    );
  }
  const parameters = params && params.length > 0 ? params.map((p, i) => athenaLiteral(p, i)) : undefined;
  return { sql, parameters, signal, clientRequestToken };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Why the internal controller was aborted. */
type StopReason = { kind: 'cancel' } | { kind: 'signal'; reason: unknown } | { kind: 'timeout'; ms: number };

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

class AthenaQueryResult<R extends Row> implements QueryResult<R> {
  #columns: QueryColumn[] | undefined;
  #stats: QueryStats | undefined;
  #consumed = false;
  #queryId: string | undefined;
  #state: string | undefined;
  readonly #abort = new AbortController();
  #stopReason: StopReason | undefined;
  #stopping: Promise<void> | undefined;
  #stopError: unknown;
  readonly #options: ResolvedOptions;
  readonly #query: CheckedQuery;
  readonly #readRows: boolean;

  constructor(options: ResolvedOptions, query: CheckedQuery, readRows: boolean) {
    this.#options = options;
    this.#query = query;
    this.#readRows = readRows;
  }

  get columns(): readonly QueryColumn[] | undefined {
    return this.#columns;
  }

  get stats(): QueryStats | undefined {
    return this.#stats;
  }

  [Symbol.asyncIterator](): AsyncIterator<R> {
    if (this.#consumed) {
      throw new TributaryError('This query result was iterated already: a result can be read once', {
        code: 'QUERY_RESULT_CONSUMED',
        context: { queryId: this.#queryId },
      });
    }
    this.#consumed = true;
    return this.#run();
  }

  async collect(): Promise<CollectedResult<R>> {
    const rows: R[] = [];
    for await (const row of this) rows.push(row);
    return { rows, columns: this.#columns ?? [], stats: this.#stats as QueryStats };
  }

  async cancel(): Promise<void> {
    this.#stop({ kind: 'cancel' });
    await this.#stopping;
    if (this.#stopError !== undefined) {
      throw new QueryFailedError({
        engine: ENGINE,
        queryId: this.#queryId,
        reason: `StopQueryExecution failed: ${errorMessage(this.#stopError)}`,
        cause: this.#stopError,
        retryable: classifyError(this.#stopError).retryable,
      });
    }
  }

  /** Abort whatever is pending and, if the query runs on Athena, stop it there (once). */
  #stop(reason: StopReason): void {
    if (this.#stopReason !== undefined || this.#stats !== undefined) return;
    this.#stopReason = reason;
    this.#abort.abort(reason);
    this.#stopOnAthena();
  }

  #stopOnAthena(): void {
    const queryId = this.#queryId;
    if (this.#stopping || queryId === undefined || TERMINAL.has(this.#state ?? '')) return;
    this.#stopping = this.#send(
      () => this.#options.client.send(new StopQueryExecutionCommand({ QueryExecutionId: queryId })),
      undefined,
    ).then(
      () => undefined,
      (err: unknown) => {
        this.#stopError = err;
        emitSafely(this.#options.onEvent, {
          type: 'failure',
          source: SOURCE,
          count: 0,
          code: 'STOP_FAILED',
          error: err,
          time: Date.now(),
        });
      },
    );
  }

  #cancelledError(cause?: unknown): QueryCancelledError {
    const reason = this.#stopReason;
    const why =
      reason?.kind === 'timeout'
        ? `timeoutMs (${reason.ms} ms) elapsed`
        : reason?.kind === 'signal'
          ? 'the signal was aborted'
          : reason?.kind === 'cancel'
            ? 'cancel() was called'
            : undefined;
    const stopFailed =
      this.#stopError === undefined ? '' : `; StopQueryExecution failed: ${errorMessage(this.#stopError)}`;
    return new QueryCancelledError(
      ENGINE,
      this.#queryId,
      why === undefined ? undefined : `${why}${stopFailed}`,
      this.#stopError ?? (reason?.kind === 'signal' ? reason.reason : cause),
    );
  }

  /** One API call with core's retry; `isRetryable` narrows what may be repeated (StartQueryExecution). */
  #send<T>(
    call: () => Promise<T>,
    signal: AbortSignal | undefined,
    isRetryable?: (err: unknown) => boolean,
  ): Promise<T> {
    return withRetry(() => call(), {
      ...this.#options.retry,
      signal,
      ...(isRetryable ? { isRetryable } : {}),
      onRetry: ({ attempt, delayMs, error, classification }) =>
        emitSafely(this.#options.onEvent, {
          type: 'retry',
          source: SOURCE,
          attempt,
          delayMs,
          reason: classification.kind,
          error,
          time: Date.now(),
        }),
    });
  }

  async *#run(): AsyncGenerator<R> {
    const startedAt = performance.now();
    const { signal } = this.#query;
    const onSignal = (): void => this.#stop({ kind: 'signal', reason: signal?.reason });
    let timer: NodeJS.Timeout | undefined;
    try {
      if (signal?.aborted) onSignal();
      signal?.addEventListener('abort', onSignal, { once: true });
      const timeoutMs = this.#options.timeoutMs;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => this.#stop({ kind: 'timeout', ms: timeoutMs }), timeoutMs);
        // An abandoned iteration must not keep the process alive until the limit.
        timer.unref();
      }
      if (this.#abort.signal.aborted) throw this.#cancelledError();

      this.#queryId = await this.#start();
      // A cancel while StartQueryExecution was in flight could not stop a query it had no id for.
      if (this.#abort.signal.aborted) {
        this.#stopOnAthena();
        throw this.#cancelledError();
      }
      const execution = await this.#poll(this.#queryId);

      let rows = 0;
      if (this.#readRows) {
        for await (const page of this.#pages(this.#queryId, execution)) {
          for (const row of page) {
            if (this.#abort.signal.aborted) throw this.#cancelledError();
            yield row;
            rows++;
          }
        }
      }
      const statistics = execution.Statistics;
      this.#stats = {
        engine: 'athena',
        queryId: this.#queryId,
        rows,
        elapsedMs: Math.round(performance.now() - startedAt),
        ...(statistics?.DataScannedInBytes === undefined
          ? {}
          : { bytesScanned: statistics.DataScannedInBytes }),
        ...(statistics?.EngineExecutionTimeInMillis === undefined
          ? {}
          : { engineMs: statistics.EngineExecutionTimeInMillis }),
      };
      this.#columns ??= [];
    } catch (err) {
      if (this.#stopReason !== undefined) {
        // Report the cancellation once Athena was told (or failed to be told) to stop.
        await this.#stopping;
        throw this.#cancelledError();
      }
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onSignal);
    }
  }

  async #start(): Promise<string> {
    const o = this.#options;
    const q = this.#query;
    const input: StartQueryExecutionCommandInput = { QueryString: q.sql };
    if (q.clientRequestToken !== undefined) input.ClientRequestToken = q.clientRequestToken;
    input.QueryExecutionContext = {
      ...(o.database === undefined ? {} : { Database: o.database }),
      Catalog: o.catalog,
    };
    if (o.outputLocation !== undefined) input.ResultConfiguration = { OutputLocation: o.outputLocation };
    if (o.workGroup !== undefined) input.WorkGroup = o.workGroup;
    if (q.parameters !== undefined) input.ExecutionParameters = q.parameters;
    // Without a token, a repeated StartQueryExecution may start a second query: repeat only a
    // throttled call, which Athena rejected before doing anything.
    const retryable =
      q.clientRequestToken === undefined
        ? (err: unknown) => classifyError(err).kind === 'throttling'
        : undefined;
    try {
      const output = await this.#send(
        () => o.client.send(new StartQueryExecutionCommand(input)),
        undefined,
        retryable,
      );
      if (!output.QueryExecutionId) {
        throw new QueryFailedError({
          engine: ENGINE,
          reason: 'StartQueryExecution returned no QueryExecutionId',
        });
      }
      return output.QueryExecutionId;
    } catch (err) {
      throw this.#wrap(err, 'StartQueryExecution');
    }
  }

  async #poll(queryId: string): Promise<QueryExecution> {
    let delay = this.#options.pollIntervalMs;
    for (;;) {
      let output: GetQueryExecutionCommandOutput;
      try {
        output = await this.#send(
          () =>
            this.#options.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryId }), {
              abortSignal: this.#abort.signal,
            }),
          this.#abort.signal,
        );
      } catch (err) {
        throw this.#wrap(err, 'GetQueryExecution');
      }
      const execution = output.QueryExecution ?? {};
      const status = execution.Status ?? {};
      this.#state = status.State;
      if (status.State === 'SUCCEEDED') return execution;
      if (status.State === 'FAILED') {
        const athenaError = status.AthenaError ?? {};
        const reason = status.StateChangeReason ?? athenaError.ErrorMessage ?? 'no reason given';
        emitSafely(this.#options.onEvent, {
          type: 'failure',
          source: SOURCE,
          count: 0,
          code: 'QUERY_FAILED',
          time: Date.now(),
        });
        throw new QueryFailedError({
          engine: ENGINE,
          queryId,
          reason,
          errorCategory: athenaError.ErrorCategory,
          errorType: athenaError.ErrorType,
          retryable: athenaError.Retryable ?? athenaError.ErrorCategory === 1,
        });
      }
      if (status.State === 'CANCELLED') {
        throw new QueryCancelledError(ENGINE, queryId, status.StateChangeReason ?? 'cancelled on Athena');
      }
      await sleep(delay, this.#abort.signal);
      delay = Math.min(delay * 2, this.#options.maxPollIntervalMs);
    }
  }

  async *#pages(queryId: string, execution: QueryExecution): AsyncGenerator<R[]> {
    let nextToken: string | undefined;
    let first = true;
    let infos: ColumnInfo[] = [];
    let types: string[] = [];
    do {
      let output: GetQueryResultsCommandOutput;
      const token = nextToken;
      try {
        output = await this.#send(
          () =>
            this.#options.client.send(
              new GetQueryResultsCommand({
                QueryExecutionId: queryId,
                MaxResults: this.#options.pageSize,
                ...(token === undefined ? {} : { NextToken: token }),
              }),
              { abortSignal: this.#abort.signal },
            ),
          this.#abort.signal,
        );
      } catch (err) {
        throw this.#wrap(err, 'GetQueryResults');
      }
      let data = output.ResultSet?.Rows ?? [];
      if (first) {
        infos = output.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
        types = infos.map((info) => baseType(info.Type ?? 'varchar'));
        this.#columns = infos.map((info) => ({
          name: info.Name ?? info.Label ?? '',
          type: columnType(info),
        }));
        if (isHeader(data[0], infos, execution.StatementType)) data = data.slice(1);
      }
      first = false;
      const rows = data.map((row) => this.#toRow(row, infos, types));
      emitSafely(this.#options.onEvent, {
        type: 'records.out',
        source: SOURCE,
        count: rows.length,
        time: Date.now(),
      });
      yield rows;
      nextToken = output.NextToken;
    } while (nextToken);
  }

  #toRow(row: AthenaRow, infos: readonly ColumnInfo[], types: readonly string[]): R {
    const out: Row = {};
    const data = row.Data ?? [];
    infos.forEach((info, i) => {
      const name = info.Name ?? info.Label ?? '';
      const text = data[i]?.VarCharValue;
      if (text === undefined) {
        out[name] = null;
        return;
      }
      try {
        out[name] = convert(text, types[i] as string);
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        throw new QueryFailedError({
          engine: ENGINE,
          queryId: this.#queryId,
          reason: `column ${name} holds ${JSON.stringify(text.slice(0, 100))}, which is not a ${columnType(info)}`,
          context: { column: name },
        });
      }
    });
    return out as R;
  }

  #wrap(err: unknown, operation: string): unknown {
    if (this.#abort.signal.aborted) return this.#cancelledError(err);
    if (err instanceof QueryFailedError || err instanceof QueryCancelledError) return err;
    return new QueryFailedError({
      engine: ENGINE,
      queryId: this.#queryId,
      reason: `${operation}: ${errorMessage(err)}`,
      retryable: classifyError(err).retryable,
      cause: err,
      context: { operation },
    });
  }
}

/**
 * Athena puts the column labels as the first row of a SELECT's first page (not for DDL or
 * SHOW/DESCRIBE), so a row is skipped only when the statement is DML and it repeats every label.
 */
function isHeader(
  row: AthenaRow | undefined,
  infos: readonly ColumnInfo[],
  statementType: string | undefined,
): boolean {
  if (row === undefined || infos.length === 0) return false;
  if (statementType !== undefined && statementType !== 'DML') return false;
  const data = row.Data ?? [];
  return (
    data.length === infos.length &&
    infos.every((info, i) => data[i]?.VarCharValue === (info.Label ?? info.Name))
  );
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
