// One day of raw → processed: the day's window of raw objects read once (or twice, when a later
// copy of a written id is earlier in event time), its records written to the processed table and
// its error rows to the errors table at the same time.
import {
  defineSchema,
  type EventListener,
  emitSafely,
  field,
  type Infer,
  type NdjsonDecodeError,
} from '@tributary/core';
import {
  byField,
  byHour,
  compareKeys,
  type IcebergCatalog,
  type LakeTableFormat,
  type Storage,
  tableFormatOptions,
  type WriteDatasetResult,
  writeDataset,
} from '@tributary/lake';
import { type SensorRecord, sensorRecordSchema } from '../record.js';
import { IdTable } from './id-table.js';
import { LineProblem, parseLine, RAW_SOURCE, type RawFile, type RawIndex, readLines } from './raw-reader.js';
import type { RawToProcessedStats } from './raw-to-processed.js';
import {
  dayOfHour,
  HOUR_MS,
  hourOfDay,
  SensorTransformError,
  shiftDay,
  writeIdOf,
  writeIfAny,
} from './shared.js';

/**
 * The errors table of `rawToProcessed` (`sensors_errors`, NDJSON): one row per raw line that did
 * not become a processed record, with why. It is partitioned by `dt`, the UTC day of the raw
 * object's folder (arrival time), because a line that is not a valid record has no event time.
 *
 * | `code` | meaning |
 * |---|---|
 * | `INVALID_UTF8` | the line's bytes are not UTF-8 (`invalid UTF-8 at byte offset N`, 0-based in the line); `raw` shows each ill-formed sequence as U+FFFD, the exact bytes stay in the raw object |
 * | `INVALID_JSON` | the line is not JSON, or not a JSON object |
 * | `INVALID_RECORD` | a JSON object that fails `sensorRecordSchema` (the reason lists each field's issue) |
 * | `OUT_OF_WINDOW` | a valid record whose event time is more than `maxLatenessHours` before its raw folder's hour, or more than an hour after it |
 *
 * @example
 * ```ts
 * import { byField, readDataset } from '@tributary/lake';

 *
 * for await (const row of readDataset({ storage: lake.processed, table: 'sensors_errors', schema: sensorErrorSchema, partitionBy: [byField('dt')] })) {
 *   console.log(row.key, row.line, row.code, row.reason);
 * }
 * ```
 */
export const sensorErrorSchema = defineSchema(
  {
    dt: field.date().describe("UTC day of the raw object's folder; the hive partition"),
    key: field.string({ maxLength: 1024 }).describe('the raw object the line is from'),
    line: field.int32().describe('1-based line number in the (uncompressed) object'),
    code: field
      .string({ maxLength: 32 })
      .describe('INVALID_UTF8, INVALID_JSON, INVALID_RECORD or OUT_OF_WINDOW'),
    reason: field.string(),
    raw: field.string().describe('the line as it was'),
  },
  { primaryKey: ['key', 'line'], description: 'Raw sensor lines that did not become processed records' },
);

/** A row of the `sensors_errors` table. */
export type SensorErrorRow = Infer<typeof sensorErrorSchema>;

export interface RawSettings {
  readonly raw: Storage;
  readonly processed: Storage;
  readonly source: string;
  readonly table: string;
  readonly errorsTable: string;
  readonly lateness: number;
  readonly tableFormat: LakeTableFormat;
  readonly catalog: IcebergCatalog | undefined;
  readonly onEvent: EventListener | undefined;
}

/**
 * Column data per row group of the processed table's Parquet files. The writer keeps up to 8 hour
 * files open (a day's records come in arrival order, late ones up to `maxLatenessHours` after),
 * each holding its row group until it is full. With the lake's 32 MiB default, every open hour of
 * a 5M-record day stayed whole in memory (peak RSS 700 MiB at 5M records, 300 MiB at 1M); with
 * 4 MiB (about 40,000 sensor rows) a row group is written as it fills, and peak RSS was 339 MiB
 * at 5M and 342 MiB at 1M (8 MiB: 407 and 335). A 1M-record day's hour files are one row group
 * either way, byte for byte the same.
 */
const PROCESSED_ROW_GROUP_BYTES = 4 * 1024 * 1024;

/** Error rows that may wait for the errors table's writer before the reading waits for it. */
const ERROR_ROWS_WAITING = 1024;

/**
 * One day's window of raw objects, read line by line: which lines are the day's records and which
 * are its error rows, counted once per reading.
 */
class DayWindow {
  read = 0;
  valid = 0;
  invalid = 0;
  outOfWindow = 0;
  readonly first: number;
  readonly last: number;
  /** The day's first instant, in ms since the epoch: the id table holds times from it. */
  readonly startMs: number;

  constructor(
    readonly day: string,
    readonly files: readonly RawFile[],
    private readonly lateness: number,
  ) {
    this.first = hourOfDay(day);
    this.last = this.first + 23;
    this.startMs = this.first * HOUR_MS;
  }

  /**
   * The line's record when it is one of this day's, the day's error row for it when it is not a
   * valid record of this day (the day owns the errors of its own folders), or undefined.
   */
  classify(
    file: RawFile,
    text: string | NdjsonDecodeError,
    lineNumber: number,
  ): SensorRecord | ErrorLine | undefined {
    const ownsErrors = file.dt === this.day;
    if (typeof text !== 'string') {
      return ownsErrors ? this.#error(file, lineNumber, 'INVALID_UTF8', text.reason, text.raw) : undefined;
    }
    // Lines start with `{`: only another first character can make a blank line.
    if (text.charCodeAt(0) !== 123 && text.trim() === '') return undefined;
    const parsed = parseLine(text);
    if (parsed instanceof LineProblem) {
      return ownsErrors ? this.#error(file, lineNumber, parsed.code, parsed.reason, text) : undefined;
    }
    const eventHour = Math.floor(parsed.timestamp.getTime() / HOUR_MS);
    // A record belongs to its event hour when it arrived at most `lateness` hours after it, or in
    // the folder of the hour before (clock skew; Firehose names an object by its oldest record).
    if (eventHour >= file.hour - this.lateness && eventHour <= file.hour + 1) {
      if (eventHour < this.first || eventHour > this.last) return undefined;
      this.read++;
      this.valid++;
      return parsed;
    }
    if (!ownsErrors) return undefined;
    this.outOfWindow++;
    const when =
      eventHour < file.hour
        ? `${file.hour - eventHour} hours before`
        : `${eventHour - file.hour} hours after`;
    return this.#error(
      file,
      lineNumber,
      'OUT_OF_WINDOW',
      `event time ${parsed.timestamp.toISOString()} is ${when} the folder's hour (window: ${this.lateness} hours before to 1 hour after)`,
      text,
    );
  }

  #error(
    file: RawFile,
    line: number,
    code: SensorErrorRow['code'],
    reason: string,
    raw: SensorErrorRow['raw'],
  ): ErrorLine {
    this.read++;
    this.invalid++;
    return new ErrorLine({ dt: this.day, key: file.key, line, code, reason, raw });
  }
}

/** A raw line that is one of the day's error rows. */
class ErrorLine {
  constructor(readonly row: SensorErrorRow) {}
}

/**
 * Rows handed from the loop that reads a day to the errors table's writer, which runs beside the
 * processed table's: at most `limit` wait, then `push` waits for the writer. `close` ends the
 * rows, with a failure when the reading stopped; `abandon` makes `push` fail once the writer has.
 */
class RowHandoff<T> {
  #rows: T[] = [];
  #closed = false;
  #failure: { error: unknown } | undefined;
  #abandoned: { error: unknown } | undefined;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  constructor(private readonly limit: number) {}

  async push(row: T): Promise<void> {
    while (this.#rows.length >= this.limit && this.#abandoned === undefined) {
      await new Promise<void>((resolve) => {
        this.#wakeWriter = resolve;
      });
    }
    if (this.#abandoned !== undefined) throw this.#abandoned.error;
    this.#rows.push(row);
    this.#wake();
  }

  close(failure?: { error: unknown }): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure = failure;
    this.#wake();
  }

  abandon(error: unknown): void {
    this.#abandoned ??= { error };
    this.#wakeWriter?.();
  }

  async *rows(): AsyncGenerator<T> {
    for (;;) {
      if (this.#rows.length > 0) {
        const rows = this.#rows;
        this.#rows = [];
        this.#wakeWriter?.();
        yield* rows;
        continue;
      }
      if (this.#closed) {
        if (this.#failure !== undefined) throw this.#failure.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wakeReader = resolve;
      });
    }
  }

  #wake(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = undefined;
    wake?.();
  }
}

/** What writing a day gave. */
export interface DayOutcome {
  window: DayWindow;
  table: IdTable;
  duplicates: number;
  result: WriteDatasetResult | undefined;
  errorsResult: WriteDatasetResult | undefined;
}

/** How a day's outputs are written: the same by one pass or two. */
interface DayWrites {
  errors(rows: AsyncGenerator<SensorErrorRow>): Promise<WriteDatasetResult | undefined>;
  records(records: AsyncGenerator<SensorRecord>): Promise<WriteDatasetResult | undefined>;
}

export async function processDay(
  day: string,
  settings: RawSettings,
  index: RawIndex,
  stats: RawToProcessedStats,
  filesRead: Set<string>,
): Promise<void> {
  const { raw, processed, lateness, onEvent } = settings;
  const first = hourOfDay(day);
  const windowStart = first - 1;
  const windowEnd = first + 23 + lateness;
  const files: RawFile[] = [];
  for (let d = dayOfHour(windowStart); d <= dayOfHour(windowEnd); d = shiftDay(d, 1)) {
    for (const file of await index.filesOf(d)) {
      if (file.hour >= windowStart && file.hour <= windowEnd) files.push(file);
    }
  }
  files.sort((a, b) => compareKeys(a.key, b.key));
  if (files.length === 0) return;
  for (const file of files) filesRead.add(file.key);
  const inputId = files.flatMap((f) => [f.key, String(f.size), f.tag]);
  const writes: DayWrites = {
    errors: (rows) =>
      writeIfAny(rows, (input) =>
        writeDataset(input, {
          storage: processed,
          table: settings.errorsTable,
          schema: sensorErrorSchema,
          partitionBy: [byField('dt')],
          // Iceberg data files are Parquet, Avro or ORC: an Iceberg errors table is Parquet.
          format: settings.tableFormat === 'iceberg' ? 'parquet' : 'ndjson',
          mode: 'overwrite_partitions',
          ...tableFormatOptions(settings),
          writeId: writeIdOf('errors', [
            settings.source,
            settings.errorsTable,
            day,
            String(lateness),
            ...inputId,
          ]),
          onEvent,
        }),
      ),
    records: (records) =>
      writeIfAny(records, (input) =>
        writeDataset(input, {
          storage: processed,
          table: settings.table,
          schema: sensorRecordSchema,
          partitionBy: byHour('timestamp'),
          format: 'parquet',
          formatOptions: { rowGroupBytes: PROCESSED_ROW_GROUP_BYTES },
          mode: 'overwrite_partitions',
          ...tableFormatOptions(settings),
          writeId: writeIdOf('processed', [
            settings.source,
            settings.table,
            day,
            String(lateness),
            ...inputId,
          ]),
          onEvent,
        }),
      ),
  };

  const outcome =
    (await onePass(new DayWindow(day, files, lateness), raw, writes)) ??
    (await twoPasses(day, files, lateness, raw, writes));
  const { window, table, duplicates, result, errorsResult } = outcome;
  emitSafely(onEvent, { type: 'records.in', source: RAW_SOURCE, count: window.read, time: Date.now() });
  if (window.invalid > 0) {
    emitSafely(onEvent, {
      type: 'failure',
      source: RAW_SOURCE,
      count: window.invalid,
      code: 'SENSOR_RECORD_INVALID',
      time: Date.now(),
    });
  }
  const written = result?.rows ?? 0;
  emitSafely(onEvent, { type: 'records.out', source: RAW_SOURCE, count: written, time: Date.now() });

  stats.read += window.read;
  stats.valid += window.valid;
  stats.invalid += window.invalid;
  stats.outOfWindow += window.outOfWindow;
  stats.duplicates += duplicates;
  stats.written += written;
  stats.partitions.push(...(result?.partitions ?? []));
  stats.errorPartitions.push(...(errorsResult?.partitions ?? []));
  stats.peakIds = Math.max(stats.peakIds, table.size);
  stats.peakIdTableBytes = Math.max(stats.peakIdTableBytes, table.bytes);
}

/**
 * The day in one reading of its window: each record is written when its id comes first, a later
 * copy at the same or a later event time is a duplicate, and the error rows go to the errors
 * table's writer as they come. A later copy with an earlier event time than the copy already
 * written would have to replace it: then both writes are abandoned (nothing of them stays) and
 * the result is undefined, for {@link twoPasses}.
 */
async function onePass(window: DayWindow, raw: Storage, writes: DayWrites): Promise<DayOutcome | undefined> {
  const table = new IdTable();
  const errors = new RowHandoff<SensorErrorRow>(ERROR_ROWS_WAITING);
  const errorsWrite = writes.errors(errors.rows());
  // Settled below in every case; a failure before then must not be reported as unhandled.
  errorsWrite.catch((err: unknown) => errors.abandon(err));
  let duplicates = 0;
  let earlier = false;

  async function* recordsOfDay(): AsyncGenerator<SensorRecord> {
    let ordinal = 0;
    for (const file of window.files) {
      let lineNumber = 0;
      for await (const text of readLines(raw, file.key)) {
        const line = window.classify(file, text, ++lineNumber);
        if (line === undefined) continue;
        if (line instanceof ErrorLine) {
          await errors.push(line.row);
          continue;
        }
        const offer = table.offer(line.id, line.timestamp.getTime() - window.startMs, ordinal++);
        if (offer === 'new') yield line;
        else if (offer === 'duplicate') duplicates++;
        else {
          // Written before the record that would replace it: abandon the write.
          earlier = true;
          throw new SensorTransformError(`${line.id} has a copy earlier in event time than the one written`, {
            code: 'SENSOR_TRANSFORM_FAILED',
          });
        }
      }
    }
  }

  let result: WriteDatasetResult | undefined;
  try {
    result = await writes.records(recordsOfDay());
  } catch (err) {
    errors.close({ error: err });
    await errorsWrite.catch(() => {});
    if (earlier) return undefined;
    throw err;
  }
  errors.close();
  return { window, table, duplicates, result, errorsResult: await errorsWrite };
}

/**
 * The day in two readings of its window: the first writes the error rows and finds each id's
 * kept occurrence, the second writes the kept occurrences.
 */
async function twoPasses(
  day: string,
  files: readonly RawFile[],
  lateness: number,
  raw: Storage,
  writes: DayWrites,
): Promise<DayOutcome> {
  const window = new DayWindow(day, files, lateness);
  const table = new IdTable();
  /** Objects holding records of this day, from the first pass: the second reads only those. */
  const withRecords = new Set<string>();

  async function* errorsOfDay(): AsyncGenerator<SensorErrorRow> {
    let ordinal = 0;
    for (const file of files) {
      let lineNumber = 0;
      let kept = 0;
      for await (const text of readLines(raw, file.key)) {
        const line = window.classify(file, text, ++lineNumber);
        if (line === undefined) continue;
        if (line instanceof ErrorLine) {
          yield line.row;
          continue;
        }
        kept++;
        table.offer(line.id, line.timestamp.getTime() - window.startMs, ordinal++);
      }
      if (kept > 0) withRecords.add(file.key);
    }
  }
  const errorsResult = await writes.errors(errorsOfDay());

  const again = new DayWindow(day, files, lateness);
  let duplicates = 0;
  async function* recordsOfDay(): AsyncGenerator<SensorRecord> {
    let ordinal = 0;
    for (const file of files) {
      if (!withRecords.has(file.key)) continue;
      let lineNumber = 0;
      for await (const text of readLines(raw, file.key)) {
        const line = again.classify(file, text, ++lineNumber);
        if (line === undefined || line instanceof ErrorLine) continue;
        if (table.isKept(line.id, ordinal++)) yield line;
        else duplicates++;
      }
    }
    if (again.valid !== window.valid) {
      throw new SensorTransformError(
        `The raw objects of ${day} changed during the run (${window.valid} records in the first pass, ${again.valid} in the second): run it again`,
        { code: 'SENSOR_TRANSFORM_FAILED', context: { day } },
      );
    }
  }
  const result = await writes.records(recordsOfDay());
  return { window, table, duplicates, result, errorsResult };
}
