// EMR step definitions for the tributary Spark jobs: what `AddJobFlowSteps` takes as `Steps`
// (`@aws-sdk/client-emr`'s StepConfig), built from the zones' URLs. See spark/emr/README.md.
import { describeValue, TributaryError } from '@tributary/core';

/** The jobs of `spark/jobs/`, in pipeline order. */
export const SPARK_JOBS = {
  sensors: ['sensors_raw_to_processed', 'sensors_processed_to_curated'],
  crypto: ['crypto_raw_to_processed', 'crypto_processed_to_curated'],
} as const;

export type SparkJobName = (typeof SPARK_JOBS)[keyof typeof SPARK_JOBS][number];

/** The modules every job imports, shipped with `--py-files`. */
const PY_FILES = ['tributary_common.py', 'sensor_validation.py', 'crypto_math.py'];
const ACTIONS = ['CONTINUE', 'CANCEL_AND_WAIT', 'TERMINATE_CLUSTER', 'TERMINATE_JOB_FLOW'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Iceberg's SQL extensions (`CALL`, `ALTER TABLE … PARTITION FIELD`). */
const ICEBERG_EXTENSIONS = 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions';
const CATALOG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The cluster configuration an Iceberg cluster needs (`RunJobFlow`'s `Configurations`): EMR 7.x
 * (Spark 3.5; emr-7.12.0 ships Iceberg 1.10.0) installs the Iceberg runtime when the
 * `iceberg-defaults` classification sets `iceberg.enabled`.
 *
 * @example
 * ```ts
 * await emr.send(new RunJobFlowCommand({ ReleaseLabel: 'emr-7.12.0', Configurations: ICEBERG_CLUSTER_CONFIGURATIONS, ... }));
 * ```
 */
export const ICEBERG_CLUSTER_CONFIGURATIONS = [
  { Classification: 'iceberg-defaults', Properties: { 'iceberg.enabled': 'true' } },
] as const;

/** Where the Iceberg tables are registered: a Spark catalog backed by the Glue Data Catalog. */
export interface EmrIcebergCatalog {
  /** The Glue database, the one the lake's `GlueIcebergCatalog` registers the tables in. */
  database: string;
  /** The Spark catalog's name. Default `glue_catalog`. */
  name?: string;
}

/** An EMR step as `AddJobFlowSteps` takes it (the shape of the SDK's `StepConfig`). */
export interface EmrStep {
  Name: string;
  ActionOnFailure: (typeof ACTIONS)[number];
  HadoopJarStep: { Jar: 'command-runner.jar'; Args: string[] };
}

/** The options of {@link buildEmrSteps}. */
export interface EmrStepsOptions {
  /** Where `spark/jobs/` and `spark/schemas/` were uploaded: `s3://bucket/tributary/spark`. */
  code: string;
  /** The lake's zones, each an `s3://` URL (a bucket, or a prefix in one). */
  zones: { raw: string; processed: string; curated: string };
  /** Which pipelines. Default both, sensors first. */
  pipelines?: readonly ('sensors' | 'crypto')[];
  /** Only these UTC days (`YYYY-MM-DD`), for the sensor jobs. Default every day. */
  dates?: readonly string[];
  /** The sensors raw → processed lateness window. Default 6 (the job's own default). */
  maxLatenessHours?: number;
  /** The convert currency the crypto curated job aggregates. Default `USD`. */
  convert?: string;
  /** Default `CANCEL_AND_WAIT`: a failed step cancels the ones after it. */
  actionOnFailure?: EmrStep['ActionOnFailure'];
  /** Extra spark-submit options, before the script (e.g. `['--conf', 'spark.executor.memory=4g']`). */
  sparkSubmitArgs?: readonly string[];
  /**
   * The processed and curated tables' format: `hive` (default, as the jobs') or `iceberg`: the
   * jobs get `--table-format iceberg --catalog <name> --database <database>` and spark-submit
   * Iceberg's SQL extensions and a Spark catalog of type `glue` (the cluster needs
   * {@link ICEBERG_CLUSTER_CONFIGURATIONS}).
   */
  tableFormat?: 'hive' | 'iceberg';
  /** Iceberg: the Glue database (required with `tableFormat: 'iceberg'`) and the catalog's name. */
  icebergCatalog?: EmrIcebergCatalog;
}

/**
 * The options of {@link buildEmrSteps} are wrong (`EMR_STEPS_INVALID`, `context.option` names it).
 *
 * @example
 * ```ts
 * try { buildEmrSteps({ code: 'spark', zones }); } catch (err) { if (err instanceof EmrStepsError) console.log(err.context.option); } // code
 * ```
 */
export class EmrStepsError extends TributaryError {
  override name = 'EmrStepsError';

  constructor(option: string, value: unknown, expected: string) {
    super(`Option ${option} must be ${expected}, got ${describeValue(value)}`, {
      code: 'EMR_STEPS_INVALID',
      context: { option },
    });
  }
}

function s3Url(option: string, value: unknown): string {
  if (typeof value !== 'string' || !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(value)) {
    throw new EmrStepsError(option, value, 'an s3:// URL such as s3://my-lake-raw');
  }
  return value.replace(/\/+$/, '');
}

/**
 * The EMR steps that run the Spark jobs on the lake's zones: `spark-submit` through
 * `command-runner.jar`, cluster deploy mode, the jobs' shared modules as `--py-files`, and the
 * schemas read from `<code>/schemas`. Pass them to `AddJobFlowSteps` (or `RunJobFlow`'s `Steps`).
 *
 * @example
 * ```ts
 * const steps = buildEmrSteps({
 *   code: 's3://acme-artifacts/tributary/spark',
 *   zones: { raw: 's3://acme-lake-raw', processed: 's3://acme-lake-processed', curated: 's3://acme-lake-curated' },
 * });
 * await emr.send(new AddJobFlowStepsCommand({ JobFlowId: 'j-2AXXXXXXGAPLF', Steps: steps }));
 * ```
 */
export function buildEmrSteps(options: EmrStepsOptions): EmrStep[] {
  if (typeof options !== 'object' || options === null)
    throw new EmrStepsError('options', options, 'an object');
  const code = s3Url('code', options.code);
  const zones = options.zones as Partial<EmrStepsOptions['zones']> | undefined;
  if (typeof zones !== 'object' || zones === null) {
    throw new EmrStepsError('zones', zones, 'an object with raw, processed and curated');
  }
  const raw = s3Url('zones.raw', zones.raw);
  const processed = s3Url('zones.processed', zones.processed);
  const curated = s3Url('zones.curated', zones.curated);
  const pipelines: readonly (keyof typeof SPARK_JOBS)[] = options.pipelines ?? ['sensors', 'crypto'];
  if (
    !Array.isArray(pipelines as unknown) ||
    pipelines.length === 0 ||
    pipelines.some((p) => !Object.hasOwn(SPARK_JOBS, p))
  ) {
    throw new EmrStepsError('pipelines', pipelines, 'a non-empty list of "sensors" and "crypto"');
  }
  const dates = options.dates ?? [];
  if (!Array.isArray(dates) || dates.some((d) => typeof d !== 'string' || !DAY.test(d))) {
    throw new EmrStepsError('dates', dates, 'a list of YYYY-MM-DD days');
  }
  const lateness = options.maxLatenessHours;
  if (lateness !== undefined && !(Number.isInteger(lateness) && lateness >= 0 && lateness <= 720)) {
    throw new EmrStepsError('maxLatenessHours', lateness, 'a whole number of hours from 0 to 720');
  }
  const convert = options.convert ?? 'USD';
  if (typeof convert !== 'string' || convert === '')
    throw new EmrStepsError('convert', convert, 'a currency code');
  const action = options.actionOnFailure ?? 'CANCEL_AND_WAIT';
  if (!ACTIONS.includes(action)) throw new EmrStepsError('actionOnFailure', action, ACTIONS.join(', '));
  const extra = options.sparkSubmitArgs ?? [];
  if (!Array.isArray(extra) || extra.some((a) => typeof a !== 'string')) {
    throw new EmrStepsError('sparkSubmitArgs', extra, 'a list of strings');
  }

  const tableFormat = options.tableFormat ?? 'hive';
  if (tableFormat !== 'hive' && tableFormat !== 'iceberg') {
    throw new EmrStepsError('tableFormat', tableFormat, '"hive" or "iceberg"');
  }
  const iceberg = icebergArgs(tableFormat, options.icebergCatalog, processed);

  const dateArgs = dates.length > 0 ? ['--dates', ...dates] : [];
  const jobArgs: Record<SparkJobName, string[]> = {
    sensors_raw_to_processed: [
      '--raw',
      raw,
      '--processed',
      processed,
      ...(lateness === undefined ? [] : ['--max-lateness-hours', String(lateness)]),
      ...dateArgs,
    ],
    sensors_processed_to_curated: ['--processed', processed, '--curated', curated, ...dateArgs],
    crypto_raw_to_processed: ['--raw', raw, '--processed', processed],
    crypto_processed_to_curated: ['--processed', processed, '--curated', curated, '--convert', convert],
  };
  const pyFiles = PY_FILES.map((f) => `${code}/jobs/${f}`).join(',');
  return pipelines.flatMap((pipeline) =>
    SPARK_JOBS[pipeline].map(
      (job): EmrStep => ({
        Name: `tributary ${job}`,
        ActionOnFailure: action,
        HadoopJarStep: {
          Jar: 'command-runner.jar',
          Args: [
            'spark-submit',
            '--deploy-mode',
            'cluster',
            '--py-files',
            pyFiles,
            ...iceberg.submit,
            ...extra,
            `${code}/jobs/${job}.py`,
            ...jobArgs[job],
            '--schemas',
            `${code}/schemas`,
            ...iceberg.job,
          ],
        },
      }),
    ),
  );
}

/**
 * The spark-submit options and job arguments of an Iceberg run: a Spark catalog of type `glue`
 * (Iceberg's `GlueCatalog`, S3 through `S3FileIO`) whose default warehouse is the processed zone
 * (each table is created at `<zone>/<table>`, where the lake keeps it, whatever the warehouse).
 */
function icebergArgs(
  tableFormat: 'hive' | 'iceberg',
  catalog: EmrIcebergCatalog | undefined,
  warehouse: string,
): { submit: string[]; job: string[] } {
  if (tableFormat === 'hive') {
    if (catalog !== undefined) {
      throw new EmrStepsError('icebergCatalog', catalog, "absent unless tableFormat is 'iceberg'");
    }
    return { submit: [], job: [] };
  }
  if (typeof catalog !== 'object' || catalog === null) {
    throw new EmrStepsError('icebergCatalog', catalog, 'an object with the Glue database');
  }
  if (typeof catalog.database !== 'string' || !/^[a-z0-9_]{1,255}$/.test(catalog.database)) {
    throw new EmrStepsError(
      'icebergCatalog.database',
      catalog.database,
      'a Glue database name (a-z, 0-9, _)',
    );
  }
  const name = catalog.name ?? 'glue_catalog';
  if (typeof name !== 'string' || !CATALOG_NAME.test(name)) {
    throw new EmrStepsError('icebergCatalog.name', name, 'a Spark catalog name (letters, digits, _)');
  }
  const prefix = `spark.sql.catalog.${name}`;
  const conf = [
    `spark.sql.extensions=${ICEBERG_EXTENSIONS}`,
    `${prefix}=org.apache.iceberg.spark.SparkCatalog`,
    `${prefix}.type=glue`,
    `${prefix}.warehouse=${warehouse}/`,
    `${prefix}.io-impl=org.apache.iceberg.aws.s3.S3FileIO`,
  ];
  return {
    submit: conf.flatMap((c) => ['--conf', c]),
    job: ['--table-format', 'iceberg', '--catalog', name, '--database', catalog.database],
  };
}
