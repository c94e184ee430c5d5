import type { KinesisClient } from '@aws-sdk/client-kinesis';
import {
  type Clock,
  type EventListener,
  optionChecks,
  type RetryOptions,
  systemClock,
} from '@tributary/core';
import { type CheckpointStore, MemoryCheckpointStore } from './checkpoints.js';

/** Where a shard that has no checkpoint is first read from. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | { at: Date };

/**
 * Time as the source sees it: core's `Clock`.
 *
 * @deprecated use Clock from @tributary/core
 */
export type KinesisSourceClock = Clock;

export interface KinesisSourceOptions {
  /** The client to read with (with `requestHandler: new NodeHttpHandler()` for kinesalite). */
  client: KinesisClient;
  streamName: string;
  /** Where checkpoints are loaded from and saved to. Default: a `MemoryCheckpointStore`. */
  checkpoints?: CheckpointStore;
  /**
   * Where shards without a checkpoint start on the first run (when the store holds nothing for
   * the stream). Shards that appear later, and shards without a checkpoint on later runs, start
   * at `TRIM_HORIZON` so that no record is skipped. Default `TRIM_HORIZON`.
   */
  startingPosition?: StartingPosition;
  /** Wait between two reads of a shard that is caught up and returned nothing. Default 1,000 ms. */
  pollIntervalMs?: number;
  /** `Limit` of each `GetRecords` call, 1 to 10,000. Default 10,000. */
  maxRecordsPerCall?: number;
  /** `GetRecords` calls in flight at once, over all shards. Default 8. */
  maxConcurrentReads?: number;
  /** User records read but not yet taken by the consumer; readers pause beyond it. Default 10,000. */
  maxBufferedRecords?: number;
  /** End the iteration once every shard has returned nothing for `idleTimeoutMs` and is caught up. Default false. */
  stopWhenIdle?: boolean;
  /** See `stopWhenIdle`. Default 5,000 ms. */
  idleTimeoutMs?: number;
  /** Aborting it ends the iteration at once; records read but not yet taken are dropped (they are not committed). */
  signal?: AbortSignal;
  /**
   * Retries of checkpoint saves (core `withRetry`). Default: 5 attempts, 100 ms base. `ListShards`,
   * `GetShardIterator` and `GetRecords` are retried by the client (set `maxAttempts` or
   * `retryStrategy` on the `KinesisClient`); its retries are reported as `retry` events.
   */
  retry?: RetryOptions;
  /** Receives `batch` (each `GetRecords`), `records.in`, `retry` and `failure` events. */
  onEvent?: EventListener;
  /** The `source` of events. Default `kinesis-source`. */
  source?: string;
  /** Paces the reads, the polls and idleness (core's `Clock`; only differences of `now()` are used). Default core's `systemClock`. */
  clock?: Clock;
}

/** The options of a source, checked, with their defaults. */
export interface ResolvedSourceOptions {
  readonly client: KinesisClient;
  readonly streamName: string;
  readonly store: CheckpointStore;
  readonly startingPosition: StartingPosition;
  readonly pollIntervalMs: number;
  readonly maxRecordsPerCall: number;
  readonly maxConcurrentReads: number;
  readonly maxBufferedRecords: number;
  readonly stopWhenIdle: boolean;
  readonly idleTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly retry: RetryOptions;
  readonly onEvent: EventListener | undefined;
  readonly source: string;
  readonly clock: Clock;
}

const STREAM_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const check = optionChecks('KinesisSource', 'SOURCE_OPTIONS_INVALID');

type IntegerOption =
  | 'pollIntervalMs'
  | 'maxRecordsPerCall'
  | 'maxConcurrentReads'
  | 'maxBufferedRecords'
  | 'idleTimeoutMs';

function startingPositionOf(value: unknown): StartingPosition {
  if (value === 'TRIM_HORIZON' || value === 'LATEST') return value;
  const at = typeof value === 'object' && value !== null ? (value as { at?: unknown }).at : undefined;
  if (at instanceof Date && !Number.isNaN(at.getTime())) return Object.freeze({ at: new Date(at.getTime()) });
  throw check.invalid('startingPosition', value, '"TRIM_HORIZON", "LATEST" or { at: Date }');
}

/** Checks a source's options (a plain-JS caller may pass anything) and fills in the defaults; throws `SOURCE_OPTIONS_INVALID`. */
export function resolveSourceOptions(options: KinesisSourceOptions): ResolvedSourceOptions {
  check.object('options', options);
  const { client, streamName, checkpoints, signal, onEvent } = options;
  if (typeof client !== 'object' || client === null || typeof client.send !== 'function') {
    throw check.invalid('client', client, 'a KinesisClient');
  }
  if (typeof streamName !== 'string' || !STREAM_NAME.test(streamName)) {
    throw check.invalid('streamName', streamName, '1 to 128 letters, digits, "_", "." or "-"');
  }
  if (
    checkpoints !== undefined &&
    (typeof checkpoints !== 'object' ||
      checkpoints === null ||
      typeof checkpoints.load !== 'function' ||
      typeof checkpoints.save !== 'function')
  ) {
    throw check.invalid('checkpoints', checkpoints, 'a CheckpointStore (load and save)');
  }
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')
  ) {
    throw check.invalid('signal', signal, 'an AbortSignal');
  }
  if (options.stopWhenIdle !== undefined && typeof options.stopWhenIdle !== 'boolean') {
    throw check.invalid('stopWhenIdle', options.stopWhenIdle, 'a boolean');
  }
  const integer = (option: IntegerOption, fallback: number, min: number, max: number): number =>
    check.integerInRange(option, options[option], fallback, { min, max });
  return Object.freeze({
    client,
    streamName,
    store: checkpoints ?? new MemoryCheckpointStore(),
    startingPosition: startingPositionOf(options.startingPosition ?? 'TRIM_HORIZON'),
    pollIntervalMs: integer('pollIntervalMs', 1_000, 0, 300_000),
    maxRecordsPerCall: integer('maxRecordsPerCall', 10_000, 1, 10_000),
    maxConcurrentReads: integer('maxConcurrentReads', 8, 1, 1_000),
    maxBufferedRecords: integer('maxBufferedRecords', 10_000, 1, 10_000_000),
    stopWhenIdle: options.stopWhenIdle ?? false,
    idleTimeoutMs: integer('idleTimeoutMs', 5_000, 0, 86_400_000),
    signal,
    retry: Object.freeze({ ...(options.retry === undefined ? {} : check.object('retry', options.retry)) }),
    onEvent: onEvent === undefined ? undefined : check.function<EventListener>('onEvent', onEvent),
    source: options.source === undefined ? 'kinesis-source' : check.nonEmptyString('source', options.source),
    clock: options.clock === undefined ? systemClock : check.clock('clock', options.clock),
  });
}
