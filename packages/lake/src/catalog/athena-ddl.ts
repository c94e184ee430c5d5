import { isWellFormedText } from '@tributary/core';
import { escapePartitionValue } from '../partitions.js';
import { CatalogError } from './errors.js';
import {
  catalogName,
  formatHiveType,
  type HiveTypeNode,
  parseHiveType,
  type TableDefinition,
  type TableFormat,
} from './table.js';

/** How Athena computes one partition key's values at query time (partition projection). */
export type PartitionProjection =
  | {
      type: 'date';
      /** Java `DateTimeFormatter` pattern of the values, e.g. `yyyy-MM-dd`, `yyyy/MM/dd/HH`. */
      format: string;
      /** `start,end` in that format; `NOW` (or `NOW-3DAYS`...) is allowed. */
      range: string;
      interval?: number;
      unit?: 'YEARS' | 'MONTHS' | 'WEEKS' | 'DAYS' | 'HOURS' | 'MINUTES' | 'SECONDS';
    }
  | { type: 'integer'; range: string; interval?: number; digits?: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'injected' };

/** Partition projection settings: per-key overrides and the location template. */
export interface ProjectionOptions {
  /** Projections by key name; keys left out get the default described on {@link toAthenaDdl}. */
  keys?: Record<string, PartitionProjection>;
  /** `storage.location.template`; by default derived for non-hive layouts and left out for hive ones. */
  locationTemplate?: string;
}

/** Options of {@link toAthenaDdl}. */
export interface AthenaDdlOptions {
  /** Database to qualify the table with. Default: the definition's. */
  database?: string;
  /** Add partition projection properties: `true` for the defaults, or overrides. */
  projection?: boolean | ProjectionOptions;
}

const STORAGE: Record<TableFormat, { serde: string; input: string; output: string; classification: string }> =
  {
    parquet: {
      serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      input: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      output: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      classification: 'parquet',
    },
    ndjson: {
      serde: 'org.openx.data.jsonserde.JsonSerDe',
      input: 'org.apache.hadoop.mapred.TextInputFormat',
      output: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      classification: 'json',
    },
    csv: {
      serde: 'org.apache.hadoop.hive.serde2.OpenCSVSerde',
      input: 'org.apache.hadoop.mapred.TextInputFormat',
      output: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      classification: 'csv',
    },
  };

/** The storage descriptor pieces of a format, shared with the Glue catalog. */
export function storageOf(format: TableFormat): {
  serde: string;
  input: string;
  output: string;
  classification: string;
  serdeParameters: Record<string, string>;
} {
  const s = STORAGE[format];
  if (!s)
    throw new CatalogError(`Unknown table format ${JSON.stringify(format)}`, { code: 'CATALOG_INVALID' });
  const serdeParameters: Record<string, string> =
    format === 'csv' ? { separatorChar: ',', quoteChar: '"', escapeChar: '\\' } : {};
  return { ...s, serdeParameters };
}

function invalid(message: string, context: Record<string, unknown> = {}): CatalogError {
  return new CatalogError(message, { code: 'CATALOG_INVALID', context });
}

// Glue keeps names on one line (its "single-line string"): no control characters.
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
/** Glue's limit on a column name, in UTF-8 bytes. */
const NAME_MAX_BYTES = 255;

/** Why a name cannot be written as given, or nothing. */
function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'is not a string';
  if (name.length === 0) return 'is empty';
  if (hasControl(name)) return 'holds a control character (NUL, newline, ...)';
  if (!isWellFormedText(name)) return 'holds a lone UTF-16 surrogate';
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX_BYTES) return `is longer than ${NAME_MAX_BYTES} UTF-8 bytes`;
  return undefined;
}

/**
 * A Hive identifier: backquoted, backquotes doubled. Throws `CatalogError` (`CATALOG_INVALID`)
 * for a name Glue cannot keep as given: empty, with a control character or a lone surrogate, or
 * longer than 255 UTF-8 bytes.
 */
export function hiveIdentifier(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw invalid(`Identifier ${JSON.stringify(String(name).slice(0, 80))} ${problem}`);
  return `\`${name.replace(/`/g, '``')}\``;
}

/**
 * A Hive string literal. Hive (and so Athena DDL) reads C-style escapes in literals, and takes
 * `'a''b'` as two adjacent literals (`ab`): a quote is escaped as `\'`, a backslash as `\\`.
 * Throws `CatalogError` (`CATALOG_INVALID`) for text with NUL (Hive reads `\0` followed by
 * digits as an octal escape) or a lone surrogate.
 */
export function hiveString(text: string): string {
  if (typeof text !== 'string') throw invalid(`A Hive literal must be a string (got ${typeof text})`);
  if (text.includes('\0')) throw invalid('A Hive literal cannot hold NUL');
  if (!isWellFormedText(text)) throw invalid('A Hive literal cannot hold a lone UTF-16 surrogate');
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

/** The primitive types Athena's DDL takes, with the parameters each allows (`[min, max]` per parameter). */
const DDL_PRIMITIVES: Record<string, readonly (readonly [number, number])[][]> = {
  boolean: [[]],
  tinyint: [[]],
  smallint: [[]],
  int: [[]],
  bigint: [[]],
  float: [[]],
  double: [[]],
  string: [[]],
  binary: [[]],
  date: [[]],
  timestamp: [[]],
  decimal: [
    [],
    [[1, 38]],
    [
      [1, 38],
      [0, 38],
    ],
  ],
  char: [[[1, 255]]],
  varchar: [[[1, 65535]]],
};

/**
 * Checks a parsed type against what Athena's DDL declares: known primitive names with their
 * parameters in range, a primitive map key, structs with at least one field, field names that
 * can be written as given.
 */
function checkDdlType(type: HiveTypeNode, where: string): undefined {
  const fail = (why: string): never => {
    throw invalid(`${where}: ${why}`);
  };
  if ('element' in type) {
    checkDdlType(type.element, where);
    return;
  }
  if ('key' in type) {
    if ('element' in type.key || 'key' in type.key || 'fields' in type.key)
      fail('a map key must be a primitive type');
    checkDdlType(type.key, where);
    checkDdlType(type.value, where);
    return;
  }
  if ('fields' in type) {
    if (type.fields.length === 0) fail('a struct needs at least one field');
    for (const f of type.fields) {
      const problem = nameProblem(f.name);
      if (problem) fail(`struct field name ${JSON.stringify(f.name.slice(0, 80))} ${problem}`);
      checkDdlType(f.type, where);
    }
    return;
  }
  const shapes = DDL_PRIMITIVES[type.name];
  if (!shapes) return fail(`${JSON.stringify(type.name)} is not a type Athena DDL declares`);
  const params = type.params ?? [];
  const shape = shapes.find((s) => s.length === params.length);
  if (!shape) return fail(`${type.name} takes ${shapes.map((s) => s.length).join(' or ')} parameter(s)`);
  params.forEach((p, i) => {
    const [min, max] = shape[i] as readonly [number, number];
    if (!Number.isSafeInteger(p) || p < min || p > max)
      fail(`${type.name} parameter ${i + 1} must be ${min} to ${max}`);
  });
  if (type.name === 'decimal' && params.length === 2 && (params[1] as number) > (params[0] as number)) {
    fail('decimal scale must not exceed its precision');
  }
}

/** A column's type as DDL writes it: parsed, checked, and printed back from the parsed form. */
function ddlType(text: unknown, where: string): string {
  if (typeof text !== 'string') throw invalid(`${where}: the type must be a string`);
  let parsed: HiveTypeNode;
  try {
    parsed = parseHiveType(text);
  } catch (error) {
    throw new CatalogError(`${where}: ${(error as Error).message}`, {
      code: 'CATALOG_INVALID',
      cause: error,
    });
  }
  checkDdlType(parsed, where);
  return formatHiveType(parsed);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATEHOUR = /^\d{4}\/\d{2}\/\d{2}\/\d{2}$/;
const TWO_DIGITS: Record<string, [number, number]> = { month: [1, 12], day: [1, 31], hour: [0, 23] };

/** The first and last of some texts in code-unit order (dates and padded numbers sort as text). */
function bounds(values: readonly string[]): [string, string] {
  const sorted = [...values].sort();
  return [sorted[0] as string, sorted[sorted.length - 1] as string];
}

/** The default projection of a key, from its name and the values seen. */
function defaultProjection(key: string, values: readonly string[], table: string): PartitionProjection {
  const lower = key.toLowerCase();
  const nonEmpty = values.length > 0;
  if (nonEmpty && values.every((v) => DATEHOUR.test(v))) {
    return {
      type: 'date',
      format: 'yyyy/MM/dd/HH',
      range: `${bounds(values)[0]},NOW`,
      interval: 1,
      unit: 'HOURS',
    };
  }
  if (nonEmpty && values.every((v) => DAY.test(v))) {
    return {
      type: 'date',
      format: 'yyyy-MM-dd',
      range: `${bounds(values)[0]},NOW`,
      interval: 1,
      unit: 'DAYS',
    };
  }
  const fixed = TWO_DIGITS[lower];
  if (fixed && values.every((v) => /^\d+$/.test(v))) {
    const projection: PartitionProjection = { type: 'integer', range: `${fixed[0]},${fixed[1]}` };
    if (values.every((v) => v.length === 2)) projection.digits = 2;
    return projection;
  }
  // Not an integer range: that would end at the last year seen, and the next year's data would
  // be outside every query. Athena takes `NOW` only in a date projection's range; `yyyy` is a
  // java.time pattern and YEARS a ChronoUnit, as the date type documents.
  if (lower === 'year' && nonEmpty && values.every((v) => /^\d{4}$/.test(v))) {
    return { type: 'date', format: 'yyyy', range: `${bounds(values)[0]},NOW`, interval: 1, unit: 'YEARS' };
  }
  if (lower === 'dt' || lower === 'date' || lower === 'year') {
    throw new CatalogError(
      `Cannot derive a projection range for ${table}.${key} from its partition values; pass projection.keys.${key}`,
      {
        code: 'CATALOG_INVALID',
        context: { table },
      },
    );
  }
  return { type: 'injected' };
}

const UNITS: ReadonlySet<string> = new Set([
  'YEARS',
  'MONTHS',
  'WEEKS',
  'DAYS',
  'HOURS',
  'MINUTES',
  'SECONDS',
]);

function projectionProperties(key: string, p: PartitionProjection): [string, string][] {
  const at = (name: string) => `projection.${key}.${name}`;
  const fail = (why: string): never => {
    throw invalid(`Projection of ${key}: ${why}`);
  };
  const text = (name: string, value: unknown): string =>
    typeof value === 'string' && value !== '' ? value : fail(`${name} must be a non-empty string`);
  const positive = (name: string, value: unknown): string =>
    Number.isSafeInteger(value) && (value as number) > 0
      ? String(value)
      : fail(`${name} must be a positive integer`);
  if (typeof p !== 'object' || p === null) fail('must be an object');
  const out: [string, string][] = [[at('type'), p.type]];
  switch (p.type) {
    case 'date':
      out.push([at('format'), text('format', p.format)], [at('range'), text('range', p.range)]);
      if (p.interval !== undefined) out.push([at('interval'), positive('interval', p.interval)]);
      if (p.unit !== undefined) {
        if (!UNITS.has(p.unit)) fail(`unit must be one of ${[...UNITS].join(', ')}`);
        out.push([at('interval.unit'), p.unit]);
      }
      break;
    case 'integer':
      out.push([at('range'), text('range', p.range)]);
      if (p.interval !== undefined) out.push([at('interval'), positive('interval', p.interval)]);
      if (p.digits !== undefined) out.push([at('digits'), positive('digits', p.digits)]);
      break;
    case 'enum':
      if (
        !Array.isArray(p.values) ||
        p.values.length === 0 ||
        p.values.some((v) => typeof v !== 'string' || v === '' || v.includes(','))
      ) {
        fail('an enum needs values: non-empty strings without commas');
      }
      out.push([at('values'), p.values.join(',')]);
      break;
    case 'injected':
      break;
    default:
      fail('unknown projection type');
  }
  return out;
}

/** Whether the partitions sit in hive `k=v` folders below the table's location (else a template is needed). */
function isHiveLayout(definition: TableDefinition): boolean {
  return definition.partitions.every((p) => {
    const expected = definition.partitionKeys
      .map((k, i) => `${k.name}=${escapePartitionValue(p.values[i] ?? '')}/`)
      .join('');
    return p.location === `${definition.location}${expected}`;
  });
}

/**
 * The `CREATE EXTERNAL TABLE` statement that gives Athena a table of the lake: columns and
 * partition keys with their Hive types, the SerDe and input/output formats of its format
 * (Parquet; NDJSON through the OpenX JSON SerDe; CSV through OpenCSVSerde, header skipped), its
 * location and properties. Identifiers are backquoted, literals use Hive's escapes.
 *
 * With `projection`, Athena computes partitions at query time instead of reading them from the
 * catalog. Defaults per key: values `YYYY-MM-DD` (or a key `dt`) → a `date` projection from the
 * first value to `NOW`; one key of `YYYY/MM/DD/HH` paths → `date` in hours; `month`, `day`,
 * `hour` → `integer` over their calendar range (2 digits when the values are zero-padded);
 * `year` → a `date` projection (`yyyy`, one year apart) from the first year seen to `NOW`, so
 * the years to come are queried without a change to the table; any other key → `injected`
 * (queries must give its value). For layouts that are
 * not hive `k=v` (Firehose's `YYYY/MM/DD/HH`), `storage.location.template` maps the keys to
 * folders.
 *
 * @example
 * ```ts
 * const ddl = toAthenaDdl(await crawl(lake.raw, 'sensors', { location: 's3://raw-bucket/sensors/' }), {
 *   database: 'tributary',
 *   projection: true,
 * });
 * ```
 */
export function toAthenaDdl(definition: TableDefinition, options: AthenaDdlOptions = {}): string {
  const storage = storageOf(definition.format);
  const databaseName = options.database ?? definition.database;
  const table = catalogName(definition.name, 'table');
  const qualified = databaseName
    ? `${hiveIdentifier(catalogName(databaseName, 'database'))}.${hiveIdentifier(table)}`
    : hiveIdentifier(table);
  if (definition.columns.length === 0) {
    throw new CatalogError(`Table ${table} has no columns to declare`, {
      code: 'CATALOG_INVALID',
      context: { table },
    });
  }
  const column = (c: { name: string; type: string; comment?: string }) => {
    const where = `Table ${table}, column ${JSON.stringify(String(c.name).slice(0, 80))}`;
    const name = hiveIdentifier(c.name);
    const comment = c.comment === undefined || c.comment === '' ? '' : ` COMMENT ${hiveString(c.comment)}`;
    return `  ${name} ${ddlType(c.type, where)}${comment}`;
  };

  const lines: string[] = [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${qualified} (`,
    definition.columns.map(column).join(',\n'),
    ')',
  ];
  if (definition.partitionKeys.length > 0) {
    lines.push('PARTITIONED BY (', definition.partitionKeys.map(column).join(',\n'), ')');
  }
  lines.push(`ROW FORMAT SERDE ${hiveString(storage.serde)}`);
  const serdeParameters = Object.entries(storage.serdeParameters);
  if (serdeParameters.length > 0) {
    lines.push(
      `WITH SERDEPROPERTIES (\n${serdeParameters.map(([k, v]) => `  ${hiveString(k)}=${hiveString(v)}`).join(',\n')}\n)`,
    );
  }
  lines.push(
    `STORED AS INPUTFORMAT ${hiveString(storage.input)}`,
    `  OUTPUTFORMAT ${hiveString(storage.output)}`,
  );
  lines.push(`LOCATION ${hiveString(definition.location)}`);

  const properties: [string, string][] = [['classification', storage.classification]];
  if (definition.format !== 'parquet' && definition.compression === 'gzip')
    properties.push(['compressionType', 'gzip']);
  if (definition.format === 'csv') properties.push(['skip.header.line.count', '1']);
  if (options.projection && definition.partitionKeys.length > 0) {
    const overrides = typeof options.projection === 'object' ? options.projection : {};
    properties.push(['projection.enabled', 'true']);
    definition.partitionKeys.forEach((key, i) => {
      const values = definition.partitions.map((p) => p.values[i] as string);
      const projection = overrides.keys?.[key.name] ?? defaultProjection(key.name, values, table);
      properties.push(...projectionProperties(key.name, projection));
    });
    const template =
      overrides.locationTemplate ??
      (isHiveLayout(definition)
        ? undefined
        : `${definition.location}${definition.partitionKeys.map((k) => `\${${k.name}}`).join('/')}/`);
    if (template !== undefined) properties.push(['storage.location.template', template]);
  }
  lines.push(
    `TBLPROPERTIES (\n${properties.map(([k, v]) => `  ${hiveString(k)}=${hiveString(v)}`).join(',\n')}\n)`,
  );
  return lines.join('\n');
}
