import {
  type Clock,
  type ErrorContext,
  type EventListener,
  encodeNdjsonLine,
  type OptionChecks,
  optionChecks,
  systemClock,
} from '@tributary/core';

/**
 * Time as producers see it: core's `Clock`. Replace it in tests to drive backoff, TTL and rate limits.
 *
 * @deprecated use Clock from @tributary/core
 *
 * @example
 * ```ts
 * import { systemClock } from '@tributary/core';
 *
 * const clock: ProducerClock = systemClock;
 * ```
 */
export type ProducerClock = Clock;

/** Options every producer shares. */
export interface ProducerCommonOptions<T> {
  /**
   * Turns a record into the bytes of one service record. Default: one NDJSON line, the record as
   * compact JSON then `\n` (core's `encodeNdjsonLine`; call it with a schema here to validate
   * each record). Its errors (a `ValidationError`, say) reject `put`.
   */
  encode?: (record: T) => string | Uint8Array;
  /** How long a record may wait for a batch to fill before it is sent anyway. Default 100 ms. */
  maxAgeMs?: number;
  /** Records accepted but not yet delivered or failed; `put` waits while there are this many. Default 10,000. */
  maxBufferedRecords?: number;
  /** Requests in flight at once (a record waiting to be sent again holds none). Default 4. */
  maxConcurrentRequests?: number;
  /**
   * A record not delivered this long after `put` accepted it fails with code
   * `RECORD_TTL_EXPIRED` (the KPL's `RecordTtl`). Default 30,000 ms.
   */
  recordTtlMs?: number;
  /**
   * Cap of the wait before a failed record is sent again (full jitter) when its shard (or, when
   * the shard is unknown, its request) accepted nothing; the cap doubles with each such failure
   * in a row. A record refused while its shard accepted others in the same call waits at most
   * this, whatever the error: that shard is taking records (the KPL re-sends such records at
   * once). Default 100 ms.
   */
  baseDelayMs?: number;
  /** The same, when the service said it was throttling and the shard accepted nothing. Default 500 ms. */
  throttledBaseDelayMs?: number;
  /** Cap of any one wait. Default 5,000 ms. */
  maxDelayMs?: number;
  /** Receives `records.in`, `batch`, `retry`, `failure` and `records.out` events. */
  onEvent?: EventListener;
  /**
   * Time source of backoff, record TTL and rate limits (core's `Clock`; waits are core's `sleep`
   * on it). Default core's `systemClock`.
   */
  clock?: Clock;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** The shared options, checked and with their defaults. */
export interface ResolvedProducerOptions<T> {
  encode: (record: T) => string | Uint8Array;
  maxAgeMs: number;
  maxBufferedRecords: number;
  maxConcurrentRequests: number;
  recordTtlMs: number;
  baseDelayMs: number;
  throttledBaseDelayMs: number;
  maxDelayMs: number;
  onEvent: EventListener | undefined;
  clock: Clock;
  random: () => number;
}

/** The limits of one kind of producer. */
export interface ProducerLimits {
  /** The `source` of its events. */
  source: string;
  /** The context of its errors (the stream). */
  context: ErrorContext;
  /** Largest record (data + key). */
  maxRecordBytes: number;
  /** Most entries and bytes in one request. */
  maxRequestCount: number;
  maxRequestBytes: number;
  /** How many user records are grouped before they become entries. Default `maxRequestCount`. */
  batchMaxCount?: number;
  /** Bytes a user record adds to a batch. Default: its `size`. */
  batchSizeOf?: (envelope: { readonly size: number }) => number;
}

/** What a producer's service takes: its client, its stream names, its request limits. */
export interface ProducerService {
  /** The producer's class, for messages: `KinesisProducer`. */
  owner: string;
  /** The `source` of its events: `kinesis-producer`. */
  source: string;
  /** The client's class, for messages: `KinesisClient`. */
  clientName: string;
  /** The option holding the stream's name (`streamName`), and the longest name the service takes. */
  streamOption: string;
  maxStreamNameLength: number;
  /** Largest record (data + key), and most entries and bytes in one request. */
  maxRecordBytes: number;
  maxRequestCount: number;
  maxRequestBytes: number;
}

/** The shared options of a producer, its client and its stream, checked; its limits. */
export interface ResolvedProducerBase<T, C> {
  /** The checks, to check the producer's own options with the same code. */
  check: OptionChecks;
  common: Readonly<ResolvedProducerOptions<T>>;
  limits: ProducerLimits;
  client: C;
  streamName: string;
}

const MAX_TIMER_MS = 2_147_483_647;

/**
 * Checks what every producer takes: the options object, the shared options (defaults filled in),
 * a client with `send` and the stream's name (letters, digits, `_`, `.` and `-`). Throws core's
 * `OptionsError` with code `PRODUCER_OPTIONS_INVALID` naming the option (`instanceof
 * ProducerOptionsError` too).
 */
export function resolveProducerOptions<T, C extends { send: unknown }>(
  options: ProducerCommonOptions<T> & { client: C },
  service: ProducerService,
): ResolvedProducerBase<T, C> {
  const check = optionChecks(service.owner, 'PRODUCER_OPTIONS_INVALID');
  check.object('options', options);
  const { client } = options;
  if (typeof client !== 'object' || client === null || typeof client.send !== 'function') {
    throw check.invalid('client', client, `a ${service.clientName}`);
  }
  const { streamOption, maxStreamNameLength: max } = service;
  const streamName = (options as unknown as Record<string, unknown>)[streamOption];
  if (typeof streamName !== 'string' || !new RegExp(`^[A-Za-z0-9_.-]{1,${max}}$`).test(streamName)) {
    throw check.invalid(streamOption, streamName, `1 to ${max} letters, digits, "_", "." or "-"`);
  }
  const { source, maxRecordBytes, maxRequestCount, maxRequestBytes } = service;
  const limits = {
    source,
    context: { stream: streamName },
    maxRecordBytes,
    maxRequestCount,
    maxRequestBytes,
  };
  return { check, common: resolveCommon(check, options), limits, client, streamName };
}

function resolveCommon<T>(
  check: OptionChecks,
  options: ProducerCommonOptions<T>,
): Readonly<ResolvedProducerOptions<T>> {
  const integer = (option: keyof ProducerCommonOptions<T>, fallback: number): number =>
    options[option] === undefined ? fallback : check.positiveInteger(option, options[option]);
  const milliseconds = (option: keyof ProducerCommonOptions<T>, fallback: number, min: number): number => {
    const value = options[option];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
      throw check.invalid(option, value, `a number of milliseconds from ${min} to ${MAX_TIMER_MS}`);
    }
    return value;
  };
  const fn = <F extends (...args: never[]) => unknown>(
    option: keyof ProducerCommonOptions<T>,
    fallback: F,
  ): F => (options[option] === undefined ? fallback : check.function<F>(option, options[option]));
  return Object.freeze({
    encode: fn<(record: T) => string | Uint8Array>('encode', encodeNdjsonLine),
    maxAgeMs: milliseconds('maxAgeMs', 100, 1),
    maxBufferedRecords: integer('maxBufferedRecords', 10_000),
    maxConcurrentRequests: integer('maxConcurrentRequests', 4),
    recordTtlMs: milliseconds('recordTtlMs', 30_000, 1),
    baseDelayMs: milliseconds('baseDelayMs', 100, 0),
    throttledBaseDelayMs: milliseconds('throttledBaseDelayMs', 500, 0),
    maxDelayMs: milliseconds('maxDelayMs', 5_000, 0),
    onEvent:
      options.onEvent === undefined ? undefined : check.function<EventListener>('onEvent', options.onEvent),
    clock: options.clock === undefined ? systemClock : check.clock('clock', options.clock),
    random: fn('random', Math.random),
  });
}
