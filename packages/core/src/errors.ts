import type { FlushInfo } from './batcher-options.js';
import type { InvalidUtf8Line } from './encoding.js';

const MARKER = Symbol.for('tributary.error');

/** Context fields that errors carry so a log line or an alarm can say where things failed. */
export interface ErrorContext {
  stream?: string;
  bucket?: string;
  key?: string;
  table?: string;
  statusCode?: number;
  variable?: string;
  [field: string]: unknown;
}

export interface TributaryErrorOptions {
  /** A stable, machine-readable code, e.g. `VALIDATION_FAILED`. */
  code?: string;
  cause?: unknown;
  /** Whether repeating the same call may succeed. */
  retryable?: boolean;
  context?: ErrorContext;
}

/**
 * The base class of every error that tributary throws.
 *
 * `TributaryError.isInstance(err)` is true for errors thrown by any copy of the package
 * (two versions installed side by side), where `instanceof` would not be.
 *
 * @example
 * ```ts
 * declare const batcher: Batcher<string>;
 * try {
 *   await batcher.close();
 * } catch (err) {
 *   if (TributaryError.isInstance(err) && err.retryable) console.warn(`${err.code}: worth another try later`);
 *   else throw err;
 * }
 * ```
 */
export class TributaryError extends Error {
  override name = 'TributaryError';
  readonly code: string;
  readonly retryable: boolean;
  readonly context: Readonly<ErrorContext>;

  constructor(message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'TRIBUTARY_ERROR';
    this.retryable = options.retryable ?? false;
    this.context = Object.freeze({ ...options.context });
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** True for any tributary error, whichever copy of the package created it. */
  static isInstance(value: unknown): value is TributaryError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      context: this.context,
      cause:
        this.cause instanceof Error ? { name: this.cause.name, message: this.cause.message } : this.cause,
    };
  }
}

/** One problem found in a value, located by its field path (`tags[2]`, `quote.USD.price`). */
export interface ValidationIssue {
  path: string;
  /** Stable code: `required`, `type`, `range`, `format`, `precision`, `unknown_field`, ... */
  code: string;
  expected: string;
  /** A short description of what was found (its type or an excerpt), never a secret. */
  actual: string;
  message: string;
}

/**
 * A value does not match its schema. Holds every issue found, not only the first.
 *
 * @example
 * ```ts
 * try {
 *   readingSchema.parse({ id: 'a-1', at: 'yesterday', value: 'warm' });
 * } catch (err) {
 *   if (err instanceof ValidationError) console.log(err.issues.map((i) => i.path)); // ['at', 'value']
 *   else throw err;
 * }
 * ```
 */
export class ValidationError extends TributaryError {
  override name = 'ValidationError';
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], options: Omit<TributaryErrorOptions, 'code'> = {}) {
    const head = issues
      .slice(0, 3)
      .map((issue) => `${issue.path || '(record)'}: ${issue.message}`)
      .join('; ');
    const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
    super(`Validation failed: ${head}${more}`, { ...options, code: 'VALIDATION_FAILED' });
    this.issues = Object.freeze([...issues]);
  }
}

/**
 * A configuration value is missing or wrong. `context.variable` names the environment variable.
 *
 * @example
 * ```ts
 * throw new ConfigError('TRIBUTARY_MODE must be "local" or "aws"', { variable: 'TRIBUTARY_MODE' });
 * ```
 */
export class ConfigError extends TributaryError {
  override name = 'ConfigError';
  readonly variable: string | undefined;

  constructor(message: string, context: ErrorContext = {}, cause?: unknown) {
    super(message, { code: 'CONFIG_INVALID', context, cause });
    this.variable = context.variable;
  }
}

/** One item of a batch that failed, with the reason the service or the code gave. */
export interface FailedItem<T> {
  item: T;
  /** e.g. `ProvisionedThroughputExceededException`, `VALIDATION_FAILED`. */
  code: string;
  message?: string;
}

/**
 * A call that succeeded as a whole but failed for some of its items (Kinesis
 * `FailedRecordCount > 0`, Firehose `FailedPutCount > 0`, a flush that lost a batch).
 * It is never reported as success: the failed items travel with the error.
 *
 * @example
 * ```ts
 * declare const batcher: Batcher<string>;
 * declare function deadLetter(items: unknown[]): Promise<void>; // e.g. write them to an errors table
 * try {
 *   await batcher.close();
 * } catch (err) {
 *   if (err instanceof PartialBatchFailureError) await deadLetter(err.failed.map((f) => f.item));
 *   else throw err;
 * }
 * ```
 */
export class PartialBatchFailureError<T = unknown> extends TributaryError {
  override name = 'PartialBatchFailureError';
  readonly failed: readonly FailedItem<T>[];
  readonly succeededCount: number;

  constructor(
    failed: readonly FailedItem<T>[],
    options: { succeededCount?: number; message?: string; cause?: unknown; context?: ErrorContext } = {},
  ) {
    const codes = [...new Set(failed.map((f) => f.code))].slice(0, 5).join(', ');
    super(options.message ?? `${failed.length} item(s) failed (${codes})`, {
      code: 'PARTIAL_BATCH_FAILURE',
      cause: options.cause,
      context: options.context,
      retryable: false,
    });
    this.failed = Object.freeze([...failed]);
    this.succeededCount = options.succeededCount ?? 0;
  }
}

/**
 * A retried operation still failed after its last allowed attempt or its time budget.
 * `cause` is the last error.
 *
 * @example
 * ```ts
 * try {
 *   await withRetry(() => fetch('https://api.example.com/health'), { maxAttempts: 3 });
 * } catch (err) {
 *   if (err instanceof RetryExhaustedError) console.error(`gave up after ${err.attempts} attempts`, err.cause);
 *   else throw err;
 * }
 * ```
 */
export class RetryExhaustedError extends TributaryError {
  override name = 'RetryExhaustedError';
  readonly attempts: number;
  readonly lastError: unknown;
  /** What ran out: the allowed attempts or the time budget. */
  readonly reason: 'attempts' | 'time';

  constructor(attempts: number, lastError: unknown, reason: 'attempts' | 'time' = 'attempts') {
    const last = lastError instanceof Error ? lastError.message : String(lastError);
    super(`Gave up after ${attempts} attempt(s) (${reason}): ${last}`, {
      code: 'RETRY_EXHAUSTED',
      cause: lastError,
    });
    this.attempts = attempts;
    this.lastError = lastError;
    this.reason = reason;
  }
}

/**
 * An item is larger than the limit of the batch or service it was given to. It is
 * rejected back to the caller, never dropped.
 *
 * @example
 * ```ts
 * const batcher = new Batcher<string>({ maxCount: 500, maxBytes: 1024, flush: async () => {} });
 * try {
 *   await batcher.add('x'.repeat(2000));
 * } catch (err) {
 *   if (err instanceof ItemTooLargeError) console.log(err.size, err.limit); // 2000 1024
 *   else throw err;
 * }
 * ```
 */
export class ItemTooLargeError extends TributaryError {
  override name = 'ItemTooLargeError';
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, context: ErrorContext = {}) {
    super(`Item of ${size} bytes exceeds the limit of ${limit} bytes`, {
      code: 'ITEM_TOO_LARGE',
      context,
    });
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A line of NDJSON that is not UTF-8 (`NDJSON_UTF8_INVALID`), not JSON or not an object
 * (`NDJSON_JSON_INVALID`), or (with a schema) not a valid record (`NDJSON_RECORD_INVALID`).
 * Carries the 1-based line number, the reason and the raw line, so it can be routed to an error
 * prefix with the reason and nothing is lost. For a line that is not UTF-8, `raw` shows each
 * ill-formed sequence as U+FFFD, `bytes` holds the line exactly and `context.byteOffset` says
 * where (0-based, in the line) the first ill-formed sequence starts.
 *
 * @example
 * ```ts
 * const bad: NdjsonDecodeError[] = [];
 * const body = [Buffer.from('{"a":1}\n{"s":"caf'), Uint8Array.of(0xe9), Buffer.from('"}\n')];
 * for await (const record of decodeNdjson(body, { onInvalid: (e) => bad.push(e) })) console.log(record);
 * for (const e of bad) console.log(e.line, e.code, e.reason); // 2 NDJSON_UTF8_INVALID invalid UTF-8 at byte offset 9
 * ```
 */
export class NdjsonDecodeError extends TributaryError {
  override name = 'NdjsonDecodeError';
  readonly line: number;
  readonly raw: string;
  /** Why the line was refused, without the line number (the message has both). */
  readonly reason: string;
  readonly issues: readonly ValidationIssue[];
  /** The line's bytes, for a line that is not UTF-8 (`raw` cannot hold them exactly). */
  readonly bytes: Uint8Array | undefined;

  constructor(
    line: number,
    raw: string,
    reason: string,
    options: { issues?: ValidationIssue[]; cause?: unknown; invalidUtf8?: InvalidUtf8Line } = {},
  ) {
    super(`NDJSON line ${line}: ${reason}`, {
      code: options.invalidUtf8
        ? 'NDJSON_UTF8_INVALID'
        : options.issues
          ? 'NDJSON_RECORD_INVALID'
          : 'NDJSON_JSON_INVALID',
      cause: options.cause,
      context: options.invalidUtf8 ? { line, byteOffset: options.invalidUtf8.offset } : { line },
    });
    this.line = line;
    this.raw = raw;
    this.reason = reason;
    this.issues = Object.freeze([...(options.issues ?? [])]);
    this.bytes = options.invalidUtf8?.bytes;
  }

  /** The error for line `line` whose bytes are not UTF-8. */
  static invalidUtf8(line: number, bad: InvalidUtf8Line): NdjsonDecodeError {
    return new NdjsonDecodeError(line, bad.text, `invalid UTF-8 at byte offset ${bad.offset}`, {
      invalidUtf8: bad,
    });
  }
}

/**
 * Flushes with `failedBatches: 'keep'` failed: their items are kept and flushed again later, under
 * the same `sequence`.
 *
 * @example
 * ```ts
 * declare function put(key: string, lines: string[]): Promise<void>; // your sink
 * const batcher = new Batcher<string>({
 *   maxBytes: 5 * 1024 * 1024,
 *   failedBatches: 'keep',
 *   flush: (lines, { sequence }) => put(`batch-${sequence}.ndjson`, lines),
 * });
 * try {
 *   await batcher.close();
 * } catch (err) {
 *   if (err instanceof FlushFailedError) console.warn(`${err.itemCount} items kept; close() again later`);
 *   else throw err;
 * }
 * ```
 */
export class FlushFailedError<T = unknown> extends TributaryError {
  override name = 'FlushFailedError';
  /** The failed batches, each with its items, info and the error of its last try. */
  readonly batches: readonly { items: readonly T[]; info: FlushInfo; error: unknown }[];
  /** Items cut into batches that could not start because the failed ones hold every slot. */
  readonly waitingCount: number;
  /** Items of `batches` plus `waitingCount`. */
  readonly itemCount: number;

  constructor(
    batches: readonly { items: readonly T[]; info: FlushInfo; error: unknown }[],
    waitingCount: number,
    source: string,
    /** Whether flushing again may succeed. Default: when every last error is a retryable tributary error. */
    retryable: boolean = batches.every(
      (batch) => TributaryError.isInstance(batch.error) && batch.error.retryable,
    ),
  ) {
    const errors = batches.map((batch) => batch.error);
    const itemCount = batches.reduce((sum, batch) => sum + batch.items.length, waitingCount);
    const last = errors.at(-1);
    const why =
      last instanceof Error ? last.message : last === undefined ? 'no flush slot free' : String(last);
    super(`${itemCount} item(s) not flushed yet (kept for the next flush): ${why}`, {
      code: 'FLUSH_FAILED',
      cause:
        errors.length === 0
          ? undefined
          : errors.length === 1
            ? errors[0]
            : new AggregateError(errors, `${errors.length} flushes failed`),
      retryable,
      context: { source },
    });
    this.batches = Object.freeze([...batches]);
    this.waitingCount = waitingCount;
    this.itemCount = itemCount;
  }
}

/** The code of an {@link OptionsError}: `<AREA>_OPTIONS_INVALID`, e.g. `BATCHER_OPTIONS_INVALID`. */
export type OptionsErrorCode = `${string}_OPTIONS_INVALID`;

/**
 * An options object passed to a constructor or a function is wrong. `option` (also
 * `context.option`) names the option; `code` is `<AREA>_OPTIONS_INVALID`. A wrong value read from
 * the environment is a {@link ConfigError} instead, naming the variable.
 *
 * @example
 * ```ts
 * try {
 *   new Batcher<string>({ maxBytes: 0, flush: async () => {} });
 * } catch (err) {
 *   if (err instanceof OptionsError) console.log(err.code, err.option); // BATCHER_OPTIONS_INVALID maxBytes
 *   else throw err;
 * }
 * ```
 */
export class OptionsError extends TributaryError {
  override name = 'OptionsError';
  readonly option: string;

  constructor(
    message: string,
    options: { code: OptionsErrorCode; option: string; cause?: unknown; context?: ErrorContext },
  ) {
    super(message, {
      code: options.code,
      cause: options.cause,
      context: { ...options.context, option: options.option },
    });
    this.option = options.option;
  }
}

/**
 * Every code that core's own errors carry (a package's codes are listed in its `errors.ts`).
 * `<AREA>_OPTIONS_INVALID` is a wrong option, `<THING>_INVALID` wrong data.
 *
 * @example
 * ```ts
 * function isCoreCode(code: string): code is CoreErrorCode {
 *   return code === 'VALIDATION_FAILED' || code === 'ITEM_TOO_LARGE';
 * }
 * ```
 */
export type CoreErrorCode =
  | 'TRIBUTARY_ERROR'
  | 'VALIDATION_FAILED'
  | 'CONFIG_INVALID'
  | 'CONFIG_OPTIONS_INVALID'
  | 'PARTIAL_BATCH_FAILURE'
  | 'RETRY_EXHAUSTED'
  | 'ITEM_TOO_LARGE'
  | 'ITEM_INVALID'
  | 'ARGUMENT_INVALID'
  | 'BATCHER_OPTIONS_INVALID'
  | 'BATCHER_CLOSED'
  | 'FLUSH_FAILED'
  | 'ON_FLUSHED_FAILED'
  | 'EVENT_HUB_OPTIONS_INVALID'
  | 'EVENT_TYPE_INVALID'
  | 'RETRY_OPTIONS_INVALID'
  | 'SLEEP_OPTIONS_INVALID'
  | 'TOKEN_BUCKET_OPTIONS_INVALID'
  | 'DDL_OPTIONS_INVALID'
  | 'SQL_IDENTIFIER_INVALID'
  | 'SQL_DIALECT_INVALID'
  | 'SQL_LITERAL_INVALID'
  | 'SCHEMA_INVALID'
  | 'NDJSON_JSON_INVALID'
  | 'NDJSON_RECORD_INVALID'
  | 'NDJSON_UTF8_INVALID'
  | 'DECIMAL_INVALID';

/** Describe a value for an error message without echoing long or sensitive content. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'invalid Date' : 'Date';
  if (typeof value === 'string') {
    const excerpt = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `string ${JSON.stringify(excerpt)}`;
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return `${typeof value} ${String(value)}`;
  }
  return typeof value;
}
