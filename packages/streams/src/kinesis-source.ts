import type { Shard } from '@aws-sdk/client-kinesis';
import {
  addSdkRetryEvents,
  classifyError,
  describeValue,
  emitSafely,
  type SdkMiddlewareHost,
  TributaryError,
  type TributaryErrorOptions,
  withRetry,
} from '@tributary/core';
import { type Checkpoint, copyCheckpoints } from './checkpoints.js';
import {
  type KinesisSourceOptions,
  type ResolvedSourceOptions,
  resolveSourceOptions,
} from './kinesis-source-options.js';
import { RecordQueue, Wakeup } from './record-queue.js';
import {
  comparePositions,
  listShards,
  newShardState,
  nothingToRead,
  type Position,
  parentsFinished,
  positionOf,
  type ShardState,
} from './shard-discovery.js';
import {
  type KinesisSourceRecord,
  type ReadRecord,
  ReadSlots,
  readShard,
  type ShardReaderHost,
} from './shard-reader.js';

// The source's parts: its options (kinesis-source-options.ts), the shards and how they are listed
// (shard-discovery.ts), the reader of one shard (shard-reader.ts) and the queue (record-queue.ts).
// This class schedules the readers, hands records to the consumer and keeps the checkpoints.
export type {
  KinesisSourceClock,
  KinesisSourceOptions,
  StartingPosition,
} from './kinesis-source-options.js';
export type { KinesisSourceRecord } from './shard-reader.js';

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

/** The codes of a {@link KinesisSourceError}. */
export type KinesisSourceErrorCode =
  | 'SOURCE_READ_FAILED'
  | 'SOURCE_ALREADY_STARTED'
  | 'SOURCE_COMMIT_INVALID';

/**
 * A source is iterated twice (`SOURCE_ALREADY_STARTED`), `commit` got a record it cannot place
 * (`SOURCE_COMMIT_INVALID`), or reading failed for good (`SOURCE_READ_FAILED`, with the SDK's
 * error as `cause` and `context.shardId`). Wrong options are core's `OptionsError`
 * (`SOURCE_OPTIONS_INVALID`, `option` names the option).
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
    options: Omit<TributaryErrorOptions, 'code'> & { code?: KinesisSourceErrorCode } = {},
  ) {
    super(message, { ...options, code: options.code ?? 'SOURCE_READ_FAILED' });
  }
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
  readonly #o: ResolvedSourceOptions;
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
  readonly #queue = new RecordQueue<KinesisSourceRecord>();
  // Woken when records are queued or the source ends (the consumer waits), and when the consumer
  // made room (full readers wait).
  readonly #change = new Wakeup();
  readonly #room = new Wakeup();
  readonly #slots: ReadSlots;
  readonly #host: ShardReaderHost;
  #started = false;
  #firstRun = true;
  #listed: Set<string> | undefined;
  #listing: Promise<void> | undefined;
  #relistWanted = false;
  // 'drain': yield what is queued, then end; 'stop': end now.
  #ending: 'drain' | 'stop' | undefined;
  #error: KinesisSourceError | undefined;
  #version = 0;
  // Nothing to save until a commit (or a finished shard) changes the loaded checkpoints.
  #savedVersion = 0;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: KinesisSourceOptions) {
    this.#o = resolveSourceOptions(options);
    this.#slots = new ReadSlots(this.#o.maxConcurrentReads, this.#controller.signal);
    this.#host = this.#readerHost();
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
        code: 'SOURCE_COMMIT_INVALID',
        context: { stream: this.#o.streamName },
      });
    }
    const { shardId, sequenceNumber, subSequenceNumber } = record;
    const shard = this.#shards.get(shardId);
    if (shard === undefined || typeof sequenceNumber !== 'string' || !/^\d{1,128}$/.test(sequenceNumber)) {
      throw new KinesisSourceError(
        `commit got a record of shard ${describeValue(shardId)} at ${describeValue(sequenceNumber)}, which this source did not read`,
        { code: 'SOURCE_COMMIT_INVALID', context: { stream: this.#o.streamName, shardId } },
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
    this.#saving = run.catch(() => {});
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
        const record = this.#queue.shift();
        if (record !== undefined) {
          this.#stats.records++;
          if (this.#room.waiting && this.#queue.size < this.#o.maxBufferedRecords) this.#room.wake();
          yield record;
          continue;
        }
        if (this.#ending === 'drain') return;
        await this.#change.wait();
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

  /** What the shard readers see of this source. */
  #readerHost(): ShardReaderHost {
    return {
      options: this.#o,
      signal: this.#controller.signal,
      slots: this.#slots,
      stats: this.#stats,
      checkpointOf: (shardId) => this.#committed.get(shardId),
      waitForRoom: async () => {
        while (this.#queue.size >= this.#o.maxBufferedRecords && this.#ending === undefined) {
          await this.#room.wait();
        }
      },
      enqueue: (records: readonly ReadRecord[]) => {
        for (const { record, whole } of records) {
          this.#wholeRecord.set(record, whole);
          this.#queue.push(record);
        }
        this.#change.wake();
      },
      shardEnded: (shard) => {
        this.#finishShard(shard);
        void this.#discover();
      },
      polled: () => this.#checkIdle(),
      prepare: (command) => this.#counted(command),
    };
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
        const shards = await listShards(this.#o.client, this.#o.streamName, {
          signal: this.#controller.signal,
          prepare: (command) => this.#counted(command),
        });
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

  #addShards(listed: readonly Shard[], initial: boolean): void {
    this.#listed = new Set();
    for (const shard of listed) {
      const id = shard.ShardId;
      if (id === undefined) continue;
      this.#listed.add(id);
      if (this.#shards.has(id)) continue;
      // Shards that appear while we read, and shards a previous run had no position for, may
      // hold records nobody processed yet: they start at their beginning.
      const start = initial && this.#firstRun ? this.#o.startingPosition : 'TRIM_HORIZON';
      this.#shards.set(id, newShardState(id, shard, start));
    }
  }

  /** Starts every waiting shard whose parents are finished (or gone past the retention). */
  #schedule(): void {
    let changed = true;
    while (changed && this.#ending === undefined) {
      changed = false;
      for (const shard of this.#shards.values()) {
        if (shard.status !== 'waiting' || !parentsFinished(shard, this.#shards)) continue;
        if (nothingToRead(shard, this.#committed.get(shard.id))) {
          this.#finishShard(shard);
          changed = true;
          continue;
        }
        shard.status = 'reading';
        const reader = readShard(shard, this.#host)
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

  /**
   * The client retries each call itself (its `maxAttempts` / `retryStrategy`); its retries are
   * reported as `retry` events by core's middleware, added to the command, not to the user's client.
   */
  #counted<C extends SdkMiddlewareHost>(command: C): C {
    return addSdkRetryEvents(command, { source: this.#o.source, onEvent: this.#o.onEvent });
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

  /** Ends the iteration; aborting the controller stops every reader's wait and call, and frees their slots. */
  #end(how: 'drain' | 'stop'): void {
    if (this.#ending === 'stop' || this.#ending === how) return;
    this.#ending = how;
    this.#controller.abort();
    this.#change.wake();
    this.#room.wake();
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
}
