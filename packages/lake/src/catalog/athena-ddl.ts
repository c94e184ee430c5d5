import { escapePartitionValue } from '../partitions.js';
import { CatalogError } from './errors.js';
import { catalogName, type TableDefinition, type TableFormat } from './table.js';

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

/** A Hive identifier: backquoted, backquotes doubled. */
export function hiveIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/**
 * A Hive string literal. Hive (and so Athena DDL) reads C-style escapes in literals, and takes
 * `'a''b'` as two adjacent literals (`ab`): a quote is escaped as `\'`, a backslash as `\\`.
 */
export function hiveString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
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
  if (lower === 'year' && nonEmpty && values.every((v) => /^\d{4}$/.test(v))) {
    return { type: 'integer', range: `${bounds(values)[0]},${bounds(values)[1]}` };
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

function projectionProperties(key: string, p: PartitionProjection): [string, string][] {
  const at = (name: string) => `projection.${key}.${name}`;
  const out: [string, string][] = [[at('type'), p.type]];
  switch (p.type) {
    case 'date':
      out.push([at('format'), p.format], [at('range'), p.range]);
      if (p.interval !== undefined) out.push([at('interval'), String(p.interval)]);
      if (p.unit !== undefined) out.push([at('interval.unit'), p.unit]);
      break;
    case 'integer':
      out.push([at('range'), p.range]);
      if (p.interval !== undefined) out.push([at('interval'), String(p.interval)]);
      if (p.digits !== undefined) out.push([at('digits'), String(p.digits)]);
      break;
    case 'enum':
      if (p.values.length === 0 || p.values.some((v) => v.includes(','))) {
        throw new CatalogError(`Enum projection of ${key} needs values without commas`, {
          code: 'CATALOG_INVALID',
        });
      }
      out.push([at('values'), p.values.join(',')]);
      break;
    case 'injected':
      break;
    default:
      throw new CatalogError(`Unknown projection type for ${key}`, { code: 'CATALOG_INVALID' });
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
 * `year` → `integer` from the first to the last year seen (widen it with `projection.keys` for
 * years to come); any other key → `injected` (queries must give its value). For layouts that are
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
  const column = (c: { name: string; type: string; comment?: string }) =>
    `  ${hiveIdentifier(c.name)} ${c.type}${c.comment ? ` COMMENT ${hiveString(c.comment)}` : ''}`;

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
