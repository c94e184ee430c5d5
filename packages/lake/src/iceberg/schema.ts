import { defineSchema, Field, type FieldDef, type Fields, type Schema } from '@tributary/core';
import type { PartitionSpec } from '../partitions.js';
import { IcebergError } from './errors.js';

/** An Iceberg primitive type as the table metadata spells it (`decimal(38,18)`). */
export type IcebergPrimitive = string;

/** An Iceberg list type. */
export interface IcebergList {
  type: 'list';
  'element-id': number;
  element: IcebergType;
  'element-required': boolean;
}

/** Any other nested type (struct, map) from a table written by another engine: kept, not read. */
export interface IcebergNested {
  type: 'struct' | 'map';
  [key: string]: unknown;
}

export type IcebergType = IcebergPrimitive | IcebergList | IcebergNested;

export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}

/** An Iceberg schema (metadata `schemas[]`). */
export interface IcebergSchema {
  type: 'struct';
  'schema-id': number;
  fields: IcebergField[];
  'identifier-field-ids'?: number[];
}

/** A partition field of an Iceberg partition spec. */
export interface IcebergPartitionField {
  name: string;
  transform: string;
  'source-id': number;
  'field-id': number;
}

export interface IcebergPartitionSpec {
  'spec-id': number;
  fields: IcebergPartitionField[];
}

function primitiveType(def: FieldDef): IcebergPrimitive {
  switch (def.kind) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'int32':
      return 'int';
    case 'int64':
      return 'long';
    case 'double':
      return 'double';
    case 'decimal':
      return `decimal(${def.precision},${def.scale})`;
    case 'timestamp':
      return 'timestamptz';
    case 'date':
      return 'date';
    default:
      throw new IcebergError(`no Iceberg type for a ${def.kind} element`, { code: 'ICEBERG_UNSUPPORTED' });
  }
}

/** A field's Iceberg type, taking ids for nested elements from `nextId`. */
function icebergType(def: FieldDef, nextId: () => number, existing?: IcebergType): IcebergType {
  if (def.kind !== 'list') return primitiveType(def);
  const elementId =
    typeof existing === 'object' && existing.type === 'list'
      ? (existing as IcebergList)['element-id']
      : nextId();
  return {
    type: 'list',
    'element-id': elementId,
    element: primitiveType(def.element as FieldDef),
    // A table's optional elements (Spark's default) stay optional: required values fit them.
    'element-required':
      typeof existing === 'object' && existing.type === 'list'
        ? (existing as IcebergList)['element-required']
        : true,
  };
}

function typeText(type: IcebergType): string {
  if (typeof type === 'string') return type;
  if (type.type === 'list') return `list<${typeText((type as IcebergList).element)}>`;
  return type.type;
}

const DECIMAL = /^decimal\((\d+),\s*(\d+)\)$/;

/** Whether values of type `from` can be read as `to` (Iceberg's allowed type promotions). */
function promotes(from: IcebergType, to: IcebergType): boolean {
  const a = typeText(from);
  const b = typeText(to);
  if (a === b) return true;
  if (a === 'int' && b === 'long') return true;
  if (a === 'float' && b === 'double') return true;
  const da = DECIMAL.exec(a);
  const db = DECIMAL.exec(b);
  return Boolean(da && db && da[2] === db[2] && Number(db[1]) >= Number(da[1]));
}

/** The result of mapping a write's schema onto a table's. */
export interface SchemaPlan {
  /** The table's schema after this write (the current one when nothing changed). */
  schema: IcebergSchema;
  /** Whether `schema` is new (the write evolves the table). */
  changed: boolean;
  lastColumnId: number;
  /** Ids of the write's columns (and list elements), by name. */
  fieldIds: Map<string, { id: number; elementId?: number }>;
  /** Columns the write adds to the table. */
  added: string[];
}

/**
 * Map a core schema onto an Iceberg table schema: a new table gets ids 1, 2, ... in field order;
 * an existing one keeps each column's id (by name) and gains the write's new columns, which must
 * be nullable (older files lack them). A type may only widen as Iceberg allows (int → long,
 * decimal precision); a column the table requires must stay required and present.
 */
export function planIcebergSchema(
  schema: Schema<Fields>,
  current?: { schema: IcebergSchema; lastColumnId: number; nextSchemaId: number },
): SchemaPlan {
  let lastColumnId = current?.lastColumnId ?? 0;
  const nextId = () => ++lastColumnId;
  const existing = new Map((current?.schema.fields ?? []).map((f) => [f.name, f]));
  const fieldIds = new Map<string, { id: number; elementId?: number }>();
  const incompatible = (message: string, column: string) =>
    new IcebergError(`Schema change not allowed: ${message}`, {
      code: 'ICEBERG_SCHEMA_INCOMPATIBLE',
      context: { column },
    });
  const fields: IcebergField[] = [];
  const added: string[] = [];
  let changed = current === undefined;
  const byName = new Map<string, IcebergField>();
  for (const column of schema.columns) {
    const def = column.def;
    const required = def.presence === 'required';
    const old = existing.get(column.name);
    if (old) {
      const type = icebergType(def, nextId, old.type);
      if (!promotes(old.type, type)) {
        throw incompatible(
          `column ${column.name} is ${typeText(old.type)} in the table and ${typeText(type)} in the write`,
          column.name,
        );
      }
      if (required && !old.required) {
        throw incompatible(
          `column ${column.name} is optional in the table and required in the write`,
          column.name,
        );
      }
      // Java spells `decimal(38, 18)`, the lake `decimal(38,18)`: the same type, no new schema.
      if (typeText(old.type).replace(/\s/g, '') !== typeText(type).replace(/\s/g, '')) changed = true;
      byName.set(column.name, { ...old, type });
    } else {
      if (current && required) {
        throw incompatible(
          `new column ${column.name} is required, but the table's files have no value for it: make it nullable`,
          column.name,
        );
      }
      const id = nextId();
      byName.set(column.name, { id, name: column.name, required, type: icebergType(def, nextId) });
      if (current) added.push(column.name);
      changed = true;
    }
    const f = byName.get(column.name) as IcebergField;
    fieldIds.set(column.name, {
      id: f.id,
      ...(typeof f.type === 'object' && f.type.type === 'list'
        ? { elementId: (f.type as IcebergList)['element-id'] }
        : {}),
    });
  }
  // The table keeps the columns a write leaves out (their values read as null in its files).
  for (const old of current?.schema.fields ?? []) {
    const next = byName.get(old.name);
    if (next) fields.push(next);
    else if (old.required) {
      throw incompatible(`column ${old.name} is required by the table but missing from the write`, old.name);
    } else fields.push(old);
  }
  for (const name of added.length > 0 || !current ? schema.columns.map((c) => c.name) : []) {
    if (!existing.has(name)) fields.push(byName.get(name) as IcebergField);
  }
  const schemaId = changed && current ? current.nextSchemaId : (current?.schema['schema-id'] ?? 0);
  return {
    schema:
      changed && current
        ? { type: 'struct', 'schema-id': schemaId, fields }
        : (current?.schema ?? { type: 'struct', 'schema-id': 0, fields }),
    changed: changed && current !== undefined,
    lastColumnId,
    fieldIds,
    added,
  };
}

function primitiveDef(text: string): FieldDef | undefined {
  const decimal = DECIMAL.exec(text);
  if (decimal)
    return {
      kind: 'decimal',
      presence: 'required',
      precision: Number(decimal[1]),
      scale: Number(decimal[2]),
    };
  const kind = (
    {
      string: 'string',
      uuid: 'string',
      boolean: 'boolean',
      int: 'int32',
      long: 'int64',
      float: 'double',
      double: 'double',
      date: 'date',
      timestamptz: 'timestamp',
      timestamp: 'timestamp',
    } as const
  )[text];
  return kind ? { kind, presence: 'required' } : undefined;
}

/** The core field of an Iceberg column, or `undefined` for a type the lake does not hold. */
function coreField(f: IcebergField): FieldDef | undefined {
  const presence = f.required ? 'required' : 'nullable';
  if (typeof f.type === 'object' && f.type.type === 'list') {
    const list = f.type as IcebergList;
    // Spark declares list elements optional by default; core lists hold no nulls, so a null
    // element that does occur fails the read (PARQUET_SCHEMA_MISMATCH), naming the column.
    const element = typeof list.element === 'string' ? primitiveDef(list.element) : undefined;
    if (!element) return undefined;
    return { kind: 'list', presence, element };
  }
  const def = typeof f.type === 'string' ? primitiveDef(f.type) : undefined;
  return def && { ...def, presence };
}

/**
 * The core schema of an Iceberg table written by another engine (Spark, pyiceberg): `float`
 * reads as double, `timestamp` and `timestamptz` as timestamps, `uuid` as string. Columns of
 * types the lake does not hold (binary, fixed, time, struct, map) are refused with
 * `ICEBERG_UNSUPPORTED`, naming them.
 */
export function schemaFromIceberg(schema: IcebergSchema, table = ''): Schema<Fields> {
  const fields: Record<string, unknown> = {};
  const unsupported: string[] = [];
  for (const f of schema.fields) {
    const def = coreField(f);
    if (!def) unsupported.push(`${f.name} (${typeText(f.type)})`);
    else fields[f.name] = new Field(def);
  }
  if (unsupported.length > 0) {
    throw new IcebergError(
      `${table || 'the table'} has columns the lake cannot read: ${unsupported.join(', ')}`,
      {
        code: 'ICEBERG_UNSUPPORTED',
        context: { table },
      },
    );
  }
  return defineSchema(fields as Fields);
}

/** The partition spec a write's hive-style partitioning stands for in Iceberg. */
export function planPartitionSpec(
  partitionBy: readonly PartitionSpec[],
  schema: IcebergSchema,
  specId = 0,
): IcebergPartitionSpec {
  const fields: IcebergPartitionField[] = [];
  let previous: PartitionSpec['transform'];
  for (const spec of partitionBy) {
    const t = spec.transform;
    if (!t) {
      throw new IcebergError(
        `partition ${spec.name} has no Iceberg transform: partition Iceberg tables with byField, byDay or byHour`,
        { code: 'ICEBERG_UNSUPPORTED', context: { partition: spec.name } },
      );
    }
    // byHour's `dt` and `hour` are one Iceberg field.
    if (previous === t || (previous && previous.kind === t.kind && previous.source === t.source)) continue;
    previous = t;
    const source = schema.fields.find((f) => f.name === t.source);
    if (!source) {
      throw new IcebergError(`partition source ${t.source} is not a column`, {
        code: 'ICEBERG_SPEC_MISMATCH',
        context: { partition: spec.name },
      });
    }
    const type = typeText(source.type);
    const timeLike = type === 'timestamptz' || type === 'timestamp' || (type === 'date' && t.kind === 'day');
    if ((t.kind !== 'identity' && !timeLike) || (t.kind === 'identity' && !IDENTITY_TYPES.has(type))) {
      throw new IcebergError(`cannot partition by ${t.kind}(${t.source}) of a ${type} column`, {
        code: 'ICEBERG_UNSUPPORTED',
        context: { partition: spec.name },
      });
    }
    fields.push({
      name: t.kind === 'identity' ? spec.name : `${t.source}_${t.kind}`,
      transform: t.kind,
      'source-id': source.id,
      'field-id': 1000 + fields.length,
    });
  }
  return { 'spec-id': specId, fields };
}

const IDENTITY_TYPES = new Set(['string', 'int', 'long', 'boolean', 'date']);

/** Whether two specs partition the same way (names aside). */
export function sameSpec(a: IcebergPartitionSpec, b: IcebergPartitionSpec): boolean {
  return (
    a.fields.length === b.fields.length &&
    a.fields.every((f, i) => {
      const g = b.fields[i] as IcebergPartitionField;
      return f.transform === g.transform && f['source-id'] === g['source-id'];
    })
  );
}

/** The Avro/Iceberg result type of a partition field. */
export function partitionResultType(field: IcebergPartitionField, schema: IcebergSchema): string {
  if (field.transform === 'hour' || field.transform === 'day') return 'int';
  const source = schema.fields.find((f) => f.id === field['source-id']);
  return source ? typeText(source.type) : 'string';
}

export type PartitionValue = number | bigint | string | boolean | Uint8Array | null;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * Iceberg's human-readable text of a partition value (what Java puts in paths). `sourceType` is the
 * source column's type: an identity partition of a date holds days since the epoch, and reads as
 * the ISO date, as in Java.
 */
export function humanPartitionValue(transform: string, value: PartitionValue, sourceType?: string): string {
  if (value === null) return 'null';
  if (transform === 'hour' || transform === 'day' || (transform === 'identity' && sourceType === 'date')) {
    const date = new Date(Number(value) * (transform === 'hour' ? HOUR_MS : DAY_MS));
    const day = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
    return transform === 'hour' ? `${day}-${pad(date.getUTCHours())}` : day;
  }
  return String(value);
}

/** The type (as text) of a partition field's source column in `schema`. */
export function partitionSourceType(schema: IcebergSchema, field: IcebergPartitionField): string | undefined {
  const source = schema.fields.find((s) => s.id === field['source-id']);
  return source ? typeText(source.type) : undefined;
}

/** One folder of a partition path: `timestamp_hour=2026-11-23-10/`, URL-encoded as Java writes it. */
function pathSegment(
  field: IcebergPartitionField,
  value: PartitionValue,
  sourceType: string | undefined,
): string {
  return `${encodeURIComponent(field.name)}=${encodeURIComponent(humanPartitionValue(field.transform, value, sourceType))}/`;
}

/** The partition folder of a data file, from its values by partition field name. */
export function partitionPathOf(
  spec: IcebergPartitionSpec,
  values: Record<string, PartitionValue>,
  schema: IcebergSchema,
): string {
  return spec.fields
    .map((f) => pathSegment(f, values[f.name] ?? null, partitionSourceType(schema, f)))
    .join('');
}

/** One record's partition: the values (by partition field) and the data folder, cached per value. */
export type Partitioner = (record: Record<string, unknown>) => { values: PartitionValue[]; path: string };

function dateDays(value: unknown): number {
  if (typeof value === 'string') return Math.floor(Date.parse(`${value}T00:00:00Z`) / DAY_MS);
  return Number.NaN;
}

/**
 * The partition of each record under an Iceberg spec: `hour(ts)` is hours since the epoch, `day`
 * days, `identity` the value. Paths are Java's (`timestamp_hour=2026-11-23-10/`), URL-encoded;
 * each distinct partition's path is built once.
 */
export function partitioner(spec: IcebergPartitionSpec, schema: IcebergSchema): Partitioner {
  const fields = spec.fields.map((f) => {
    const source = schema.fields.find((s) => s.id === f['source-id']) as IcebergField;
    const type = typeText(source.type);
    const name = source.name;
    const value = (record: Record<string, unknown>): PartitionValue => {
      const v = record[name];
      if (v === null || v === undefined) return null;
      if (f.transform === 'hour') return Math.floor((v as Date).getTime() / HOUR_MS);
      if (f.transform === 'day') {
        return type === 'date' ? dateDays(v) : Math.floor((v as Date).getTime() / DAY_MS);
      }
      if (type === 'date') return dateDays(v);
      if (type === 'long') return BigInt(v as bigint);
      return v as PartitionValue;
    };
    return { f, value, type };
  });
  const cache = new Map<string, { values: PartitionValue[]; path: string }>();
  if (fields.length === 0) {
    const none = { values: [], path: '' };
    return () => none;
  }
  return (record) => {
    const values = fields.map(({ value }) => value(record));
    const key = values.map((v) => (v === null ? '\u0000' : String(v))).join('\u0001');
    let hit = cache.get(key);
    if (!hit) {
      const path = fields.map(({ f, type }, i) => pathSegment(f, values[i] as PartitionValue, type)).join('');
      hit = { values, path };
      if (cache.size > 10_000) cache.clear();
      cache.set(key, hit);
    }
    return hit;
  };
}
