// `--mode aws`: the same pipeline on Kinesis, S3, Glue, Athena, RDS/any PostgreSQL and Redshift,
// or on AWS-compatible endpoints given by the config (AWS_ENDPOINT_URL[_<SERVICE>]).
import { AthenaClient } from '@aws-sdk/client-athena';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { GlueClient } from '@aws-sdk/client-glue';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  ConfigError,
  type EventListener,
  loadConfig,
  OptionsError,
  type TributaryConfig,
} from '@tributary/core';
import { GlueCatalog, GlueIcebergCatalog } from '@tributary/lake/glue';
import { s3Lake } from '@tributary/lake/s3';
import { type Loader, PostgresLoader, RedshiftLoader } from '@tributary/warehouse';
import { AthenaEngine } from '@tributary/warehouse/athena';
import pg from 'pg';
import {
  type AwsProvisionClients,
  deliveryStreamNameOf,
  type FirehoseSetup,
  type ProvisionReport,
  provisionAws,
  type TeardownReport,
  teardownAws,
} from './aws-provision.js';
import type { PipelineEnvironment } from './environment.js';

/** The variable that names the Firehose role when `firehose: true`; the core config has no field for it. */
export const FIREHOSE_ROLE_VARIABLE = 'TRIBUTARY_FIREHOSE_ROLE_ARN';

/** Options of {@link createAwsEnvironment}. */
export interface AwsEnvironmentOptions {
  /** Default: `loadConfig(env)`. Its mode must be `aws`. */
  readonly config?: TributaryConfig;
  /** The variables the config (without `config`) and `TRIBUTARY_FIREHOSE_ROLE_ARN` are read from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Create what is missing (stream, buckets, Glue database, delivery stream) before returning. Default true. */
  readonly provision?: boolean;
  /**
   * Deliver with a Firehose delivery stream from the Kinesis stream into the raw zone: `true`
   * takes its role from `TRIBUTARY_FIREHOSE_ROLE_ARN`, or pass the setup. Default false (the
   * pipeline's own buffered delivery writes the raw zone).
   */
  readonly firehose?: boolean | FirehoseSetup;
  /** Credentials for every client. Default: the SDK's provider chain (environment, profile, role). */
  readonly credentials?: S3ClientConfig['credentials'];
  /** Receives the events of the catalog, the engine and the loader. */
  readonly onEvent?: EventListener;
  /** Called with one line per provisioned resource. */
  readonly onStep?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** The SDK clients of an aws environment; `close()` destroys them. */
export interface AwsClients extends AwsProvisionClients {
  readonly athena: AthenaClient;
}

/** A {@link PipelineEnvironment} on AWS, with what provisioning did and the teardown of `--cleanup`. */
export interface AwsEnvironment extends PipelineEnvironment {
  readonly mode: 'aws';
  readonly clients: AwsClients;
  /** What provisioning created and found; both empty with `provision: false`. */
  readonly provisioned: ProvisionReport;
  /** The delivery stream's name when Firehose delivers the raw zone, else `undefined`. */
  readonly deliveryStreamName: string | undefined;
  /** Deletes the provisioned resources (see `teardownAws`); the environment stays open until `close()`. */
  cleanup(): Promise<TeardownReport>;
}

/**
 * Builds the pipeline's environment for `--mode aws` from the config: SDK clients with the
 * endpoint overrides (path-style S3 when an S3 endpoint is set), the lake on the zones' buckets,
 * the Glue catalog, Athena as the engine (results under `TRIBUTARY_ATHENA_OUTPUT`, else
 * `<curated>/_athena-results/`), the source pool from `DATABASE_URL` (required), and a
 * `RedshiftLoader` when `REDSHIFT_URL` is set (a `PostgresLoader` on the source database with
 * `TRIBUTARY_WAREHOUSE=postgres`, else none). Provisions what is missing unless told not to.
 *
 * @example
 * ```ts
 * const env = await createAwsEnvironment({ onStep: console.log });
 * try {
 *   await runPipelines(env);
 * } finally {
 *   await env.close();
 * }
 * ```
 */
export async function createAwsEnvironment(options: AwsEnvironmentOptions = {}): Promise<AwsEnvironment> {
  if (typeof options !== 'object' || options === null) {
    throw new OptionsError('createAwsEnvironment options must be an object', {
      code: 'AWS_ENVIRONMENT_OPTIONS_INVALID',
      option: 'options',
    });
  }
  const variables = options.env ?? process.env;
  const config = options.config ?? loadConfig(variables);
  if (config.mode !== 'aws') {
    throw new ConfigError(`createAwsEnvironment needs TRIBUTARY_MODE=aws (got "${config.mode}")`, {
      variable: 'TRIBUTARY_MODE',
    });
  }
  const databaseUrl = config.database.url;
  if (databaseUrl === undefined) {
    throw new ConfigError(
      'DATABASE_URL is required in aws mode: the PostgreSQL (e.g. RDS) database of the crypto pipeline, as postgres://user:password@host:5432/db',
      { variable: 'DATABASE_URL' },
    );
  }
  const warehouseUrl = config.warehouse.engine === 'redshift' ? config.warehouse.url : undefined;
  if (warehouseUrl !== undefined && config.warehouse.iamRole === undefined) {
    throw new ConfigError(
      'TRIBUTARY_REDSHIFT_IAM_ROLE is required with REDSHIFT_URL: the role Redshift assumes to COPY from the lake',
      { variable: 'TRIBUTARY_REDSHIFT_IAM_ROLE' },
    );
  }
  const firehose = firehoseSetup(options.firehose, variables);
  const provision = options.provision ?? true;

  const base = { region: config.region, credentials: options.credentials };
  const clients: AwsClients = Object.freeze({
    s3: new S3Client({ ...base, endpoint: config.endpoints.s3, forcePathStyle: config.s3ForcePathStyle }),
    kinesis: new KinesisClient({
      ...base,
      endpoint: config.endpoints.kinesis,
      // The Kinesis client speaks HTTP/2 by default, which AWS-compatible servers (moto,
      // kinesalite, LocalStack) do not: an endpoint override gets HTTP/1.1, which every Kinesis
      // call the pipeline makes supports (only SubscribeToShard needs HTTP/2).
      ...(config.endpoints.kinesis === undefined ? {} : { requestHandler: new NodeHttpHandler() }),
    }),
    glue: new GlueClient({ ...base, endpoint: config.endpoints.glue }),
    firehose: new FirehoseClient({ ...base, endpoint: config.endpoints.firehose }),
    athena: new AthenaClient({ ...base, endpoint: config.endpoints.athena }),
  });
  const pools: pg.Pool[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const client of Object.values(clients)) client.destroy();
    await Promise.all(pools.map((pool) => pool.end()));
  };

  try {
    const provisioned: ProvisionReport = provision
      ? await provisionAws(clients, config, { firehose, signal: options.signal, onStep: options.onStep })
      : { created: [], existing: [] };

    const sourcePool = new pg.Pool({ connectionString: databaseUrl.reveal() });
    pools.push(sourcePool);
    let loader: Loader | undefined;
    if (warehouseUrl !== undefined) {
      const pool = new pg.Pool({ connectionString: warehouseUrl.reveal() });
      pools.push(pool);
      loader = new RedshiftLoader({
        pool,
        iamRole: config.warehouse.iamRole,
        region: config.region,
        onEvent: options.onEvent,
      });
    } else if (config.warehouse.engine === 'postgres') {
      // TRIBUTARY_WAREHOUSE=postgres: the warehouse tables live next to the source's, as in local mode.
      loader = new PostgresLoader({ pool: sourcePool, onEvent: options.onEvent });
    }

    const athenaOutput = config.warehouse.athenaOutput ?? `${config.lake.curated}/_athena-results/`;
    const deliveryStreamName = firehose
      ? (firehose.deliveryStreamName ?? deliveryStreamNameOf(config))
      : undefined;
    const lake = s3Lake(clients.s3, config);
    // One Glue Iceberg catalog per zone (each is a bucket of its own), in the pipeline's database;
    // names as the hive tables have them (`coinmarketcap/quote` → `quote`).
    const icebergCatalogs = {
      processed: new GlueIcebergCatalog({
        client: clients.glue,
        database: config.warehouse.glueDatabase,
        storage: lake.processed,
        tableName: glueTableName,
      }),
      curated: new GlueIcebergCatalog({
        client: clients.glue,
        database: config.warehouse.glueDatabase,
        storage: lake.curated,
        tableName: glueTableName,
      }),
    };
    const environment: AwsEnvironment = {
      mode: 'aws',
      clients,
      provisioned,
      deliveryStreamName,
      lake,
      icebergCatalog: (zone) => icebergCatalogs[zone],
      catalog: new GlueCatalog({
        client: clients.glue,
        database: config.warehouse.glueDatabase,
        onEvent: options.onEvent,
      }),
      kinesis: { client: clients.kinesis, streamName: config.stream.name },
      sourcePool,
      engine: new AthenaEngine({
        client: clients.athena,
        workGroup: config.warehouse.athenaWorkgroup,
        database: config.warehouse.glueDatabase,
        outputLocation: athenaOutput,
        onEvent: options.onEvent,
      }),
      loader,
      describe: () => {
        const where: Record<string, string> = {
          region: config.region,
          'raw zone': config.lake.raw,
          'processed zone': config.lake.processed,
          'curated zone': config.lake.curated,
          'Kinesis stream': config.stream.name,
          'Glue database': config.warehouse.glueDatabase,
          Athena: `workgroup ${config.warehouse.athenaWorkgroup}, results ${athenaOutput}`,
          PostgreSQL: withoutPassword(databaseUrl.reveal()),
        };
        if (deliveryStreamName !== undefined) where['Firehose delivery stream'] = deliveryStreamName;
        if (warehouseUrl !== undefined) where.Redshift = withoutPassword(warehouseUrl.reveal());
        for (const [service, endpoint] of Object.entries(config.endpoints))
          where[`${service} endpoint`] = endpoint;
        return where;
      },
      cleanup: () =>
        teardownAws(clients, config, { deliveryStreamName, signal: options.signal, onStep: options.onStep }),
      close,
    };
    return environment;
  } catch (err) {
    await close();
    throw err;
  }
}

function firehoseSetup(
  option: AwsEnvironmentOptions['firehose'],
  variables: Readonly<Record<string, string | undefined>>,
): FirehoseSetup | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) {
    const roleArn = variables[FIREHOSE_ROLE_VARIABLE]?.trim();
    if (!roleArn) {
      throw new ConfigError(
        `${FIREHOSE_ROLE_VARIABLE} is required for Firehose delivery: the IAM role Firehose assumes to read the stream and write the raw bucket`,
        { variable: FIREHOSE_ROLE_VARIABLE },
      );
    }
    return { roleArn };
  }
  if (typeof option !== 'object' || option === null || typeof option.roleArn !== 'string') {
    throw new OptionsError('createAwsEnvironment option firehose must be a boolean or { roleArn }', {
      code: 'AWS_ENVIRONMENT_OPTIONS_INVALID',
      option: 'firehose',
    });
  }
  return option;
}

/** The Glue name of a lake table: its last path segment, as the crawler names the hive tables. */
function glueTableName(table: string): string {
  return (table.split('/').at(-1) ?? table).toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/** A connection URL fit for a summary: the user and host stay, the password goes. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '[unparsable URL]';
  }
}
