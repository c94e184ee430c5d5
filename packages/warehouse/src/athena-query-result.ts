import {
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
  addSdkRetryEvents,
  classifyError,
  emitSafely,
  type SdkMiddlewareHost,
  sleep,
  TributaryError,
} from '@tributary/core';
import type { CheckedQuery, ResolvedOptions } from './athena-options.js';
import { baseType, columnType, convert, isHeader, ValueError } from './athena-values.js';
import { QueryCancelledError, QueryFailedError } from './errors.js';
import type { CollectedResult, QueryColumn, QueryResult, QueryStats, Row } from './types.js';

// One Athena query as a lazy, cancellable `QueryResult`: StartQueryExecution, GetQueryExecution
// polled until the query ends, GetQueryResults page by page. Each API call is sent once: the
// client retries it (its `maxAttempts` and `retryStrategy`), and the SDK retries are reported as
// `retry` events by core's middleware. Polling a running query is not a retry.

const ENGINE = 'athena';
const SOURCE = 'athena';

/** Why the internal controller was aborted. */
type StopReason = { kind: 'cancel' } | { kind: 'signal'; reason: unknown } | { kind: 'timeout'; ms: number };

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * The result of one `AthenaEngine` query: nothing is sent until it is iterated; it can be iterated
 * once; `cancel()`, the query's signal and the engine's `timeoutMs` stop the query on Athena.
 */
export class AthenaQueryResult<R extends Row> implements QueryResult<R> {
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
    const stop = async (): Promise<unknown> =>
      this.#options.client.send(this.#observed(new StopQueryExecutionCommand({ QueryExecutionId: queryId })));
    this.#stopping = stop().then(
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

  /** The command, with core's middleware that reports the client's own retries of it as `retry` events. */
  #observed<C extends SdkMiddlewareHost>(command: C): C {
    return addSdkRetryEvents(command, { source: SOURCE, onEvent: this.#options.onEvent });
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
    // Without a caller's token the SDK fills in ClientRequestToken (an idempotency token) once,
    // before its retry loop: the client's retries of this call cannot start a second query.
    try {
      const output = await o.client.send(this.#observed(new StartQueryExecutionCommand(input)));
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
        output = await this.#options.client.send(
          this.#observed(new GetQueryExecutionCommand({ QueryExecutionId: queryId })),
          { abortSignal: this.#abort.signal },
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
      // An abort (cancel, signal, timeout) ends the wait between two polls at once.
      await sleep(delay, { signal: this.#abort.signal });
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
        output = await this.#options.client.send(
          this.#observed(
            new GetQueryResultsCommand({
              QueryExecutionId: queryId,
              MaxResults: this.#options.pageSize,
              ...(token === undefined ? {} : { NextToken: token }),
            }),
          ),
          { abortSignal: this.#abort.signal },
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

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
