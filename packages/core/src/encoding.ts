import { Transform } from 'node:stream';
import { TributaryError, type ValidationIssue } from './errors.js';
import type { Fields, Schema } from './schema.js';

// biome-ignore lint/suspicious/noExplicitAny: any schema
type AnySchema = Schema<any>;

/**
 * A line of NDJSON that is not JSON, not an object, or (with a schema) not a valid record.
 * Carries the 1-based line number and the raw line, so it can be routed to an error prefix
 * with the reason and nothing is lost.
 */
export class NdjsonDecodeError extends TributaryError {
  override name = 'NdjsonDecodeError';
  readonly line: number;
  readonly raw: string;
  readonly issues: readonly ValidationIssue[];

  constructor(
    line: number,
    raw: string,
    reason: string,
    options: { issues?: ValidationIssue[]; cause?: unknown } = {},
  ) {
    super(`NDJSON line ${line}: ${reason}`, {
      code: options.issues ? 'NDJSON_INVALID_RECORD' : 'NDJSON_INVALID_JSON',
      cause: options.cause,
      context: { line },
    });
    this.line = line;
    this.raw = raw;
    this.issues = Object.freeze([...(options.issues ?? [])]);
  }
}

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
  decode(rawLine: string): Decoded<S> | undefined {
    this.lineNumber++;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
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

/** Splits text chunks into lines, keeping a partial line between chunks. */
class LineSplitter {
  private rest = '';
  private readonly text = new TextDecoder('utf-8', { fatal: false });

  push(chunk: string | Uint8Array, emit: (line: string) => void): void {
    const text = typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    let start = 0;
    let newline = text.indexOf('\n');
    if (newline === -1) {
      this.rest += text;
      return;
    }
    emit(this.rest + text.slice(0, newline));
    this.rest = '';
    start = newline + 1;
    newline = text.indexOf('\n', start);
    while (newline !== -1) {
      emit(text.slice(start, newline));
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    this.rest = text.slice(start);
  }

  end(emit: (line: string) => void): void {
    const tail = this.rest + this.text.decode();
    this.rest = '';
    if (tail !== '') emit(tail);
  }
}

/**
 * Decode NDJSON from any async iterable of text or bytes — a Node `Readable`, a web
 * `ReadableStream`, a `fs.createReadStream`, an S3 body — into records, with bounded memory.
 * Tolerates `\r\n` and blank lines; a bad line throws an `NdjsonDecodeError` with its line
 * number and raw text, or goes to `onInvalid`.
 *
 * @example
 * ```ts
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
  const lines: string[] = [];
  const collect = (line: string) => lines.push(line);
  for await (const chunk of source) {
    splitter.push(chunk, collect);
    for (const line of lines) {
      const record = decoder.decode(line);
      if (record !== undefined) yield record;
    }
    lines.length = 0;
  }
  splitter.end(collect);
  for (const line of lines) {
    const record = decoder.decode(line);
    if (record !== undefined) yield record;
  }
}

/**
 * Encode records from any (async) iterable as NDJSON text chunks, one line per record.
 *
 * @example
 * ```ts
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
 * const records = response.body.pipeThrough(new NdjsonDecoderStream({ schema: readingSchema }));
 * ```
 */
export class NdjsonDecoderStream<S extends AnySchema | undefined = undefined> extends TransformStream<
  string | Uint8Array,
  Decoded<S>
> {
  constructor(options: NdjsonDecodeOptions<S> = {}) {
    const decoder = new LineDecoder(options);
    const splitter = new LineSplitter();
    let controllerRef: TransformStreamDefaultController<Decoded<S>> | undefined;
    const emit = (line: string) => {
      const record = decoder.decode(line);
      if (record !== undefined) controllerRef?.enqueue(record);
    };
    super({
      transform(chunk, controller) {
        controllerRef = controller;
        splitter.push(chunk, emit);
      },
      flush(controller) {
        controllerRef = controller;
        splitter.end(emit);
      },
    });
  }
}

/**
 * A Node `Transform` (object mode in, text out) from records to NDJSON lines.
 *
 * @example
 * ```ts
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
 * for await (const r of createReadStream('part.ndjson').pipe(createNdjsonDecoder({ schema }))) use(r);
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
        splitter.push(chunk, (line) => {
          const record = decoder.decode(line);
          if (record !== undefined) this.push(record);
        });
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback) {
      try {
        splitter.end((line) => {
          const record = decoder.decode(line);
          if (record !== undefined) this.push(record);
        });
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}
