import { defineSchema, field, type Infer } from '@tributary/core';

/**
 * The PostgreSQL schema (namespace) that {@link PostgresStore} creates its tables in by default.
 *
 * @example
 * ```ts
 * await pool.query(`SELECT count(*) FROM ${CRYPTO_SCHEMA}.quote`);
 * ```
 */
export const CRYPTO_SCHEMA = 'coinmarketcap';

// Prices run from fractions of a satoshi to trillions of dollars of market cap: 20 integer digits
// and 18 fraction digits hold both without float rounding.
const amount = () => field.decimal(38, 18);

/**
 * A cryptocurrency: identity, rank and supply figures of its latest listing.
 *
 * @example
 * ```ts
 * declare const line: string; // one NDJSON line
 * const row: CryptocurrencyRow = cryptocurrencySchema.parse(JSON.parse(line)); // a ValidationError names every bad field
 * ```
 */
export const cryptocurrencySchema = defineSchema(
  {
    id: field.int32().describe('CoinMarketCap id'),
    name: field.string(),
    symbol: field.string(),
    slug: field.string(),
    cmc_rank: field.int32().nullable(),
    num_market_pairs: field.int32().nullable(),
    circulating_supply: amount().nullable(),
    total_supply: amount().nullable(),
    max_supply: amount().nullable(),
    infinite_supply: field.boolean().nullable(),
    date_added: field.timestamp(),
    last_updated: field.timestamp(),
    platform_id: field.int32().nullable().describe('the parent chain of a token (platform.id)'),
    token_address: field.string().nullable(),
  },
  { primaryKey: ['id'], description: 'cryptocurrencies as of their latest listing' },
);

/**
 * A platform: the chain that tokens live on.
 *
 * @example
 * ```ts
 * const row: PlatformRow = platformSchema.parse({ id: 1027, name: 'Ethereum', symbol: 'ETH', slug: 'ethereum' });
 * ```
 */
export const platformSchema = defineSchema(
  { id: field.int32(), name: field.string(), symbol: field.string(), slug: field.string() },
  { primaryKey: ['id'], description: 'parent chains of tokens' },
);

/**
 * A tag. Listings only carry slugs, so `name` and `category` may be unknown.
 *
 * @example
 * ```ts
 * const row: TagRow = tagSchema.parse({ slug: 'defi', name: null, category: null });
 * ```
 */
export const tagSchema = defineSchema(
  { slug: field.string(), name: field.string().nullable(), category: field.string().nullable() },
  { primaryKey: ['slug'], description: 'tags of cryptocurrencies' },
);

/**
 * Which tags a cryptocurrency carries.
 *
 * @example
 * ```ts
 * const row: CryptocurrencyTagRow = cryptocurrencyTagSchema.parse({ cryptocurrency_id: 1, tag_slug: 'mineable' });
 * ```
 */
export const cryptocurrencyTagSchema = defineSchema(
  { cryptocurrency_id: field.int32(), tag_slug: field.string() },
  { primaryKey: ['cryptocurrency_id', 'tag_slug'], description: 'tags of each cryptocurrency' },
);

/**
 * A quote of a cryptocurrency in one convert currency at its `last_updated` time; the key
 * includes the time, so every snapshot adds history.
 *
 * @example
 * ```ts
 * declare const line: string; // one NDJSON line
 * const row: QuoteRow = quoteSchema.parse(JSON.parse(line)); // a ValidationError names every bad field
 * ```
 */
export const quoteSchema = defineSchema(
  {
    cryptocurrency_id: field.int32(),
    convert: field.string().describe('the currency of the figures, e.g. USD'),
    last_updated: field.timestamp(),
    price: amount().nullable(),
    volume_24h: amount().nullable(),
    volume_change_24h: amount().nullable(),
    percent_change_1h: amount().nullable(),
    percent_change_24h: amount().nullable(),
    percent_change_7d: amount().nullable(),
    percent_change_30d: amount().nullable(),
    market_cap: amount().nullable(),
    market_cap_dominance: amount().nullable(),
    fully_diluted_market_cap: amount().nullable(),
  },
  {
    primaryKey: ['cryptocurrency_id', 'convert', 'last_updated'],
    description: 'quote history per cryptocurrency and convert currency',
  },
);

/**
 * One load run of {@link PostgresStore}.
 *
 * @example
 * ```ts
 * const { rows } = await pool.query(`SELECT * FROM coinmarketcap.load ORDER BY started_at DESC LIMIT 1`);
 * ```
 */
export const loadSchema = defineSchema(
  {
    id: field.string().describe('a UUID'),
    started_at: field.timestamp(),
    finished_at: field.timestamp(),
    rows: field.int64().describe('rows inserted or updated by the run'),
    credits_used: field.int32(),
    source: field.string(),
  },
  { primaryKey: ['id'], description: 'one row per load run' },
);

export type CryptocurrencyRow = Infer<typeof cryptocurrencySchema>;
export type PlatformRow = Infer<typeof platformSchema>;
export type TagRow = Infer<typeof tagSchema>;
export type CryptocurrencyTagRow = Infer<typeof cryptocurrencyTagSchema>;
export type QuoteRow = Infer<typeof quoteSchema>;
export type LoadRow = Infer<typeof loadSchema>;

/**
 * Every table of the relational model, by name, in the order a load writes them.
 *
 * @example
 * ```ts
 * for (const [name, schema] of Object.entries(CRYPTO_TABLES)) console.log(name, schema.primaryKey);
 * ```
 */
export const CRYPTO_TABLES = Object.freeze({
  platform: platformSchema,
  tag: tagSchema,
  cryptocurrency: cryptocurrencySchema,
  cryptocurrency_tag: cryptocurrencyTagSchema,
  quote: quoteSchema,
  load: loadSchema,
});

/** The name of a table of the relational model. */
export type CryptoTableName = keyof typeof CRYPTO_TABLES;
