import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  describeValue,
  type EventListener,
  emitSafely,
  type Fields,
  OptionsError,
  type Schema,
  type TributaryError,
  type ValidationIssue,
} from '@tributary/core';
import { PartitionError } from './errors.js';
import type { FileStats, RecordWriter } from './formats/types.js';
import type { ObjectInfo, Storage } from './storage.js';

/** A data file being written: a format's writer feeding the storage's upload of `key`. */
export interface StagedFile {
  /** Where the bytes go now (a staging key for hive tables, the final key for Iceberg's). */
  stagingKey: string;
  /** Where the file lives once committed. */
  finalKey: string;
  writer: RecordWriter<Record<string, unknown>>;
  sink: PassThrough;
  upload: Promise<ObjectInfo>;
}

/** Start writing a file: `createWriter` gets the sink whose bytes `storage` uploads to `stagingKey`. */
export function stageFile(
  storage: Storage,
  createWriter: (sink: PassThrough) => RecordWriter<Record<string, unknown>>,
  stagingKey: string,
  finalKey: string,
): StagedFile {
  const sink = new PassThrough();
  // Its failures reach the caller through the upload and the writer, never as an 'error' event
  // nobody listens to (destroying it is how a failed write stops its upload).
  sink.on('error', () => {});
  const writer = createWriter(sink);
  const upload = storage.put(stagingKey, sink);
  // Surface an upload failure through the writer's next write instead of an unhandled rejection.
  upload.catch((err) => sink.destroy(err instanceof Error ? err : new Error(String(err))));
  return { stagingKey, finalKey, writer, sink, upload };
}

/** Finish a staged file: its trailer written and its upload complete, or the first failure of either. */
export async function finishStaged(file: StagedFile): Promise<FileStats> {
  const [stats] = await Promise.all([file.writer.close(), file.upload]);
  return stats;
}

/**
 * Stop every upload of a failed write and wait until each has settled: ending the sinks with
 * the error makes each upload fail promptly (an upload whose stream is never ended never ends).
 */
export async function abandonStaged(files: Iterable<StagedFile>, reason: unknown): Promise<void> {
  const error = reason instanceof Error ? reason : new Error(String(reason));
  const uploads = [...files].map((file) => {
    file.sink.destroy(error);
    return file.upload;
  });
  await Promise.allSettled(uploads);
}

function partitionIssue(err: PartitionError, record: Record<string, unknown>): ValidationIssue {
  const name = String(err.context.partition);
  return {
    path: name,
    code: 'partition',
    expected: 'a value that reads back unchanged from a partition folder name',
    actual: describeValue(record[name] ?? null),
    message: err.reason,
  };
}

/** How {@link writeFiles} validates, partitions and rolls a table's records into files. */
export interface FilesPlan {
  /** The records' schema: each input is validated against it. */
  schema: Schema<Fields>;
  /** The partition folder of a valid record (`''` unpartitioned); a `PartitionError` refuses the record. */
  partitionOf(record: Record<string, unknown>): string;
  /** Start the `index`th file of a partition. */
  open(partition: string, index: number): StagedFile;
  /** What of a record goes into the file (hive tables leave field partitions out). */
  project?(record: Record<string, unknown>): Record<string, unknown>;
  maxRowsPerFile: number;
  targetFileBytes: number;
  maxOpenFiles: number;
  /** An input that fails the schema or its partitioning. */
  refuse(input: unknown, issues: ValidationIssue[]): void;
  /** A file is complete (written and uploaded). */
  closed(file: StagedFile, partition: string, stats: FileStats): void;
}

/**
 * Validate records, split them by partition and write them into files rolled by rows or bytes,
 * at most `maxOpenFiles` open at once (the longest-open one is closed to make room): the one loop
 * behind hive and Iceberg writes. Returns the rows written. On a failure every upload still in
 * flight is stopped before the error is rethrown; removing what was written is the caller's part.
 */
export async function writeFiles(
  records: AsyncIterable<unknown> | Iterable<unknown>,
  plan: FilesPlan,
): Promise<number> {
  const open = new Map<string, StagedFile>();
  const counts = new Map<string, number>();
  // Files whose close (last row group, footer, upload) runs while the next records are buffered:
  // a Parquet row group is encoded on a worker thread meanwhile. Reported in the order closed.
  const closing: { partition: string; file: StagedFile; done: Promise<FileStats> }[] = [];
  let rows = 0;
  const settleOldest = async () => {
    const { partition, file, done } = closing[0] as (typeof closing)[number];
    const stats = await done;
    // Only now: a file whose close failed is still here for abandonStaged to stop its upload.
    closing.shift();
    plan.closed(file, partition, stats);
  };
  const close = async (partition: string, file: StagedFile) => {
    open.delete(partition);
    const done = finishStaged(file);
    done.catch(() => {}); // awaited in order by settleOldest
    closing.push({ partition, file, done });
    while (closing.length > MAX_CLOSING_FILES) await settleOldest();
  };
  // Schemas built before isRecord existed (or written by hand) validate every record.
  const checksForm = typeof plan.schema.isRecord === 'function';
  const isRecord = (input: unknown): boolean => checksForm && plan.schema.isRecord(input);
  const one = async (input: unknown): Promise<void> => {
    const pending = accept(input);
    if (pending) await pending;
  };
  // One record: undefined when it was buffered (or refused) and nothing needs waiting for.
  const accept = (input: unknown): Promise<void> | undefined => {
    let record: Record<string, unknown>;
    // A record already in validated form (most are) is used as it is: nothing to coerce or allocate.
    if (isRecord(input)) record = input as Record<string, unknown>;
    else {
      const result = plan.schema.validate(input);
      if (!result.ok) {
        plan.refuse(input, result.issues);
        return undefined;
      }
      record = result.value as Record<string, unknown>;
    }
    let partition: string;
    try {
      partition = plan.partitionOf(record);
    } catch (err) {
      // A value that would not read back unchanged refuses its record, not the write.
      if (!(err instanceof PartitionError)) throw err;
      plan.refuse(input, [partitionIssue(err, record)]);
      return undefined;
    }
    const file = open.get(partition);
    if (!file) return openAndWrite(partition, record);
    return written(
      partition,
      file,
      file.writer.append ? file.writer.append(project(record)) : file.writer.write(project(record)),
    );
  };
  const project = plan.project ?? ((record: Record<string, unknown>) => record);
  const openAndWrite = async (partition: string, record: Record<string, unknown>) => {
    if (open.size >= plan.maxOpenFiles) {
      // Close the file that has been open longest: memory stays bounded by maxOpenFiles writers.
      const [oldest, oldestFile] = open.entries().next().value as [string, StagedFile];
      await close(oldest, oldestFile);
    }
    const index = counts.get(partition) ?? 0;
    counts.set(partition, index + 1);
    const file = plan.open(partition, index);
    open.set(partition, file);
    await written(partition, file, file.writer.write(project(record)));
  };
  // After a record went into `file`: count it, and close the file once it is full.
  const written = (
    partition: string,
    file: StagedFile,
    pending: Promise<void> | undefined,
  ): Promise<void> | undefined => {
    if (pending) return pending.then(() => written(partition, file, undefined));
    rows++;
    if (file.writer.rows >= plan.maxRowsPerFile || file.writer.estimatedBytes >= plan.targetFileBytes) {
      return close(partition, file);
    }
    return undefined;
  };
  try {
    // Every YIELD_EVERY records the event loop gets a turn: uploads of files written or closed
    // meanwhile go on while records are encoded, however fast the source is.
    let untilYield = YIELD_EVERY;
    if (isSyncIterable(records)) {
      // A synchronous source is read synchronously: a promise per record only when one must wait.
      for (const input of records) {
        const pending = accept(input);
        if (pending) await pending;
        if (--untilYield === 0) {
          untilYield = YIELD_EVERY;
          await nextTurn();
        }
      }
    } else {
      for await (const input of records) {
        await one(input);
        if (--untilYield === 0) {
          untilYield = YIELD_EVERY;
          await nextTurn();
        }
      }
    }
    for (const [partition, file] of [...open]) await close(partition, file);
    while (closing.length > 0) await settleOldest();
  } catch (err) {
    await abandonStaged([...open.values(), ...closing.map((c) => c.file)], err);
    throw err;
  }
  return rows;
}

/**
 * Files of one write finishing in the background at once: each holds at most its last row group
 * and what its upload has not sent yet (on S3, up to `queueSize` parts).
 */
const MAX_CLOSING_FILES = 2;
/** Records between two turns of the event loop (a turn costs about a microsecond). */
const YIELD_EVERY = 4096;

function isSyncIterable(value: AsyncIterable<unknown> | Iterable<unknown>): value is Iterable<unknown> {
  return (
    typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function' &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function'
  );
}

/** The `flush` event of a file a table write completed. */
export function emitFileFlushed(
  onEvent: EventListener | undefined,
  source: string,
  key: string,
  stats: FileStats,
): void {
  emitSafely(onEvent, {
    type: 'flush',
    source,
    count: stats.rows,
    bytes: stats.bytes,
    reason: 'file',
    target: key,
    time: Date.now(),
  });
}

/** Check a write's file limits: each positive, `maxOpenFiles` whole (`code` names the caller's error). */
export function checkFileLimits(
  limits: { maxRowsPerFile: number; targetFileBytes: number; maxOpenFiles: number },
  error: (message: string, option: string) => TributaryError = (message, option) =>
    new OptionsError(message, { code: 'DATASET_OPTIONS_INVALID', option }),
): void {
  const { maxRowsPerFile, targetFileBytes, maxOpenFiles } = limits;
  if (!(maxRowsPerFile >= 1)) throw error('maxRowsPerFile must be >= 1', 'maxRowsPerFile');
  if (!(targetFileBytes >= 1)) throw error('targetFileBytes must be >= 1', 'targetFileBytes');
  if (!(Number.isInteger(maxOpenFiles) && maxOpenFiles >= 1)) {
    throw error('maxOpenFiles must be an integer >= 1', 'maxOpenFiles');
  }
}
