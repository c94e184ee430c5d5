import { randomUUID } from 'node:crypto';
import {
  type EventListener,
  emitSafely,
  type Fields,
  type PgClient,
  type PgPool,
  qualifiedName,
  type Schema,
  TributaryError,
  toPostgresDdl,
  withClient,
} from '@tributary/core';
import { PostgresStoreError } from './errors.js';
import type { NormalizedListings, NormalizeOptions } from './normalize.js';
import {
  checkCredits,
  checkSource,
  invalidOption,
  isListingsPage,
  normalizePage,
  type ValidatedPage,
  validatePage,
} from './postgres-store-pages.js';
import {
  applyStaged,
  type CsvRows,
  copyRows,
  createStagingSql,
  DATA_TABLES,
  type DataTable,
  isUniqueViolation,
  STAGED_TABLES,
  stagingName,
} from './postgres-store-sql.js';
import { CRYPTO_SCHEMA, CRYPTO_TABLES, type CryptoTableName } from './schemas.js';
import type { CmcListing, CmcStatus } from './types.js';

export { PostgresStoreError };

/**
 * A `pg` client as {@link PostgresStore} uses it.
 *
 * @deprecated Use `PgClient` from `@tributary/core`; this is the same type.
 */
export type PgClientLike = PgClient;

/**
 * A `pg` pool as {@link PostgresStore} uses it.
 *
 * @deprecated Use `PgPool` from `@tributary/core`; this is the same type.
 */
export type PgPoolLike = PgPool;

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** A `pg.Pool` (or anything with its `query()` and `connect()`); the store never ends it. */
  pool: PgPool;
  /** The PostgreSQL schema of the tables. Default {@link CRYPTO_SCHEMA}. */
  schema?: string;
  /** `records.out` after each committed load, `failure` when a load is rolled back. */
  onEvent?: EventListener;
}

/** Options of {@link PostgresStore.load}. */
export interface LoadOptions {
  /** What the rows came from, e.g. `listings/latest` or `fixtures`; stored in the `load` row. */
  source: string;
  /** API credits the response cost (`status.credit_count`). Default 0. */
  creditsUsed?: number;
}

/**
 * One page of a snapshot for {@link PostgresStore.loadSnapshot}: a page of listings as
 * `CoinMarketCapClient.listingsAll` yields it (normalized by the store; `status.credit_count` is
 * added to the load's credits), or rows already normalized (e.g. by `normalizeQuotes`).
 */
export type SnapshotPage =
  | { readonly data: readonly CmcListing[]; readonly status?: Pick<CmcStatus, 'credit_count'> }
  | NormalizedListings;

/** Options of {@link PostgresStore.loadSnapshot}. */
export interface SnapshotLoadOptions {
  /** What the pages came from, e.g. `listings/latest`; stored in the `load` row. */
  source: string;
  /** API credits the snapshot cost. Default: the sum of the pages' `status.credit_count`. */
  creditsUsed?: number;
  /** How pages of listings are normalized (e.g. which `convert` currencies to keep). */
  normalize?: NormalizeOptions;
}

/** Rows a load changed in one table. */
export interface TableLoadCounts {
  inserted: number;
  updated: number;
}

/** What {@link PostgresStore.load} did. */
export interface LoadResult {
  /** The id of the `load` row. */
  readonly loadId: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** Rows inserted or updated over the data tables (the `load` row not counted). */
  readonly rows: number;
  readonly tables: Readonly<Record<CryptoTableName, TableLoadCounts>>;
}

const SOURCE = 'coinmarketcap-postgres';
const QUOTE_SAVEPOINT = 'tributary_quotes';
// Every load updates each coin's row: room in its page lets the new version stay there (a HOT
// update, no new index entry, the old version pruned in place) instead of growing the table.
const LATEST_STATE = 'cryptocurrency';
const LATEST_STATE_FILLFACTOR = 70;
/** Where a load stands, for the error that reports its failure. */
interface LoadProgress {
  connected: boolean;
  table: CryptoTableName | undefined;
  /** 1-based page being staged; undefined once every page is staged. */
  page: number | undefined;
  /** Rows staged so far. */
  rows: number;
}

/** A failure of the page source, told apart from the database's own failures. */
class SourceFailure {
  constructor(readonly error: unknown) {}
}

/**
 * The relational model of CoinMarketCap data in PostgreSQL. `init()` creates the schema and the
 * tables (DDL from the schemas); `load()` writes normalized rows in one transaction, and
 * `loadSnapshot()` writes every page of a multi-page snapshot in one transaction: COPY FROM STDIN
 * into temporary staging tables, then `INSERT … ON CONFLICT` into the tables, writing (or locking)
 * only rows whose values changed, so loading the same response twice changes nothing. Quotes are
 * history (their key includes `last_updated`): existing ones are never rewritten, and new ones are
 * COPYed straight into their table (under a savepoint; if some are stored already, that page's
 * quotes take the staging path instead, and so do the store's next loads until one finds none). Any failure (a rejected
 * row, a failed page, a connection that dies) rolls the whole load back and rejects with a
 * {@link PostgresStoreError}; the connection is then discarded, never reused.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 *
 * const store = new PostgresStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await store.init();
 * const { data, status } = await cmc.listingsLatest({ limit: 100 });
 * const result = await store.load(normalizeListings(data), { source: 'listings/latest', creditsUsed: status.credit_count });
 * console.log(result.tables.quote.inserted);
 * ```
 */
export class PostgresStore {
  readonly options: Readonly<PostgresStoreOptions> & { readonly schema: string };
  /** Whether the next load tries COPYing its quotes straight into the table (a hint, not a rule). */
  #quotesDirect = true;

  constructor(options: PostgresStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw invalidOption('PostgresStore needs an options object', 'options');
    }
    const pool = options.pool as Partial<PgPool> | undefined;
    if (!pool || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
      throw invalidOption('PostgresStore options.pool must have query() and connect() (a pg.Pool)', 'pool');
    }
    const schema = options.schema ?? CRYPTO_SCHEMA;
    if (typeof schema !== 'string' || schema.length === 0 || schema.includes('\0')) {
      throw invalidOption('PostgresStore options.schema must be a non-empty identifier', 'schema');
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw invalidOption('PostgresStore options.onEvent must be a function', 'onEvent');
    }
    this.options = Object.freeze({ ...options, schema });
  }

  /** The quoted, schema-qualified name of a table, for queries of your own. */
  tableName(table: CryptoTableName): string {
    return qualifiedName({ schema: this.options.schema, name: table });
  }

  /**
   * Create the schema and the tables when missing; calling it again is harmless. The
   * `cryptocurrency` table, whose rows each load updates, leaves 30 % of its pages free
   * (`fillfactor = 70`) so that updates stay in place.
   */
  async init(): Promise<void> {
    const ddl = Object.entries(CRYPTO_TABLES)
      .map(([name, schema]) =>
        toPostgresDdl(schema as Schema<Fields>, {
          table: { schema: this.options.schema, name },
          ...(name === LATEST_STATE ? { fillfactor: LATEST_STATE_FILLFACTOR } : {}),
        }),
      )
      .join('\n');
    try {
      await this.options.pool.query(ddl);
    } catch (error) {
      throw new PostgresStoreError(`creating the tables in schema ${this.options.schema} failed`, {
        code: 'CMC_STORE_INIT_FAILED',
        cause: error,
        context: { schema: this.options.schema },
      });
    }
  }

  /**
   * Load normalized rows in one transaction; any failure rolls it all back. Rows that do not fit
   * the schemas are refused (`CMC_LOAD_INVALID`) before the database is touched.
   */
  async load(rows: NormalizedListings, options: LoadOptions): Promise<LoadResult> {
    const source = checkSource(options?.source);
    const creditsUsed = checkCredits(options.creditsUsed ?? 0);
    const page = validatePage(rows, undefined);
    return this.#transaction(
      async function* () {
        yield page;
      },
      source,
      () => creditsUsed,
    );
  }

  /**
   * Load a whole snapshot that comes in pages (e.g. `cmc.listingsAll()`) in one transaction:
   * each page is normalized, validated and streamed into the staging tables as it arrives (memory
   * stays at about one page), and the tables change only when the last page is in. A page that
   * fails to arrive (`CMC_LOAD_SOURCE_FAILED`, its error as `cause`), does not fit the schemas
   * (`CMC_LOAD_INVALID`) or a database failure (`CMC_LOAD_FAILED`) rolls back every page: nothing
   * of the snapshot is in the database. A coin that appears on two pages (the ranking moved
   * between requests) is stored once, from its newest `last_updated`.
   *
   * @example
   * ```ts
   * const result = await store.loadSnapshot(cmc.listingsAll({ pageSize: 1000, convert: 'USD' }), {
   *   source: 'listings/latest',
   * });
   * console.log(result.tables.cryptocurrency.inserted, result.loadId);
   * ```
   */
  async loadSnapshot(
    pages: AsyncIterable<SnapshotPage> | Iterable<SnapshotPage>,
    options: SnapshotLoadOptions,
  ): Promise<LoadResult> {
    const source = checkSource(options?.source);
    const creditsUsed = options.creditsUsed === undefined ? undefined : checkCredits(options.creditsUsed);
    const iterable = pages as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
    if (
      typeof iterable !== 'object' ||
      iterable === null ||
      (typeof iterable[Symbol.asyncIterator] !== 'function' &&
        typeof iterable[Symbol.iterator] !== 'function')
    ) {
      throw invalidOption('loadSnapshot() pages must be an iterable or async iterable of pages', 'pages');
    }
    const normalize = options.normalize;
    let credits = 0;
    async function* validated(progress: LoadProgress): AsyncGenerator<ValidatedPage> {
      let number = 0;
      const iterator = (
        Symbol.asyncIterator in iterable
          ? (iterable as AsyncIterable<SnapshotPage>)[Symbol.asyncIterator]()
          : (iterable as Iterable<SnapshotPage>)[Symbol.iterator]()
      ) as AsyncIterator<SnapshotPage> | Iterator<SnapshotPage>;
      try {
        for (;;) {
          number += 1;
          progress.page = number;
          let next: IteratorResult<SnapshotPage>;
          try {
            next = await iterator.next();
          } catch (error) {
            throw new SourceFailure(error);
          }
          if (next.done) break;
          const page = next.value;
          const rows = isListingsPage(page) ? normalizePage(page, normalize, number) : page;
          if (isListingsPage(page) && typeof page.status?.credit_count === 'number') {
            credits += page.status.credit_count;
          }
          yield validatePage(rows, number);
        }
        progress.page = undefined;
      } finally {
        // Stopped early by a failure: let the source release what it holds (a paginating client stops).
        if (progress.page !== undefined) await closeQuietly(iterator);
      }
    }
    return this.#transaction(validated, source, () => creditsUsed ?? credits);
  }

  /** Stage every page, then apply the staging tables to the tables, in one transaction. */
  async #transaction(
    pages: (progress: LoadProgress) => AsyncIterable<ValidatedPage>,
    source: string,
    creditsUsed: () => number,
  ): Promise<LoadResult> {
    const startedAt = new Date();
    const progress: LoadProgress = { connected: false, table: undefined, page: undefined, rows: 0 };
    try {
      return await withClient(this.options.pool, async (client) => {
        progress.connected = true;
        try {
          // One round trip: the transaction and the staging tables (quotes' only when needed).
          await client.query(
            ['BEGIN', ...STAGED_TABLES.map((name) => createStagingSql(name, this.tableName(name)))].join(
              ';\n',
            ),
          );
          const staged = {} as Record<DataTable, number>;
          for (const name of DATA_TABLES) staged[name] = 0;
          let direct = this.#quotesDirect;
          let quotesCopied = 0;
          for await (const page of pages(progress)) {
            for (const name of DATA_TABLES) {
              const rows = page[name];
              if (rows.count === 0) continue;
              progress.table = name;
              if (name === 'quote') {
                if (direct) {
                  const copied = await this.#copyQuotes(client, rows);
                  if (copied !== undefined) {
                    quotesCopied += copied;
                    progress.rows += rows.count;
                    continue;
                  }
                  // Some are stored already: this load and the store's next ones stage their quotes.
                  direct = false;
                  this.#quotesDirect = false;
                }
                if (staged.quote === 0) {
                  await client.query(createStagingSql(name, this.tableName(name)));
                }
              }
              await copyRows(client, name, stagingName(name), rows);
              staged[name] += rows.count;
              progress.rows += rows.count;
            }
            progress.table = undefined;
          }
          const tables = {} as Record<CryptoTableName, TableLoadCounts>;
          let changed = 0;
          for (const name of DATA_TABLES) {
            progress.table = name;
            const counts =
              staged[name] === 0
                ? { inserted: 0, updated: 0 }
                : await applyStaged(client, name, this.tableName(name));
            if (name === 'quote') {
              // Staged quotes that were all new: the next load may COPY them straight in again.
              if (staged.quote > 0 && counts.inserted === staged.quote) this.#quotesDirect = true;
              counts.inserted += quotesCopied;
            }
            tables[name] = counts;
            changed += counts.inserted + counts.updated;
          }
          progress.table = 'load';
          const finishedAt = new Date();
          const loadId = randomUUID();
          await client.query(
            `INSERT INTO ${this.tableName('load')} (id, started_at, finished_at, rows, credits_used, source) VALUES ($1, $2, $3, $4, $5, $6)`,
            [loadId, startedAt, finishedAt, String(changed), checkCredits(creditsUsed()), source],
          );
          tables.load = { inserted: 1, updated: 0 };
          progress.table = undefined;
          await client.query('COMMIT');
          emitSafely(this.options.onEvent, {
            type: 'records.out',
            source: SOURCE,
            count: progress.rows,
            time: Date.now(),
          });
          return Object.freeze({
            loadId,
            startedAt,
            finishedAt,
            rows: changed,
            tables: Object.freeze(tables),
          });
        } catch (error) {
          try {
            await client.query('ROLLBACK');
          } catch {
            // The connection is dead or unusable: withClient discards it, which ends the transaction.
          }
          throw error;
        }
      });
    } catch (error) {
      throw this.#failed(error, progress);
    }
  }

  /**
   * COPY a page's quotes straight into the quote table under a savepoint: the rows COPY wrote, or
   * `undefined` when one of them is stored already (the savepoint is rolled back; stage them).
   */
  async #copyQuotes(client: PgClient, rows: CsvRows): Promise<number | undefined> {
    await client.query(`SAVEPOINT ${QUOTE_SAVEPOINT}`);
    try {
      const copied = await copyRows(client, 'quote', this.tableName('quote'), rows);
      await client.query(`RELEASE SAVEPOINT ${QUOTE_SAVEPOINT}`);
      return copied;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      await client.query(`ROLLBACK TO SAVEPOINT ${QUOTE_SAVEPOINT};\nRELEASE SAVEPOINT ${QUOTE_SAVEPOINT}`);
      return undefined;
    }
  }

  #failed(error: unknown, progress: LoadProgress): PostgresStoreError {
    const where = {
      schema: this.options.schema,
      ...(progress.table === undefined ? {} : { table: progress.table }),
      ...(progress.page === undefined ? {} : { page: progress.page }),
    };
    let wrapped: PostgresStoreError;
    if (error instanceof PostgresStoreError) {
      wrapped = error;
    } else if (error instanceof SourceFailure) {
      wrapped = new PostgresStoreError(
        `reading page ${progress.page} of the snapshot failed; the load was rolled back`,
        {
          code: 'CMC_LOAD_SOURCE_FAILED',
          cause: error.error,
          retryable: TributaryError.isInstance(error.error) && error.error.retryable,
          context: where,
        },
      );
    } else if (!progress.connected) {
      wrapped = new PostgresStoreError('connecting to PostgreSQL failed', {
        code: 'CMC_LOAD_FAILED',
        cause: error,
        context: { schema: this.options.schema },
      });
    } else {
      wrapped = new PostgresStoreError(
        `loading into ${progress.table ?? 'the tables'} failed; the load was rolled back`,
        { code: 'CMC_LOAD_FAILED', cause: error, context: where },
      );
    }
    emitSafely(this.options.onEvent, {
      type: 'failure',
      source: SOURCE,
      count: progress.rows,
      code: wrapped.code,
      error: wrapped,
      time: Date.now(),
    });
    return wrapped;
  }
}
async function closeQuietly(iterator: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The load's own failure is the one to report.
  }
}
