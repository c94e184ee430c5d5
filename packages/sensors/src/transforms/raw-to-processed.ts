// raw → processed: validate, deduplicate and partition the raw zone's sensor records by event
// time, and keep every line that is not a record in the errors table.
import { defineSchema, type EventListener, emitSafely, field, type Infer } from '@tributary/core';
import {
  byField,
  byHour,
  compareKeys,
  type IcebergCatalog,
  type LakeTableFormat,
  type Storage,
  tableFormatOptions,
  writeDataset,
} from '@tributary/lake';
import { type SensorRecord, sensorRecordSchema } from '../record.js';
import { IdTable } from './id-table.js';
import { parseLine, RAW_SOURCE, type RawFile, RawIndex, RawReport, readLines } from './raw-reader.js';
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
  /** Bytes of the id table at its largest (20 bytes per slot, at most 70 % full). */
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
 * in raw key order and line order — the same rule whatever the order of reading. Two passes per
 * day: the first finds each id's kept occurrence (memory: the ids of one day, 20–40 bytes each in
 * a typed-array hash table, ~40 MB for a million), the second writes them. An id whose copies
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

async function processDay(
  day: string,
  settings: RawSettings,
  index: RawIndex,
  stats: RawToProcessedStats,
  filesRead: Set<string>,
): Promise<void> {
  const { raw, processed, lateness, onEvent } = settings;
  const first = hourOfDay(day);
  const last = first + 23;
  const windowStart = first - 1;
  const windowEnd = last + lateness;
  const files: RawFile[] = [];
  for (let d = dayOfHour(windowStart); d <= dayOfHour(windowEnd); d = shiftDay(d, 1)) {
    for (const file of await index.filesOf(d)) {
      if (file.hour >= windowStart && file.hour <= windowEnd) files.push(file);
    }
  }
  files.sort((a, b) => compareKeys(a.key, b.key));
  if (files.length === 0) return;
  const inputId = files.flatMap((f) => [f.key, String(f.size), f.tag]);
  // A record belongs to its event hour when it arrived at most `lateness` hours after it, or in
  // the folder of the hour before (clock skew; Firehose names an object by its oldest record).
  const inWindow = (eventHour: number, folderHour: number) =>
    eventHour >= folderHour - lateness && eventHour <= folderHour + 1;
  const dayStartMs = first * HOUR_MS;

  let read = 0;
  let valid = 0;
  let invalid = 0;
  let outOfWindow = 0;
  const table = new IdTable();
  /** Objects holding records of this day, from the first pass: the second reads only those. */
  const withRecords = new Set<string>();

  // Pass 1: every line of the window; this day's errors are streamed to the errors table, and
  // each of this day's ids gets its kept occurrence.
  /** A line of this day's files that is no record: counted as read and invalid. */
  const errorRow = (
    key: string,
    line: number,
    code: SensorErrorRow['code'],
    reason: string,
    rawLine: SensorErrorRow['raw'],
  ): SensorErrorRow => {
    read++;
    invalid++;
    return { dt: day, key, line, code, reason, raw: rawLine };
  };

  async function* errorsOfDay(): AsyncGenerator<SensorErrorRow> {
    let ordinal = 0;
    for (const file of files) {
      filesRead.add(file.key);
      const ownsErrors = file.dt === day;
      let lineNumber = 0;
      let kept = 0;
      for await (const line of readLines(raw, file.key)) {
        lineNumber++;
        if (typeof line !== 'string') {
          if (ownsErrors) yield errorRow(file.key, lineNumber, 'INVALID_UTF8', line.reason, line.raw);
          continue;
        }
        if (line.trim() === '') continue;
        const parsed = parseLine(line);
        if (!parsed.ok) {
          if (ownsErrors) yield errorRow(file.key, lineNumber, parsed.code, parsed.reason, line);
          continue;
        }
        const time = parsed.record.timestamp.getTime();
        const eventHour = Math.floor(time / HOUR_MS);
        if (inWindow(eventHour, file.hour)) {
          if (eventHour < first || eventHour > last) continue;
          read++;
          valid++;
          kept++;
          table.offer(parsed.record.id, time - dayStartMs, ordinal++);
        } else if (ownsErrors) {
          read++;
          invalid++;
          outOfWindow++;
          const when =
            eventHour < file.hour
              ? `${file.hour - eventHour} hours before`
              : `${eventHour - file.hour} hours after`;
          yield {
            dt: day,
            key: file.key,
            line: lineNumber,
            code: 'OUT_OF_WINDOW',
            reason: `event time ${parsed.record.timestamp.toISOString()} is ${when} the folder's hour (window: ${lateness} hours before to 1 hour after)`,
            raw: line,
          };
        }
      }
      if (kept > 0) withRecords.add(file.key);
    }
  }

  const errorsResult = await writeIfAny(errorsOfDay(), (rows) =>
    writeDataset(rows, {
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
  );
  emitSafely(onEvent, { type: 'records.in', source: RAW_SOURCE, count: read, time: Date.now() });
  if (invalid > 0) {
    emitSafely(onEvent, {
      type: 'failure',
      source: RAW_SOURCE,
      count: invalid,
      code: 'SENSOR_RECORD_INVALID',
      time: Date.now(),
    });
  }

  // Pass 2: the same records in the same order; each id's kept occurrence is written.
  let duplicates = 0;
  let seen = 0;
  async function* recordsOfDay(): AsyncGenerator<SensorRecord> {
    let ordinal = 0;
    for (const file of files) {
      if (!withRecords.has(file.key)) continue;
      for await (const line of readLines(raw, file.key)) {
        if (typeof line !== 'string' || line.trim() === '') continue;
        const parsed = parseLine(line);
        if (!parsed.ok) continue;
        const eventHour = Math.floor(parsed.record.timestamp.getTime() / HOUR_MS);
        if (!inWindow(eventHour, file.hour) || eventHour < first || eventHour > last) continue;
        seen++;
        if (table.isKept(parsed.record.id, ordinal++)) yield parsed.record;
        else duplicates++;
      }
    }
    if (seen !== valid) {
      throw new SensorTransformError(
        `The raw objects of ${day} changed during the run (${valid} records in the first pass, ${seen} in the second): run it again`,
        { code: 'SENSOR_TRANSFORM_FAILED', context: { day } },
      );
    }
  }

  const result = await writeIfAny(recordsOfDay(), (records) =>
    writeDataset(records, {
      storage: processed,
      table: settings.table,
      schema: sensorRecordSchema,
      partitionBy: byHour('timestamp'),
      format: 'parquet',
      mode: 'overwrite_partitions',
      ...tableFormatOptions(settings),
      writeId: writeIdOf('processed', [settings.source, settings.table, day, String(lateness), ...inputId]),
      onEvent,
    }),
  );
  const written = result?.rows ?? 0;
  emitSafely(onEvent, { type: 'records.out', source: RAW_SOURCE, count: written, time: Date.now() });

  stats.read += read;
  stats.valid += valid;
  stats.invalid += invalid;
  stats.outOfWindow += outOfWindow;
  stats.duplicates += duplicates;
  stats.written += written;
  stats.partitions.push(...(result?.partitions ?? []));
  stats.errorPartitions.push(...(errorsResult?.partitions ?? []));
  stats.peakIds = Math.max(stats.peakIds, table.size);
  stats.peakIdTableBytes = Math.max(stats.peakIdTableBytes, table.bytes);
}
