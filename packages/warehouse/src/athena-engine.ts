import { TributaryError } from '@tributary/core';
import { hiveIdentifier, type ProjectionOptions, type TableDefinition, toAthenaDdl } from '@tributary/lake';
import { addPartitionStatements, catalogName, qualifiedTable } from './athena-literals.js';
import type { AthenaEngineOptions } from './athena-options.js';
import {
  type AthenaQueryOptions,
  checkQuery,
  type ResolvedOptions,
  resolveOptions,
} from './athena-options.js';
import { AthenaQueryResult } from './athena-query-result.js';
import { TableDefinitionError } from './errors.js';
import type { QueryEngine, QueryResult, QueryStats, RegisterTableOptions, Row } from './types.js';

export type {
  AthenaEngineOptions,
  AthenaQueryOptions,
  AthenaRetryOptions,
  AthenaSender,
} from './athena-options.js';

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
 * `timeoutMs` reject with `QueryCancelledError` after StopQueryExecution. An API call that fails
 * rejects with `QueryFailedError`, the SDK error as `cause` and `retryable` from core's
 * `classifyError`.
 *
 * Retries are the client's: the AWS SDK retries each call (throttling, 5xx, network errors) as
 * the `AthenaClient`'s `maxAttempts` (default 3) and `retryStrategy` say, with its own backoff,
 * and reuses StartQueryExecution's idempotency token, so a retried start never starts a second
 * query. The engine adds no retry loop (polling a running query is not one) and re-submits no
 * FAILED query: `QueryFailedError.retryable` tells the caller whether running it again may help.
 * Each SDK retry is reported to `onEvent` as a `retry` event (core's `addSdkRetryEvents`).
 * `await using engine = new AthenaEngine(...)` calls `close()` at the end of the block.
 *
 * @example
 * ```ts
 * import { AthenaClient } from '@aws-sdk/client-athena';
 * import { AthenaEngine } from '@tributary/warehouse/athena';
 *
 * const client = new AthenaClient({ maxAttempts: 5 }); // the SDK's retries of each API call
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
      const qualified = qualifiedTable(definition.name, definition.database ?? this.#options.database);
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

  /** `await using engine = new AthenaEngine(...)` calls {@link AthenaEngine.close} at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function wrapCatalog<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (TributaryError.isInstance(err)) throw err;
    throw new TableDefinitionError(`Cannot build the Athena DDL: ${(err as Error)?.message ?? String(err)}`, {
      code: 'TABLE_DEFINITION_INVALID',
      cause: err,
    });
  }
}
