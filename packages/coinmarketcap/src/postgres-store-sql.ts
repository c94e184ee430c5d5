// The SQL of a store's load: rows COPYed as CSV into a staging table per data table, then upserted
// into the table, keeping what a later or partial listing must not overwrite.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Column,
  type Fields,
  type PgClient,
  quoteIdentifier,
  type Schema,
  TributaryError,
} from '@tributary/core';
import { from as copyFrom } from 'pg-copy-streams';
import { CRYPTO_TABLES } from './schemas.js';

// Order matters only for readers of a half-applied transaction, which never exist; parents first anyway.
export const DATA_TABLES = ['platform', 'tag', 'cryptocurrency', 'cryptocurrency_tag', 'quote'] as const;
export type DataTable = (typeof DATA_TABLES)[number];
// Listings know tags by slug only: a later listing must not erase a name learnt from quotes/latest.
const KEEP_WHEN_NULL: Partial<Record<DataTable, ReadonlySet<string>>> = {
  tag: new Set(['name', 'category']),
};
// Loading an older snapshot after a newer one must not roll a coin's latest state back.
const NEWER_ONLY: Partial<Record<DataTable, string>> = { cryptocurrency: 'last_updated' };
const COPY_CHUNK_CHARS = 64 * 1024;

/** The load's staging copy of a data table (temporary, dropped on commit). */
export function stagingName(name: DataTable): string {
  return quoteIdentifier(`tributary_staging_${name}`);
}

/** COPY rows into a table's staging table. */
export async function stageRows(
  client: PgClient,
  name: DataTable,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  const columns = (CRYPTO_TABLES[name] as Schema<Fields>).columns;
  const columnList = columns.map((c) => quoteIdentifier(c.name)).join(', ');
  const copy = client.query(
    copyFrom(`COPY ${stagingName(name)} (${columnList}) FROM STDIN (FORMAT csv)`) as never,
  ) as unknown as NodeJS.WritableStream;
  await pipeline(Readable.from(csvChunks(columns, rows)), copy);
}

/** Upsert `target` from the table's staging table: rows inserted and updated. */
export async function applyStaged(
  client: PgClient,
  name: DataTable,
  target: string,
): Promise<{ inserted: number; updated: number }> {
  const schema = CRYPTO_TABLES[name] as Schema<Fields>;
  const result = await client.query(upsertSql(name, schema, target, stagingName(name)));
  const counts = result.rows[0] as { inserted: number; updated: number } | undefined;
  return { inserted: Number(counts?.inserted ?? 0), updated: Number(counts?.updated ?? 0) };
}

export function upsertSql(name: DataTable, schema: Schema<Fields>, target: string, staging: string): string {
  const key = schema.primaryKey.map((k) => quoteIdentifier(k)).join(', ');
  const cols = schema.columns.map((c) => quoteIdentifier(c.name));
  const others = schema.columns.filter((c) => !schema.primaryKey.includes(c.name)).map((c) => c.name);
  // Several rows of one key in a command make ON CONFLICT DO UPDATE fail: keep one per key.
  const newer = NEWER_ONLY[name];
  // A key staged twice (a coin on two pages of a snapshot) keeps its newest version.
  const order = newer === undefined ? key : `${key}, ${quoteIdentifier(newer)} DESC NULLS LAST`;
  let sql = `INSERT INTO ${target} AS t (${cols.join(', ')})\n  SELECT DISTINCT ON (${key}) ${cols.join(', ')} FROM ${staging} ORDER BY ${order}\n  ON CONFLICT (${key}) `;
  if (name === 'quote' || others.length === 0) {
    sql += 'DO NOTHING';
  } else {
    const keep = KEEP_WHEN_NULL[name];
    const incoming = (column: string) => {
      const q = quoteIdentifier(column);
      return keep?.has(column) ? `COALESCE(EXCLUDED.${q}, t.${q})` : `EXCLUDED.${q}`;
    };
    const set = others.map((c) => `${quoteIdentifier(c)} = ${incoming(c)}`).join(', ');
    const current = others.map((c) => `t.${quoteIdentifier(c)}`).join(', ');
    const next = others.map(incoming).join(', ');
    sql += `DO UPDATE SET ${set}\n  WHERE ROW(${current}) IS DISTINCT FROM ROW(${next})`;
    if (newer) sql += ` AND EXCLUDED.${quoteIdentifier(newer)} >= t.${quoteIdentifier(newer)}`;
  }
  // xmax = 0 only on a freshly inserted row version: tells inserts from updates.
  return `WITH changed AS (\n${sql}\n  RETURNING (xmax = 0) AS inserted\n)\nSELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM changed`;
}

/** One value as a CSV field of COPY: unquoted empty is NULL, `""` the empty string. */
function csvField(column: Column, value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (column.def.kind) {
    case 'string':
      return `"${(value as string).replace(/"/g, '""')}"`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'timestamp':
      return (value as Date).toISOString();
    case 'int32':
    case 'int64':
    case 'double':
    case 'decimal':
    case 'date':
      return String(value);
    default:
      throw new TributaryError(
        `column ${column.name}: ${column.def.kind} columns are not loadable by COPY here`,
        {
          code: 'CMC_LOAD_INVALID',
        },
      );
  }
}

function* csvChunks(columns: readonly Column[], rows: readonly Record<string, unknown>[]): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as Column;
      if (i > 0) line += ',';
      line += csvField(column, row[column.name]);
    }
    chunk += `${line}\n`;
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}
