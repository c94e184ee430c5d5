import { decimalToUnscaled, unscaledToDecimal } from '@tributary/core';
import { IcebergError } from './errors.js';
import type { PartitionValue } from './schema.js';

// Iceberg's single-value binary serialization (spec, appendix D), the encoding of a data file's
// lower and upper bounds in a manifest and of a partition summary's bounds in a manifest list.

/**
 * The Iceberg primitive types whose bounds the lake writes: `decimal(P,S)` with its precision and
 * scale, `timestamptz` (and `timestamp`) in microseconds.
 */
export type BoundType =
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'string'
  | `decimal(${number},${number})`
  | `decimal(${number}, ${number})`;

/**
 * A bound's value: `boolean`; `number` for int, date (days since 1970-01-01), float and double;
 * `bigint` for long and timestamps (microseconds since the epoch); `string` for string and for a
 * decimal (its text at the type's scale, `'-12.3400'`, as core's decimals are).
 */
export type BoundValue = boolean | number | bigint | string;

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;

/** Precision and scale of a `decimal(P,S)` type string, or undefined for any other type. */
export function decimalOf(type: string): { precision: number; scale: number } | undefined {
  const m = DECIMAL.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

function invalid(type: string, value: unknown, reason: string): IcebergError {
  return new IcebergError(`cannot serialize ${String(value)} as an Iceberg ${type} bound: ${reason}`, {
    code: 'ICEBERG_UNSUPPORTED',
    context: { type },
  });
}

function unreadable(type: string, length: number): IcebergError {
  return new IcebergError(`a ${type} bound of ${length} bytes is not Iceberg's single-value serialization`, {
    code: 'ICEBERG_METADATA_INVALID',
    context: { type },
  });
}

/** Two's-complement big-endian bytes of an integer, as few as hold it (Java's `BigInteger.toByteArray`). */
export function unscaledToBytes(unscaled: bigint): Uint8Array {
  let length = 1;
  while (unscaled < -(1n << BigInt(8 * length - 1)) || unscaled >= 1n << BigInt(8 * length - 1)) length++;
  return unscaledToFixed(unscaled, length);
}

/** Two's-complement big-endian bytes of an integer in exactly `length` bytes (sign-extended). */
export function unscaledToFixed(unscaled: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = BigInt.asUintN(8 * length, unscaled);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The integer that two's-complement big-endian bytes hold. */
export function bytesToUnscaled(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length === 0 ? 0n : BigInt.asIntN(8 * bytes.length, v);
}

/**
 * Iceberg's single-value serialization of a value of an Iceberg primitive type (spec, appendix D).
 *
 * ```ts
 * toBound('int', 1); // Uint8Array [1, 0, 0, 0]
 * toBound('decimal(9,2)', '-1.28'); // Uint8Array [0x80]
 * ```
 */
export function toBound(type: BoundType | string, value: BoundValue): Uint8Array;
/**
 * A file's lower or upper bound for a column: as {@link toBound}, with a string truncated as
 * `truncate(16)` does ({@link truncateLowerBound}, {@link truncateUpperBound}); `undefined` when a
 * string has no upper bound of 16 code points.
 *
 * ```ts
 * toBound('string', 'temperature-sensor-0042', 'upper'); // UTF-8 of 'temperature-sent'
 * ```
 */
export function toBound(
  type: BoundType | string,
  value: BoundValue,
  bound: 'lower' | 'upper',
): Uint8Array | undefined;
export function toBound(
  type: BoundType | string,
  value: BoundValue,
  bound?: 'lower' | 'upper',
): Uint8Array | undefined {
  if (bound !== undefined && type === 'string' && typeof value === 'string') {
    const truncated = bound === 'lower' ? truncateLowerBound(value) : truncateUpperBound(value);
    return truncated === undefined ? undefined : new TextEncoder().encode(truncated);
  }
  return serialize(type, value);
}

function serialize(type: string, value: BoundValue): Uint8Array {
  const view = (length: number) => {
    const out = new Uint8Array(length);
    return { out, data: new DataView(out.buffer) };
  };
  switch (type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(type, value, 'expected a boolean');
      return Uint8Array.of(value ? 1 : 0);
    case 'int':
    case 'date': {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31)
        throw invalid(type, value, 'expected a 32-bit integer');
      const { out, data } = view(4);
      data.setInt32(0, value, true);
      return out;
    }
    case 'long':
    case 'timestamp':
    case 'timestamptz': {
      if (typeof value !== 'bigint' || BigInt.asIntN(64, value) !== value)
        throw invalid(type, value, 'expected a 64-bit bigint');
      const { out, data } = view(8);
      data.setBigInt64(0, value, true);
      return out;
    }
    case 'float': {
      if (typeof value !== 'number') throw invalid(type, value, 'expected a number');
      const { out, data } = view(4);
      data.setFloat32(0, value, true);
      return out;
    }
    case 'double': {
      if (typeof value !== 'number') throw invalid(type, value, 'expected a number');
      const { out, data } = view(8);
      data.setFloat64(0, value, true);
      return out;
    }
    case 'string':
      if (typeof value !== 'string') throw invalid(type, value, 'expected a string');
      return new TextEncoder().encode(value);
    default: {
      const decimal = decimalOf(type);
      if (!decimal) throw invalid(type, value, 'not a type the lake writes bounds for');
      if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value))
        throw invalid(type, value, 'expected the decimal as text, e.g. "-12.34"');
      return unscaledToBytes(decimalToUnscaled(value, decimal.scale));
    }
  }
}

/**
 * The value a single-value serialization holds (the inverse of {@link toBound}).
 *
 * ```ts
 * fromBound('long', Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0)); // 1n
 * fromBound('decimal(9,2)', Uint8Array.of(0x80)); // '-1.28'
 * ```
 */
export function fromBound(type: BoundType | string, bytes: Uint8Array): BoundValue {
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expect = (length: number) => {
    if (bytes.length !== length) throw unreadable(type, bytes.length);
  };
  switch (type) {
    case 'boolean':
      expect(1);
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      expect(4);
      return data.getInt32(0, true);
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      // Iceberg reads a 4-byte int bound as a long after promotion int → long.
      if (bytes.length === 4) return BigInt(data.getInt32(0, true));
      expect(8);
      return data.getBigInt64(0, true);
    case 'float':
      expect(4);
      return data.getFloat32(0, true);
    case 'double':
      // Likewise a 4-byte float bound after promotion float → double.
      if (bytes.length === 4) return data.getFloat32(0, true);
      expect(8);
      return data.getFloat64(0, true);
    case 'string':
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    default: {
      const decimal = decimalOf(type);
      if (!decimal) throw unreadable(type, bytes.length);
      if (bytes.length === 0) throw unreadable(type, 0);
      return unscaledToDecimal(bytesToUnscaled(bytes), decimal.scale);
    }
  }
}

/** How many code points Iceberg's default metrics mode, `truncate(16)`, keeps of a string bound. */
export const DEFAULT_TRUNCATE_LENGTH = 16;

/**
 * A string lower bound under `truncate(length)`: its first `length` code points (a prefix is never
 * greater than the string).
 *
 * ```ts
 * truncateLowerBound('temperature-sensor-0042'); // 'temperature-sens'
 * ```
 */
export function truncateLowerBound(value: string, length = DEFAULT_TRUNCATE_LENGTH): string {
  const codePoints = Array.from(value);
  return codePoints.length <= length ? value : codePoints.slice(0, length).join('');
}

/**
 * A string upper bound under `truncate(length)`, as Java Iceberg computes it: the string itself when
 * it has at most `length` code points; otherwise its first `length` code points with the last one
 * incremented (dropping trailing code points that cannot be, and skipping the surrogate range), or
 * `undefined` when no such prefix exists (then the file gets no upper bound for that column).
 *
 * ```ts
 * truncateUpperBound('temperature-sensor-0042'); // 'temperature-sent'
 * ```
 */
export function truncateUpperBound(value: string, length = DEFAULT_TRUNCATE_LENGTH): string | undefined {
  const codePoints = Array.from(value);
  if (codePoints.length <= length) return value;
  for (let i = length - 1; i >= 0; i--) {
    const code = (codePoints[i] as string).codePointAt(0) as number;
    if (code === 0x10ffff) continue;
    const next = code === 0xd7ff ? 0xe000 : code + 1;
    return codePoints.slice(0, i).join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/**
 * Iceberg's single-value bytes of a lower or upper bound, strings truncated as the default
 * metrics mode `truncate(16)` does (an upper bound that cannot be truncated is left out).
 */
export function boundBytes(
  type: string,
  value: PartitionValue | undefined,
  side: 'lower' | 'upper',
): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  // Binary values (from other writers' tables) are their own bounds.
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string' && type === 'string') {
    const bound = side === 'lower' ? truncateLowerBound(value) : truncateUpperBound(value);
    return bound === undefined ? undefined : toBound(type, bound);
  }
  return toBound(type, value);
}
