import { IcebergError } from './errors.js';

// Snapshot ids are 63-bit: JSON.parse would round them. Integer literals longer than 15 digits
// are read as bigint, and bigints are written as plain JSON numbers.
const BIG = '~tributary-bigint~';
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.\deE])/g;
const MARKED = /"~tributary-bigint~(-?\d+)"/g;

/** Parse Iceberg JSON, keeping long integers exact (as bigint). */
export function parseJson(text: string, what: string): unknown {
  try {
    const marked = text.replace(TOKENS, (token) => (token.startsWith('"') ? token : `"${BIG}${token}"`));
    return JSON.parse(marked, (_key, value) =>
      typeof value === 'string' && value.startsWith(BIG) ? BigInt(value.slice(BIG.length)) : value,
    );
  } catch (err) {
    throw new IcebergError(`${what} is not valid JSON: ${(err as Error).message}`, {
      code: 'ICEBERG_METADATA_INVALID',
      context: { file: what },
      cause: err,
    });
  }
}

/** Write JSON with bigints as JSON numbers (snapshot ids). */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${BIG}${v}` : v)).replace(MARKED, '$1');
}

/** A long read from JSON: a number or a bigint, as bigint. */
export function toLong(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new IcebergError(`expected a long, got ${JSON.stringify(String(value))}`, {
    code: 'ICEBERG_METADATA_INVALID',
  });
}
