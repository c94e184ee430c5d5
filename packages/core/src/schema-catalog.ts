import type { FieldDef, Fields, Schema } from './schema.js';

/** The Hive type of a field, as Glue's Data Catalog and Athena's CREATE TABLE spell it. */
export function hiveType(def: FieldDef): string {
  switch (def.kind) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'int32':
      return 'int';
    case 'int64':
      return 'bigint';
    case 'double':
      return 'double';
    case 'decimal':
      return `decimal(${def.precision},${def.scale})`;
    case 'timestamp':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'list':
      return `array<${hiveType(def.element as FieldDef)}>`;
  }
}

/** The type Athena's query engine (Trino) gives a field in SELECT, CAST and parameters. */
export function athenaSqlType(def: FieldDef): string {
  switch (def.kind) {
    case 'string':
      return 'varchar';
    case 'boolean':
      return 'boolean';
    case 'int32':
      return 'integer';
    case 'int64':
      return 'bigint';
    case 'double':
      return 'double';
    case 'decimal':
      return `decimal(${def.precision},${def.scale})`;
    case 'timestamp':
      return 'timestamp(3)';
    case 'date':
      return 'date';
    case 'list':
      return `array(${athenaSqlType(def.element as FieldDef)})`;
  }
}

/** A column as the Glue API takes it (`StorageDescriptor.Columns`). */
export interface GlueColumn {
  Name: string;
  Type: string;
  Comment?: string;
}

/**
 * The Glue Data Catalog columns of a schema, ready for `CreateTable`'s `StorageDescriptor.Columns`.
 *
 * @example
 * ```ts
 * toGlueColumns(readingSchema); // [{ Name: 'id', Type: 'string' }, { Name: 'at', Type: 'timestamp' }, ...]
 * ```
 */
export function toGlueColumns<F extends Fields>(schema: Schema<F>): GlueColumn[] {
  return schema.columns.map((c) =>
    c.def.description
      ? { Name: c.name, Type: hiveType(c.def), Comment: c.def.description }
      : { Name: c.name, Type: hiveType(c.def) },
  );
}

/** A column for Athena: its DDL (Hive) type and its query (Trino) type. */
export interface AthenaColumn {
  name: string;
  /** The type in CREATE EXTERNAL TABLE, e.g. `decimal(38,18)`, `array<string>`. */
  ddlType: string;
  /** The type in queries and CASTs, e.g. `timestamp(3)`, `array(varchar)`. */
  sqlType: string;
  comment?: string;
}

/**
 * Athena's view of a schema's columns: Hive types for DDL, Trino types for queries.
 *
 * @example
 * ```ts
 * toAthenaColumns(readingSchema).map((c) => `${c.name} ${c.ddlType}`).join(', ');
 * ```
 */
export function toAthenaColumns<F extends Fields>(schema: Schema<F>): AthenaColumn[] {
  return schema.columns.map((c) => {
    const column: AthenaColumn = { name: c.name, ddlType: hiveType(c.def), sqlType: athenaSqlType(c.def) };
    if (c.def.description) column.comment = c.def.description;
    return column;
  });
}

/** A Spark SQL data type in the JSON form `DataType.fromJson` reads. */
export type SparkType = string | { type: 'array'; elementType: SparkType; containsNull: boolean };

export interface SparkStructField {
  name: string;
  type: SparkType;
  nullable: boolean;
  metadata: Record<string, string>;
}

/** A Spark `StructType` as JSON: `StructType.fromJson(json.load(f))` in PySpark. */
export interface SparkStructType {
  type: 'struct';
  fields: SparkStructField[];
}

function sparkType(def: FieldDef): SparkType {
  switch (def.kind) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'int32':
      return 'integer';
    case 'int64':
      return 'long';
    case 'double':
      return 'double';
    case 'decimal':
      return `decimal(${def.precision},${def.scale})`;
    case 'timestamp':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'list':
      return { type: 'array', elementType: sparkType(def.element as FieldDef), containsNull: false };
  }
}

/**
 * The Spark schema of a table, the JSON document the PySpark jobs load with
 * `StructType.fromJson`. Descriptions travel as the `comment` metadata Spark shows in DESCRIBE.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 *
 * await writeFile('spark/schemas/sensor_reading.json', JSON.stringify(toSparkSchema(readingSchema), null, 2));
 * ```
 */
export function toSparkSchema<F extends Fields>(schema: Schema<F>): SparkStructType {
  return {
    type: 'struct',
    fields: schema.columns.map((c): SparkStructField => {
      const metadata: Record<string, string> = {};
      if (c.def.description) metadata.comment = c.def.description;
      return { name: c.name, type: sparkType(c.def), nullable: c.def.presence !== 'required', metadata };
    }),
  };
}
