import {
  emitSafely,
  type Fields,
  type PgClient,
  qualifiedName,
  quoteIdentifier,
  RetryExhaustedError,
  type Schema,
  type TableName,
  type TributaryEvent,
  toRedshiftDdl,
  withClient,
  withRetry,
} from '@tributary/core';
import { LoadError, type LoadErrorDetail, WarehouseOptionsError } from './errors.js';
import { checkLoadArguments, loadOptionsError, toTableName } from './load-arguments.js';
import {
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
  STAGE_TABLE,
  targetColumnsSql,
  targetMissing,
} from './load-sql.js';
import { copyAuthorization, copySql, readLoadErrors } from './redshift-copy.js';
import {
  type RedshiftCredentials,
  type RedshiftLoaderOptions,
  type RedshiftLoadOptions,
  type RedshiftTableOptions,
  type ResolvedRedshiftOptions,
  resolveRedshiftOptions,
} from './redshift-options.js';
import {
  deleteManifests,
  type PartitionGroup,
  type Plan,
  planLoad,
  writeManifests,
} from './redshift-plan.js';
import type { LakeSource, Loader, LoadResult } from './types.js';

export type {
  RedshiftCredentials,
  RedshiftLoaderOptions,
  RedshiftLoadOptions,
  RedshiftTableOptions,
} from './redshift-options.js';

const SOURCE = 'redshift-loader';

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
  readonly options: ResolvedRedshiftOptions;
  readonly #credentials: RedshiftCredentials | undefined;

  constructor(options: RedshiftLoaderOptions) {
    const { options: resolved, credentials } = resolveRedshiftOptions(options);
    this.options = resolved;
    this.#credentials = credentials;
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
      throw loadOptionsError(
        `RedshiftLoader reads the lake from S3: source.storage.url must start with s3:// (got ${source.storage.url})`,
        'source.storage',
        label,
      );
    }
    if (
      options.tableOptions !== undefined &&
      (typeof options.tableOptions !== 'object' || options.tableOptions === null)
    ) {
      throw loadOptionsError(
        'RedshiftLoader.load() options.tableOptions must be an object',
        'tableOptions',
        label,
      );
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
      plan = await planLoad(
        this.options,
        label,
        target,
        schema,
        keys,
        createTable,
        source as unknown as LakeSource,
        options,
        emit,
      );
      await writeManifests(source as unknown as LakeSource, plan);
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
      if (plan) await deleteManifests(source as unknown as LakeSource, plan);
    }
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
          const auth = copyAuthorization(this.options.iamRole, this.#credentials);
          const copyAll = async (into: string, group: PartitionGroup) => {
            for (const copy of group.copies) {
              const sql = copySql(into, copy, plan, auth, this.options.region);
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
