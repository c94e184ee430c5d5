import { randomUUID } from 'node:crypto';
import {
  type Column,
  type EventListener,
  emitSafely,
  type Fields,
  type PgClient,
  type PgPool,
  qualifiedName,
  quoteIdentifier,
  quoteLiteral,
  RetryExhaustedError,
  type Schema,
  type TableName,
  type TributaryEvent,
  toRedshiftDdl,
  withClient,
  withRetry,
} from '@tributary/core';
import { type DatasetFile, parsePartitions, readManifest } from '@tributary/lake';
import { LoadError, type LoadErrorDetail, WarehouseOptionsError } from './errors.js';
import {
  bookkeepingSource,
  checkFileColumns,
  checkLoadArguments,
  checkTargetColumns,
  countSql,
  createFilesTableSql,
  createStageSql,
  deleteAllSql,
  deleteMatchedSql,
  dropTableSql,
  duplicateKeysError,
  duplicateKeysSql,
  FILES_TABLE,
  insertFromStageSql,
  insertPartitionSql,
  loadedSnapshotSql,
  lockLoadsSql,
  matchCountsSql,
  mergeSql,
  nullKeysError,
  nullKeysSql,
  recordSnapshotSql,
  resolveSource,
  STAGE_TABLE,
  targetColumnsSql,
  targetMissing,
  toTableName,
} from './load-sql.js';
import type { LakeSource, Loader, LoadOptions, LoadResult } from './types.js';

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

const SOURCE = 'redshift-loader';
const IAM_ROLE = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const REDACTED = '<redacted>';
const DETAIL_ROWS = 100;

type FileKind = 'parquet' | 'json' | 'json.gz';

function kindOf(key: string): FileKind | undefined {
  if (key.endsWith('.parquet')) return 'parquet';
  if (key.endsWith('.ndjson') || key.endsWith('.json')) return 'json';
  if (key.endsWith('.ndjson.gz') || key.endsWith('.json.gz')) return 'json.gz';
  return undefined;
}

/** One COPY: from a manifest (its key and body) or from one file's URL. */
interface CopyUnit {
  url: string;
  manifest: { key: string; body: string } | undefined;
  files: DatasetFile[];
}

/** The COPYs of one field-partition value tuple (or of the whole source when there is none). */
interface PartitionGroup {
  values: (string | null)[];
  copies: CopyUnit[];
}

interface Plan {
  label: string;
  target: TableName;
  schema: Schema<Fields>;
  columns: string[];
  keys: readonly string[];
  createTable: boolean;
  options: RedshiftLoadOptions;
  files: DatasetFile[];
  kind: FileKind | undefined;
  fileColumns: string[];
  partitionColumns: Column[];
  groups: PartitionGroup[];
  /** Iceberg: the snapshot loaded, and the source as the bookkeeping names it (none: no bookkeeping). */
  snapshotId: string | undefined;
  booked: string | undefined;
  emit: (event: TributaryEvent) => void;
}

interface Counts {
  rows: number;
  inserted: number;
  updated: number;
  deleted: number;
  created: boolean;
  skipped: boolean;
}

/**
 * True for the errors a new transaction may get past: Redshift's 1023 ("Serializable isolation
 * violation") and PostgreSQL's SQLSTATE 40001, looked for through `cause`.
 *
 * @example
 * ```ts
 * isSerializationConflict(Object.assign(new Error('could not serialize access'), { code: '40001' })); // true
 * ```
 */
export function isSerializationConflict(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; message?: unknown; detail?: unknown; cause?: unknown };
    if (e.code === '40001') return true;
    const text = `${typeof e.message === 'string' ? e.message : ''} ${typeof e.detail === 'string' ? e.detail : ''}`;
    if (/serializable isolation violation/i.test(text) || /^\s*(ERROR:\s*)?1023\b/.test(text)) return true;
    current = e.cause;
  }
  return false;
}

function trimmed(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

function numberOrUndefined(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** The statement Redshift's COPY errors are read back with (STL first, then SYS for Serverless). */
export const STL_LOAD_ERRORS_SQL = `SELECT TRIM(filename) AS file_name, line_number, TRIM(colname) AS column_name, TRIM(type) AS column_type, TRIM(raw_field_value) AS raw_field_value, TRIM(raw_line) AS raw_line, err_code AS error_code, TRIM(err_reason) AS error_reason FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number LIMIT ${DETAIL_ROWS}`;
export const SYS_LOAD_ERROR_DETAIL_SQL = `SELECT TRIM(file_name) AS file_name, line_number, TRIM(column_name) AS column_name, TRIM(column_type) AS column_type, error_code, TRIM(error_message) AS error_reason FROM sys_load_error_detail WHERE query_id = pg_last_copy_id() ORDER BY line_number LIMIT ${DETAIL_ROWS}`;

/**
 * Loads lake datasets on S3 into Redshift: the committed files of the source (listed from its
 * manifest, filtered by `partitions`) are COPYed from a COPY manifest into a temporary stage
 * table, then moved into the target in the same transaction:
 *
 * - `append`: `INSERT … SELECT` from the stage.
 * - `replace`: `DELETE FROM` the target, then insert (not TRUNCATE, which commits in Redshift).
 * - `merge`: NULL and duplicate source keys are rejected, then `MERGE` (or `DELETE … USING` +
 *   `INSERT` with `mergeStrategy: 'delete-insert'`). Matched target rows count as `updated`, equal
 *   or not; with keys already duplicated in the target, delete-insert leaves one row per key.
 *
 * Field partitions (`dt` from `byField('dt')`) are not in the files but in their paths: each
 * partition's files are COPYed into a temporary table shaped like the files (Parquet COPY maps
 * columns by position and count), then inserted into the stage with the partition values bound
 * as parameters. Without field partitions, and when the target's columns are the files' columns
 * in order, one COPY goes straight into the stage.
 *
 * A rejected COPY rolls back, then `stl_load_errors` (or `sys_load_error_detail` on Serverless)
 * is read in the same session and the rows land in `LoadError.details`. Serialization conflicts
 * (error 1023) retry the whole load, up to `maxAttempts`. JSON COPY uses `'auto'`: Redshift
 * matches keys to (lower-case) column names.
 *
 * @example
 * ```ts
 * import { curatedHourlySchema } from '@tributary/sensors';
 *
 * const loader = new RedshiftLoader({ pool, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy' });
 * const result = await loader.load({ schema: 'analytics', name: 'sensor_hourly' },
 *   { storage: lake.curated, table: 'sensor_hourly', schema: curatedHourlySchema, partitions: { dt: '2026-11-23' } },
 *   { mode: 'merge', tableOptions: { distKey: 'type', sortKey: ['dt', 'hour'] } });
 * console.log(result.inserted, result.updated);
 * ```
 */
export class RedshiftLoader implements Loader {
  /** The options, without the credentials (see `authentication`). */
  readonly options: Readonly<Omit<RedshiftLoaderOptions, 'credentials'>> & {
    readonly manifestPrefix: string;
    readonly useManifest: boolean;
    readonly mergeStrategy: 'merge' | 'delete-insert';
    readonly maxAttempts: number;
    readonly authentication: 'iam-role' | 'credentials';
  };
  readonly #credentials: RedshiftCredentials | undefined;

  constructor(options: RedshiftLoaderOptions) {
    const invalid = (message: string, option: string) =>
      new WarehouseOptionsError(`RedshiftLoader ${message}`, { option });
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
      throw invalid(
        'options.iamRole must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
        'iamRole',
      );
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
    if (
      options.region !== undefined &&
      (typeof options.region !== 'string' || !REGION.test(options.region))
    ) {
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
    this.#credentials = credentials === undefined ? undefined : { ...credentials };
    const { credentials: _secret, ...rest } = options;
    this.options = Object.freeze({
      ...rest,
      manifestPrefix,
      useManifest: options.useManifest ?? true,
      mergeStrategy,
      maxAttempts,
      retryBaseDelayMs: base,
      authentication: credentials === undefined ? ('iam-role' as const) : ('credentials' as const),
    });
  }

  /** Load `source` into `table` in one transaction; any failure rolls it back and rejects with a `LoadError`. */
  async load<F extends Fields>(
    table: TableName | string,
    source: LakeSource<F>,
    options: RedshiftLoadOptions,
  ): Promise<LoadResult> {
    const startedAt = performance.now();
    const target = toTableName(table, 'RedshiftLoader');
    const label = qualifiedName(target);
    const { keys, createTable } = checkLoadArguments('RedshiftLoader', target, source, options);
    if (!source.storage.url.startsWith('s3://')) {
      throw new WarehouseOptionsError(
        `RedshiftLoader reads the lake from S3: source.storage.url must start with s3:// (got ${source.storage.url})`,
        { table: label },
      );
    }
    if (
      options.tableOptions !== undefined &&
      (typeof options.tableOptions !== 'object' || options.tableOptions === null)
    ) {
      throw new WarehouseOptionsError('RedshiftLoader.load() options.tableOptions must be an object', {
        table: label,
      });
    }
    const emit = (event: TributaryEvent) => {
      emitSafely(this.options.onEvent, event);
      emitSafely(options.onEvent, event);
    };
    const schema = source.schema as unknown as Schema<Fields>;
    const merged: RedshiftTableOptions = { ...this.options.tableOptions, ...options.tableOptions };
    // Only the four table options: a plain-JS object's `table` or `ifNotExists` must not reach
    // the DDL. Fails early (typed) on a style Redshift lacks or a key that is not a column.
    const ddl = toRedshiftDdl(schema, {
      table: target,
      distStyle: merged.distStyle,
      distKey: merged.distKey,
      sortKey: merged.sortKey,
      sortStyle: merged.sortStyle,
    });

    let plan: Plan | undefined;
    try {
      options.signal?.throwIfAborted();
      plan = await this.#plan(
        label,
        target,
        schema,
        keys,
        createTable,
        source as unknown as LakeSource,
        options,
        emit,
      );
      await this.#writeManifests(source as unknown as LakeSource, plan);
      const currentPlan = plan;
      const counts = await withRetry(() => this.#attempt(currentPlan, ddl), {
        maxAttempts: this.options.maxAttempts,
        baseDelayMs: this.options.retryBaseDelayMs ?? 200,
        isRetryable: isSerializationConflict,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onRetry: ({ attempt, delayMs, error }) =>
          emit({
            type: 'retry',
            source: SOURCE,
            attempt,
            delayMs,
            reason: 'serialization conflict',
            error,
            time: Date.now(),
          }),
      });
      emit({ type: 'records.out', source: SOURCE, count: counts.rows, time: Date.now() });
      return Object.freeze({
        table: label,
        mode: options.mode,
        rows: counts.rows,
        inserted: counts.inserted,
        updated: counts.updated,
        deleted: counts.deleted,
        files: counts.skipped ? 0 : plan.files.length,
        bytes: counts.skipped ? 0 : plan.files.reduce((n, f) => n + f.bytes, 0),
        elapsedMs: performance.now() - startedAt,
        created: counts.created,
        skipped: counts.skipped,
        ...(plan.snapshotId === undefined ? {} : { snapshotId: plan.snapshotId }),
      });
    } catch (error) {
      let wrapped: LoadError;
      if (error instanceof RetryExhaustedError) {
        const last = error.cause;
        wrapped = new LoadError(
          `loading ${label} (${options.mode}) kept hitting serialization conflicts: gave up after ${this.options.maxAttempts} attempts`,
          {
            table: label,
            code: 'LOAD_SERIALIZATION_CONFLICT',
            cause: error,
            details: last instanceof LoadError ? last.details : [],
          },
        );
      } else if (error instanceof LoadError || error instanceof WarehouseOptionsError) {
        wrapped = error as LoadError;
      } else {
        wrapped = new LoadError(`loading ${label} (${options.mode}) failed and was rolled back`, {
          table: label,
          cause: error,
          context: { mode: options.mode },
        });
      }
      emit({
        type: 'failure',
        source: SOURCE,
        count: 0,
        code: wrapped.code,
        error: wrapped,
        time: Date.now(),
      });
      throw wrapped;
    } finally {
      if (plan) await this.#deleteManifests(source as unknown as LakeSource, plan);
    }
  }

  async #plan(
    label: string,
    target: TableName,
    schema: Schema<Fields>,
    keys: readonly string[],
    createTable: boolean,
    source: LakeSource,
    options: RedshiftLoadOptions,
    emit: (event: TributaryEvent) => void,
  ): Promise<Plan> {
    const resolved = await resolveSource(source);
    const { files } = resolved;
    const kinds = new Set<FileKind>();
    for (const file of files) {
      const kind = kindOf(file.key);
      if (kind === undefined) {
        throw new LoadError(
          `${file.key}: Redshift COPY reads Parquet and NDJSON/JSON (optionally gzipped) only`,
          {
            table: label,
            code: 'SOURCE_FORMAT_UNSUPPORTED',
            context: { key: file.key },
          },
        );
      }
      kinds.add(kind);
    }
    if (kinds.size > 1) {
      throw new LoadError(
        `the source mixes file formats (${[...kinds].join(', ')}): one COPY reads one format`,
        { table: label, code: 'SOURCE_FORMATS_MIXED', context: { formats: [...kinds] } },
      );
    }
    const byField = new Map(schema.columns.map((c) => [c.name, c]));
    if (resolved.fileColumns !== undefined) {
      const unknown = checkFileColumns(label, schema, resolved.fileColumns);
      if (unknown) throw unknown;
    }
    const manifest =
      resolved.format === 'hive' ? await readManifest(source.storage, source.table) : undefined;
    // Without a manifest (a table Spark or Hive wrote), a hive key that names a schema field is
    // a field partition, as readDataset reads it. An Iceberg table's files hold every column
    // (identity partitions included), in its schema's order.
    const fieldPartitions = (
      resolved.format === 'iceberg'
        ? []
        : source.partitionBy
          ? source.partitionBy.flatMap((p) => (p.field ? [{ name: p.name, field: p.field }] : []))
          : manifest
            ? (manifest.fieldPartitions ?? [])
            : Object.keys(parsePartitions(files[0]?.key ?? '')).map((name) => ({ name, field: name }))
    ).filter((p) => byField.has(p.field));
    const partitionColumns = fieldPartitions.map((p) => byField.get(p.field) as Column);
    const partitionFields = new Set(partitionColumns.map((c) => c.name));
    const fileColumns =
      resolved.fileColumns ?? schema.columns.map((c) => c.name).filter((n) => !partitionFields.has(n));

    const base = source.storage.url.replace(/\/+$/, '');
    const loadId = randomUUID();
    const groups = new Map<string, PartitionGroup & { files: DatasetFile[] }>();
    for (const file of files) {
      const values = parsePartitions(file.key);
      const tuple = fieldPartitions.map((p) => values[p.name] ?? null);
      const id = JSON.stringify(tuple);
      let group = groups.get(id);
      if (!group) {
        group = { values: tuple, copies: [], files: [] };
        groups.set(id, group);
      }
      group.files.push(file);
    }
    let n = 0;
    for (const group of groups.values()) {
      if (this.options.useManifest) {
        const key = `${this.options.manifestPrefix}${loadId}-${String(n++).padStart(4, '0')}.manifest`;
        const body = JSON.stringify({
          entries: group.files.map((f) => ({
            url: `${base}/${f.key}`,
            mandatory: true,
            meta: { content_length: f.bytes },
          })),
        });
        group.copies.push({ url: `${base}/${key}`, manifest: { key, body }, files: group.files });
      } else {
        for (const f of group.files)
          group.copies.push({ url: `${base}/${f.key}`, manifest: undefined, files: [f] });
      }
    }
    return {
      label,
      target,
      schema,
      columns: schema.columns.map((c) => c.name),
      keys,
      createTable,
      options,
      files,
      kind: [...kinds][0],
      fileColumns,
      partitionColumns,
      groups: [...groups.values()].map(({ values, copies }) => ({ values, copies })),
      snapshotId: resolved.snapshotId,
      booked: bookkeepingSource(source, resolved),
      emit,
    };
  }

  async #writeManifests(source: LakeSource, plan: Plan): Promise<void> {
    for (const group of plan.groups) {
      for (const copy of group.copies) {
        if (copy.manifest) {
          await source.storage.put(copy.manifest.key, copy.manifest.body, {
            contentType: 'application/json',
            ...(plan.options.signal === undefined ? {} : { signal: plan.options.signal }),
          });
        }
      }
    }
  }

  async #deleteManifests(source: LakeSource, plan: Plan): Promise<void> {
    const keys = plan.groups.flatMap((g) => g.copies.flatMap((c) => (c.manifest ? [c.manifest.key] : [])));
    if (keys.length === 0) return;
    try {
      await source.storage.delete(keys);
    } catch {
      // A leftover manifest under the manifest prefix is harmless: readers of the dataset skip `_` paths.
    }
  }

  /** The authorization part of COPY: the real one, and the one that may be shown. */
  #authorization(): { text: string; shown: string } {
    if (this.#credentials === undefined) {
      const role = `IAM_ROLE ${quoteLiteral(this.options.iamRole as string)}`;
      return { text: role, shown: role };
    }
    const { accessKeyId, secretAccessKey, sessionToken } = this.#credentials;
    const text = `ACCESS_KEY_ID ${quoteLiteral(accessKeyId)} SECRET_ACCESS_KEY ${quoteLiteral(secretAccessKey)}${sessionToken === undefined ? '' : ` SESSION_TOKEN ${quoteLiteral(sessionToken)}`}`;
    const shown = `ACCESS_KEY_ID '${REDACTED}' SECRET_ACCESS_KEY '${REDACTED}'${sessionToken === undefined ? '' : ` SESSION_TOKEN '${REDACTED}'`}`;
    return { text, shown };
  }

  #copySql(into: string, copy: CopyUnit, plan: Plan): { text: string; shown: string } {
    const auth = this.#authorization();
    let format: string;
    if (plan.kind === 'parquet') {
      // Parquet COPY accepts neither TIMEFORMAT nor REGION; lists load into SUPER as JSON.
      format = `FORMAT AS PARQUET${plan.schema.columns.some((c) => c.def.kind === 'list') ? ' SERIALIZETOJSON' : ''}`;
    } else {
      format = `FORMAT AS JSON 'auto'${plan.kind === 'json.gz' ? ' GZIP' : ''} TIMEFORMAT 'auto'${this.options.region ? ` REGION ${quoteLiteral(this.options.region)}` : ''}`;
    }
    const head = `COPY ${into} FROM ${quoteLiteral(copy.url)}`;
    const tail = `${copy.manifest ? ' MANIFEST' : ''} ${format}`;
    return { text: `${head} ${auth.text}${tail}`, shown: `${head} ${auth.shown}${tail}` };
  }

  async #attempt(plan: Plan, ddl: string): Promise<Counts> {
    const { label, target, schema, columns, keys, options } = plan;
    let failedCopy: { shown: string; url: string } | undefined;
    let details: LoadErrorDetail[] = [];
    try {
      return await withClient(this.options.pool, async (client: PgClient) => {
        const run = (text: string, values?: unknown[]) =>
          values === undefined ? client.query(text) : client.query(text, values);
        try {
          options.signal?.throwIfAborted();
          await run('BEGIN');
          const columnsQuery = targetColumnsSql(target);
          let existing = (await run(columnsQuery.text, columnsQuery.values)).rows.map(
            (r) => r.column_name as string,
          );
          let created = false;
          if (existing.length === 0) {
            if (!plan.createTable) throw targetMissing(label);
            if (target.schema) await run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(target.schema)}`);
            await run(ddl);
            created = true;
            existing = columns;
          } else {
            const missing = checkTargetColumns(label, schema, existing);
            if (missing) throw missing;
          }
          if (plan.booked !== undefined) {
            for (const statement of lockLoadsSql(target)) await run(statement);
            const loaded = created ? undefined : loadedSnapshotSql(target, plan.booked);
            if (loaded && (await run(loaded.text, loaded.values)).rows[0]?.snapshot_id === plan.snapshotId) {
              // The target holds this snapshot already: loading it again would change nothing.
              await run('COMMIT');
              return { rows: 0, inserted: 0, updated: 0, deleted: 0, created, skipped: true };
            }
          }

          const stage = quoteIdentifier(STAGE_TABLE);
          await run(createStageSql('redshift', label));
          const direct =
            plan.partitionColumns.length === 0 &&
            existing.length === plan.fileColumns.length &&
            existing.every((c, i) => c === plan.fileColumns[i]);
          const copyAll = async (into: string, group: PartitionGroup) => {
            for (const copy of group.copies) {
              const sql = this.#copySql(into, copy, plan);
              failedCopy = { shown: sql.shown, url: copy.url };
              await run(sql.text);
              failedCopy = undefined;
              plan.emit({
                type: 'batch',
                source: SOURCE,
                count: copy.files.reduce((n, f) => n + Math.max(f.rows, 0), 0),
                bytes: copy.files.reduce((n, f) => n + f.bytes, 0),
                time: Date.now(),
              });
            }
          };
          if (plan.groups.length > 0) {
            if (direct) {
              for (const group of plan.groups) await copyAll(stage, group);
            } else {
              const files = quoteIdentifier(FILES_TABLE);
              await run(createFilesTableSql(label, plan.fileColumns));
              for (const group of plan.groups) {
                await copyAll(files, group);
                const insert = insertPartitionSql(
                  'redshift',
                  plan.fileColumns,
                  plan.partitionColumns,
                  group.values,
                );
                await run(insert.text, insert.values);
                // DELETE, not TRUNCATE: TRUNCATE would commit the transaction in Redshift.
                await run(deleteAllSql(files));
              }
              await run(dropTableSql(files));
            }
          }
          const rows = Number((await run(countSql(stage))).rows[0]?.n ?? 0);

          let inserted = 0;
          let updated = 0;
          let deleted = 0;
          if (options.mode === 'append') {
            inserted = (await run(insertFromStageSql(label, columns))).rowCount ?? rows;
          } else if (options.mode === 'replace') {
            deleted = (await run(deleteAllSql(label))).rowCount ?? 0;
            inserted = (await run(insertFromStageSql(label, columns))).rowCount ?? rows;
          } else {
            const nulls = Number((await run(nullKeysSql(keys))).rows[0]?.n ?? 0);
            if (nulls > 0) throw nullKeysError(label, keys, nulls);
            const duplicates = (await run(duplicateKeysSql(keys))).rows;
            if (duplicates.length > 0) throw duplicateKeysError(label, keys, duplicates);
            const matches = (await run(matchCountsSql(label, keys))).rows[0] ?? {};
            updated = Number(matches.updated ?? 0);
            inserted = rows - Number(matches.matched ?? 0);
            if (this.options.mergeStrategy === 'merge') {
              await run(mergeSql(label, columns, keys));
            } else {
              await run(deleteMatchedSql(label, keys));
              await run(insertFromStageSql(label, columns));
            }
          }
          if (plan.booked !== undefined && plan.snapshotId !== undefined) {
            for (const s of recordSnapshotSql(target, plan.booked, plan.snapshotId, options.mode, rows)) {
              await run(s.text, s.values);
            }
          }
          // Redshift keeps temporary tables until the session ends, and pooled sessions live long.
          await run(dropTableSql(stage));
          await run('COMMIT');
          return { rows, inserted, updated, deleted, created, skipped: false };
        } catch (error) {
          try {
            await run('ROLLBACK');
          } catch {
            // withClient releases the connection as broken, so the pool discards it.
          }
          if (failedCopy !== undefined) details = await readLoadErrors(client);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof LoadError) throw error;
      const retryable = isSerializationConflict(error);
      throw new LoadError(
        failedCopy
          ? `COPY into ${label} was rejected; the load was rolled back`
          : `loading ${label} (${options.mode}) failed and was rolled back`,
        {
          table: label,
          code: failedCopy ? 'COPY_REJECTED' : retryable ? 'LOAD_SERIALIZATION_CONFLICT' : 'LOAD_FAILED',
          cause: error,
          retryable,
          details,
          context: {
            mode: options.mode,
            ...(failedCopy ? { statement: failedCopy.shown, url: failedCopy.url } : {}),
          },
        },
      );
    }
  }
}

/** The rows Redshift logged for the session's last COPY: STL first, SYS when STL is missing (Serverless). */
async function readLoadErrors(client: PgClient): Promise<LoadErrorDetail[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = (await client.query(STL_LOAD_ERRORS_SQL)).rows;
  } catch {
    try {
      rows = (await client.query(SYS_LOAD_ERROR_DETAIL_SQL)).rows;
    } catch {
      return [];
    }
  }
  return rows.map((r) => ({
    file: trimmed(r.file_name) ?? '',
    line: numberOrUndefined(r.line_number),
    column: trimmed(r.column_name),
    columnType: trimmed(r.column_type),
    rawValue: trimmed(r.raw_field_value),
    rawLine: trimmed(r.raw_line),
    errorCode: numberOrUndefined(r.error_code),
    reason: trimmed(r.error_reason) ?? 'unknown',
  }));
}
