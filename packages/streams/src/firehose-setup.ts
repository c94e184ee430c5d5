import type { CreateDeliveryStreamCommandInput } from '@aws-sdk/client-firehose';
import { OptionsError, optionChecks } from '@tributary/core';
import { FirehosePrefixError, resolveFirehosePrefixes } from '@tributary/lake';

/** CloudWatch logging of a Firehose stream's delivery errors. */
export interface FirehoseLogging {
  logGroupName: string;
  logStreamName: string;
}

export interface DeliveryStreamInputOptions {
  /** 1 to 64 letters, digits, `_`, `.` or `-`. */
  deliveryStreamName: string;
  /** The source: `arn:aws:kinesis:<region>:<account>:stream/<name>`. */
  kinesisStreamArn: string;
  /** The role Firehose assumes to read the stream and write the bucket: `arn:aws:iam::<account>:role/<name>`. */
  roleArn: string;
  /** The raw zone's bucket: `arn:aws:s3:::<bucket>`. */
  bucketArn: string;
  /**
   * Where objects land, e.g. `clicks/`. Firehose's grammar, checked by the lake's
   * `parseFirehosePrefix` (the one the local delivery uses); `''` puts them at the bucket's root;
   * without a `!{timestamp:...}` expression, `!{timestamp:yyyy/MM/dd/HH}/`
   * is appended. `!{partitionKeyFrom...}` is refused: this stream has no dynamic partitioning.
   */
  prefix: string;
  /**
   * Default `errors/<the prefix up to its first expression>` (`errors/clicks/`);
   * `!{firehose:error-output-type}/` and the hour folders are appended when missing.
   */
  errorPrefix?: string;
  /** Buffering interval, 0 to 900 s. Default 60. */
  bufferIntervalSeconds?: number;
  /** Buffer size, 1 to 128 MiB. Default 5. */
  bufferSizeMiB?: number;
  /** Default `UNCOMPRESSED` (Firehose's default, and the local delivery's). */
  compression?: 'GZIP' | 'UNCOMPRESSED';
  /** Log delivery errors to CloudWatch Logs. Default: no logging. */
  logging?: FirehoseLogging;
}

/**
 * `createDeliveryStreamInput` got an option Firehose would refuse: core's `OptionsError` with code
 * `FIREHOSE_SETUP_OPTIONS_INVALID`, `option` (and `context.option`) naming it. Kept as a name for
 * `OptionsError`, so that `err instanceof FirehoseSetupError` still holds.
 *
 * @example
 * ```ts
 * import { createDeliveryStreamInput, FirehoseSetupError } from '@tributary/streams/firehose';
 *
 * try {
 *   createDeliveryStreamInput({
 *     deliveryStreamName: 'clicks-to-raw',
 *     kinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/clicks',
 *     roleArn: 'arn:aws:iam::123456789012:role/firehose-clicks',
 *     prefix: 'clicks/',
 *     bucketArn: 'my-bucket', // not an ARN
 *   });
 * } catch (err) {
 *   if (err instanceof FirehoseSetupError) console.log(err.code, err.option); // FIREHOSE_SETUP_OPTIONS_INVALID bucketArn
 *   else throw err;
 * }
 * ```
 */
export const FirehoseSetupError = OptionsError;
/** `createDeliveryStreamInput` got an option Firehose would refuse (`FIREHOSE_SETUP_OPTIONS_INVALID`): core's `OptionsError`. */
export type FirehoseSetupError = OptionsError;

const PARTITION = 'aws(?:-[a-z]+)*';
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d';
const KINESIS_STREAM_ARN = new RegExp(
  `^arn:${PARTITION}:kinesis:${REGION}:\\d{12}:stream/[A-Za-z0-9_.-]{1,128}$`,
);
const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}$`);
// Bucket names: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
const BUCKET_ARN = new RegExp(`^arn:${PARTITION}:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`);
const DELIVERY_STREAM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const LOG_NAME = /^[^:*]{1,512}$/;

const check = optionChecks('createDeliveryStreamInput', 'FIREHOSE_SETUP_OPTIONS_INVALID');

function matching(option: string, value: unknown, pattern: RegExp, expected: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw check.invalid(option, value, expected);
  return value;
}

/** Both prefixes by the lake's Firehose grammar, its errors as this function's. */
function prefixesOf(prefix: unknown, errorPrefix: unknown): { prefix: string; errorPrefix: string } {
  if (typeof prefix !== 'string') throw check.invalid('prefix', prefix, 'a string');
  if (errorPrefix !== undefined && typeof errorPrefix !== 'string') {
    throw check.invalid('errorPrefix', errorPrefix, 'a string');
  }
  try {
    const resolved = resolveFirehosePrefixes({ prefix, errorPrefix });
    return { prefix: resolved.prefix.text, errorPrefix: resolved.errorPrefix.text };
  } catch (error) {
    if (!(error instanceof FirehosePrefixError)) throw error;
    const option = error.context.option as string;
    throw new OptionsError(`createDeliveryStreamInput option ${option}: ${error.message}`, {
      code: 'FIREHOSE_SETUP_OPTIONS_INVALID',
      option,
      cause: error,
    });
  }
}

/**
 * The `CreateDeliveryStream` input of a Firehose stream that reads a Kinesis data stream and
 * writes the raw zone the way `deliverToLake` does locally: `KinesisStreamAsSource`, an
 * extended S3 destination with `Prefix` `<prefix>!{timestamp:yyyy/MM/dd/HH}/`,
 * `ErrorOutputPrefix` `errors/<prefix>!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/`,
 * 60 s / 5 MiB buffering and the file extension `.ndjson` (`.ndjson.gz` with GZIP), so objects
 * are named `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson[.gz]`. Firehose
 * de-aggregates KPL records itself. ARNs, names and ranges are checked here, and so is
 * Firehose's rule that a `Prefix` with expressions needs a non-empty `ErrorOutputPrefix`. The
 * role needs `kinesis:DescribeStream`, `GetShardIterator`, `GetRecords`, `ListShards` on the
 * stream and `s3:PutObject`, `GetBucketLocation`, `ListBucket` on the bucket.
 *
 * @example
 * ```ts
 * import { CreateDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
 * import { createDeliveryStreamInput } from '@tributary/streams/firehose';
 * const input = createDeliveryStreamInput({
 *   deliveryStreamName: 'clicks-to-raw',
 *   kinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/clicks',
 *   roleArn: 'arn:aws:iam::123456789012:role/firehose-clicks',
 *   prefix: 'clicks/',
 *   bucketArn: 'arn:aws:s3:::tributary-raw',
 *   compression: 'GZIP',
 * });
 * await new FirehoseClient({}).send(new CreateDeliveryStreamCommand(input));
 * ```
 */
export function createDeliveryStreamInput(
  options: DeliveryStreamInputOptions,
): CreateDeliveryStreamCommandInput {
  check.object('options', options);
  const deliveryStreamName = matching(
    'deliveryStreamName',
    options.deliveryStreamName,
    DELIVERY_STREAM_NAME,
    '1 to 64 letters, digits, "_", "." or "-"',
  );
  const kinesisStreamArn = matching(
    'kinesisStreamArn',
    options.kinesisStreamArn,
    KINESIS_STREAM_ARN,
    'a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)',
  );
  const roleArn = matching(
    'roleArn',
    options.roleArn,
    ROLE_ARN,
    'an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
  );
  const bucketArn = matching(
    'bucketArn',
    options.bucketArn,
    BUCKET_ARN,
    'an S3 bucket ARN (arn:aws:s3:::<bucket>)',
  );

  const { prefix, errorPrefix } = prefixesOf(options.prefix, options.errorPrefix);

  const interval = check.integerInRange('bufferIntervalSeconds', options.bufferIntervalSeconds, 60, {
    min: 0,
    max: 900,
  });
  const size = check.integerInRange('bufferSizeMiB', options.bufferSizeMiB, 5, { min: 1, max: 128 });
  const compression = check.oneOf('compression', options.compression ?? 'UNCOMPRESSED', [
    'GZIP',
    'UNCOMPRESSED',
  ] as const);
  const { logging } = options;
  if (logging !== undefined) {
    if (typeof logging !== 'object' || logging === null) {
      throw check.invalid('logging', logging, '{ logGroupName, logStreamName }');
    }
    matching('logging.logGroupName', logging.logGroupName, LOG_NAME, 'a log group name');
    matching('logging.logStreamName', logging.logStreamName, LOG_NAME, 'a log stream name');
  }

  return {
    DeliveryStreamName: deliveryStreamName,
    DeliveryStreamType: 'KinesisStreamAsSource',
    KinesisStreamSourceConfiguration: { KinesisStreamARN: kinesisStreamArn, RoleARN: roleArn },
    ExtendedS3DestinationConfiguration: {
      RoleARN: roleArn,
      BucketARN: bucketArn,
      Prefix: prefix,
      ErrorOutputPrefix: errorPrefix,
      BufferingHints: { IntervalInSeconds: interval, SizeInMBs: size },
      CompressionFormat: compression,
      FileExtension: compression === 'GZIP' ? '.ndjson.gz' : '.ndjson',
      CloudWatchLoggingOptions:
        logging === undefined
          ? { Enabled: false }
          : { Enabled: true, LogGroupName: logging.logGroupName, LogStreamName: logging.logStreamName },
    },
  };
}
