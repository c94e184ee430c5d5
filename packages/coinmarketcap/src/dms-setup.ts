import type {
  CreateEndpointCommandInput,
  CreateReplicationTaskCommandInput,
  S3Settings,
} from '@aws-sdk/client-database-migration-service';
import { describeValue, type Fields, type Schema } from '@tributary/core';
import { type DmsFileLayout, resolveDmsLayout } from './dms-layout.js';
import { DmsSetupError } from './errors.js';
import { CRYPTO_SCHEMA, CRYPTO_TABLES, type CryptoTableName } from './schemas.js';

export { DmsSetupError };

/** Options of {@link createDmsS3TargetEndpointInput}. */
export interface DmsS3TargetEndpointOptions {
  /** Letters, digits and hyphens, starting with a letter; no `--`, no trailing `-`; at most 255. */
  endpointIdentifier: string;
  /** The raw zone's bucket (its name, not its ARN). */
  bucketName: string;
  /** The role DMS assumes to write the bucket: `arn:aws:iam::<account>:role/<name>`. */
  serviceAccessRoleArn: string;
  /**
   * Where the tables' folders go in the bucket, as the transforms' `prefix`: `<prefix><schema>/<table>/`.
   * Default `coinmarketcap/` (DMS's `BucketFolder` `coinmarketcap`). `''` for the bucket's root.
   */
  prefix?: string;
  /** The files' layout; pass the same object to the transforms (`dms`). Default `{}`: DMS's defaults. */
  layout?: DmsFileLayout;
  /**
   * Parquet only: timestamps in milliseconds (what Athena and Glue read) rather than DMS's
   * microseconds. The transforms read both. Default true.
   */
  parquetTimestampInMillisecond?: boolean;
  /** Full-load files roll over past this size in KB, 1 to 1,048,576. Default DMS's 1,048,576 (1 GB). */
  maxFileSizeKb?: number;
  /** A CDC file is written after this many seconds at most, 1 to 86,400. Default DMS's 60. */
  cdcMaxBatchIntervalSeconds?: number;
}

/** Options of {@link createDmsReplicationTaskInput}. */
export interface DmsReplicationTaskOptions {
  /** Same rules as an endpoint identifier. */
  replicationTaskIdentifier: string;
  /** The PostgreSQL (RDS) source endpoint: `arn:aws:dms:<region>:<account>:endpoint:<id>`. */
  sourceEndpointArn: string;
  /** The S3 target endpoint of {@link createDmsS3TargetEndpointInput}. */
  targetEndpointArn: string;
  /** `arn:aws:dms:<region>:<account>:rep:<id>`. */
  replicationInstanceArn: string;
  /** The PostgreSQL schema of the tables. Default {@link CRYPTO_SCHEMA}. */
  schema?: string;
  /** Default every table of {@link CRYPTO_TABLES} (the transforms read `cryptocurrency` and `quote`). */
  tables?: readonly CryptoTableName[];
  /** Default `full-load-and-cdc`: LOAD files, then CDC files as the source changes. */
  migrationType?: 'full-load' | 'cdc' | 'full-load-and-cdc';
  /**
   * DMS treats PostgreSQL `text` as a LOB, which an S3 target carries in limited LOB mode only:
   * longer values are cut to this many KB. Default 32 (DMS's default).
   */
  lobMaxSizeKb?: number;
}

/** One rule of a DMS task's table mappings. */
export interface DmsSelectionRule {
  'rule-type': 'selection';
  'rule-id': string;
  'rule-name': string;
  'object-locator': { 'schema-name': string; 'table-name': string };
  'rule-action': 'include';
}

const PARTITION = 'aws(?:-[a-z]+)*';
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d';
const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}$`);
const DMS_ARN = (kind: string) =>
  new RegExp(`^arn:${PARTITION}:dms:${REGION}:\\d{12}:${kind}:[A-Za-z0-9-]{1,255}$`);
const ENDPOINT_ARN = DMS_ARN('endpoint');
const INSTANCE_ARN = DMS_ARN('rep');
// DMS identifiers: a letter first, then letters, digits and single hyphens, no trailing hyphen.
const IDENTIFIER = /^[A-Za-z](?:-?[A-Za-z0-9])*$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const FOLDER = /^[A-Za-z0-9!_.*'()-]+(?:\/[A-Za-z0-9!_.*'()-]+)*\/$/;

function invalid(fn: string, option: string, value: unknown, expected: string): DmsSetupError {
  return new DmsSetupError(`${fn} option ${option} must be ${expected}, got ${describeValue(value)}`, option);
}

function matching(fn: string, option: string, value: unknown, pattern: RegExp, expected: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(fn, option, value, expected);
  return value;
}

function identifier(fn: string, option: string, value: unknown): string {
  if (typeof value === 'string' && value.length <= 255 && IDENTIFIER.test(value)) return value;
  throw invalid(fn, option, value, 'letters, digits and single hyphens, starting with a letter, at most 255');
}

function integer(fn: string, option: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  throw invalid(fn, option, value, `an integer from ${min} to ${max}`);
}

/**
 * The `CreateEndpoint` input of a DMS S3 target endpoint that writes the raw zone as the crypto
 * transforms read it: `<prefix><schema>/<table>/LOAD….csv|parquet` and CDC files named by their
 * UTC time, with the `layout`'s header row, `Op` column, timestamp column and date folders. Every
 * setting that shapes the files is written out, DMS's defaults included, so the endpoint does
 * not depend on them: comma-separated, `\n`-terminated, RFC 4180 quoting, null as an empty field
 * (`CsvNullValue` `''`), every change with its `Op` (`CdcInsertsOnly`/`CdcInsertsAndUpdates`
 * false), files per table (`PreserveTransactions` false, so no `CdcPath`), uncompressed. A
 * `timestampColumnName` that is also a column of a crypto table is refused. The role needs
 * `s3:PutObject`, `s3:DeleteObject`, `s3:PutObjectTagging` and `s3:ListBucket` on the bucket.
 *
 * @example
 * ```ts
 * import { CreateEndpointCommand, DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
 * import { createDmsS3TargetEndpointInput, type DmsFileLayout } from '@tributary/coinmarketcap/dms';
 *
 * const layout: DmsFileLayout = { dataFormat: 'parquet', includeOpForFullLoad: true, datePartitionEnabled: true };
 * const input = createDmsS3TargetEndpointInput({
 *   endpointIdentifier: 'cmc-raw',
 *   bucketName: 'acme-tributary-raw',
 *   serviceAccessRoleArn: 'arn:aws:iam::123456789012:role/dms-s3-raw',
 *   layout,
 * });
 * await new DatabaseMigrationServiceClient({}).send(new CreateEndpointCommand(input));
 * // later: cryptoRawToProcessed({ raw: lake.raw, processed: lake.processed, dms: layout })
 * ```
 */
export function createDmsS3TargetEndpointInput(
  options: DmsS3TargetEndpointOptions,
): CreateEndpointCommandInput {
  const fn = 'createDmsS3TargetEndpointInput';
  if (typeof options !== 'object' || options === null) throw invalid(fn, 'options', options, 'an object');
  const endpointIdentifier = identifier(fn, 'endpointIdentifier', options.endpointIdentifier);
  const bucketName = matching(fn, 'bucketName', options.bucketName, BUCKET, 'an S3 bucket name');
  const role = matching(
    fn,
    'serviceAccessRoleArn',
    options.serviceAccessRoleArn,
    ROLE_ARN,
    'an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
  );
  const prefix = options.prefix ?? 'coinmarketcap/';
  if (prefix !== '') matching(fn, 'prefix', prefix, FOLDER, "'' or folder names each followed by '/'");
  let layout: ReturnType<typeof resolveDmsLayout>;
  try {
    layout = resolveDmsLayout(options.layout ?? {}, fn);
  } catch (error) {
    throw new DmsSetupError((error as Error).message, 'layout', error);
  }
  const ts = layout.timestampColumnName;
  if (ts !== undefined) {
    const clash = Object.entries(CRYPTO_TABLES).find(([, schema]) =>
      (schema as Schema<Fields>).columns.some((c) => c.name.toLowerCase() === ts.toLowerCase()),
    );
    if (clash) {
      throw invalid(
        fn,
        'layout.timestampColumnName',
        ts,
        `a name that is no column of a crypto table (${clash[0]} has it)`,
      );
    }
  }
  const millis = options.parquetTimestampInMillisecond ?? true;
  if (typeof millis !== 'boolean') throw invalid(fn, 'parquetTimestampInMillisecond', millis, 'a boolean');
  const maxFileSize = integer(fn, 'maxFileSizeKb', options.maxFileSizeKb, 1, 1_048_576);
  const batchInterval = integer(
    fn,
    'cdcMaxBatchIntervalSeconds',
    options.cdcMaxBatchIntervalSeconds,
    1,
    86_400,
  );

  const settings: S3Settings = {
    ServiceAccessRoleArn: role,
    BucketName: bucketName,
    ...(prefix === '' ? {} : { BucketFolder: prefix.slice(0, -1) }),
    DataFormat: layout.dataFormat,
    CompressionType: 'none',
    IncludeOpForFullLoad: layout.includeOpForFullLoad,
    CdcInsertsOnly: false,
    CdcInsertsAndUpdates: false,
    PreserveTransactions: false,
    DatePartitionEnabled: layout.datePartitionEnabled,
    ...(layout.datePartitionEnabled
      ? {
          DatePartitionSequence: layout.datePartitionSequence,
          DatePartitionDelimiter: layout.datePartitionDelimiter,
        }
      : {}),
    ...(ts === undefined ? {} : { TimestampColumnName: ts }),
    ...(maxFileSize === undefined ? {} : { MaxFileSize: maxFileSize }),
    ...(batchInterval === undefined ? {} : { CdcMaxBatchInterval: batchInterval }),
  };
  if (layout.dataFormat === 'csv') {
    Object.assign(settings, {
      AddColumnName: layout.addColumnName,
      CsvDelimiter: ',',
      CsvRowDelimiter: '\n',
      CsvNullValue: '',
      Rfc4180: true,
    } satisfies S3Settings);
  } else {
    Object.assign(settings, {
      ParquetVersion: 'parquet-1-0',
      ParquetTimestampInMillisecond: millis,
      EnableStatistics: true,
    } satisfies S3Settings);
  }
  return {
    EndpointIdentifier: endpointIdentifier,
    EndpointType: 'target',
    EngineName: 's3',
    S3Settings: settings,
  };
}

/**
 * The table mappings that select the crypto tables of `schema`, one `include` rule per table
 * (never a `%` wildcard, which would also take other tables of the schema, such as the
 * `_changes` log of `installChangeCapture`).
 *
 * @example
 * ```ts
 * import { dmsTableMappings } from '@tributary/coinmarketcap/dms';
 *
 * const mappings = JSON.stringify(dmsTableMappings('coinmarketcap', ['cryptocurrency', 'quote']));
 * ```
 */
export function dmsTableMappings(
  schema: string = CRYPTO_SCHEMA,
  tables: readonly CryptoTableName[] = Object.keys(CRYPTO_TABLES) as CryptoTableName[],
): { rules: DmsSelectionRule[] } {
  const fn = 'dmsTableMappings';
  matching(fn, 'schema', schema, SCHEMA_NAME, 'a PostgreSQL schema name (letters, digits, _ and $)');
  if (
    !Array.isArray(tables) ||
    tables.length === 0 ||
    tables.some((t) => typeof t !== 'string' || !Object.hasOwn(CRYPTO_TABLES, t))
  ) {
    throw invalid(fn, 'tables', tables, `a non-empty list of ${Object.keys(CRYPTO_TABLES).join(', ')}`);
  }
  return {
    rules: [...new Set(tables)].map((table, i) => ({
      'rule-type': 'selection',
      'rule-id': String(i + 1),
      'rule-name': `include-${table}`,
      'object-locator': { 'schema-name': schema, 'table-name': table },
      'rule-action': 'include',
    })),
  };
}

/**
 * The `CreateReplicationTask` input of the DMS task that copies the crypto tables from PostgreSQL
 * (RDS) to the S3 target: {@link dmsTableMappings}, full load then CDC by default, and task
 * settings that an S3 target needs: limited LOB mode (PostgreSQL `text` is a LOB to DMS;
 * `FullLobMode` is not supported on S3) and `DROP_AND_CREATE`, so that reloading a table
 * replaces its files instead of replaying stale CDC files over a new full load. The source needs
 * logical replication (`rds.logical_replication = 1` on RDS).
 *
 * @example
 * ```ts
 * import { CreateReplicationTaskCommand, DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
 * import { createDmsReplicationTaskInput } from '@tributary/coinmarketcap/dms';
 *
 * const input = createDmsReplicationTaskInput({
 *   replicationTaskIdentifier: 'cmc-to-raw',
 *   sourceEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:endpoint:CMCPOSTGRES',
 *   targetEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:endpoint:CMCRAW',
 *   replicationInstanceArn: 'arn:aws:dms:eu-west-1:123456789012:rep:TRIBUTARY',
 * });
 * await new DatabaseMigrationServiceClient({}).send(new CreateReplicationTaskCommand(input));
 * ```
 */
export function createDmsReplicationTaskInput(
  options: DmsReplicationTaskOptions,
): CreateReplicationTaskCommandInput {
  const fn = 'createDmsReplicationTaskInput';
  if (typeof options !== 'object' || options === null) throw invalid(fn, 'options', options, 'an object');
  const id = identifier(fn, 'replicationTaskIdentifier', options.replicationTaskIdentifier);
  const endpointArn = 'a DMS endpoint ARN (arn:aws:dms:<region>:<account>:endpoint:<id>)';
  const source = matching(fn, 'sourceEndpointArn', options.sourceEndpointArn, ENDPOINT_ARN, endpointArn);
  const target = matching(fn, 'targetEndpointArn', options.targetEndpointArn, ENDPOINT_ARN, endpointArn);
  if (source === target) throw invalid(fn, 'targetEndpointArn', target, 'another endpoint than the source');
  const instance = matching(
    fn,
    'replicationInstanceArn',
    options.replicationInstanceArn,
    INSTANCE_ARN,
    'a DMS replication instance ARN (arn:aws:dms:<region>:<account>:rep:<id>)',
  );
  const migrationType = options.migrationType ?? 'full-load-and-cdc';
  if (!['full-load', 'cdc', 'full-load-and-cdc'].includes(migrationType)) {
    throw invalid(fn, 'migrationType', migrationType, "'full-load', 'cdc' or 'full-load-and-cdc'");
  }
  const lobMaxSize = integer(fn, 'lobMaxSizeKb', options.lobMaxSizeKb, 1, 102_400) ?? 32;
  let mappings: { rules: DmsSelectionRule[] };
  try {
    mappings = dmsTableMappings(options.schema ?? CRYPTO_SCHEMA, options.tables);
  } catch (error) {
    const option = String((error as DmsSetupError).context.option ?? 'tables');
    throw new DmsSetupError((error as Error).message.replace('dmsTableMappings', fn), option, error);
  }
  const settings = {
    TargetMetadata: {
      SupportLobs: true,
      FullLobMode: false,
      LimitedSizeLobMode: true,
      LobMaxSize: lobMaxSize,
    },
    FullLoadSettings: { TargetTablePrepMode: 'DROP_AND_CREATE' },
  };
  return {
    ReplicationTaskIdentifier: id,
    SourceEndpointArn: source,
    TargetEndpointArn: target,
    ReplicationInstanceArn: instance,
    MigrationType: migrationType,
    TableMappings: JSON.stringify(mappings),
    ReplicationTaskSettings: JSON.stringify(settings),
  };
}
