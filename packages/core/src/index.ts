export type { BatcherClock, BatcherOptions, FlushInfo, FlushReason } from './batcher.js';
export { Batcher, FlushFailedError } from './batcher.js';
export { daysFromCivil } from './civil-date.js';
export type { SleepOptions } from './clock.js';
export { type Clock, sleep, systemClock } from './clock.js';
export type { LoadConfigOptions, Mode, TributaryConfig, WarehouseEngine } from './config.js';
export { loadConfig, Secret } from './config.js';
export type { DecimalProblem } from './decimal.js';
export { decimalToUnscaled, isCanonicalDecimal, normalizeDecimal, unscaledToDecimal } from './decimal.js';
export type { NdjsonDecodeOptions } from './encoding.js';
export {
  createNdjsonDecoder,
  createNdjsonEncoder,
  decodeNdjson,
  encodeNdjson,
  encodeNdjsonLine,
  NdjsonDecodeError,
  NdjsonDecoderStream,
  NdjsonEncoderStream,
  ndjsonLines,
} from './encoding.js';
export type {
  CoreErrorCode,
  ErrorContext,
  FailedItem,
  OptionsErrorCode,
  TributaryErrorOptions,
  ValidationIssue,
} from './errors.js';
export {
  ConfigError,
  describeValue,
  ItemTooLargeError,
  OptionsError,
  PartialBatchFailureError,
  RetryExhaustedError,
  TributaryError,
  ValidationError,
} from './errors.js';
export type {
  EventHubOptions,
  EventListener,
  StageStats,
  TributaryEvent,
  TributaryEventOf,
  TributaryEventType,
} from './events.js';
export { EventCounters, EventHub, emitSafely } from './events.js';
export { mapLimit } from './map-limit.js';
export type { OptionChecks } from './options.js';
export { optionChecks } from './options.js';
export type { ErrorClassification, RetryInfo, RetryOptions } from './retry.js';
export { classifyError, computeBackoff, isRetryable, retryAfterMs, withRetry } from './retry.js';
export type {
  AnyField,
  Column,
  FieldDef,
  FieldKind,
  Fields,
  Infer,
  Presence,
  PrimitiveKind,
  Schema,
  SchemaOptions,
  ValidationResult,
} from './schema.js';
export { defineSchema, Field, field, MAX_TIMESTAMP_MS, parseIsoTimestamp } from './schema.js';
export type {
  AthenaColumn,
  GlueColumn,
  SparkStructField,
  SparkStructType,
  SparkType,
} from './schema-catalog.js';
export { athenaSqlType, hiveType, toAthenaColumns, toGlueColumns, toSparkSchema } from './schema-catalog.js';
export type {
  ParquetLogicalType,
  ParquetNode,
  ParquetPhysicalType,
  ParquetRepetition,
} from './schema-parquet.js';
export { decimalByteLength, toParquetMessage, toParquetSchema } from './schema-parquet.js';
export type { PostgresDdlOptions, RedshiftDdlOptions, SqlDialect, TableName } from './schema-sql.js';
export {
  postgresType,
  qualifiedName,
  quoteIdentifier,
  quoteIdentifierFor,
  quoteLiteral,
  redshiftType,
  toPostgresDdl,
  toRedshiftDdl,
} from './schema-sql.js';
export type {
  SdkHandler,
  SdkMiddleware,
  SdkMiddlewareHost,
  SdkRetryEventsOptions,
} from './sdk-retry-events.js';
export { addSdkRetryEvents, SDK_RETRY_EVENTS_MIDDLEWARE } from './sdk-retry-events.js';
export type { TokenBucketOptions } from './token-bucket.js';
export { TokenBucket } from './token-bucket.js';
export { isWellFormedText, utf8ByteLength } from './utf8.js';
export {
  type CheckedOutClient,
  type ClientErrorListener,
  type ClientPool,
  type PgClient,
  type PgPool,
  type PgQueryResult,
  withClient,
} from './with-client.js';
