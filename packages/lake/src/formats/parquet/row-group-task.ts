// A row group as it travels to an encoding worker and back: the main thread's LeafBuffers become a
// message (its typed arrays transferred), the worker rebuilds them and runs
// the same `writeColumnChunk` as the inline path into a buffer that starts at offset 0, and the
// writer shifts the chunks' offsets to where the bytes land in the file. Errors come back as data
// and are rebuilt as the same classes and codes the inline path throws.
import { ConfigError, type ErrorContext, TributaryError } from '@tributary/core';
import type { ColumnChunk } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { LeafBuffer } from './column-buffer.js';
import { type ChunkResult, type Codec, writeColumnChunk } from './column-chunk.js';
import { ParquetError, type ParquetErrorCode } from './errors.js';
import type { LeafSpec } from './schema.js';

type Stat = LeafBuffer['min'];
type NumericArray = Uint8Array | Int32Array | BigInt64Array | Float64Array;
type Levels = Uint8Array | undefined;

/** One leaf's buffered values: what `writeColumnChunk` reads of a LeafBuffer. */
export interface LeafPayload {
  spec: LeafSpec;
  slots: number;
  nullCount: number;
  bytes: number;
  min: Stat;
  max: Stat;
  definitionLevels: Levels;
  repetitionLevels: Levels;
  /** The filled part of the value store (a BYTE_ARRAY leaf's UTF-8 bytes). */
  values: NumericArray;
  /** A BYTE_ARRAY leaf's text ends, and its codes if it is coded (see TextBuffer). */
  ends?: Int32Array;
  codes?: Int32Array;
}

/** A row group to encode. */
export interface RowGroupTask {
  compression: Codec;
  leaves: LeafPayload[];
}

/** A row group's bytes, encoded as if the group started at file offset 0, and its column chunks. */
export interface EncodedRowGroup {
  bytes: Uint8Array;
  chunks: ChunkResult[];
}

/** The message for a worker and the buffers to transfer with it (every buffer: nothing is copied). */
export function rowGroupTask(
  leaves: readonly LeafBuffer[],
  compression: Codec,
): {
  task: RowGroupTask;
  transfer: ArrayBuffer[];
} {
  const transfer = new Set<ArrayBuffer>();
  const filled = (g: { data: NumericArray; length: number }): NumericArray => {
    transfer.add(g.data.buffer as ArrayBuffer);
    return g.data.subarray(0, g.length);
  };
  const payloads = leaves.map((leaf): LeafPayload => {
    const store = leaf.store;
    return {
      spec: leaf.spec,
      slots: leaf.slots,
      nullCount: leaf.nullCount,
      bytes: leaf.bytes,
      min: leaf.min,
      max: leaf.max,
      definitionLevels: leaf.definitionLevels && (filled(leaf.definitionLevels) as Uint8Array),
      repetitionLevels: leaf.repetitionLevels && (filled(leaf.repetitionLevels) as Uint8Array),
      ...(store.type === 'BYTE_ARRAY'
        ? {
            values: filled(store.text.bytes),
            ends: filled(store.text.ends) as Int32Array,
            ...(store.text.codes ? { codes: filled(store.text.codes) as Int32Array } : {}),
          }
        : { values: filled(store.values as GrowableOf<NumericArray>) }),
    };
  });
  return { task: { compression, leaves: payloads }, transfer: [...transfer] };
}

type GrowableOf<T> = { data: T; length: number };

function restore(target: GrowableOf<NumericArray> | undefined, data: NumericArray | undefined): void {
  if (!target || !data) return;
  target.data = data;
  target.length = data.length;
}

/** The worker's side: LeafBuffers holding exactly what the main thread's held. */
export function leavesOf(task: RowGroupTask): LeafBuffer[] {
  return task.leaves.map((payload) => {
    const leaf = new LeafBuffer(payload.spec, 0);
    leaf.slots = payload.slots;
    leaf.nullCount = payload.nullCount;
    leaf.bytes = payload.bytes;
    leaf.min = payload.min;
    leaf.max = payload.max;
    restore(leaf.definitionLevels, payload.definitionLevels);
    restore(leaf.repetitionLevels, payload.repetitionLevels);
    const store = leaf.store;
    if (store.type === 'BYTE_ARRAY') {
      store.text.adopt(payload.values as Uint8Array, payload.ends as Int32Array, payload.codes);
    } else restore(store.values as GrowableOf<NumericArray>, payload.values);
    return leaf;
  });
}

/** Encode a whole row group into one buffer that starts at offset 0 (the worker's part). */
export function encodeRowGroup(leaves: readonly LeafBuffer[], compression: Codec): EncodedRowGroup {
  let plain = 0;
  for (const leaf of leaves) plain += leaf.bytes;
  const out = new ByteWriter(Math.max(1 << 16, Math.ceil(plain)));
  const chunks: ChunkResult[] = [];
  for (const leaf of leaves) {
    const chunkWriter = writeColumnChunk(out, leaf, compression);
    let step = chunkWriter.next();
    while (!step.done) step = chunkWriter.next();
    chunks.push(step.value);
  }
  return { bytes: out.getBytes(), chunks };
}

/** Move a chunk encoded at offset 0 to where its row group starts in the file. */
export function shiftChunk(chunk: ColumnChunk, base: bigint): void {
  chunk.file_offset += base;
  if (chunk.offset_index_offset !== undefined) chunk.offset_index_offset += base;
  if (chunk.column_index_offset !== undefined) chunk.column_index_offset += base;
  const meta = chunk.meta_data;
  if (!meta) return;
  meta.data_page_offset += base;
  if (meta.dictionary_page_offset !== undefined) meta.dictionary_page_offset += base;
  if (meta.index_page_offset !== undefined) meta.index_page_offset += base;
  if (meta.bloom_filter_offset !== undefined) meta.bloom_filter_offset += base;
}

/** An error as it crosses the thread boundary (class instances lose their class in a message). */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string;
  /** Set for tributary errors. */
  code?: string;
  context?: ErrorContext;
  retryable?: boolean;
  cause?: ErrorData;
}

export function errorData(err: unknown): ErrorData {
  if (!(err instanceof Error) && !TributaryError.isInstance(err))
    return { name: 'Error', message: String(err) };
  const data: ErrorData = { name: err.name, message: err.message, stack: err.stack };
  if (TributaryError.isInstance(err)) {
    data.code = err.code;
    data.context = { ...err.context };
    data.retryable = err.retryable;
  }
  if (err.cause !== undefined) data.cause = errorData(err.cause);
  return data;
}

/**
 * The error the inline path would have thrown: a `ConfigError` (e.g. `TRIBUTARY_PARQUET_SNAPPY`),
 * a `ParquetError` with its code, another tributary error as a `TributaryError` with its code and
 * name, or a plain `Error` with the worker's message and stack (which the writer wraps, as inline).
 */
export function errorFromData(data: ErrorData): Error {
  const cause = data.cause && errorFromData(data.cause);
  let err: Error;
  if (data.code === undefined) {
    err = new Error(data.message, cause === undefined ? undefined : { cause });
    err.name = data.name;
  } else if (data.name === 'ConfigError') {
    err = new ConfigError(data.message, data.context, cause);
  } else if (data.code.startsWith('PARQUET_')) {
    err = new ParquetError(data.message, {
      code: data.code as ParquetErrorCode,
      context: data.context,
      retryable: data.retryable,
      cause,
    });
  } else {
    err = new TributaryError(data.message, {
      code: data.code,
      context: data.context,
      retryable: data.retryable,
      cause,
    });
    err.name = data.name;
  }
  if (data.stack !== undefined) err.stack = data.stack;
  return err;
}
