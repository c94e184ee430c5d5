export type {
  CallOptions,
  CoinMarketCapClientOptions,
  CoinMarketCapPlan,
  CoinSelector,
  FetchLike,
  FiatMapParams,
  GlobalMetricsParams,
  InfoParams,
  ListingsAllParams,
  ListingsHistoricalParams,
  ListingsLatestParams,
  ListingsPage,
  MapParams,
  QuotesHistoricalParams,
  QuotesLatestParams,
} from './client.js';
export {
  CMC_PRO_BASE_URL,
  CMC_SANDBOX_BASE_URL,
  CoinMarketCapClient,
} from './client.js';
export type {
  CoinMarketCapEndpoint,
  CreditEstimateInput,
  CreditLedgerOptions,
  CreditUsage,
} from './credits.js';
export { CreditLedger, estimateCredits } from './credits.js';
export type { CoinDailyRow, MarketDailyRow } from './curated-schemas.js';
export { coinDailySchema, marketDailySchema } from './curated-schemas.js';
export type { ExportTablesOptions, ExportWatermarks, TableExport, WatermarkStore } from './dms-export.js';
export {
  cdcSchema,
  DmsExportError,
  exportTables,
  installChangeCapture,
  storageWatermarks,
} from './dms-export.js';
export type { DmsDatePartitionDelimiter, DmsDatePartitionSequence, DmsFileLayout } from './dms-layout.js';
export type { ReplayExportOptions } from './dms-replay.js';
export { replayExport } from './dms-replay.js';
export type {
  CoinMarketCapApiErrorOptions,
  CoinMarketCapErrorCode,
  CoinMarketCapResponseErrorOptions,
  CoinMarketCapResponseProblem,
  CreditPeriod,
} from './errors.js';
export { CoinMarketCapApiError, CoinMarketCapResponseError, CreditBudgetExceededError } from './errors.js';
export type { NormalizedListings, NormalizeOptions } from './normalize.js';
export { CoinMarketCapNormalizeError, normalizeListings, normalizeQuotes } from './normalize.js';
export type {
  LoadOptions,
  LoadResult,
  PgClientLike,
  PgPoolLike,
  PostgresStoreOptions,
  SnapshotLoadOptions,
  SnapshotPage,
  TableLoadCounts,
} from './postgres-store.js';
export { PostgresStore, PostgresStoreError } from './postgres-store.js';
export type {
  CryptocurrencyRow,
  CryptocurrencyTagRow,
  CryptoTableName,
  LoadRow,
  PlatformRow,
  QuoteRow,
  TagRow,
} from './schemas.js';
export {
  CRYPTO_SCHEMA,
  CRYPTO_TABLES,
  cryptocurrencySchema,
  cryptocurrencyTagSchema,
  loadSchema,
  platformSchema,
  quoteSchema,
  tagSchema,
} from './schemas.js';
export type {
  CryptoProcessedToCuratedOptions,
  CryptoProcessedToCuratedResult,
  CryptoRawToProcessedOptions,
  CryptoRawToProcessedResult,
} from './transforms.js';
export {
  COIN_DAILY_TABLE,
  CRYPTO_CURATED_PARTITIONS,
  CryptoTransformError,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  MARKET_DAILY_TABLE,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
  QUOTE_DAY_PARTITION,
} from './transforms.js';
export type {
  CmcFiat,
  CmcGlobalMetrics,
  CmcGlobalQuote,
  CmcHistoricalQuotePoint,
  CmcHistoricalQuotes,
  CmcInfoItem,
  CmcListing,
  CmcMapItem,
  CmcPlatform,
  CmcQuote,
  CmcQuoteItem,
  CmcResponse,
  CmcStatus,
  CmcTag,
  CmcUrls,
} from './types.js';
