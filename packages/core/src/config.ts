import { resolve } from 'node:path';
import {
  BUCKET_RULE,
  dedupeProblems,
  type Env,
  EnvReader,
  got,
  isBucketName,
  throwProblems,
  urlHint,
} from './env-reader.js';
import { ConfigError, OptionsError } from './errors.js';
import { REDACTED, Secret } from './secret.js';

export { Secret };

/** Where tributary runs: `local` (folders, embedded servers) or `aws` (the real services). */
export type Mode = 'local' | 'aws';

/** The engine behind the warehouse: the embedded PostgreSQL locally, Redshift on AWS. */
export type WarehouseEngine = 'postgres' | 'redshift';

/**
 * The one configuration every package and example reads, filled from the environment by
 * {@link loadConfig}. Deeply frozen; secrets are {@link Secret}s.
 *
 * @example
 * ```ts
 * const config: TributaryConfig = loadConfig();
 * // What `new S3Client(...)` of @aws-sdk/client-s3 needs to reach the lake in either mode:
 * const s3ClientConfig = {
 *   region: config.region,
 *   endpoint: config.endpoints.s3,
 *   forcePathStyle: config.s3ForcePathStyle,
 * };
 * ```
 */
export interface TributaryConfig {
  /** `TRIBUTARY_MODE`. */
  readonly mode: Mode;
  /** `AWS_REGION`, else `AWS_DEFAULT_REGION`; `us-east-1` by default in local mode. */
  readonly region: string;
  /** Endpoint overrides (`AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`); absent when not set. */
  readonly endpoints: {
    readonly s3?: string;
    readonly kinesis?: string;
    readonly firehose?: string;
    readonly glue?: string;
    readonly athena?: string;
  };
  /** `TRIBUTARY_S3_FORCE_PATH_STYLE`; true by default when an S3 endpoint override is set. */
  readonly s3ForcePathStyle: boolean;
  /** Zone roots: absolute folder paths in local mode, `s3://bucket[/prefix]` (no trailing slash) in aws mode. */
  readonly lake: { readonly raw: string; readonly processed: string; readonly curated: string };
  readonly stream: { readonly name: string; readonly shards: number };
  /** `DATABASE_URL`, the relational source. */
  readonly database: { readonly url: Secret | undefined };
  readonly warehouse: {
    readonly engine: WarehouseEngine;
    /** `REDSHIFT_URL` for Redshift; for Postgres the same database as `DATABASE_URL`. */
    readonly url: Secret | undefined;
    readonly iamRole?: string;
    readonly athenaWorkgroup: string;
    readonly athenaOutput?: string;
    readonly glueDatabase: string;
  };
  readonly coinmarketcap: {
    readonly apiKey: Secret | undefined;
    /**
     * `CMC_BASE_URL` when set (a proxy, a local fixture server); otherwise `undefined` and the
     * client picks the production or sandbox API from `sandbox`: the API's URLs belong to
     * `@tributary/coinmarketcap`.
     */
    readonly baseUrl: string | undefined;
    readonly sandbox: boolean;
  };
  /** A one-line description with every secret shown as `[redacted]`. */
  toString(): string;
  /** A plain copy with every secret shown as `[redacted]`. */
  toJSON(): Record<string, unknown>;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The folder that relative local lake paths are resolved against. Default: `process.cwd()`. */
  cwd?: string;
}

const ENDPOINT_VARIABLES = {
  s3: 'AWS_ENDPOINT_URL_S3',
  kinesis: 'AWS_ENDPOINT_URL_KINESIS',
  firehose: 'AWS_ENDPOINT_URL_FIREHOSE',
  glue: 'AWS_ENDPOINT_URL_GLUE',
  athena: 'AWS_ENDPOINT_URL_ATHENA',
} as const;

const ZONES = ['raw', 'processed', 'curated'] as const;
type Zone = (typeof ZONES)[number];
const ZONE_VARIABLES: Record<Zone, string> = {
  raw: 'TRIBUTARY_LAKE_RAW',
  processed: 'TRIBUTARY_LAKE_PROCESSED',
  curated: 'TRIBUTARY_LAKE_CURATED',
};

const AWS_CREDENTIALS = 'they come from the AWS credential chain';
/**
 * Reads tributary's configuration from the environment, validates every value and returns
 * it deeply frozen. Empty strings count as unset. Throws a {@link ConfigError} naming the
 * variable (`error.variable`) when a value is missing or wrong; when several are, the message
 * lists them all and `error.context.variables` names each. Secret values (`DATABASE_URL`,
 * `REDSHIFT_URL`, `CMC_API_KEY`) never appear in messages, and of any other URL a message shows
 * the scheme and host at most. Endpoint, base and lake URLs with credentials (`user:password@`)
 * are refused, and so are endpoint and base URLs with a query string or fragment: credentials
 * come from the AWS credential chain and `CMC_API_KEY`, never from a URL.
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `TRIBUTARY_MODE` | `local` or `aws` | `local` |
 * | `AWS_REGION`, `AWS_DEFAULT_REGION` | region | `us-east-1` locally; required in aws mode |
 * | `AWS_ENDPOINT_URL_{S3,KINESIS,FIREHOSE,GLUE,ATHENA}`, `AWS_ENDPOINT_URL` | endpoint overrides (ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true) | none |
 * | `TRIBUTARY_S3_FORCE_PATH_STYLE` | path-style S3 addressing | true when an S3 endpoint is set |
 * | `TRIBUTARY_LAKE_{RAW,PROCESSED,CURATED}` | zone folder (local) or `s3://bucket[/prefix]` (aws) | `$TRIBUTARY_LAKE_DIR/<zone>` (`.tributary/lake`) locally; `s3://$TRIBUTARY_BUCKET_PREFIX-<zone>` on AWS |
 * | `TRIBUTARY_STREAM`, `TRIBUTARY_STREAM_SHARDS` | Kinesis stream | `tributary-sensors`, 2 |
 * | `DATABASE_URL` | PostgreSQL source (secret) | none |
 * | `TRIBUTARY_WAREHOUSE`, `REDSHIFT_URL` (secret), `TRIBUTARY_REDSHIFT_IAM_ROLE` | warehouse | `postgres` locally, `redshift` on AWS |
 * | `TRIBUTARY_ATHENA_WORKGROUP`, `TRIBUTARY_ATHENA_OUTPUT`, `TRIBUTARY_GLUE_DATABASE` | Athena and Glue | `primary`, none, `tributary` |
 * | `CMC_API_KEY` (secret), `CMC_SANDBOX`, `CMC_BASE_URL` | CoinMarketCap | no key, not sandbox, no base URL (the client's production API) |
 *
 * @example
 * ```ts
 * const config = loadConfig({ TRIBUTARY_MODE: 'aws', AWS_REGION: 'eu-west-1', TRIBUTARY_BUCKET_PREFIX: 'acme-data' });
 * config.lake.raw; // 's3://acme-data-raw'
 * String(config); // secrets appear as [redacted]
 * ```
 */
export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): TributaryConfig {
  if (options.cwd !== undefined && (typeof options.cwd !== 'string' || options.cwd === '')) {
    throw new OptionsError('LoadConfigOptions.cwd must be a non-empty string', {
      code: 'CONFIG_OPTIONS_INVALID',
      option: 'cwd',
    });
  }
  const cwd = options.cwd ?? process.cwd();
  const reader = new EnvReader(env);

  const mode = readMode(reader);
  const region = readRegion(reader, mode);
  const endpoints = readEndpoints(reader);
  const s3ForcePathStyle = reader.bool('TRIBUTARY_S3_FORCE_PATH_STYLE', endpoints.s3 !== undefined);
  const lake = mode === 'aws' ? readS3Lake(reader) : readLocalLake(reader, cwd);

  const stream = {
    name: reader.matching(
      'TRIBUTARY_STREAM',
      'tributary-sensors',
      /^[A-Za-z0-9_.-]{1,128}$/,
      'a Kinesis stream name (1–128 letters, digits, underscores, dots and hyphens)',
    ),
    shards: readPositiveInt(reader, 'TRIBUTARY_STREAM_SHARDS', 2),
  };

  const databaseUrl = reader.postgresUrl('DATABASE_URL');
  const warehouse = readWarehouse(reader, mode, databaseUrl);
  const coinmarketcap = readCoinMarketCap(reader);

  throwProblems(reader.problems);

  const config = {
    mode,
    region,
    endpoints,
    s3ForcePathStyle,
    lake,
    stream,
    database: { url: databaseUrl },
    warehouse,
    coinmarketcap,
  };
  // Non-enumerable, so console.log and spreads show the settings only.
  Object.defineProperties(config, {
    toJSON: { value: () => toPlain(config) },
    toString: { value: () => `TributaryConfig ${JSON.stringify(toPlain(config))}` },
  });
  return deepFreeze(config) as TributaryConfig;
}

function readMode(reader: EnvReader): Mode {
  const value = reader.get('TRIBUTARY_MODE');
  if (value === undefined) return 'local';
  const mode = value.toLowerCase();
  if (mode === 'local' || mode === 'aws') return mode;
  // Every later default depends on the mode, so later problems would only be noise.
  throw new ConfigError(`TRIBUTARY_MODE must be "local" or "aws" ${got(value)}`, {
    variable: 'TRIBUTARY_MODE',
  });
}

function readRegion(reader: EnvReader, mode: Mode): string {
  const variable = reader.get('AWS_REGION') !== undefined ? 'AWS_REGION' : 'AWS_DEFAULT_REGION';
  const value = reader.get(variable);
  if (value === undefined) {
    if (mode === 'aws')
      reader.fail('AWS_REGION', 'AWS_REGION (or AWS_DEFAULT_REGION) is required in aws mode');
    return 'us-east-1';
  }
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(value)) {
    reader.fail(variable, `${variable} must be a region name such as "us-east-1" ${got(value)}`);
  }
  return value;
}

function readEndpoints(reader: EnvReader): TributaryConfig['endpoints'] {
  const endpoints: { -readonly [K in keyof typeof ENDPOINT_VARIABLES]?: string } = {};
  // Same switch the AWS SDK honours, so our explicit endpoints never contradict it.
  if (reader.bool('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', false)) return endpoints;
  for (const [service, specific] of Object.entries(ENDPOINT_VARIABLES) as [
    keyof typeof ENDPOINT_VARIABLES,
    string,
  ][]) {
    const variable = reader.get(specific) !== undefined ? specific : 'AWS_ENDPOINT_URL';
    const value = reader.get(variable);
    if (value === undefined) continue;
    const url = reader.httpUrl(variable, value, AWS_CREDENTIALS);
    if (url !== undefined) endpoints[service] = url;
  }
  // The global fallback is checked once per service; report it once.
  dedupeProblems(reader.problems);
  return endpoints;
}

function readLocalLake(reader: EnvReader, cwd: string): TributaryConfig['lake'] {
  const dir = reader.get('TRIBUTARY_LAKE_DIR') ?? '.tributary/lake';
  const dirOk = checkFolder(reader, 'TRIBUTARY_LAKE_DIR', dir);
  const lake = {} as Record<Zone, string>;
  for (const zone of ZONES) {
    const variable = ZONE_VARIABLES[zone];
    const value = reader.get(variable);
    if (value === undefined) {
      lake[zone] = resolve(cwd, dirOk ? dir : '.tributary/lake', zone);
    } else {
      checkFolder(reader, variable, value);
      lake[zone] = resolve(cwd, value);
    }
  }
  return lake;
}

/** Local mode keeps the lake in folders; a URL here is almost always a forgotten TRIBUTARY_MODE=aws. */
function checkFolder(reader: EnvReader, variable: string, value: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return true;
  reader.fail(
    variable,
    `${variable} must be a folder path in local mode (set TRIBUTARY_MODE=aws to use S3) ${urlHint(value)}`,
  );
  return false;
}

function readS3Lake(reader: EnvReader): TributaryConfig['lake'] {
  const prefix = reader.get('TRIBUTARY_BUCKET_PREFIX');
  const prefixOk =
    prefix === undefined ||
    ZONES.every((zone) => isBucketName(`${prefix}-${zone}`)) ||
    reader.fail(
      'TRIBUTARY_BUCKET_PREFIX',
      `TRIBUTARY_BUCKET_PREFIX must make valid bucket names "<prefix>-raw", "<prefix>-processed", "<prefix>-curated" (${BUCKET_RULE}) ${got(prefix)}`,
    );
  const lake = {} as Record<Zone, string>;
  for (const zone of ZONES) {
    const variable = ZONE_VARIABLES[zone];
    const value = reader.get(variable);
    if (value !== undefined) {
      lake[zone] = reader.s3Url(variable, value) ?? '';
    } else if (prefix !== undefined) {
      lake[zone] = prefixOk ? `s3://${prefix}-${zone}` : '';
    } else {
      reader.fail(
        variable,
        `${variable} is required in aws mode (an s3://bucket[/prefix] URL), unless TRIBUTARY_BUCKET_PREFIX is set`,
      );
      lake[zone] = '';
    }
  }
  return lake;
}

function readPositiveInt(reader: EnvReader, name: string, fallback: number): number {
  const value = reader.get(name);
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    reader.fail(name, `${name} must be a positive integer ${got(value)}`);
    return fallback;
  }
  return n;
}

function readWarehouse(
  reader: EnvReader,
  mode: Mode,
  databaseUrl: Secret | undefined,
): TributaryConfig['warehouse'] {
  const engineValue = reader.get('TRIBUTARY_WAREHOUSE');
  let engine: WarehouseEngine = mode === 'aws' ? 'redshift' : 'postgres';
  if (engineValue !== undefined) {
    const lower = engineValue.toLowerCase();
    if (lower === 'postgres' || lower === 'redshift') engine = lower;
    else
      reader.fail(
        'TRIBUTARY_WAREHOUSE',
        `TRIBUTARY_WAREHOUSE must be "postgres" or "redshift" ${got(engineValue)}`,
      );
  }
  const redshiftUrl = reader.postgresUrl('REDSHIFT_URL');

  const warehouse: { -readonly [K in keyof TributaryConfig['warehouse']]: TributaryConfig['warehouse'][K] } =
    {
      engine,
      url: engine === 'redshift' ? redshiftUrl : databaseUrl,
      athenaWorkgroup: reader.matching(
        'TRIBUTARY_ATHENA_WORKGROUP',
        'primary',
        /^[A-Za-z0-9._-]{1,128}$/,
        'an Athena workgroup name (1–128 letters, digits, dots, underscores and hyphens)',
      ),
      glueDatabase: reader.matching(
        'TRIBUTARY_GLUE_DATABASE',
        'tributary',
        /^[a-z0-9_]{1,255}$/,
        'a Glue database name (lowercase letters, digits and underscores)',
      ),
    };
  const iamRole = reader.get('TRIBUTARY_REDSHIFT_IAM_ROLE');
  if (iamRole !== undefined) {
    if (/^arn:aws[-a-z]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(iamRole)) warehouse.iamRole = iamRole;
    else {
      reader.fail(
        'TRIBUTARY_REDSHIFT_IAM_ROLE',
        `TRIBUTARY_REDSHIFT_IAM_ROLE must be an IAM role ARN such as "arn:aws:iam::123456789012:role/redshift-copy" ${got(iamRole)}`,
      );
    }
  }
  const output = reader.get('TRIBUTARY_ATHENA_OUTPUT');
  // Athena takes the location as given, trailing slash included, so keep it verbatim.
  if (output !== undefined && reader.s3Url('TRIBUTARY_ATHENA_OUTPUT', output) !== undefined) {
    warehouse.athenaOutput = output;
  }
  return warehouse;
}

function readCoinMarketCap(reader: EnvReader): TributaryConfig['coinmarketcap'] {
  const key = reader.get('CMC_API_KEY');
  const sandbox = reader.bool('CMC_SANDBOX', false);
  const baseValue = reader.get('CMC_BASE_URL');
  const base =
    baseValue === undefined
      ? undefined
      : reader.httpUrl('CMC_BASE_URL', baseValue, 'the API key comes from CMC_API_KEY');
  return {
    apiKey: key === undefined ? undefined : new Secret(key),
    // Clients append paths, so one canonical form without a trailing slash.
    baseUrl: base?.replace(/\/+$/, ''),
    sandbox,
  };
}

/** A JSON-safe copy in which every secret is `[redacted]` and unset fields are left out. */
function toPlain(value: object): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    if (field instanceof Secret) plain[key] = REDACTED;
    else if (typeof field === 'object' && field !== null) plain[key] = toPlain(field);
    else plain[key] = field;
  }
  return plain;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
