export type {
  AthenaDdlOptions,
  PartitionProjection,
  ProjectionOptions,
} from './catalog/athena-ddl.js';
export { hiveIdentifier, hiveString, toAthenaDdl } from './catalog/athena-ddl.js';
export type { CrawlOptions } from './catalog/crawl.js';
export { crawl } from './catalog/crawl.js';
export { CatalogError, SchemaChangeError } from './catalog/errors.js';
export type { LocalCatalogOptions } from './catalog/local-catalog.js';
export { LocalCatalog } from './catalog/local-catalog.js';
export type {
  AddPartitionsResult,
  Catalog,
  ColumnChange,
  ColumnConflict,
  ColumnElement,
  ColumnKind,
  GetTableOptions,
  HiveTypeNode,
  PartitionKey,
  PutTableResult,
  TableColumn,
  TableDefinition,
  TableFormat,
  TablePartition,
} from './catalog/table.js';
export { parseHiveType } from './catalog/table.js';
export type {
  CompactOptions,
  DatasetFile,
  InvalidRecord,
  Manifest,
  ReadDatasetOptions,
  RecoverDatasetOptions,
  RecoveryResult,
  WriteDatasetOptions,
  WriteDatasetResult,
  WriteMode,
} from './dataset.js';
export {
  compact,
  listDatasetFiles,
  readDataset,
  readManifest,
  recoverDataset,
  writeDataset,
} from './dataset.js';
export type {
  Delivery,
  DeliveryClock,
  DeliveryData,
  DeliveryErrorType,
  DeliveryFlushed,
  DeliveryFlushReason,
  DeliveryOptions,
  DeliveryRecord,
  DeliveryStats,
} from './delivery.js';
export { createDelivery, DeliveryError } from './delivery.js';
export type { LakeErrorCode } from './errors.js';
export {
  FirehosePrefixError,
  InvalidKeyError,
  ObjectNotFoundError,
  PartitionError,
  StorageError,
} from './errors.js';
export type {
  FirehosePartitionKeys,
  FirehosePrefix,
  FirehosePrefixField,
  FirehosePrefixPart,
  FirehosePrefixValues,
  ParseFirehosePrefixOptions,
  ResolveFirehosePrefixesOptions,
} from './firehose-prefix.js';
export {
  DEFAULT_FIREHOSE_TIME_PREFIX,
  evaluateFirehosePrefix,
  hasFirehoseTimestamp,
  MAX_FIREHOSE_PREFIX_LENGTH,
  parseFirehosePrefix,
  resolveFirehosePrefixes,
} from './firehose-prefix.js';
export { csvFormat } from './formats/csv.js';
export { ndjsonFormat } from './formats/ndjson.js';
export type { ParquetColumnInfo, ParquetErrorCode } from './formats/parquet.js';
export {
  DEFAULT_ROW_GROUP_BYTES,
  ParquetError,
  parquetFormat,
  parquetRowCount,
  readParquetSchema,
} from './formats/parquet.js';
export { formatFor, formatOfKey } from './formats/registry.js';
export type {
  ColumnStats,
  FileFormat,
  FileStats,
  FormatName,
  ReadOptions,
  RecordWriter,
  WriterOptions,
} from './formats/types.js';
export type { IcebergCatalog, LoadedTable } from './iceberg/catalog.js';
export { StorageCatalog } from './iceberg/catalog.js';
export type { IcebergErrorCode } from './iceberg/errors.js';
export { IcebergError } from './iceberg/errors.js';
export type {
  ExpireSnapshotsOptions,
  ExpireSnapshotsResult,
  RemoveOrphanFilesOptions,
} from './iceberg/maintenance.js';
export {
  DEFAULT_ORPHAN_GRACE_MS,
  DEFAULT_SNAPSHOT_MAX_AGE_MS,
  expireSnapshots,
  removeOrphanFiles,
} from './iceberg/maintenance.js';
export type { Snapshot, TableMetadata } from './iceberg/metadata.js';
export type {
  IcebergField,
  IcebergPartitionField,
  IcebergPartitionSpec,
  IcebergSchema,
  IcebergType,
} from './iceberg/schema.js';
export { schemaFromIceberg } from './iceberg/schema.js';
export type {
  IcebergCommit,
  IcebergCompactOptions,
  IcebergReadOptions,
  IcebergScan,
  IcebergWriteMode,
  IcebergWriteOptions,
  IcebergWriteResult,
} from './iceberg/table.js';
export { compactIceberg, readIceberg, scanIceberg, writeIceberg } from './iceberg/table.js';
export type { Lake, ZoneName } from './lake.js';
export { createLake, localLake, ZONES } from './lake.js';
export type { LocalStorageOptions } from './local-storage.js';
export { LocalStorage } from './local-storage.js';
export { MemoryStorage } from './memory-storage.js';
export type { PartitionSpec } from './partitions.js';
export {
  byDay,
  byField,
  byHour,
  checkPartitionName,
  escapePartitionValue,
  HIVE_DEFAULT_PARTITION,
  parsePartitions,
  partitionPath,
  partitionPathOf,
  unescapePartitionValue,
} from './partitions.js';
export type { Body, GetOptions, ListOptions, ObjectInfo, PutOptions, Storage } from './storage.js';
export { assertValidKey, compareKeys } from './storage.js';
export type { LakeTableFormat, TableFormatOptions } from './table-format.js';
export { checkIcebergCatalog, checkTableFormat, tableFormatOptions } from './table-format.js';
