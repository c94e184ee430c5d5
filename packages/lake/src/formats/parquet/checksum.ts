// Page checksums, as parquet-format defines PageHeader.crc: the standard CRC-32 (zlib's, the one
// gzip uses) of the page's bytes exactly as stored after its header, i.e. after compression. For a
// V1 data page that is the compressed concatenation of repetition levels, definition levels and
// values; for a dictionary page, its compressed values; for a V2 page, its levels and its
// (compressed) values. parquet-mr and Arrow write and verify the same field.
import { crc32 } from 'node:zlib';
import type { AsyncBuffer, FileMetaData, PageHeader } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { ParquetError } from './errors.js';

/** The `crc` of a page header for the page's stored bytes: Thrift's i32, so signed. */
export function pageChecksum(stored: Uint8Array): number {
  return crc32(stored) | 0;
}

interface ChunkRange {
  column: string;
  rowGroup: number;
  start: number;
  end: number;
}

const hex = (crc: number) => `0x${(crc >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Check every page of one column chunk whose header carries a checksum; pages without one (most
 * writers leave it out) are read as they are.
 */
function verifyChunk(bytes: Uint8Array, chunk: ChunkRange, key: string, url: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = { view, offset: 0 };
  const context = { key, url, column: chunk.column, rowGroup: chunk.rowGroup };
  const where = (page: number) => `page ${page} of column ${chunk.column} in row group ${chunk.rowGroup}`;
  for (let page = 0; reader.offset < bytes.byteLength; page++) {
    const headerOffset = chunk.start + reader.offset;
    let header: PageHeader;
    try {
      header = parquetHeader(reader);
    } catch (err) {
      throw new ParquetError(`${key}: the header of ${where(page)} is unreadable`, {
        code: 'PARQUET_READ_FAILED',
        cause: err,
        context: { ...context, page, offset: headerOffset },
      });
    }
    const dataStart = reader.offset;
    const dataEnd = dataStart + header.compressed_page_size;
    if (!(header.compressed_page_size >= 0) || dataEnd > bytes.byteLength) {
      throw new ParquetError(`${key}: ${where(page)} runs past the end of its column chunk`, {
        code: 'PARQUET_READ_FAILED',
        context: { ...context, page, pageType: header.type, offset: headerOffset },
      });
    }
    if (header.crc !== undefined) {
      const computed = pageChecksum(bytes.subarray(dataStart, dataEnd));
      if (computed !== header.crc) {
        throw new ParquetError(
          `${key}: ${where(page)} (${header.type}) fails its CRC-32 check (stored ${hex(header.crc)}, ` +
            `computed ${hex(computed)}): the file is corrupt`,
          {
            code: 'PARQUET_PAGE_CHECKSUM_MISMATCH',
            context: { ...context, page, pageType: header.type, offset: headerOffset },
          },
        );
      }
    }
    reader.offset = dataEnd;
  }
}

/**
 * Wrap a file so that every column chunk of `columns` is verified as its bytes arrive, before the
 * decoder sees them. hyparquet fetches whole column chunks (alone or several in one range), and a
 * chunk is checked when a fetched range holds all of it, so no byte is read twice.
 */
export function verifyingFile(
  file: AsyncBuffer,
  metadata: FileMetaData,
  columns: readonly string[],
  location: { key: string; url: string },
): AsyncBuffer {
  const wanted = new Set(columns);
  const chunks: ChunkRange[] = [];
  metadata.row_groups.forEach((group, rowGroup) => {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta || !wanted.has(meta.path_in_schema[0] as string)) continue;
      // Where hyparquet starts reading the chunk (a dictionary page offset of 0 means none).
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      chunks.push({
        column: meta.path_in_schema.join('.'),
        rowGroup,
        start,
        end: start + Number(meta.total_compressed_size),
      });
    }
  });
  // In file order, so a range finds its chunks by binary search (files can hold thousands).
  chunks.sort((a, b) => a.start - b.start);
  return {
    byteLength: file.byteLength,
    async slice(start: number, end = file.byteLength) {
      const buffer = await file.slice(start, end);
      let low = 0;
      let high = chunks.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((chunks[middle] as ChunkRange).start < start) low = middle + 1;
        else high = middle;
      }
      for (let i = low; i < chunks.length && (chunks[i] as ChunkRange).start < end; i++) {
        const chunk = chunks[i] as ChunkRange;
        if (chunk.end > end) continue;
        const bytes = new Uint8Array(buffer, chunk.start - start, chunk.end - chunk.start);
        verifyChunk(bytes, chunk, location.key, location.url);
      }
      return buffer;
    },
  };
}
