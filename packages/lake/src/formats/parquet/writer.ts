import type { Writable } from 'node:stream';
import type { Fields, Schema } from '@tributary/core';
import type { FileMetaData, RowGroup, SchemaElement } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { endSink, writeTo } from '../sink.js';
import type { ColumnStats, FileStats, RecordWriter } from '../types.js';
import { compareUtf8, LeafBuffer } from './column-buffer.js';
import { type ChunkResult, type Codec, writeColumnChunk } from './column-chunk.js';
import { type EncodePool, poolFor } from './encode-pool.js';
import { ParquetError, wrapParquetError } from './errors.js';
import { type EncodedRowGroup, shiftChunk } from './row-group-task.js';
import { type LeafSpec, planSchema, type SchemaPlanOptions } from './schema.js';

const MAGIC = 0x31524150; // "PAR1"
/** Hand bytes to the sink once this many are pending, so the encoder's buffer stays small. */
const SINK_CHUNK_BYTES = 1 << 20;
/**
 * Longest string kept whole in column statistics: ids, codes and names stay exact (so engines can
 * prune on them), while a column of long texts does not bloat the footer; longer values get a
 * shorter, still valid bound flagged inexact.
 */
export const STATISTICS_MAX_BYTES = 256;
export const CREATED_BY = 'tributary';
/** About what a column chunk's metadata takes in the footer, besides its min/max. */
const CHUNK_FOOTER_BYTES = 96;
/**
 * Row groups of one writer being encoded on workers at once: the encoding of one overlaps the
 * buffering of the next, and memory stays bounded by this many groups plus the one buffering.
 */
export const MAX_GROUPS_IN_FLIGHT = 2;

function statisticsBytes(leaf: LeafBuffer): number {
  const size = (v: unknown) =>
    typeof v === 'string' ? Math.min(STATISTICS_MAX_BYTES, v.length * 2) : v === undefined ? 0 : 16;
  return size(leaf.min) + size(leaf.max) + leaf.spec.path.join('.').length;
}

export interface ParquetWriterConfig {
  readonly rowGroupBytes: number;
  readonly compression: Codec;
  /** Field ids and the timestamp unit, for table formats that need them (Iceberg). */
  readonly schemaPlan?: SchemaPlanOptions;
  /**
   * Where row groups are encoded: by default the process-wide pool (`TRIBUTARY_PARQUET_WORKERS`)
   * for groups of at least `MIN_POOL_BYTES`; a given pool takes every group; `null`, always
   * inline. The bytes are the same either way.
   */
  readonly encodePool?: EncodePool | null;
}

/** Fold one row group's column into the file's statistics of that column. */
function addColumnStats(stats: ColumnStats, leaf: LeafBuffer, storedBytes: number): void {
  stats.valueCount += leaf.slots;
  stats.nullCount += leaf.nullCount;
  stats.storedBytes += storedBytes;
  const { min, max } = leaf;
  if (min === undefined || max === undefined) return;
  const less =
    typeof min === 'string'
      ? (a: unknown, b: unknown) => compareUtf8(a as string, b as string) < 0
      : (a: unknown, b: unknown) => (a as number) < (b as number);
  if (stats.min === undefined || less(min, stats.min)) stats.min = min;
  if (stats.max === undefined || less(stats.max, max)) stats.max = max;
}

/** A row group's buffers, detached from the writer so that records keep arriving while it is encoded. */
interface PendingGroup {
  leaves: LeafBuffer[];
  rows: number;
  /** Plain-encoded bytes of its columns. */
  bytes: number;
}

const ignore = () => {};

/**
 * Buffers records column-wise and writes a row group each time the buffered column data reaches
 * `rowGroupBytes`; the footer is written on `close()`.
 */
export class ParquetRecordWriter<R> implements RecordWriter<R> {
  rows = 0;
  readonly #sink: Writable;
  readonly #config: ParquetWriterConfig;
  readonly #elements: SchemaElement[];
  readonly #specs: LeafSpec[];
  readonly #out = new ByteWriter(SINK_CHUNK_BYTES);
  readonly #rowGroups: RowGroup[] = [];
  readonly #columnStats: ColumnStats[];
  #leaves: LeafBuffer[];
  #groupRows = 0;
  #written = 0;
  /** Bytes the sink received per plain-encoded byte so far: turns buffered bytes into an estimate. */
  #ratio = 1;
  #encodedRaw = 0;
  #encodedStored = 0;
  /** A running estimate of the footer's size: schema, then each column chunk's metadata. */
  #footerBytes = 64;
  #chain: Promise<void> = Promise.resolve();
  /** Row groups sent to workers and not yet in the file, oldest first: settle in order, never reject. */
  readonly #inFlight: Promise<void>[] = [];
  /** Their plain-encoded bytes, which the estimate counts at the current ratio. */
  #inFlightBytes = 0;
  #error: unknown;
  #closing: Promise<FileStats> | undefined;

  constructor(sink: Writable, schema: Schema<Fields>, config: ParquetWriterConfig) {
    this.#sink = sink;
    this.#config = config;
    const { elements, leaves } = planSchema(schema, config.schemaPlan);
    this.#elements = elements;
    this.#specs = leaves;
    this.#columnStats = leaves.map((leaf) => ({
      name: leaf.name,
      valueCount: 0,
      nullCount: 0,
      storedBytes: 0,
    }));
    this.#leaves = this.#specs.map((spec) => new LeafBuffer(spec, 1024));
    this.#out.appendUint32(MAGIC);
    for (const element of elements) this.#footerBytes += 16 + element.name.length;
    // A sink that fails while no write is pending must not crash the process; the next call reports it.
    sink.on('error', (err) => {
      this.#error ??= wrapParquetError(err, 'PARQUET_WRITE_FAILED', 'the Parquet sink failed');
    });
  }

  get estimatedBytes(): number {
    if (this.#closing && !this.#error) return this.#written + this.#out.index;
    const buffered = this.#bufferedBytes() + this.#inFlightBytes;
    const groups = this.#inFlight.length + (this.#groupRows > 0 ? 1 : 0);
    const pendingFooter = groups * this.#leaves.length * CHUNK_FOOTER_BYTES;
    return (
      this.#written + this.#out.index + Math.round(buffered * this.#ratio) + this.#footerBytes + pendingFooter
    );
  }

  #bufferedBytes(): number {
    let bytes = 0;
    for (const leaf of this.#leaves) bytes += leaf.bytes;
    return bytes;
  }

  async write(record: R): Promise<void> {
    await this.append(record);
  }

  append(record: R): Promise<void> | undefined {
    if (this.#error) throw this.#error;
    if (this.#closing) {
      throw new ParquetError('write() after close()', { code: 'PARQUET_WRITER_CLOSED' });
    }
    const source = record as Record<string, unknown>;
    const leaves = this.#leaves;
    const specs = this.#specs;
    let i = 0;
    try {
      for (; i < leaves.length; i++) (leaves[i] as LeafBuffer).push(source[(specs[i] as LeafSpec).name]);
    } catch (err) {
      // Keep the columns aligned: the record is refused whole and the writer stays usable.
      for (let j = 0; j <= i && j < leaves.length; j++) (leaves[j] as LeafBuffer).rollback();
      throw err;
    }
    this.rows++;
    this.#groupRows++;
    return this.#bufferedBytes() >= this.#config.rowGroupBytes ? this.#flushRowGroup() : undefined;
  }

  /**
   * Detach the buffered rows and queue their encoding after any row group still being written.
   * Inline (no pool, or no worker idle), the returned promise is the group's write; on a worker,
   * the group is sent now and the caller waits only while more than {@link MAX_GROUPS_IN_FLIGHT}
   * groups are in flight.
   */
  #flushRowGroup(): Promise<void> | undefined {
    if (this.#groupRows === 0) return undefined;
    for (const leaf of this.#leaves) leaf.seal();
    const group: PendingGroup = {
      leaves: this.#leaves,
      rows: this.#groupRows,
      bytes: this.#bufferedBytes(),
    };
    // The next group will likely be as large: its buffers start at this size (on their first value).
    this.#leaves = this.#specs.map((spec, i) => new LeafBuffer(spec, group.leaves[i]?.slots ?? 1024));
    this.#groupRows = 0;
    const pool = this.#config.encodePool === undefined ? poolFor(group.bytes) : this.#config.encodePool;
    // No worker idle (or none at all): this thread encodes the group, and the caller waits for it.
    const encoded = pool?.encode(group.leaves, this.#config.compression);
    if (!encoded) {
      this.#chain = this.#chain.then(() => this.#writeRowGroup(group));
      return this.#chain;
    }
    // Its failure is reported when the group's turn comes (below), not as an unhandled rejection.
    encoded.catch(ignore);
    this.#inFlightBytes += group.bytes;
    const written = this.#chain.then(() => this.#writeEncoded(group, encoded));
    this.#chain = written;
    // A failure sets #error, which the next append() and close() throw.
    const settled = written.then(ignore, ignore).then(() => {
      this.#inFlight.shift();
      this.#inFlightBytes -= group.bytes;
    });
    this.#inFlight.push(settled);
    if (this.#inFlight.length <= MAX_GROUPS_IN_FLIGHT) return undefined;
    return (this.#inFlight[0] as Promise<void>).then(() => {
      if (this.#error) throw this.#error;
    });
  }

  async #flushOut(): Promise<void> {
    const out = this.#out;
    if (out.index === 0) return;
    // Copy: the writer's buffer is reused for the next bytes.
    const chunk = Buffer.from(out.getBytes());
    out.index = 0;
    await this.#send(chunk);
  }

  async #send(chunk: Buffer): Promise<void> {
    try {
      await writeTo(this.#sink, chunk);
    } catch (err) {
      throw wrapParquetError(err, 'PARQUET_WRITE_FAILED', 'the Parquet sink failed');
    }
    this.#written += chunk.byteLength;
  }

  /** Encode a row group on this thread, straight into the file's buffer. */
  async #writeRowGroup(group: PendingGroup): Promise<void> {
    if (this.#error) throw this.#error;
    const out = this.#out;
    const start = out.offset;
    const chunks: ChunkResult[] = [];
    try {
      for (const leaf of group.leaves) {
        const chunkWriter = writeColumnChunk(out, leaf, this.#config.compression);
        for (let step = chunkWriter.next(); ; step = chunkWriter.next()) {
          if (step.done) {
            chunks.push(step.value);
            break;
          }
          if (out.index >= SINK_CHUNK_BYTES) await this.#flushOut();
        }
      }
      this.#addRowGroup(group, chunks, start, out.offset - start);
      await this.#flushOut();
    } catch (err) {
      this.#error ??= wrapParquetError(err, 'PARQUET_WRITE_FAILED', 'writing a Parquet row group failed');
      throw this.#error;
    }
  }

  /**
   * Append a row group a worker encoded at offset 0 where the file stands now (its turn in the
   * chain), shifting its chunks' offsets.
   */
  async #writeEncoded(group: PendingGroup, encoded: Promise<EncodedRowGroup>): Promise<void> {
    if (this.#error) throw this.#error;
    try {
      const result = await encoded;
      if (this.#error) throw this.#error;
      await this.#flushOut();
      const out = this.#out;
      const start = out.offset;
      const base = BigInt(start);
      for (const { chunk } of result.chunks) shiftChunk(chunk, base);
      const { bytes } = result;
      // The worker's buffer goes to the sink as it is; the file's buffer only moves its offset on.
      await this.#send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      out.offset += bytes.byteLength;
      this.#addRowGroup(group, result.chunks, start, bytes.byteLength);
    } catch (err) {
      this.#error ??= wrapParquetError(err, 'PARQUET_WRITE_FAILED', 'writing a Parquet row group failed');
      throw this.#error;
    }
  }

  /** A row group's bytes are in the file: its footer entry and the file's statistics. */
  #addRowGroup(group: PendingGroup, chunks: readonly ChunkResult[], start: number, stored: number): void {
    const columns: RowGroup['columns'] = [];
    let totalBytes = 0n;
    let raw = 0;
    for (const [i, leaf] of group.leaves.entries()) {
      const { chunk, uncompressedBytes } = chunks[i] as ChunkResult;
      columns.push(chunk);
      addColumnStats(
        this.#columnStats[i] as ColumnStats,
        leaf,
        Number(chunk.meta_data?.total_compressed_size ?? 0n),
      );
      this.#footerBytes += CHUNK_FOOTER_BYTES + statisticsBytes(leaf);
      totalBytes += chunk.meta_data?.total_uncompressed_size ?? 0n;
      raw += uncompressedBytes;
    }
    this.#rowGroups.push({
      columns,
      num_rows: BigInt(group.rows),
      total_byte_size: totalBytes,
      total_compressed_size: BigInt(stored),
      file_offset: BigInt(start),
    });
    this.#encodedRaw += raw;
    this.#encodedStored += stored;
    if (this.#encodedRaw > 0) this.#ratio = this.#encodedStored / this.#encodedRaw;
  }

  close(): Promise<FileStats> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<FileStats> {
    if (this.#error) throw this.#error;
    await this.#flushRowGroup();
    // Everything in flight, in order; a failure of any group rejects here with its error.
    await this.#chain;
    try {
      let numRows = 0n;
      for (const group of this.#rowGroups) numRows += group.num_rows;
      const metadata: FileMetaData = {
        version: 2,
        created_by: CREATED_BY,
        schema: this.#elements,
        num_rows: numRows,
        row_groups: this.#rowGroups,
        metadata_length: 0, // not serialized: the footer writer measures it
      };
      writeMetadata(this.#out, metadata, STATISTICS_MAX_BYTES);
      this.#out.appendUint32(MAGIC);
      await this.#flushOut();
      await endSink(this.#sink);
    } catch (err) {
      this.#error ??= wrapParquetError(err, 'PARQUET_WRITE_FAILED', 'writing the Parquet footer failed');
      throw this.#error;
    }
    return { rows: this.rows, bytes: this.#written, columns: this.#columnStats };
  }
}
