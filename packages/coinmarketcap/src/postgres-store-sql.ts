// The SQL of a store's load: each page's rows become CSV while they are validated; quotes that are
// all new are COPYed straight into their table, every other row into a staging table per data
// table, which is then upserted into the table, keeping what a later or partial listing must not
// overwrite and touching no row that would not change.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Column,
  type Fields,
  type PgClient,
  quoteIdentifier,
  type Schema,
  TributaryError,
  toPostgresDdl,
} from '@tributary/core';
import { from as copyFrom } from 'pg-copy-streams';
import { CRYPTO_TABLES } from './schemas.js';

// Order matters only for readers of a half-applied transaction, which never exist; parents first anyway.
export const DATA_TABLES = ['platform', 'tag', 'cryptocurrency', 'cryptocurrency_tag', 'quote'] as const;
export type DataTable = (typeof DATA_TABLES)[number];
/** Tables whose rows always go through staging; quotes do only when some may be stored already. */
export const STAGED_TABLES = ['platform', 'tag', 'cryptocurrency', 'cryptocurrency_tag'] as const;
// Listings know tags by slug only: a later listing must not erase a name learnt from quotes/latest.
const KEEP_WHEN_NULL: Partial<Record<DataTable, ReadonlySet<string>>> = {
  tag: new Set(['name', 'category']),
};
// Loading an older snapshot after a newer one must not roll a coin's latest state back.
const NEWER_ONLY: Partial<Record<DataTable, string>> = { cryptocurrency: 'last_updated' };
// Rows never rewritten once stored: quote history, and the tag links (their key is all they hold).
const INSERT_ONLY: ReadonlySet<DataTable> = new Set(['cryptocurrency_tag', 'quote']);
/** Bytes of CSV per COPY data message (a chunk ends at a line's end, so it may hold a little more). */
const COPY_CHUNK_BYTES = 64 * 1024;
const UNIQUE_VIOLATION = '23505';
/** Timestamp texts an encoder keeps per column (about 1.5 MiB at most). */
const TIMESTAMP_TEXTS = 16_384;

/**
 * The staging tables of a store's tables, by data table: temporary, created once per connection
 * and emptied at each commit. The name carries a hash of the table's DDL (its qualified name and
 * columns), so that a connection never stages into a copy of another table, or of an older
 * version of this one.
 */
export function stagingNames(schema: string): Readonly<Record<DataTable, string>> {
  const names = {} as Record<DataTable, string>;
  for (const name of DATA_TABLES) {
    const ddl = toPostgresDdl(CRYPTO_TABLES[name] as Schema<Fields>, { table: { schema, name } });
    const hash = createHash('sha256').update(ddl).digest('hex').slice(0, 12);
    names[name] = `pg_temp.${quoteIdentifier(`tributary_staging_${name}_${hash}`)}`;
  }
  return Object.freeze(names);
}

/**
 * The statement creating a table's staging copy, like `target`, unless this connection has it.
 * `ON COMMIT DELETE ROWS`: what a load staged is gone when it commits (and when it rolls back).
 */
export function createStagingSql(staging: string, target: string): string {
  return `CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${target}) ON COMMIT DELETE ROWS`;
}

/**
 * Whether rows that fit a table's schema hold no primary key twice, for sure: the key is one
 * column whose values are all numbers (which validation keeps as they are), none repeated.
 * `false` says only "not known".
 */
export function distinctKeys(name: DataTable, rows: readonly unknown[]): boolean {
  const { primaryKey } = CRYPTO_TABLES[name] as Schema<Fields>;
  if (primaryKey.length !== 1) return false;
  const column = primaryKey[0] as string;
  const seen = new Set<number>();
  for (const row of rows) {
    const value = (row as Record<string, unknown>)[column];
    if (typeof value !== 'number' || seen.has(value)) return false;
    seen.add(value);
  }
  return true;
}

/** Whether a failed statement broke a unique index (the quote COPY met a stored quote). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === UNIQUE_VIOLATION;
}

/**
 * COPY `count` rows of CSV into `target` (a staging table or the table itself): the rows COPY
 * wrote (by its own count when the client reports one). The
 * chunks are read as COPY takes them, so an iterable that encodes as it goes does its work while
 * PostgreSQL parses the chunks before; when it throws (a row that does not fit), the COPY is
 * aborted and its error is the one this rejects with.
 */
export async function copyRows(
  client: PgClient,
  name: DataTable,
  target: string,
  chunks: Iterable<Buffer>,
  count: number,
): Promise<number> {
  const columnList = (CRYPTO_TABLES[name] as Schema<Fields>).columns
    .map((c) => quoteIdentifier(c.name))
    .join(', ');
  const copy = client.query(
    copyFrom(`COPY ${target} (${columnList}) FROM STDIN (FORMAT csv)`) as never,
  ) as unknown as NodeJS.WritableStream & { rowCount?: number };
  let sourceFailed: { error: unknown } | undefined;
  function* source(): Generator<Buffer> {
    try {
      yield* chunks;
    } catch (error) {
      sourceFailed = { error };
      throw error;
    }
  }
  try {
    // Two chunks read ahead at most: memory stays bounded whatever the page's size.
    await pipeline(Readable.from(source(), { highWaterMark: 2 }), copy);
  } catch (error) {
    // PostgreSQL's "COPY … failed" is only the echo of the source's own failure.
    throw sourceFailed === undefined ? error : sourceFailed.error;
  }
  return copy.rowCount ?? count;
}

/**
 * Upsert `target` from its staging table, which holds `staged` rows (`distinct` when no key is
 * among them twice, known for sure): rows inserted and updated. When the UPDATE changed as many
 * rows as were staged, every staged key is stored (and none was staged twice): there is nothing
 * to insert, and the INSERT is not sent.
 */
export async function applyStaged(
  client: PgClient,
  name: DataTable,
  target: string,
  staging: string,
  staged: number,
  distinct = false,
): Promise<{ inserted: number; updated: number }> {
  const schema = CRYPTO_TABLES[name] as Schema<Fields>;
  const [first, second] = upsertSql(name, schema, target, staging, distinct);
  const result = await client.query(first);
  if (second === undefined) return { inserted: result.rowCount ?? 0, updated: 0 };
  const updated = result.rowCount ?? 0;
  if (updated === staged) return { inserted: 0, updated };
  const counts = (await client.query(second)).rows[0] as { inserted: number; updated: number } | undefined;
  return { inserted: Number(counts?.inserted ?? 0), updated: updated + Number(counts?.updated ?? 0) };
}

/**
 * The statements that apply a staging table to its table. Insert-only tables: one INSERT of the
 * rows not stored yet (its row count is what it inserted). Tables of latest state: an UPDATE of
 * the stored rows that would change (its row count: updated), then an INSERT of the new keys
 * returning how many it inserted and updated; `distinct` when the staging table is known to hold
 * no key twice (else each key's newest staged row is taken).
 */
export function upsertSql(
  name: DataTable,
  schema: Schema<Fields>,
  target: string,
  staging: string,
  distinct = false,
): [string] | [string, string] {
  const keys = schema.primaryKey.map((k) => quoteIdentifier(k));
  const key = keys.join(', ');
  const cols = schema.columns.map((c) => quoteIdentifier(c.name));
  const others = schema.columns.filter((c) => !schema.primaryKey.includes(c.name)).map((c) => c.name);
  const sameKey = (row: string, other: string) =>
    keys.map((k) => `${row}.${k} = ${other}.${k}`).join(' AND ');
  // The stored row of a staged one, by the primary key's index.
  const stored = `SELECT 1 FROM ${target} AS c WHERE ${sameKey('c', 's')}`;
  const selected = cols.map((c) => `s.${c}`).join(', ');
  if (INSERT_ONLY.has(name) || others.length === 0) {
    // Stored rows are skipped by the anti-join, far cheaper than ON CONFLICT finding each one;
    // ON CONFLICT still covers a row a concurrent load commits meanwhile, and a key staged twice
    // (DO NOTHING keeps the first, in staging order).
    return [
      `INSERT INTO ${target} AS t (${cols.join(', ')})\n  SELECT ${selected} FROM ${staging} AS s\n  WHERE NOT EXISTS (${stored})\n  ON CONFLICT (${key}) DO NOTHING`,
    ];
  }
  const newer = NEWER_ONLY[name];
  const keep = KEEP_WHEN_NULL[name];
  // What a column holds after the upsert, `row` being the stored row and `incoming` the new one.
  const next = (column: string, row: string, incoming: string) => {
    const q = quoteIdentifier(column);
    return keep?.has(column) ? `COALESCE(${incoming}.${q}, ${row}.${q})` : `${incoming}.${q}`;
  };
  // Whether the upsert changes the stored row: it differs, and (for the latest-state table) the
  // incoming row is not older. Rows it would not change are neither rewritten nor locked.
  const changes = (row: string, incoming: string) => {
    const current = others.map((c) => `${row}.${quoteIdentifier(c)}`).join(', ');
    const after = others.map((c) => next(c, row, incoming)).join(', ');
    let sql = `ROW(${current}) IS DISTINCT FROM ROW(${after})`;
    if (newer) sql += ` AND ${incoming}.${quoteIdentifier(newer)} >= ${row}.${quoteIdentifier(newer)}`;
    return sql;
  };
  // One row per key (an UPDATE or ON CONFLICT DO UPDATE must not meet a row twice): the newest
  // version of a key staged twice (a coin on two pages of a snapshot). Keys known to be distinct
  // need no sort (a sixth of the coins' UPDATE).
  const order = newer === undefined ? key : `${key}, ${quoteIdentifier(newer)} DESC NULLS LAST`;
  const deduplicated = distinct
    ? `${staging} AS s`
    : `(SELECT DISTINCT ON (${key}) ${cols.join(', ')} FROM ${staging} ORDER BY ${order}) AS s`;
  const set = (row: string, incoming: string) =>
    others.map((c) => `${quoteIdentifier(c)} = ${next(c, row, incoming)}`).join(', ');
  // One hash join over the stored rows: cheaper than ON CONFLICT's probe and lock of each.
  const update = `UPDATE ${target} AS t SET ${set('t', 's')}\n  FROM ${deduplicated}\n  WHERE ${sameKey('t', 's')} AND ${changes('t', 's')}`;
  // New keys; ON CONFLICT covers a row a concurrent load commits meanwhile.
  const insert = `INSERT INTO ${target} AS t (${cols.join(', ')})
  SELECT ${selected} FROM ${deduplicated}
  WHERE NOT EXISTS (${stored})
  ON CONFLICT (${key}) DO UPDATE SET ${set('t', 'EXCLUDED')}
  WHERE ${changes('t', 'EXCLUDED')}`;
  // xmax = 0 only on a freshly inserted row version: tells inserts from updates.
  return [
    update,
    `WITH changed AS (\n${insert}\n  RETURNING (xmax = 0) AS inserted\n)\nSELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM changed`,
  ];
}

function csvString(value: string): string {
  return value.includes('"') ? `"${value.replace(/"/g, '""')}"` : `"${value}"`;
}

/** A non-null value of a validated record as a CSV field of COPY. */
type FieldEncoder = (value: unknown) => string;

function fieldEncoder(column: Column): FieldEncoder {
  switch (column.def.kind) {
    case 'string':
      return (v) => csvString(v as string);
    case 'boolean':
      return (v) => (v ? 't' : 'f');
    case 'timestamp': {
      // Rows of a listing often share a time (last_updated): its text is made once. Other times
      // (date_added) come back with every listing of the same coins: their texts are kept, up
      // to a bound (toISOString costs about ten times a Map lookup).
      let lastTime = Number.NaN;
      let lastText = '';
      const texts = new Map<number, string>();
      return (v) => {
        const time = (v as Date).getTime();
        if (time === lastTime) return lastText;
        let text = texts.get(time);
        if (text === undefined) {
          if (texts.size >= TIMESTAMP_TEXTS) texts.clear();
          text = (v as Date).toISOString();
          texts.set(time, text);
        }
        lastTime = time;
        lastText = text;
        return text;
      };
    }
    case 'int32':
    case 'int64':
    case 'double':
    case 'decimal':
    case 'date':
      return (v) => String(v);
    default:
      throw new TributaryError(
        `column ${column.name}: ${column.def.kind} columns are not loadable by COPY here`,
        { code: 'CMC_LOAD_INVALID' },
      );
  }
}

/** Turns a table's validated records into CSV lines of COPY (unquoted empty is NULL, `""` the empty string). */
export interface CsvEncoder {
  /** The CSV line of a record in validated form (what the schema's `validate` returns, or `isRecord` accepts). */
  line(record: Record<string, unknown>): string;
}

const encoders = new Map<DataTable, CsvEncoder>();

/** The CSV encoder of a data table, built once. */
export function csvEncoder(name: DataTable): CsvEncoder {
  let encoder = encoders.get(name);
  if (encoder) return encoder;
  const columns = (CRYPTO_TABLES[name] as Schema<Fields>).columns;
  const names = columns.map((c) => c.name);
  const fields = columns.map(fieldEncoder);
  const count = columns.length;
  encoder = {
    line(record) {
      let line = '';
      for (let i = 0; i < count; i++) {
        const value = record[names[i] as string];
        const field = value === null || value === undefined ? '' : (fields[i] as FieldEncoder)(value);
        line += i === 0 ? field : `,${field}`;
      }
      return line;
    },
  };
  encoders.set(name, encoder);
  return encoder;
}

/**
 * Collects CSV lines into chunks of about {@link COPY_CHUNK_BYTES} bytes of UTF-8, written
 * straight into each chunk's buffer: no long string is built only to be encoded again.
 */
export class CsvChunks {
  #buffer = Buffer.allocUnsafeSlow(COPY_CHUNK_BYTES);
  #used = 0;
  #count = 0;

  /** Rows pushed so far. */
  get count(): number {
    return this.#count;
  }

  /** Add a line (without its newline); a chunk that is now full, to be sent. */
  push(line: string): Buffer | undefined {
    this.#count++;
    // At most 3 bytes of UTF-8 per UTF-16 unit, plus the newline.
    const most = line.length * 3 + 1;
    if (this.#used + most <= this.#buffer.length) {
      this.#used += this.#buffer.write(line, this.#used);
      this.#buffer[this.#used++] = 0x0a;
      return this.#used >= COPY_CHUNK_BYTES ? this.#take(COPY_CHUNK_BYTES) : undefined;
    }
    // The line does not fit: the chunk so far, then the line in a chunk of its own.
    const full = this.#used > 0 ? this.#take(Math.max(COPY_CHUNK_BYTES, most)) : undefined;
    if (most > this.#buffer.length) this.#buffer = Buffer.allocUnsafeSlow(most);
    this.#used = this.#buffer.write(line, 0);
    this.#buffer[this.#used++] = 0x0a;
    return full;
  }

  /** What is left, if anything. */
  rest(): Buffer | undefined {
    return this.#used > 0 ? this.#take(COPY_CHUNK_BYTES) : undefined;
  }

  // The filled part of the buffer, handed over for good (a socket may still hold it after a
  // write returns): the next lines go into a new one.
  #take(size: number): Buffer {
    const chunk = this.#buffer.subarray(0, this.#used);
    this.#buffer = Buffer.allocUnsafeSlow(size);
    this.#used = 0;
    return chunk;
  }
}
