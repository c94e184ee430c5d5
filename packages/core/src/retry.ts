import { sleep } from './clock.js';
import { describeValue, OptionsError, RetryExhaustedError, TributaryError } from './errors.js';

/** Why an error is (or is not) worth another attempt. */
export interface ErrorClassification {
  retryable: boolean;
  kind: 'throttling' | 'server' | 'timeout' | 'network' | 'postgres' | 'client' | 'abort' | 'unknown';
  /** How long the server asked us to wait (`Retry-After`), in milliseconds. */
  retryAfterMs?: number;
}

/** What `onRetry` learns before each wait. */
export interface RetryInfo {
  /** The attempt that just failed, starting at 1. The next attempt is `attempt + 1`. */
  attempt: number;
  /** How long withRetry waits before the next attempt. */
  delayMs: number;
  error: unknown;
  classification: ErrorClassification;
}

export interface RetryOptions {
  /** Total attempts including the first (an integer ≥ 1, or `Infinity`). Default 5. */
  maxAttempts?: number;
  /** Backoff base: the cap of the first wait. Default 100. */
  baseDelayMs?: number;
  /** Cap of one backoff wait. Default 20 000. A longer `Retry-After` still wins, up to `maxRetryAfterMs`. */
  maxDelayMs?: number;
  /** Time budget of the whole call, waits included. Default `Infinity`. */
  maxElapsedMs?: number;
  /** Cap of a server's `Retry-After`. Default 60 000. */
  maxRetryAfterMs?: number;
  /** Aborts a wait at once and prevents further attempts; the call rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Decides which errors are retried. Default: {@link isRetryable}. */
  isRetryable?: (err: unknown) => boolean;
  /** Called before each wait. An error it throws ends the call with that error. */
  onRetry?: (info: RetryInfo) => void | Promise<void>;
  /** Source of jitter in [0, 1). Default `Math.random`; inject one for deterministic tests. */
  random?: () => number;
}

interface ResolvedRetryOptions {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxElapsedMs: number;
  readonly maxRetryAfterMs: number;
  readonly signal: AbortSignal | undefined;
  readonly isRetryable: (err: unknown) => boolean;
  readonly onRetry: ((info: RetryInfo) => void | Promise<void>) | undefined;
  readonly random: () => number;
}

const MAX_CAUSE_DEPTH = 5;
// setTimeout fires at once for anything longer (and warns), so a huge delay would become a hot loop.
const MAX_TIMER_MS = 2_147_483_647;

const THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'KMSThrottlingException',
]);

const TIMEOUT_NAMES: ReadonlySet<string> = new Set(['RequestTimeout', 'RequestTimeoutException']);

const SERVER_NAMES: ReadonlySet<string> = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServerException',
  'InternalServiceErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

// serialization_failure, deadlock_detected, admin_shutdown; class 08 (connection exception) is checked apart.
const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01', '57P01']);
// SQLSTATE classes start with a digit or are one of F0/HV/P0/XX. Requiring that keeps errno codes
// such as EPERM, which are also five capitals, out of the 'postgres' kind.
const SQLSTATE = /^(?:[0-9][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/;

type Bag = Record<string, unknown>;

function isObject(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null;
}

function stringField(value: Bag, field: string): string | undefined {
  const found = value[field];
  return typeof found === 'string' ? found : undefined;
}

function httpStatus(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599
    ? value
    : undefined;
}

function isDomException(value: unknown): boolean {
  return (
    (typeof DOMException !== 'undefined' && value instanceof DOMException) ||
    Object.prototype.toString.call(value) === '[object DOMException]'
  );
}

/**
 * Parse a `Retry-After` header: delay-seconds or an HTTP-date.
 *
 * Returns milliseconds to wait (0 for a date in the past) or `undefined` when the value is missing
 * or not understood.
 *
 * @example
 * ```ts
 * retryAfterMs('120'); // 120000
 * retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT')); // 60000
 * ```
 */
export function retryAfterMs(
  headerValue: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (typeof headerValue !== 'string') return undefined;
  const value = headerValue.trim();
  if (value === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(value)) {
    const ms = Math.ceil(Number(value) * 1000);
    return Number.isFinite(ms) ? ms : undefined;
  }
  // HTTP-dates begin with a day name; checking that stops Date.parse from accepting loose text like "1 2".
  if (!/^[A-Za-z]{3,9},?\s/.test(value)) return undefined;
  // asctime dates carry no zone, and HTTP-dates are always GMT.
  const zoned = /(?:GMT|UTC|Z|[+-]\d{4})$/i.test(value) ? value : `${value} GMT`;
  const at = Date.parse(zoned);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!isObject(headers)) return undefined;
  let found: unknown;
  if (typeof headers.get === 'function' && typeof headers.has === 'function') {
    // A WHATWG Headers (or Map-like) object: Headers.get is already case-insensitive.
    found = (headers.get as (key: string) => unknown).call(headers, name);
  } else {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) {
        found = headers[key];
        break;
      }
    }
  }
  if (Array.isArray(found)) found = found[0];
  if (typeof found === 'number') return String(found);
  return typeof found === 'string' ? found : undefined;
}

function ownRetryAfter(value: Bag): number | undefined {
  const own = value.retryAfterMs;
  return typeof own === 'number' && Number.isFinite(own) && own >= 0 ? own : undefined;
}

function withRetryAfter(classification: ErrorClassification, wait: number | undefined): ErrorClassification {
  return wait === undefined || !classification.retryable
    ? classification
    : { ...classification, retryAfterMs: wait };
}

function classifyStatus(status: number): ErrorClassification | undefined {
  if (status === 429) return { retryable: true, kind: 'throttling' };
  if (status === 408) return { retryable: true, kind: 'timeout' };
  if (status >= 500) return { retryable: true, kind: 'server' };
  if (status >= 400) return { retryable: false, kind: 'client' };
  return undefined;
}

function classifyTributary(err: TributaryError, depth: number): ErrorClassification {
  const status = httpStatus(err.context.statusCode);
  const byStatus = status === undefined ? undefined : classifyStatus(status);
  // The flag decides; the cause, when it says more, supplies the kind and the server's Retry-After.
  const fromCause = err.cause === undefined ? undefined : classifyFrom(err.cause, depth + 1);
  const kind = byStatus?.kind ?? (fromCause && fromCause.kind !== 'unknown' ? fromCause.kind : 'unknown');
  const contextWait = err.context.retryAfterMs;
  const wait =
    ownRetryAfter(err as unknown as Bag) ??
    (typeof contextWait === 'number' && contextWait >= 0 ? contextWait : undefined) ??
    fromCause?.retryAfterMs;
  return withRetryAfter({ retryable: err.retryable, kind }, wait);
}

function classifyAws(err: Bag, name: string | undefined): ErrorClassification | undefined {
  const metadata = err.$metadata;
  const retryableHint = err.$retryable;
  if (!isObject(metadata) && !retryableHint && (name === undefined || !isAwsName(name))) return undefined;

  const status = isObject(metadata) ? httpStatus(metadata.httpStatusCode) : undefined;
  let classification: ErrorClassification | undefined;
  if (retryableHint) {
    const throttling = isObject(retryableHint) && retryableHint.throttling === true;
    const fallback = (status === undefined ? undefined : classifyStatus(status))?.kind;
    classification = {
      retryable: true,
      kind: throttling
        ? 'throttling'
        : (awsNameKind(name) ?? (fallback === 'client' ? undefined : fallback) ?? 'server'),
    };
  } else if (name !== undefined && isAwsName(name)) {
    classification = { retryable: true, kind: awsNameKind(name) ?? 'server' };
  } else if (status !== undefined) {
    classification = classifyStatus(status);
  }
  if (classification === undefined) return undefined;
  const response = err.$response;
  const header = isObject(response) ? headerValue(response.headers, 'retry-after') : undefined;
  return withRetryAfter(classification, retryAfterMs(header));
}

function isAwsName(name: string): boolean {
  return THROTTLING_NAMES.has(name) || TIMEOUT_NAMES.has(name) || SERVER_NAMES.has(name);
}

function awsNameKind(name: string | undefined): ErrorClassification['kind'] | undefined {
  if (name === undefined) return undefined;
  if (THROTTLING_NAMES.has(name)) return 'throttling';
  if (TIMEOUT_NAMES.has(name)) return 'timeout';
  if (SERVER_NAMES.has(name)) return 'server';
  return undefined;
}

function classifyHttp(err: Bag): ErrorClassification | undefined {
  const response = isObject(err.response) ? err.response : undefined;
  const status =
    httpStatus(err.status) ??
    httpStatus(err.statusCode) ??
    httpStatus(response?.status) ??
    httpStatus(response?.statusCode);
  if (status === undefined) return undefined;
  const classification = classifyStatus(status);
  if (classification === undefined) return undefined;
  const header = headerValue(err.headers, 'retry-after') ?? headerValue(response?.headers, 'retry-after');
  return withRetryAfter(classification, ownRetryAfter(err) ?? retryAfterMs(header));
}

function classifyCode(code: string | undefined): ErrorClassification | undefined {
  if (code === undefined) return undefined;
  if (NETWORK_CODES.has(code)) return { retryable: true, kind: 'network' };
  if (SQLSTATE.test(code)) {
    return { retryable: RETRYABLE_SQLSTATES.has(code) || code.startsWith('08'), kind: 'postgres' };
  }
  return undefined;
}

function classifyOne(err: unknown, depth: number): ErrorClassification | undefined {
  if (TributaryError.isInstance(err)) return classifyTributary(err, depth);
  if (!isObject(err)) return undefined;
  const name = stringField(err, 'name');
  if (name === 'AbortError') return { retryable: false, kind: 'abort' };
  if (name === 'TimeoutError') {
    // AbortSignal.timeout() aborts with a DOMException named TimeoutError: the caller's own deadline.
    // The AWS SDK and socket timeouts use a plain Error of that name: a request that may succeed again.
    return isDomException(err) ? { retryable: false, kind: 'abort' } : { retryable: true, kind: 'timeout' };
  }
  return classifyAws(err, name) ?? classifyHttp(err) ?? classifyCode(stringField(err, 'code'));
}

/**
 * Tell whether an error is worth another attempt, and why.
 *
 * Understands tributary errors (their `retryable` flag), aborts, AWS SDK v3 errors, HTTP errors
 * (`status`, `statusCode`, `response.status` with `Retry-After`), Node and undici network codes and
 * PostgreSQL SQLSTATEs. Looks through the `cause` chain (up to 5 levels); the first level that
 * matches decides. Anything else is not retryable.
 *
 * @example
 * ```ts
 * classifyError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }));
 * // { retryable: true, kind: 'throttling' }
 * ```
 */
export function classifyError(err: unknown): ErrorClassification {
  return classifyFrom(err, 0);
}

// depth travels through the TributaryError branch too, so a cause cycle cannot recurse forever.
function classifyFrom(err: unknown, depth: number): ErrorClassification {
  let current: unknown = err;
  for (let level = depth; level <= MAX_CAUSE_DEPTH && current !== undefined && current !== null; level++) {
    const found = classifyOne(current, level);
    if (found !== undefined) return found;
    current = isObject(current) ? current.cause : undefined;
  }
  return { retryable: false, kind: 'unknown' };
}

/**
 * True when {@link classifyError} says that repeating the call may succeed.
 *
 * @example
 * ```ts
 * isRetryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })); // true
 * ```
 */
export function isRetryable(err: unknown): boolean {
  return classifyError(err).retryable;
}

/**
 * Full-jitter exponential backoff: a whole number of milliseconds drawn uniformly from
 * `[0, min(maxDelayMs, baseDelayMs * 2^(attempt - 1))]`, i.e. `floor(random() * cap)`.
 *
 * @example
 * ```ts
 * computeBackoff(3, 100, 20_000, () => 0.5); // 200: half of the 400 ms cap of the third attempt
 * ```
 */
export function computeBackoff(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new TributaryError(`computeBackoff expects an integer attempt ≥ 1, got ${describeValue(attempt)}`, {
      code: 'ARGUMENT_INVALID',
    });
  }
  if (!isNonNegative(baseDelayMs) || !Number.isFinite(baseDelayMs) || !isNonNegative(maxDelayMs)) {
    throw new TributaryError(
      `computeBackoff expects a finite baseDelayMs ≥ 0 and a maxDelayMs ≥ 0, got ${describeValue(baseDelayMs)} and ${describeValue(maxDelayMs)}`,
      { code: 'ARGUMENT_INVALID' },
    );
  }
  // Capping the exponent keeps 0 * 2^1024 (NaN) out when baseDelayMs is 0.
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 1023));
  const draw = Math.min(1, Math.max(0, random()));
  return Math.floor((Number.isNaN(draw) ? 0 : draw) * cap);
}

function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && !Number.isNaN(value) && value >= 0;
}

function resolveOptions(options: RetryOptions): ResolvedRetryOptions {
  const invalid = (option: string, expected: string, value: unknown): OptionsError =>
    new OptionsError(`RetryOptions.${option} must be ${expected}, got ${describeValue(value)}`, {
      code: 'RETRY_OPTIONS_INVALID',
      option,
    });
  const number = (option: keyof RetryOptions, fallback: number, finite: boolean): number => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (!isNonNegative(value) || (finite && !Number.isFinite(value))) {
      throw invalid(option, finite ? 'a finite number ≥ 0' : 'a number ≥ 0', value);
    }
    return value;
  };
  const fn = <F>(option: keyof RetryOptions, fallback: F): F => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'function') throw invalid(option, 'a function', value);
    return value as F;
  };

  const maxAttempts = options.maxAttempts ?? 5;
  if (!(Number.isInteger(maxAttempts) || maxAttempts === Number.POSITIVE_INFINITY) || maxAttempts < 1) {
    throw invalid('maxAttempts', 'an integer ≥ 1 or Infinity', maxAttempts);
  }
  const signal = options.signal;
  if (signal !== undefined && (!isObject(signal) || typeof signal.aborted !== 'boolean')) {
    throw invalid('signal', 'an AbortSignal', signal);
  }
  return Object.freeze({
    maxAttempts,
    baseDelayMs: number('baseDelayMs', 100, true),
    maxDelayMs: number('maxDelayMs', 20_000, false),
    maxElapsedMs: number('maxElapsedMs', Number.POSITIVE_INFINITY, false),
    maxRetryAfterMs: number('maxRetryAfterMs', 60_000, false),
    signal,
    isRetryable: fn<(err: unknown) => boolean>('isRetryable', isRetryable),
    onRetry: fn<((info: RetryInfo) => void | Promise<void>) | undefined>('onRetry', undefined),
    random: fn<() => number>('random', Math.random),
  });
}

/**
 * Call `fn` until it succeeds, retrying retryable errors with full-jitter exponential backoff.
 *
 * A non-retryable error is rethrown unchanged after the attempt that raised it. When the attempts
 * or the `maxElapsedMs` budget run out, the call rejects with a `RetryExhaustedError` whose
 * `cause` is the last error. A server's `Retry-After` sets the least wait (up to `maxRetryAfterMs`).
 * Aborting `signal` rejects with `signal.reason` at once, even during a wait.
 *
 * @example
 * ```ts
 * const response = await withRetry(
 *   async () => {
 *     const res = await fetch('https://api.example.com/v1/prices');
 *     if (!res.ok) {
 *       throw new TributaryError(`prices: HTTP ${res.status}`, {
 *         code: 'HTTP_ERROR',
 *         retryable: res.status === 429 || res.status >= 500,
 *         context: { statusCode: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) },
 *       });
 *     }
 *     return res;
 *   },
 *   {
 *     maxAttempts: 8,
 *     signal: AbortSignal.timeout(30_000),
 *     onRetry: ({ attempt, delayMs, classification }) => console.warn({ attempt, delayMs, kind: classification.kind }),
 *   },
 * );
 * ```
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new TributaryError(`withRetry expects a function, got ${describeValue(fn)}`, {
      code: 'ARGUMENT_INVALID',
    });
  }
  const settings = resolveOptions(options);
  const { signal } = settings;
  const startedAt = performance.now();

  // Our own loop: the policy (which errors, how long to wait, when to give up) is all ours.
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    let result: T;
    try {
      result = await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const retryable = settings.isRetryable(err);
      if (!retryable) throw err;
      if (attempt >= settings.maxAttempts) throw new RetryExhaustedError(attempt, err, 'attempts');
      const classification = { ...classifyError(err), retryable };
      const backoff = computeBackoff(attempt, settings.baseDelayMs, settings.maxDelayMs, settings.random);
      const serverWait = Math.min(classification.retryAfterMs ?? 0, settings.maxRetryAfterMs);
      const delayMs = Math.min(Math.max(backoff, serverWait), MAX_TIMER_MS);
      if (performance.now() - startedAt + delayMs > settings.maxElapsedMs) {
        throw new RetryExhaustedError(attempt, err, 'time');
      }
      await settings.onRetry?.({ attempt, delayMs, error: err, classification });
      await sleep(delayMs, { signal });
      continue;
    }
    // An abort during a successful attempt still wins, as it would during a wait.
    if (signal?.aborted) throw signal.reason;
    return result;
  }
}
