import type {
  GetRecordsCommandOutput,
  GetShardIteratorCommandInput,
  _Record as StreamRecord,
} from '@aws-sdk/client-kinesis';
import { emitSafely, type SdkMiddlewareHost, sleep, TributaryError } from '@tributary/core';
import { type DeaggregatedRecord, deaggregate } from './aggregation.js';
import type { Checkpoint } from './checkpoints.js';
import type { ResolvedSourceOptions } from './kinesis-source-options.js';
import { loadKinesis } from './load-kinesis.js';
import { type Position, positionOf, type ShardState } from './shard-discovery.js';

// The reader of one shard: iterators, paced GetRecords calls, de-aggregation into user records.

/** One user record read from a stream: a plain Kinesis record, or one record of a KPL aggregate. */
export interface KinesisSourceRecord {
  data: Uint8Array;
  partitionKey: string;
  sequenceNumber: string;
  /** Its position inside a KPL aggregated record; absent for a plain record. */
  subSequenceNumber?: number;
  shardId: string;
  /** Kinesis' `ApproximateArrivalTimestamp`. */
  arrivalTime: Date;
}

/** A user record as read, and whether it is the last user record of its Kinesis record. */
export interface ReadRecord {
  record: KinesisSourceRecord;
  whole: boolean;
}

/** What a shard reader needs from the source that runs it. */
export interface ShardReaderHost {
  readonly options: ResolvedSourceOptions;
  /** Aborts when the source ends: the reader's waits and calls stop with it. */
  readonly signal: AbortSignal;
  readonly slots: ReadSlots;
  /** The counts the reader keeps up to date. */
  readonly stats: { calls: number; kinesisRecords: number };
  checkpointOf(shardId: string): Checkpoint | undefined;
  /** Resolves once the consumer has room for more records, or the source ends. */
  waitForRoom(): Promise<void>;
  /** Queues the user records of one page for the consumer. */
  enqueue(records: readonly ReadRecord[]): void;
  /** The shard was read past its end (a reshard closed it): its children come next. */
  shardEnded(shard: ShardState): void;
  /** A read came back: the source may end for idleness. */
  polled(): void;
  /** Adds the source's middleware to a command (its retries reported as events). */
  prepare<C extends SdkMiddlewareHost>(command: C): C;
}

// Kinesis allows 5 GetRecords calls per second and shard.
const MIN_READ_INTERVAL_MS = 200;
// An iterator lives 5 minutes; getting a new one more often than this in a row means something else is wrong.
const MAX_EXPIRED_IN_A_ROW = 3;
const EMPTY = new Uint8Array(0);

/** The `GetRecords` calls in flight over all shards, at most `max`; waiters are let go when `signal` aborts. */
export class ReadSlots {
  readonly #max: number;
  readonly #signal: AbortSignal;
  readonly #waiters: (() => void)[] = [];
  #inFlight = 0;

  constructor(max: number, signal: AbortSignal) {
    this.#max = max;
    this.#signal = signal;
    signal.addEventListener('abort', () => {
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
  }

  async acquire(): Promise<void> {
    while (this.#inFlight >= this.#max && !this.#signal.aborted) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#inFlight++;
  }

  release(): void {
    this.#inFlight--;
    this.#waiters.shift()?.();
  }
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { name?: string }).name : undefined;
}

/** Waits `ms` on the source's clock; returns early, without an error, once the source ends. */
async function pause(ms: number, host: ShardReaderHost): Promise<void> {
  const { signal } = host;
  await sleep(ms, { signal, clock: host.options.clock }).catch((reason: unknown) => {
    if (!signal.aborted) throw reason;
  });
}

/**
 * Reads `shard` until it ends or the source does: `GetRecords` following `NextShardIterator`, at
 * most 5 calls per second, polling every `pollIntervalMs` once caught up; an expired iterator is
 * replaced. Rejects with the client's error when a call fails for good.
 */
export async function readShard(shard: ShardState, host: ShardReaderHost): Promise<void> {
  const { options, signal } = host;
  let iterator = await iteratorFor(shard, host);
  let expired = 0;
  while (!signal.aborted) {
    if (iterator === undefined) throw new Error(`GetShardIterator returned no iterator for ${shard.id}`);
    await host.waitForRoom();
    const wait = shard.lastCallAt + MIN_READ_INTERVAL_MS - options.clock.now();
    if (wait > 0) await pause(wait, host);
    if (signal.aborted) return;
    let output: GetRecordsCommandOutput;
    try {
      output = await getRecords(shard, iterator, host);
      expired = 0;
    } catch (error) {
      if (signal.aborted) return;
      if (errorName(error) === 'ExpiredIteratorException' && expired < MAX_EXPIRED_IN_A_ROW) {
        expired++;
        iterator = await iteratorFor(shard, host);
        continue;
      }
      throw error;
    }
    if (signal.aborted) return;
    const records = output.Records ?? [];
    push(shard, records, host);
    const now = options.clock.now();
    shard.behind = output.MillisBehindLatest ?? 0;
    if (records.length > 0) shard.idleSince = undefined;
    else shard.idleSince ??= now;
    iterator = output.NextShardIterator ?? undefined;
    if (iterator === undefined) {
      host.shardEnded(shard);
      return;
    }
    host.polled();
    if (records.length === 0 && shard.behind === 0) await pause(options.pollIntervalMs, host);
  }
}

/** An iterator from where this run stands in the shard: its last record read, its checkpoint, or its start. */
async function iteratorFor(shard: ShardState, host: ShardReaderHost): Promise<string | undefined> {
  const checkpoint = host.checkpointOf(shard.id);
  const from: Position | undefined =
    shard.lastPushed ?? (checkpoint?.sequenceNumber === undefined ? undefined : positionOf(checkpoint));
  const input: GetShardIteratorCommandInput = {
    StreamName: host.options.streamName,
    ShardId: shard.id,
    ShardIteratorType: 'TRIM_HORIZON',
  };
  shard.skip = undefined;
  if (from !== undefined && from.subSequenceNumber !== undefined) {
    // Part of an aggregate was processed: read it again and skip its first user records.
    input.ShardIteratorType = 'AT_SEQUENCE_NUMBER';
    input.StartingSequenceNumber = from.sequenceNumber;
    shard.skip = from;
  } else if (from !== undefined) {
    input.ShardIteratorType = 'AFTER_SEQUENCE_NUMBER';
    input.StartingSequenceNumber = from.sequenceNumber;
  } else if (shard.start === 'TRIM_HORIZON' || shard.start === 'LATEST') {
    input.ShardIteratorType = shard.start;
  } else {
    input.ShardIteratorType = 'AT_TIMESTAMP';
    input.Timestamp = shard.start.at;
  }
  const { GetShardIteratorCommand } = await loadKinesis();
  const output = await host.options.client.send(host.prepare(new GetShardIteratorCommand(input)), {
    abortSignal: host.signal,
  });
  return output.ShardIterator ?? undefined;
}

async function getRecords(
  shard: ShardState,
  iterator: string,
  host: ShardReaderHost,
): Promise<GetRecordsCommandOutput> {
  const { options } = host;
  const { GetRecordsCommand } = await loadKinesis();
  await host.slots.acquire();
  const started = options.clock.now();
  shard.lastCallAt = started;
  try {
    const output = await options.client.send(
      host.prepare(new GetRecordsCommand({ ShardIterator: iterator, Limit: options.maxRecordsPerCall })),
      { abortSignal: host.signal },
    );
    let bytes = 0;
    for (const record of output.Records ?? []) bytes += record.Data?.byteLength ?? 0;
    host.stats.calls++;
    emitSafely(options.onEvent, {
      type: 'batch',
      source: options.source,
      count: output.Records?.length ?? 0,
      bytes,
      durationMs: options.clock.now() - started,
      time: Date.now(),
    });
    return output;
  } finally {
    host.slots.release();
  }
}

/** Queues the user records of a page, de-aggregated, skipping those already processed. */
function push(shard: ShardState, records: readonly StreamRecord[], host: ShardReaderHost): void {
  const { options } = host;
  const read: ReadRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const sequenceNumber = record.SequenceNumber;
    if (sequenceNumber === undefined) continue;
    const data = record.Data ?? EMPTY;
    const partitionKey = record.PartitionKey ?? '';
    const arrivalTime = record.ApproximateArrivalTimestamp ?? new Date();
    let users: DeaggregatedRecord[];
    try {
      users = deaggregate(data, partitionKey);
    } catch (error) {
      // A corrupt aggregate goes on as it is, so that it lands with the errors downstream.
      emitSafely(options.onEvent, {
        type: 'failure',
        source: options.source,
        count: 1,
        code: TributaryError.isInstance(error) ? error.code : 'AGGREGATION_INVALID',
        error,
        time: Date.now(),
      });
      users = [{ partitionKey, explicitHashKey: undefined, data, subSequenceNumber: 0, aggregated: false }];
    }
    const skip =
      shard.skip !== undefined && shard.skip.sequenceNumber === sequenceNumber ? shard.skip : undefined;
    shard.skip = undefined;
    host.stats.kinesisRecords++;
    const last = users.length - 1;
    for (let i = 0; i <= last; i++) {
      const user = users[i] as DeaggregatedRecord;
      if (skip !== undefined && user.subSequenceNumber <= (skip.subSequenceNumber ?? -1)) continue;
      const out: KinesisSourceRecord = {
        data: user.data,
        partitionKey: user.partitionKey ?? partitionKey,
        sequenceNumber,
        shardId: shard.id,
        arrivalTime,
      };
      if (user.aggregated) out.subSequenceNumber = user.subSequenceNumber;
      read.push({ record: out, whole: i === last });
      bytes += user.data.byteLength;
    }
    shard.lastPushed = { sequenceNumber, subSequenceNumber: undefined };
  }
  if (read.length > 0) {
    host.enqueue(read);
    emitSafely(options.onEvent, {
      type: 'records.in',
      source: options.source,
      count: read.length,
      bytes,
      time: Date.now(),
    });
  }
}
