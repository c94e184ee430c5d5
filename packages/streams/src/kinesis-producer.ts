import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { type Clock, describeValue, type OptionChecks, utf8ByteLength } from '@tributary/core';
import { AggregateBuilder } from './aggregation.js';
import { BaseProducer } from './base-producer.js';
import { InvalidPartitionKeyError, ShardDiscoveryError } from './errors.js';
import { loadKinesis } from './load-kinesis.js';
import type { Envelope } from './producer-ledger.js';
import {
  type ProducerCommonOptions,
  type ProducerService,
  resolveProducerOptions,
} from './producer-options.js';
import { ShardRateLimiter } from './rate-limiter.js';
import { type EntryOutcome, entryOf, outcomeOf, type WireEntry } from './send-queue.js';
import { ShardMap } from './shard-map.js';

/** Kinesis' per-shard write limits, or the share of them this producer may use. */
export interface KinesisRateLimit {
  /** Records per second and shard. Default 1,000. */
  recordsPerSecond?: number;
  /** Bytes (data + partition key) per second and shard. Default 1 MiB. */
  bytesPerSecond?: number;
}

export interface KinesisProducerOptions<T = unknown> extends ProducerCommonOptions<T> {
  /** The client to send with (with `requestHandler: new NodeHttpHandler()` for kinesalite). */
  client: KinesisClient;
  streamName: string;
  /**
   * The partition key of a record: 1 to 256 characters. Records of one key land on one shard,
   * in order within a request.
   */
  partitionKey: (record: T) => string;
  /**
   * Pack many records into each Kinesis record in the KPL aggregated format (up to 1 MiB, only
   * records bound for the same shard together). Consumers must de-aggregate (the KCL, Lambda,
   * `aws-kinesis-agg`, `deaggregate`, `KinesisSource` do). Default false.
   */
  aggregate?: boolean;
  /**
   * Per-shard token buckets that keep the producer under Kinesis' write limits, so that it does
   * not throttle itself; `false` to send as fast as requests return. Default: 1,000 records/s
   * and 1 MiB/s per shard.
   */
  rateLimit?: KinesisRateLimit | false;
  /**
   * Assume the stream has this many shards splitting the hash key space evenly (as CreateStream
   * makes them) instead of asking `ListShards`. Default: ask `ListShards` once, and again after a
   * response shows a record landing on another shard than predicted (a reshard).
   */
  shardCount?: number;
}

// PutRecords: 500 records and 5 MiB per call; 1 MiB per record; partition keys count.
const MAX_RECORD_BYTES = 1024 * 1024;
const KINESIS: ProducerService = Object.freeze({
  owner: 'KinesisProducer',
  source: 'kinesis-producer',
  clientName: 'KinesisClient',
  streamOption: 'streamName',
  maxStreamNameLength: 128,
  maxRecordBytes: MAX_RECORD_BYTES,
  maxRequestCount: 500,
  maxRequestBytes: 5 * 1024 * 1024,
});
// Aggregated user records are grouped in batches this large, so that the packed entries of a
// batch are about one request's worth.
const AGGREGATE_BATCH_RECORDS = 50_000;
// Upper bound of the bytes aggregation adds per user record (protobuf keys and lengths).
const AGGREGATION_OVERHEAD = 12;
const MAX_KEY_LENGTH = 256;
const MIN_REFRESH_INTERVAL_MS = 1_000;

function keyBytes(key: string | undefined): number {
  return key === undefined ? 0 : utf8ByteLength(key);
}

/**
 * Sends records to a Kinesis data stream with `PutRecords`: batches of at most 500 records and
 * 5 MiB (partition keys counted), sent after at most `maxAgeMs`; a record over 1 MiB is refused
 * with an `ItemTooLargeError`. On a partial failure only the failed entries are sent again
 * (matched by position), and so are whole requests that failed for a retryable reason (network,
 * 5xx, throttling). As in the KPL, a failed entry goes back into the send queue with its own
 * attempt count and deadline and, after a full-jitter backoff (longer on
 * `ProvisionedThroughputExceededException`, growing while its shard accepts nothing), out again
 * with newer records in a later request; a request slot is free as soon as its call returns, so
 * retries never keep new records waiting. Per-shard token buckets keep it under the stream's
 * write limits; a record not delivered within `recordTtlMs` fails with `RECORD_TTL_EXPIRED`;
 * `put` waits while `maxBufferedRecords` are in flight.
 *
 * Each Kinesis record holds one record as a line of NDJSON (compact JSON, then `\n`), so that
 * records concatenated by Firehose or a consumer stay one per line; pass `encode` to validate
 * records or choose another encoding. The partition key is what `partitionKey` returns. Order is kept within a request (records sent again first, then new ones
 * in put order), not across requests: up to `maxConcurrentRequests` run at once, and a record
 * sent again lands after newer ones of its key, as with the KPL.
 *
 * `close()` resolves with `{ sent, retried, failed }`, or rejects with a
 * `PartialBatchFailureError` holding every record that failed and its error code.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * const producer = new KinesisProducer({
 *   client: new KinesisClient({}),
 *   streamName: 'readings',
 *   partitionKey: (reading: Reading) => reading.id,
 *   encode: (reading) => encodeNdjsonLine(reading, readingSchema), // validate each record
 * });
 * for await (const reading of readings) await producer.put(reading);
 * const { sent, retried } = await producer.close(); // throws PartialBatchFailureError if any record failed
 * ```
 */
export class KinesisProducer<T = unknown> extends BaseProducer<T> {
  private readonly client: KinesisClient;
  private readonly streamName: string;
  private readonly keyOf: (record: T) => string;
  private readonly aggregated: boolean;
  private readonly limiter: ShardRateLimiter | undefined;
  private readonly fixedMap: ShardMap | undefined;
  private readonly needsMap: boolean;
  private map: ShardMap | undefined;
  private stale = false;
  private lastLoad = Number.NEGATIVE_INFINITY;
  private loading: Promise<ShardMap> | undefined;

  constructor(options: KinesisProducerOptions<T>) {
    const resolved = resolveOptions(options);
    super(resolved.common, resolved.limits);
    this.client = resolved.client;
    this.streamName = resolved.streamName;
    this.keyOf = resolved.partitionKey;
    this.aggregated = resolved.aggregate;
    this.limiter = resolved.limiter;
    this.fixedMap = resolved.shardCount === undefined ? undefined : ShardMap.uniform(resolved.shardCount);
    this.needsMap = this.aggregated || this.limiter !== undefined;
  }

  protected partitionKeyOf(record: T): string {
    let key: unknown;
    try {
      key = this.keyOf(record);
    } catch (error) {
      throw new InvalidPartitionKeyError(
        'The partitionKey function threw',
        { stream: this.streamName },
        error,
      );
    }
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new InvalidPartitionKeyError(
        `A partition key must be a string of 1 to ${MAX_KEY_LENGTH} characters, got ${describeValue(key)}`,
        { stream: this.streamName },
      );
    }
    return key;
  }

  protected async toEntries(batch: Envelope<T>[]): Promise<WireEntry<T>[]> {
    const map = this.needsMap ? await this.shardMap() : undefined;
    const shardOf = (envelope: Envelope<T>) => (map === undefined ? -1 : map.indexOf(envelope.key));
    if (!this.aggregated) return batch.map((envelope) => entryOf(envelope, shardOf(envelope)));

    const byShard = new Map<number, Envelope<T>[]>();
    for (const envelope of batch) {
      const shard = shardOf(envelope);
      let group = byShard.get(shard);
      if (group === undefined) {
        group = [];
        byShard.set(shard, group);
      }
      group.push(envelope);
    }
    const entries: WireEntry<T>[] = [];
    for (const [shard, group] of byShard) {
      let builder = new AggregateBuilder();
      let members: Envelope<T>[] = [];
      const finish = () => {
        if (members.length === 1) entries.push(entryOf(members[0] as Envelope<T>, shard));
        else if (members.length > 1) entries.push(this.aggregateEntry(builder, members, shard));
        builder = new AggregateBuilder();
        members = [];
      };
      for (const envelope of group) {
        const user = { partitionKey: envelope.key, data: envelope.data };
        if (new AggregateBuilder().byteLengthWith(user) + keyBytes(envelope.key) > MAX_RECORD_BYTES) {
          // Too large to wrap: it goes alone, as a plain record (it is within 1 MiB by itself).
          entries.push(entryOf(envelope, shard));
          continue;
        }
        if (
          members.length > 0 &&
          builder.byteLengthWith(user) + keyBytes(builder.partitionKey) > MAX_RECORD_BYTES
        ) {
          finish();
        }
        builder.add(user);
        members.push(envelope);
      }
      finish();
    }
    return entries;
  }

  protected async send(entries: readonly WireEntry<T>[]): Promise<EntryOutcome[]> {
    const { PutRecordsCommand } = await loadKinesis();
    const Records = entries.map((entry) => ({ Data: entry.data, PartitionKey: entry.key }));
    const output = await this.client.send(
      this.counted(new PutRecordsCommand({ StreamName: this.streamName, Records })),
    );
    return entries.map((_entry, index) => outcomeOf(output.Records?.[index], 'PutRecords'));
  }

  protected override rateWait(entry: WireEntry<T>): number {
    return this.limiter === undefined || entry.shard < 0 ? 0 : this.limiter.waitFor(entry.shard, entry.size);
  }

  protected override rateTake(entry: WireEntry<T>): void {
    if (this.limiter !== undefined && entry.shard >= 0) this.limiter.take(entry.shard, entry.size);
  }

  protected override accepted(entry: WireEntry<T>, outcome: EntryOutcome & { ok: true }): void {
    // A record that landed elsewhere than the map said means the stream was resharded.
    if (this.map === undefined || outcome.shardId === undefined) return;
    if (entry.shard < 0 || this.map.at(entry.shard)?.shardId !== outcome.shardId) this.stale = true;
  }

  private aggregateEntry(builder: AggregateBuilder, members: Envelope<T>[], shard: number): WireEntry<T> {
    const data = builder.build();
    const key = builder.partitionKey as string;
    const entry = entryOf(members[0] as Envelope<T>, shard);
    return {
      ...entry,
      users: members,
      data,
      key,
      size: data.byteLength + keyBytes(key),
      deadline: Math.min(...members.map((member) => member.deadline)),
    };
  }

  private async shardMap(): Promise<ShardMap> {
    if (this.fixedMap !== undefined) return this.fixedMap;
    const now = this.common.clock.now();
    if (this.map !== undefined && (!this.stale || now - this.lastLoad < MIN_REFRESH_INTERVAL_MS))
      return this.map;
    if (this.loading === undefined) {
      this.lastLoad = now;
      this.loading = this.loadShardMap().finally(() => {
        this.loading = undefined;
      });
    }
    try {
      return await this.loading;
    } catch (error) {
      // A stream we already know goes on with the old map; only the first load must succeed.
      if (this.map !== undefined) return this.map;
      throw error;
    }
  }

  private async loadShardMap(): Promise<ShardMap> {
    try {
      const { ListShardsCommand } = await loadKinesis();
      const shards = [];
      let nextToken: string | undefined;
      do {
        const token = nextToken;
        // The client retries the call itself; a stream we already know goes on with the old map.
        const page = await this.client.send(
          this.counted(
            new ListShardsCommand(
              token === undefined ? { StreamName: this.streamName } : { NextToken: token },
            ),
          ),
        );
        shards.push(...(page.Shards ?? []));
        nextToken = page.NextToken;
      } while (nextToken !== undefined);
      const map = ShardMap.fromListedShards(shards);
      if (map.size === 0) throw new Error('ListShards returned no open shard');
      if (this.map !== undefined) this.limiter?.reset();
      this.map = map;
      this.stale = false;
      return map;
    } catch (error) {
      throw new ShardDiscoveryError(this.streamName, error);
    }
  }
}

function resolveOptions<T>(options: KinesisProducerOptions<T>) {
  const { check, limits, ...base } = resolveProducerOptions<T, KinesisClient>(options, KINESIS);
  const { aggregate = false, shardCount } = options;
  const partitionKey = check.function<(record: T) => string>('partitionKey', options.partitionKey);
  if (typeof aggregate !== 'boolean') throw check.invalid('aggregate', aggregate, 'a boolean');
  if (shardCount !== undefined) check.positiveInteger('shardCount', shardCount);
  return {
    ...base,
    // Aggregated records are grouped by shard, many per entry: batches of more than a request.
    limits: aggregate
      ? {
          ...limits,
          batchMaxCount: AGGREGATE_BATCH_RECORDS,
          batchSizeOf: (envelope: { size: number }) => envelope.size + AGGREGATION_OVERHEAD,
        }
      : limits,
    partitionKey,
    aggregate,
    shardCount,
    limiter: resolveRateLimit(check, options.rateLimit, base.common.clock),
  };
}

function resolveRateLimit(
  check: OptionChecks,
  rateLimit: KinesisRateLimit | false | undefined,
  clock: Clock,
): ShardRateLimiter | undefined {
  if (rateLimit === false) return undefined;
  if (rateLimit !== undefined && (typeof rateLimit !== 'object' || rateLimit === null)) {
    throw check.invalid('rateLimit', rateLimit, 'false or { recordsPerSecond, bytesPerSecond }');
  }
  const positive = (option: keyof KinesisRateLimit, fallback: number): number => {
    const value = rateLimit?.[option];
    return value === undefined ? fallback : check.positiveNumber(`rateLimit.${option}`, value);
  };
  return new ShardRateLimiter(
    {
      recordsPerSecond: positive('recordsPerSecond', 1_000),
      bytesPerSecond: positive('bytesPerSecond', MAX_RECORD_BYTES),
    },
    clock,
  );
}
