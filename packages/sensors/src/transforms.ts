import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  defineSchema,
  describeValue,
  type ErrorContext,
  type EventListener,
  emitSafely,
  field,
  type Infer,
  type NdjsonDecodeError,
  ndjsonLines,
  TributaryError,
} from '@tributary/core';
import {
  byField,
  byHour,
  compareKeys,
  type IcebergCatalog,
  IcebergError,
  type IcebergScan,
  type LakeTableFormat,
  listDatasetFiles,
  parsePartitions,
  readDataset,
  type Storage,
  scanIceberg,
  type WriteDatasetResult,
  writeDataset,
} from '@tributary/lake';
import { type CuratedHourlyRow, curatedHourlySchema } from './curated-schema.js';
import { defaultSensorTypes } from './models.js';
import { type SensorRecord, sensorRecordSchema } from './record.js';
import { SensorTypeRegistry } from './registry.js';
import type { SensorType } from './sensor-type.js';

const HOUR_MS = 3_600_000;
/** Part of every write id: a change in how the output is computed must give new file names. */
const VERSION = 'tributary-sensors-transforms/1';
const RAW_SOURCE = 'sensors:raw-to-processed';
const CURATED_SOURCE = 'sensors:processed-to-curated';
/** The code of an object under the raw folder that a run did not read (outside the layout). */
const UNREAD = 'SENSOR_RAW_OBJECT_UNREAD';
const DEFAULT_LATENESS_HOURS = 6;
const MAX_LATENESS_HOURS = 24 * 30;

/**
 * A sensor transform cannot run: an option is wrong (`SENSOR_TRANSFORM_INVALID`, `context.option`
 * names it), the processed table is not partitioned by `dt` and `hour`
 * (`SENSOR_TRANSFORM_LAYOUT`, `context.key`), or reading failed or the input changed during the
 * run (`SENSOR_TRANSFORM_FAILED`, with `cause`). Storage and dataset errors of the lake reach the
 * caller as they are. A raw object outside the Firehose layout does not stop a run: it is
 * reported in `unreadObjects` and by a `failure` event whose `error` is a `SensorTransformError`
 * with code `SENSOR_RAW_OBJECT_UNREAD` and `context.key` and `context.reason`.
 *
 * @example
 * ```ts
 * try { await rawToProcessed({ raw: lake.raw, processed: lake.processed, dates: ['2026-13-01'] }); }
 * catch (err) { if (err instanceof SensorTransformError) console.log(err.code, err.context.option); } // SENSOR_TRANSFORM_INVALID dates
 * ```
 */
export class SensorTransformError extends TributaryError {
  override name = 'SensorTransformError';

  constructor(message: string, options: { code?: string; context?: ErrorContext; cause?: unknown } = {}) {
    super(message, {
      code: options.code ?? 'SENSOR_TRANSFORM_INVALID',
      context: options.context,
      cause: options.cause,
    });
  }
}

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

/** The options of {@link processedToCurated}. */
export interface ProcessedToCuratedOptions {
  /** The processed zone, holding the `<source>` table written by {@link rawToProcessed}. */
  processed: Storage;
  /** The curated zone, where `<table>/dt=YYYY-MM-DD/` is written. */
  curated: Storage;
  /** The processed table. Default `sensors`. */
  source?: string;
  /** The curated table. Default `sensor_hourly`. */
  table?: string;
  /**
   * Units and declared ranges (for `anomalies`) of the types present. Default
   * `defaultSensorTypes()`. A type present that it does not hold is still aggregated, with the
   * records' unit and no anomalies, and counted in `unknownTypes`.
   */
  types?: SensorTypeRegistry | Iterable<SensorType>;
  /** Only these UTC days (`YYYY-MM-DD`). Default: every day of the processed table. */
  dates?: readonly string[];
  /**
   * The table format of both tables: `hive` (the default, as the lake's) or `iceberg`. An Iceberg
   * processed table is read at one snapshot (the current one when the run starts), whatever is
   * committed during the run; the curated table is then an Iceberg table partitioned by `dt`.
   */
  tableFormat?: LakeTableFormat;
  /** The Iceberg catalog of the curated table. Default: the curated zone's own (`StorageCatalog`); a `GlueIcebergCatalog` in AWS. */
  catalog?: IcebergCatalog;
  /** The Iceberg catalog of the processed table read. Default: the processed zone's own (`StorageCatalog`). */
  processedCatalog?: IcebergCatalog;
  onEvent?: EventListener;
}

/** What {@link processedToCurated} did. */
export interface ProcessedToCuratedStats {
  /** The days aggregated, ascending. */
  dates: string[];
  /** Processed records read. */
  records: number;
  /** Curated rows written (one per day, hour and type). */
  rows: number;
  /** Records outside their type's declared range. */
  anomalies: number;
  /** Curated partitions written, e.g. `dt=2026-11-23/`. */
  partitions: string[];
  /** The processed table's snapshot read, as decimal text (Iceberg only). */
  snapshotId?: string;
  /**
   * The types present that `types` does not hold, by name, with how many of their records were
   * aggregated: their rows have the records' unit and 0 anomalies (there is no range to check).
   */
  unknownTypes: { type: string; records: number }[];
}

interface RawFile {
  key: string;
  /** The folder's hour, in hours since the epoch (UTC). */
  hour: number;
  /** The folder's day, `YYYY-MM-DD`. */
  dt: string;
  size: number;
  tag: string;
}

type ParsedLine =
  | { ok: true; record: SensorRecord }
  | { ok: false; code: 'INVALID_JSON' | 'INVALID_RECORD'; reason: string };

// ---------------------------------------------------------------------------------------------
// Options

function invalidOption(option: string, value: unknown, expected: string): SensorTransformError {
  return new SensorTransformError(`Option ${option} must be ${expected}, got ${describeValue(value)}`, {
    context: { option },
  });
}

function checkStorage(option: string, value: unknown): Storage {
  const storage = value as Partial<Storage> | null;
  if (
    typeof storage !== 'object' ||
    storage === null ||
    typeof storage.list !== 'function' ||
    typeof storage.listPrefixes !== 'function' ||
    typeof storage.get !== 'function' ||
    typeof storage.put !== 'function'
  ) {
    throw invalidOption(option, value, 'a lake Storage (LocalStorage, S3Storage, MemoryStorage)');
  }
  return value as Storage;
}

function checkPath(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'string' &&
    value !== '' &&
    value
      .split('/')
      .every((s) => s !== '' && s !== '.' && s !== '..' && !s.startsWith('_') && !s.includes('\\'));
  if (!ok)
    throw invalidOption(option, value, 'a folder path such as "sensors" (no empty, "_" or ".." segment)');
  return value;
}

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function checkDates(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalidOption('dates', value, 'an array of YYYY-MM-DD days');
  for (const day of value) {
    if (typeof day !== 'string' || !isCalendarDay(day)) {
      throw invalidOption('dates', day, 'an array of calendar days as YYYY-MM-DD');
    }
  }
  return [...new Set(value as string[])].sort();
}

function checkTableFormat(value: unknown): LakeTableFormat {
  if (value === undefined) return 'hive';
  if (value !== 'hive' && value !== 'iceberg')
    throw invalidOption('tableFormat', value, "'hive' or 'iceberg'");
  return value;
}

function checkCatalog(
  option: string,
  value: unknown,
  tableFormat: LakeTableFormat,
): IcebergCatalog | undefined {
  if (value === undefined) return undefined;
  const catalog = value as Partial<IcebergCatalog> | null;
  if (
    typeof catalog !== 'object' ||
    catalog === null ||
    typeof catalog.load !== 'function' ||
    typeof catalog.commit !== 'function'
  ) {
    throw invalidOption(option, value, 'an Iceberg catalog (StorageCatalog, GlueIcebergCatalog)');
  }
  if (tableFormat !== 'iceberg')
    throw invalidOption('catalog', value, "absent unless tableFormat is 'iceberg'");
  return value as IcebergCatalog;
}

/** The lake options that choose a table format (and catalog) for a read or a write. */
function formatOptions(settings: {
  readonly tableFormat: LakeTableFormat;
  readonly catalog: IcebergCatalog | undefined;
}): { tableFormat: LakeTableFormat; catalog?: IcebergCatalog } {
  return settings.catalog
    ? { tableFormat: settings.tableFormat, catalog: settings.catalog }
    : { tableFormat: settings.tableFormat };
}

function checkListener(value: unknown): EventListener | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidOption('onEvent', value, 'a function');
  return value as EventListener | undefined;
}

function checkOptions(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw invalidOption(name, value, 'an object');
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Time

function isCalendarDay(day: string): boolean {
  if (!ISO_DAY.test(day)) return false;
  const time = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === day;
}

/** The first hour (since the epoch) of a `YYYY-MM-DD` day, UTC. */
function hourOfDay(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / HOUR_MS;
}

/** The `YYYY-MM-DD` day of an hour since the epoch, UTC. */
function dayOfHour(hour: number): string {
  return new Date(hour * HOUR_MS).toISOString().slice(0, 10);
}

function shiftDay(day: string, days: number): string {
  return dayOfHour(hourOfDay(day) + 24 * days);
}

// ---------------------------------------------------------------------------------------------
// Deduplication

const SLOT_BYTES = 20;
const MAX_LOAD = 0.7;
let laneA = 0;
let laneB = 0;
let laneC = 0;

/**
 * Three independent 32-bit hashes of a string (two Murmur3-style lanes with different seeds and
 * an FNV-1a lane, each finalized), into laneA/B/C. 96 bits: two distinct ids of a day of a
 * million collide with a probability of about 6e-18.
 */
function hashId(id: string): void {
  let a = 0x9747b28c;
  let b = 0x1b873593;
  let c = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    let k = Math.imul(code, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    a ^= k;
    a = (a << 13) | (a >>> 19);
    a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    b ^= Math.imul(k, 0x85ebca6b);
    b = (b << 17) | (b >>> 15);
    b = (Math.imul(b, 9) + 0x52dce729) | 0;
    c = Math.imul(c ^ code, 0x01000193);
  }
  laneA = fmix(a ^ id.length);
  laneB = fmix(b ^ id.length);
  laneC = fmix(c);
}

function fmix(input: number): number {
  let h = input;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * For each id of a day, the occurrence to keep: the smallest (event time, ordinal), where the
 * ordinal numbers the day's records in raw key order, then line order. Open addressing over
 * typed arrays: 20 bytes a slot (a 96-bit id hash, the time as ms into the day, the ordinal + 1)
 * instead of ~60 bytes per id for a `Set<string>` (~85 for a `Map` holding the winner).
 */
class IdTable {
  #keys: Uint32Array;
  #values: Uint32Array;
  #mask: number;
  size = 0;

  constructor(capacity = 1 << 12) {
    this.#keys = new Uint32Array(capacity * 3);
    this.#values = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
  }

  get bytes(): number {
    return (this.#mask + 1) * SLOT_BYTES;
  }

  /** The slot of the id last hashed: its own, or the empty one where it would go. */
  #slot(): number {
    let slot = laneA & this.#mask;
    const keys = this.#keys;
    while (this.#values[slot * 2 + 1] !== 0) {
      if (keys[slot * 3] === laneA && keys[slot * 3 + 1] === laneB && keys[slot * 3 + 2] === laneC) break;
      slot = (slot + 1) & this.#mask;
    }
    return slot;
  }

  /** An occurrence of `id` at `offsetMs` into the day, the `ordinal`-th of the day (ordinals only grow). */
  offer(id: string, offsetMs: number, ordinal: number): void {
    if (ordinal >= 0xffff_fffe) {
      throw new SensorTransformError('More than 4,294,967,293 records in one day: split the input', {
        code: 'SENSOR_TRANSFORM_FAILED',
      });
    }
    if (this.size + 1 > (this.#mask + 1) * MAX_LOAD) this.#grow();
    hashId(id);
    const slot = this.#slot();
    if (this.#values[slot * 2 + 1] === 0) {
      this.#keys[slot * 3] = laneA;
      this.#keys[slot * 3 + 1] = laneB;
      this.#keys[slot * 3 + 2] = laneC;
      this.#values[slot * 2] = offsetMs;
      this.#values[slot * 2 + 1] = ordinal + 1;
      this.size++;
    } else if (offsetMs < (this.#values[slot * 2] as number)) {
      // An earlier event time wins; at equal times the earlier ordinal, which is already there.
      this.#values[slot * 2] = offsetMs;
      this.#values[slot * 2 + 1] = ordinal + 1;
    }
  }

  isKept(id: string, ordinal: number): boolean {
    hashId(id);
    return this.#values[this.#slot() * 2 + 1] === ordinal + 1;
  }

  #grow(): void {
    const keys = this.#keys;
    const values = this.#values;
    const capacity = (this.#mask + 1) * 2;
    this.#keys = new Uint32Array(capacity * 3);
    this.#values = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
    for (let old = 0; old < values.length / 2; old++) {
      if (values[old * 2 + 1] === 0) continue;
      let slot = (keys[old * 3] as number) & this.#mask;
      while (this.#values[slot * 2 + 1] !== 0) slot = (slot + 1) & this.#mask;
      this.#keys.set(keys.subarray(old * 3, old * 3 + 3), slot * 3);
      this.#values.set(values.subarray(old * 2, old * 2 + 2), slot * 2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the raw zone

/** Names that Hadoop, Spark, Hive and Athena take as not data: `_SUCCESS`, `_temporary/`, `.x.crc`. */
function hidden(segment: string): boolean {
  return segment.startsWith('_') || segment.startsWith('.');
}

/** Extensions of the objects read (each may end in `.gz`); a name without one is read too. */
const DATA_EXTENSIONS = new Set(['ndjson', 'jsonl', 'json']);
/** What an extension looks like: after the last dot, letters and digits, so `my.stream-1-2026-…` has none. */
const EXTENSION = /^[a-z][a-z0-9]{0,9}$/i;
/**
 * Listing again after `<folder>/<SKIP>` jumps past a folder: only keys of it whose name starts
 * with U+10FFFF (the last code point) sort after, and the scan goes on past each of those.
 */
const SKIP = '\u{10ffff}';

/** Why an object of an hour folder is not read, or undefined when it is NDJSON by its name. */
function notData(name: string): string | undefined {
  const base = name.endsWith('.gz') ? name.slice(0, -3) : name;
  const extension = base.slice(base.lastIndexOf('.') + 1);
  if (!base.includes('.') || !EXTENSION.test(extension) || DATA_EXTENSIONS.has(extension.toLowerCase())) {
    return undefined;
  }
  return `not NDJSON: extension ".${extension}" (read are .ndjson, .jsonl and .json, each optionally .gz, and names without an extension)`;
}

/**
 * What a run found under the raw folder and did not read: objects outside the layout (with why,
 * each also a `failure` event) and hidden names (by rule, listed only).
 */
class RawReport {
  readonly unread = new Map<string, string>();
  readonly ignored = new Set<string>();

  constructor(private readonly onEvent: EventListener | undefined) {}

  unreadObject(key: string, reason: string): void {
    if (this.unread.has(key)) return;
    this.unread.set(key, reason);
    emitSafely(this.onEvent, {
      type: 'failure',
      source: RAW_SOURCE,
      count: 1,
      code: UNREAD,
      error: new SensorTransformError(`${key} was not read: ${reason}`, {
        code: UNREAD,
        context: { key, reason },
      }),
      time: Date.now(),
    });
  }

  /**
   * When the path of `key` after `prefix` has a hidden segment, ignores the object, or the
   * hidden folder as a whole, and returns true.
   */
  ignoreIfHidden(prefix: string, key: string): boolean {
    const segments = key.slice(prefix.length).split('/');
    const at = segments.findIndex(hidden);
    if (at === -1) return false;
    this.ignored.add(at === segments.length - 1 ? key : `${prefix}${segments.slice(0, at + 1).join('/')}/`);
    return true;
  }
}

/**
 * The raw zone's folders, listed lazily and cached for the days a run still needs. Every object
 * under the folders a run looks at is either a file to read or reported: the source, year and
 * month folders are listed with the objects directly in them (one listing per subfolder, which
 * it jumps over), a day folder is listed whole, and a folder whose name is not in the layout is
 * listed to report each object in it.
 */
class RawIndex {
  readonly #levels = new Map<string, Promise<string[]>>();
  readonly #files = new Map<string, Promise<RawFile[]>>();

  constructor(
    private readonly storage: Storage,
    private readonly prefix: string,
    private readonly report: RawReport,
  ) {}

  /** Every `YYYY-MM-DD` with a folder, by walking the year/month/day folders (not every object). */
  async days(): Promise<string[]> {
    const days: string[] = [];
    for (const year of await this.#years()) {
      for (const month of await this.#months(year)) {
        for (const day of await this.#days(year, month)) days.push(`${year}-${month}-${day}`);
      }
    }
    return days.sort();
  }

  /** The objects to read of one day folder, in key order. */
  filesOf(day: string): Promise<RawFile[]> {
    let files = this.#files.get(day);
    if (!files) {
      files = this.#list(day);
      this.#files.set(day, files);
    }
    return files;
  }

  /** Forget the listings of days before `day`. */
  forgetBefore(day: string): void {
    for (const cached of this.#files.keys()) if (cached < day) this.#files.delete(cached);
  }

  #years(): Promise<string[]> {
    return this.#level(this.prefix, (name) => (/^\d{4}$/.test(name) ? undefined : 'is not a year (YYYY)'));
  }

  #months(year: string): Promise<string[]> {
    return this.#level(`${this.prefix}${year}/`, (name) =>
      /^(0[1-9]|1[0-2])$/.test(name) ? undefined : 'is not a month (01-12)',
    );
  }

  #days(year: string, month: string): Promise<string[]> {
    return this.#level(`${this.prefix}${year}/${month}/`, (name) =>
      /^\d{2}$/.test(name) && isCalendarDay(`${year}-${month}-${name}`)
        ? undefined
        : `is not a day of ${year}-${month} (01-31)`,
    );
  }

  /** The subfolders of `prefix` in the layout; everything else in it is reported, once. */
  #level(prefix: string, problemOf: (name: string) => string | undefined): Promise<string[]> {
    let level = this.#levels.get(prefix);
    if (!level) {
      level = this.#scan(prefix, problemOf);
      this.#levels.set(prefix, level);
    }
    return level;
  }

  /** Why an object directly in the source, a year, a month or a day folder is not read. */
  get #outside(): string {
    return `not in an hour folder ${this.prefix}YYYY/MM/DD/HH/: its arrival hour is unknown`;
  }

  async #scan(prefix: string, problemOf: (name: string) => string | undefined): Promise<string[]> {
    const valid: string[] = [];
    let startAfter: string | undefined;
    let last: string | undefined;
    for (;;) {
      let folder: string | undefined;
      for await (const object of this.storage.list(prefix, { startAfter })) {
        const rest = object.key.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash === -1) {
          if (!this.report.ignoreIfHidden(prefix, object.key))
            this.report.unreadObject(object.key, this.#outside);
          continue;
        }
        folder = rest.slice(0, slash);
        startAfter = `${prefix}${folder}/${SKIP}`;
        // A key beyond SKIP (its name starts with U+10FFFF) in the folder just seen: go on after it.
        if (folder === last) startAfter = object.key;
        break;
      }
      if (folder === undefined) break;
      if (folder === last) continue;
      last = folder;
      const child = `${prefix}${folder}/`;
      if (hidden(folder)) {
        this.report.ignored.add(child);
        continue;
      }
      const problem = problemOf(folder);
      if (problem === undefined) valid.push(folder);
      else await this.#reportFolder(child, `folder "${folder}" ${problem}`);
    }
    return valid;
  }

  /** Reports every object under a folder that is not in the layout. */
  async #reportFolder(prefix: string, reason: string): Promise<void> {
    for await (const object of this.storage.list(prefix)) {
      if (!this.report.ignoreIfHidden(prefix, object.key)) this.report.unreadObject(object.key, reason);
    }
  }

  async #list(day: string): Promise<RawFile[]> {
    const [year, month, dd] = day.split('-') as [string, string, string];
    if (!(await this.#years()).includes(year)) return [];
    if (!(await this.#months(year)).includes(month)) return [];
    if (!(await this.#days(year, month)).includes(dd)) return [];
    const prefix = `${this.prefix}${year}/${month}/${dd}/`;
    const first = hourOfDay(day);
    const files: RawFile[] = [];
    for await (const object of this.storage.list(prefix)) {
      if (this.report.ignoreIfHidden(prefix, object.key)) continue;
      const segments = object.key.slice(prefix.length).split('/');
      const hour = segments[0] as string;
      let reason: string | undefined;
      if (segments.length === 1) reason = this.#outside;
      else if (!/^\d{2}$/.test(hour) || Number(hour) > 23) reason = `folder "${hour}" is not an hour (00-23)`;
      else if (segments.length > 2) reason = `in a folder below the hour folder ${prefix}${hour}/`;
      else reason = notData(segments[1] as string);
      if (reason !== undefined) {
        this.report.unreadObject(object.key, reason);
        continue;
      }
      files.push({
        key: object.key,
        hour: first + Number(hour),
        dt: day,
        size: object.size,
        tag: object.etag ?? String(object.lastModified?.getTime() ?? ''),
      });
    }
    return files.sort((a, b) => compareKeys(a.key, b.key));
  }
}

function readFailed(key: string, err: unknown): unknown {
  if (TributaryError.isInstance(err)) return err;
  return new SensorTransformError(`Reading ${key} failed: ${(err as Error)?.message ?? String(err)}`, {
    code: 'SENSOR_TRANSFORM_FAILED',
    context: { key },
    cause: err,
  });
}

/**
 * The lines of an object (gunzipped when its key ends in `.gz`) through core's one NDJSON line
 * reader: every line in order, and a line that is not UTF-8 as an `NdjsonDecodeError` in its place.
 */
async function* readLines(storage: Storage, key: string): AsyncGenerator<string | NdjsonDecodeError> {
  try {
    const body = await storage.get(key);
    const source: AsyncIterable<Uint8Array> = key.endsWith('.gz')
      ? // A failure reaches the loop below through the gunzip stream, which pipeline destroys with it.
        pipeline(body, createGunzip(), () => {})
      : body;
    yield* ndjsonLines(source);
  } catch (err) {
    throw readFailed(key, err);
  }
}

function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, code: 'INVALID_JSON', reason: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'INVALID_JSON', reason: `not a JSON object: ${describeValue(value)}` };
  }
  const result = sensorRecordSchema.validate(value);
  if (result.ok) return { ok: true, record: result.value };
  return {
    ok: false,
    code: 'INVALID_RECORD',
    reason: result.issues.map((i) => `${i.path || '(record)'}: ${i.message}`).join('; '),
  };
}

/** Writes only when there is something to write: an empty run must not add a manifest version. */
async function writeIfAny<T>(
  records: AsyncGenerator<T>,
  write: (records: AsyncIterable<T>) => Promise<WriteDatasetResult>,
): Promise<WriteDatasetResult | undefined> {
  const first = await records.next();
  if (first.done) return undefined;
  const result = await write(
    (async function* () {
      yield first.value;
      yield* records;
    })(),
  );
  // Every record was validated before; one the writer still refuses would otherwise sit unseen in the result.
  if (result.invalidCount > 0) {
    const issues = result.invalid[0]?.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new SensorTransformError(
      `${result.invalidCount} records did not fit the table's schema (${issues})`,
      {
        code: 'SENSOR_TRANSFORM_FAILED',
      },
    );
  }
  return result;
}

function writeIdOf(kind: string, parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of [VERSION, kind, ...parts]) hash.update(part).update('\0');
  return `${kind}-${hash.digest('hex').slice(0, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// raw → processed

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
          if (!ownsErrors) continue;
          read++;
          invalid++;
          yield {
            dt: day,
            key: file.key,
            line: lineNumber,
            code: 'INVALID_UTF8',
            reason: line.reason,
            raw: line.raw,
          };
          continue;
        }
        if (line.trim() === '') continue;
        const parsed = parseLine(line);
        if (!parsed.ok) {
          if (!ownsErrors) continue;
          read++;
          invalid++;
          yield {
            dt: day,
            key: file.key,
            line: lineNumber,
            code: parsed.code,
            reason: parsed.reason,
            raw: line,
          };
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
      ...formatOptions(settings),
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
      ...formatOptions(settings),
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

// ---------------------------------------------------------------------------------------------
// processed → curated

/**
 * Linear interpolation between closest ranks over ascending `sorted` values: numpy's default,
 * Spark's `percentile`, DuckDB's `quantile_cont`.
 */
function percentile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const below = sorted[lo] as number;
  if (lo === h) return below;
  return below + (h - lo) * ((sorted[lo + 1] as number) - below);
}

/** Neumaier's compensated sum: the mean stays right to the last bits whatever the count. */
function sum(values: Float64Array): number {
  let total = 0;
  let compensation = 0;
  for (const value of values) {
    const t = total + value;
    compensation += Math.abs(total) >= Math.abs(value) ? total - t + value : value - t + total;
    total = t;
  }
  return total + compensation;
}

/** The values of one type in one hour; `unit` is the records' own, kept for a type the registry lacks. */
interface HourOfType {
  values: number[];
  type: SensorType | undefined;
  unit: string;
}

function hourlyRow(day: string, hour: number, name: string, of: HourOfType): CuratedHourlyRow {
  const sorted = Float64Array.from(of.values).sort();
  let anomalies = 0;
  const range = of.type?.range;
  if (range) for (const value of sorted) if (value < range.min || value > range.max) anomalies++;
  return {
    dt: day,
    hour,
    type: name,
    unit: of.type?.unit ?? of.unit,
    count: BigInt(sorted.length),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: sum(sorted) / sorted.length,
    p95: percentile(sorted, 0.95),
    anomalies: BigInt(anomalies),
  };
}

/** The partition field of an Iceberg processed table: `hour(timestamp)`, values `YYYY-MM-DD-HH`. */
const ICEBERG_HOUR_FIELD = 'timestamp_hour';

interface ProcessedFile {
  key: string;
  dt: string;
  hour: string;
  rows: number;
  bytes: number;
}

function layoutError(key: string, table: string, expected: string): SensorTransformError {
  return new SensorTransformError(`${key} is not under ${expected}`, {
    code: 'SENSOR_TRANSFORM_LAYOUT',
    context: { key, table },
  });
}

/**
 * The processed table's files with their UTC day and hour: a hive table's committed files
 * (`dt=…/hour=…/`), or an Iceberg table's at its current snapshot (`timestamp_hour`), with that
 * snapshot's id so every later read sees the same one.
 */
async function processedFilesOf(settings: {
  readonly processed: Storage;
  readonly source: string;
  readonly tableFormat: LakeTableFormat;
  readonly catalog: IcebergCatalog | undefined;
}): Promise<{ files: ProcessedFile[]; snapshotId?: string }> {
  const { processed, source } = settings;
  if (settings.tableFormat === 'hive') {
    return {
      files: (await listDatasetFiles(processed, source)).map((file) => {
        const { dt, hour } = parsePartitions(file.key);
        if (
          typeof dt !== 'string' ||
          !isCalendarDay(dt) ||
          typeof hour !== 'string' ||
          !/^\d{2}$/.test(hour)
        ) {
          throw layoutError(file.key, source, 'dt=YYYY-MM-DD/hour=HH/');
        }
        return { key: file.key, dt, hour, rows: file.rows, bytes: file.bytes };
      }),
    };
  }
  let scan: IcebergScan;
  try {
    scan = await scanIceberg({
      storage: processed,
      table: source,
      ...(settings.catalog ? { catalog: settings.catalog } : {}),
    });
  } catch (error) {
    // No table yet is no day to aggregate, as for a hive table without files.
    if (error instanceof IcebergError && error.code === 'ICEBERG_TABLE_NOT_FOUND') return { files: [] };
    throw error;
  }
  const files = scan.files.map((file) => {
    const value = file.partition[ICEBERG_HOUR_FIELD];
    const match = typeof value === 'string' ? /^(\d{4}-\d{2}-\d{2})-(\d{2})$/.exec(value) : null;
    if (!match || !isCalendarDay(match[1] as string)) {
      throw layoutError(file.key, source, `an Iceberg partition ${ICEBERG_HOUR_FIELD} (hour(timestamp))`);
    }
    return {
      key: file.key,
      dt: match[1] as string,
      hour: match[2] as string,
      rows: file.rows,
      bytes: file.bytes,
    };
  });
  return scan.snapshot ? { files, snapshotId: String(scan.snapshot['snapshot-id']) } : { files };
}

/**
 * The processed → curated transform: per UTC day, hour and sensor type of the processed table,
 * `count`, `min`, `max`, `mean`, `p95` and `anomalies` (values outside the type's declared
 * range), written as Parquet to `<table>/dt=YYYY-MM-DD/` ({@link curatedHourlySchema}) with
 * `overwrite_partitions`, rows in (hour, type) order. `p95` is exact: one hour's values of one
 * type are sorted (an hour of a type is small: memory holds one hour of values, 8 bytes each),
 * then interpolated linearly between the closest ranks — numpy's default, Spark's `percentile`,
 * DuckDB's `quantile_cont` — so the Spark job gives the same numbers. A type's unit and range
 * come from `types`. A type present that `types` does not hold never fails the run: it is
 * aggregated like the others, with the unit of its records (the smallest, if an hour's records
 * disagree) and `anomalies` 0, since it declares no range to be outside of, and it is counted in
 * `unknownTypes`. Users add their own sensor types: a new type's readings reach the processed
 * table whatever registry the raw step had, and its hourly statistics are what a user expects to
 * find next to the others; register it (`types: defaultSensorTypes().register(vibration)`) and run
 * again to get its unit and anomalies from its definition.
 * Running it again on the same processed files writes the same files under the same keys.
 *
 * @example
 * ```ts
 * const vibration = defineSensorType({ name: 'vibration', unit: 'mm/s', range: { min: 0, max: 10 }, model: () => 1 });
 * const stats = await processedToCurated({ processed: lake.processed, curated: lake.curated, types: defaultSensorTypes().register(vibration) });
 * console.log(`${stats.rows} hourly rows, ${stats.anomalies} anomalies, types not registered: ${stats.unknownTypes.length}`);
 * ```
 */
export async function processedToCurated(
  options: ProcessedToCuratedOptions,
): Promise<ProcessedToCuratedStats> {
  const input = checkOptions(options, 'options');
  const typesInput = input.types ?? defaultSensorTypes();
  let types: SensorTypeRegistry;
  if (typesInput instanceof SensorTypeRegistry) types = typesInput;
  else if (typeof typesInput === 'object' && typesInput !== null && Symbol.iterator in typesInput) {
    types = new SensorTypeRegistry(typesInput as Iterable<SensorType>);
  } else throw invalidOption('types', typesInput, 'a SensorTypeRegistry or a list of sensor types');
  const tableFormat = checkTableFormat(input.tableFormat);
  const settings = Object.freeze({
    processed: checkStorage('processed', input.processed),
    curated: checkStorage('curated', input.curated),
    source: checkPath('source', input.source, 'sensors'),
    table: checkPath('table', input.table, 'sensor_hourly'),
    dates: checkDates(input.dates),
    tableFormat,
    catalog: checkCatalog('catalog', input.catalog, tableFormat),
    processedCatalog: checkCatalog('processedCatalog', input.processedCatalog, tableFormat),
    onEvent: checkListener(input.onEvent),
  });
  const { processed, curated, source, onEvent } = settings;
  const sourceFormat = formatOptions({ tableFormat, catalog: settings.processedCatalog });

  // The committed files of the processed table, by day and hour; an Iceberg table's at one snapshot.
  const byDay = new Map<string, { hours: Set<string>; files: string[] }>();
  const processedFiles = await processedFilesOf({ ...settings, catalog: settings.processedCatalog });
  for (const file of processedFiles.files) {
    const { dt, hour } = file;
    let entry = byDay.get(dt);
    if (!entry) {
      entry = { hours: new Set(), files: [] };
      byDay.set(dt, entry);
    }
    entry.hours.add(hour);
    entry.files.push(file.key, String(file.rows), String(file.bytes));
  }
  const snapshotId = processedFiles.snapshotId;
  const wanted = settings.dates ? new Set(settings.dates) : undefined;
  const dates = [...byDay.keys()].filter((d) => !wanted || wanted.has(d)).sort();
  const typeParts = types.list().flatMap((t) => [t.name, t.unit, String(t.range.min), String(t.range.max)]);

  const stats: ProcessedToCuratedStats = {
    dates,
    records: 0,
    rows: 0,
    anomalies: 0,
    partitions: [],
    unknownTypes: [],
  };
  /** Records of each type the registry does not hold. */
  const unknown = new Map<string, number>();
  for (const day of dates) {
    const entry = byDay.get(day) as { hours: Set<string>; files: string[] };
    let records = 0;
    let anomalies = 0;
    async function* rowsOfDay(): AsyncGenerator<CuratedHourlyRow> {
      for (const hour of [...entry.hours].sort()) {
        const byType = new Map<string, HourOfType>();
        const partitions: Record<string, string> =
          snapshotId === undefined ? { dt: day, hour } : { [ICEBERG_HOUR_FIELD]: `${day}-${hour}` };
        for await (const record of readDataset({
          storage: processed,
          table: source,
          schema: sensorRecordSchema,
          partitions,
          ...sourceFormat,
          ...(snapshotId === undefined ? {} : { snapshotId }),
        })) {
          let of = byType.get(record.type);
          if (!of) {
            const type = types.has(record.type) ? types.get(record.type) : undefined;
            of = { values: [], type, unit: record.unit };
            byType.set(record.type, of);
          }
          // Without a registered unit, the smallest of the records' (they normally agree), whatever their order.
          if (of.type === undefined) {
            if (record.unit < of.unit) of.unit = record.unit;
            unknown.set(record.type, (unknown.get(record.type) ?? 0) + 1);
          }
          of.values.push(record.value);
          records++;
        }
        for (const name of [...byType.keys()].sort()) {
          const row = hourlyRow(day, Number(hour), name, byType.get(name) as HourOfType);
          anomalies += Number(row.anomalies);
          yield row;
        }
      }
    }
    const result = await writeIfAny(rowsOfDay(), (rows) =>
      writeDataset(rows, {
        storage: curated,
        table: settings.table,
        schema: curatedHourlySchema,
        partitionBy: [byField('dt')],
        format: 'parquet',
        mode: 'overwrite_partitions',
        ...formatOptions(settings),
        writeId: writeIdOf('curated', [source, settings.table, day, ...typeParts, ...entry.files]),
        onEvent,
      }),
    );
    emitSafely(onEvent, { type: 'records.in', source: CURATED_SOURCE, count: records, time: Date.now() });
    emitSafely(onEvent, {
      type: 'records.out',
      source: CURATED_SOURCE,
      count: result?.rows ?? 0,
      time: Date.now(),
    });
    stats.records += records;
    stats.anomalies += anomalies;
    stats.rows += result?.rows ?? 0;
    stats.partitions.push(...(result?.partitions ?? []));
  }
  if (snapshotId !== undefined) stats.snapshotId = snapshotId;
  stats.unknownTypes = [...unknown]
    .map(([type, records]) => ({ type, records }))
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return stats;
}
