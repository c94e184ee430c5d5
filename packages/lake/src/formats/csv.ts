import type { Writable } from 'node:stream';
import { type FieldDef, type Fields, type Schema, TributaryError } from '@tributary/core';
import type { Storage } from '../storage.js';
import { endSink, writeTo } from './sink.js';
import type { FileFormat, FileStats, ReadOptions, RecordWriter } from './types.js';

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

function formatTimestamp(date: Date): string {
  // AWS DMS writes timestamps as `YYYY-MM-DD HH:MM:SS.ffffff`; no zone means UTC here.
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** Text of one value in a CSV field; null is the empty field, an empty string is `""`. */
export function csvField(value: unknown, def: FieldDef): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (def.kind === 'timestamp') text = formatTimestamp(value as Date);
  else if (def.kind === 'list')
    text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  else text = String(value);
  if (text === '' || NEEDS_QUOTES.test(text)) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

/** One CSV line (with its `\n`) for a record, in the schema's column order. */
export function csvLine(
  record: Record<string, unknown>,
  columns: readonly { name: string; def: FieldDef }[],
): string {
  let line = '';
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as { name: string; def: FieldDef };
    if (i > 0) line += ',';
    line += csvField(record[column.name], column.def);
  }
  return `${line}\n`;
}

class CsvWriter<R> implements RecordWriter<R> {
  rows = 0;
  #bytes = 0;
  #started = false;

  constructor(
    private readonly sink: Writable,
    private readonly columns: readonly { name: string; def: FieldDef }[],
    private readonly header: boolean,
  ) {}

  get estimatedBytes(): number {
    return this.#bytes;
  }

  async #put(text: string): Promise<void> {
    this.#bytes += Buffer.byteLength(text);
    await writeTo(this.sink, text);
  }

  async #start(): Promise<void> {
    this.#started = true;
    if (this.header)
      await this.#put(
        `${this.columns.map((c) => csvField(c.name, { kind: 'string', presence: 'required' })).join(',')}\n`,
      );
  }

  async write(record: R): Promise<void> {
    if (!this.#started) await this.#start();
    this.rows++;
    await this.#put(csvLine(record as Record<string, unknown>, this.columns));
  }

  async close(): Promise<FileStats> {
    if (!this.#started) await this.#start();
    await endSink(this.sink);
    return { rows: this.rows, bytes: this.#bytes };
  }
}

/** A field as read from CSV: its text, and whether it was quoted (so `""` is an empty string, not null). */
interface CsvCell {
  text: string;
  quoted: boolean;
}

/**
 * Parse RFC 4180 CSV from text chunks: quoted fields with `""` escapes and embedded newlines,
 * `\r\n` or `\n` line ends. Yields one array of cells per row, with the 1-based line it started on.
 */
export async function* parseCsv(
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
): AsyncGenerator<{ cells: CsvCell[]; line: number }> {
  // Strict: invalid UTF-8 fails the read instead of landing as U+FFFD in the values.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let cells: CsvCell[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  let afterQuote = false;
  let line = 1;
  let rowLine = 1;
  let pendingCr = false;
  const endField = () => {
    cells.push({ text: field, quoted });
    field = '';
    quoted = false;
    afterQuote = false;
  };
  for await (const chunk of chunks) {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    } catch (err) {
      throw new TributaryError(`CSV: invalid UTF-8 after line ${line}`, {
        code: 'CSV_UTF8_INVALID',
        context: { line },
        cause: err,
      });
    }
    const rows: { cells: CsvCell[]; line: number }[] = [];
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (pendingCr) {
        pendingCr = false;
        if (ch === '\n') continue;
      }
      if (inQuotes) {
        if (ch === '"') {
          // Closing, unless the next character is another quote: then it was an escaped quote.
          inQuotes = false;
          afterQuote = true;
        } else {
          if (ch === '\n') line++;
          field += ch;
        }
        continue;
      }
      if (afterQuote && ch === '"') {
        field += '"';
        inQuotes = true;
        afterQuote = false;
        continue;
      }
      if (ch === '"' && field === '' && !quoted) {
        inQuotes = true;
        quoted = true;
      } else if (ch === ',') {
        endField();
      } else if (ch === '\n' || ch === '\r') {
        endField();
        rows.push({ cells, line: rowLine });
        cells = [];
        line++;
        rowLine = line;
        pendingCr = ch === '\r';
      } else {
        field += ch;
      }
    }
    yield* rows;
  }
  try {
    // A character cut short at the end of the input is invalid too.
    decoder.decode();
  } catch (err) {
    throw new TributaryError(`CSV: invalid UTF-8 at the end of the input (line ${line})`, {
      code: 'CSV_UTF8_INVALID',
      context: { line },
      cause: err,
    });
  }
  if (inQuotes)
    throw new TributaryError(`CSV: unterminated quoted field starting on line ${rowLine}`, {
      code: 'CSV_INVALID',
      context: { line: rowLine },
    });
  if (field !== '' || quoted || cells.length > 0) {
    endField();
    yield { cells, line: rowLine };
  }
}

function fromText(cell: CsvCell, def: FieldDef): unknown {
  if (cell.text === '' && !cell.quoted) return null;
  const text = cell.text;
  switch (def.kind) {
    case 'boolean':
      return text === 'true' || text === 't' || text === '1'
        ? true
        : text === 'false' || text === 'f' || text === '0'
          ? false
          : text;
    case 'int32':
    case 'double':
      return text.trim() === '' ? text : Number(text);
    case 'list':
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      // int64, decimal, timestamp and date accept text; the schema checks it.
      return text;
  }
}

/**
 * CSV as AWS DMS writes it to S3: a header row of column names, RFC 4180 quoting, null as an
 * empty field and an empty string as `""`, timestamps as `YYYY-MM-DD HH:MM:SS.fff` (UTC), lists as
 * JSON. Reading maps columns by the header and validates with the schema.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 *
 * const writer = csvFormat.createWriter(createWriteStream('LOAD00000001.csv'), readingSchema);
 * for await (const reading of readings) await writer.write(reading);
 * const { rows, bytes } = await writer.close();
 * ```
 */
export const csvFormat: FileFormat = {
  name: 'csv',
  extension: () => '.csv',
  createWriter<F extends Fields>(sink: Writable, schema: Schema<F>) {
    return new CsvWriter<Schema<F>['$record']>(sink, schema.columns, true);
  },
  async *read<F extends Fields>(storage: Storage, key: string, schema: Schema<F>, options: ReadOptions = {}) {
    const body = await storage.get(key, { signal: options.signal });
    let names: string[] | undefined;
    for await (const { cells, line } of parseCsv(body)) {
      if (!names) {
        names = cells.map((c) => c.text);
        continue;
      }
      if (cells.length === 1 && cells[0]?.text === '' && !cells[0].quoted) continue;
      if (cells.length !== names.length) {
        throw new TributaryError(
          `CSV ${key} line ${line}: ${cells.length} fields, the header has ${names.length}`,
          {
            code: 'CSV_INVALID',
            context: { key, line },
          },
        );
      }
      const input: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        const def = schema.fields[name]?.def;
        input[name] = def ? fromText(cells[i] as CsvCell, def) : (cells[i] as CsvCell).text;
      }
      const result = schema.validate(input);
      if (!result.ok) {
        throw new TributaryError(
          `CSV ${key} line ${line}: ${result.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          { code: 'CSV_INVALID', context: { key, line } },
        );
      }
      yield result.value as Schema<F>['$record'];
    }
  },
};
