// raw → processed: validate, deduplicate and partition the raw zone's sensor records by event
// time, and keep every line that is not a record in the errors table.
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
import {
  LineProblem,
  parseLine,
  RAW_SOURCE,
  type RawFile,
  RawIndex,
  RawReport,
  readLines,
} from './raw-reader.js';
import {
  checkCatalog,
  checkDates,
  checkListener,
  checkOptions,
  checkPath,
  checkStorage,
  checkTableFormat,
  dayOfHour,
  HOUR_MS,
  hourOfDay,
  invalidOption,
  SensorTransformError,
  shiftDay,
  writeIdOf,
  writeIfAny,
} from './shared.js';

const DEFAULT_LATENESS_HOURS = 6;
const MAX_LATENESS_HOURS = 24 * 30;

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

/** The options of {@link rawToProcessed}. */
export interface RawToProcessedOptions {
  /** The raw zone, holding `<source>/YYYY/MM/DD/HH/<name>.ndjson[.gz]` (Firehose's layout, UTC arrival time). */
  raw: Storage;
  /** The processed zone, where `<table>/` and `<errorsTable>/` are written. */
  processed: Storage;
  /** The raw folder. Default `sensors`. */
  source?: string;
  /** The processed table (Parquet, `dt=YYYY-MM-DD/hour=HH/` of event time). Default `sensors`. */
  table?: string;
  /** The errors table (NDJSON, `dt=YYYY-MM-DD/` of the raw folder). Default `sensors_errors`. */
  errorsTable?: string;
  /** Only these UTC days (`YYYY-MM-DD`) of event time for the processed table, and of raw folders for the errors table. Default: every day the raw zone can contribute to. */
  dates?: readonly string[];
  /**
   * How many hours after its event hour a record may still arrive (its raw folder's hour) and
   * belong to its event time's partition; one earlier is always allowed, for clock skew and
   * Firehose keying objects by their oldest record. A record outside that window goes to the
   * errors table as `OUT_OF_WINDOW` (re-run with a larger value to take it in). Each day reads
   * the raw folders from the hour before it to this many hours after it. Default 6.
   */
  maxLatenessHours?: number;
  /**
   * The table format of the processed and errors tables: `hive` (the default, as the lake's) or
   * `iceberg`. An Iceberg processed table is partitioned by `hour(timestamp)` (partition field
   * `timestamp_hour`, hidden: no `dt`/`hour` columns), and each day is one `overwrite_partitions`
   * snapshot; its errors table is Parquet (Iceberg has no NDJSON data files), partitioned by `dt`.
   */
  tableFormat?: LakeTableFormat;
  /** The Iceberg catalog of the processed tables. Default: the processed zone's own (`StorageCatalog`); a `GlueIcebergCatalog` in AWS. */
  catalog?: IcebergCatalog;
  onEvent?: EventListener;
}

/** What {@link rawToProcessed} did. `read = valid + invalid` and `valid = written + duplicates`. */
export interface RawToProcessedStats {
  /** The days processed, ascending. */
  dates: string[];
  /**
   * Raw objects read (an object in the window of two days is counted once). The objects not read
   * are in `unreadObjects` and `ignoredObjects`.
   */
  files: number;
  /** Non-blank raw lines handled by this run: each belongs to exactly one day. */
  read: number;
  /** Lines that are valid records within the lateness window. */
  valid: number;
  /** Lines written to the errors table (not UTF-8, bad JSON, schema failures, out of window). */
  invalid: number;
  /** Of `invalid`, the valid records outside the lateness window. */
  outOfWindow: number;
  /** Valid records whose id was already kept. */
  duplicates: number;
  /** Records written to the processed table. */
  written: number;
  /** Processed partitions written, e.g. `dt=2026-11-23/hour=10/` (`timestamp_hour=2026-11-23-10/` for Iceberg). */
  partitions: string[];
  /** Errors-table partitions written, e.g. `dt=2026-11-23/`. */
  errorPartitions: string[];
  /** Most distinct ids held at once for deduplication: the ids of one day. */
  peakIds: number;
  /**
   * Bytes of the id table at its largest: 8 bytes per `<sensorId>:<sequence>` id in chunks of 256
   * sequences, and 20 bytes per slot (at most 70 % full) of a hash table for other ids.
   */
  peakIdTableBytes: number;
  /**
   * Objects under the raw folder that were not read, in key order, with why: outside the
   * `YYYY/MM/DD/HH/` folders (their arrival hour, and so their lateness window, is unknown), in
   * a folder whose name is not in that layout, below an hour folder, or with an extension other
   * than NDJSON's. Each is also a `failure` event with code `SENSOR_RAW_OBJECT_UNREAD`. Move the
   * object into its hour folder and run again to read it.
   */
  unreadObjects: { key: string; reason: string }[];
  /**
   * Objects not read because a segment of their path starts with `_` or `.` — Hadoop's, Spark's
   * and Athena's rule for files that are not data (`_SUCCESS`, `_temporary/`, `.part-0.crc`) —
   * in key order; a hidden folder is listed once, as its prefix ending in `/`.
   */
  ignoredObjects: string[];
}

/**
 * The raw → processed transform of the sensors pipeline. Reads the raw zone's Firehose layout
 * (`<source>/YYYY/MM/DD/HH/*.ndjson[.gz]`, folders by UTC arrival time, every sensor type in the
 * same objects), validates each line against `sensorRecordSchema`, deduplicates by `id`, and
 * writes Parquet to `<table>/dt=YYYY-MM-DD/hour=HH/` of event time with `overwrite_partitions`.
 * Lines that are not valid records — not UTF-8 (decoded strictly, line by line), not JSON, not
 * a valid record — go to the NDJSON errors table with the reason and the line itself
 * ({@link sensorErrorSchema}); nothing is dropped.
 *
 * Which raw objects are read: those in an hour folder `<source>/YYYY/MM/DD/HH/` (a calendar day,
 * hours 00–23) whose name ends in `.ndjson`, `.jsonl` or `.json`, each optionally `.gz`, or has
 * no extension (Firehose's own names have none unless one is configured). Every other object
 * under `<source>/` in the folders a run looks at is not read and is reported in
 * `unreadObjects` with why, and by a `failure` event (`SENSOR_RAW_OBJECT_UNREAD`, one per
 * object); the run goes on. An object outside the hour folders is not read, even with a data
 * extension, because its arrival hour is unknown, and that hour decides which records are late
 * (`maxLatenessHours`): guessing it would place records by a rule nobody chose. Firehose never
 * writes there, so such an object was put there by hand or by another tool: move it into its
 * hour folder and run again. Objects and folders whose name starts with `_` or `.` (`_SUCCESS`,
 * `_temporary/`, `.part-0.crc`) are not data by Hadoop's, Spark's and Athena's rule: they are
 * listed in `ignoredObjects`, without an event. The folders a run looks at: all of them without
 * `dates`; with `dates`, `<source>/` itself and the year, month and day folders of those days'
 * windows. Listing costs one request per year, month and day folder (each is jumped over) plus
 * the day folders' objects.
 *
 * One UTC day of event time at a time: a day reads the raw folders from the hour before it to
 * `maxLatenessHours` after it, so records that arrive late (event 10:59, folder 11) land in their
 * event hour. Each raw line belongs to exactly one day — its event day when it arrived within the
 * window, otherwise its folder's day (as an `OUT_OF_WINDOW` error) — and invalid lines to their
 * folder's day, so no line is counted twice. Delivery is at least once, so the same id can come
 * several times: the kept occurrence is the one with the earliest event time, then the earliest
 * in raw key order and line order — the same rule whatever the order of reading. One pass per
 * day: a record is written when its id comes first, and its later copies at the same or a later
 * event time are duplicates; a later copy with an earlier event time than the one already written
 * (a producer that re-sent a reading with another time) abandons that day's writes and reads the
 * day twice, once to find each id's kept occurrence and once to write them. Memory: the ids of one
 * day, about 8 bytes each for `<sensorId>:<sequence>` ids (`sensorRecordId`'s), 20–40 bytes each
 * for other ids (~7 MB for a million fleet ids, ~30 MB for a million others). An id whose copies
 * fall on two different days (their event times differ by a day) is deduplicated per day only.
 *
 * Running it again on the same input writes the same files under the same keys (write ids derive
 * from the input objects' keys, sizes and etags) and replaces the partitions it writes, so the
 * result is the same. A partition that no longer gets any record (input deleted) is left as it was.
 *
 * @example
 * ```ts
 * const stats = await rawToProcessed({ raw: lake.raw, processed: lake.processed });
 * console.log(`${stats.written} records, ${stats.duplicates} duplicates, ${stats.invalid} to sensors_errors`);
 * for (const { key, reason } of stats.unreadObjects) console.warn(`not read: ${key}: ${reason}`);
 * ```
 */
export async function rawToProcessed(options: RawToProcessedOptions): Promise<RawToProcessedStats> {
  const input = checkOptions(options, 'options');
  const raw = checkStorage('raw', input.raw);
  const processed = checkStorage('processed', input.processed);
  const source = checkPath('source', input.source, 'sensors');
  const table = checkPath('table', input.table, 'sensors');
  const errorsTable = checkPath('errorsTable', input.errorsTable, 'sensors_errors');
  if (errorsTable === table) throw invalidOption('errorsTable', errorsTable, 'a table other than `table`');
  const lateness = input.maxLatenessHours ?? DEFAULT_LATENESS_HOURS;
  if (
    typeof lateness !== 'number' ||
    !Number.isInteger(lateness) ||
    lateness < 0 ||
    lateness > MAX_LATENESS_HOURS
  ) {
    throw invalidOption(
      'maxLatenessHours',
      lateness,
      `a whole number of hours from 0 to ${MAX_LATENESS_HOURS}`,
    );
  }
  const tableFormat = checkTableFormat(input.tableFormat);
  const settings = Object.freeze({
    raw,
    processed,
    source,
    table,
    errorsTable,
    lateness,
    tableFormat,
    catalog: checkCatalog('catalog', input.catalog, tableFormat),
    dates: checkDates(input.dates),
    onEvent: checkListener(input.onEvent),
  });

  const report = new RawReport(settings.onEvent);
  const index = new RawIndex(raw, `${source}/`, report);
  let dates = settings.dates;
  if (dates === undefined) {
    // Every day a raw folder can give records to: its own, the days its late records belong to,
    // and the next one (records up to an hour early).
    const candidates = new Set<string>();
    for (const day of await index.days()) {
      const first = hourOfDay(day);
      for (let d = dayOfHour(first - lateness); d <= shiftDay(day, 1); d = shiftDay(d, 1)) candidates.add(d);
    }
    dates = [...candidates].sort();
  }

  const stats: RawToProcessedStats = {
    dates,
    files: 0,
    read: 0,
    valid: 0,
    invalid: 0,
    outOfWindow: 0,
    duplicates: 0,
    written: 0,
    partitions: [],
    errorPartitions: [],
    peakIds: 0,
    peakIdTableBytes: 0,
    unreadObjects: [],
    ignoredObjects: [],
  };
  const filesRead = new Set<string>();
  for (const day of dates) {
    index.forgetBefore(shiftDay(day, -1));
    await processDay(day, settings, index, stats, filesRead);
  }
  stats.files = filesRead.size;
  stats.partitions.sort();
  stats.errorPartitions.sort();
  stats.unreadObjects = [...report.unread]
    .map(([key, reason]) => ({ key, reason }))
    .sort((a, b) => compareKeys(a.key, b.key));
  stats.ignoredObjects = [...report.ignored].sort(compareKeys);
  return stats;
}

interface RawSettings {
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
interface DayOutcome {
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

async function processDay(
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
