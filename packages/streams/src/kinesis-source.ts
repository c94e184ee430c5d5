import type {
  GetRecordsCommandOutput,
  GetShardIteratorCommandInput,
  KinesisClient,
  Shard,
  _Record as StreamRecord,
} from '@aws-sdk/client-kinesis';
import {
  addSdkRetryEvents,
  classifyError,
  describeValue,
  type ErrorContext,
  type EventListener,
  emitSafely,
  type RetryOptions,
  type SdkMiddlewareHost,
  TributaryError,
  withRetry,
} from '@tributary/core';
import { type DeaggregatedRecord, deaggregate } from './aggregation.js';
import {
  type Checkpoint,
  type CheckpointStore,
  copyCheckpoints,
  MemoryCheckpointStore,
} from './checkpoints.js';

/** Where a shard that has no checkpoint is first read from. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | { at: Date };

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

/** Time as the source sees it; replace it in tests to drive polling, pacing and idleness. */
export interface KinesisSourceClock {
  /** Milliseconds from any fixed origin (only differences are used). */
  now(): number;
  /** Resolves after `ms` milliseconds, or early once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

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
  /** Default: `performance.now()` and `setTimeout`. */
  clock?: KinesisSourceClock;
}

/** What a source has done so far. */
export interface KinesisSourceStats {
  /** `GetRecords` calls that succeeded. */
  calls: number;
  /** Kinesis records read (an aggregate counts once). */
  kinesisRecords: number;
  /** User records handed to the consumer. */
  records: number;
  /** Shards read (or skipped) to their end. */
  shardsFinished: number;
  /** Shards known from `ListShards`. */
  shards: number;
}

/**
 * The source's options are wrong (`SOURCE_INVALID_OPTIONS`, `context.option`), it is iterated
 * twice (`SOURCE_ALREADY_STARTED`), `commit` got a record it cannot place
 * (`SOURCE_INVALID_COMMIT`), or reading failed for good (`SOURCE_READ_FAILED`, with the SDK's
 * error as `cause` and `context.shardId`).
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisSource, KinesisSourceError } from '@tributary/streams/kinesis';
 *
 * const source = new KinesisSource({ client: new KinesisClient({}), streamName: 'readings' });
 * try {
 *   for await (const record of source) console.log(record.shardId, record.sequenceNumber);
 * } catch (err) {
 *   if (err instanceof KinesisSourceError) console.error(err.code, err.context.shardId, err.cause);
 *   else throw err;
 * }
 * ```
 */
export class KinesisSourceError extends TributaryError {
  override name = 'KinesisSourceError';

  constructor(
    message: string,
    options: { code?: string; cause?: unknown; context?: ErrorContext; retryable?: boolean } = {},
  ) {
    super(message, {
      code: options.code ?? 'SOURCE_READ_FAILED',
      cause: options.cause,
      context: options.context,
      retryable: options.retryable,
    });
  }
}

type KinesisModule = typeof import('@aws-sdk/client-kinesis');
let kinesisModule: Promise<KinesisModule> | undefined;

// Loaded on first use, so that importing @tributary/streams never needs the optional peer.
function loadKinesis(): Promise<KinesisModule> {
  kinesisModule ??= import('@aws-sdk/client-kinesis');
  return kinesisModule;
}

const STREAM_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
// Kinesis allows 5 GetRecords calls per second and shard.
const MIN_READ_INTERVAL_MS = 200;
// An iterator lives 5 minutes; getting a new one more often than this in a row means something else is wrong.
const MAX_EXPIRED_IN_A_ROW = 3;
const COMPACT_AT = 4_096;
const EMPTY = new Uint8Array(0);

const defaultClock: KinesisSourceClock = Object.freeze({
  now: () => performance.now(),
  sleep: (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
});

const noop = (): void => {};

/** A position inside a shard: a Kinesis record, and a user record inside it (`undefined`: all of it). */
interface Position {
  sequenceNumber: string;
  subSequenceNumber: number | undefined;
}

interface ShardState {
  readonly id: string;
  readonly parents: readonly string[];
  readonly closed: boolean;
  readonly start: StartingPosition;
  status: 'waiting' | 'reading' | 'finished';
  /** The last record pushed to the queue in this run. */
  lastPushed: Position | undefined;
  /** Skip user records up to this position (resuming inside an aggregate). */
  skip: Position | undefined;
  lastCallAt: number;
  /** When the shard started returning nothing; `undefined` while it returns records. */
  idleSince: number | undefined;
  behind: number;
}

interface Resolved {
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
  readonly clock: KinesisSourceClock;
}

/** Order of two positions of the same shard; a whole record comes after each of its user records. */
function comparePositions(a: Position, b: Position): number {
  const sa = BigInt(a.sequenceNumber);
  const sb = BigInt(b.sequenceNumber);
  if (sa !== sb) return sa < sb ? -1 : 1;
  const ua = a.subSequenceNumber ?? Number.POSITIVE_INFINITY;
  const ub = b.subSequenceNumber ?? Number.POSITIVE_INFINITY;
  return ua === ub ? 0 : ua < ub ? -1 : 1;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { name?: string }).name : undefined;
}

/**
 * Reads every shard of a Kinesis data stream as one async iterable of user records.
 *
 * It lists the shards (`ListShards`, paginated) and runs one reader per shard: `GetShardIterator`
 * (after the shard's checkpoint, else at `startingPosition`), then `GetRecords` following
 * `NextShardIterator`, at most 5 calls per second per shard and `maxConcurrentReads` calls at
 * once, polling every `pollIntervalMs` once caught up (`MillisBehindLatest` 0). Throttling
 * (`ProvisionedThroughputExceededException`) and other retryable errors are retried by the client
 * (the AWS SDK's retry strategy); an expired iterator is replaced. When a shard ends (a reshard closed it), the
 * shards are listed again and its children are read — each child only after all its parents
 * were read to their end, so the records of one partition key keep their order. KPL aggregated
 * records are de-aggregated; each user record carries its `subSequenceNumber`.
 *
 * Checkpoints are at-least-once: after processing a record (or a batch, through its last record
 * per shard), call `commit(record)`; `checkpoint()` saves what was committed. A new source with
 * the same store resumes right after the saved positions (inside an aggregate too), so a restart
 * never loses a record and redelivers at most what was read since the last saved checkpoint.
 * A shard read to its end and fully committed is saved as `finished` and never read again.
 *
 * The iteration ends when `signal` aborts, when the consumer stops (`break`), with
 * `stopWhenIdle` once every shard is idle and caught up, or when every shard is finished; it
 * throws a `KinesisSourceError` when reading fails for good. A source is iterated once.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisSource } from '@tributary/streams/kinesis';
 *
 * declare function handle(reading: unknown): Promise<void>; // your processing
 * const source = new KinesisSource({
 *   client: new KinesisClient({}),
 *   streamName: 'readings',
 *   checkpoints: new LakeCheckpointStore({ storage: lake.raw }),
 *   signal: AbortSignal.timeout(60_000),
 * });
 * for await (const record of source) {
 *   await handle(JSON.parse(Buffer.from(record.data).toString('utf8')));
 *   source.commit(record);
 * }
 * await source.checkpoint();
 * ```
 */
export class KinesisSource implements AsyncIterable<KinesisSourceRecord> {
  readonly #o: Resolved;
  readonly #controller = new AbortController();
  readonly #shards = new Map<string, ShardState>();
  readonly #committed = new Map<string, Checkpoint>();
  // Whether each yielded record is the last user record of its Kinesis record (true) or not.
  readonly #wholeRecord = new WeakMap<KinesisSourceRecord, boolean>();
  readonly #readers = new Set<Promise<void>>();
  readonly #stats: KinesisSourceStats = {
    calls: 0,
    kinesisRecords: 0,
    records: 0,
    shardsFinished: 0,
    shards: 0,
  };
  #queue: KinesisSourceRecord[] = [];
  #head = 0;
  #started = false;
  #firstRun = true;
  #listed: Set<string> | undefined;
  #listing: Promise<void> | undefined;
  #relistWanted = false;
  // 'drain': yield what is queued, then end; 'stop': end now.
  #ending: 'drain' | 'stop' | undefined;
  #error: KinesisSourceError | undefined;
  #change: { promise: Promise<void>; resolve: () => void } | undefined;
  #room: { promise: Promise<void>; resolve: () => void } | undefined;
  #readsInFlight = 0;
  readonly #slotWaiters: (() => void)[] = [];
  #version = 0;
  // Nothing to save until a commit (or a finished shard) changes the loaded checkpoints.
  #savedVersion = 0;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: KinesisSourceOptions) {
    this.#o = resolveOptions(options);
    Object.freeze(this);
  }

  /** The stream this source reads. */
  get streamName(): string {
    return this.#o.streamName;
  }

  /** Counts of what was read so far. */
  stats(): KinesisSourceStats {
    return { ...this.#stats, shards: this.#shards.size };
  }

  /** A copy of the checkpoints as they stand: loaded ones, updated by `commit`. What `checkpoint()` saves. */
  committed(): Record<string, Checkpoint> {
    const out: Record<string, Checkpoint> = {};
    for (const [shardId, checkpoint] of this.#committed) out[shardId] = { ...checkpoint };
    return out;
  }

  /**
   * Marks `record` — and every record before it in its shard — as processed. Positions only move
   * forward: committing an older record changes nothing. Call `checkpoint()` to save.
   */
  commit(record: KinesisSourceRecord): void {
    if (typeof record !== 'object' || record === null) {
      throw new KinesisSourceError(`commit needs a record from this source, got ${describeValue(record)}`, {
        code: 'SOURCE_INVALID_COMMIT',
        context: { stream: this.#o.streamName },
      });
    }
    const { shardId, sequenceNumber, subSequenceNumber } = record;
    const shard = this.#shards.get(shardId);
    if (shard === undefined || typeof sequenceNumber !== 'string' || !/^\d{1,128}$/.test(sequenceNumber)) {
      throw new KinesisSourceError(
        `commit got a record of shard ${describeValue(shardId)} at ${describeValue(sequenceNumber)}, which this source did not read`,
        { code: 'SOURCE_INVALID_COMMIT', context: { stream: this.#o.streamName, shardId } },
      );
    }
    // A record this source yielded knows whether it ends its aggregate; a copy is taken at its word.
    const whole = this.#wholeRecord.get(record) ?? subSequenceNumber === undefined;
    const position: Position = { sequenceNumber, subSequenceNumber: whole ? undefined : subSequenceNumber };
    const current = this.#committed.get(shardId);
    if (current?.finished) return;
    if (current?.sequenceNumber !== undefined && comparePositions(position, positionOf(current)) <= 0) return;
    const next: Checkpoint = { sequenceNumber };
    if (position.subSequenceNumber !== undefined) next.subSequenceNumber = position.subSequenceNumber;
    if (
      shard.status === 'finished' &&
      shard.lastPushed !== undefined &&
      comparePositions(position, shard.lastPushed) >= 0
    ) {
      next.finished = true;
    }
    this.#committed.set(shardId, next);
    this.#version++;
  }

  /**
   * Saves the committed checkpoints to the store (retried; concurrent calls save one after the
   * other). Checkpoints of shards that `ListShards` no longer returns (past the retention) are
   * dropped. Rejects with a `CheckpointError` or the store's error.
   */
  checkpoint(): Promise<void> {
    const run = this.#saving.then(() => this.#save());
    this.#saving = run.catch(noop);
    return run;
  }

  [Symbol.asyncIterator](): AsyncIterator<KinesisSourceRecord> {
    if (this.#started) {
      throw new KinesisSourceError('A KinesisSource is iterated once; create a new one to read again', {
        code: 'SOURCE_ALREADY_STARTED',
        context: { stream: this.#o.streamName },
      });
    }
    this.#started = true;
    return this.#iterate();
  }

  async *#iterate(): AsyncGenerator<KinesisSourceRecord, void, undefined> {
    const { signal } = this.#o;
    const onAbort = () => this.#end('stop');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) return;
      await this.#start();
      for (;;) {
        if (this.#error !== undefined) throw this.#error;
        if (this.#ending === 'stop') return;
        if (this.#head < this.#queue.length) {
          const record = this.#queue[this.#head] as KinesisSourceRecord;
          this.#queue[this.#head] = undefined as unknown as KinesisSourceRecord;
          this.#head++;
          if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#queue.length) {
            this.#queue = this.#queue.slice(this.#head);
            this.#head = 0;
          }
          this.#stats.records++;
          if (this.#room !== undefined && this.#queued() < this.#o.maxBufferedRecords) this.#wake('room');
          yield record;
          continue;
        }
        if (this.#ending === 'drain') return;
        await this.#next('change');
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#end('stop');
      await Promise.allSettled([...this.#readers, this.#listing]);
    }
  }

  async #start(): Promise<void> {
    let loaded: Record<string, Checkpoint>;
    try {
      loaded = copyCheckpoints(await this.#o.store.load(this.#o.streamName), 'loaded checkpoints');
    } catch (error) {
      throw new KinesisSourceError(`Could not load the checkpoints of ${this.#o.streamName}`, {
        code: 'SOURCE_READ_FAILED',
        cause: error,
        context: { stream: this.#o.streamName },
      });
    }
    for (const [shardId, checkpoint] of Object.entries(loaded)) this.#committed.set(shardId, checkpoint);
    this.#firstRun = this.#committed.size === 0;
    await this.#discover();
  }

  #queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Lists the shards (again) and starts the readers that can start. Concurrent calls share one listing. */
  #discover(): Promise<void> {
    if (this.#listing !== undefined) {
      this.#relistWanted = true;
      return this.#listing;
    }
    const run = async () => {
      do {
        this.#relistWanted = false;
        const shards = await this.#listShards();
        if (this.#ending !== undefined) return;
        this.#addShards(shards, this.#listed === undefined);
        this.#schedule();
      } while (this.#relistWanted && this.#ending === undefined);
    };
    const listing = run()
      .catch((error: unknown) => this.#fail(error, undefined))
      .finally(() => {
        this.#listing = undefined;
        // A shard may have ended between the last listing and now: list once more for its children.
        if (this.#relistWanted && this.#ending === undefined) void this.#discover();
        else this.#checkEnd();
      });
    this.#listing = listing;
    return listing;
  }

  async #listShards(): Promise<Shard[]> {
    const { ListShardsCommand } = await loadKinesis();
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const page = await this.#o.client.send(
        // Kinesis refuses StreamName next to a NextToken.
        this.#counted(
          new ListShardsCommand(
            token === undefined ? { StreamName: this.#o.streamName } : { NextToken: token },
          ),
        ),
        { abortSignal: this.#controller.signal },
      );
      shards.push(...(page.Shards ?? []));
      nextToken = page.NextToken ?? undefined;
    } while (nextToken !== undefined);
    return shards;
  }

  #addShards(listed: readonly Shard[], initial: boolean): void {
    this.#listed = new Set();
    for (const shard of listed) {
      const id = shard.ShardId;
      if (id === undefined) continue;
      this.#listed.add(id);
      if (this.#shards.has(id)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber != null;
      const state: ShardState = {
        id,
        parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter(
          (parent): parent is string => typeof parent === 'string' && parent !== '',
        ),
        closed,
        // Shards that appear while we read, and shards a previous run had no position for, may
        // hold records nobody processed yet: they start at their beginning.
        start: initial && this.#firstRun ? this.#o.startingPosition : 'TRIM_HORIZON',
        status: 'waiting',
        lastPushed: undefined,
        skip: undefined,
        lastCallAt: Number.NEGATIVE_INFINITY,
        idleSince: undefined,
        behind: 0,
      };
      this.#shards.set(id, state);
    }
  }

  /** Starts every waiting shard whose parents are finished (or gone past the retention). */
  #schedule(): void {
    let changed = true;
    while (changed && this.#ending === undefined) {
      changed = false;
      for (const shard of this.#shards.values()) {
        if (shard.status !== 'waiting') continue;
        const ready = shard.parents.every((parent) => {
          const state = this.#shards.get(parent);
          return state === undefined || state.status === 'finished';
        });
        if (!ready) continue;
        const checkpoint = this.#committed.get(shard.id);
        if (checkpoint?.finished || (shard.closed && shard.start === 'LATEST' && checkpoint === undefined)) {
          // Done in an earlier run, or closed before a LATEST start: nothing to read in it.
          this.#finishShard(shard);
          changed = true;
          continue;
        }
        shard.status = 'reading';
        const reader = this.#readShard(shard)
          .catch((error: unknown) => this.#fail(error, shard.id))
          .finally(() => {
            this.#readers.delete(reader);
          });
        this.#readers.add(reader);
      }
    }
  }

  #finishShard(shard: ShardState): void {
    shard.status = 'finished';
    this.#stats.shardsFinished++;
    const current = this.#committed.get(shard.id);
    const committedAll =
      shard.lastPushed === undefined ||
      (current?.sequenceNumber !== undefined && comparePositions(positionOf(current), shard.lastPushed) >= 0);
    if (committedAll && !current?.finished) {
      this.#committed.set(shard.id, { ...current, finished: true });
      this.#version++;
    }
  }

  async #readShard(shard: ShardState): Promise<void> {
    let iterator = await this.#iteratorFor(shard);
    let expired = 0;
    while (this.#ending === undefined) {
      if (iterator === undefined) throw new Error(`GetShardIterator returned no iterator for ${shard.id}`);
      while (this.#queued() >= this.#o.maxBufferedRecords && this.#ending === undefined) {
        await this.#next('room');
      }
      const wait = shard.lastCallAt + MIN_READ_INTERVAL_MS - this.#o.clock.now();
      if (wait > 0) await this.#o.clock.sleep(wait, this.#controller.signal);
      if (this.#ending !== undefined) return;
      let output: GetRecordsCommandOutput;
      try {
        output = await this.#getRecords(shard, iterator);
        expired = 0;
      } catch (error) {
        if (this.#ending !== undefined) return;
        if (errorName(error) === 'ExpiredIteratorException' && expired < MAX_EXPIRED_IN_A_ROW) {
          expired++;
          iterator = await this.#iteratorFor(shard);
          continue;
        }
        throw error;
      }
      if (this.#ending !== undefined) return;
      const records = output.Records ?? [];
      this.#push(shard, records);
      const now = this.#o.clock.now();
      shard.behind = output.MillisBehindLatest ?? 0;
      if (records.length > 0) shard.idleSince = undefined;
      else shard.idleSince ??= now;
      iterator = output.NextShardIterator ?? undefined;
      if (iterator === undefined) {
        // The shard was closed by a reshard and we read past its end: its children come next.
        this.#finishShard(shard);
        void this.#discover();
        return;
      }
      this.#checkIdle();
      if (records.length === 0 && shard.behind === 0) {
        await this.#o.clock.sleep(this.#o.pollIntervalMs, this.#controller.signal);
      }
    }
  }

  /** An iterator from where this run stands in the shard: its last record read, its checkpoint, or its start. */
  async #iteratorFor(shard: ShardState): Promise<string | undefined> {
    const checkpoint = this.#committed.get(shard.id);
    const from: Position | undefined =
      shard.lastPushed ?? (checkpoint?.sequenceNumber === undefined ? undefined : positionOf(checkpoint));
    const input: GetShardIteratorCommandInput = {
      StreamName: this.#o.streamName,
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
    const output = await this.#o.client.send(this.#counted(new GetShardIteratorCommand(input)), {
      abortSignal: this.#controller.signal,
    });
    return output.ShardIterator ?? undefined;
  }

  async #getRecords(shard: ShardState, iterator: string): Promise<GetRecordsCommandOutput> {
    const { GetRecordsCommand } = await loadKinesis();
    await this.#acquireSlot();
    const started = this.#o.clock.now();
    shard.lastCallAt = started;
    try {
      const output = await this.#o.client.send(
        this.#counted(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#o.maxRecordsPerCall })),
        { abortSignal: this.#controller.signal },
      );
      let bytes = 0;
      for (const record of output.Records ?? []) bytes += record.Data?.byteLength ?? 0;
      this.#stats.calls++;
      emitSafely(this.#o.onEvent, {
        type: 'batch',
        source: this.#o.source,
        count: output.Records?.length ?? 0,
        bytes,
        durationMs: this.#o.clock.now() - started,
        time: Date.now(),
      });
      return output;
    } finally {
      this.#releaseSlot();
    }
  }

  /**
   * The client retries each call itself (its `maxAttempts` / `retryStrategy`); its retries are
   * reported as `retry` events by core's middleware, added to the command, not to the user's client.
   */
  #counted<C extends SdkMiddlewareHost>(command: C): C {
    return addSdkRetryEvents(command, { source: this.#o.source, onEvent: this.#o.onEvent });
  }

  /** Queues the user records of a page, de-aggregated, skipping those already processed. */
  #push(shard: ShardState, records: readonly StreamRecord[]): void {
    let count = 0;
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
        emitSafely(this.#o.onEvent, {
          type: 'failure',
          source: this.#o.source,
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
      this.#stats.kinesisRecords++;
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
        this.#wholeRecord.set(out, i === last);
        this.#queue.push(out);
        count++;
        bytes += user.data.byteLength;
      }
      shard.lastPushed = { sequenceNumber, subSequenceNumber: undefined };
    }
    if (count > 0) {
      emitSafely(this.#o.onEvent, {
        type: 'records.in',
        source: this.#o.source,
        count,
        bytes,
        time: Date.now(),
      });
      this.#wake('change');
    }
  }

  #checkIdle(): void {
    if (!this.#o.stopWhenIdle || this.#ending !== undefined || this.#listing !== undefined) return;
    const now = this.#o.clock.now();
    for (const shard of this.#shards.values()) {
      if (shard.status === 'finished') continue;
      if (shard.status === 'waiting') return;
      if (shard.idleSince === undefined || shard.behind > 0 || now - shard.idleSince < this.#o.idleTimeoutMs)
        return;
    }
    this.#end('drain');
  }

  /** Ends the iteration once nothing is left to read: every shard finished and no listing pending. */
  #checkEnd(): void {
    if (this.#ending !== undefined || this.#listing !== undefined || this.#listed === undefined) return;
    for (const shard of this.#shards.values()) if (shard.status !== 'finished') return;
    this.#end('drain');
  }

  #fail(error: unknown, shardId: string | undefined): void {
    // Once the source is ending, readers fail only because their calls were cut short.
    if (this.#ending !== undefined || this.#error !== undefined) return;
    const stream = this.#o.streamName;
    const wrapped = new KinesisSourceError(
      `Reading stream ${stream}${shardId === undefined ? '' : ` (${shardId})`} failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        code: 'SOURCE_READ_FAILED',
        cause: error,
        context: shardId === undefined ? { stream } : { stream, shardId },
        // Whether reading again later may succeed: the client gave up on a throttled or transient call.
        retryable: TributaryError.isInstance(error) ? error.retryable : classifyError(error).retryable,
      },
    );
    emitSafely(this.#o.onEvent, {
      type: 'failure',
      source: this.#o.source,
      count: 0,
      code: wrapped.code,
      error: wrapped,
      time: Date.now(),
    });
    this.#error = wrapped;
    this.#end('stop');
  }

  #end(how: 'drain' | 'stop'): void {
    if (this.#ending === 'stop' || this.#ending === how) return;
    this.#ending = how;
    this.#controller.abort();
    this.#wake('change');
    this.#wake('room');
    for (const waiter of this.#slotWaiters.splice(0)) waiter();
  }

  async #save(): Promise<void> {
    if (this.#version === this.#savedVersion) return;
    const version = this.#version;
    const snapshot: Record<string, Checkpoint> = {};
    for (const [shardId, checkpoint] of this.#committed) {
      if (this.#listed !== undefined && !this.#listed.has(shardId)) continue;
      snapshot[shardId] = { ...checkpoint };
    }
    const { retry } = this.#o;
    await withRetry(() => this.#o.store.save(this.#o.streamName, snapshot), {
      maxAttempts: 5,
      baseDelayMs: 100,
      ...retry,
      onRetry: retry.onRetry,
    });
    this.#savedVersion = Math.max(this.#savedVersion, version);
  }

  async #acquireSlot(): Promise<void> {
    while (this.#readsInFlight >= this.#o.maxConcurrentReads && this.#ending === undefined) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    this.#readsInFlight++;
  }

  #releaseSlot(): void {
    this.#readsInFlight--;
    this.#slotWaiters.shift()?.();
  }

  #next(which: 'change' | 'room'): Promise<void> {
    let signal = which === 'change' ? this.#change : this.#room;
    if (signal === undefined) {
      let resolve = noop;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      signal = { promise, resolve };
      if (which === 'change') this.#change = signal;
      else this.#room = signal;
    }
    return signal.promise;
  }

  #wake(which: 'change' | 'room'): void {
    const signal = which === 'change' ? this.#change : this.#room;
    if (which === 'change') this.#change = undefined;
    else this.#room = undefined;
    signal?.resolve();
  }
}

function positionOf(checkpoint: Checkpoint): Position {
  return {
    sequenceNumber: checkpoint.sequenceNumber as string,
    subSequenceNumber: checkpoint.subSequenceNumber,
  };
}

function invalid(option: string, value: unknown, expected: string): KinesisSourceError {
  return new KinesisSourceError(
    `KinesisSource option ${option} must be ${expected}, got ${describeValue(value)}`,
    {
      code: 'SOURCE_INVALID_OPTIONS',
      context: { option },
    },
  );
}

function integer(option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(option, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

function resolveOptions(options: KinesisSourceOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object');
  const { client, streamName, checkpoints, startingPosition = 'TRIM_HORIZON', signal, onEvent } = options;
  if (typeof client !== 'object' || client === null || typeof client.send !== 'function') {
    throw invalid('client', client, 'a KinesisClient');
  }
  if (typeof streamName !== 'string' || !STREAM_NAME.test(streamName)) {
    throw invalid('streamName', streamName, '1 to 128 letters, digits, "_", "." or "-"');
  }
  if (
    checkpoints !== undefined &&
    (typeof checkpoints !== 'object' ||
      checkpoints === null ||
      typeof checkpoints.load !== 'function' ||
      typeof checkpoints.save !== 'function')
  ) {
    throw invalid('checkpoints', checkpoints, 'a CheckpointStore (load and save)');
  }
  let start: StartingPosition;
  if (startingPosition === 'TRIM_HORIZON' || startingPosition === 'LATEST') start = startingPosition;
  else if (
    typeof startingPosition === 'object' &&
    startingPosition !== null &&
    startingPosition.at instanceof Date &&
    !Number.isNaN(startingPosition.at.getTime())
  ) {
    start = Object.freeze({ at: new Date(startingPosition.at.getTime()) });
  } else throw invalid('startingPosition', startingPosition, '"TRIM_HORIZON", "LATEST" or { at: Date }');
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')
  ) {
    throw invalid('signal', signal, 'an AbortSignal');
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') throw invalid('onEvent', onEvent, 'a function');
  if (options.stopWhenIdle !== undefined && typeof options.stopWhenIdle !== 'boolean') {
    throw invalid('stopWhenIdle', options.stopWhenIdle, 'a boolean');
  }
  if (options.retry !== undefined && (typeof options.retry !== 'object' || options.retry === null)) {
    throw invalid('retry', options.retry, 'retry options');
  }
  const clock = options.clock ?? defaultClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.sleep !== 'function'
  ) {
    throw invalid('clock', clock, 'an object with now() and sleep(ms, signal)');
  }
  if (options.source !== undefined && (typeof options.source !== 'string' || options.source === '')) {
    throw invalid('source', options.source, 'a non-empty string');
  }
  return Object.freeze({
    client,
    streamName,
    store: checkpoints ?? new MemoryCheckpointStore(),
    startingPosition: start,
    pollIntervalMs: integer('pollIntervalMs', options.pollIntervalMs, 1_000, 0, 300_000),
    maxRecordsPerCall: integer('maxRecordsPerCall', options.maxRecordsPerCall, 10_000, 1, 10_000),
    maxConcurrentReads: integer('maxConcurrentReads', options.maxConcurrentReads, 8, 1, 1_000),
    maxBufferedRecords: integer('maxBufferedRecords', options.maxBufferedRecords, 10_000, 1, 10_000_000),
    stopWhenIdle: options.stopWhenIdle ?? false,
    idleTimeoutMs: integer('idleTimeoutMs', options.idleTimeoutMs, 5_000, 0, 86_400_000),
    signal,
    retry: Object.freeze({ ...options.retry }),
    onEvent,
    source: options.source ?? 'kinesis-source',
    clock,
  });
}
