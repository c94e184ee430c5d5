import type { FieldDef, Fields, Schema } from '@tributary/core';
import {
  hiveIdentifier,
  hiveString,
  type IcebergField,
  type IcebergSchema,
  type IcebergType,
  type PartitionSpec,
} from '@tributary/lake';
import { catalogName } from './athena-literals.js';
import { TableDefinitionError, WarehouseOptionsError } from './errors.js';

/** Options of {@link icebergAthenaDdl}. */
export interface IcebergAthenaDdlOptions {
  /** The Glue database. Default: none (the query's `QueryExecutionContext.Database`). */
  database?: string;
  /** The table's name: 1 to 255 letters, digits and `_` (Glue keeps it lower-case). */
  table: string;
  /** Where Athena keeps the table's data and metadata: an `s3://` URL. */
  location: string;
  /** The partitioning, as `writeDataset` takes it: `byHour('timestamp')` → `hour(timestamp)`. */
  partitionBy?: readonly PartitionSpec[];
  /** `CREATE TABLE IF NOT EXISTS`. Default `false`. */
  ifNotExists?: boolean;
}

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;

function unsupported(type: string, column: string): never {
  throw new TableDefinitionError(
    `Athena cannot create an Iceberg column of type ${type} (column ${column})`,
    {
      code: 'COLUMN_TYPE_UNSUPPORTED',
      context: { column, type },
    },
  );
}

/** An Iceberg type in Athena's DDL words. Athena creates `timestamp` only (no `timestamptz`). */
function athenaType(type: IcebergType, column: string): string {
  if (typeof type === 'string') {
    const decimal = DECIMAL.exec(type);
    if (decimal) return `decimal(${decimal[1]},${decimal[2]})`;
    switch (type) {
      case 'boolean':
      case 'int':
      case 'float':
      case 'double':
      case 'date':
      case 'string':
      case 'binary':
      case 'timestamp':
        return type;
      case 'long':
        return 'bigint';
      case 'timestamptz':
        return 'timestamp';
      default:
        return unsupported(type, column);
    }
  }
  if (type.type === 'list') return `array<${athenaType(type.element as IcebergType, column)}>`;
  if (type.type === 'map') {
    return `map<${athenaType(type.key as IcebergType, column)},${athenaType(type.value as IcebergType, column)}>`;
  }
  const fields = (type.fields ?? []) as IcebergField[];
  return `struct<${fields.map((f) => `${hiveIdentifier(f.name)}:${athenaType(f.type, column)}`).join(',')}>`;
}

/** A core field in Athena's Iceberg DDL words. */
function athenaFieldType(def: FieldDef, column: string): string {
  switch (def.kind) {
    case 'string':
    case 'boolean':
    case 'double':
    case 'date':
    case 'timestamp':
      return def.kind;
    case 'int32':
      return 'int';
    case 'int64':
      return 'bigint';
    case 'decimal':
      return `decimal(${def.precision},${def.scale})`;
    case 'list':
      return `array<${athenaFieldType(def.element as FieldDef, column)}>`;
    default:
      return unsupported(def.kind, column);
  }
}

function isIcebergSchema(schema: IcebergSchema | Schema<Fields>): schema is IcebergSchema {
  return (schema as IcebergSchema).type === 'struct' && Array.isArray((schema as IcebergSchema).fields);
}

/** The partition clause of one spec: `hour(ts)`, `day(ts)` or the identity column. */
function partitionTerm(spec: PartitionSpec, columns: ReadonlySet<string>): string {
  const transform = spec.transform;
  if (!transform) {
    throw new TableDefinitionError(
      `Partition ${spec.name} has no Iceberg transform: use byHour, byDay or byField from @tributary/lake`,
      { code: 'TABLE_DEFINITION_INVALID', context: { partition: spec.name } },
    );
  }
  if (!columns.has(transform.source)) {
    throw new TableDefinitionError(
      `Partition ${spec.name} is on ${transform.source}, which is not a column`,
      {
        code: 'TABLE_DEFINITION_INVALID',
        context: { partition: spec.name },
      },
    );
  }
  const source = hiveIdentifier(transform.source);
  return transform.kind === 'identity' ? source : `${transform.kind}(${source})`;
}

/**
 * The `CREATE TABLE` that makes Athena create and own an Iceberg table (Athena writes its
 * metadata and data; `INSERT`, `MERGE`, `UPDATE` and `OPTIMIZE` then run on Athena):
 *
 * ```sql
 * CREATE TABLE `curated`.`quotes` (`id` string, `price` decimal(18,6), `timestamp` timestamp)
 * PARTITIONED BY (hour(`timestamp`))
 * LOCATION 's3://lake/curated/quotes'
 * TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet')
 * ```
 *
 * The columns come from a core schema or an Iceberg schema (`scanIceberg(...).schema`). Athena's
 * Iceberg DDL creates `timestamp` columns only (no `timestamptz`): the lake's UTC instants are
 * declared `timestamp` and hold UTC. `tinyint`, `smallint`, `char`, `time`, `uuid` and `fixed`
 * have no Athena Iceberg column and throw a `TableDefinitionError` (`COLUMN_TYPE_UNSUPPORTED`). The lake's own Iceberg tables
 * need no DDL: the lake registers them in Glue (`GlueIcebergCatalog`) and Athena queries them as
 * they are.
 *
 * @example
 * ```ts
 * import { AthenaClient } from '@aws-sdk/client-athena';
 * import { byHour } from '@tributary/lake';
 * import { sensorRecordSchema } from '@tributary/sensors';
 * import { AthenaEngine, icebergAthenaDdl } from '@tributary/warehouse/athena';
 *
 * const engine = new AthenaEngine({ client: new AthenaClient({}), outputLocation: 's3://results/' });
 * await engine.execute(
 *   icebergAthenaDdl(sensorRecordSchema, {
 *     database: 'processed',
 *     table: 'sensors_athena',
 *     location: 's3://my-lake/processed/sensors_athena',
 *     partitionBy: byHour('timestamp'),
 *   }),
 * );
 * ```
 */
export function icebergAthenaDdl(
  schema: IcebergSchema | Schema<Fields>,
  options: IcebergAthenaDdlOptions,
): string {
  if (typeof options !== 'object' || options === null) {
    throw new WarehouseOptionsError('icebergAthenaDdl needs options { table, location }', {
      code: 'ICEBERG_DDL_OPTIONS_INVALID',
      option: 'options',
    });
  }
  const table = catalogName(options.table, 'table');
  const qualified =
    options.database === undefined
      ? hiveIdentifier(table)
      : `${hiveIdentifier(catalogName(options.database, 'database'))}.${hiveIdentifier(table)}`;
  if (typeof options.location !== 'string' || !/^s3:\/\/[^/]+/.test(options.location)) {
    throw new WarehouseOptionsError(
      `icebergAthenaDdl: location must be an s3:// URL, got ${JSON.stringify(options.location)}`,
      { code: 'ICEBERG_DDL_OPTIONS_INVALID', option: 'location' },
    );
  }
  const columns = isIcebergSchema(schema)
    ? schema.fields.map((f) => ({ name: f.name, type: athenaType(f.type, f.name) }))
    : schema.columns.map((c) => ({ name: c.name, type: athenaFieldType(c.def, c.name) }));
  if (columns.length === 0) {
    throw new TableDefinitionError(`Table ${table} has no columns`, {
      code: 'TABLE_DEFINITION_INVALID',
      table,
    });
  }
  const names = new Set(columns.map((c) => c.name));
  // byHour gives two hive specs (dt, hour) for one Iceberg field: keep each term once.
  const terms = [...new Set((options.partitionBy ?? []).map((spec) => partitionTerm(spec, names)))];
  return [
    `CREATE TABLE ${options.ifNotExists ? 'IF NOT EXISTS ' : ''}${qualified} (`,
    columns.map((c) => `  ${hiveIdentifier(c.name)} ${c.type}`).join(',\n'),
    ')',
    ...(terms.length > 0 ? [`PARTITIONED BY (${terms.join(', ')})`] : []),
    `LOCATION ${hiveString(options.location)}`,
    `TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet')`,
  ].join('\n');
}
