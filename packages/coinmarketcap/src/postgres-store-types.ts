// The public types of PostgresStore: its options, what a load is given and what it answers.
import type { EventListener, PgPool } from '@tributary/core';
import type { NormalizedListings, NormalizeOptions } from './normalize.js';
import type { CryptoTableName } from './schemas.js';
import type { CmcListing, CmcStatus } from './types.js';

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
