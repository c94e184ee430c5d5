import { TributaryError } from './errors.js';

/** The listener {@link withClient} adds to a checked-out connection for its 'error' events. */
export type ClientErrorListener = (error: Error) => void;

/**
 * What {@link withClient} needs of a pooled connection: `pg.PoolClient` fits. `on` and
 * `removeListener` are optional so that a test double without events still fits; every `pg`
 * client has them.
 */
export interface CheckedOutClient {
  release(error?: Error | boolean): void;
  on?(event: 'error', listener: ClientErrorListener): unknown;
  removeListener?(event: 'error', listener: ClientErrorListener): unknown;
}

/** What {@link withClient} needs of a pool: `pg.Pool` fits. */
export interface ClientPool<C extends CheckedOutClient> {
  connect(): Promise<C>;
}

/**
 * The result of a `pg` query as tributary reads it: `pg.QueryResult` fits.
 *
 * @example
 * ```ts
 * const { rowCount }: PgQueryResult = await pool.query('DELETE FROM quote WHERE day < $1', ['2024-01-01']);
 * ```
 */
export interface PgQueryResult {
  // biome-ignore lint/suspicious/noExplicitAny: rows of any shape, as pg returns them
  rows: any[];
  /** Rows the statement touched; `null` for statements that report none (e.g. `BEGIN`). */
  rowCount: number | null;
}

/**
 * A `pg` connection checked out of a {@link PgPool}, typed by what tributary calls:
 * `pg.PoolClient` fits, and so does a plain test double with `query` and `release`.
 *
 * @example
 * ```ts
 * await withClient(pool, async (client: PgClient) => {
 *   await client.query('BEGIN');
 *   await client.query('INSERT INTO t (id) VALUES ($1)', ['a']);
 *   await client.query('COMMIT');
 * });
 * ```
 */
export interface PgClient extends CheckedOutClient {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
}

/**
 * A `pg` pool, typed by what tributary calls: `pg.Pool` fits. Every package that takes a
 * PostgreSQL (or Redshift) connection takes one of these, and never ends it: whoever creates the
 * pool ends it.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 *
 * const pgPool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const shared: PgPool = pgPool; // what PostgresStore, PostgresLoader and RedshiftLoader take
 * const { rows } = await shared.query('SELECT 1 AS n');
 * await pgPool.end();
 * ```
 */
export interface PgPool extends ClientPool<PgClient> {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Check a connection out of `pool`, run `use` with it, and give it back, whatever happens.
 *
 * A `pg` pool listens for 'error' on idle connections only: a connection that dies while checked
 * out (its backend terminated, its socket dropped) emits 'error' with no listener, and Node ends
 * the process. Here the connection has a listener for its whole checkout. When `use` fails, or
 * the connection reported an error, it is released as broken (`release(error)`), so the pool
 * discards it instead of handing a dead or mid-transaction connection to the next caller.
 *
 * A dying connection reports its error as an event and then fails the next query with a vaguer
 * one ("not queryable"). So when the connection reported an error and `use` then failed with an
 * error that is not already a {@link TributaryError}, `withClient` rejects with the connection's
 * error (the driver's own, e.g. SQLSTATE 57P01); a typed error thrown by `use` passes unchanged.
 * Errors of `connect()` pass unchanged.
 *
 * @example
 * ```ts
 * import type pg from 'pg';
 *
 * const count = await withClient(pool, async (client: pg.PoolClient) => {
 *   const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM quote');
 *   return rows[0]?.n ?? 0;
 * });
 * ```
 */
export async function withClient<C extends CheckedOutClient, T>(
  pool: ClientPool<C>,
  use: (client: C) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let reported: Error | undefined;
  const listener: ClientErrorListener = (error) => {
    reported ??= asError(error);
  };
  const listens = typeof client.on === 'function';
  if (listens) client.on?.('error', listener);
  let result: T;
  try {
    result = await use(client);
  } catch (error) {
    const failure = reported !== undefined && !TributaryError.isInstance(error) ? reported : error;
    giveBack(client, listener, listens, asError(failure));
    throw failure;
  }
  giveBack(client, listener, listens, reported);
  return result;
}

function giveBack(
  client: CheckedOutClient,
  listener: ClientErrorListener,
  listens: boolean,
  broken: Error | undefined,
): void {
  try {
    client.release(broken);
  } finally {
    // A broken connection may still report errors while the pool closes it: keep listening.
    if (listens && broken === undefined) client.removeListener?.('error', listener);
  }
}
