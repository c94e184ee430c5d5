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
  TributaryError,
} from '@tributary/core';
import {
  byField,
  byHour,
  compareKeys,
  listDatasetFiles,
  parsePartitions,
  readDataset,
  type Storage,
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
const DEFAULT_LATENESS_HOURS = 6;
const MAX_LATENESS_HOURS = 24 * 30;

/**
 * A sensor transform cannot run: an option is wrong (`SENSOR_TRANSFORM_INVALID`, `context.option`
 * names it), an object of the raw zone is outside the Firehose layout or the processed table is
 * not partitioned by `dt` and `hour` (`SENSOR_TRANSFORM_LAYOUT`, `context.key`), or reading failed
 * or the input changed during the run (`SENSOR_TRANSFORM_FAILED`, with `cause`). Storage and
 * dataset errors of the lake reach the caller as they are.
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
 * | `INVALID_JSON` | the line is not JSON, or not a JSON object |
 * | `INVALID_RECORD` | a JSON object that fails `sensorRecordSchema` (the reason lists each field's issue) |
 * | `OUT_OF_WINDOW` | a valid record whose event time is more than `maxLatenessHours` before its raw folder's hour, or more than an hour after it |
 *
 * @example
 * ```ts
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
    code: field.string({ maxLength: 32 }).describe('INVALID_JSON, INVALID_RECORD or OUT_OF_WINDOW'),
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
  onEvent?: EventListener;
}

/** What {@link rawToProcessed} did. `read = valid + invalid` and `valid = written + duplicates`. */
export interface RawToProcessedStats {
  /** The days processed, ascending. */
  dates: string[];
  /** Raw objects read (an object in the window of two days is counted once). */
  files: number;
  /** Non-blank raw lines handled by this run: each belongs to exactly one day. */
  read: number;
  /** Lines that are valid records within the lateness window. */
  valid: number;
  /** Lines written to the errors table (bad JSON, schema failures, out of window). */
  invalid: number;
  /** Of `invalid`, the valid records outside the lateness window. */
  outOfWindow: number;
  /** Valid records whose id was already kept. */
  duplicates: number;
  /** Records written to the processed table. */
  written: number;
  /** Processed partitions written, e.g. `dt=2026-11-23/hour=10/`. */
  partitions: string[];
  /** Errors-table partitions written, e.g. `dt=2026-11-23/`. */
  errorPartitions: string[];
  /** Most distinct ids held at once for deduplication: the ids of one day. */
  peakIds: number;
  /** Bytes of the id table at its largest (20 bytes per slot, at most 70 % full). */
  peakIdTableBytes: number;
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
  /** Units and declared ranges (for `anomalies`) of every type present. Default `defaultSensorTypes()`. */
  types?: SensorTypeRegistry | Iterable<SensorType>;
  /** Only these UTC days (`YYYY-MM-DD`). Default: every day of the processed table. */
  dates?: readonly string[];
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

function layoutError(key: string, expected: string): SensorTransformError {
  return new SensorTransformError(`${key} is not in the raw layout (${expected})`, {
    code: 'SENSOR_TRANSFORM_LAYOUT',
    context: { key },
  });
}

function hidden(segment: string): boolean {
  return segment.startsWith('_') || segment.startsWith('.');
}

/** The raw zone's day folders, listed lazily and cached for the days a run still needs. */
class RawIndex {
  readonly #files = new Map<string, Promise<RawFile[]>>();

  constructor(
    private readonly storage: Storage,
    private readonly prefix: string,
  ) {}

  /** Every `YYYY-MM-DD` with a folder, by walking the year/month/day folders (not every object). */
  async days(): Promise<string[]> {
    const days: string[] = [];
    const walk = async (prefix: string, depth: number, parts: string[]) => {
      for await (const child of this.storage.listPrefixes(prefix)) {
        const segment = child.slice(prefix.length, -1);
        if (hidden(segment)) continue;
        if (!/^\d+$/.test(segment) || segment.length !== (depth === 0 ? 4 : 2)) {
          throw layoutError(child, `${this.prefix}YYYY/MM/DD/HH/<object>`);
        }
        if (depth < 2) await walk(child, depth + 1, [...parts, segment]);
        else {
          const day = `${parts[0]}-${parts[1]}-${segment}`;
          if (!isCalendarDay(day)) throw layoutError(child, 'a calendar day');
          days.push(day);
        }
      }
    };
    await walk(this.prefix, 0, []);
    return days.sort();
  }

  /** The objects of one day folder, in key order. */
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

  async #list(day: string): Promise<RawFile[]> {
    const prefix = `${this.prefix}${day.replaceAll('-', '/')}/`;
    const first = hourOfDay(day);
    const files: RawFile[] = [];
    for await (const object of this.storage.list(prefix)) {
      const segments = object.key.slice(prefix.length).split('/');
      if (segments.some(hidden)) continue;
      const hour = segments[0] as string;
      if (segments.length !== 2 || !/^\d{2}$/.test(hour) || Number(hour) > 23) {
        throw layoutError(object.key, `${prefix}HH/<object>`);
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

/** The lines of an object (gunzipped when its key ends in `.gz`), without their `\n` or `\r\n`. */
async function* readLines(storage: Storage, key: string): AsyncGenerator<string> {
  let rest = '';
  const text = new TextDecoder('utf-8');
  try {
    const body = await storage.get(key);
    const source: AsyncIterable<Uint8Array> = key.endsWith('.gz')
      ? // A failure reaches the loop below through the gunzip stream, which pipeline destroys with it.
        pipeline(body, createGunzip(), () => {})
      : body;
    for await (const chunk of source) {
      const chunkText = rest + text.decode(chunk, { stream: true });
      let start = 0;
      let newline = chunkText.indexOf('\n');
      while (newline !== -1) {
        yield chunkText.charCodeAt(newline - 1) === 13
          ? chunkText.slice(start, newline - 1)
          : chunkText.slice(start, newline);
        start = newline + 1;
        newline = chunkText.indexOf('\n', start);
      }
      rest = chunkText.slice(start);
    }
    rest += text.decode();
  } catch (err) {
    throw readFailed(key, err);
  }
  if (rest !== '') yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
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
 * Lines that are not valid records go to the NDJSON errors table with the reason and the line
 * itself ({@link sensorErrorSchema}); nothing is dropped.
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
 * const lake = localLake(); // the zones' folders from TRIBUTARY_* settings
 * const stats = await rawToProcessed({ raw: lake.raw, processed: lake.processed });
 * console.log(`${stats.written} records, ${stats.duplicates} duplicates, ${stats.invalid} to sensors_errors`);
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
  const settings = Object.freeze({
    raw,
    processed,
    source,
    table,
    errorsTable,
    lateness,
    dates: checkDates(input.dates),
    onEvent: checkListener(input.onEvent),
  });

  const index = new RawIndex(raw, `${source}/`);
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
  };
  const filesRead = new Set<string>();
  for (const day of dates) {
    index.forgetBefore(shiftDay(day, -1));
    await processDay(day, settings, index, stats, filesRead);
  }
  stats.files = filesRead.size;
  stats.partitions.sort();
  stats.errorPartitions.sort();
  return stats;
}

interface RawSettings {
  readonly raw: Storage;
  readonly processed: Storage;
  readonly source: string;
  readonly table: string;
  readonly errorsTable: string;
  readonly lateness: number;
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
      format: 'ndjson',
      mode: 'overwrite_partitions',
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
        if (line.trim() === '') continue;
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

function hourlyRow(day: string, hour: number, type: SensorType, values: number[]): CuratedHourlyRow {
  const sorted = Float64Array.from(values).sort();
  let anomalies = 0;
  for (const value of sorted) if (value < type.range.min || value > type.range.max) anomalies++;
  return {
    dt: day,
    hour,
    type: type.name,
    unit: type.unit,
    count: BigInt(sorted.length),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: sum(sorted) / sorted.length,
    p95: percentile(sorted, 0.95),
    anomalies: BigInt(anomalies),
  };
}

/**
 * The processed → curated transform: per UTC day, hour and sensor type of the processed table,
 * `count`, `min`, `max`, `mean`, `p95` and `anomalies` (values outside the type's declared
 * range), written as Parquet to `<table>/dt=YYYY-MM-DD/` ({@link curatedHourlySchema}) with
 * `overwrite_partitions`, rows in (hour, type) order. `p95` is exact: one hour's values of one
 * type are sorted (an hour of a type is small: memory holds one hour of values, 8 bytes each),
 * then interpolated linearly between the closest ranks — numpy's default, Spark's `percentile`,
 * DuckDB's `quantile_cont` — so the Spark job gives the same numbers. Every type present must be
 * in `types` (an `UnknownSensorTypeError` otherwise): its unit and range come from there.
 * Running it again on the same processed files writes the same files under the same keys.
 *
 * @example
 * ```ts
 * const stats = await processedToCurated({ processed: lake.processed, curated: lake.curated, types: defaultSensorTypes().register(vibration) });
 * console.log(`${stats.rows} hourly rows, ${stats.anomalies} anomalies`);
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
  const settings = Object.freeze({
    processed: checkStorage('processed', input.processed),
    curated: checkStorage('curated', input.curated),
    source: checkPath('source', input.source, 'sensors'),
    table: checkPath('table', input.table, 'sensor_hourly'),
    dates: checkDates(input.dates),
    onEvent: checkListener(input.onEvent),
  });
  const { processed, curated, source, onEvent } = settings;

  // The committed files of the processed table, by day and hour.
  const byDay = new Map<string, { hours: Set<string>; files: string[] }>();
  for (const file of await listDatasetFiles(processed, source)) {
    const { dt, hour } = parsePartitions(file.key);
    if (typeof dt !== 'string' || !isCalendarDay(dt) || typeof hour !== 'string' || !/^\d{2}$/.test(hour)) {
      throw new SensorTransformError(`${file.key} is not under dt=YYYY-MM-DD/hour=HH/`, {
        code: 'SENSOR_TRANSFORM_LAYOUT',
        context: { key: file.key, table: source },
      });
    }
    let entry = byDay.get(dt);
    if (!entry) {
      entry = { hours: new Set(), files: [] };
      byDay.set(dt, entry);
    }
    entry.hours.add(hour);
    entry.files.push(file.key, String(file.rows), String(file.bytes));
  }
  const wanted = settings.dates ? new Set(settings.dates) : undefined;
  const dates = [...byDay.keys()].filter((d) => !wanted || wanted.has(d)).sort();
  const typeParts = types.list().flatMap((t) => [t.name, t.unit, String(t.range.min), String(t.range.max)]);

  const stats: ProcessedToCuratedStats = { dates, records: 0, rows: 0, anomalies: 0, partitions: [] };
  for (const day of dates) {
    const entry = byDay.get(day) as { hours: Set<string>; files: string[] };
    let records = 0;
    let anomalies = 0;
    async function* rowsOfDay(): AsyncGenerator<CuratedHourlyRow> {
      for (const hour of [...entry.hours].sort()) {
        const values = new Map<string, number[]>();
        for await (const record of readDataset({
          storage: processed,
          table: source,
          schema: sensorRecordSchema,
          partitions: { dt: day, hour },
        })) {
          let list = values.get(record.type);
          if (!list) {
            list = [];
            values.set(record.type, list);
          }
          list.push(record.value);
          records++;
        }
        for (const name of [...values.keys()].sort()) {
          const row = hourlyRow(day, Number(hour), types.get(name), values.get(name) as number[]);
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
  return stats;
}
