import type { Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { decodeNdjson, encodeNdjsonLine, type Fields, type Schema } from '@tributary/core';
import type { Storage } from '../storage.js';
import { endSink, writeTo } from './sink.js';
import type { FileFormat, FileStats, ReadOptions, RecordWriter, WriterOptions } from './types.js';

class NdjsonWriter<R> implements RecordWriter<R> {
  rows = 0;
  #bytes = 0;
  readonly #out: Writable;
  readonly #gzip: boolean;
  readonly #sink: Writable;

  constructor(sink: Writable, gzip: boolean) {
    this.#sink = sink;
    this.#gzip = gzip;
    if (gzip) {
      const zip = createGzip();
      zip.on('data', (chunk: Buffer) => {
        this.#bytes += chunk.byteLength;
      });
      zip.pipe(sink);
      this.#out = zip;
    } else {
      this.#out = sink;
    }
  }

  get estimatedBytes(): number {
    // gzip output lags its input; the text written is a fair upper bound for rolling files.
    return this.#bytes;
  }

  async write(record: R): Promise<void> {
    const line = encodeNdjsonLine(record);
    this.rows++;
    if (!this.#gzip) this.#bytes += Buffer.byteLength(line);
    await writeTo(this.#out, line);
  }

  async close(): Promise<FileStats> {
    if (this.#gzip) {
      await endSink(this.#out);
      await new Promise<void>((resolve, reject) => {
        if (this.#sink.writableFinished) resolve();
        this.#sink.once('finish', resolve);
        this.#sink.once('error', reject);
      });
    } else {
      await endSink(this.#out);
    }
    return { rows: this.rows, bytes: this.#bytes };
  }
}

/**
 * Newline-delimited JSON, optionally gzipped: one compact object per line, Dates as ISO-8601
 * UTC, bigints as exact integers (core's encoding). Reading validates each line with the schema.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs';
 *
 * const writer = ndjsonFormat.createWriter(createWriteStream('part.ndjson.gz'), readingSchema, { gzip: true });
 * for await (const reading of readings) await writer.write(reading);
 * await writer.close();
 * ```
 */
export const ndjsonFormat: FileFormat = {
  name: 'ndjson',
  extension: (options?: WriterOptions) => (options?.gzip ? '.ndjson.gz' : '.ndjson'),
  createWriter<F extends Fields>(sink: Writable, _schema: Schema<F>, options: WriterOptions = {}) {
    return new NdjsonWriter<Schema<F>['$record']>(sink, options.gzip ?? false);
  },
  async *read<F extends Fields>(storage: Storage, key: string, schema: Schema<F>, options: ReadOptions = {}) {
    const body = await storage.get(key, { signal: options.signal });
    let source: NodeJS.ReadableStream = body;
    if (key.endsWith('.gz')) {
      const gunzip = createGunzip();
      // pipe() does not forward errors: a failed download must fail the read, not end it early.
      body.on('error', (err) => gunzip.destroy(err));
      source = body.pipe(gunzip);
    }
    for await (const record of decodeNdjson(source as AsyncIterable<Uint8Array>, { schema })) {
      yield record as Schema<F>['$record'];
    }
  },
};
