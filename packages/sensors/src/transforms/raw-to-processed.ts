// raw → processed: validate, deduplicate and partition the raw zone's sensor records by event
// time, and keep every line that is not a record in the errors table.
import type { EventListener } from '@tributary/core';
import { compareKeys, type IcebergCatalog, type LakeTableFormat, type Storage } from '@tributary/lake';
import { processDay } from './raw-day.js';
import { RawIndex, RawReport } from './raw-reader.js';
import {
  checkCatalog,
  checkDates,
  checkListener,
  checkOptions,
  checkPath,
  checkStorage,
  checkTableFormat,
  dayOfHour,
  hourOfDay,
  invalidOption,
  shiftDay,
} from './shared.js';

const DEFAULT_LATENESS_HOURS = 6;
const MAX_LATENESS_HOURS = 24 * 30;

export { type SensorErrorRow, sensorErrorSchema } from './raw-day.js';

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
