import type { FieldDef, Fields, Schema } from './schema.js';

export type ParquetPhysicalType =
  | 'BOOLEAN'
  | 'INT32'
  | 'INT64'
  | 'DOUBLE'
  | 'BYTE_ARRAY'
  | 'FIXED_LEN_BYTE_ARRAY';
export type ParquetRepetition = 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
export type ParquetLogicalType =
  | { type: 'STRING' }
  | { type: 'DATE' }
  | { type: 'TIMESTAMP'; unit: 'MILLIS'; isAdjustedToUTC: true }
  | { type: 'DECIMAL'; precision: number; scale: number }
  | { type: 'INTEGER'; bitWidth: 32 | 64; isSigned: true }
  | { type: 'LIST' };

/**
 * One node of a Parquet schema, as in Parquet's `SchemaElement`: a leaf has a physical type, a
 * group has children. Both the logical type and the legacy converted type are set, so that old
 * and new readers agree (a TIMESTAMP_MILLIS adjusted to UTC is a UTC timestamp everywhere).
 */
export interface ParquetNode {
  name: string;
  repetition: ParquetRepetition;
  physicalType?: ParquetPhysicalType;
  /** FIXED_LEN_BYTE_ARRAY only */
  typeLength?: number;
  logicalType?: ParquetLogicalType;
  convertedType?: 'UTF8' | 'DATE' | 'TIMESTAMP_MILLIS' | 'DECIMAL' | 'LIST';
  children?: ParquetNode[];
}

/** Bytes a two's-complement FIXED_LEN_BYTE_ARRAY needs for `precision` decimal digits. */
export function decimalByteLength(precision: number): number {
  return Math.ceil((precision * Math.log2(10) + 1) / 8);
}

function leaf(name: string, def: FieldDef, repetition: ParquetRepetition): ParquetNode {
  switch (def.kind) {
    case 'string':
      return {
        name,
        repetition,
        physicalType: 'BYTE_ARRAY',
        logicalType: { type: 'STRING' },
        convertedType: 'UTF8',
      };
    case 'boolean':
      return { name, repetition, physicalType: 'BOOLEAN' };
    case 'int32':
      return { name, repetition, physicalType: 'INT32' };
    case 'int64':
      return { name, repetition, physicalType: 'INT64' };
    case 'double':
      return { name, repetition, physicalType: 'DOUBLE' };
    case 'timestamp':
      return {
        name,
        repetition,
        physicalType: 'INT64',
        logicalType: { type: 'TIMESTAMP', unit: 'MILLIS', isAdjustedToUTC: true },
        convertedType: 'TIMESTAMP_MILLIS',
      };
    case 'date':
      return {
        name,
        repetition,
        physicalType: 'INT32',
        logicalType: { type: 'DATE' },
        convertedType: 'DATE',
      };
    case 'decimal': {
      const precision = def.precision as number;
      const scale = def.scale as number;
      const logical = {
        logicalType: { type: 'DECIMAL', precision, scale },
        convertedType: 'DECIMAL',
      } as const;
      // The smallest physical type the Parquet spec allows for the precision.
      if (precision <= 9) return { name, repetition, physicalType: 'INT32', ...logical };
      if (precision <= 18) return { name, repetition, physicalType: 'INT64', ...logical };
      return {
        name,
        repetition,
        physicalType: 'FIXED_LEN_BYTE_ARRAY',
        typeLength: decimalByteLength(precision),
        ...logical,
      };
    }
    default:
      throw new Error(`not a primitive kind: ${def.kind}`);
  }
}

function node(name: string, def: FieldDef): ParquetNode {
  const repetition: ParquetRepetition = def.presence === 'required' ? 'REQUIRED' : 'OPTIONAL';
  if (def.kind !== 'list') return leaf(name, def, repetition);
  // The three-level LIST structure of the Parquet spec, which Spark, pyarrow and DuckDB all read.
  return {
    name,
    repetition,
    logicalType: { type: 'LIST' },
    convertedType: 'LIST',
    children: [
      {
        name: 'list',
        repetition: 'REPEATED',
        children: [leaf('element', def.element as FieldDef, 'REQUIRED')],
      },
    ],
  };
}

/**
 * The Parquet schema of a table, for the lake's writer: strings as UTF8, int64 as INT64,
 * decimals as DECIMAL, timestamps as INT64 TIMESTAMP(MILLIS, UTC) — never INT96.
 *
 * @example
 * ```ts
 * const nodes = toParquetSchema(readingSchema); // [{ name: 'id', physicalType: 'BYTE_ARRAY', ... }, ...]
 * ```
 */
export function toParquetSchema<F extends Fields>(schema: Schema<F>): ParquetNode[] {
  return schema.columns.map((c) => node(c.name, c.def));
}

function logicalText(n: ParquetNode): string {
  const l = n.logicalType;
  if (!l) return '';
  switch (l.type) {
    case 'TIMESTAMP':
      return ` (TIMESTAMP(${l.unit},${l.isAdjustedToUTC}))`;
    case 'DECIMAL':
      return ` (DECIMAL(${l.precision},${l.scale}))`;
    case 'INTEGER':
      return ` (INTEGER(${l.bitWidth},${l.isSigned}))`;
    default:
      return ` (${l.type})`;
  }
}

function nodeText(n: ParquetNode, indent: string): string {
  const repetition = n.repetition.toLowerCase();
  if (n.children) {
    const inner = n.children.map((c) => nodeText(c, `${indent}  `)).join('\n');
    return `${indent}${repetition} group ${n.name}${logicalText(n)} {\n${inner}\n${indent}}`;
  }
  const physical = n.physicalType === 'BYTE_ARRAY' ? 'binary' : (n.physicalType as string).toLowerCase();
  const type = n.physicalType === 'FIXED_LEN_BYTE_ARRAY' ? `${physical}(${n.typeLength})` : physical;
  return `${indent}${repetition} ${type} ${n.name}${logicalText(n)};`;
}

/**
 * The schema in the text form parquet-mr and `parquet-tools schema` print, for reading and diffing.
 *
 * @example
 * ```ts
 * toParquetMessage(readingSchema, 'reading');
 * // message reading {
 * //   required binary id (STRING);
 * //   required int64 at (TIMESTAMP(MILLIS,true));
 * // }
 * ```
 */
export function toParquetMessage<F extends Fields>(schema: Schema<F>, name = 'schema'): string {
  const body = toParquetSchema(schema)
    .map((n) => nodeText(n, '  '))
    .join('\n');
  return `message ${name} {\n${body}\n}`;
}
