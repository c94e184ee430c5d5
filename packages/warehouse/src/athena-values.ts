import type { Row as AthenaRow, ColumnInfo } from '@aws-sdk/client-athena';

// Athena returns every value as text (`VarCharValue`) with the column's type in ColumnInfo: these
// turn that text into the values a `Row` holds, the same shapes DuckDbEngine gives.

const INTEGER = /^-?\d+$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const ZONED = /^(.*?)(?: (UTC|Z)| ?([+-]\d{2}):?(\d{2}))$/;

/** The base type of an Athena `ColumnInfo.Type`: `timestamp(3)` → `timestamp`. */
export function baseType(type: string): string {
  return type
    .toLowerCase()
    .replace(/\(.*\)$/, '')
    .trim();
}

/** The column's type as Athena spells it, with decimal precision and scale from ColumnInfo. */
export function columnType(info: ColumnInfo): string {
  const type = (info.Type ?? 'varchar').toLowerCase();
  if (type === 'decimal' && info.Precision !== undefined)
    return `decimal(${info.Precision},${info.Scale ?? 0})`;
  return type;
}

function parseTimestamp(text: string): Date | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction] = m;
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const date = new Date(
    Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), ms),
  );
  // Date.UTC maps years 0–99 to 1900–1999.
  date.setUTCFullYear(Number(y));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function parseZonedTimestamp(text: string): Date | undefined {
  const m = ZONED.exec(text);
  if (!m) return undefined;
  const local = parseTimestamp(m[1] as string);
  if (!local) return undefined;
  if (m[2]) return local;
  const sign = (m[3] as string).startsWith('-') ? -1 : 1;
  const offset = sign * (Math.abs(Number(m[3])) * 60 + Number(m[4]));
  return new Date(local.getTime() - offset * 60_000);
}

/**
 * Athena renders an array as `[a, b, c]` with no quoting, and ColumnInfo says `array` without the
 * element type: elements come back as text (`null` as null). Nested arrays, maps and rows cannot
 * be split reliably, so such values stay the text Athena gave.
 */
function parseArray(text: string): unknown {
  if (!text.startsWith('[') || !text.endsWith(']')) return text;
  const inner = text.slice(1, -1);
  if (inner === '') return [];
  if (/[[\]{}]/.test(inner)) return text;
  return inner.split(', ').map((item) => (item === 'null' ? null : item));
}

/** Thrown by {@link convert} for text that is not a value of the column's type. */
export class ValueError extends Error {}

/** The value of `text` in a column of base type `type` (see {@link baseType}), or a {@link ValueError}. */
export function convert(text: string, type: string): unknown {
  switch (type) {
    case 'varchar':
    case 'char':
    case 'string':
    case 'decimal':
    case 'date':
      return text;
    case 'integer':
    case 'int':
    case 'smallint':
    case 'tinyint':
      if (!INTEGER.test(text)) throw new ValueError();
      return Number(text);
    case 'bigint':
      if (!INTEGER.test(text)) throw new ValueError();
      return BigInt(text);
    case 'double':
    case 'real':
    case 'float': {
      const n = Number(text);
      if (text.trim() === '' || (Number.isNaN(n) && text !== 'NaN')) throw new ValueError();
      return n;
    }
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ValueError();
    case 'timestamp': {
      const date = parseTimestamp(text);
      if (!date) throw new ValueError();
      return date;
    }
    case 'timestamp with time zone':
      return parseZonedTimestamp(text) ?? text;
    case 'array':
      return parseArray(text);
    default:
      // json, map, row, varbinary, time, interval, uuid, ipaddress...: the text Athena gives.
      return text;
  }
}

/**
 * Athena puts the column labels as the first row of a SELECT's first page (not for DDL or
 * SHOW/DESCRIBE), so a row is skipped only when the statement is DML and it repeats every label.
 */
export function isHeader(
  row: AthenaRow | undefined,
  infos: readonly ColumnInfo[],
  statementType: string | undefined,
): boolean {
  if (row === undefined || infos.length === 0) return false;
  if (statementType !== undefined && statementType !== 'DML') return false;
  const data = row.Data ?? [];
  return (
    data.length === infos.length &&
    infos.every((info, i) => data[i]?.VarCharValue === (info.Label ?? info.Name))
  );
}
