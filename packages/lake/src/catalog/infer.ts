import {
  type ColumnConflict,
  type ColumnElement,
  type ColumnKind,
  hiveFieldName,
  type TableColumn,
} from './table.js';

/**
 * The type of the values seen so far at one place of the records. Merging two of them gives the
 * narrowest type holding both, or a `conflict` that remembers what was seen.
 */
export type InferredType =
  | { t: 'null' }
  | { t: 'boolean' }
  | { t: 'bigint' }
  | { t: 'double' }
  /**
   * Strings; `date` stays true while every value seen is a `YYYY-MM-DD` date. ISO-8601
   * date-times stay strings: a `timestamp` column over `2026-11-23T10:00:00.000Z` is not read
   * by Athena's JSON SerDes by default (the OpenX SerDe's own parser takes `yyyy-MM-dd
   * HH:mm:ss[.f]`, epoch numbers and `…T…Z` without a fraction; the Hive JSON SerDe
   * `Timestamp.valueOf` text unless `timestamp.formats` is set, which Athena documents for it
   * only), while every JSON SerDe reads any JSON string as `string`. Queries convert it
   * (`from_iso8601_timestamp` in Athena).
   */
  | { t: 'string'; date: boolean }
  | { t: 'array'; element: InferredType }
  | { t: 'struct'; fields: Map<string, InferredType> }
  | { t: 'conflict'; types: string[] };

const NULL: InferredType = { t: 'null' };
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

function isDate(text: string): boolean {
  const m = DATE_TEXT.exec(text);
  if (!m) return false;
  const [, y, mo, d] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  return day.getUTCMonth() === Number(mo) - 1 && day.getUTCDate() === Number(d);
}

/** The type of one JSON value. */
export function typeOfJson(value: unknown): InferredType {
  if (value === null || value === undefined) return NULL;
  switch (typeof value) {
    case 'boolean':
      return { t: 'boolean' };
    case 'number':
      return Number.isInteger(value) ? { t: 'bigint' } : { t: 'double' };
    case 'string':
      return { t: 'string', date: isDate(value) };
    case 'object': {
      if (Array.isArray(value)) {
        let element: InferredType = NULL;
        for (const item of value) element = mergeInferred(element, typeOfJson(item));
        return { t: 'array', element };
      }
      const fields = new Map<string, InferredType>();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) fields.set(k, typeOfJson(v));
      return { t: 'struct', fields };
    }
    default:
      return { t: 'conflict', types: [typeof value] };
  }
}

const INTEGER_TEXT = /^[+-]?\d{1,18}$/;
const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The type of one CSV cell: numbers and booleans when they parse, text otherwise; no dates or timestamps (OpenCSVSerde reads them only as epoch numbers). */
export function typeOfCsvCell(text: string, quoted: boolean): InferredType {
  if (text === '' && !quoted) return NULL;
  if (!quoted || text !== '') {
    if (INTEGER_TEXT.test(text)) return { t: 'bigint' };
    if (NUMBER_TEXT.test(text)) return { t: 'double' };
    if (text === 'true' || text === 'false') return { t: 'boolean' };
  }
  return { t: 'string', date: false };
}

/** The Hive type text of an inferred type (`null` → `string`, Glue's choice for a column with no values). */
export function hiveTypeOfInferred(type: InferredType): string {
  switch (type.t) {
    case 'null':
      return 'string';
    case 'boolean':
    case 'bigint':
    case 'double':
      return type.t;
    case 'string':
      return type.date ? 'date' : 'string';
    case 'array':
      return `array<${hiveTypeOfInferred(type.element)}>`;
    case 'struct':
      return `struct<${[...type.fields].map(([k, v]) => `${hiveFieldName(k)}:${hiveTypeOfInferred(v)}`).join(',')}>`;
    case 'conflict':
      return `conflict(${type.types.join('|')})`;
  }
}

function union(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

function describe(type: InferredType): string[] {
  return type.t === 'conflict' ? type.types : [hiveTypeOfInferred(type)];
}

/** The narrowest type holding values of both types, or a conflict. */
export function mergeInferred(a: InferredType, b: InferredType): InferredType {
  if (a.t === 'null') return b;
  if (b.t === 'null') return a;
  if (a.t === 'conflict' || b.t === 'conflict')
    return { t: 'conflict', types: union(describe(a), describe(b)) };
  if (a.t === 'string' && b.t === 'string') {
    return { t: 'string', date: a.date && b.date };
  }
  if ((a.t === 'bigint' || a.t === 'double') && (b.t === 'bigint' || b.t === 'double')) {
    return a.t === 'double' || b.t === 'double' ? { t: 'double' } : { t: 'bigint' };
  }
  if (a.t === 'boolean' && b.t === 'boolean') return a;
  if (a.t === 'array' && b.t === 'array') return { t: 'array', element: mergeInferred(a.element, b.element) };
  if (a.t === 'struct' && b.t === 'struct') {
    const fields = new Map(a.fields);
    for (const [k, v] of b.fields) fields.set(k, mergeInferred(fields.get(k) ?? NULL, v));
    return { t: 'struct', fields };
  }
  return { t: 'conflict', types: union(describe(a), describe(b)) };
}

/** For CSV: any disagreement between cells means the column is text. */
export function mergeCsv(a: InferredType, b: InferredType): InferredType {
  const merged = mergeInferred(a, b);
  return merged.t === 'conflict' ? { t: 'string', date: false } : merged;
}

/** Every conflict inside a type, with its path below the column (`''`, `.a`, `[]`). */
function conflictsIn(type: InferredType, path: string, out: { path: string; types: string[] }[]): void {
  if (type.t === 'conflict') out.push({ path, types: type.types });
  else if (type.t === 'array') conflictsIn(type.element, `${path}[]`, out);
  else if (type.t === 'struct') for (const [k, v] of type.fields) conflictsIn(v, `${path}.${k}`, out);
}

/** Whether a value was seen at a path below the column in this type. */
function holdsValueAt(type: InferredType | undefined, path: string): boolean {
  if (!type || type.t === 'null') return false;
  if (path === '' || type.t === 'conflict') return true;
  if (path.startsWith('[]')) return type.t === 'array' && holdsValueAt(type.element, path.slice(2));
  if (path.startsWith('.') && type.t === 'struct') {
    const rest = path.slice(1);
    // Field names may hold dots: try the longest known field that prefixes the path.
    for (const [k, v] of type.fields) {
      if (rest === k || rest.startsWith(`${k}.`) || rest.startsWith(`${k}[]`)) {
        if (holdsValueAt(v, rest.slice(k.length))) return true;
      }
    }
  }
  return false;
}

/** What one file says about one column. */
export interface ColumnSample {
  type: InferredType;
  /** Records of the file where the column is missing or null. */
  nulls: number;
}

/** What the sampled records of one file say about its columns. */
export interface FileSample {
  file: string;
  records: number;
  columns: Map<string, ColumnSample>;
}

function kindOf(type: InferredType): ColumnElement {
  switch (type.t) {
    case 'null':
      return { kind: 'string' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'bigint':
      return { kind: 'int64' };
    case 'double':
      return { kind: 'double' };
    case 'string':
      return { kind: type.date ? 'date' : 'string' };
    case 'array':
      return { kind: 'list' };
    case 'struct':
      return { kind: 'struct' };
    case 'conflict':
      return { kind: 'other' as ColumnKind };
  }
}

/**
 * Columns and conflicts from the samples of every file: column order is the order of first
 * appearance; a column is nullable when some record lacks it or holds null; a column with a
 * conflict anywhere inside it is left out of the columns and reported with the files involved.
 */
export function columnsFromSamples(
  order: readonly string[],
  samples: readonly FileSample[],
  merge: (a: InferredType, b: InferredType) => InferredType = mergeInferred,
): { columns: TableColumn[]; conflicts: ColumnConflict[] } {
  const columns: TableColumn[] = [];
  const conflicts: ColumnConflict[] = [];
  for (const name of order) {
    let type: InferredType = NULL;
    let nullable = false;
    for (const sample of samples) {
      const seen = sample.columns.get(name);
      if (!seen) {
        if (sample.records > 0) nullable = true;
        continue;
      }
      type = merge(type, seen.type);
      if (seen.nulls > 0) nullable = true;
    }
    const found: { path: string; types: string[] }[] = [];
    conflictsIn(type, '', found);
    if (found.length > 0) {
      for (const conflict of found) {
        conflicts.push({
          column: `${name}${conflict.path}`,
          types: conflict.types,
          files: samples
            .filter((s) => holdsValueAt(s.columns.get(name)?.type, conflict.path))
            .map((s) => s.file),
        });
      }
      continue;
    }
    const info = kindOf(type);
    const column: TableColumn = {
      name,
      type: hiveTypeOfInferred(type),
      kind: info.kind,
      nullable: nullable || type.t === 'null',
    };
    if (type.t === 'array') column.element = kindOf(type.element);
    columns.push(column);
  }
  return { columns, conflicts };
}
