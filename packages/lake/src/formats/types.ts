import type { Writable } from 'node:stream';
import type { Fields, Schema } from '@tributary/core';
import type { Storage } from '../storage.js';

// biome-ignore lint/suspicious/noExplicitAny: any schema
export type AnySchema = Schema<any>;

/** The file formats the lake writes and reads. */
export type FormatName = 'parquet' | 'ndjson' | 'csv';

export interface FileStats {
  rows: number;
  /** Bytes written to the sink (the file's size). */
  bytes: number;
  /** Parquet: each column's statistics over the whole file, in the schema's column order. */
  columns?: ColumnStats[];
}

/**
 * What a file's writer saw of one column: what table formats put in their metadata so engines
 * can prune (Iceberg's value and null counts, bounds and column sizes).
 */
export interface ColumnStats {
  /** The schema field. */
  name: string;
  /** Values stored, nulls included (for a list: its elements, plus one per null or empty list). */
  valueCount: number;
  /** Nulls (for a list: null or empty lists). */
  nullCount: number;
  /**
   * The smallest and largest non-null value in stored form: numbers for int32 and doubles, days
   * for dates, bigint for int64, timestamps (in the file's unit) and unscaled decimals, strings,
   * booleans. Absent when the column holds no value.
   */
  min?: number | bigint | string | boolean;
  max?: number | bigint | string | boolean;
  /** Bytes of the column's chunks as stored (compressed, with page headers). */
  storedBytes: number;
}

/**
 * Writes records of one schema into one file, as a stream: memory stays bounded by what the
 * format must hold (a Parquet row group; a line for NDJSON and CSV).
 */
export interface RecordWriter<R = Record<string, unknown>> {
  /** Add a record (already valid for the schema). Waits when the sink needs to drain. */
  write(record: R): Promise<void>;
  /**
   * `write` without a promise for the records that need no wait: returns `undefined` when the
   * record is buffered, or the promise to wait for (a row group being written). Optional; a
   * writer of many small records implements it so that a caller's loop stays synchronous.
   */
  append?(record: R): Promise<void> | undefined;
  /** Write what is buffered and the file's trailer; ends the sink. */
  close(): Promise<FileStats>;
  /** Rows accepted so far. */
  readonly rows: number;
  /** Bytes handed to the sink so far plus a fair estimate of what is buffered: for rolling files by size. */
  readonly estimatedBytes: number;
}

export interface WriterOptions {
  /** NDJSON: gzip the file. */
  gzip?: boolean;
  /** Parquet: a row group is written once its buffered column data reaches about this many bytes. */
  rowGroupBytes?: number;
  /** Parquet: `SNAPPY` (default) or `UNCOMPRESSED`. */
  compression?: 'SNAPPY' | 'UNCOMPRESSED';
}

export interface ReadOptions {
  /** Only these columns (Parquet reads only their column chunks). */
  columns?: string[];
  /**
   * Parquet: match the schema's columns to the file's by field id (Iceberg's column ids, by
   * field name) when the file carries ids; by name otherwise.
   */
  fieldIds?: ReadonlyMap<string, number>;
  signal?: AbortSignal;
}

/** One file format: how to write a file and read it back, with the schema's types. */
export interface FileFormat {
  readonly name: FormatName;
  /** File name extension including the dot, given the options (`.ndjson.gz` when gzipped). */
  extension(options?: WriterOptions): string;
  createWriter<F extends Fields>(
    sink: Writable,
    schema: Schema<F>,
    options?: WriterOptions,
  ): RecordWriter<Schema<F>['$record']>;
  read<F extends Fields>(
    storage: Storage,
    key: string,
    schema: Schema<F>,
    options?: ReadOptions,
  ): AsyncIterable<Schema<F>['$record']>;
}
