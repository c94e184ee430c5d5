import { createHash, randomUUID } from 'node:crypto';
import { type Fields, type Schema, unscaledToDecimal } from '@tributary/core';
import { type StagedFile, stageFile } from '../file-writer.js';
import { ParquetRecordWriter } from '../formats/parquet/writer.js';
import { parquetWriterConfig } from '../formats/parquet.js';
import type { ColumnStats, FileStats, WriterOptions } from '../formats/types.js';
import type { Storage } from '../storage.js';
import { boundBytes } from './bounds.js';
import { locationOf } from './catalog.js';
import type { DataFile } from './manifest.js';
import type { IcebergList, IcebergSchema, PartitionValue, SchemaPlan } from './schema.js';

// The Parquet data files of a write or a compaction: where they go, how they are written, and
// how a written file is described to the manifest.

/** Opens a write's data files, and remembers them so that a failed write can delete them. */
export interface DataFileWriter {
  /** Start the `index`th file of a partition folder (`ts_hour=2026-11-23-10/`, '' unpartitioned). */
  open(partition: string, index: number): StagedFile;
  /** The keys of every file opened so far. */
  readonly opened: readonly string[];
}

function fileId(writeId: string, partition: string, index: number): string {
  return createHash('sha256').update(`${writeId}\0${partition}\0${index}`).digest('hex').slice(0, 32);
}

/**
 * Data files of one run of a write, straight at their final keys
 * (`<table>/data/<partition><index>-<id>-<run>.parquet`): invisible until the commit names them.
 * Field ids and TIMESTAMP(MICROS) come from the schema plan, as Iceberg readers want them.
 */
export function dataFileWriter<F extends Fields>(
  storage: Storage,
  table: string,
  schema: Schema<F>,
  options: { writeId: string; fieldIds: SchemaPlan['fieldIds']; formatOptions?: WriterOptions | undefined },
): DataFileWriter {
  const config = {
    ...parquetWriterConfig(options.formatOptions ?? {}),
    schemaPlan: { fieldIds: options.fieldIds, timestampUnit: 'MICROS' as const },
  };
  // A part unique to this run: a run after a crash never rewrites a file in place.
  const runId = randomUUID().slice(0, 8);
  const opened: string[] = [];
  return {
    opened,
    open(partition, index) {
      const key = `${table}/data/${partition}${String(index).padStart(5, '0')}-${fileId(options.writeId, partition, index)}-${runId}.parquet`;
      opened.push(key);
      return stageFile(storage, (sink) => new ParquetRecordWriter(sink, schema, config), key, key);
    },
  };
}

/** A column statistic (decimals as unscaled integers) as a bound. */
function columnBound(
  type: string,
  value: ColumnStats['min'],
  side: 'lower' | 'upper',
): Uint8Array | undefined {
  const scale = /^decimal\(\d+,\s*(\d+)\)$/.exec(type)?.[1];
  const v =
    scale !== undefined && typeof value === 'bigint' ? unscaledToDecimal(value, Number(scale)) : value;
  return boundBytes(type, v, side);
}

/** A written Parquet file as an Iceberg data file: counts, sizes and bounds per column id. */
export function dataFileOf(
  storage: Storage,
  key: string,
  stats: FileStats,
  schema: IcebergSchema,
  partition: Record<string, PartitionValue>,
): DataFile {
  const columnSizes = new Map<number, bigint>();
  const valueCounts = new Map<number, bigint>();
  const nullValueCounts = new Map<number, bigint>();
  const lowerBounds = new Map<number, Uint8Array>();
  const upperBounds = new Map<number, Uint8Array>();
  for (const column of stats.columns ?? []) {
    const f = schema.fields.find((x) => x.name === column.name);
    if (!f) continue;
    const isList = typeof f.type === 'object' && f.type.type === 'list';
    // A list's metrics belong to its element (the Parquet leaf).
    const id = isList ? (f.type as IcebergList)['element-id'] : f.id;
    columnSizes.set(id, BigInt(column.storedBytes));
    valueCounts.set(id, BigInt(column.valueCount));
    nullValueCounts.set(id, BigInt(column.nullCount));
    if (isList || typeof f.type !== 'string') continue;
    const lower = columnBound(f.type, column.min, 'lower');
    const upper = columnBound(f.type, column.max, 'upper');
    if (lower) lowerBounds.set(id, lower);
    if (upper) upperBounds.set(id, upper);
  }
  return {
    content: 0,
    filePath: locationOf(storage, key),
    fileFormat: 'PARQUET',
    partition,
    recordCount: BigInt(stats.rows),
    fileSizeInBytes: BigInt(stats.bytes),
    columnSizes,
    valueCounts,
    nullValueCounts,
    nanValueCounts: new Map(),
    lowerBounds,
    upperBounds,
    sortOrderId: 0,
  };
}
