// Writes one column chunk with Parquet V1 data pages (DataPageHeader), using hyparquet-writer's
// building blocks: ByteWriter, the thrift page header writer, the RLE/bit-packed hybrid encoder,
// PLAIN encoding, the dictionary heuristic, and snappy. Every page header carries the page's CRC-32. The flow of `writeColumnChunk`
// follows hyparquet-writer's `writeColumn` (src/column.js, MIT License, Copyright (c) Hyperparam),
// which only writes DATA_PAGE_V2 pages: a V1 page puts the length-prefixed levels inside the
// compressed body, `[u32][repetition levels][u32][definition levels][values]`, which Spark, Hive,
// Athena and Redshift Spectrum all read.
import type {
  ColumnChunk,
  ColumnMetaData,
  DecodedArray,
  Encoding,
  SchemaElement,
  Statistics,
} from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { writePlain } from 'hyparquet-writer/src/plain.js';
import { pageChecksum } from './checksum.js';
import { pageCompressor } from './codecs.js';
import { type LeafBuffer, timestampInt64 } from './column-buffer.js';
import { buildDictionary } from './dictionary.js';
import type { TimestampUnit } from './schema.js';
import type { TextBuffer } from './text-buffer.js';

export type Codec = 'SNAPPY' | 'UNCOMPRESSED';
type PageEncodingStats = NonNullable<ColumnMetaData['encoding_stats']>[number];

/** Target uncompressed size of a data page (hyparquet-writer's and parquet-mr's default). */
export const PAGE_BYTES = 1 << 20;

interface Page {
  slotStart: number;
  slotEnd: number;
  valueStart: number;
  valueEnd: number;
}

function bitWidth(max: number): number {
  return Math.ceil(Math.log2(max + 1));
}

/**
 * Split a chunk into pages of about `PAGE_BYTES` of values. A page starts on a row boundary
 * (repetition level 0), so no row spans two pages and page indexes stay possible.
 */
function planPages(leaf: LeafBuffer, valueBytes: (index: number) => number): Page[] {
  const pages: Page[] = [];
  const def = leaf.definitionLevels?.data;
  const rep = leaf.repetitionLevels?.data;
  const maxDef = leaf.spec.maxDefinitionLevel;
  let slotStart = 0;
  let valueStart = 0;
  let value = 0;
  let bytes = 0;
  for (let slot = 0; slot < leaf.slots; slot++) {
    if (bytes >= PAGE_BYTES && slot > slotStart && (!rep || rep[slot] === 0)) {
      pages.push({ slotStart, slotEnd: slot, valueStart, valueEnd: value });
      slotStart = slot;
      valueStart = value;
      bytes = 0;
    }
    if (!def || def[slot] === maxDef) bytes += valueBytes(value++);
  }
  pages.push({ slotStart, slotEnd: leaf.slots, valueStart, valueEnd: value });
  return pages;
}

/** Append RLE-encoded levels preceded by their byte length, as V1 pages store them. */
function writeLevels(body: ByteWriter, levels: Uint8Array, maxLevel: number): void {
  body.appendUint32(0);
  const at = body.index - 4;
  const length = writeRleBitPackedHybrid(body, levels, bitWidth(maxLevel));
  body.view.setUint32(at, length, true);
}

/**
 * PLAIN BYTE_ARRAY values `start` to `end`, each its length and its UTF-8 bytes, copied from the
 * column buffer's bytes.
 */
function writePlainBytes(body: ByteWriter, text: TextBuffer, start: number, end: number): void {
  const bytes = text.bytes.data;
  const ends = text.ends.data;
  const first = start === 0 ? 0 : (ends[start - 1] as number);
  const total = (end > start ? (ends[end - 1] as number) - first : 0) + 4 * (end - start);
  body.ensure(total);
  const view = body.view;
  const target = new Uint8Array(body.buffer);
  let at = body.index;
  let from = first;
  for (let i = start; i < end; i++) {
    const to = ends[i] as number;
    const length = to - from;
    view.setUint32(at, length, true);
    at += 4;
    if (length < 64) for (let k = from; k < to; k++) target[at++] = bytes[k] as number;
    else {
      target.set(bytes.subarray(from, to), at);
      at += length;
    }
    from = to;
  }
  body.index += total;
  body.offset += total;
}

function writePlainValues(body: ByteWriter, leaf: LeafBuffer, start: number, end: number): void {
  const s = leaf.store;
  switch (s.type) {
    case 'BYTE_ARRAY':
      writePlainBytes(body, s.text, start, end);
      return;
    case 'BOOLEAN':
      writePlain(
        body,
        Array.from(s.values.data.subarray(start, end), (b) => b === 1),
        'BOOLEAN',
        undefined,
      );
      return;
    case 'FIXED_LEN_BYTE_ARRAY':
      body.appendBytes(s.values.data.subarray(start * s.width, end * s.width));
      return;
    case 'INT64':
      if (s.unit !== undefined) {
        writeTimestamps(body, s.values.data, start, end, s.unit);
        return;
      }
      writePlain(body, s.values.data.subarray(start, end), s.type, undefined);
      return;
    default:
      writePlain(body, s.values.data.subarray(start, end), s.type, undefined);
  }
}

const TWO_32 = 2 ** 32;

/**
 * PLAIN int64s of timestamps held as milliseconds (safe integers), in `unit`: each value split
 * into 32-bit halves with numbers only. Microseconds exceed a double's exact range, so the
 * multiplication by 1,000 is done on the halves (the high one stays within int32 for any safe
 * integer of milliseconds: 2^21 · 1,000 < 2^31).
 */
export function writeTimestamps(
  body: ByteWriter,
  millis: Float64Array,
  start: number,
  end: number,
  unit: TimestampUnit,
): void {
  body.ensure((end - start) * 8);
  const view = body.view;
  let at = body.index;
  const micros = unit === 'MICROS';
  for (let i = start; i < end; i++) {
    const ms = millis[i] as number;
    let high = Math.floor(ms / TWO_32);
    let low = ms - high * TWO_32;
    if (micros) {
      const lowMicros = low * 1000;
      const carry = Math.floor(lowMicros / TWO_32);
      low = lowMicros - carry * TWO_32;
      high = high * 1000 + carry;
    }
    view.setUint32(at, low, true);
    view.setInt32(at + 4, high, true);
    at += 8;
  }
  const written = at - body.index;
  body.index = at;
  body.offset += written;
}

/**
 * A PLAIN dictionary page, as hyparquet-writer's `writeDictionaryPage` writes it, plus the CRC-32
 * in its header. Returns its uncompressed size, header included.
 */
function writeDictionaryPage(
  out: ByteWriter,
  element: SchemaElement,
  dictionary: DecodedArray,
  compress: ((raw: Uint8Array) => Uint8Array) | undefined,
): number {
  const page = pageBody();
  writePlain(page, dictionary, element.type as NonNullable<SchemaElement['type']>, element.type_length);
  const raw = page.getBytes();
  const stored = compress ? compress(raw) : raw;
  const headerStart = out.offset;
  writePageHeader(out, {
    type: 'DICTIONARY_PAGE',
    uncompressed_page_size: raw.byteLength,
    compressed_page_size: stored.byteLength,
    crc: pageChecksum(stored),
    dictionary_page_header: { num_values: dictionary.length, encoding: 'PLAIN' },
  });
  const headerBytes = out.offset - headerStart;
  out.appendBytes(stored);
  return headerBytes + raw.byteLength;
}

let scratch: ByteWriter | undefined;
/** A page buffer grown past this (a page of a few huge values) is not kept for the next page. */
const MAX_KEPT_PAGE_BUFFER = 4 * PAGE_BYTES;

/**
 * The buffer a page is built in before it is compressed into the file's bytes, emptied: one per
 * thread, reused from page to page (fewer buffers for the garbage collector), since a page is
 * built and copied out within one step of `writeColumnChunk` (no other page starts in between).
 */
function pageBody(): ByteWriter {
  if (!scratch || scratch.buffer.byteLength > MAX_KEPT_PAGE_BUFFER) scratch = new ByteWriter(1 << 16);
  scratch.index = 0;
  scratch.offset = 0;
  return scratch;
}

export interface ChunkResult {
  chunk: ColumnChunk;
  /** Plain-encoded value bytes that went into the chunk (for the compression ratio). */
  uncompressedBytes: number;
}

/**
 * Write a leaf's column chunk into `out`: an optional dictionary page, then V1 data pages. A
 * generator that yields after each page so the caller can hand the bytes to the sink and keep
 * `out` small; it returns the chunk's metadata for the footer.
 */
export function* writeColumnChunk(
  out: ByteWriter,
  leaf: LeafBuffer,
  codec: Codec,
): Generator<void, ChunkResult> {
  const { spec, store } = leaf;
  const element = spec.element;
  const type = store.type;
  const start = out.offset;
  const compress = pageCompressor(codec);
  let uncompressed = 0;

  let indexes: Int32Array | undefined;
  let dictionaryWidth = 0;
  let dictionary_page_offset: bigint | undefined;
  if (type === 'BYTE_ARRAY' || type === 'INT32' || type === 'INT64' || type === 'DOUBLE') {
    // Sample, then keep a dictionary only if it halves the size (hyparquet-writer's rule). Text
    // still coded after the writer sealed it has its dictionary already.
    let dictionary =
      store.type === 'BYTE_ARRAY'
        ? store.text.codes
          ? store.text.dictionary(leaf.bytes)
          : buildDictionary({ bytes: store.text.bytes.view(), ends: store.text.ends.view() }, type)
        : buildDictionary(store.values.view() as ArrayLike<number | bigint>, type);
    if (dictionary) {
      // Timestamps held as milliseconds: the dictionary page holds the column's int64s.
      if (store.type === 'INT64' && store.unit !== undefined) {
        const unit = store.unit;
        dictionary = {
          ...dictionary,
          values: dictionary.values.map((ms) => timestampInt64(ms as number, unit)),
        };
      }
      indexes = dictionary.indexes;
      dictionaryWidth = bitWidth(dictionary.values.length - 1);
      dictionary_page_offset = BigInt(out.offset);
      uncompressed += writeDictionaryPage(out, element, dictionary.values as DecodedArray, compress);
      yield;
    }
  }

  const encoding: Encoding = indexes ? 'RLE_DICTIONARY' : 'PLAIN';
  const valueBytes: (index: number) => number = indexes
    ? () => 4
    : store.type === 'BYTE_ARRAY'
      ? (i) => 4 + store.text.lengthOf(i)
      : store.type === 'FIXED_LEN_BYTE_ARRAY'
        ? () => store.width
        : store.type === 'BOOLEAN'
          ? () => 0.125
          : store.type === 'INT32'
            ? () => 4
            : () => 8;
  const pages = planPages(leaf, valueBytes);

  const data_page_offset = BigInt(out.offset);
  for (const page of pages) {
    const body = pageBody();
    if (leaf.repetitionLevels) {
      writeLevels(
        body,
        leaf.repetitionLevels.data.subarray(page.slotStart, page.slotEnd),
        spec.maxRepetitionLevel,
      );
    }
    if (leaf.definitionLevels) {
      writeLevels(
        body,
        leaf.definitionLevels.data.subarray(page.slotStart, page.slotEnd),
        spec.maxDefinitionLevel,
      );
    }
    if (indexes) {
      body.appendUint8(dictionaryWidth);
      writeRleBitPackedHybrid(body, indexes.subarray(page.valueStart, page.valueEnd), dictionaryWidth);
    } else {
      writePlainValues(body, leaf, page.valueStart, page.valueEnd);
    }
    const raw = body.getBytes();
    const stored = compress ? compress(raw) : raw;
    const headerStart = out.offset;
    writePageHeader(out, {
      type: 'DATA_PAGE',
      uncompressed_page_size: raw.byteLength,
      compressed_page_size: stored.byteLength,
      crc: pageChecksum(stored),
      data_page_header: {
        num_values: page.slotEnd - page.slotStart,
        encoding,
        definition_level_encoding: 'RLE',
        repetition_level_encoding: 'RLE',
      },
    });
    uncompressed += out.offset - headerStart + raw.byteLength;
    out.appendBytes(stored);
    yield;
  }

  const encodings: Encoding[] = ['PLAIN'];
  if (leaf.definitionLevels || leaf.repetitionLevels) encodings.push('RLE');
  if (indexes) encodings.push('RLE_DICTIONARY');
  const encoding_stats: PageEncodingStats[] = [];
  if (indexes) encoding_stats.push({ page_type: 'DICTIONARY_PAGE', encoding: 'PLAIN', count: 1 });
  encoding_stats.push({ page_type: 'DATA_PAGE', encoding, count: pages.length });

  return {
    chunk: {
      file_offset: BigInt(start),
      meta_data: {
        type,
        encodings,
        path_in_schema: [...spec.path],
        codec,
        num_values: BigInt(leaf.slots),
        total_compressed_size: BigInt(out.offset - start),
        total_uncompressed_size: BigInt(uncompressed),
        data_page_offset,
        dictionary_page_offset,
        statistics: statistics(leaf),
        encoding_stats,
      },
    },
    uncompressedBytes: leaf.bytes,
  };
}

/** min/max in the form hyparquet-writer's footer writer turns into bytes (decimals: unscaled). */
function statistics(leaf: LeafBuffer): Statistics {
  let { min, max } = leaf;
  if (leaf.store.type === 'DOUBLE') {
    // The spec's rule for zeros: a min of zero is written -0 and a max of zero +0.
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return {
    null_count: BigInt(leaf.nullCount),
    ...(min === undefined ? {} : { min_value: min as Statistics['min_value'] }),
    ...(max === undefined ? {} : { max_value: max as Statistics['max_value'] }),
  };
}
