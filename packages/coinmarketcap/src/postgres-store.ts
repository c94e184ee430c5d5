import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Column,
  type EventListener,
  emitSafely,
  type Fields,
  qualifiedName,
  quoteIdentifier,
  type Schema,
  TributaryError,
  toPostgresDdl,
  ValidationError,
} from '@tributary/core';
import { from as copyFrom } from 'pg-copy-streams';
import type { NormalizedListings } from './normalize.js';
import { CRYPTO_SCHEMA, CRYPTO_TABLES, type CryptoTableName, type LoadRow } from './schemas.js';

/** What {@link PostgresStore} needs of a `pg` client: `pg.PoolClient` fits. */
export interface PgClientLike {
  // biome-ignore lint/suspicious/noExplicitAny: rows of any shape, as pg returns them
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  release(error?: Error | boolean): void;
}

/** What {@link PostgresStore} needs of a `pg` pool: `pg.Pool` fits. */
export interface PgPoolLike {
  // biome-ignore lint/suspicious/noExplicitAny: rows of any shape, as pg returns them
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  connect(): Promise<PgClientLike>;
}

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** A `pg.Pool` (or anything with its `query()` and `connect()`); the store never ends it. */
  pool: PgPoolLike;
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

/**
 * A load was rolled back: nothing of it is in the database. `cause` holds the driver's error (or
 * a `ValidationError` for rows that do not fit the schemas); `context.table` the table at fault.
 *
 * @example
 * ```ts
 * try { await store.load(rows, { source: 'listings/latest' }); } catch (err) {
 *   if (err instanceof PostgresStoreError) console.error(err.context.table, err.cause);
 * }
 * ```
 */
export class PostgresStoreError extends TributaryError {
  override name = 'PostgresStoreError';
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

function invalidOption(message: string, field: string): TributaryError {
  return new TributaryError(message, { code: 'CMC_STORE_OPTIONS_INVALID', context: { variable: field } });
}

/**
 * The relational model of CoinMarketCap data in PostgreSQL. `init()` creates the schema and the
 * tables (DDL from the schemas); `load()` writes normalized rows in one transaction: COPY FROM
 * STDIN into temporary staging tables, then `INSERT … ON CONFLICT` into the tables, updating only
 * rows whose values changed, so loading the same response twice changes nothing. Quotes are
 * history (their key includes `last_updated`): existing ones are never rewritten.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ pool: new pg.Pool({ connectionString }) });
 * await store.init();
 * const result = await store.load(normalizeListings(data), { source: 'listings/latest', creditsUsed: 1 });
 * console.log(result.tables.quote.inserted);
 * ```
 */
export class PostgresStore {
  readonly options: Readonly<PostgresStoreOptions> & { readonly schema: string };

  constructor(options: PostgresStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw invalidOption('PostgresStore needs an options object', 'options');
    }
    const pool = options.pool as Partial<PgPoolLike> | undefined;
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

  /** Load normalized rows in one transaction; any failure rolls it all back. */
  async load(rows: NormalizedListings, options: LoadOptions): Promise<LoadResult> {
    if (typeof options?.source !== 'string' || options.source.length === 0) {
      throw invalidOption('load() options.source must be a non-empty string', 'source');
    }
    const creditsUsed = options.creditsUsed ?? 0;
    if (!Number.isInteger(creditsUsed) || creditsUsed < 0 || creditsUsed > 2 ** 31 - 1) {
      throw invalidOption('load() options.creditsUsed must be a non-negative 32-bit integer', 'creditsUsed');
    }
    const startedAt = new Date();
    const validated = validateAll(rows);

    let table: CryptoTableName | undefined;
    let client: PgClientLike;
    try {
      client = await this.options.pool.connect();
    } catch (error) {
      throw this.#failed(error, 'connecting to PostgreSQL failed', undefined, 0);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const tables = {} as Record<CryptoTableName, TableLoadCounts>;
      let changed = 0;
      for (const name of DATA_TABLES) {
        table = name;
        const counts = await this.#loadTable(client, name, validated[name]);
        tables[name] = counts;
        changed += counts.inserted + counts.updated;
      }
      table = 'load';
      const finishedAt = new Date();
      const loadRow: LoadRow = {
        id: randomUUID(),
        started_at: startedAt,
        finished_at: finishedAt,
        rows: BigInt(changed),
        credits_used: creditsUsed,
        source: options.source,
      };
      await client.query(
        `INSERT INTO ${this.tableName('load')} (id, started_at, finished_at, rows, credits_used, source) VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          loadRow.id,
          loadRow.started_at,
          loadRow.finished_at,
          loadRow.rows.toString(),
          loadRow.credits_used,
          loadRow.source,
        ],
      );
      tables.load = { inserted: 1, updated: 0 };
      table = undefined;
      await client.query('COMMIT');
      const total = DATA_TABLES.reduce((n, t) => n + validated[t].length, 0);
      emitSafely(this.options.onEvent, {
        type: 'records.out',
        source: SOURCE,
        count: total,
        time: Date.now(),
      });
      return Object.freeze({
        loadId: loadRow.id,
        startedAt,
        finishedAt,
        rows: changed,
        tables: Object.freeze(tables),
      });
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // A connection that cannot roll back must not go back to the pool mid-transaction.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      const total = DATA_TABLES.reduce((n, t) => n + validated[t].length, 0);
      throw this.#failed(
        error,
        `loading into ${table ?? 'the tables'} failed; the load was rolled back`,
        table,
        total,
      );
    } finally {
      client.release(broken);
    }
  }

  #failed(error: unknown, message: string, table: string | undefined, count: number): PostgresStoreError {
    const wrapped = new PostgresStoreError(message, {
      code: 'CMC_LOAD_FAILED',
      cause: error,
      context: { schema: this.options.schema, ...(table === undefined ? {} : { table }) },
    });
    emitSafely(this.options.onEvent, {
      type: 'failure',
      source: SOURCE,
      count,
      code: wrapped.code,
      error: wrapped,
      time: Date.now(),
    });
    return wrapped;
  }

  async #loadTable(
    client: PgClientLike,
    name: DataTable,
    rows: readonly Record<string, unknown>[],
  ): Promise<TableLoadCounts> {
    const schema = CRYPTO_TABLES[name] as Schema<Fields>;
    const target = this.tableName(name);
    const staging = quoteIdentifier(`tributary_staging_${name}`);
    if (rows.length === 0) return { inserted: 0, updated: 0 };
    await client.query(`CREATE TEMP TABLE ${staging} (LIKE ${target}) ON COMMIT DROP`);
    const columns = schema.columns;
    const columnList = columns.map((c) => quoteIdentifier(c.name)).join(', ');
    const copy = client.query(
      copyFrom(`COPY ${staging} (${columnList}) FROM STDIN (FORMAT csv)`) as never,
    ) as unknown as NodeJS.WritableStream;
    await pipeline(Readable.from(csvChunks(columns, rows)), copy);
    const result = await client.query(upsertSql(name, schema, target, staging));
    const counts = result.rows[0] as { inserted: number; updated: number } | undefined;
    return { inserted: Number(counts?.inserted ?? 0), updated: Number(counts?.updated ?? 0) };
  }
}

function validateAll(rows: NormalizedListings): Record<DataTable, Record<string, unknown>[]> {
  const out = {} as Record<DataTable, Record<string, unknown>[]>;
  for (const name of DATA_TABLES) {
    const input = (rows as unknown as Record<string, unknown>)[name];
    if (!Array.isArray(input)) {
      throw new PostgresStoreError(`load() rows.${name} must be an array`, {
        code: 'CMC_LOAD_INVALID',
        context: { table: name },
      });
    }
    const schema = CRYPTO_TABLES[name] as Schema<Fields>;
    out[name] = input.map((row, i) => {
      const result = schema.validate(row);
      if (result.ok) return result.value as Record<string, unknown>;
      throw new PostgresStoreError(`load() rows.${name}[${i}] does not fit the ${name} table`, {
        code: 'CMC_LOAD_INVALID',
        cause: new ValidationError(result.issues),
        context: { table: name, row: i },
      });
    });
  }
  return out;
}

function upsertSql(name: DataTable, schema: Schema<Fields>, target: string, staging: string): string {
  const key = schema.primaryKey.map(quoteIdentifier).join(', ');
  const cols = schema.columns.map((c) => quoteIdentifier(c.name));
  const others = schema.columns.filter((c) => !schema.primaryKey.includes(c.name)).map((c) => c.name);
  // Several rows of one key in a command make ON CONFLICT DO UPDATE fail: keep one per key.
  let sql = `INSERT INTO ${target} AS t (${cols.join(', ')})\n  SELECT DISTINCT ON (${key}) ${cols.join(', ')} FROM ${staging} ORDER BY ${key}\n  ON CONFLICT (${key}) `;
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
    const newer = NEWER_ONLY[name];
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
