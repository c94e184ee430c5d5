import { randomUUID } from 'node:crypto';
import {
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
import type { NormalizedListings } from './normalize.js';
import {
  checkCredits,
  checkPage,
  checkSource,
  csvChunks,
  drain,
  EncodeAhead,
  invalidOption,
  isListingsPage,
  normalizePage,
  type PageRows,
} from './postgres-store-pages.js';
import {
  applyStaged,
  copyRows,
  createStagingSql,
  DATA_TABLES,
  type DataTable,
  distinctKeys,
  isUniqueViolation,
  STAGED_TABLES,
  stagingNames,
} from './postgres-store-sql.js';
import type {
  LoadOptions,
  LoadResult,
  PostgresStoreOptions,
  SnapshotLoadOptions,
  SnapshotPage,
  TableLoadCounts,
} from './postgres-store-types.js';
import { CRYPTO_SCHEMA, CRYPTO_TABLES, type CryptoTableName } from './schemas.js';

export type {
  LoadOptions,
  LoadResult,
  PostgresStoreOptions,
  SnapshotLoadOptions,
  SnapshotPage,
  TableLoadCounts,
} from './postgres-store-types.js';
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

/** The quotes of a load so far: the path they take, and the rows each path took. */
interface QuoteState {
  direct: boolean;
  copied: number;
  staged: number;
}

/**
 * The relational model of CoinMarketCap data in PostgreSQL. `init()` creates the schema and the
 * tables (DDL from the schemas); `load()` writes normalized rows in one transaction, and
 * `loadSnapshot()` writes every page of a multi-page snapshot in one transaction: COPY FROM STDIN
 * into temporary staging tables (created once per connection, named `tributary_staging_*`, emptied
 * by every commit), then `INSERT … ON CONFLICT` into the tables, writing (or locking)
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
  /** The staging tables, by data table. */
  readonly #staging: Readonly<Record<DataTable, string>>;
  /** Begins a load: the transaction, and the staging tables when the connection has none yet. */
  readonly #begin: string;

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
    this.#staging = stagingNames(schema);
    this.#begin = [
      'BEGIN',
      ...STAGED_TABLES.map((name) => createStagingSql(this.#staging[name], this.tableName(name))),
    ].join(';\n');
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
   * the schemas are refused (`CMC_LOAD_INVALID`, naming the table and the row) and nothing is
   * written: each table's rows are validated as they are sent, while PostgreSQL takes the rows
   * before them.
   */
  async load(rows: NormalizedListings, options: LoadOptions): Promise<LoadResult> {
    const source = checkSource(options?.source);
    const creditsUsed = checkCredits(options.creditsUsed ?? 0);
    const page = checkPage(rows, undefined);
    return this.#transaction(
      async function* () {
        yield page;
      },
      source,
      () => creditsUsed,
      () => {
        for (const name of DATA_TABLES) drain(csvChunks(page, name));
      },
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
    async function* checked(progress: LoadProgress): AsyncGenerator<PageRows> {
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
          yield checkPage(rows, number);
        }
        progress.page = undefined;
      } finally {
        // Stopped early by a failure: let the source release what it holds (a paginating client stops).
        if (progress.page !== undefined) await closeQuietly(iterator);
      }
    }
    return this.#transaction(checked, source, () => creditsUsed ?? credits);
  }

  /**
   * Stage every page, then apply the staging tables to the tables, in one transaction. This
   * process and PostgreSQL work at the same time (never two statements at once on the client):
   * a page's quotes go first, and while PostgreSQL takes them (its larger part of the load's
   * work), this process encodes the page's other tables; each COPY encodes its next chunk while
   * PostgreSQL parses the one before.
   */
  async #transaction(
    pages: (progress: LoadProgress) => AsyncIterable<PageRows>,
    source: string,
    creditsUsed: () => number,
    validate?: () => void,
  ): Promise<LoadResult> {
    const startedAt = new Date();
    const progress: LoadProgress = { connected: false, table: undefined, page: undefined, rows: 0 };
    try {
      return await withClient(this.options.pool, async (client) => {
        progress.connected = true;
        try {
          await client.query(this.#begin);
          const staged = {} as Record<DataTable, number>;
          const distinct = {} as Record<DataTable, boolean>;
          for (const name of DATA_TABLES) {
            staged[name] = 0;
            distinct[name] = false;
          }
          const quotes: QuoteState = { direct: this.#quotesDirect, copied: 0, staged: 0 };
          for await (const rows of pages(progress)) {
            const ahead = new EncodeAhead(rows, STAGED_TABLES);
            try {
              const count = rows.tables.quote.length;
              if (count > 0) {
                progress.table = 'quote';
                await this.#loadQuotes(client, quotes, () => ahead.guard(csvChunks(rows, 'quote')), count);
                progress.rows += count;
              }
              for (const name of STAGED_TABLES) {
                const count = rows.tables[name].length;
                if (count === 0) continue;
                progress.table = name;
                // Keys staged from one page only may be known distinct (no DISTINCT ON needed).
                distinct[name] = staged[name] === 0 && distinctKeys(name, rows.tables[name]);
                await copyRows(client, name, this.#staging[name], ahead.take(name), count);
                staged[name] += count;
                progress.rows += count;
              }
              progress.table = undefined;
            } finally {
              ahead.stop();
            }
          }
          const applied = new Map<DataTable, TableLoadCounts>();
          for (const name of STAGED_TABLES) {
            if (staged[name] === 0) continue;
            progress.table = name;
            applied.set(
              name,
              await applyStaged(
                client,
                name,
                this.tableName(name),
                this.#staging[name],
                staged[name],
                distinct[name],
              ),
            );
          }
          const tables = {} as Record<CryptoTableName, TableLoadCounts>;
          let changed = 0;
          for (const name of DATA_TABLES) {
            progress.table = name;
            let counts: TableLoadCounts = { inserted: 0, updated: 0 };
            if (name === 'quote') {
              if (quotes.staged > 0) {
                counts = await applyStaged(
                  client,
                  name,
                  this.tableName(name),
                  this.#staging.quote,
                  quotes.staged,
                );
                // Staged quotes that were all new: the next load may COPY them straight in again.
                if (counts.inserted === quotes.staged) this.#quotesDirect = true;
              }
              counts.inserted += quotes.copied;
            } else {
              counts = applied.get(name) ?? counts;
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
      let failure = error;
      if (!progress.connected && validate !== undefined) {
        // No database to load into: rows that do not fit are still the first thing to tell.
        try {
          validate();
        } catch (invalid) {
          failure = invalid;
        }
      }
      throw this.#failed(failure, progress);
    }
  }

  /**
   * A page's quotes: COPYed straight into the quote table while they may all be new, else into
   * their staging table (created when the load first needs it). `chunks` gives their CSV, again
   * for the staging table when the straight COPY meets a stored quote.
   */
  async #loadQuotes(
    client: PgClient,
    quotes: QuoteState,
    chunks: () => Iterable<Buffer>,
    count: number,
  ): Promise<void> {
    if (quotes.direct) {
      const copied = await this.#copyQuotes(client, chunks(), count);
      if (copied !== undefined) {
        quotes.copied += copied;
        return;
      }
      // Some are stored already: this load and the store's next ones stage their quotes.
      quotes.direct = false;
      this.#quotesDirect = false;
    }
    if (quotes.staged === 0) {
      await client.query(createStagingSql(this.#staging.quote, this.tableName('quote')));
    }
    await copyRows(client, 'quote', this.#staging.quote, chunks(), count);
    quotes.staged += count;
  }

  /**
   * COPY a page's quotes straight into the quote table under a savepoint: the rows COPY wrote, or
   * `undefined` when one of them is stored already (the savepoint is rolled back; stage them).
   */
  async #copyQuotes(client: PgClient, chunks: Iterable<Buffer>, count: number): Promise<number | undefined> {
    await client.query(`SAVEPOINT ${QUOTE_SAVEPOINT}`);
    try {
      const copied = await copyRows(client, 'quote', this.tableName('quote'), chunks, count);
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
