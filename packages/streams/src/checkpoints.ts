import {
  classifyError,
  describeValue,
  type ErrorContext,
  optionChecks,
  TributaryError,
} from '@tributary/core';
import type { Storage } from '@tributary/lake';

/**
 * How far a consumer got in one shard: every record up to and including `sequenceNumber` (and,
 * inside a KPL aggregate, up to `subSequenceNumber`) was processed. A checkpoint without
 * `subSequenceNumber` covers the whole Kinesis record, all its user records included.
 */
export interface Checkpoint {
  /** The last processed Kinesis record of the shard (a decimal string). */
  sequenceNumber?: string;
  /** The last processed user record inside that aggregated record. */
  subSequenceNumber?: number;
  /** The shard is closed and every record of it was processed: it is never read again. */
  finished?: boolean;
}

/**
 * Where a `KinesisSource` keeps its checkpoints, one map of shard id → {@link Checkpoint} per
 * stream. `save` replaces the whole map; it must be atomic (a reader sees the old map or the new
 * one, never a mix), which the lake's storages are.
 *
 * @example
 * ```ts
 * // Any key-value client; this is the shape of node-redis' `get` and `set`.
 * declare const redis: { get(key: string): Promise<string | null>; set(key: string, value: string): Promise<unknown> };
 * const store: CheckpointStore = {
 *   load: async (stream) => JSON.parse((await redis.get(`cp:${stream}`)) ?? '{}'),
 *   save: async (stream, checkpoints) => void (await redis.set(`cp:${stream}`, JSON.stringify(checkpoints))),
 * };
 * ```
 */
export interface CheckpointStore {
  /** The saved checkpoints of `stream`, `{}` when there are none. */
  load(stream: string): Promise<Record<string, Checkpoint>>;
  save(stream: string, checkpoints: Record<string, Checkpoint>): Promise<void>;
}

/**
 * Checkpoints that cannot be used: a saved file that is not a checkpoint file
 * (`CHECKPOINT_INVALID`), or a store that failed to load or save (`CHECKPOINT_FAILED`, with the
 * storage's error as `cause` and its `retryable`).
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisSource } from '@tributary/streams/kinesis';
 *
 * const source = new KinesisSource({
 *   client: new KinesisClient({}),
 *   streamName: 'readings',
 *   checkpoints: new LakeCheckpointStore({ storage: lake.raw }),
 * });
 * // ... read and commit records ...
 * try {
 *   await source.checkpoint();
 * } catch (err) {
 *   if (err instanceof CheckpointError && err.retryable) await source.checkpoint();
 *   else throw err;
 * }
 * ```
 */
export class CheckpointError extends TributaryError {
  override name = 'CheckpointError';

  constructor(
    message: string,
    options: {
      code?: 'CHECKPOINT_INVALID' | 'CHECKPOINT_FAILED';
      cause?: unknown;
      context?: ErrorContext;
    } = {},
  ) {
    super(message, {
      code: options.code ?? 'CHECKPOINT_INVALID',
      cause: options.cause,
      context: options.context,
      retryable: options.code === 'CHECKPOINT_FAILED' && classifyError(options.cause).retryable,
    });
  }
}

const SEQUENCE_NUMBER = /^\d{1,128}$/;

const check = optionChecks('LakeCheckpointStore', 'CHECKPOINT_STORE_OPTIONS_INVALID');

/** Check a map of checkpoints and return a deep copy of it; `where` names it in errors. */
export function copyCheckpoints(value: unknown, where: string): Record<string, Checkpoint> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CheckpointError(
      `${where} must be an object of shard id → checkpoint, got ${describeValue(value)}`,
    );
  }
  const out: Record<string, Checkpoint> = {};
  for (const [shardId, checkpoint] of Object.entries(value)) {
    out[shardId] = copyCheckpoint(checkpoint, `${where}[${JSON.stringify(shardId)}]`);
  }
  return out;
}

function copyCheckpoint(value: unknown, where: string): Checkpoint {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CheckpointError(`${where} must be a checkpoint object, got ${describeValue(value)}`);
  }
  const { sequenceNumber, subSequenceNumber, finished } = value as Record<string, unknown>;
  const out: Checkpoint = {};
  if (sequenceNumber !== undefined) {
    if (typeof sequenceNumber !== 'string' || !SEQUENCE_NUMBER.test(sequenceNumber)) {
      throw new CheckpointError(
        `${where}.sequenceNumber must be a decimal string, got ${describeValue(sequenceNumber)}`,
      );
    }
    out.sequenceNumber = sequenceNumber;
  }
  if (subSequenceNumber !== undefined) {
    if (
      out.sequenceNumber === undefined ||
      typeof subSequenceNumber !== 'number' ||
      !Number.isSafeInteger(subSequenceNumber) ||
      subSequenceNumber < 0
    ) {
      throw new CheckpointError(
        `${where}.subSequenceNumber must be an integer ≥ 0 next to a sequenceNumber, got ${describeValue(subSequenceNumber)}`,
      );
    }
    out.subSequenceNumber = subSequenceNumber;
  }
  if (finished !== undefined) {
    if (typeof finished !== 'boolean') {
      throw new CheckpointError(`${where}.finished must be a boolean, got ${describeValue(finished)}`);
    }
    if (finished) out.finished = true;
  }
  return out;
}

function checkStream(stream: unknown): string {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > 128) {
    throw new CheckpointError(`A stream name must be 1 to 128 characters, got ${describeValue(stream)}`);
  }
  return stream;
}

/**
 * Checkpoints held in memory: for tests, and for runs that need not survive a restart (a
 * `KinesisSource` without a store uses one).
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisSource } from '@tributary/streams/kinesis';
 *
 * const checkpoints = new MemoryCheckpointStore();
 * const source = new KinesisSource({ client: new KinesisClient({}), streamName: 'readings', checkpoints });
 * ```
 */
export class MemoryCheckpointStore implements CheckpointStore {
  // Kept as copies, so that neither side can change the other's maps afterwards.
  readonly #byStream = new Map<string, Record<string, Checkpoint>>();

  async load(stream: string): Promise<Record<string, Checkpoint>> {
    const saved = this.#byStream.get(checkStream(stream));
    return saved === undefined ? {} : copyCheckpoints(saved, 'checkpoints');
  }

  async save(stream: string, checkpoints: Record<string, Checkpoint>): Promise<void> {
    this.#byStream.set(checkStream(stream), copyCheckpoints(checkpoints, 'checkpoints'));
  }
}

/** Where a {@link LakeCheckpointStore} keeps its files. */
export interface LakeCheckpointStoreOptions {
  /** A lake storage, e.g. the raw zone (`lake.raw`). Its writes are atomic. */
  storage: Storage;
  /** The folder of the files: `<prefix><stream>.json`. Default `_checkpoints/`, outside the data prefixes. */
  prefix?: string;
}

interface CheckpointFile {
  stream: string;
  savedAt: string;
  shards: Record<string, Checkpoint>;
}

/**
 * Checkpoints in a JSON file per stream in a lake storage (`_checkpoints/<stream>.json` by
 * default): `{ "stream", "savedAt", "shards": { "<shardId>": { "sequenceNumber", ... } } }`.
 * Each save replaces the file atomically, so a crash leaves the previous checkpoints or the new
 * ones. A missing file means no checkpoints; a file that is not a checkpoint file is an error
 * (`CHECKPOINT_INVALID`), never silently a fresh start.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisSource } from '@tributary/streams/kinesis';
 *
 * import { localLake } from '@tributary/lake';
 *
 * const lake = localLake(); // TRIBUTARY_LAKE_DIR, default .tributary/lake
 * const checkpoints = new LakeCheckpointStore({ storage: lake.raw });
 * const source = new KinesisSource({ client: new KinesisClient({}), streamName: 'readings', checkpoints });
 * ```
 */
export class LakeCheckpointStore implements CheckpointStore {
  readonly #storage: Storage;
  readonly #prefix: string;

  /** Throws core's `OptionsError` (`CHECKPOINT_STORE_OPTIONS_INVALID`) naming a wrong option. */
  constructor(options: LakeCheckpointStoreOptions) {
    check.object('options', options);
    const { storage, prefix = '_checkpoints/' } = options;
    if (typeof storage !== 'object' || storage === null || typeof storage.put !== 'function') {
      throw check.invalid('storage', storage, 'a Storage');
    }
    if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/')) || prefix.startsWith('/')) {
      throw check.invalid('prefix', prefix, 'empty or a relative folder ending with "/"');
    }
    this.#storage = storage;
    this.#prefix = prefix;
    Object.freeze(this);
  }

  /** The key of a stream's file. */
  keyOf(stream: string): string {
    return `${this.#prefix}${checkStream(stream)}.json`;
  }

  async load(stream: string): Promise<Record<string, Checkpoint>> {
    const key = this.keyOf(stream);
    let bytes: Uint8Array;
    try {
      bytes = await this.#storage.getBytes(key);
    } catch (error) {
      if (TributaryError.isInstance(error) && error.code === 'OBJECT_NOT_FOUND') return {};
      throw new CheckpointError(`Could not read the checkpoints of ${stream} at ${key}`, {
        code: 'CHECKPOINT_FAILED',
        cause: error,
        context: { stream, key },
      });
    }
    let file: unknown;
    try {
      file = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (error) {
      throw new CheckpointError(`${key} is not JSON`, { cause: error, context: { stream, key } });
    }
    const { stream: owner, shards } = (file ?? {}) as Partial<CheckpointFile>;
    if (owner !== stream) {
      throw new CheckpointError(`${key} holds the checkpoints of ${describeValue(owner)}, not of ${stream}`, {
        context: { stream, key },
      });
    }
    try {
      return copyCheckpoints(shards, `${key} shards`);
    } catch (error) {
      throw new CheckpointError((error as Error).message, { cause: error, context: { stream, key } });
    }
  }

  async save(stream: string, checkpoints: Record<string, Checkpoint>): Promise<void> {
    const key = this.keyOf(stream);
    const file: CheckpointFile = {
      stream,
      savedAt: new Date().toISOString(),
      shards: copyCheckpoints(checkpoints, 'checkpoints'),
    };
    try {
      await this.#storage.put(key, `${JSON.stringify(file, null, 2)}\n`, { contentType: 'application/json' });
    } catch (error) {
      throw new CheckpointError(`Could not save the checkpoints of ${stream} to ${key}`, {
        code: 'CHECKPOINT_FAILED',
        cause: error,
        context: { stream, key },
      });
    }
  }
}
