// The free names that TSDoc examples may use without declaring them (see examples.test.ts): each
// generated example module imports the ones it does not declare itself. Keep this list short and
// precisely typed; an example that needs anything else declares it.

import type { CoinMarketCapClient, PostgresStore } from '@tributary/coinmarketcap';
import type { Field, Infer, Schema } from '@tributary/core';
import type { Lake, Storage } from '@tributary/lake';
import type pg from 'pg';

/** `defineSchema({ id: field.string(), at: field.timestamp(), value: field.double() })`. */
export declare const readingSchema: Schema<{ id: Field<string>; at: Field<Date>; value: Field<number> }>;

/** A record of {@link readingSchema}. */
export type Reading = Infer<typeof readingSchema>;

/** Records to write, send or encode. */
export declare const readings: AsyncIterable<Reading>;

/** A lake with its three zones (`localLake()`, `s3Lake(...)` or `createLake(...)`). */
export declare const lake: Lake;

/** Any storage (a zone of {@link lake}, a `MemoryStorage`, ...). */
export declare const storage: Storage;

/** A PostgreSQL connection pool (`new pg.Pool({ connectionString })`). */
export declare const pool: pg.Pool;

/** `CoinMarketCapClient.fromConfig(loadConfig().coinmarketcap)`. */
export declare const cmc: CoinMarketCapClient;

/** `new PostgresStore({ pool })`, initialised. */
export declare const store: PostgresStore;
