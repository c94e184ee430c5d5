import {
  type FieldDef,
  type FieldKind,
  type Fields,
  type ParquetNode,
  type PrimitiveKind,
  type Schema,
  toParquetSchema,
} from '@tributary/core';
import type { SchemaElement, SchemaTree } from 'hyparquet';

/** What the writer needs to know about one leaf column (every top-level field has exactly one). */
export interface LeafSpec {
  /** The top-level field (and record key). */
  readonly name: string;
  /** Path of the leaf in the Parquet schema: `[name]`, or `[name, 'list', 'element']` for a list. */
  readonly path: readonly string[];
  readonly element: SchemaElement;
  /** The kind of each stored value (a list's element kind for a list). */
  readonly kind: PrimitiveKind;
  readonly isList: boolean;
  /** The field may be null (its top-level node is OPTIONAL). */
  readonly nullable: boolean;
  readonly maxDefinitionLevel: number;
  readonly maxRepetitionLevel: number;
  /** Decimal scale (0 for other kinds). */
  readonly scale: number;
  readonly precision: number;
  /** Timestamps only: the stored unit (the value is a JavaScript Date, in milliseconds). */
  readonly timestampUnit: TimestampUnit;
}

/** How a Parquet file stores timestamps: the lake's hive tables use milliseconds, Iceberg microseconds. */
export type TimestampUnit = 'MILLIS' | 'MICROS';

/** Options of {@link planSchema} for the table formats that need more than plain Parquet. */
export interface SchemaPlanOptions {
  /**
   * Parquet `field_id`s by column name (Iceberg's column ids): the column's own id and, for a
   * list, the element's id.
   */
  readonly fieldIds?: ReadonlyMap<string, { readonly id: number; readonly elementId?: number }>;
  /** Default `MILLIS`. */
  readonly timestampUnit?: TimestampUnit;
}

function toElement(node: ParquetNode, unit: TimestampUnit, fieldId?: number): SchemaElement {
  const element: SchemaElement = { name: node.name, repetition_type: node.repetition };
  if (node.physicalType) element.type = node.physicalType;
  if (node.typeLength !== undefined) element.type_length = node.typeLength;
  if (node.convertedType) element.converted_type = node.convertedType;
  if (fieldId !== undefined) element.field_id = fieldId;
  if (node.logicalType?.type === 'TIMESTAMP' && unit === 'MICROS') {
    element.logical_type = { type: 'TIMESTAMP', unit: 'MICROS', isAdjustedToUTC: true };
    element.converted_type = 'TIMESTAMP_MICROS';
  } else if (node.logicalType) {
    element.logical_type = { ...node.logicalType };
    if (node.logicalType.type === 'DECIMAL') {
      element.precision = node.logicalType.precision;
      element.scale = node.logicalType.scale;
    }
  }
  if (node.children) element.num_children = node.children.length;
  return element;
}

/**
 * Depth first, groups before their children (a top-level field, or a list's group, its repeated
 * `list` group and its element); the ids go on each top-level field and a list's element. Returns
 * each field's leaf element by field name.
 */
function flatten(
  nodes: readonly ParquetNode[],
  out: SchemaElement[],
  options: SchemaPlanOptions,
): Map<string, SchemaElement> {
  const unit = options.timestampUnit ?? 'MILLIS';
  const leaves = new Map<string, SchemaElement>();
  for (const node of nodes) {
    const ids = options.fieldIds?.get(node.name);
    const top = toElement(node, unit, ids?.id);
    out.push(top);
    leaves.set(node.name, top);
    const repeated = node.children?.[0];
    if (repeated) {
      out.push(toElement(repeated, unit));
      for (const leaf of repeated.children ?? []) {
        const element = toElement(leaf, unit, ids?.elementId);
        out.push(element);
        leaves.set(node.name, element);
      }
    }
  }
  return leaves;
}

/**
 * The flattened `SchemaElement` list a Parquet footer holds (depth first, groups carrying
 * `num_children`), built from core's `toParquetSchema`, plus one {@link LeafSpec} per field.
 */
export function planSchema<F extends Fields>(
  schema: Schema<F>,
  options: SchemaPlanOptions = {},
): { elements: SchemaElement[]; leaves: LeafSpec[] } {
  const nodes = toParquetSchema(schema);
  const elements: SchemaElement[] = [{ name: 'schema', num_children: nodes.length }];
  const leafElements = flatten(nodes, elements, options);
  const unit = options.timestampUnit ?? 'MILLIS';
  const leaves = schema.columns.map((column, i): LeafSpec => {
    const node = nodes[i] as ParquetNode;
    const def: FieldDef = column.def;
    const nullable = node.repetition === 'OPTIONAL';
    if (def.kind === 'list') {
      const leaf = node.children?.[0]?.children?.[0] as ParquetNode;
      const elementDef = def.element as FieldDef;
      return {
        name: column.name,
        path: [node.name, 'list', leaf.name],
        element: leafElements.get(node.name) as SchemaElement,
        kind: elementDef.kind as PrimitiveKind,
        isList: true,
        nullable,
        // optional list (+1), repeated `list` group (+1); the element itself is required.
        maxDefinitionLevel: nullable ? 2 : 1,
        maxRepetitionLevel: 1,
        scale: elementDef.scale ?? 0,
        precision: elementDef.precision ?? 0,
        timestampUnit: unit,
      };
    }
    return {
      name: column.name,
      path: [node.name],
      element: leafElements.get(node.name) as SchemaElement,
      kind: def.kind as PrimitiveKind,
      isList: false,
      nullable,
      maxDefinitionLevel: nullable ? 1 : 0,
      maxRepetitionLevel: 0,
      scale: def.scale ?? 0,
      precision: def.precision ?? 0,
      timestampUnit: unit,
    };
  });
  return { elements, leaves };
}

/**
 * A column of a Parquet file, described as a core field would be (what the catalog's crawler
 * infers a table's columns from).
 *
 * @example
 * ```ts
 * const price: ParquetColumnInfo = {
 *   name: 'price', kind: 'decimal', precision: 38, scale: 18, nullable: true, parquetType: 'FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,18)',
 * };
 * ```
 */
export interface ParquetColumnInfo {
  name: string;
  /** The core field kind that holds the column's values, or `unsupported` (binary, struct, map, time of day...). */
  kind: FieldKind | 'unsupported';
  /** The column may hold nulls (it is not REQUIRED). */
  nullable: boolean;
  /** Decimals only. */
  precision?: number;
  /** Decimals only. */
  scale?: number;
  /** Lists only: the element's kind (and precision and scale for decimals). */
  element?: { kind: PrimitiveKind | 'unsupported'; precision?: number; scale?: number };
  /** The Parquet type as text, e.g. `INT64 TIMESTAMP(MILLIS,true)`, for messages about the column. */
  parquetType: string;
}

function typeText(element: SchemaElement): string {
  const physical = element.type ?? 'group';
  const sized = element.type === 'FIXED_LEN_BYTE_ARRAY' ? `${physical}(${element.type_length})` : physical;
  const l = element.logical_type;
  let annotation = element.converted_type ?? '';
  if (l) {
    if (l.type === 'TIMESTAMP' || l.type === 'TIME') annotation = `${l.type}(${l.unit},${l.isAdjustedToUTC})`;
    else if (l.type === 'DECIMAL') annotation = `DECIMAL(${l.precision},${l.scale})`;
    else if (l.type === 'INTEGER') annotation = `INTEGER(${l.bitWidth},${l.isSigned})`;
    else annotation = l.type;
  } else if (element.converted_type === 'DECIMAL') {
    annotation = `DECIMAL(${element.precision},${element.scale ?? 0})`;
  }
  return annotation ? `${sized} ${annotation}` : sized;
}

type PrimitiveInfo = { kind: PrimitiveKind | 'unsupported'; precision?: number; scale?: number };

/** The core kind that can hold a primitive Parquet column's values without loss. */
function primitiveInfo(element: SchemaElement): PrimitiveInfo {
  const l = element.logical_type;
  const c = element.converted_type;
  if (l?.type === 'DECIMAL' || c === 'DECIMAL') {
    const precision = l?.type === 'DECIMAL' ? l.precision : (element.precision ?? 0);
    const scale = l?.type === 'DECIMAL' ? l.scale : (element.scale ?? 0);
    return precision >= 1 && precision <= 38
      ? { kind: 'decimal', precision, scale }
      : { kind: 'unsupported' };
  }
  // hyparquet reads a UUID as its canonical text.
  if (l?.type === 'STRING' || l?.type === 'ENUM' || l?.type === 'JSON' || l?.type === 'UUID') {
    return { kind: 'string' };
  }
  if (c === 'UTF8' || c === 'ENUM' || c === 'JSON') return { kind: 'string' };
  if (l?.type === 'DATE' || c === 'DATE') return { kind: 'date' };
  if (l?.type === 'TIMESTAMP' || c === 'TIMESTAMP_MILLIS' || c === 'TIMESTAMP_MICROS')
    return { kind: 'timestamp' };
  if (l?.type === 'TIME' || c === 'TIME_MILLIS' || c === 'TIME_MICROS' || c === 'INTERVAL') {
    return { kind: 'unsupported' };
  }
  switch (element.type) {
    case 'BOOLEAN':
      return { kind: 'boolean' };
    case 'INT32': {
      // An unsigned 32-bit value can exceed int32's range.
      const unsigned = c === 'UINT_32' || (l?.type === 'INTEGER' && !l.isSigned && l.bitWidth === 32);
      return { kind: unsigned ? 'int64' : 'int32' };
    }
    case 'INT64': {
      const unsigned = c === 'UINT_64' || (l?.type === 'INTEGER' && !l.isSigned);
      return unsigned ? { kind: 'decimal', precision: 20, scale: 0 } : { kind: 'int64' };
    }
    case 'INT96':
      // Legacy Spark/Hive/Impala timestamps.
      return { kind: 'timestamp' };
    case 'FLOAT':
    case 'DOUBLE':
      return { kind: 'double' };
    default:
      // BYTE_ARRAY without a string annotation, FIXED_LEN_BYTE_ARRAY (UUID, FLOAT16...).
      return { kind: 'unsupported' };
  }
}

function isListGroup(element: SchemaElement): boolean {
  return element.converted_type === 'LIST' || element.logical_type?.type === 'LIST';
}

/** The element node of a LIST group, in its 3-level form or the legacy 2-level one. */
function listElement(node: SchemaTree): SchemaTree | undefined {
  const repeated = node.children[0];
  if (node.children.length !== 1 || !repeated || repeated.element.repetition_type !== 'REPEATED') return;
  if (repeated.children.length === 0) return repeated;
  return repeated.children.length === 1 ? repeated.children[0] : undefined;
}

/** Describe a top-level column of a file from its footer. */
export function describeColumn(node: SchemaTree): ParquetColumnInfo {
  const element = node.element;
  const name = element.name;
  const nullable = element.repetition_type !== 'REQUIRED';
  if (node.children.length > 0) {
    const item = isListGroup(element) ? listElement(node) : undefined;
    if (!item) return { name, kind: 'unsupported', nullable, parquetType: typeText(element) };
    const inner = item.children.length === 0 ? primitiveInfo(item.element) : { kind: 'unsupported' as const };
    return {
      name,
      kind: 'list',
      nullable,
      element: inner,
      parquetType: `LIST<${item.children.length === 0 ? typeText(item.element) : 'group'}>`,
    };
  }
  if (element.repetition_type === 'REPEATED') {
    // A bare repeated field (1-level list) is read as a list.
    return {
      name,
      kind: 'list',
      nullable: false,
      element: primitiveInfo(element),
      parquetType: `REPEATED ${typeText(element)}`,
    };
  }
  return { name, nullable, ...primitiveInfo(element), parquetType: typeText(element) };
}
