// What `--mode aws` needs to exist before the pipeline runs, and the `--cleanup` that removes it.
// Every resource is named by the config; nothing else in the account is listed, changed or deleted.
import {
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  type FirehoseClient,
} from '@aws-sdk/client-firehose';
import {
  CreateDatabaseCommand,
  DeleteDatabaseCommand,
  GetDatabaseCommand,
  type GlueClient,
} from '@aws-sdk/client-glue';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from '@aws-sdk/client-kinesis';
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { classifyError, type TributaryConfig, TributaryError } from '@tributary/core';
import { GlueCatalog } from '@tributary/lake/glue';
import { parseS3Url } from '@tributary/lake/s3';
import { createDeliveryStreamInput } from '@tributary/streams/firehose';

/** The SDK clients provisioning and teardown send their requests with (created and destroyed by the caller). */
export interface AwsProvisionClients {
  readonly s3: S3Client;
  readonly kinesis: KinesisClient;
  readonly glue: GlueClient;
  readonly firehose: FirehoseClient;
}

/** The Firehose delivery stream from the Kinesis stream into the raw zone. */
export interface FirehoseSetup {
  /** The role Firehose assumes to read the stream and write the raw bucket: `arn:aws:iam::<account>:role/<name>`. */
  readonly roleArn: string;
  /** Default: `deliveryStreamNameOf(config)`, i.e. `<stream>-to-raw`. */
  readonly deliveryStreamName?: string;
}

/** Options of {@link provisionAws}. */
export interface ProvisionOptions {
  /** Create the Firehose delivery stream too. Default: no Firehose (the pipeline delivers with the lake's buffered delivery). */
  readonly firehose?: FirehoseSetup | false;
  readonly signal?: AbortSignal;
  /** Called once per resource with a line such as `created kinesis stream tributary-sensors`. */
  readonly onStep?: (line: string) => void;
  /** Longest wait for the stream or the delivery stream to become ACTIVE. Default 300 s. */
  readonly maxWaitSeconds?: number;
}

/** What {@link provisionAws} found: resources it created and resources that were already there. */
export interface ProvisionReport {
  readonly created: string[];
  readonly existing: string[];
}

/** Options of {@link teardownAws}. */
export interface TeardownOptions {
  /** The delivery stream to delete. Default: `deliveryStreamNameOf(config)`. */
  readonly deliveryStreamName?: string;
  readonly signal?: AbortSignal;
  readonly onStep?: (line: string) => void;
  /** Longest wait for a deleted stream to disappear. Default 300 s. */
  readonly maxWaitSeconds?: number;
}

/** What {@link teardownAws} did. `kept` lists buckets shared with other data (zones under a prefix), emptied of the zone only. */
export interface TeardownReport {
  readonly deleted: string[];
  readonly missing: string[];
  readonly kept: string[];
}

/**
 * Provisioning or teardown failed for one resource. `context.resource` names it; `cause` is
 * the SDK's error.
 *
 * @example
 * ```ts
 * try { await provisionAws(clients, config); } catch (err) {
 *   if (err instanceof AwsProvisionError) console.error(err.context.resource, err.message);
 * }
 * ```
 */
export class AwsProvisionError extends TributaryError {
  override name = 'AwsProvisionError';

  constructor(
    message: string,
    options: { resource: string; code?: string; cause?: unknown; retryable?: boolean },
  ) {
    super(message, {
      code: options.code ?? 'AWS_PROVISION_FAILED',
      cause: options.cause,
      retryable:
        options.retryable ?? (options.cause === undefined ? false : classifyError(options.cause).retryable),
      context: { resource: options.resource },
    });
  }
}

const DEFAULT_WAIT_SECONDS = 300;

/**
 * The delivery stream's default name: `<stream>-to-raw` (Firehose allows 64 characters).
 *
 * @example
 * ```ts
 * deliveryStreamNameOf(loadConfig()); // 'tributary-sensors-to-raw'
 * ```
 */
export function deliveryStreamNameOf(config: TributaryConfig): string {
  return `${config.stream.name}-to-raw`;
}

/** The distinct buckets of the three zones, each with the key prefixes the zones use in it ('' = the whole bucket). */
function zoneBuckets(config: TributaryConfig): Map<string, string[]> {
  const buckets = new Map<string, string[]>();
  for (const url of [config.lake.raw, config.lake.processed, config.lake.curated]) {
    const { bucket, prefix } = parseS3Url(url);
    const prefixes = buckets.get(bucket) ?? [];
    prefixes.push(prefix);
    buckets.set(bucket, prefixes);
  }
  return buckets;
}

/** The SDK's error name (`ResourceNotFoundException`, `NotFound`, ...), or '' for anything else. */
function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string'
    ? (err as { name: string }).name
    : '';
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** S3's ways of saying a bucket is not there. */
function isMissingBucket(err: unknown): boolean {
  return errorName(err) === 'NotFound' || errorName(err) === 'NoSuchBucket' || statusOf(err) === 404;
}

/**
 * `true` when the call succeeds, `false` when it fails in an expected way (the resource is already
 * there, or already gone: an error named in `expected`, or one `isExpected` accepts); anything else
 * propagates.
 */
async function succeeded(
  call: Promise<unknown>,
  expected: readonly string[],
  isExpected: (err: unknown) => boolean = () => false,
): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (err) {
    if (expected.includes(errorName(err)) || isExpected(err)) return false;
    throw err;
  }
}

/** Runs one SDK call, turning its failure into an AwsProvisionError naming the resource; an abort stays an abort. */
async function step<T>(
  resource: string,
  what: string,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  try {
    return await run();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (TributaryError.isInstance(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new AwsProvisionError(`${what} failed for ${resource}: ${errorName(err) || 'error'}: ${message}`, {
      resource,
      cause: err,
    });
  }
}

/**
 * Creates what the pipeline needs on AWS and is missing: the Kinesis stream (waiting until it is
 * ACTIVE), the zones' buckets, the Glue database and, when asked, the Firehose delivery stream
 * from the stream into the raw zone (`<raw>/sensors/!{timestamp:yyyy/MM/dd/HH}/`, 60 s buffer,
 * errors under `<raw>/errors/sensors/`). Resources that exist are left as they are and listed
 * as `existing`, so a second call creates nothing.
 *
 * @example
 * ```ts
 * const report = await provisionAws({ s3, kinesis, glue, firehose }, loadConfig(), {
 *   firehose: { roleArn: 'arn:aws:iam::123456789012:role/tributary-firehose' },
 * });
 * console.log(report.created, report.existing);
 * ```
 */
export async function provisionAws(
  clients: AwsProvisionClients,
  config: TributaryConfig,
  options: ProvisionOptions = {},
): Promise<ProvisionReport> {
  const { signal, onStep } = options;
  const maxWaitTime = options.maxWaitSeconds ?? DEFAULT_WAIT_SECONDS;
  const report: ProvisionReport = { created: [], existing: [] };
  const note = (created: boolean, resource: string) => {
    (created ? report.created : report.existing).push(resource);
    onStep?.(`${created ? 'created' : 'found existing'} ${resource}`);
  };

  const streamArn = await ensureStream(clients.kinesis, config, signal, maxWaitTime, note);

  for (const bucket of zoneBuckets(config).keys()) {
    await ensureBucket(clients.s3, bucket, config.region, signal, note);
  }
  // Athena writes its results there; create it when it is a bucket of its own, never empty it later.
  if (config.warehouse.athenaOutput !== undefined) {
    const { bucket } = parseS3Url(config.warehouse.athenaOutput);
    if (!zoneBuckets(config).has(bucket)) await ensureBucket(clients.s3, bucket, config.region, signal, note);
  }

  await ensureDatabase(clients.glue, config.warehouse.glueDatabase, signal, note);

  if (options.firehose) {
    await ensureDeliveryStream(
      clients.firehose,
      config,
      options.firehose,
      streamArn,
      signal,
      maxWaitTime,
      note,
    );
  }
  return report;
}

async function ensureStream(
  kinesis: KinesisClient,
  config: TributaryConfig,
  signal: AbortSignal | undefined,
  maxWaitTime: number,
  note: (created: boolean, resource: string) => void,
): Promise<string> {
  const { name, shards } = config.stream;
  const resource = `kinesis stream ${name}`;
  const describe = () =>
    step(resource, 'DescribeStreamSummary', signal, async () => {
      try {
        const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }), {
          abortSignal: signal,
        });
        return out.StreamDescriptionSummary;
      } catch (err) {
        if (errorName(err) === 'ResourceNotFoundException') return undefined;
        throw err;
      }
    });
  const waiter = { client: kinesis, maxWaitTime, minDelay: 1, maxDelay: 10, abortSignal: signal };

  let summary = await describe();
  if (summary?.StreamStatus === 'DELETING') {
    // A teardown moments ago: creating the same name only works once the old stream is gone.
    await step(resource, 'waiting for the deleted stream to disappear', signal, () =>
      waitUntilStreamNotExists(waiter, { StreamName: name }),
    );
    summary = undefined;
  }
  const created = summary === undefined;
  if (created) {
    await step(resource, 'CreateStream', signal, async () => {
      try {
        await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }), {
          abortSignal: signal,
        });
      } catch (err) {
        // Created by someone else between our describe and create: it exists, which is what we want.
        if (errorName(err) !== 'ResourceInUseException') throw err;
      }
    });
  }
  if (created || summary?.StreamStatus !== 'ACTIVE') {
    await step(resource, 'waiting for the stream to become ACTIVE', signal, () =>
      waitUntilStreamExists(waiter, { StreamName: name }),
    );
    summary = await describe();
  }
  const arn = summary?.StreamARN;
  if (arn === undefined) {
    throw new AwsProvisionError(`Kinesis stream ${name} has no ARN after creation`, { resource });
  }
  note(created, resource);
  return arn;
}

async function ensureBucket(
  s3: S3Client,
  bucket: string,
  region: string,
  signal: AbortSignal | undefined,
  note: (created: boolean, resource: string) => void,
): Promise<void> {
  const resource = `s3 bucket ${bucket}`;
  const exists = await step(resource, 'HeadBucket', signal, async () => {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
      return true;
    } catch (err) {
      if (isMissingBucket(err)) return false;
      if (statusOf(err) === 403) {
        throw new AwsProvisionError(
          `S3 bucket ${bucket} exists but this account may not use it (403): bucket names are global, choose another TRIBUTARY_BUCKET_PREFIX or TRIBUTARY_LAKE_* URL`,
          { resource, code: 'AWS_BUCKET_FORBIDDEN', cause: err, retryable: false },
        );
      }
      throw err;
    }
  });
  if (exists) {
    note(false, resource);
    return;
  }
  const created = await step(resource, 'CreateBucket', signal, () =>
    succeeded(
      s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          // us-east-1 is the one region that refuses an explicit location constraint.
          ...(region === 'us-east-1'
            ? {}
            : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
        { abortSignal: signal },
      ),
      ['BucketAlreadyOwnedByYou'],
    ),
  );
  note(created, resource);
}

async function ensureDatabase(
  glue: GlueClient,
  database: string,
  signal: AbortSignal | undefined,
  note: (created: boolean, resource: string) => void,
): Promise<void> {
  const resource = `glue database ${database}`;
  const created = await step(resource, 'CreateDatabase', signal, () =>
    succeeded(
      glue.send(
        new CreateDatabaseCommand({
          DatabaseInput: { Name: database, Description: 'tributary: the lake tables of the demo pipelines' },
        }),
        { abortSignal: signal },
      ),
      ['AlreadyExistsException'],
    ),
  );
  note(created, resource);
}

async function describeDeliveryStream(
  firehose: FirehoseClient,
  name: string,
  resource: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  return step(resource, 'DescribeDeliveryStream', signal, async () => {
    try {
      const out = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }), {
        abortSignal: signal,
      });
      return out.DeliveryStreamDescription?.DeliveryStreamStatus ?? 'UNKNOWN';
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundException') return undefined;
      throw err;
    }
  });
}

/** Polls until `done(status)`; Firehose has no waiter in the SDK. */
async function pollDeliveryStream(
  firehose: FirehoseClient,
  name: string,
  resource: string,
  signal: AbortSignal | undefined,
  maxWaitTime: number,
  done: (status: string | undefined) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + maxWaitTime * 1000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 10_000)) {
    const status = await describeDeliveryStream(firehose, name, resource, signal);
    if (done(status)) return;
    if (status?.endsWith('_FAILED')) {
      throw new AwsProvisionError(`Firehose delivery stream ${name} is ${status}`, { resource });
    }
    if (Date.now() + delay > deadline) {
      throw new AwsProvisionError(
        `Firehose delivery stream ${name} is still ${status ?? 'present'} after ${maxWaitTime} s (${what})`,
        {
          resource,
          code: 'AWS_PROVISION_TIMEOUT',
          retryable: true,
        },
      );
    }
    await sleep(delay, signal);
  }
}

async function ensureDeliveryStream(
  firehose: FirehoseClient,
  config: TributaryConfig,
  setup: FirehoseSetup,
  streamArn: string,
  signal: AbortSignal | undefined,
  maxWaitTime: number,
  note: (created: boolean, resource: string) => void,
): Promise<void> {
  const name = setup.deliveryStreamName ?? deliveryStreamNameOf(config);
  const resource = `firehose delivery stream ${name}`;
  const raw = parseS3Url(config.lake.raw);
  // The stream's ARN carries the partition (aws, aws-cn, aws-us-gov) the bucket's ARN needs.
  const partition = streamArn.split(':')[1] ?? 'aws';
  // Validated before anything is sent, so a bad role ARN fails here rather than half-way.
  const input = createDeliveryStreamInput({
    deliveryStreamName: name,
    kinesisStreamArn: streamArn,
    roleArn: setup.roleArn,
    bucketArn: `arn:${partition}:s3:::${raw.bucket}`,
    prefix: `${raw.prefix}sensors/`,
    errorPrefix: `${raw.prefix}errors/sensors/`,
    bufferIntervalSeconds: 60,
  });
  const status = await describeDeliveryStream(firehose, name, resource, signal);
  let created = false;
  if (status === undefined) {
    created = await step(resource, 'CreateDeliveryStream', signal, () =>
      succeeded(firehose.send(new CreateDeliveryStreamCommand(input), { abortSignal: signal }), [
        'ResourceInUseException',
      ]),
    );
  }
  if (status !== 'ACTIVE') {
    await pollDeliveryStream(
      firehose,
      name,
      resource,
      signal,
      maxWaitTime,
      (s) => s === 'ACTIVE',
      'waiting for ACTIVE',
    );
  }
  note(created, resource);
}

/**
 * Deletes what {@link provisionAws} creates, by the config's names only: the Firehose delivery
 * stream, the Kinesis stream, the Glue database's tables and the database, and the zones'
 * objects. A bucket that is a zone as a whole is emptied (every object version) and deleted; a
 * zone under a prefix of a bucket only loses the objects under its prefix, and the bucket is
 * kept. The Athena output bucket, when it is not a zone's, is never touched. Resources that do
 * not exist are listed as `missing`.
 *
 * @example
 * ```ts
 * const report = await teardownAws({ s3, kinesis, glue, firehose }, loadConfig());
 * console.log(report.deleted); // ['firehose delivery stream …', 'kinesis stream tributary-sensors', …]
 * ```
 */
export async function teardownAws(
  clients: AwsProvisionClients,
  config: TributaryConfig,
  options: TeardownOptions = {},
): Promise<TeardownReport> {
  const { signal, onStep } = options;
  const maxWaitTime = options.maxWaitSeconds ?? DEFAULT_WAIT_SECONDS;
  const report: TeardownReport = { deleted: [], missing: [], kept: [] };
  const note = (outcome: keyof TeardownReport, resource: string) => {
    report[outcome].push(resource);
    onStep?.(
      `${outcome === 'deleted' ? 'deleted' : outcome === 'missing' ? 'not found' : 'kept'} ${resource}`,
    );
  };

  // The delivery stream first: it reads the Kinesis stream and writes the raw bucket.
  const deliveryName = options.deliveryStreamName ?? deliveryStreamNameOf(config);
  const delivery = `firehose delivery stream ${deliveryName}`;
  if ((await describeDeliveryStream(clients.firehose, deliveryName, delivery, signal)) === undefined) {
    note('missing', delivery);
  } else {
    await step(delivery, 'DeleteDeliveryStream', signal, () =>
      clients.firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: deliveryName }), {
        abortSignal: signal,
      }),
    );
    await pollDeliveryStream(
      clients.firehose,
      deliveryName,
      delivery,
      signal,
      maxWaitTime,
      (s) => s === undefined,
      'waiting for deletion',
    );
    note('deleted', delivery);
  }

  const streamName = config.stream.name;
  const stream = `kinesis stream ${streamName}`;
  const deletedStream = await step(stream, 'DeleteStream', signal, () =>
    succeeded(
      clients.kinesis.send(new DeleteStreamCommand({ StreamName: streamName }), {
        abortSignal: signal,
      }),
      ['ResourceNotFoundException'],
    ),
  );
  if (deletedStream) {
    await step(stream, 'waiting for the stream to disappear', signal, () =>
      waitUntilStreamNotExists(
        { client: clients.kinesis, maxWaitTime, minDelay: 1, maxDelay: 10, abortSignal: signal },
        { StreamName: streamName },
      ),
    );
  }
  note(deletedStream ? 'deleted' : 'missing', stream);

  await dropDatabase(clients.glue, config.warehouse.glueDatabase, signal, note);

  for (const [bucket, prefixes] of zoneBuckets(config)) {
    const whole = prefixes.includes('');
    await emptyBucket(clients.s3, bucket, whole ? [''] : prefixes, signal, note);
  }
  return report;
}

async function dropDatabase(
  glue: GlueClient,
  database: string,
  signal: AbortSignal | undefined,
  note: (outcome: keyof TeardownReport, resource: string) => void,
): Promise<void> {
  const resource = `glue database ${database}`;
  const exists = await step(resource, 'GetDatabase', signal, () =>
    succeeded(glue.send(new GetDatabaseCommand({ Name: database }), { abortSignal: signal }), [
      'EntityNotFoundException',
    ]),
  );
  if (!exists) {
    note('missing', resource);
    return;
  }
  const catalog = new GlueCatalog({ client: glue, database });
  // Deleting the database would take its tables along, but naming each one makes the report exact.
  for (const table of await step(resource, 'GetTables', signal, () => catalog.listTables())) {
    signal?.throwIfAborted();
    if (await catalog.deleteTable(table)) note('deleted', `glue table ${database}.${table}`);
  }
  await step(resource, 'DeleteDatabase', signal, () =>
    glue.send(new DeleteDatabaseCommand({ Name: database }), { abortSignal: signal }),
  );
  note('deleted', resource);
}

async function emptyBucket(
  s3: S3Client,
  bucket: string,
  prefixes: readonly string[],
  signal: AbortSignal | undefined,
  note: (outcome: keyof TeardownReport, resource: string) => void,
): Promise<void> {
  const resource = `s3 bucket ${bucket}`;
  const exists = await step(resource, 'HeadBucket', signal, () =>
    succeeded(
      s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal }),
      [],
      isMissingBucket,
    ),
  );
  if (!exists) {
    note('missing', resource);
    return;
  }
  for (const prefix of prefixes) {
    // Versions and delete markers too: a versioned bucket is only empty once they are gone.
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await step(resource, 'ListObjectVersions', signal, () =>
        s3.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            Prefix: prefix === '' ? undefined : prefix,
            KeyMarker: keyMarker,
            VersionIdMarker: versionMarker,
          }),
          { abortSignal: signal },
        ),
      );
      const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
        .filter((v) => v.Key !== undefined)
        .map((v) => ({ Key: v.Key as string, VersionId: v.VersionId }));
      if (objects.length > 0) {
        const out = await step(resource, 'DeleteObjects', signal, () =>
          s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }), {
            abortSignal: signal,
          }),
        );
        const [failed] = out.Errors ?? [];
        if (failed !== undefined) {
          throw new AwsProvisionError(
            `DeleteObjects failed for ${out.Errors?.length} objects of ${resource}, e.g. ${failed.Key}: ${failed.Code} ${failed.Message ?? ''}`.trim(),
            { resource },
          );
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
  }
  if (prefixes.includes('')) {
    await step(resource, 'DeleteBucket', signal, () =>
      s3.send(new DeleteBucketCommand({ Bucket: bucket }), { abortSignal: signal }),
    );
    note('deleted', resource);
  } else {
    note(
      'kept',
      `${resource} (emptied ${prefixes.map((p) => `${p}*`).join(', ')} only: the zones are prefixes of it)`,
    );
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
