import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  type FieldDef,
  type Fields,
  normalizeDecimal,
  type PrimitiveKind,
  type Schema,
  unscaledToDecimal,
} from '@tributary/core';
import { decompress as zstdDecompress } from 'fzstd';
import {
  type AsyncBuffer,
  type Compressors,
  type FileMetaData,
  type ParquetParsers,
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type SchemaTree,
} from 'hyparquet';
import { ObjectNotFoundError } from '../../errors.js';
import type { Storage } from '../../storage.js';
import type { ReadOptions } from '../types.js';
import { verifyingFile } from './checksum.js';
import { ParquetError, wrapParquetError } from './errors.js';
import { describeColumn, type ParquetColumnInfo } from './schema.js';

/** Bytes fetched from the end of the file for the footer: one request for the lake's own files. */
const FOOTER_FETCH_BYTES = 64 * 1024;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    return bytes.buffer;
  }
  // A view into a larger (or pooled) buffer: hyparquet wants an ArrayBuffer of exactly the range.
  // (Copied explicitly: a Node Buffer's slice() is a view, not a copy.)
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

interface OpenFile {
  file: AsyncBuffer;
  metadata: FileMetaData;
}

/** An `AsyncBuffer` over ranged reads of one object, and the file's footer. */
async function openParquet(storage: Storage, key: string, signal?: AbortSignal): Promise<OpenFile> {
  const context = { key, url: storage.url };
  const info = await storage.head(key);
  if (!info) throw new ObjectNotFoundError(key, { url: storage.url });
  const size = info.size;
  const file: AsyncBuffer = {
    byteLength: size,
    async slice(start: number, end?: number) {
      signal?.throwIfAborted();
      return toArrayBuffer(await storage.getBytes(key, { start, end: end ?? size, signal }));
    },
  };
  try {
    const metadata = await parquetMetadataAsync(file, { initialFetchSize: FOOTER_FETCH_BYTES });
    return { file, metadata };
  } catch (err) {
    throw wrapParquetError(err, 'PARQUET_READ_FAILED', `cannot read the Parquet footer of ${key}`, context);
  }
}

/**
 * The columns of a Parquet file, read from its footer only: names, the core field kind that
 * holds each (with precision and scale for decimals, the element for lists) and nullability.
 *
 * @example
 * ```ts
 * const columns = await readParquetSchema(storage, 'sensors/dt=2026-11-23/part-0.parquet');
 * // [{ name: 'id', kind: 'string', nullable: false, parquetType: 'BYTE_ARRAY STRING' }, ...]
 * ```
 */
export async function readParquetSchema(storage: Storage, key: string): Promise<ParquetColumnInfo[]> {
  const { metadata } = await openParquet(storage, key);
  return parquetSchema(metadata).children.map(describeColumn);
}

/**
 * The number of rows of a Parquet file, read from its footer only.
 *
 * @example
 * ```ts
 * const rows = await parquetRowCount(storage, 'sensors/dt=2026-11-23/part-0.parquet');
 * ```
 */
export async function parquetRowCount(storage: Storage, key: string): Promise<number> {
  const { metadata } = await openParquet(storage, key);
  return Number(metadata.num_rows);
}

type Convert = (value: unknown) => unknown;

/** A big-endian two's complement integer (Parquet's FIXED_LEN_BYTE_ARRAY and BYTE_ARRAY decimals). */
function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  const bits = BigInt(bytes.length * 8);
  return bytes.length > 0 && (bytes[0] as number) & 0x80 ? value - (1n << bits) : value;
}

const utf8 = new TextDecoder();

/** Epoch milliseconds, floored (before 1970 too: a BigInt division truncates towards zero). */
function floorDiv(value: bigint, divisor: bigint): number {
  const q = value / divisor;
  return Number(value % divisor < 0n ? q - 1n : q);
}

const PARSERS: ParquetParsers = {
  dateFromDays: formatDays,
  jsonFromBytes: (bytes) => utf8.decode(bytes),
  timestampFromMicroseconds: (micros) => new Date(floorDiv(BigInt(micros), 1000n)),
  timestampFromNanoseconds: (nanos) => new Date(floorDiv(BigInt(nanos), 1_000_000n)),
} as ParquetParsers;

/**
 * Codecs hyparquet lacks (it reads snappy and uncompressed): zstd, the default of Spark's and
 * pyiceberg's Iceberg writers (fzstd, pure JS), and gzip and brotli through Node's zlib.
 */
const DECOMPRESSORS: Compressors = {
  ZSTD: (input) => zstdDecompress(input),
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};

function formatDays(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

interface ColumnSource {
  kind: PrimitiveKind | 'unsupported';
  scale: number;
}

/**
 * The conversion from what hyparquet yields for a file column (decimal annotations removed, so
 * unscaled integers or bytes; DATE as `YYYY-MM-DD`) to the schema's JavaScript value, or
 * `undefined` when the column cannot hold the field's values. Widening is allowed (int32 into
 * int64, double or decimal; date into timestamp); narrowing is not.
 */
function primitiveConverter(target: FieldDef, source: ColumnSource): Convert | undefined {
  const precision = target.precision ?? 0;
  const scale = target.scale ?? 0;
  switch (target.kind) {
    case 'string':
    case 'boolean':
    case 'int32':
    case 'timestamp':
    case 'date':
      if (source.kind === target.kind) return (v) => v;
      if (target.kind === 'timestamp' && source.kind === 'date')
        return (v) => new Date(`${v as string}T00:00:00Z`);
      return;
    case 'int64':
      // Unsigned 32-bit columns (read as int64) arrive as numbers.
      if (source.kind === 'int64' || source.kind === 'int32') {
        return (v) => (typeof v === 'bigint' ? v : BigInt(v as number));
      }
      return;
    case 'double':
      if (source.kind === 'double') return (v) => v;
      if (source.kind === 'int32' || source.kind === 'int64') return (v) => Number(v);
      return;
    case 'decimal': {
      const exact = (text: string): string => {
        const normalized = normalizeDecimal(text, precision, scale);
        if (typeof normalized !== 'string') {
          throw new ParquetError(`${text} does not fit decimal(${precision},${scale})`, {
            code: 'PARQUET_SCHEMA_MISMATCH',
          });
        }
        return normalized;
      };
      if (source.kind === 'int32' || source.kind === 'int64') return (v) => exact(String(v));
      if (source.kind !== 'decimal') return;
      const fileScale = source.scale;
      return (v) => {
        const text = unscaledToDecimal(
          v instanceof Uint8Array ? bytesToBigInt(v) : BigInt(v as number | bigint),
          fileScale,
        );
        // The lake's own files: same scale and the digits fit, so the text is already canonical.
        if (fileScale === scale) {
          const point = text.indexOf('.');
          const whole = (point === -1 ? text.length : point) - (text.startsWith('-') ? 1 : 0);
          if (whole <= precision - scale) return text;
        }
        return exact(text);
      };
    }
    default:
      return;
  }
}

function describeSource(node: SchemaTree): { list: boolean; element: ColumnSource } {
  const info = describeColumn(node);
  const inner = info.kind === 'list' ? (info.element ?? { kind: 'unsupported' as const }) : info;
  const kind = inner.kind === 'list' ? 'unsupported' : inner.kind;
  return { list: info.kind === 'list', element: { kind, scale: inner.scale ?? 0 } };
}

function columnConverter(name: string, def: FieldDef, node: SchemaTree | undefined, key: string): Convert {
  const required = def.presence === 'required';
  const mismatch = (message: string) =>
    new ParquetError(`${key}: column ${name} ${message}`, {
      code: 'PARQUET_SCHEMA_MISMATCH',
      context: { key, column: name },
    });
  if (!node) {
    // A column added to the schema after the file was written reads as null, if it may be null.
    if (required) throw mismatch('is required by the schema but missing from the file');
    return () => null;
  }
  const source = describeSource(node);
  const targetElement = def.kind === 'list' ? (def.element as FieldDef) : def;
  const convert =
    source.list === (def.kind === 'list') ? primitiveConverter(targetElement, source.element) : undefined;
  if (!convert) {
    const sourceText = source.list ? `list<${source.element.kind}>` : source.element.kind;
    const targetText = def.kind === 'list' ? `list<${targetElement.kind}>` : def.kind;
    throw mismatch(`holds ${sourceText} values, which cannot be read as ${targetText}`);
  }
  const checked = (v: unknown): unknown => {
    if (v === null || v === undefined) {
      if (required) throw mismatch('holds a null but the schema requires a value');
      return null;
    }
    return convert(v);
  };
  if (def.kind !== 'list') return checked;
  return (v) => {
    if (v === null || v === undefined) {
      if (required) throw mismatch('holds a null but the schema requires a value');
      return null;
    }
    return (v as unknown[]).map((item) => {
      if (item === null || item === undefined) throw mismatch('holds a null list element');
      return convert(item);
    });
  };
}

/**
 * Records of the schema from a Parquet file, one row group in memory at a time. Pages whose header
 * carries a CRC-32 are verified before they are decoded (`PARQUET_PAGE_CHECKSUM_MISMATCH`).
 */
export async function* readParquet<F extends Fields>(
  storage: Storage,
  key: string,
  schema: Schema<F>,
  options: ReadOptions = {},
): AsyncIterable<Schema<F>['$record']> {
  const { signal } = options;
  const context = { key, url: storage.url };
  const { file, metadata } = await openParquet(storage, key, signal);
  const tree = parquetSchema(metadata);
  // Iceberg tables name columns by id: a renamed column keeps its id, a dropped and re-added one
  // gets a new id. Files without ids (the lake's hive tables, other writers) match by name.
  const { fieldIds } = options;
  const byId = new Map<number, SchemaTree>();
  for (const node of tree.children) {
    if (node.element.field_id !== undefined) byId.set(node.element.field_id, node);
  }
  const fileColumns = new Map<string, SchemaTree>();
  for (const node of tree.children) {
    if (!fieldIds || byId.size === 0) fileColumns.set(node.element.name, node);
  }
  if (fieldIds && byId.size > 0) {
    for (const [name, id] of fieldIds) {
      const node = byId.get(id);
      if (node) fileColumns.set(name, node);
    }
  }
  const defs = new Map(schema.columns.map((c) => [c.name, c.def]));
  const names = options.columns ?? schema.columns.map((c) => c.name);
  for (const name of names) {
    if (!defs.has(name)) {
      throw new ParquetError(`column ${name} is not a field of the schema`, {
        code: 'PARQUET_SCHEMA_MISMATCH',
        context: { ...context, column: name },
      });
    }
  }
  const converters = names.map((name) =>
    columnConverter(name, defs.get(name) as FieldDef, fileColumns.get(name), key),
  );
  const presentNames = names.filter((name) => fileColumns.has(name));
  // hyparquet selects columns by their names in the file.
  const present = presentNames.map((name) => (fileColumns.get(name) as SchemaTree).element.name);
  const positions = names.map((name) => presentNames.indexOf(name));
  // Pages that carry a CRC-32 are checked as their bytes arrive: a flipped bit fails the read.
  const verified = verifyingFile(file, metadata, present, context);

  // hyparquet turns decimals into floating-point numbers; without their annotation it yields the
  // unscaled integers (or bytes), which the converters turn into exact decimal text.
  for (const element of metadata.schema) {
    if (element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL') {
      delete element.converted_type;
      delete element.logical_type;
    }
  }

  let rowStart = 0;
  for (const group of metadata.row_groups) {
    signal?.throwIfAborted();
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: unknown[][] = [];
    if (present.length > 0) {
      try {
        await parquetRead({
          file: verified,
          metadata,
          columns: present,
          rowStart,
          rowEnd,
          rowFormat: 'array',
          parsers: PARSERS,
          compressors: DECOMPRESSORS,
          onComplete: (result) => {
            rows = result;
          },
        });
      } catch (err) {
        throw wrapParquetError(
          err,
          'PARQUET_READ_FAILED',
          `cannot read rows ${rowStart}-${rowEnd} of ${key}`,
          context,
        );
      }
    } else {
      rows = Array.from({ length: rowEnd - rowStart }, () => []);
    }
    for (const row of rows) {
      const record: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) {
        const at = positions[i] as number;
        record[names[i] as string] = (converters[i] as Convert)(at === -1 ? null : row[at]);
      }
      yield record as Schema<F>['$record'];
    }
    rowStart = rowEnd;
  }
}
