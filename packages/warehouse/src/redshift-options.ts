import type { EventListener, PgPool } from '@tributary/core';
import { WarehouseOptionsError } from './errors.js';
import type { LoadOptions } from './types.js';

/**
 * Static AWS credentials for COPY, when no IAM role is attached to the cluster.
 *
 * @example
 * ```ts
 * const credentials: RedshiftCredentials = {
 *   accessKeyId: process.env.COPY_ACCESS_KEY_ID ?? '',
 *   secretAccessKey: process.env.COPY_SECRET_ACCESS_KEY ?? '',
 * };
 * const loader = new RedshiftLoader({ pool, credentials });
 * ```
 */
export interface RedshiftCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Distribution and sort keys of a table the loader creates (see core's `toRedshiftDdl`).
 *
 * @example
 * ```ts
 * const tableOptions: RedshiftTableOptions = { distKey: 'type', sortKey: ['dt', 'hour'] };
 * ```
 */
export interface RedshiftTableOptions {
  distStyle?: 'AUTO' | 'EVEN' | 'ALL' | 'KEY';
  distKey?: string;
  sortKey?: readonly string[];
  sortStyle?: 'AUTO' | 'COMPOUND' | 'INTERLEAVED';
}

/**
 * Options of {@link RedshiftLoader}. Give `iamRole` or `credentials`, not both.
 *
 * @example
 * ```ts
 * const options: RedshiftLoaderOptions = { pool, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy', mergeStrategy: 'merge' };
 * ```
 */
export interface RedshiftLoaderOptions {
  /** A `pg.Pool` connected to Redshift; the loader never ends it. */
  pool: PgPool;
  /** The role COPY assumes to read S3: `arn:aws:iam::123456789012:role/RedshiftCopy`. */
  iamRole?: string;
  /** Keys COPY signs S3 requests with. Never logged: statements in errors show `<redacted>`. */
  credentials?: RedshiftCredentials;
  /** The bucket's region, for JSON COPY from a bucket in another region (Parquet COPY takes no REGION). */
  region?: string;
  /** Where COPY manifests are written in the source storage. Default `_redshift/manifests/`. */
  manifestPrefix?: string;
  /** COPY from a manifest of the committed files (default). `false`: one COPY per file, by its URL. */
  useManifest?: boolean;
  /** `merge` (MERGE statement, default) or `delete-insert` (DELETE USING, then INSERT). */
  mergeStrategy?: 'merge' | 'delete-insert';
  /** Distribution and sort keys for tables the loader creates; a load's own `tableOptions` win. */
  tableOptions?: RedshiftTableOptions;
  /** Attempts of a load whose transaction hits a serialization conflict (error 1023 / 40001). Default 3. */
  maxAttempts?: number;
  /** Backoff base between those attempts, in milliseconds. Default 200. */
  retryBaseDelayMs?: number;
  /** `batch` per COPY, `records.out` after a commit, `retry` before a new attempt, `failure` on a rollback. */
  onEvent?: EventListener;
}

/**
 * Options of one Redshift load.
 *
 * @example
 * ```ts
 * const loader = new RedshiftLoader({ pool, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy' });
 * await loader.load('sensors', { storage: lake.processed, table: 'sensors', schema: readingSchema }, {
 *   mode: 'replace',
 *   tableOptions: { distStyle: 'ALL' },
 * });
 * ```
 */
export interface RedshiftLoadOptions extends LoadOptions {
  /** Distribution and sort keys if the load creates the table. */
  tableOptions?: RedshiftTableOptions;
}

const IAM_ROLE = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** A loader's options once checked, with their defaults and without the credentials. */
export type ResolvedRedshiftOptions = Readonly<Omit<RedshiftLoaderOptions, 'credentials'>> & {
  readonly manifestPrefix: string;
  readonly useManifest: boolean;
  readonly mergeStrategy: 'merge' | 'delete-insert';
  readonly maxAttempts: number;
  readonly authentication: 'iam-role' | 'credentials';
};

/**
 * Check a `RedshiftLoader`'s options (they may come from plain JavaScript or config) and fill in
 * the defaults; the credentials come back apart, so that they are never part of `options`.
 */
export function resolveRedshiftOptions(options: RedshiftLoaderOptions): {
  options: ResolvedRedshiftOptions;
  credentials: RedshiftCredentials | undefined;
} {
  const invalid = (message: string, option: string) =>
    new WarehouseOptionsError(`RedshiftLoader ${message}`, { code: 'LOADER_OPTIONS_INVALID', option });
  if (typeof options !== 'object' || options === null) throw invalid('needs an options object', 'options');
  const pool = options.pool as Partial<PgPool> | undefined;
  if (!pool || typeof pool.connect !== 'function') {
    throw invalid('options.pool must have connect() (a pg.Pool)', 'pool');
  }
  const { iamRole, credentials } = options;
  if ((iamRole === undefined) === (credentials === undefined)) {
    throw invalid('needs exactly one of options.iamRole and options.credentials', 'iamRole');
  }
  if (iamRole !== undefined && (typeof iamRole !== 'string' || !IAM_ROLE.test(iamRole))) {
    throw invalid('options.iamRole must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)', 'iamRole');
  }
  if (credentials !== undefined) {
    const ok = (v: unknown) => typeof v === 'string' && v.length > 0 && !v.includes('\0');
    if (
      typeof credentials !== 'object' ||
      credentials === null ||
      !ok(credentials.accessKeyId) ||
      !ok(credentials.secretAccessKey) ||
      (credentials.sessionToken !== undefined && !ok(credentials.sessionToken))
    ) {
      throw invalid(
        'options.credentials needs non-empty accessKeyId and secretAccessKey (and sessionToken, if given)',
        'credentials',
      );
    }
  }
  if (options.region !== undefined && (typeof options.region !== 'string' || !REGION.test(options.region))) {
    throw invalid(
      `options.region must be an AWS region such as eu-west-1 (got ${JSON.stringify(options.region)})`,
      'region',
    );
  }
  const manifestPrefix = options.manifestPrefix ?? '_redshift/manifests/';
  if (
    typeof manifestPrefix !== 'string' ||
    !manifestPrefix.endsWith('/') ||
    manifestPrefix.startsWith('/') ||
    manifestPrefix.includes('\\') ||
    manifestPrefix.includes('\0') ||
    manifestPrefix
      .split('/')
      .slice(0, -1)
      .some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw invalid('options.manifestPrefix must be a relative key prefix ending in "/"', 'manifestPrefix');
  }
  if (options.useManifest !== undefined && typeof options.useManifest !== 'boolean') {
    throw invalid('options.useManifest must be a boolean', 'useManifest');
  }
  const mergeStrategy = options.mergeStrategy ?? 'merge';
  if (mergeStrategy !== 'merge' && mergeStrategy !== 'delete-insert') {
    throw invalid("options.mergeStrategy must be 'merge' or 'delete-insert'", 'mergeStrategy');
  }
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw invalid('options.maxAttempts must be an integer from 1 to 100', 'maxAttempts');
  }
  const base = options.retryBaseDelayMs ?? 200;
  if (typeof base !== 'number' || !Number.isFinite(base) || base < 0) {
    throw invalid('options.retryBaseDelayMs must be a finite number ≥ 0', 'retryBaseDelayMs');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw invalid('options.onEvent must be a function', 'onEvent');
  }
  if (
    options.tableOptions !== undefined &&
    (typeof options.tableOptions !== 'object' || options.tableOptions === null)
  ) {
    throw invalid('options.tableOptions must be an object', 'tableOptions');
  }
  const { credentials: _secret, ...rest } = options;
  const resolved = Object.freeze({
    ...rest,
    manifestPrefix,
    useManifest: options.useManifest ?? true,
    mergeStrategy,
    maxAttempts,
    retryBaseDelayMs: base,
    authentication: credentials === undefined ? ('iam-role' as const) : ('credentials' as const),
  });
  return { options: resolved, credentials: credentials === undefined ? undefined : { ...credentials } };
}
