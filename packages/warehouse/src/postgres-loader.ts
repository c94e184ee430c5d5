import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Column,
  type EventListener,
  emitSafely,
  type FieldDef,
  type Fields,
  type PgClient,
  type PgPool,
  qualifiedName,
  quoteIdentifier,
  type Schema,
  type TableName,
  type TributaryEvent,
  toPostgresDdl,
  withClient,
} from '@tributary/core';
import { readDataset } from '@tributary/lake';
import { from as copyFrom } from 'pg-copy-streams';
import { LoadError, WarehouseOptionsError } from './errors.js';
import { checkLoadArguments, resolveSource, toTableName } from './load-arguments.js';
import {
  bookkeepingSource,
  checkTargetColumns,
  countSql,
  createStageSql,
  duplicateKeysError,
  duplicateKeysSql,
  insertMissingSql,
  loadedSnapshotSql,
  lockLoadsSql,
  nullKeysError,
  nullKeysSql,
  recordSnapshotSql,
  STAGE_TABLE,
  targetColumnsSql,
  targetMissing,
  updateFromStageSql,
} from './load-sql.js';
import type { LakeSource, Loader, LoadOptions, LoadResult } from './types.js';

/**
 * Options of {@link PostgresLoader}.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 *
 * const hub = new EventHub();
 * const options: PostgresLoaderOptions = { pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }), onEvent: hub.emit };
 * ```
 */
export interface PostgresLoaderOptions {
  /** A `pg.Pool` (or anything with its `connect()` and `query()`); the loader never ends it. */
  pool: PgPool;
  /** `batch` per chunk sent to COPY, `records.out` after each commit, `failure` on a rollback. */
  onEvent?: EventListener;
}

const SOURCE = 'postgres-loader';
// COPY data goes out in chunks of about this many characters: few socket writes, bounded memory.
const COPY_CHUNK_CHARS = 64 * 1024;

function escapeCopyText(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (ch) =>
    ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
  );
}

function arrayElement(def: FieldDef, value: unknown): string {
  switch (def.kind) {
    case 'string':
      return `"${(value as string).replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'timestamp':
      return `"${(value as Date).toISOString()}"`;
    default:
      return String(value);
  }
}

/**
 * One value in COPY text format for its column's PostgreSQL type: `\N` for NULL, decimals and
 * bigints as their exact text, timestamps as ISO-8601 UTC, lists as array literals, and the
 * characters COPY treats specially (backslash, tab, newline, carriage return) escaped.
 * For a `field.list(field.string())` column, `['a"b', 'c']` becomes `{"a\\"b","c"}`: the array
 * literal `{"a\"b","c"}` with its backslash escaped for COPY. (Not exported, so no `@example`.)
 */
export function encodeCopyValue(column: Column, value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const def = column.def;
  switch (def.kind) {
    case 'string':
      return escapeCopyText(value as string);
    case 'boolean':
      return value ? 't' : 'f';
    case 'timestamp':
      return (value as Date).toISOString();
    case 'list': {
      const element = def.element as FieldDef;
      return escapeCopyText(`{${(value as unknown[]).map((v) => arrayElement(element, v)).join(',')}}`);
    }
    default:
      // int32, int64 (bigint), double, decimal (exact text), date (YYYY-MM-DD): their text is the literal.
      return String(value);
  }
}

/**
 * One record as a line of COPY text format (tab-separated, newline-terminated).
 * For columns `id` (int64) and `name` (string), `{ id: 1n, name: 'a\tb' }` becomes the JavaScript
 * string `'1\ta\\tb\n'`. (Not exported, so no `@example`.)
 */
export function encodeCopyLine(columns: readonly Column[], record: Record<string, unknown>): string {
  let line = '';
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as Column;
    if (i > 0) line += '\t';
    line += encodeCopyValue(column, record[column.name]);
  }
  return `${line}\n`;
}

/** What streaming records into COPY counted. */
interface CopyCount {
  rows: number;
}

/**
 * Chunks of COPY text for an async stream of records. Pulled by the COPY stream, so reading
 * waits while PostgreSQL is slower than the lake: memory stays at about one chunk.
 */
async function* copyChunks(
  records: AsyncIterable<Record<string, unknown>>,
  columns: readonly Column[],
  count: CopyCount,
  onChunk: (rows: number, chars: number) => void,
): AsyncGenerator<string> {
  let chunk = '';
  let rows = 0;
  for await (const record of records) {
    chunk += encodeCopyLine(columns, record);
    rows += 1;
    count.rows += 1;
    if (chunk.length >= COPY_CHUNK_CHARS) {
      onChunk(rows, chunk.length);
      yield chunk;
      chunk = '';
      rows = 0;
    }
  }
  if (chunk.length > 0) {
    onChunk(rows, chunk.length);
    yield chunk;
  }
}

/**
 * Loads lake datasets into PostgreSQL: the local warehouse. Each load is one transaction on one
 * pooled connection; rows stream from the lake into `COPY … FROM STDIN` (text format) with
 * backpressure, so memory stays bounded whatever the dataset's size. A connection that fails
 * during a load (its backend terminated, its socket dropped) rejects the load with a `LoadError`
 * whose `cause` is the driver's error, and is discarded by the pool, never reused.
 *
 * - `append`: COPY into the target.
 * - `replace`: `TRUNCATE` the target, then COPY, in the same transaction (TRUNCATE's lock makes
 *   readers of the target wait until the commit; they never see it empty).
 * - `merge`: COPY into a temporary table, reject NULL or duplicate keys (as Redshift's MERGE
 *   would), `UPDATE … FROM` the matched rows, then insert the others. A source row equal to its
 *   target row still counts as `updated` (no `IS DISTINCT FROM` filter), as with Redshift's MERGE.
 *
 * The target is created from the source schema when missing (`createTable`, default true); an
 * existing target must have every source column (it is never altered). A plain string names an
 * unqualified table (dots are part of the name); pass `{ schema, name }` to qualify it.
 *
 * @example
 * ```ts
 * import { curatedHourlySchema } from '@tributary/sensors';
 * import pg from 'pg';
 *
 * const loader = new PostgresLoader({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * const result = await loader.load({ schema: 'analytics', name: 'sensor_hourly' },
 *   { storage: lake.curated, table: 'sensor_hourly', schema: curatedHourlySchema, partitions: { dt: '2026-11-23' } },
 *   { mode: 'merge' });
 * console.log(result.inserted, result.updated);
 * ```
 */
export class PostgresLoader implements Loader {
  readonly options: Readonly<PostgresLoaderOptions>;

  constructor(options: PostgresLoaderOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new WarehouseOptionsError('PostgresLoader needs an options object', {
        code: 'LOADER_OPTIONS_INVALID',
        option: 'options',
      });
    }
    const pool = options.pool as Partial<PgPool> | undefined;
    if (!pool || typeof pool.connect !== 'function') {
      throw new WarehouseOptionsError('PostgresLoader options.pool must have connect() (a pg.Pool)', {
        code: 'LOADER_OPTIONS_INVALID',
        option: 'pool',
      });
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new WarehouseOptionsError('PostgresLoader options.onEvent must be a function', {
        code: 'LOADER_OPTIONS_INVALID',
        option: 'onEvent',
      });
    }
    this.options = Object.freeze({ ...options });
  }

  /** Load `source` into `table` in one transaction; any failure rolls it back and rejects with a `LoadError`. */
  async load<F extends Fields>(
    table: TableName | string,
    source: LakeSource<F>,
    options: LoadOptions,
  ): Promise<LoadResult> {
    const startedAt = performance.now();
    const target = toTableName(table, 'PostgresLoader');
    const label = qualifiedName(target);
    const { keys, createTable } = checkLoadArguments('PostgresLoader', target, source, options);
    const emit = (event: TributaryEvent) => {
      emitSafely(this.options.onEvent, event);
      emitSafely(options.onEvent, event);
    };
    const schema = source.schema as unknown as Schema<Fields>;
    const columns = schema.columns;
    const names = columns.map((c) => c.name);
    const count: CopyCount = { rows: 0 };

    try {
      options.signal?.throwIfAborted();
      const resolved = await resolveSource(source as unknown as LakeSource);
      const { files, snapshotId } = resolved;
      const booked = bookkeepingSource(source as unknown as LakeSource, resolved);
      const counts = await withClient(this.options.pool, async (client: PgClient) => {
        try {
          await client.query('BEGIN');
          const existing = (
            await client.query(targetColumnsSql(target).text, targetColumnsSql(target).values)
          ).rows.map((r) => r.column_name as string);
          let created = false;
          if (existing.length === 0) {
            if (!createTable) throw targetMissing(label);
            await client.query(toPostgresDdl(schema, { table: target }));
            created = true;
          } else {
            const missing = checkTargetColumns(label, schema, existing);
            if (missing) throw missing;
          }
          if (booked !== undefined) {
            for (const statement of lockLoadsSql(target)) await client.query(statement);
            const loaded = created ? undefined : loadedSnapshotSql(target, booked);
            if (
              loaded &&
              (await client.query(loaded.text, loaded.values)).rows[0]?.snapshot_id === snapshotId
            ) {
              // The target holds this snapshot already: loading it again would change nothing.
              await client.query('COMMIT');
              return { inserted: 0, updated: 0, deleted: 0, created, skipped: true };
            }
          }

          let deleted = 0;
          let inserted = 0;
          let updated = 0;
          const copyInto = async (into: string) => {
            const copy = client.query(
              copyFrom(
                `COPY ${into} (${names.map((n) => quoteIdentifier(n)).join(', ')}) FROM STDIN`,
              ) as never,
            ) as unknown as Writable & { rowCount?: number };
            // An Iceberg source is read at the snapshot resolved above, whatever was committed since.
            const records = readDataset({
              storage: source.storage,
              table: source.table,
              schema,
              tableFormat: resolved.format,
              ...(resolved.format === 'iceberg' && source.catalog !== undefined
                ? { catalog: source.catalog }
                : {}),
              ...(snapshotId === undefined ? {} : { snapshotId }),
              ...(source.partitions === undefined ? {} : { partitions: source.partitions }),
              ...(source.partitionBy === undefined ? {} : { partitionBy: source.partitionBy }),
              ...(options.signal === undefined ? {} : { signal: options.signal }),
            }) as AsyncIterable<Record<string, unknown>>;
            const chunks = copyChunks(records, columns, count, (rows, chars) =>
              emit({ type: 'batch', source: SOURCE, count: rows, bytes: chars, time: Date.now() }),
            );
            await pipeline(Readable.from(chunks), copy);
            return copy.rowCount ?? count.rows;
          };

          if (options.mode === 'append') {
            inserted = await copyInto(label);
          } else if (options.mode === 'replace') {
            deleted = Number((await client.query(countSql(label))).rows[0]?.n ?? 0);
            await client.query(`TRUNCATE ${label}`);
            inserted = await copyInto(label);
          } else {
            await client.query(createStageSql('postgres', label));
            await copyInto(quoteIdentifier(STAGE_TABLE));
            const nulls = Number((await client.query(nullKeysSql(keys))).rows[0]?.n ?? 0);
            if (nulls > 0) throw nullKeysError(label, keys, nulls);
            const duplicates = (await client.query(duplicateKeysSql(keys))).rows;
            if (duplicates.length > 0) throw duplicateKeysError(label, keys, duplicates);
            updated = (await client.query(updateFromStageSql(label, names, keys))).rowCount ?? 0;
            inserted = (await client.query(insertMissingSql(label, names, keys))).rowCount ?? 0;
          }
          if (booked !== undefined && snapshotId !== undefined) {
            for (const s of recordSnapshotSql(target, booked, snapshotId, options.mode, count.rows)) {
              await client.query(s.text, s.values);
            }
          }
          await client.query('COMMIT');
          return { inserted, updated, deleted, created, skipped: false };
        } catch (error) {
          try {
            await client.query('ROLLBACK');
          } catch {
            // The connection is unusable: withClient releases it as broken, which ends the transaction.
          }
          throw error;
        }
      });

      emit({ type: 'records.out', source: SOURCE, count: count.rows, time: Date.now() });
      return Object.freeze({
        table: label,
        mode: options.mode,
        rows: count.rows,
        ...counts,
        files: counts.skipped ? 0 : files.length,
        bytes: counts.skipped ? 0 : files.reduce((n, f) => n + f.bytes, 0),
        elapsedMs: performance.now() - startedAt,
        ...(snapshotId === undefined ? {} : { snapshotId }),
      });
    } catch (error) {
      const wrapped =
        error instanceof LoadError
          ? error
          : new LoadError(`loading ${label} (${options.mode}) failed and was rolled back`, {
              table: label,
              cause: error,
              context: { mode: options.mode, rows: count.rows },
            });
      emit({
        type: 'failure',
        source: SOURCE,
        count: count.rows,
        code: wrapped.code,
        error: wrapped,
        time: Date.now(),
      });
      throw wrapped;
    }
  }
}
