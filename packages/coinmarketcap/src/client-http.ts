// One exchange with the API: the request's URL, the fetch, and the response read into a typed
// body or a typed error. Nothing the server or the network echoes may carry the key.
import { retryAfterMs, type Secret } from '@tributary/core';
import { isObject, type Query } from './client-params.js';
import { bodyExcerpt, CoinMarketCapApiError, CoinMarketCapResponseError } from './errors.js';
import type { CmcResponse } from './types.js';

/** The `fetch` the client calls: `globalThis.fetch` or any compatible function. */
export type FetchLike = (
  input: string,
  init: { method: string; headers: Record<string, string>; signal?: AbortSignal },
) => Promise<Response>;

const REDACTED = '[redacted]';

/**
 * `error` with every mention of `secret` replaced, in its message, stack and causes: for what a
 * server or a fetch wrapper may echo back. The same error when it mentions no secret.
 */
function withoutSecret(error: unknown, secret: string | undefined, depth = 0): unknown {
  if (secret === undefined || depth > 8) return error;
  if (typeof error === 'string') return error.replaceAll(secret, REDACTED);
  if (!(error instanceof Error)) return error;
  const cause = withoutSecret(error.cause, secret, depth + 1);
  if (!`${error.message}\n${error.stack ?? ''}`.includes(secret) && cause === error.cause) return error;
  const copy = new Error(
    error.message.replaceAll(secret, REDACTED),
    cause === undefined ? undefined : { cause },
  );
  copy.name = error.name;
  copy.stack = (error.stack ?? '').replaceAll(secret, REDACTED);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && !code.includes(secret)) Object.assign(copy, { code });
  return copy;
}

/** What {@link fetchResponse} needs for one request. */
export interface FetchRequest {
  fetch: FetchLike;
  url: string;
  /** The endpoint's path, for errors. */
  endpoint: string;
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
  /** The key the request carries, scrubbed from anything the answer quotes. */
  apiKey: Secret | undefined;
  /** The clock's `now`, for `Retry-After` dates. */
  now: () => number;
}

/** The URL of a call: the base, the endpoint's path and the query string. */
export function callUrl(baseUrl: string, path: string, query: Query): string {
  const url = new URL(baseUrl + path);
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    url.searchParams.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  return url.toString();
}

/**
 * Send one GET and read the answer: a `CmcResponse` with its size in bytes, or a
 * `CoinMarketCapResponseError` (network, truncated, not JSON, wrong shape) or a
 * `CoinMarketCapApiError` (the API's own error code, with `Retry-After`). An abort passes as is.
 */
export async function fetchResponse<T>(
  request: FetchRequest,
): Promise<{ body: CmcResponse<T>; bytes: number }> {
  const { fetch, url, endpoint, headers, signal, apiKey, now } = request;
  // What the server or the network says back may quote the request: never let it quote the key.
  const key = apiKey?.reveal();
  const scrub = (text: string) => (key === undefined ? text : text.replaceAll(key, REDACTED));
  let res: Response;
  try {
    res = await fetch(url, { method: 'GET', headers, ...(signal === undefined ? {} : { signal }) });
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new CoinMarketCapResponseError({
      problem: 'network',
      httpStatus: undefined,
      endpoint,
      excerpt: '',
      cause: withoutSecret(cause, key),
    });
  }
  const httpStatus = res.status;
  let text: string;
  try {
    text = await res.text();
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new CoinMarketCapResponseError({
      problem: 'truncated',
      httpStatus,
      endpoint,
      excerpt: '',
      cause: withoutSecret(cause, key),
    });
  }
  const bytes = Buffer.byteLength(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    const trimmed = text.trimStart();
    const problem = trimmed.startsWith('{') || trimmed.startsWith('[') ? 'malformed_json' : 'not_json';
    throw new CoinMarketCapResponseError({
      problem,
      httpStatus,
      endpoint,
      excerpt: bodyExcerpt(scrub(text)),
      cause: withoutSecret(cause, key),
    });
  }
  const status = isObject(parsed) ? parsed.status : undefined;
  if (!isObject(status) || typeof status.error_code !== 'number') {
    throw new CoinMarketCapResponseError({
      problem: 'bad_shape',
      httpStatus,
      endpoint,
      excerpt: bodyExcerpt(scrub(text)),
    });
  }
  if (status.error_code !== 0 || httpStatus < 200 || httpStatus > 299) {
    const wait = retryAfterMs(res.headers.get('retry-after'), now());
    throw new CoinMarketCapApiError({
      errorCode: status.error_code !== 0 ? status.error_code : httpStatus,
      errorMessage:
        typeof status.error_message === 'string' ? scrub(status.error_message) : `HTTP ${httpStatus}`,
      httpStatus,
      endpoint,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    });
  }
  if (!('data' in (parsed as object))) {
    throw new CoinMarketCapResponseError({
      problem: 'bad_shape',
      httpStatus,
      endpoint,
      excerpt: bodyExcerpt(scrub(text)),
    });
  }
  return { body: parsed as unknown as CmcResponse<T>, bytes };
}
