import { Transform } from 'node:stream';
import { NdjsonDecodeError } from './errors.js';
import type { Fields, Schema } from './schema.js';
import { utf8InvalidOffset } from './utf8.js';

export { NdjsonDecodeError };

// biome-ignore lint/suspicious/noExplicitAny: any schema
type AnySchema = Schema<any>;

const BIGINT_SENTINEL = '\0bigint:';
const BIGINT_IN_JSON = /"\\u0000bigint:(-?\d+)"/g;

/**
 * Encode one record as one compact JSON line with its `\n`. Dates become ISO-8601 UTC text
 * (`2026-01-01T00:00:00.000Z`); bigints become exact JSON integers (never rounded through a
 * double), which Spark, Athena and DuckDB read as bigint. With a schema the record is parsed
 * first (a `ValidationError` if it does not match), so epoch-ms timestamps, numeric decimals
 * and the like are written in the schema's one form.
 *
 * @example
 * ```ts
 * encodeNdjsonLine({ id: 'a', n: 12345678901234567890n }); // '{"id":"a","n":12345678901234567890}\n'
 * ```
 */
export function encodeNdjsonLine(input: unknown, schema?: AnySchema): string {
  const record = schema ? schema.parse(input) : input;
  try {
    return `${JSON.stringify(record)}\n`;
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
  }
  let collision = false;
  const json = JSON.stringify(record, (_key, value) => {
    if (typeof value === 'bigint') return `${BIGINT_SENTINEL}${value}`;
    if (typeof value === 'string' && value.startsWith(BIGINT_SENTINEL)) collision = true;
    return value;
  });
  if (collision) {
    // A genuine string looks like our sentinel: keep bigints as strings rather than risk it.
    return `${JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
  }
  return `${json.replace(BIGINT_IN_JSON, '$1')}\n`;
}

/**
 * Quote integer literals beyond 2^53 outside strings, so JSON.parse keeps their digits as text.
 * Only used for the int64 columns of a line that has such a literal.
 */
function quoteLargeIntegers(line: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++;
      else if (ch === 34) inString = false;
      continue;
    }
    if (ch === 34) {
      inString = true;
      continue;
    }
    if (ch === 45 || (ch >= 48 && ch <= 57)) {
      let end = i + 1;
      while (end < line.length && /[0-9.eE+-]/.test(line.charAt(end))) end++;
      const token = line.slice(i, end);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${line.slice(last, i)}"${token}"`;
        last = end;
      }
      i = end - 1;
    }
  }
  return last === 0 ? line : out + line.slice(last);
}

export interface NdjsonDecodeOptions<S extends AnySchema | undefined = undefined> {
  /** Validate and coerce each line with this schema (ISO text → Date, integers → bigint, ...). */
  schema?: S;
  /**
   * Called with each bad line, and decoding goes on. Without it the first bad line throws.
   * Use it to route the raw line and its reason to an error prefix.
   */
  onInvalid?: (error: NdjsonDecodeError) => void;
}

type Decoded<S> = S extends Schema<infer F extends Fields> ? Schema<F>['$record'] : unknown;

/** Turns lines into records: JSON parsing, exact int64, schema validation. Shared by every decoder. */
class LineDecoder<S extends AnySchema | undefined> {
  private lineNumber = 0;
  private readonly int64Columns: string[];

  constructor(private readonly options: NdjsonDecodeOptions<S>) {
    this.int64Columns = options.schema
      ? options.schema.columns
          .filter((c) => c.def.kind === 'int64' || c.def.element?.kind === 'int64')
          .map((c) => c.name)
      : [];
  }

  /** Returns the decoded record, or undefined for a blank or rejected line. */
  decode(rawLine: string | InvalidUtf8Line): Decoded<S> | undefined {
    this.lineNumber++;
    if (typeof rawLine !== 'string')
      return this.reject(NdjsonDecodeError.invalidUtf8(this.lineNumber, rawLine));
    const line = rawLine;
    if (line.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      return this.reject(
        new NdjsonDecodeError(this.lineNumber, line, (err as Error).message, { cause: err }),
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.reject(new NdjsonDecodeError(this.lineNumber, line, 'not a JSON object'));
    }
    const schema = this.options.schema;
    if (!schema) return value as Decoded<S>;
    if (this.int64Columns.length > 0 && /\d{16}/.test(line)) {
      const exact = JSON.parse(quoteLargeIntegers(line)) as Record<string, unknown>;
      for (const name of this.int64Columns) (value as Record<string, unknown>)[name] = exact[name];
    }
    const result = schema.validate(value);
    if (result.ok) return result.value as Decoded<S>;
    const reason = result.issues.map((i) => `${i.path || '(record)'}: ${i.message}`).join('; ');
    return this.reject(new NdjsonDecodeError(this.lineNumber, line, reason, { issues: result.issues }));
  }

  private reject(error: NdjsonDecodeError): undefined {
    if (!this.options.onInvalid) throw error;
    this.options.onInvalid(error);
    return undefined;
  }
}

/** A line whose bytes are not UTF-8: where the first ill-formed sequence starts, and the line. */
export interface InvalidUtf8Line {
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** The line decoded with U+FFFD for each ill-formed sequence, for people to read. */
  readonly text: string;
}

const NEWLINE = 0x0a;
const BOM = 0xfeff;
// ignoreBOM keeps a U+FEFF inside the input: only the one that starts it is dropped, by hand.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function concatBytes(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Splits chunks of text or bytes into lines (without `\n` or `\r\n`), keeping a partial line
 * between chunks. Bytes are split at `\n` first — a byte that never occurs inside a UTF-8
 * sequence — and each line is then decoded strictly, so a character cut between two chunks is
 * joined whole and a line that is not UTF-8 is emitted as an {@link InvalidUtf8Line} (never as
 * text with U+FFFD in it) while the lines around it decode as usual. A byte order mark that
 * starts the input is dropped, as JSON readers do.
 */
class LineSplitter {
  /** The lines of the last `push` or `end`, in order: read them before the next call. */
  private readonly lines: (string | InvalidUtf8Line)[] = [];
  /** The partial line, when the chunks are text. */
  private rest = '';
  /** The partial line, when the chunks are bytes (copies: a source may reuse its buffers). */
  private carry: Uint8Array[] = [];
  private carryBytes = 0;
  private started = false;

  push(chunk: string | Uint8Array): readonly (string | InvalidUtf8Line)[] {
    this.lines.length = 0;
    if (typeof chunk === 'string') {
      if (this.carryBytes > 0) this.pushBytes(new TextEncoder().encode(chunk));
      else this.pushText(chunk);
    } else {
      if (this.rest !== '') {
        const rest = new TextEncoder().encode(this.rest);
        this.carry.push(rest);
        this.carryBytes += rest.length;
        this.rest = '';
      }
      this.pushBytes(chunk);
    }
    return this.lines;
  }

  end(): readonly (string | InvalidUtf8Line)[] {
    this.lines.length = 0;
    if (this.carryBytes > 0) {
      const tail = concatBytes(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
      this.emitBytes(tail);
    } else if (this.rest !== '') {
      const tail = this.rest;
      this.rest = '';
      this.emitText(tail);
    }
    return this.lines;
  }

  private pushText(text: string): void {
    let newline = text.indexOf('\n');
    if (newline === -1) {
      this.rest += text;
      return;
    }
    this.emitText(this.rest + text.slice(0, newline));
    let start = newline + 1;
    newline = text.indexOf('\n', start);
    while (newline !== -1) {
      this.emitText(text.slice(start, newline));
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    this.rest = text.slice(start);
  }

  private pushBytes(bytes: Uint8Array): void {
    const first = bytes.indexOf(NEWLINE);
    if (first === -1) {
      if (bytes.length > 0) {
        this.carry.push(bytes.slice());
        this.carryBytes += bytes.length;
      }
      return;
    }
    if (this.carryBytes > 0) {
      this.carry.push(bytes.subarray(0, first));
      const line = concatBytes(this.carry, this.carryBytes + first);
      this.carry = [];
      this.carryBytes = 0;
      this.emitBytes(line);
    } else {
      this.emitBytes(bytes.subarray(0, first));
    }
    const last = bytes.lastIndexOf(NEWLINE);
    if (last > first) {
      // The complete lines between: one decode for all of them, line by line only if it fails.
      const block = bytes.subarray(first + 1, last);
      let text: string | undefined;
      try {
        text = strictUtf8.decode(block);
      } catch {
        text = undefined;
      }
      if (text !== undefined) {
        // The hot path: past the first line, so no byte order mark to look for.
        let start = 0;
        let newline = text.indexOf('\n');
        while (newline !== -1) {
          this.lines.push(
            text.charCodeAt(newline - 1) === 13 ? text.slice(start, newline - 1) : text.slice(start, newline),
          );
          start = newline + 1;
          newline = text.indexOf('\n', start);
        }
        this.lines.push(text.endsWith('\r') ? text.slice(start, -1) : text.slice(start));
      } else {
        let start = 0;
        let newline = block.indexOf(NEWLINE);
        while (newline !== -1) {
          this.emitBytes(block.subarray(start, newline));
          start = newline + 1;
          newline = block.indexOf(NEWLINE, start);
        }
        this.emitBytes(block.subarray(start));
      }
    }
    if (last + 1 < bytes.length) {
      this.carry.push(bytes.slice(last + 1));
      this.carryBytes += bytes.length - last - 1;
    }
  }

  private emitBytes(line: Uint8Array): void {
    let text: string;
    try {
      text = strictUtf8.decode(line);
    } catch {
      const offset = utf8InvalidOffset(line);
      this.lines.push({ offset, bytes: line.slice(), text: this.trim(lenientUtf8.decode(line)) });
      this.started = true;
      return;
    }
    this.emitText(text);
  }

  private emitText(line: string): void {
    this.lines.push(this.trim(line));
    this.started = true;
  }

  /** Without a final `\r`, nor the byte order mark that starts the input. */
  private trim(line: string): string {
    let text = line;
    if (!this.started && text.charCodeAt(0) === BOM) text = text.slice(1);
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }
}

/**
 * The lines of NDJSON text or bytes, from any (async) iterable of chunks — a Node `Readable`,
 * a web `ReadableStream`, an S3 body — with bounded memory: the one line reader that tributary's
 * NDJSON decoders use. Lines end at `\n` (a `\r` before it is dropped); every line is yielded,
 * blank ones too, so the n-th item is line n; a last line without `\n` is yielded when it is not
 * empty. Bytes are decoded as UTF-8 strictly, line by line: a line that is not UTF-8 is yielded
 * as an `NdjsonDecodeError` (`NDJSON_UTF8_INVALID`, with the byte offset, its bytes, and `raw`
 * with U+FFFD for people to read) and the next lines are read as usual. A character whose bytes
 * are split between two chunks is decoded whole. Text chunks are taken as they are.
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs';
 *
 * let n = 0;
 * for await (const line of ndjsonLines(createReadStream('part-0.ndjson'))) {
 *   n++;
 *   if (typeof line !== 'string') console.error(`line ${n}: ${line.reason}`); // not UTF-8
 *   else if (line !== '') console.log(JSON.parse(line));
 * }
 * ```
 */
export async function* ndjsonLines(
  source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
): AsyncGenerator<string | NdjsonDecodeError> {
  const splitter = new LineSplitter();
  let number = 0;
  for await (const chunk of source) {
    for (const line of splitter.push(chunk)) {
      number++;
      yield typeof line === 'string' ? line : NdjsonDecodeError.invalidUtf8(number, line);
    }
  }
  for (const line of splitter.end()) {
    number++;
    yield typeof line === 'string' ? line : NdjsonDecodeError.invalidUtf8(number, line);
  }
}

/**
 * Decode NDJSON from any async iterable of text or bytes — a Node `Readable`, a web
 * `ReadableStream`, a `fs.createReadStream`, an S3 body — into records, with bounded memory.
 * Tolerates `\r\n` and blank lines; bytes are decoded as UTF-8 strictly, line by line
 * (see {@link ndjsonLines}); a bad line throws an `NdjsonDecodeError` with its line
 * number and raw text, or goes to `onInvalid`.
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs';
 *
 * for await (const reading of decodeNdjson(createReadStream('part.ndjson'), { schema: readingSchema })) {
 *   console.log(reading.at.toISOString());
 * }
 * ```
 */
export async function* decodeNdjson<S extends AnySchema | undefined = undefined>(
  source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options: NdjsonDecodeOptions<S> = {},
): AsyncGenerator<Decoded<S>> {
  const decoder = new LineDecoder(options);
  const splitter = new LineSplitter();
  for await (const chunk of source) {
    for (const line of splitter.push(chunk)) {
      const record = decoder.decode(line);
      if (record !== undefined) yield record;
    }
  }
  for (const line of splitter.end()) {
    const record = decoder.decode(line);
    if (record !== undefined) yield record;
  }
}

/**
 * Encode records from any (async) iterable as NDJSON text chunks, one line per record.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 * import { Readable } from 'node:stream';
 * import { pipeline } from 'node:stream/promises';
 *
 * await pipeline(Readable.from(encodeNdjson(readings)), createWriteStream('part.ndjson'));
 * ```
 */
export async function* encodeNdjson(
  records: AsyncIterable<unknown> | Iterable<unknown>,
  options: { schema?: AnySchema } = {},
): AsyncGenerator<string> {
  for await (const record of records) yield encodeNdjsonLine(record, options.schema);
}

/**
 * A web `TransformStream` from records to NDJSON lines.
 *
 * @example
 * ```ts
 * declare const sink: WritableStream<string>;
 *
 * await ReadableStream.from(readings).pipeThrough(new NdjsonEncoderStream()).pipeTo(sink);
 * ```
 */
export class NdjsonEncoderStream extends TransformStream<unknown, string> {
  constructor(options: { schema?: AnySchema } = {}) {
    super({
      transform: (record, controller) => controller.enqueue(encodeNdjsonLine(record, options.schema)),
    });
  }
}

/**
 * A web `TransformStream` from NDJSON text or bytes to records.
 *
 * @example
 * ```ts
 * const response = await fetch('https://example.com/readings.ndjson');
 * const records = response.body?.pipeThrough(new NdjsonDecoderStream({ schema: readingSchema }));
 * ```
 */
export class NdjsonDecoderStream<S extends AnySchema | undefined = undefined> extends TransformStream<
  string | Uint8Array,
  Decoded<S>
> {
  constructor(options: NdjsonDecodeOptions<S> = {}) {
    const decoder = new LineDecoder(options);
    const splitter = new LineSplitter();
    const enqueue = (
      lines: readonly (string | InvalidUtf8Line)[],
      controller: TransformStreamDefaultController<Decoded<S>>,
    ) => {
      for (const line of lines) {
        const record = decoder.decode(line);
        if (record !== undefined) controller.enqueue(record);
      }
    };
    super({
      transform(chunk, controller) {
        enqueue(splitter.push(chunk), controller);
      },
      flush(controller) {
        enqueue(splitter.end(), controller);
      },
    });
  }
}

/**
 * A Node `Transform` (object mode in, text out) from records to NDJSON lines.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 * import { Readable } from 'node:stream';
 * import { pipeline } from 'node:stream/promises';
 * import { createGzip } from 'node:zlib';
 *
 * await pipeline(Readable.from(readings), createNdjsonEncoder(), createGzip(), createWriteStream('part.ndjson.gz'));
 * ```
 */
export function createNdjsonEncoder(options: { schema?: AnySchema } = {}): Transform {
  return new Transform({
    writableObjectMode: true,
    transform(record, _encoding, callback) {
      try {
        callback(null, encodeNdjsonLine(record, options.schema));
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}

/**
 * A Node `Transform` (bytes in, records out in object mode) from NDJSON to records.
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs';
 *
 * for await (const reading of createReadStream('part.ndjson').pipe(createNdjsonDecoder({ schema: readingSchema }))) {
 *   console.log(reading);
 * }
 * ```
 */
export function createNdjsonDecoder<S extends AnySchema | undefined = undefined>(
  options: NdjsonDecodeOptions<S> = {},
): Transform {
  const decoder = new LineDecoder(options);
  const splitter = new LineSplitter();
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer | string, _encoding, callback) {
      try {
        for (const line of splitter.push(chunk)) {
          const record = decoder.decode(line);
          if (record !== undefined) this.push(record);
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback) {
      try {
        for (const line of splitter.end()) {
          const record = decoder.decode(line);
          if (record !== undefined) this.push(record);
        }
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}
