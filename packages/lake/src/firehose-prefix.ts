// Firehose's S3 prefix grammar, in one place: the lake's buffered delivery evaluates it and
// `createDeliveryStreamInput` (@tributary/streams/firehose) checks it, so a prefix one accepts
// the other accepts too, with the same defaults.
import { describeValue } from '@tributary/core';
import { FirehosePrefixError } from './errors.js';
import { compileJavaTimePattern, formatJavaTime, JavaTimePatternProblem } from './java-time-pattern.js';

/** Which destination field a prefix is: `Prefix` (delivered objects) or `ErrorOutputPrefix` (failed records). */
export type FirehosePrefixField = 'prefix' | 'errorPrefix';

/** The partition keys of dynamic partitioning: the names `!{partitionKeyFromQuery:<name>}` and `!{partitionKeyFromLambda:<name>}` may use. */
export interface FirehosePartitionKeys {
  /** Keys of the inline jq query (`MetadataExtraction`). */
  readonly fromQuery?: readonly string[];
  /** Keys the processing Lambda returns in `metadata.partitionKeys`. */
  readonly fromLambda?: readonly string[];
}

/** One piece of a parsed prefix. */
export type FirehosePrefixPart =
  | { readonly kind: 'literal'; readonly text: string }
  | {
      readonly kind: 'timestamp';
      readonly pattern: string;
      /** The pattern applied to epoch milliseconds, in UTC. */
      readonly format: (time: number) => string;
    }
  | { readonly kind: 'random-string' }
  | { readonly kind: 'error-output-type' }
  | { readonly kind: 'partition-key'; readonly source: 'query' | 'lambda'; readonly key: string };

/** A prefix checked against Firehose's rules, ready to evaluate. */
export interface FirehosePrefix {
  /** The prefix as written (after the defaults of {@link resolveFirehosePrefixes}, when it applied them). */
  readonly text: string;
  readonly field: FirehosePrefixField;
  readonly parts: readonly FirehosePrefixPart[];
}

/** Options of {@link parseFirehosePrefix}. */
export interface ParseFirehosePrefixOptions {
  /** Default `prefix`. */
  readonly field?: FirehosePrefixField;
  /**
   * Dynamic partitioning's keys. Without them (the default) `!{partitionKeyFromQuery:...}` and
   * `!{partitionKeyFromLambda:...}` are refused, as Firehose refuses them on a stream without
   * dynamic partitioning.
   */
  readonly partitionKeys?: FirehosePartitionKeys;
}

/** What {@link evaluateFirehosePrefix} fills the expressions with. */
export interface FirehosePrefixValues {
  /** The arrival time of the object's oldest record (epoch ms or Date), formatted in UTC. */
  readonly time: number | Date;
  /** `!{firehose:error-output-type}`: why the records failed. Required when the prefix has it. */
  readonly errorOutputType?: string;
  /** `!{firehose:random-string}`: 11 characters, drawn anew for each occurrence. Default: from `crypto.randomUUID`. */
  readonly randomString?: () => string;
  /** The values of the object's partition keys, by name. Required for each key the prefix uses. */
  readonly partitionKeys?: {
    readonly fromQuery?: Readonly<Record<string, string>>;
    readonly fromLambda?: Readonly<Record<string, string>>;
  };
}

/** Firehose's limit on `Prefix` and `ErrorOutputPrefix` as configured. */
export const MAX_FIREHOSE_PREFIX_LENGTH = 1024;
/** What Firehose appends to a prefix without a `!{timestamp:...}` expression. */
export const DEFAULT_FIREHOSE_TIME_PREFIX = '!{timestamp:yyyy/MM/dd/HH}/';
const ERROR_OUTPUT_TYPE = '!{firehose:error-output-type}';
const RANDOM_STRING_LENGTH = 11;

function problem(field: FirehosePrefixField, text: unknown, reason: string): FirehosePrefixError {
  return new FirehosePrefixError(
    `Firehose ${field === 'prefix' ? 'Prefix' : 'ErrorOutputPrefix'} ${describeValue(text)} is invalid: ${reason}`,
    { option: field, prefix: typeof text === 'string' ? text : undefined },
  );
}

/**
 * Parses a Firehose S3 prefix and checks Firehose's rules: expressions `!{namespace:value}` of
 * the namespaces `timestamp` (a Java DateTimeFormatter pattern, see below), `firehose`
 * (`random-string` anywhere, `error-output-type` only in the error prefix),
 * `partitionKeyFromQuery` and `partitionKeyFromLambda` (only with dynamic partitioning, only in
 * the prefix, only declared keys); `!{` only as the start of an expression; no leading `/`; at
 * most 1,024 characters. Timestamp patterns take Java's letters except those whose output
 * depends on the locale's week rules (`Y`, `w`, `W`, `e`, `c`), on the zone's name (`V`, `z`,
 * `v`) or on the Java version (`F`, `g`, `B`), and `p` (spaces); text is English, the zone UTC.
 * Throws {@link FirehosePrefixError} (`FIREHOSE_PREFIX_INVALID`).
 *
 * @example
 * ```ts
 * const prefix = parseFirehosePrefix("sensors/dt=!{timestamp:yyyy-MM-dd}/!{firehose:random-string}/");
 * evaluateFirehosePrefix(prefix, { time: Date.UTC(2026, 10, 23, 10) }); // e.g. 'sensors/dt=2026-11-23/046b6c7f-0b/'
 * ```
 */
export function parseFirehosePrefix(text: string, options: ParseFirehosePrefixOptions = {}): FirehosePrefix {
  const field = options.field ?? 'prefix';
  if (typeof text !== 'string') throw problem(field, text, 'it must be a string');
  if (text.length > MAX_FIREHOSE_PREFIX_LENGTH) {
    throw problem(field, text, `it has more than ${MAX_FIREHOSE_PREFIX_LENGTH} characters`);
  }
  if (text.startsWith('/'))
    throw problem(field, text, 'it starts with "/" (keys are relative to the bucket)');
  const parts: FirehosePrefixPart[] = [];
  const declared = {
    query: new Set(options.partitionKeys?.fromQuery ?? []),
    lambda: new Set(options.partitionKeys?.fromLambda ?? []),
  };
  const dynamic = options.partitionKeys !== undefined;
  let rest = text;
  while (rest !== '') {
    const open = rest.indexOf('!{');
    if (open === -1) {
      parts.push({ kind: 'literal', text: rest });
      break;
    }
    if (open > 0) parts.push({ kind: 'literal', text: rest.slice(0, open) });
    const close = rest.indexOf('}', open);
    if (close === -1) throw problem(field, text, '"!{" opens an expression that is never closed');
    const expression = rest.slice(open + 2, close);
    if (expression.includes('!{')) throw problem(field, text, 'expressions cannot be nested');
    const colon = expression.indexOf(':');
    if (colon === -1) throw problem(field, text, `!{${expression}} is not of the form !{namespace:value}`);
    const namespace = expression.slice(0, colon);
    const value = expression.slice(colon + 1);
    parts.push(expressionPart(field, text, namespace, value, dynamic, declared));
    rest = rest.slice(close + 1);
  }
  if (dynamic && field === 'prefix' && !parts.some((p) => p.kind === 'partition-key')) {
    throw problem(
      field,
      text,
      'with dynamic partitioning the prefix needs a !{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...} expression',
    );
  }
  return Object.freeze({ text, field, parts: Object.freeze(parts) });
}

function expressionPart(
  field: FirehosePrefixField,
  text: string,
  namespace: string,
  value: string,
  dynamic: boolean,
  declared: { query: ReadonlySet<string>; lambda: ReadonlySet<string> },
): FirehosePrefixPart {
  switch (namespace) {
    case 'timestamp': {
      if (value === '') throw problem(field, text, '!{timestamp:} needs a pattern');
      try {
        const tokens = compileJavaTimePattern(value);
        return { kind: 'timestamp', pattern: value, format: (time) => formatJavaTime(tokens, time) };
      } catch (error) {
        if (error instanceof JavaTimePatternProblem) {
          throw problem(field, text, `!{timestamp:${value}}: ${error.reason}`);
        }
        throw error;
      }
    }
    case 'firehose':
      if (value === 'random-string') return { kind: 'random-string' };
      if (value === 'error-output-type') {
        if (field === 'errorPrefix') return { kind: 'error-output-type' };
        throw problem(field, text, '!{firehose:error-output-type} belongs to the error prefix only');
      }
      throw problem(
        field,
        text,
        `!{firehose:${value}}: the firehose namespace has random-string and error-output-type`,
      );
    case 'partitionKeyFromQuery':
    case 'partitionKeyFromLambda': {
      const source = namespace === 'partitionKeyFromQuery' ? 'query' : 'lambda';
      if (!dynamic) {
        throw problem(
          field,
          text,
          `!{${namespace}:${value}} needs dynamic partitioning, which is not enabled`,
        );
      }
      if (field === 'errorPrefix') {
        throw problem(field, text, `!{${namespace}:...} cannot be used in the error prefix`);
      }
      if (!declared[source].has(value)) {
        throw problem(
          field,
          text,
          `!{${namespace}:${value}}: "${value}" is not one of the ${source === 'query' ? 'query' : 'Lambda'}'s partition keys`,
        );
      }
      return { kind: 'partition-key', source, key: value };
    }
    default:
      throw problem(
        field,
        text,
        `unknown namespace "${namespace}" (timestamp, firehose, partitionKeyFromQuery, partitionKeyFromLambda)`,
      );
  }
}

/** Whether a prefix has a `!{timestamp:...}` expression. */
export function hasFirehoseTimestamp(prefix: FirehosePrefix): boolean {
  return prefix.parts.some((part) => part.kind === 'timestamp');
}

/** Options of {@link resolveFirehosePrefixes}. */
export interface ResolveFirehosePrefixesOptions {
  readonly prefix: string;
  /** Default `errors/<the prefix up to its first expression, to its last "/">`, e.g. `errors/sensors/`. */
  readonly errorPrefix?: string;
  readonly partitionKeys?: FirehosePartitionKeys;
}

/**
 * The data and error prefixes with the defaults tributary applies everywhere: a prefix without
 * a timestamp gets `!{timestamp:yyyy/MM/dd/HH}/` (it must then be empty or end with `/`), an
 * error prefix without `!{firehose:error-output-type}` gets `!{firehose:error-output-type}/`
 * and one without a timestamp the same hour folders. Both are checked by
 * {@link parseFirehosePrefix}, and again after the defaults are appended.
 *
 * @example
 * ```ts
 * const { prefix, errorPrefix } = resolveFirehosePrefixes({ prefix: 'sensors/' });
 * prefix.text; // 'sensors/!{timestamp:yyyy/MM/dd/HH}/'
 * errorPrefix.text; // 'errors/sensors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/'
 * ```
 */
export function resolveFirehosePrefixes(options: ResolveFirehosePrefixesOptions): {
  prefix: FirehosePrefix;
  errorPrefix: FirehosePrefix;
} {
  const { partitionKeys } = options;
  let prefix = parseFirehosePrefix(options.prefix, { field: 'prefix', partitionKeys });
  if (!hasFirehoseTimestamp(prefix)) {
    if (prefix.text !== '' && !prefix.text.endsWith('/')) {
      throw problem(
        'prefix',
        prefix.text,
        `without !{timestamp:...} it must be empty or end with "/" (${DEFAULT_FIREHOSE_TIME_PREFIX} is appended)`,
      );
    }
    prefix = parseFirehosePrefix(prefix.text + DEFAULT_FIREHOSE_TIME_PREFIX, {
      field: 'prefix',
      partitionKeys,
    });
  }

  let errorText = options.errorPrefix;
  if (errorText === undefined) {
    const firstExpression = options.prefix.indexOf('!{');
    const head = firstExpression === -1 ? options.prefix : options.prefix.slice(0, firstExpression);
    errorText = `errors/${head.slice(0, head.lastIndexOf('/') + 1)}`;
  }
  let errorPrefix = parseFirehosePrefix(errorText, { field: 'errorPrefix', partitionKeys });
  if (!errorPrefix.parts.some((part) => part.kind === 'error-output-type')) {
    if (errorText !== '' && !errorText.endsWith('/')) {
      throw problem(
        'errorPrefix',
        errorText,
        `without ${ERROR_OUTPUT_TYPE} it must be empty or end with "/" (${ERROR_OUTPUT_TYPE}/ is appended)`,
      );
    }
    errorText += `${ERROR_OUTPUT_TYPE}/`;
    errorPrefix = parseFirehosePrefix(errorText, { field: 'errorPrefix', partitionKeys });
  }
  if (!hasFirehoseTimestamp(errorPrefix)) {
    if (!errorText.endsWith('/')) {
      throw problem(
        'errorPrefix',
        errorText,
        `without !{timestamp:...} it must end with "/" (${DEFAULT_FIREHOSE_TIME_PREFIX} is appended)`,
      );
    }
    errorPrefix = parseFirehosePrefix(errorText + DEFAULT_FIREHOSE_TIME_PREFIX, {
      field: 'errorPrefix',
      partitionKeys,
    });
  }
  return { prefix, errorPrefix };
}

const defaultRandomString = () => globalThis.crypto.randomUUID().slice(0, RANDOM_STRING_LENGTH);

/**
 * The key prefix of one object: every `!{timestamp:...}` at the same instant in UTC, each
 * `!{firehose:random-string}` a new 11-character string, the error type and partition keys from
 * `values`. Throws {@link FirehosePrefixError} when a value the prefix needs is missing.
 *
 * @example
 * ```ts
 * const { errorPrefix } = resolveFirehosePrefixes({ prefix: 'sensors/' });
 * evaluateFirehosePrefix(errorPrefix, { time: Date.UTC(2026, 10, 23, 10), errorOutputType: 'invalid-json' });
 * // 'errors/sensors/invalid-json/2026/11/23/10/'
 * ```
 */
export function evaluateFirehosePrefix(prefix: FirehosePrefix, values: FirehosePrefixValues): string {
  const time = values.time instanceof Date ? values.time.getTime() : values.time;
  const randomString = values.randomString ?? defaultRandomString;
  let out = '';
  for (const part of prefix.parts) {
    switch (part.kind) {
      case 'literal':
        out += part.text;
        break;
      case 'timestamp':
        out += part.format(time);
        break;
      case 'random-string':
        out += randomString();
        break;
      case 'error-output-type':
        if (values.errorOutputType === undefined) {
          throw problem(prefix.field, prefix.text, 'evaluating it needs an error output type');
        }
        out += values.errorOutputType;
        break;
      case 'partition-key': {
        const keys =
          part.source === 'query' ? values.partitionKeys?.fromQuery : values.partitionKeys?.fromLambda;
        const value = keys?.[part.key];
        if (value === undefined) {
          throw problem(prefix.field, prefix.text, `evaluating it needs the partition key "${part.key}"`);
        }
        out += value;
        break;
      }
    }
  }
  return out;
}
