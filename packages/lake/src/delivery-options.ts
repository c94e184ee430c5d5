import { randomUUID as cryptoRandomUUID } from 'node:crypto';
import {
  type Clock,
  type EventListener,
  OptionsError,
  optionChecks,
  type RetryOptions,
  type Schema,
  systemClock,
} from '@tributary/core';
import type { DeliveryErrorType, DeliveryFlushed, DeliveryOptions } from './delivery.js';
import { FirehosePrefixError } from './errors.js';
import { evaluateFirehosePrefix, type FirehosePrefix, resolveFirehosePrefixes } from './firehose-prefix.js';
import { compileJavaTimePattern, formatJavaTime } from './java-time-pattern.js';
import { assertValidKey, type Storage } from './storage.js';

// The buffered delivery's options, checked (they come from config and plain-JS callers too),
// and the object keys they give.

export interface ResolvedDeliveryOptions {
  readonly storage: Storage;
  readonly prefix: FirehosePrefix;
  readonly errorPrefix: FirehosePrefix;
  readonly streamName: string;
  readonly bufferIntervalMs: number;
  readonly bufferBytes: number;
  readonly gzip: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  readonly schema: Schema<any> | undefined;
  readonly maxInFlight: number;
  /** `undefined`: each put is tried once per flush (the storage's client retries its own calls). */
  readonly retry: RetryOptions | undefined;
  readonly clock: Clock;
  readonly randomUUID: () => string;
  readonly onFlushed: ((flushed: DeliveryFlushed) => void | Promise<void>) | undefined;
  readonly onEvent: EventListener | undefined;
  readonly source: string;
}

const MAX_TIMER_MS = 2_147_483_647;
const DEFAULT_BYTES = 5 * 1024 * 1024;
const NAME_TIME = compileJavaTimePattern('yyyy-MM-dd-HH-mm-ss');

/**
 * The key of one object: `<prefix evaluated at the oldest record's arrival><streamName>-<start,
 * yyyy-MM-dd-HH-mm-ss>-<uuid>.ndjson[.gz]`.
 */
export function objectKey(
  options: ResolvedDeliveryOptions,
  errorType: DeliveryErrorType | undefined,
  oldest: number,
  startedAt: number,
): string {
  const { streamName, gzip, randomUUID } = options;
  const name = `${streamName}-${formatJavaTime(NAME_TIME, startedAt)}-${randomUUID()}.ndjson${gzip ? '.gz' : ''}`;
  const template = errorType === undefined ? options.prefix : options.errorPrefix;
  return `${evaluate(template, oldest, errorType ?? 'invalid-json', randomUUID)}${name}`;
}

function evaluate(
  prefix: FirehosePrefix,
  time: number,
  errorType: DeliveryErrorType,
  randomUUID: () => string,
): string {
  // Firehose's random-string is 11 characters, e.g. 046b6c7f-0b: the head of a uuid.
  return evaluateFirehosePrefix(prefix, {
    time,
    errorOutputType: errorType,
    randomString: () => randomUUID().slice(0, 11),
  });
}

const check = optionChecks('createDelivery', 'DELIVERY_OPTIONS_INVALID');

/** An OptionsError naming `option` whose cause is why its value was refused. */
function refused(option: string, reason: string, cause: unknown): OptionsError {
  return new OptionsError(`createDelivery option ${option} ${reason}`, {
    code: 'DELIVERY_OPTIONS_INVALID',
    option,
    cause,
  });
}

export function resolveDeliveryOptions(options: DeliveryOptions): ResolvedDeliveryOptions {
  check.object('options', options);
  const { storage, streamName } = options;
  if (typeof storage !== 'object' || storage === null || typeof storage.put !== 'function') {
    throw check.invalid('storage', storage, 'a Storage');
  }
  if (typeof streamName !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(streamName)) {
    throw check.invalid(
      'streamName',
      streamName,
      '1 to 64 letters, digits, "_", "." or "-" (a Firehose stream name)',
    );
  }
  if (typeof options.prefix !== 'string') throw check.invalid('prefix', options.prefix, 'a string');

  const errorPrefixOption = options.errorPrefix;
  if (errorPrefixOption !== undefined && typeof errorPrefixOption !== 'string') {
    throw check.invalid('errorPrefix', errorPrefixOption, 'a string');
  }
  let prefixes: ReturnType<typeof resolveFirehosePrefixes>;
  try {
    prefixes = resolveFirehosePrefixes({ prefix: options.prefix, errorPrefix: errorPrefixOption });
  } catch (error) {
    if (!(error instanceof FirehosePrefixError)) throw error;
    throw refused(
      error.context.option as string,
      `breaks the Firehose prefix grammar: ${error.message}`,
      error,
    );
  }

  const compression = check.oneOf('compression', options.compression ?? 'none', ['none', 'gzip'] as const);
  const clock = check.clock('clock', options.clock ?? systemClock);
  const randomUUID = check.function<() => string>('randomUUID', options.randomUUID ?? cryptoRandomUUID);
  const { onEvent, schema } = options;
  if (onEvent !== undefined) check.function('onEvent', onEvent);
  if (options.onFlushed !== undefined) check.function('onFlushed', options.onFlushed);
  if (
    schema !== undefined &&
    (typeof schema !== 'object' || schema === null || typeof schema.validate !== 'function')
  ) {
    throw check.invalid('schema', schema, 'a schema from defineSchema');
  }
  if (options.retry !== undefined) check.object('retry', options.retry);

  const resolved: ResolvedDeliveryOptions = {
    storage,
    prefix: prefixes.prefix,
    errorPrefix: prefixes.errorPrefix,
    streamName,
    bufferIntervalMs: check.integerInRange('bufferIntervalMs', options.bufferIntervalMs, 60_000, {
      min: 0,
      max: MAX_TIMER_MS,
    }),
    bufferBytes: check.integerInRange('bufferBytes', options.bufferBytes, DEFAULT_BYTES, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
    }),
    gzip: compression === 'gzip',
    schema,
    maxInFlight: check.integerInRange('maxInFlight', options.maxInFlight, 1, { min: 1, max: 1_000 }),
    retry: options.retry === undefined ? undefined : Object.freeze({ ...options.retry }),
    clock,
    randomUUID,
    onFlushed: options.onFlushed,
    onEvent,
    source: options.source ?? `delivery:${streamName}`,
  };

  // Every key has the same shape, so one sample tells whether the storage will accept them all.
  const sampleName = `${streamName}-${formatJavaTime(NAME_TIME, 0)}-00000000-0000-0000-0000-000000000000.ndjson`;
  try {
    assertValidKey(`${evaluate(resolved.prefix, 0, 'invalid-json', resolved.randomUUID)}${sampleName}`);
  } catch (error) {
    throw refused('prefix', `gives invalid keys: ${(error as Error).message}`, error);
  }
  try {
    assertValidKey(
      `${evaluate(resolved.errorPrefix, 0, 'validation-failed', resolved.randomUUID)}${sampleName}`,
    );
  } catch (error) {
    throw refused('errorPrefix', `gives invalid keys: ${(error as Error).message}`, error);
  }
  return Object.freeze(resolved);
}
