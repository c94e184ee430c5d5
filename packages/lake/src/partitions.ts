import { isWellFormedText, TributaryError, utf8ByteLength } from '@tributary/core';
import { PartitionError } from './errors.js';

/** How one partition column gets its value: from a record's field, or computed. */
export interface PartitionSpec {
  /** The partition column's name, as it appears in paths (`dt=...`). */
  name: string;
  /** Its text value for a record. `null`/`undefined` becomes Hive's default partition. */
  value: (record: Record<string, unknown>) => string | number | bigint | boolean | null | undefined;
  /** A field of the schema whose value this is; the field is then left out of the files (as Hive, Spark and Athena expect). */
  field?: string;
  /**
   * The Iceberg partition transform this spec stands for: `identity`, or the `day` or `hour` of a
   * timestamp field (set by `byField`, `byDay`, `byHour`). A spec without one cannot partition an
   * Iceberg table; `byHour`'s two hive specs (`dt`, `hour`) are one Iceberg field, `hour(source)`.
   */
  transform?: { kind: 'identity' | 'day' | 'hour'; source: string };
}

export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';

// The characters Hive escapes in partition values (FileUtils.escapePathName), plus control characters.
const ESCAPED = new Set(['"', '#', '%', "'", '*', '/', ':', '=', '?', '\\', '\x7f', '{', '[', ']', '^']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const NEEDS_ESCAPE = /["#%'*/:=?\\\x7f{[\]^\x00-\x1f]/;

/**
 * Escape a partition value as Hive and Spark do (`%2F` for `/`, ...), so a value cannot change
 * the folder structure.
 *
 * @example
 * ```ts
 * escapePartitionValue('a/b=c'); // 'a%2Fb%3Dc'
 * ```
 */
export function escapePartitionValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    out += code < 0x20 || ESCAPED.has(ch) ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : ch;
  }
  return out;
}

/** Undo {@link escapePartitionValue}. */
export function unescapePartitionValue(value: string): string {
  return value.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

// A column name: Glue, Athena and Spark all accept these, and none needs quoting or escaping.
const PARTITION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Most file systems refuse longer folder names; S3 keys are limited to 1,024 bytes in all.
const MAX_SEGMENT_BYTES = 255;
// Names already checked: a partition path is built for every record written.
const checkedNames = new Set<string>();

/**
 * Refuse a partition column name that could not be read back from a path (empty, `a/b`, `k=x`,
 * anything but letters, digits and `_`, not starting with a digit), with a {@link PartitionError}.
 */
export function checkPartitionName(name: string): void {
  if (checkedNames.has(name)) return;
  if (typeof name !== 'string' || !PARTITION_NAME.test(name)) {
    throw new PartitionError(
      String(name),
      'a partition column name must be letters, digits and _, not starting with a digit',
    );
  }
  if (checkedNames.size < 1_000) checkedNames.add(name);
}

function valueProblem(value: string): string | undefined {
  if (value === '')
    return 'an empty value cannot be told from null in a folder name (Hive and Spark read it as null)';
  if (value === HIVE_DEFAULT_PARTITION)
    return `the value ${HIVE_DEFAULT_PARTITION} is how a partition folder says null`;
  if (!isWellFormedText(value)) return 'the value holds a lone UTF-16 surrogate, which has no UTF-8 form';
  return undefined;
}

/**
 * `dt=2026-11-23/hour=10/` for the given partition values (names in order); '' for none. Every
 * path it returns reads back to the same values with {@link parsePartitions}: names that could
 * not, and values that would read back changed (`''`, the literal `__HIVE_DEFAULT_PARTITION__`,
 * a lone surrogate, a folder name over 255 bytes), throw a {@link PartitionError}.
 */
export function partitionPath(values: readonly [string, string | null][]): string {
  let path = '';
  for (const [name, value] of values) {
    checkPartitionName(name);
    if (value === null) {
      path += `${name}=${HIVE_DEFAULT_PARTITION}/`;
      continue;
    }
    const problem = valueProblem(value);
    if (problem) throw new PartitionError(name, problem);
    const segment = `${name}=${escapePartitionValue(value)}`;
    if (segment.length > MAX_SEGMENT_BYTES / 3 && utf8ByteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new PartitionError(name, `the folder name would exceed ${MAX_SEGMENT_BYTES} UTF-8 bytes`);
    }
    path += `${segment}/`;
  }
  return path;
}

/**
 * Parse the hive `k=v` segments of a key, e.g. `sensors/dt=2026-11-23/hour=10/part-0.parquet` →
 * `{ dt: '2026-11-23', hour: '10' }`. Hive's default partition reads as `null`.
 */
export function parsePartitions(key: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const segment of key.split('/').slice(0, -1)) {
    const eq = segment.indexOf('=');
    if (eq <= 0) continue;
    const value = unescapePartitionValue(segment.slice(eq + 1));
    out[segment.slice(0, eq)] = value === HIVE_DEFAULT_PARTITION ? null : value;
  }
  return out;
}

/**
 * The `partitions` option of a read as a predicate on a file's partition values: values that must
 * all match (`{ dt: '2026-11-23' }`), a predicate as it is, or every partition when there is none.
 */
export function partitionFilter(
  partitions: Record<string, string> | ((values: Record<string, string | null>) => boolean) | undefined,
): (values: Record<string, string | null>) => boolean {
  if (partitions === undefined) return () => true;
  if (typeof partitions === 'function') return partitions;
  return (values) => Object.entries(partitions).every(([k, v]) => values[k] === v);
}

function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** The text value of every partition column for a record. */
export function partitionValuesOf(
  specs: readonly PartitionSpec[],
  record: Record<string, unknown>,
): [string, string | null][] {
  return specs.map((spec) => [spec.name, textOf(spec.value(record))]);
}

/**
 * Partition by a field's value: `byField('symbol')` → `symbol=BTC/`. The field leaves the files.
 *
 * @example
 * ```ts
 * const schema = defineSchema({ id: field.string(), type: field.string(), value: field.double() });
 * const rows = [{ id: 'a-1', type: 'temperature', value: 21.5 }];
 * await writeDataset(rows, { storage: lake.processed, table: 'readings', schema, partitionBy: [byField('type')] }); // readings/type=temperature/
 * ```
 */
export function byField(field: string, name = field): PartitionSpec {
  return {
    name,
    field,
    value: (record) => record[field] as string | number | null,
    transform: { kind: 'identity', source: field },
  };
}

function utcTimeOf(record: Record<string, unknown>, field: string): Date {
  const value = record[field];
  if (!(value instanceof Date)) {
    throw new TributaryError(`Partition field "${field}" must be a timestamp (Date), got ${typeof value}`, {
      code: 'PARTITION_INVALID',
    });
  }
  return value;
}

/**
 * Partition by the UTC day of a timestamp field: `dt=2026-11-23/`. The field stays in the files.
 *
 * @example
 * ```ts
 * await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema, partitionBy: byDay('at') });
 * ```
 */
export function byDay(field: string, name = 'dt'): PartitionSpec[] {
  return [
    timeSpec(
      {
        name,
        value: (record) => utcTimeOf(record, field).toISOString().slice(0, 10),
        transform: { kind: 'day', source: field },
      },
      DAY_MS,
    ),
  ];
}

/**
 * Partition by the UTC day and hour of a timestamp field: `dt=2026-11-23/hour=10/`, the processed
 * zone's layout.
 *
 * @example
 * ```ts
 * await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema, partitionBy: byHour('at') });
 * ```
 */
export function byHour(field: string): PartitionSpec[] {
  const transform = { kind: 'hour', source: field } as const;
  return [
    timeSpec({ ...(byDay(field)[0] as PartitionSpec), transform }, HOUR_MS),
    timeSpec(
      { name: 'hour', value: (record) => utcTimeOf(record, field).toISOString().slice(11, 13), transform },
      HOUR_MS,
    ),
  ];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/**
 * The specs `byDay` and `byHour` made, with the span of time that has one value of theirs: a
 * record's value is then a function of `floor(time / span)` of the source field alone.
 */
const TIME_SPANS = new WeakMap<PartitionSpec, number>();

function timeSpec(spec: PartitionSpec, spanMs: number): PartitionSpec {
  TIME_SPANS.set(spec, spanMs);
  return spec;
}

/** Distinct partitions whose paths a {@link partitionPathOf} function keeps. */
const MAX_CACHED_PATHS = 100_000;

/**
 * The partition path of a record (as `partitionPath(partitionValuesOf(specs, record))`), computed
 * once per partition where that is safe: when every spec is one of `byDay`'s or `byHour`'s on the
 * same field, a record's path depends only on which hour (or day) its time falls in, so the path
 * is kept per hour number and a record costs one `getTime()` and one map lookup. Other specs are
 * evaluated for every record. Errors are the same as `partitionPath`'s.
 *
 * @example
 * ```ts
 * const pathOf = partitionPathOf(byHour('timestamp'));
 * pathOf({ timestamp: new Date('2026-11-23T10:15:00Z') }); // 'dt=2026-11-23/hour=10/'
 * ```
 */
export function partitionPathOf(
  specs: readonly PartitionSpec[],
): (record: Record<string, unknown>) => string {
  for (const spec of specs) checkPartitionName(spec.name);
  if (specs.length === 0) return () => '';
  const uncached = (record: Record<string, unknown>) => partitionPath(partitionValuesOf(specs, record));
  const source = specs[0]?.transform?.source;
  let span = 0;
  for (const spec of specs) {
    const spanMs = TIME_SPANS.get(spec);
    if (spanMs === undefined || spec.transform?.source !== source) return uncached;
    span = span === 0 ? spanMs : Math.min(span, spanMs);
  }
  const field = source as string;
  const paths = new Map<number, string>();
  return (record) => {
    const value = record[field];
    // Not a Date, or an invalid one: the specs themselves throw their errors.
    if (!(value instanceof Date)) return uncached(record);
    const unit = Math.floor(value.getTime() / span);
    let path = paths.get(unit);
    if (path === undefined) {
      path = uncached(record);
      if (paths.size < MAX_CACHED_PATHS) paths.set(unit, path);
    }
    return path;
  };
}
