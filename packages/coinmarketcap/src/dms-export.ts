import { PassThrough } from 'node:stream';
import {
  type AnyField,
  defineSchema,
  Field,
  type Fields,
  OptionsError,
  type PgClient,
  type PgPool,
  qualifiedName,
  quoteIdentifier,
  type Schema,
  withClient,
} from '@tributary/core';
import { csvFormat, type FileFormat, parquetFormat, type Storage } from '@tributary/lake';
import { DmsExportError } from './errors.js';
import { CRYPTO_SCHEMA, CRYPTO_TABLES, type CryptoTableName } from './schemas.js';

export { DmsExportError };

/** Where the export of each table stands: the PostgreSQL snapshot its last export saw. */
export interface ExportWatermarks {
  /** Per table: `txid_current_snapshot()` of the last export's transaction, and when it ran. */
  tables: Partial<Record<CryptoTableName, { snapshot: string; exportedAt: string }>>;
}

/** Keeps {@link ExportWatermarks} between runs; the default is a JSON file in the raw zone. */
export interface WatermarkStore {
  read(schema: string): Promise<ExportWatermarks | undefined>;
  write(schema: string, watermarks: ExportWatermarks): Promise<void>;
}

/** Options of {@link exportTables}. */
export interface ExportTablesOptions {
  /** A `pg.Pool`; the export never ends it. */
  pool: PgPool;
  /** The raw zone. Files land under `<prefix><schema>/<table>/`. */
  storage: Storage;
  /** Default every table of {@link CRYPTO_TABLES}. */
  tables?: readonly CryptoTableName[];
  /** `full`: LOAD files of every row; `cdc`: the changes since the table's watermark. */
  mode: 'full' | 'cdc';
  /** Default `csv`, as DMS writes by default. */
  format?: 'csv' | 'parquet';
  /** Default `coinmarketcap/`. */
  prefix?: string;
  /** The PostgreSQL schema of the tables. Default {@link CRYPTO_SCHEMA}. */
  schema?: string;
  /** Default: `<prefix>_watermarks/<schema>.json` in `storage`. */
  watermarkStore?: WatermarkStore;
  /** Rows per LOAD file before rolling to the next one. Default 1,000,000. */
  maxRowsPerFile?: number;
  /** The clock that names CDC files. Default `() => new Date()`. */
  now?: () => Date;
}

/** What {@link exportTables} wrote for one table. */
export interface TableExport {
  readonly table: CryptoTableName;
  readonly keys: readonly string[];
  readonly rows: number;
}

const CHANGES_TABLE = '_changes';
const CAPTURE_FUNCTION = '_tributary_capture';
const FETCH_ROWS = 1000;
const FORMATS: Record<'csv' | 'parquet', FileFormat> = { csv: csvFormat, parquet: parquetFormat };

function invalidOption(message: string, option: string): OptionsError {
  return new OptionsError(message, { code: 'CMC_EXPORT_OPTIONS_INVALID', option });
}

/**
 * A dollar-quoted string holding `body` exactly: its tag is one that does not occur in the body,
 * so a schema name with `$$` in it cannot end the function body early.
 */
function dollarQuote(body: string): string {
  let tag = '$capture$';
  for (let n = 1; body.includes(tag); n++) tag = `$capture${n}$`;
  return `${tag}\n${body}${tag}`;
}

/**
 * Install the change capture that CDC exports read: a `<schema>._changes` log and row triggers on
 * every table. This is the stand-in for DMS's logical replication, which needs `wal_level=logical`
 * (not set on the embedded server and a parameter-group change on RDS); triggers work on both.
 * Each change row holds the operation, the primary key, the row as `jsonb` (numerics stay exact),
 * the transaction's `now()` as `commit_ts` and its `txid_current()`. Changing a primary key is
 * logged as a delete and an insert. `TRUNCATE` is not captured. Run it after `PostgresStore.init()`;
 * running it again is harmless.
 *
 * @example
 * ```ts
 * await store.init();
 * await installChangeCapture(pool);
 * ```
 */
export async function installChangeCapture(pool: PgPool, schema: string = CRYPTO_SCHEMA): Promise<void> {
  const s = quoteIdentifier(schema);
  const changes = qualifiedName({ schema, name: CHANGES_TABLE });
  const fn = qualifiedName({ schema, name: CAPTURE_FUNCTION });
  const body = `DECLARE
  old_pk jsonb := '{}'::jsonb;
  new_pk jsonb := '{}'::jsonb;
  k text;
BEGIN
  FOREACH k IN ARRAY TG_ARGV LOOP
    IF TG_OP <> 'INSERT' THEN old_pk := old_pk || jsonb_build_object(k, to_jsonb(OLD) -> k); END IF;
    IF TG_OP <> 'DELETE' THEN new_pk := new_pk || jsonb_build_object(k, to_jsonb(NEW) -> k); END IF;
  END LOOP;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ${changes} (table_name, op, pk, "row") VALUES (TG_TABLE_NAME, 'I', new_pk, to_jsonb(NEW));
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO ${changes} (table_name, op, pk, "row") VALUES (TG_TABLE_NAME, 'D', old_pk, to_jsonb(OLD));
  ELSIF old_pk IS DISTINCT FROM new_pk THEN
    INSERT INTO ${changes} (table_name, op, pk, "row") VALUES (TG_TABLE_NAME, 'D', old_pk, to_jsonb(OLD));
    INSERT INTO ${changes} (table_name, op, pk, "row") VALUES (TG_TABLE_NAME, 'I', new_pk, to_jsonb(NEW));
  ELSE
    INSERT INTO ${changes} (table_name, op, pk, "row") VALUES (TG_TABLE_NAME, 'U', new_pk, to_jsonb(NEW));
  END IF;
  RETURN NULL;
END;
`;
  let sql = `CREATE TABLE IF NOT EXISTS ${changes} (
  seq bigserial PRIMARY KEY,
  table_name text NOT NULL,
  op char(1) NOT NULL,
  pk jsonb NOT NULL,
  "row" jsonb NOT NULL,
  commit_ts timestamptz NOT NULL DEFAULT now(),
  txid bigint NOT NULL DEFAULT txid_current()
);
CREATE INDEX IF NOT EXISTS _changes_table_txid ON ${changes} (table_name, txid);
CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuote(body)};
`;
  for (const [name, tableSchema] of Object.entries(CRYPTO_TABLES)) {
    const table = qualifiedName({ schema, name });
    const trigger = quoteIdentifier(`_tributary_capture_${name}`);
    const args = (tableSchema as Schema<Fields>).primaryKey
      .map((k) => `'${k.replace(/'/g, "''")}'`)
      .join(', ');
    sql += `DROP TRIGGER IF EXISTS ${trigger} ON ${table};
CREATE TRIGGER ${trigger} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}(${args});
`;
  }
  try {
    await pool.query(sql);
  } catch (error) {
    throw new DmsExportError(`installing change capture in schema ${s} failed`, {
      code: 'CMC_EXPORT_CAPTURE_FAILED',
      cause: error,
      context: { schema },
    });
  }
}

/**
 * The watermark store that keeps one JSON file per PostgreSQL schema in a storage; keys under a
 * `_`-prefixed folder are skipped by the lake's readers.
 *
 * @example
 * ```ts
 * const watermarks = storageWatermarks(lake.raw, 'coinmarketcap/_watermarks/');
 * console.log(await watermarks.read(CRYPTO_SCHEMA));
 * ```
 */
export function storageWatermarks(storage: Storage, folder: string): WatermarkStore {
  const keyOf = (schema: string) => `${folder}${schema}.json`;
  return {
    async read(schema) {
      if (!(await storage.head(keyOf(schema)))) return undefined;
      const bytes = await storage.getBytes(keyOf(schema));
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as ExportWatermarks;
    },
    async write(schema, watermarks) {
      await storage.put(keyOf(schema), `${JSON.stringify(watermarks, null, 2)}\n`, {
        contentType: 'application/json',
      });
    },
  };
}

/**
 * The schema of a table's CDC files: `Op` (I/U/D) and `commit_ts` first, then the table's
 * columns, all nullable because a delete carries only the primary key.
 *
 * @example
 * ```ts
 * import { csvFormat } from '@tributary/lake';
 *
 * for await (const { key } of lake.raw.list(`coinmarketcap/${CRYPTO_SCHEMA}/quote/`)) {
 *   if (key.includes('/LOAD')) continue; // full-load files have no Op column
 *   for await (const change of csvFormat.read(lake.raw, key, cdcSchema('quote'))) console.log(change.Op);
 * }
 * ```
 */
export function cdcSchema(table: CryptoTableName): Schema<Fields> {
  const base = CRYPTO_TABLES[table] as Schema<Fields>;
  const fields: Record<string, AnyField> = {
    Op: new Field({ kind: 'string', presence: 'required' }),
    commit_ts: new Field({ kind: 'timestamp', presence: 'required' }),
  };
  for (const column of base.columns) {
    const presence = base.primaryKey.includes(column.name) ? 'required' : 'nullable';
    fields[column.name] = new Field({ ...column.def, presence });
  }
  return defineSchema(fields, { description: `changes of ${table}` });
}

/** `yyyyMMdd-HHmmssSSS` in UTC, as DMS names CDC files. */
function cdcName(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${iso.slice(20, 23)}`;
}

function loadName(n: number): string {
  return `LOAD${String(n).padStart(8, '0')}`;
}

// pg hands int8 over as text; the schemas (and Parquet) want bigint.
function fromPg(row: Record<string, unknown>, schema: Schema<Fields>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of schema.columns) {
    const value = row[column.name];
    out[column.name] =
      column.def.kind === 'int64' && value !== null && value !== undefined ? BigInt(value as string) : value;
  }
  return out;
}

/**
 * One file being streamed into the storage while rows are written to it. Whichever side fails
 * first fails the other: a put that stops reading the body (it failed) destroys the body with its
 * error, so a write waiting for the body to drain rejects with that error instead of waiting forever.
 */
function openFile(storage: Storage, key: string, format: FileFormat, schema: Schema<Fields>) {
  const sink = new PassThrough();
  // A destroyed sink reports its error to the writes and the put that use it; as an event it
  // would be unhandled between writes.
  sink.on('error', () => {});
  const writer = format.createWriter(sink, schema);
  let putError: unknown;
  const put = storage.put(key, sink);
  put.catch((error: unknown) => {
    putError = error;
    sink.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  return {
    writer,
    async close(): Promise<void> {
      try {
        await writer.close();
      } catch (error) {
        throw putError ?? error;
      }
      await put;
    },
    /** Stop the file and wait until its put has settled: nothing of it lands after the export returns. */
    async abort(error: unknown): Promise<void> {
      sink.destroy(error instanceof Error ? error : new Error(String(error)));
      await put.catch(() => {});
    },
    /** The put's own error when it failed first: the cause of whatever failed after it. */
    failure(): unknown {
      return putError;
    },
  };
}

/** Rows of a query through a server-side cursor, `FETCH_ROWS` at a time: bounded memory. */
async function* cursorRows(
  client: PgClient,
  name: string,
  sql: string,
  values: unknown[],
): AsyncGenerator<Record<string, unknown>> {
  const cursor = quoteIdentifier(name);
  await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`, values);
  for (;;) {
    const { rows } = await client.query(`FETCH ${FETCH_ROWS} FROM ${cursor}`);
    yield* rows as Record<string, unknown>[];
    if (rows.length < FETCH_ROWS) break;
  }
  // Not in a finally: after a failure the transaction is aborted and its ROLLBACK closes the cursor.
  await client.query(`CLOSE ${cursor}`);
}

async function writeRows(
  storage: Storage,
  keyOf: (n: number) => string,
  format: FileFormat,
  schema: Schema<Fields>,
  rows: AsyncIterable<Record<string, unknown>>,
  maxRowsPerFile: number,
  writeEmpty: boolean,
  opened: string[],
): Promise<{ keys: string[]; rows: number }> {
  const keys: string[] = [];
  let total = 0;
  let file: ReturnType<typeof openFile> | undefined;
  const open = () => {
    const key = keyOf(keys.length + 1);
    keys.push(key);
    opened.push(key);
    return openFile(storage, key, format, schema);
  };
  try {
    for await (const row of rows) {
      if (file && file.writer.rows >= maxRowsPerFile) {
        await file.close();
        file = undefined;
      }
      file ??= open();
      await file.writer.write(row);
      total++;
    }
    if (!file && writeEmpty) file = open();
    await file?.close();
    return { keys, rows: total };
  } catch (error) {
    const cause = file?.failure() ?? error;
    await file?.abort(cause);
    throw cause;
  }
}

/**
 * Export tables of the relational model to the raw zone as AWS DMS writes to S3. `full` writes
 * every row (ordered by primary key) to `<prefix><schema>/<table>/LOAD00000001.csv`, rolling to
 * `LOAD00000002…` after `maxRowsPerFile` rows, after deleting what an earlier export left in the
 * table's folder; `cdc` writes the changes since the table's watermark to
 * `<prefix><schema>/<table>/<yyyyMMdd-HHmmssSSS>.csv` with `Op` (I/U/D) and `commit_ts` first,
 * rows in change order (needs {@link installChangeCapture} before the changes, and a full export
 * first). All tables are read in one REPEATABLE READ transaction through cursors; the watermark
 * is that transaction's snapshot, so a change is exported exactly once whatever commits meanwhile.
 *
 * @example
 * ```ts
 * await exportTables({ pool, storage: lake.raw, mode: 'full' });
 * // …later loads…
 * await exportTables({ pool, storage: lake.raw, mode: 'cdc' });
 * ```
 */
export async function exportTables(options: ExportTablesOptions): Promise<readonly TableExport[]> {
  const o = validateOptions(options);
  const format = FORMATS[o.format];
  const watermarks: ExportWatermarks = (await watermarkIo(() => o.watermarkStore.read(o.schema))) ?? {
    tables: {},
  };
  if (o.mode === 'cdc') {
    const missing = o.tables.filter((t) => !watermarks.tables[t]);
    if (missing.length > 0) {
      throw new DmsExportError(`no watermark for ${missing.join(', ')}: run a full export first`, {
        code: 'CMC_EXPORT_NO_WATERMARK',
        context: { tables: missing.join(',') },
      });
    }
  }
  if (o.mode === 'full' && o.tables.some((t) => watermarks.tables[t])) {
    // The old LOAD files go first; a CDC run after a failed full export must refuse, not build on nothing.
    for (const table of o.tables) delete watermarks.tables[table];
    await watermarkIo(() => o.watermarkStore.write(o.schema, watermarks));
  }
  const now = o.now();
  const results: TableExport[] = [];
  // Every key this run opened: a failed run removes them all, so it leaves nothing half-done.
  const opened: string[] = [];
  let current: CryptoTableName | undefined;
  let connected = false;
  try {
    await withClient(o.pool, async (client) => {
      connected = true;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const { rows } = await client.query('SELECT txid_current_snapshot()::text AS snapshot');
        const snapshot = (rows[0] as { snapshot: string }).snapshot;
        for (const table of o.tables) {
          current = table;
          results.push(await exportTable(client, o, table, format, now, watermarks, opened));
          watermarks.tables[table] = { snapshot, exportedAt: now.toISOString() };
        }
        current = undefined;
        await client.query('COMMIT');
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is unusable: withClient releases it as broken, which ends the transaction.
        }
        throw error;
      }
    });
  } catch (error) {
    await deleteQuietly(o.storage, opened);
    if (!connected) {
      throw new DmsExportError('connecting to PostgreSQL failed', {
        code: 'CMC_EXPORT_FAILED',
        cause: error,
      });
    }
    throw new DmsExportError(`exporting ${current ?? 'the tables'} failed; nothing of this run was kept`, {
      code: 'CMC_EXPORT_FAILED',
      cause: error,
      context: { schema: o.schema, ...(current === undefined ? {} : { table: current }) },
    });
  }
  // Written only after every file is in place: a failed run is simply run again.
  await watermarkIo(() => o.watermarkStore.write(o.schema, watermarks));
  return Object.freeze(results);
}

type ExportSettings = ReturnType<typeof validateOptions>;

/** Export one table inside the export's transaction: LOAD files (full) or one CDC file (cdc). */
async function exportTable(
  client: PgClient,
  o: ExportSettings,
  table: CryptoTableName,
  format: FileFormat,
  now: Date,
  watermarks: ExportWatermarks,
  opened: string[],
): Promise<TableExport> {
  const ext = format.extension();
  const schema = CRYPTO_TABLES[table] as Schema<Fields>;
  const folder = `${o.prefix}${o.schema}/${table}/`;
  const target = qualifiedName({ schema: o.schema, name: table });
  const cols = schema.columns.map((c) => quoteIdentifier(c.name)).join(', ');
  if (o.mode === 'full') {
    const stale: string[] = [];
    for await (const object of o.storage.list(folder)) stale.push(object.key);
    await o.storage.delete(stale);
    const key = schema.primaryKey.map((k) => quoteIdentifier(k)).join(', ');
    const source = cursorRows(client, `export_${table}`, `SELECT ${cols} FROM ${target} ORDER BY ${key}`, []);
    const written = await writeRows(
      o.storage,
      (n) => `${folder}${loadName(n)}${ext}`,
      format,
      schema,
      mapRows(source, (row) => fromPg(row, schema)),
      o.maxRowsPerFile,
      true,
      opened,
    );
    return Object.freeze({ table, ...written });
  }
  const previous = watermarks.tables[table]?.snapshot as string;
  const changes = qualifiedName({ schema: o.schema, name: CHANGES_TABLE });
  const rowCols = schema.columns.map((c) => `r.${quoteIdentifier(c.name)}`).join(', ');
  // A transaction visible now but not in the previous snapshot committed in between: the
  // batches are prefixes of the commit order, so nothing is lost or exported twice.
  const sql = `SELECT c.op AS "Op", c.commit_ts, ${rowCols}
  FROM ${changes} c, jsonb_populate_record(NULL::${target}, CASE WHEN c.op = 'D' THEN c.pk ELSE c."row" END) r
  WHERE c.table_name = $1 AND c.txid >= txid_snapshot_xmin($2::txid_snapshot)
    AND NOT txid_visible_in_snapshot(c.txid, $2::txid_snapshot)
  ORDER BY c.seq`;
  const source = cursorRows(client, `changes_${table}`, sql, [table, previous]);
  const written = await writeRows(
    o.storage,
    () => `${folder}${cdcName(now)}${ext}`,
    format,
    cdcSchema(table),
    mapRows(source, (row) => ({ Op: row.Op, commit_ts: row.commit_ts, ...fromPg(row, schema) })),
    Number.POSITIVE_INFINITY,
    false,
    opened,
  );
  return Object.freeze({ table, ...written });
}

async function deleteQuietly(storage: Storage, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  try {
    await storage.delete(keys);
  } catch {
    // The export's own failure is the one to report; a leftover file is replaced by the next full run.
  }
}

async function watermarkIo<T>(io: () => Promise<T>): Promise<T> {
  try {
    return await io();
  } catch (error) {
    throw new DmsExportError('reading or writing the export watermarks failed', {
      code: 'CMC_EXPORT_WATERMARK_FAILED',
      cause: error,
    });
  }
}

async function* mapRows<T, U>(rows: AsyncIterable<T>, fn: (row: T) => U): AsyncGenerator<U> {
  for await (const row of rows) yield fn(row);
}

function validateOptions(options: ExportTablesOptions) {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('exportTables needs options', 'options');
  const pool = options.pool as Partial<PgPool> | undefined;
  if (!pool || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
    throw invalidOption('exportTables options.pool must be a pg.Pool', 'pool');
  }
  const storage = options.storage as Partial<Storage> | undefined;
  if (!storage || typeof storage.put !== 'function' || typeof storage.list !== 'function') {
    throw invalidOption('exportTables options.storage must be a lake Storage', 'storage');
  }
  if (options.mode !== 'full' && options.mode !== 'cdc') {
    throw invalidOption("exportTables options.mode must be 'full' or 'cdc'", 'mode');
  }
  const format = options.format ?? 'csv';
  if (format !== 'csv' && format !== 'parquet') {
    throw invalidOption("exportTables options.format must be 'csv' or 'parquet'", 'format');
  }
  const tables: readonly CryptoTableName[] =
    options.tables ?? (Object.keys(CRYPTO_TABLES) as CryptoTableName[]);
  if (!Array.isArray(tables as unknown) || tables.some((t) => !Object.hasOwn(CRYPTO_TABLES, t))) {
    throw invalidOption(
      `exportTables options.tables must name tables of ${Object.keys(CRYPTO_TABLES)}`,
      'tables',
    );
  }
  const prefix = options.prefix ?? 'coinmarketcap/';
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/'))) {
    throw invalidOption('exportTables options.prefix must be empty or end with "/"', 'prefix');
  }
  const schema = options.schema ?? CRYPTO_SCHEMA;
  if (typeof schema !== 'string' || schema.length === 0 || schema.includes('/')) {
    throw invalidOption('exportTables options.schema must be a non-empty name without "/"', 'schema');
  }
  const maxRowsPerFile = options.maxRowsPerFile ?? 1_000_000;
  if (!Number.isInteger(maxRowsPerFile) || maxRowsPerFile < 1) {
    throw invalidOption('exportTables options.maxRowsPerFile must be a positive integer', 'maxRowsPerFile');
  }
  const now = options.now ?? (() => new Date());
  if (typeof now !== 'function') throw invalidOption('exportTables options.now must be a function', 'now');
  const watermarkStore =
    options.watermarkStore ?? storageWatermarks(options.storage, `${prefix}_watermarks/`);
  return Object.freeze({
    pool: options.pool,
    storage: options.storage,
    mode: options.mode,
    format,
    tables: [...new Set(tables)],
    prefix,
    schema,
    maxRowsPerFile,
    now,
    watermarkStore,
  });
}
