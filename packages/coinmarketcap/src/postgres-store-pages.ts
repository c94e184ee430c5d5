// What a store's load is given: the load options, checked before anything is sent, and each page
// of rows, validated against the relational model as it is turned into CSV for COPY.
import { setImmediate as turn } from 'node:timers/promises';
import { type Fields, OptionsError, type Schema, ValidationError } from '@tributary/core';
import { PostgresStoreError } from './errors.js';
import { type NormalizedListings, type NormalizeOptions, normalizeListings } from './normalize.js';
import { CsvChunks, csvEncoder, DATA_TABLES, type DataTable } from './postgres-store-sql.js';
import type { SnapshotPage } from './postgres-store-types.js';
import { CRYPTO_TABLES } from './schemas.js';
import type { CmcListing } from './types.js';

/** The store's options error: `CMC_STORE_OPTIONS_INVALID`, naming the option. */
export function invalidOption(message: string, option: string): OptionsError {
  return new OptionsError(message, { code: 'CMC_STORE_OPTIONS_INVALID', option });
}

/** Rows of one page per data table, checked to be arrays; each row is checked as it is encoded. */
export interface PageRows {
  readonly tables: Readonly<Record<DataTable, readonly unknown[]>>;
  /** 1-based, in a snapshot of pages; undefined for a single load. */
  readonly page: number | undefined;
}

/** A load's `source` label: a non-empty string. */
export function checkSource(source: unknown): string {
  if (typeof source !== 'string' || source.length === 0) {
    throw invalidOption('load options.source must be a non-empty string', 'source');
  }
  return source;
}

/** A load's `creditsUsed`: what a PostgreSQL `integer` holds, from 0. */
export function checkCredits(credits: unknown): number {
  if (typeof credits !== 'number' || !Number.isInteger(credits) || credits < 0 || credits > 2 ** 31 - 1) {
    throw invalidOption('load options.creditsUsed must be a non-negative 32-bit integer', 'creditsUsed');
  }
  return credits;
}

/** A page as the client gives it (`{ data }` of listings), not already normalized rows. */
export function isListingsPage(
  page: SnapshotPage,
): page is Extract<SnapshotPage, { data: readonly CmcListing[] }> {
  return typeof page === 'object' && page !== null && Array.isArray((page as { data?: unknown }).data);
}

/** A page of listings as relational rows, or a `CMC_LOAD_INVALID` naming the page. */
export function normalizePage(
  page: Extract<SnapshotPage, { data: readonly CmcListing[] }>,
  options: NormalizeOptions | undefined,
  number: number,
): NormalizedListings {
  try {
    return normalizeListings(page.data, options);
  } catch (error) {
    throw new PostgresStoreError(`page ${number} of the snapshot does not fit the relational model`, {
      code: 'CMC_LOAD_INVALID',
      cause: error,
      context: { page: number },
    });
  }
}

/** Check that a page holds an array of rows per data table; `page` (1-based) goes into the error's context. */
export function checkPage(rows: NormalizedListings, page: number | undefined): PageRows {
  const at = page === undefined ? {} : { page };
  const where = page === undefined ? '' : ` of page ${page}`;
  if (typeof rows !== 'object' || rows === null) {
    throw new PostgresStoreError(`load() rows${where} must be an object of arrays per table`, {
      code: 'CMC_LOAD_INVALID',
      context: at,
    });
  }
  const tables = {} as Record<DataTable, readonly unknown[]>;
  for (const name of DATA_TABLES) {
    const input = (rows as unknown as Record<string, unknown>)[name];
    if (!Array.isArray(input)) {
      throw new PostgresStoreError(`load() rows.${name}${where} must be an array`, {
        code: 'CMC_LOAD_INVALID',
        context: { table: name, ...at },
      });
    }
    tables[name] = input;
  }
  return { tables, page };
}

/**
 * A table's rows of a checked page as COPY's CSV, chunk by chunk: each row is validated against
 * the table's schema as it is encoded, so a caller that reads the chunks as it sends them
 * validates the page while PostgreSQL works. A row that does not fit throws `CMC_LOAD_INVALID`
 * naming the table, the row and the page.
 */
export function* csvChunks(rows: PageRows, name: DataTable): Generator<Buffer, void, undefined> {
  const input = rows.tables[name];
  const schema = CRYPTO_TABLES[name] as Schema<Fields>;
  const encoder = csvEncoder(name);
  const csv = new CsvChunks();
  for (let i = 0; i < input.length; i++) {
    const row: unknown = input[i];
    // Rows as normalizeListings builds them are already in validated form: taken as they are.
    let record = row as Record<string, unknown>;
    if (!schema.isRecord(row)) {
      const result = schema.validate(row);
      if (!result.ok) {
        const at = rows.page === undefined ? {} : { page: rows.page };
        const where = rows.page === undefined ? '' : ` of page ${rows.page}`;
        throw new PostgresStoreError(`load() rows.${name}[${i}]${where} does not fit the ${name} table`, {
          code: 'CMC_LOAD_INVALID',
          cause: new ValidationError(result.issues),
          context: { table: name, row: i, ...at },
        });
      }
      record = result.value as Record<string, unknown>;
    }
    const full = csv.push(encoder.line(record));
    if (full !== undefined) yield full;
  }
  const rest = csv.rest();
  if (rest !== undefined) yield rest;
}

/** A table's chunks as {@link EncodeAhead} holds them. */
interface AheadTable {
  source: Iterator<Buffer, void>;
  /** Encoded, not yet read. */
  chunks: Buffer[];
  done: boolean;
  /** Read by a COPY: the background leaves the rest to it. */
  taken: boolean;
  failure: { error: unknown } | undefined;
}

/**
 * A page's tables turned into COPY's CSV in the background, table after table, the event loop
 * turning after each chunk: while PostgreSQL works through one COPY, this process encodes (and
 * validates) what the next ones send. {@link take} gives a table's chunks, those encoded so far
 * first, then encodes the rest as they are read; nothing is encoded twice. A row that does not
 * fit stops the background: it throws where its chunk would be read, and {@link guard} cuts
 * another table's COPY short with it. Memory: at most the page's CSV of these tables.
 */
export class EncodeAhead {
  readonly #tables = new Map<DataTable, AheadTable>();
  #stopped = false;
  #failure: { error: unknown } | undefined;

  constructor(rows: PageRows, names: readonly DataTable[]) {
    for (const name of names) {
      if (rows.tables[name].length === 0) continue;
      this.#tables.set(name, {
        source: csvChunks(rows, name),
        chunks: [],
        done: false,
        taken: false,
        failure: undefined,
      });
    }
    void this.#run();
  }

  /** The chunks of `name` (one of the names it was given, read once). */
  *take(name: DataTable): Generator<Buffer, void, undefined> {
    const table = this.#tables.get(name);
    if (table === undefined) return;
    table.taken = true;
    const encoded = table.chunks;
    table.chunks = [];
    yield* encoded;
    if (table.failure !== undefined) throw table.failure.error;
    if (!table.done) yield* { [Symbol.iterator]: () => table.source };
  }

  /** `chunks`, cut short by the failure of a row encoded here: the load fails, so why send more. */
  *guard(chunks: Iterable<Buffer>): Generator<Buffer, void, undefined> {
    for (const chunk of chunks) {
      if (this.#failure !== undefined) throw this.#failure.error;
      yield chunk;
    }
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** No more encoding in the background (the load is over, or failed). */
  stop(): void {
    this.#stopped = true;
  }

  // Never rejects: a failure is kept for the table's reader.
  async #run(): Promise<void> {
    for (const table of this.#tables.values()) {
      while (!this.#stopped && !table.taken && !table.done) {
        try {
          const next = table.source.next();
          if (next.done) table.done = true;
          else table.chunks.push(next.value);
        } catch (error) {
          table.done = true;
          table.failure = { error };
          this.#failure = table.failure;
          return;
        }
        await turn();
      }
      if (this.#stopped) return;
    }
  }
}

/** Read every chunk and drop it: only the validation that makes them matters. */
export function drain(chunks: Iterable<unknown>): void {
  for (const _ of chunks) {
    // Only the validation matters here.
  }
}
