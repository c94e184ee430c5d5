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
}

/**
 * Writes records of one schema into one file, as a stream: memory stays bounded by what the
 * format must hold (a Parquet row group; a line for NDJSON and CSV).
 */
export interface RecordWriter<R = Record<string, unknown>> {
  /** Add a record (already valid for the schema). Waits when the sink needs to drain. */
  write(record: R): Promise<void>;
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
