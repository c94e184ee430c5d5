// Runs RedshiftLoader's SQL on PostgreSQL: every statement goes to PostgreSQL as issued, except
// `COPY <table> FROM 's3://…'`, which is emulated the way Redshift behaves: it reads the COPY
// manifest and the data files from the source storage and COPYs them into the named table
// (Parquet columns by position, and their count must match the table's, as in Redshift; JSON by
// name). A rejected file is logged in an emulated `stl_load_errors` through another connection
// (Redshift's system tables are not transactional), for `pg_last_copy_id()` of the session.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { defineSchema, type Fields, type PgClient, type PgPool, type Schema } from '@tributary/core';
import { formatOfKey, MemoryStorage, readParquetSchema, type Storage } from '@tributary/lake';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { encodeCopyLine } from '../../../src/postgres-loader.js';

/** A lake storage in memory whose URL says S3, as RedshiftLoader requires. */
export class S3LikeStorage extends MemoryStorage {
  override readonly url: string;
  constructor(url = 's3://lake-bucket/processed') {
    super();
    this.url = url;
  }
}

/** Create the emulated system table and function (in `public`). */
export async function installRedshiftEmulation(pool: pg.Pool): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS public.stl_load_errors (
      userid integer, slice integer, tbl integer, starttime timestamp, session integer, query integer,
      filename character(256), line_number bigint, colname character(127), type character(10),
      col_length character(10), position integer, raw_line character(1024), raw_field_value character(1024),
      err_code integer, err_reason character(100));
    CREATE SEQUENCE IF NOT EXISTS public.emulated_query_id;
    CREATE OR REPLACE FUNCTION public.pg_last_copy_id() RETURNS integer LANGUAGE sql STABLE AS
      $$ SELECT COALESCE(max(query), -1) FROM public.stl_load_errors WHERE session = pg_backend_pid() $$;`);
}

export interface RedshiftOnPg extends PgPool {
  /** Every statement the loader issued, as text. */
  readonly statements: string[];
  /** COPYs emulated so far (one per COPY statement). */
  copies: number;
}

const unquoteLiteral = (text: string) => text.replace(/''/g, "'");

/**
 * Wrap `pool` so that RedshiftLoader runs on it. `schema` is the source schema (the emulated
 * COPY decodes the files with its fields); `failOn` makes a statement throw, to test rollbacks.
 */
export function redshiftOnPg(
  pool: pg.Pool,
  storage: Storage,
  schema: Schema<Fields>,
  failOn?: (text: string) => Error | undefined,
): RedshiftOnPg {
  const wrapper: RedshiftOnPg = {
    statements: [],
    copies: 0,
    // As `pg.Pool.query` does: on a connection of its own, so a COPY is emulated here too.
    async query(text: string, values?: unknown[]) {
      const client = await wrapper.connect();
      try {
        return await client.query(text, values);
      } finally {
        client.release();
      }
    },
    async connect(): Promise<PgClient> {
      const client = await pool.connect();
      const pid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      return {
        query: async (text: string, values?: unknown[]) => {
          wrapper.statements.push(text);
          const injected = failOn?.(text);
          if (injected) throw injected;
          const copy = /^COPY ("(?:[^"]|"")+") FROM '((?:[^']|'')*)' (.*)$/s.exec(text);
          if (copy) {
            wrapper.copies += 1;
            await emulateCopy(
              pool,
              client,
              pid,
              storage,
              schema,
              copy[1] as string,
              unquoteLiteral(copy[2] as string),
              copy[3] as string,
            );
            return { rows: [], rowCount: null };
          }
          const result = await client.query(text, values);
          return { rows: result.rows, rowCount: result.rowCount };
        },
        release: (error?: Error | boolean) => client.release(error),
        // The connection's own events, so that a loader can listen for its failure.
        on: (event: 'error', listener: (error: Error) => void) => client.on(event, listener),
        removeListener: (event: 'error', listener: (error: Error) => void) =>
          client.removeListener(event, listener),
      } as PgClient;
    },
  };
  return wrapper;
}

async function emulateCopy(
  pool: pg.Pool,
  client: pg.PoolClient,
  pid: number,
  storage: Storage,
  schema: Schema<Fields>,
  table: string,
  url: string,
  options: string,
): Promise<void> {
  const keyOf = (u: string) => {
    if (!u.startsWith(`${storage.url}/`)) throw new Error(`emulated COPY: ${u} is not in ${storage.url}`);
    return u.slice(storage.url.length + 1);
  };
  if (!/(IAM_ROLE '|ACCESS_KEY_ID ')/.test(options)) throw new Error('emulated COPY: no authorization');
  const entries: string[] = options.includes('MANIFEST')
    ? (
        JSON.parse(Buffer.from(await storage.getBytes(keyOf(url))).toString()) as {
          entries: { url: string }[];
        }
      ).entries.map((e) => e.url)
    : [url];
  const parquet = options.includes('FORMAT AS PARQUET');
  const attributes = (
    await client.query(
      'SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
      [table],
    )
  ).rows as { attname: string; type: string }[];
  const tableColumns = attributes.map((a) => a.attname);
  for (const entry of entries) {
    const key = keyOf(entry);
    const format = formatOfKey(key);
    if (!format) throw new Error(`emulated COPY: unknown format of ${key}`);
    let targetColumns = tableColumns;
    if (parquet) {
      const fileColumns = (await readParquetSchema(storage, key)).map((c) => c.name);
      if (fileColumns.length !== tableColumns.length) {
        throw Object.assign(
          new Error(
            `Spectrum Scan Error: file has ${fileColumns.length} columns, table has ${tableColumns.length}`,
          ),
          { code: 'XX000' },
        );
      }
      // Redshift maps Parquet columns by position: the file's i-th column fills the table's i-th.
      targetColumns = tableColumns;
      const fields = Object.fromEntries(fileColumns.map((c) => [c, schema.fields[c]])) as Fields;
      await copyFile(
        pool,
        client,
        pid,
        table,
        entry,
        targetColumns,
        attributes,
        storage,
        key,
        format,
        fields,
      );
    } else {
      const fields = Object.fromEntries(
        tableColumns.filter((c) => c in schema.fields).map((c) => [c, schema.fields[c]]),
      ) as Fields;
      await copyFile(
        pool,
        client,
        pid,
        table,
        entry,
        Object.keys(fields),
        attributes,
        storage,
        key,
        format,
        fields,
      );
    }
  }
}

async function copyFile(
  pool: pg.Pool,
  client: pg.PoolClient,
  pid: number,
  table: string,
  url: string,
  targetColumns: readonly string[],
  attributes: readonly { attname: string; type: string }[],
  storage: Storage,
  key: string,
  format: NonNullable<ReturnType<typeof formatOfKey>>,
  fields: Fields,
): Promise<void> {
  const fileSchema = defineSchema(fields) as Schema<Fields>;
  const columnList = targetColumns.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ');
  const stream = client.query(copyFrom(`COPY ${table} (${columnList}) FROM STDIN`));
  const lines: string[] = [];
  async function* chunks() {
    for await (const record of format.read(storage, key, fileSchema)) {
      const line = encodeCopyLine(fileSchema.columns, record as Record<string, unknown>);
      lines.push(line);
      yield line;
    }
  }
  try {
    await pipeline(Readable.from(chunks()), stream);
  } catch (error) {
    const e = error as { message: string; where?: string; code?: string };
    const where = /line (\d+)(?:, column (.*?): "(.*)")?/s.exec(e.where ?? '');
    const line = where ? Number(where[1]) : null;
    const colname = where?.[2] ?? null;
    const type = attributes.find((a) => a.attname === colname)?.type ?? null;
    const query = Number((await pool.query("SELECT nextval('public.emulated_query_id') AS q")).rows[0].q);
    await pool.query(
      `INSERT INTO public.stl_load_errors (session, query, starttime, filename, line_number, colname, type, raw_line, raw_field_value, err_code, err_reason)
       VALUES ($1, $2, now(), $3, $4, $5, left($6, 10), left($7, 1024), left($8, 1024), 1216, left($9, 100))`,
      [
        pid,
        query,
        url,
        line,
        colname,
        type,
        line === null ? null : (lines[line - 1] ?? '').trimEnd(),
        where?.[3] ?? null,
        e.message,
      ],
    );
    throw Object.assign(
      new Error(`Load into table '${table}' failed. Check 'stl_load_errors' system table for details.`),
      { code: 'XX000', cause: error },
    );
  }
}
