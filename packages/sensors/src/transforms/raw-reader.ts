// Reading the raw zone's Firehose layout: which objects a day's window reads, the lines of each
// (as sensor records), and what is under the raw folder but not read.
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  describeValue,
  type EventListener,
  emitSafely,
  isWellFormedText,
  MAX_TIMESTAMP_MS,
  type NdjsonDecodeError,
  ndjsonLines,
  parseIsoTimestamp,
  TributaryError,
} from '@tributary/core';
import { compareKeys, type Storage } from '@tributary/lake';
import { type SensorRecord, sensorRecordSchema } from '../record.js';
import { hourOfDay, isCalendarDay, SensorTransformError } from './shared.js';

/** The event source of the raw reading and of `rawToProcessed`. */
export const RAW_SOURCE = 'sensors:raw-to-processed';
/** The code of an object under the raw folder that a run did not read (outside the layout). */
const UNREAD = 'SENSOR_RAW_OBJECT_UNREAD';

export interface RawFile {
  key: string;
  /** The folder's hour, in hours since the epoch (UTC). */
  hour: number;
  /** The folder's day, `YYYY-MM-DD`. */
  dt: string;
  size: number;
  tag: string;
}

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
export class RawReport {
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
export class RawIndex {
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
export function readLines(storage: Storage, key: string): AsyncGenerator<string | NdjsonDecodeError> {
  return ndjsonLines(chunksOf(storage, key));
}

/** The bytes of an object, with a failure to get or gunzip them wrapped (per chunk, not per line). */
async function* chunksOf(storage: Storage, key: string): AsyncGenerator<Uint8Array> {
  try {
    const body = await storage.get(key);
    const source: AsyncIterable<Uint8Array> = key.endsWith('.gz')
      ? // A failure reaches the loop below through the gunzip stream, which pipeline destroys with it.
        pipeline(body, createGunzip(), () => {})
      : body;
    yield* source;
  } catch (err) {
    throw readFailed(key, err);
  }
}

/** Why a raw line is not a sensor record. */
export class LineProblem {
  constructor(
    readonly code: 'INVALID_JSON' | 'INVALID_RECORD',
    readonly reason: string,
  ) {}
}

/** A raw line as a sensor record, or why it is not one. */
export function parseLine(line: string): SensorRecord | LineProblem {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return new LineProblem('INVALID_JSON', `not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new LineProblem('INVALID_JSON', `not a JSON object: ${describeValue(value)}`);
  }
  const record = FAST_PATH ? fastRecord(value as Record<string, unknown>) : undefined;
  if (record !== undefined) return record;
  const result = sensorRecordSchema.validate(value);
  if (result.ok) return result.value;
  return new LineProblem(
    'INVALID_RECORD',
    result.issues.map((i) => `${i.path || '(record)'}: ${i.message}`).join('; '),
  );
}

// ---------------------------------------------------------------------------------------------
// The common line, checked without the schema's general path

/** The most UTF-16 units of each string field for which its UTF-8 length needs no counting. */
const MAX_UNITS = Object.fromEntries(
  sensorRecordSchema.columns.map((c) => [c.name, (c.def.maxLength ?? Number.POSITIVE_INFINITY) / 3]),
) as Record<string, number>;
const ID_UNITS = MAX_UNITS.id as number;
const SENSOR_ID_UNITS = MAX_UNITS.sensorId as number;
const TYPE_UNITS = MAX_UNITS.type as number;
const UNIT_UNITS = MAX_UNITS.unit as number;
const FIELDS = 6;
/**
 * Whether `sensorRecordSchema` is the shape {@link fastRecord} checks: the six required fields,
 * four strings, a double and a timestamp, in this order, with unknown fields rejected. When it
 * changes, every line goes through the schema's own validation until `fastRecord` follows.
 */
const FAST_PATH =
  sensorRecordSchema.unknownFields === 'reject' &&
  sensorRecordSchema.columns.map((c) => `${c.name}:${c.def.kind}:${c.def.presence}`).join(',') ===
    'id:string:required,sensorId:string:required,type:string:required,value:double:required,unit:string:required,timestamp:timestamp:required';

/**
 * A parsed line as `sensorRecordSchema.validate` makes it, when it is the line every producer
 * sends: exactly the six fields as own properties, strings short enough that their UTF-8 length
 * cannot exceed the limit and well-formed, a finite number, and a timestamp in epoch ms or as
 * `YYYY-MM-DDTHH:MM:SS.sssZ` (what `Date.toJSON` writes). Undefined for anything else, which
 * the schema then validates and explains: this only ever accepts what `validate` accepts, with
 * the same value.
 */
export function fastRecord(value: Record<string, unknown>): SensorRecord | undefined {
  let fields = 0;
  for (const key in value) {
    if (
      (key !== 'id' &&
        key !== 'sensorId' &&
        key !== 'type' &&
        key !== 'value' &&
        key !== 'unit' &&
        key !== 'timestamp') ||
      !Object.hasOwn(value, key)
    ) {
      return undefined;
    }
    fields++;
  }
  if (fields !== FIELDS) return undefined;
  const { id, sensorId, type, value: reading, unit, timestamp } = value;
  if (
    typeof id !== 'string' ||
    id.length > ID_UNITS ||
    typeof sensorId !== 'string' ||
    sensorId.length > SENSOR_ID_UNITS ||
    typeof type !== 'string' ||
    type.length > TYPE_UNITS ||
    typeof unit !== 'string' ||
    unit.length > UNIT_UNITS ||
    typeof reading !== 'number' ||
    !Number.isFinite(reading) ||
    !isWellFormedText(id) ||
    !isWellFormedText(sensorId) ||
    !isWellFormedText(type) ||
    !isWellFormedText(unit)
  ) {
    return undefined;
  }
  let time: number;
  if (typeof timestamp === 'string') time = parseIsoTimestamp(timestamp) ?? Number.NaN;
  else if (typeof timestamp === 'number' && Number.isFinite(timestamp)) time = Math.floor(timestamp);
  else return undefined;
  if (!(Math.abs(time) <= MAX_TIMESTAMP_MS)) return undefined;
  return { id, sensorId, type, value: reading, unit, timestamp: new Date(time) };
}
