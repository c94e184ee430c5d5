import { TributaryError } from '@tributary/core';
import { QueryCancelledError } from './errors.js';
import type { CollectedResult, EngineName, QueryColumn, QueryResult, QueryStats, Row } from './types.js';

/** What an engine's row generator is told and may tell back. */
export interface QueryControl {
  /** Call once the result's columns are known. */
  onColumns(columns: readonly QueryColumn[]): void;
  /** Extra figures for the stats (Athena's query id and bytes scanned). */
  onStats(stats: Partial<Omit<QueryStats, 'engine' | 'rows' | 'elapsedMs'>>): void;
  /** Whether `cancel()` was called or the caller's signal aborted. */
  isCancelled(): boolean;
  /** Aborted on cancellation: pass it to anything that waits. */
  readonly signal: AbortSignal;
}

/** An engine's rows, produced lazily once the result is iterated. */
export type RunQuery<R extends Row> = (control: QueryControl) => AsyncGenerator<R>;

/**
 * The `QueryResult` both engines return: lazy (nothing runs until it is iterated or collected),
 * iterable once, cancellable by `cancel()` or the caller's `AbortSignal`.
 */
class LazyQueryResult<R extends Row> implements QueryResult<R> {
  columns: readonly QueryColumn[] | undefined;
  stats: QueryStats | undefined;
  readonly #engine: EngineName;
  readonly #run: RunQuery<R>;
  readonly #interrupt: (() => void | Promise<void>) | undefined;
  readonly #abort = new AbortController();
  readonly #signal: AbortSignal | undefined;
  #started = false;
  #extra: Partial<QueryStats> = {};

  constructor(
    engine: EngineName,
    run: RunQuery<R>,
    signal: AbortSignal | undefined,
    interrupt: (() => void | Promise<void>) | undefined,
  ) {
    this.#engine = engine;
    this.#run = run;
    this.#signal = signal;
    this.#interrupt = interrupt;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<R> {
    if (this.#started) {
      throw new TributaryError('A query result can be iterated only once', { code: 'QUERY_RESULT_CONSUMED' });
    }
    this.#started = true;
    const started = performance.now();
    const onAbort = () => void this.cancel();
    if (this.#signal?.aborted || this.#abort.signal.aborted) {
      throw new QueryCancelledError(this.#engine, undefined, 'cancelled before it started');
    }
    this.#signal?.addEventListener('abort', onAbort, { once: true });
    let rows = 0;
    try {
      const control: QueryControl = {
        onColumns: (columns) => {
          this.columns = Object.freeze([...columns]);
        },
        onStats: (stats) => {
          this.#extra = { ...this.#extra, ...stats };
        },
        isCancelled: () => this.#abort.signal.aborted,
        signal: this.#abort.signal,
      };
      for await (const row of this.#run(control)) {
        if (this.#abort.signal.aborted) {
          throw new QueryCancelledError(this.#engine, this.#extra.queryId);
        }
        rows++;
        yield row;
      }
      if (this.#abort.signal.aborted) throw new QueryCancelledError(this.#engine, this.#extra.queryId);
      this.stats = Object.freeze({
        ...this.#extra,
        engine: this.#engine,
        rows,
        elapsedMs: performance.now() - started,
      });
    } finally {
      this.#signal?.removeEventListener('abort', onAbort);
    }
  }

  async collect(): Promise<CollectedResult<R>> {
    const rows: R[] = [];
    for await (const row of this) rows.push(row);
    return { rows, columns: this.columns ?? [], stats: this.stats as QueryStats };
  }

  async cancel(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    if (this.#started) await this.#interrupt?.();
  }
}

/** The lazy, once-iterable, cancellable result of one query. */
export function createQueryResult<R extends Row>(
  engine: EngineName,
  run: RunQuery<R>,
  signal?: AbortSignal,
  interrupt?: () => void | Promise<void>,
): QueryResult<R> {
  return new LazyQueryResult(engine, run, signal, interrupt);
}
