import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Column,
  type EventListener,
  emitSafely,
  type Fields,
  OptionsError,
  type PgClient,
  type PgPool,
  qualifiedName,
  quoteIdentifier,
  type Schema,
  TributaryError,
  toPostgresDdl,
  ValidationError,
  withClient,
} from '@tributary/core';
import { from as copyFrom } from 'pg-copy-streams';
import { PostgresStoreError } from './errors.js';
import { type NormalizedListings, type NormalizeOptions, normalizeListings } from './normalize.js';
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
// Order matters only for readers of a half-applied transaction, which never exist; parents first anyway.
const DATA_TABLES = ['platform', 'tag', 'cryptocurrency', 'cryptocurrency_tag', 'quote'] as const;
type DataTable = (typeof DATA_TABLES)[number];
// Listings know tags by slug only: a later listing must not erase a name learnt from quotes/latest.
const KEEP_WHEN_NULL: Partial<Record<DataTable, ReadonlySet<string>>> = {
  tag: new Set(['name', 'category']),
};
// Loading an older snapshot after a newer one must not roll a coin's latest state back.
const NEWER_ONLY: Partial<Record<DataTable, string>> = { cryptocurrency: 'last_updated' };
const COPY_CHUNK_CHARS = 64 * 1024;

function invalidOption(message: string, option: string): OptionsError {
  return new OptionsError(message, { code: 'CMC_STORE_OPTIONS_INVALID', option });
}

/** Rows of one page, validated, per data table. */
type ValidatedPage = Record<DataTable, Record<string, unknown>[]>;

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
 * into temporary staging tables, then `INSERT … ON CONFLICT` into the tables, updating only rows
 * whose values changed, so loading the same response twice changes nothing. Quotes are history
 * (their key includes `last_updated`): existing ones are never rewritten. Any failure (a rejected
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

  /** Create the schema and the tables when missing; calling it again is harmless. */
  async init(): Promise<void> {
    const ddl = Object.entries(CRYPTO_TABLES)
      .map(([name, schema]) =>
        toPostgresDdl(schema as Schema<Fields>, { table: { schema: this.options.schema, name } }),
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
          await client.query('BEGIN');
          const staged = {} as Record<DataTable, number>;
          for (const name of DATA_TABLES) {
            staged[name] = 0;
            await client.query(
              `CREATE TEMP TABLE ${stagingName(name)} (LIKE ${this.tableName(name)}) ON COMMIT DROP`,
            );
          }
          for await (const page of pages(progress)) {
            for (const name of DATA_TABLES) {
              const rows = page[name];
              if (rows.length === 0) continue;
              progress.table = name;
              await this.#stage(client, name, rows);
              staged[name] += rows.length;
              progress.rows += rows.length;
            }
            progress.table = undefined;
          }
          const tables = {} as Record<CryptoTableName, TableLoadCounts>;
          let changed = 0;
          for (const name of DATA_TABLES) {
            progress.table = name;
            const counts = staged[name] === 0 ? { inserted: 0, updated: 0 } : await this.#apply(client, name);
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

  /** COPY rows into a table's staging table. */
  async #stage(client: PgClient, name: DataTable, rows: readonly Record<string, unknown>[]): Promise<void> {
    const columns = (CRYPTO_TABLES[name] as Schema<Fields>).columns;
    const columnList = columns.map((c) => quoteIdentifier(c.name)).join(', ');
    const copy = client.query(
      copyFrom(`COPY ${stagingName(name)} (${columnList}) FROM STDIN (FORMAT csv)`) as never,
    ) as unknown as NodeJS.WritableStream;
    await pipeline(Readable.from(csvChunks(columns, rows)), copy);
  }

  /** Upsert a table from its staging table. */
  async #apply(client: PgClient, name: DataTable): Promise<TableLoadCounts> {
    const schema = CRYPTO_TABLES[name] as Schema<Fields>;
    const result = await client.query(upsertSql(name, schema, this.tableName(name), stagingName(name)));
    const counts = result.rows[0] as { inserted: number; updated: number } | undefined;
    return { inserted: Number(counts?.inserted ?? 0), updated: Number(counts?.updated ?? 0) };
  }
}

function stagingName(name: DataTable): string {
  return quoteIdentifier(`tributary_staging_${name}`);
}

function checkSource(source: unknown): string {
  if (typeof source !== 'string' || source.length === 0) {
    throw invalidOption('load options.source must be a non-empty string', 'source');
  }
  return source;
}

function checkCredits(credits: unknown): number {
  if (typeof credits !== 'number' || !Number.isInteger(credits) || credits < 0 || credits > 2 ** 31 - 1) {
    throw invalidOption('load options.creditsUsed must be a non-negative 32-bit integer', 'creditsUsed');
  }
  return credits;
}

function isListingsPage(page: SnapshotPage): page is Extract<SnapshotPage, { data: readonly CmcListing[] }> {
  return typeof page === 'object' && page !== null && Array.isArray((page as { data?: unknown }).data);
}

function normalizePage(
  page: Extract<SnapshotPage, { data: readonly CmcListing[] }>,
  options: NormalizeOptions | undefined,
  number: number,
): NormalizedListings {
  try {
    return normalizeListings(page.data, options);
  } catch (error) {
    throw new PostgresStoreError(`page ${number} of the snapshot does not fit the relational model`, {
      code: 'CMC_LOAD_INVALID',
      cause: error,
      context: { page: number },
    });
  }
}

async function closeQuietly(iterator: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The load's own failure is the one to report.
  }
}

/** Validate one page's rows; `page` (1-based) goes into the error's context. */
function validatePage(rows: NormalizedListings, page: number | undefined): ValidatedPage {
  const at = page === undefined ? {} : { page };
  const where = page === undefined ? '' : ` of page ${page}`;
  if (typeof rows !== 'object' || rows === null) {
    throw new PostgresStoreError(`load() rows${where} must be an object of arrays per table`, {
      code: 'CMC_LOAD_INVALID',
      context: at,
    });
  }
  const out = {} as ValidatedPage;
  for (const name of DATA_TABLES) {
    const input = (rows as unknown as Record<string, unknown>)[name];
    if (!Array.isArray(input)) {
      throw new PostgresStoreError(`load() rows.${name}${where} must be an array`, {
        code: 'CMC_LOAD_INVALID',
        context: { table: name, ...at },
      });
    }
    const schema = CRYPTO_TABLES[name] as Schema<Fields>;
    out[name] = input.map((row, i) => {
      const result = schema.validate(row);
      if (result.ok) return result.value as Record<string, unknown>;
      throw new PostgresStoreError(`load() rows.${name}[${i}]${where} does not fit the ${name} table`, {
        code: 'CMC_LOAD_INVALID',
        cause: new ValidationError(result.issues),
        context: { table: name, row: i, ...at },
      });
    });
  }
  return out;
}

function upsertSql(name: DataTable, schema: Schema<Fields>, target: string, staging: string): string {
  const key = schema.primaryKey.map((k) => quoteIdentifier(k)).join(', ');
  const cols = schema.columns.map((c) => quoteIdentifier(c.name));
  const others = schema.columns.filter((c) => !schema.primaryKey.includes(c.name)).map((c) => c.name);
  // Several rows of one key in a command make ON CONFLICT DO UPDATE fail: keep one per key.
  const newer = NEWER_ONLY[name];
  // A key staged twice (a coin on two pages of a snapshot) keeps its newest version.
  const order = newer === undefined ? key : `${key}, ${quoteIdentifier(newer)} DESC NULLS LAST`;
  let sql = `INSERT INTO ${target} AS t (${cols.join(', ')})\n  SELECT DISTINCT ON (${key}) ${cols.join(', ')} FROM ${staging} ORDER BY ${order}\n  ON CONFLICT (${key}) `;
  if (name === 'quote' || others.length === 0) {
    sql += 'DO NOTHING';
  } else {
    const keep = KEEP_WHEN_NULL[name];
    const incoming = (column: string) => {
      const q = quoteIdentifier(column);
      return keep?.has(column) ? `COALESCE(EXCLUDED.${q}, t.${q})` : `EXCLUDED.${q}`;
    };
    const set = others.map((c) => `${quoteIdentifier(c)} = ${incoming(c)}`).join(', ');
    const current = others.map((c) => `t.${quoteIdentifier(c)}`).join(', ');
    const next = others.map(incoming).join(', ');
    sql += `DO UPDATE SET ${set}\n  WHERE ROW(${current}) IS DISTINCT FROM ROW(${next})`;
    if (newer) sql += ` AND EXCLUDED.${quoteIdentifier(newer)} >= t.${quoteIdentifier(newer)}`;
  }
  // xmax = 0 only on a freshly inserted row version: tells inserts from updates.
  return `WITH changed AS (\n${sql}\n  RETURNING (xmax = 0) AS inserted\n)\nSELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM changed`;
}

/** One value as a CSV field of COPY: unquoted empty is NULL, `""` the empty string. */
function csvField(column: Column, value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (column.def.kind) {
    case 'string':
      return `"${(value as string).replace(/"/g, '""')}"`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'timestamp':
      return (value as Date).toISOString();
    case 'int32':
    case 'int64':
    case 'double':
    case 'decimal':
    case 'date':
      return String(value);
    default:
      throw new TributaryError(
        `column ${column.name}: ${column.def.kind} columns are not loadable by COPY here`,
        {
          code: 'CMC_LOAD_INVALID',
        },
      );
  }
}

function* csvChunks(columns: readonly Column[], rows: readonly Record<string, unknown>[]): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as Column;
      if (i > 0) line += ',';
      line += csvField(column, row[column.name]);
    }
    chunk += `${line}\n`;
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}
