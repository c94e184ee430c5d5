import {
  daysFromCivil,
  decimalToUnscaled,
  describeValue,
  isCanonicalDecimal,
  normalizeDecimal,
} from '@tributary/core';
import { unconvertDecimal } from 'hyparquet-writer/src/unconvert.js';
import { ParquetError } from './errors.js';
import { Growable } from './growable.js';
import type { LeafSpec, TimestampUnit } from './schema.js';
import { MAX_STRING_BYTES, TextBuffer } from './text-buffer.js';

/** How the values of a leaf are held until its row group is written: in their physical form. */
export type ValueStore =
  | { type: 'BOOLEAN'; values: Growable<Uint8Array> }
  | { type: 'INT32'; values: Growable<Int32Array> }
  | { type: 'INT64'; values: Growable<BigInt64Array>; unit?: undefined }
  // Timestamps: milliseconds as numbers (no bigint per value), written as int64s of `unit`.
  | { type: 'INT64'; values: Growable<Float64Array>; unit: TimestampUnit }
  | { type: 'DOUBLE'; values: Growable<Float64Array> }
  | { type: 'BYTE_ARRAY'; text: TextBuffer }
  | { type: 'FIXED_LEN_BYTE_ARRAY'; values: Growable<Uint8Array>; width: number };

/** Every store but text's: a growable typed array of values. */
type NumericStore = Exclude<ValueStore, { type: 'BYTE_ARRAY' }>;

const DAY_MS = 86_400_000;

function dateToDays(value: unknown): number {
  if (value instanceof Date) return Math.floor(value.getTime() / DAY_MS);
  if (typeof value !== 'string' || value.length !== 10 || value[4] !== '-' || value[7] !== '-')
    return Number.NaN;
  return daysFromCivil(Number(value.slice(0, 4)), Number(value.slice(5, 7)), Number(value.slice(8, 10)));
}

// UTF-16 code units sort surrogates (U+10000 and up) below U+E000-U+FFFF; lifting them above gives
// code point order, which is UTF-8 byte order: the order Parquet's BYTE_ARRAY statistics use.
function codeUnitRank(unit: number): number {
  return unit < 0xd800 ? unit : unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Compare strings as their UTF-8 bytes compare. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

type Stat = number | bigint | string | boolean;

/**
 * The buffered part of one leaf column for the current row group: definition and repetition
 * levels (computed as records arrive; the schema's nesting is at most a LIST of required
 * primitives) and the non-null values in their physical form, with min/max/null count.
 */
export class LeafBuffer {
  readonly spec: LeafSpec;
  readonly store: ValueStore;
  readonly definitionLevels: Growable<Uint8Array> | undefined;
  readonly repetitionLevels: Growable<Uint8Array> | undefined;
  /** Level slots (values including nulls and empty lists). */
  slots = 0;
  nullCount = 0;
  /** The plain-encoded size of the buffered values: what the row group limit counts. */
  bytes = 0;
  min: Stat | undefined;
  max: Stat | undefined;

  constructor(spec: LeafSpec, capacity: number) {
    this.spec = spec;
    if (spec.maxDefinitionLevel > 0) this.definitionLevels = new Growable((n) => new Uint8Array(n), capacity);
    if (spec.maxRepetitionLevel > 0) this.repetitionLevels = new Growable((n) => new Uint8Array(n), capacity);
    const type = spec.element.type;
    switch (type) {
      case 'BOOLEAN':
        this.store = { type, values: new Growable((n) => new Uint8Array(n), capacity) };
        break;
      case 'INT32':
        this.store = { type, values: new Growable((n) => new Int32Array(n), capacity) };
        break;
      case 'INT64':
        this.store =
          spec.kind === 'timestamp'
            ? { type, values: new Growable((n) => new Float64Array(n), capacity), unit: spec.timestampUnit }
            : { type, values: new Growable((n) => new BigInt64Array(n), capacity) };
        break;
      case 'DOUBLE':
        this.store = { type, values: new Growable((n) => new Float64Array(n), capacity) };
        break;
      case 'BYTE_ARRAY':
        this.store = { type, text: new TextBuffer(capacity) };
        break;
      case 'FIXED_LEN_BYTE_ARRAY': {
        const width = spec.element.type_length as number;
        this.store = { type, width, values: new Growable((n) => new Uint8Array(n), capacity * width) };
        break;
      }
      default:
        throw new ParquetError(`unsupported physical type ${type} for column ${spec.name}`, {
          code: 'PARQUET_WRITE_FAILED',
          context: { column: spec.name },
        });
    }
  }

  /** Values held (non-null slots). */
  get valueCount(): number {
    const s = this.store;
    return s.type === 'BYTE_ARRAY'
      ? s.text.count
      : s.type === 'FIXED_LEN_BYTE_ARRAY'
        ? s.values.length / s.width
        : s.values.length;
  }

  #level(definition: number, repetition: number): void {
    const d = this.definitionLevels;
    if (d) {
      d.reserve(1);
      d.data[d.length++] = definition;
    }
    const r = this.repetitionLevels;
    if (r) {
      r.reserve(1);
      r.data[r.length++] = repetition;
    }
    this.slots++;
  }

  // State before the current record, so that a record rejected by a later column can be undone
  // here too (plain fields: no allocation per record).
  #markSlots = 0;
  #markValues = 0;
  #markBytes = 0;
  #markNulls = 0;
  #markMin: Stat | undefined;
  #markMax: Stat | undefined;
  #markTexts = 0;

  /**
   * The row group is complete: a timestamp column's statistics, kept in milliseconds while
   * buffering, become int64s of its unit (as its values are written), and a coded text column
   * keeps its codes only where they are the chunk's dictionary. Idempotent.
   */
  seal(): void {
    const s = this.store;
    if (s.type === 'BYTE_ARRAY') s.text.seal(this.bytes);
    if (s.type !== 'INT64' || s.unit === undefined) return;
    if (typeof this.min === 'number') this.min = timestampInt64(this.min, s.unit);
    if (typeof this.max === 'number') this.max = timestampInt64(this.max, s.unit);
  }

  /** Undo the last `push()`, which failed here or in another column of the same record. */
  rollback(): void {
    this.slots = this.#markSlots;
    if (this.definitionLevels) this.definitionLevels.length = this.#markSlots;
    if (this.repetitionLevels) this.repetitionLevels.length = this.#markSlots;
    const s = this.store;
    if (s.type === 'BYTE_ARRAY') s.text.rollback(this.#markValues, this.#markTexts);
    else if (s.type === 'FIXED_LEN_BYTE_ARRAY') s.values.length = this.#markValues * s.width;
    else s.values.length = this.#markValues;
    this.bytes = this.#markBytes;
    this.nullCount = this.#markNulls;
    this.min = this.#markMin;
    this.max = this.#markMax;
  }

  /** Add one record's value for this leaf (null, a primitive, or a list of primitives). */
  push(value: unknown): void {
    this.#markSlots = this.slots;
    this.#markValues = this.valueCount;
    this.#markBytes = this.bytes;
    this.#markNulls = this.nullCount;
    this.#markMin = this.min;
    this.#markMax = this.max;
    if (this.store.type === 'BYTE_ARRAY') this.#markTexts = this.store.text.texts;
    const spec = this.spec;
    if (value === null || value === undefined) {
      if (!spec.nullable) {
        throw new ParquetError(`column ${spec.name} is required but the record has no value`, {
          code: 'PARQUET_WRITE_FAILED',
          context: { column: spec.name },
        });
      }
      this.nullCount++;
      this.#level(0, 0);
      return;
    }
    if (!spec.isList) {
      if (this.definitionLevels) this.#level(1, 0);
      else this.slots++;
      this.#value(value);
      return;
    }
    const items = value as readonly unknown[];
    if (items.length === 0) {
      // An empty list is defined up to the (optional) list itself, with no element.
      this.nullCount++;
      this.#level(spec.maxDefinitionLevel - 1, 0);
      return;
    }
    for (let i = 0; i < items.length; i++) {
      this.#level(spec.maxDefinitionLevel, i === 0 ? 0 : 1);
      this.#value(items[i]);
    }
  }

  #stat(value: Stat): void {
    if (this.min === undefined || this.max === undefined) {
      this.min = value;
      this.max = value;
    } else if (value < this.min) this.min = value;
    else if (value > this.max) this.max = value;
  }

  #invalid(value: unknown, expected: string): never {
    throw new ParquetError(`column ${this.spec.name}: expected ${expected}, got ${describeValue(value)}`, {
      code: 'PARQUET_WRITE_FAILED',
      context: { column: this.spec.name },
    });
  }

  // Typed arrays wrap or truncate out-of-range numbers silently, so each value is checked (cheaply)
  // even though records arrive validated by the schema.
  #value(value: unknown): void {
    const spec = this.spec;
    const s = this.store;
    switch (spec.kind) {
      case 'string': {
        if (typeof value !== 'string') this.#invalid(value, 'a string');
        const text = (s as Extract<ValueStore, { type: 'BYTE_ARRAY' }>).text;
        // Counted on the PLAIN size (length prefixes included), which bounds the bytes held in
        // either form of the column.
        if (this.bytes + value.length * 3 > MAX_STRING_BYTES) {
          throw new ParquetError(
            `column ${spec.name}: the row group's text exceeds ${MAX_STRING_BYTES} bytes (lower rowGroupBytes)`,
            { code: 'PARQUET_WRITE_FAILED', context: { column: spec.name } },
          );
        }
        this.bytes += 4 + text.push(value);
        // A text seen before in this row group is within min and max already.
        if (text.repeated) return;
        if (this.min === undefined || this.max === undefined) {
          this.min = value;
          this.max = value;
        } else if (text.belowSurrogates) {
          // No unit of the value is ≥ U+D800: at the first unit where it differs from another
          // string, code-unit order is code-point order, so the engine's comparison is UTF-8 order.
          if (value < (this.min as string)) this.min = value;
          else if (value > (this.max as string)) this.max = value;
        } else if (compareUtf8(value, this.min as string) < 0) this.min = value;
        else if (compareUtf8(value, this.max as string) > 0) this.max = value;
        return;
      }
      case 'boolean': {
        if (typeof value !== 'boolean') this.#invalid(value, 'a boolean');
        const g = (s as NumericStore).values as Growable<Uint8Array>;
        g.reserve(1);
        g.data[g.length++] = value ? 1 : 0;
        this.bytes += 0.125;
        this.#stat(value);
        return;
      }
      case 'int32':
      case 'date': {
        const n = spec.kind === 'date' ? dateToDays(value) : value;
        if (typeof n !== 'number' || (n | 0) !== n) {
          this.#invalid(value, spec.kind === 'date' ? 'a YYYY-MM-DD date' : 'an int32');
        }
        const g = (s as NumericStore).values as Growable<Int32Array>;
        g.reserve(1);
        g.data[g.length++] = n;
        this.bytes += 4;
        this.#stat(n);
        return;
      }
      case 'int64': {
        const n = toInt64(value);
        if (n === undefined) this.#invalid(value, 'an int64');
        const g = (s as NumericStore).values as Growable<BigInt64Array>;
        g.reserve(1);
        g.data[g.length++] = n;
        this.bytes += 8;
        this.#stat(n);
        return;
      }
      case 'timestamp': {
        const ms = timestampMillis(value);
        if (ms === undefined) this.#invalid(value, 'a valid Date');
        const g = (s as NumericStore).values as Growable<Float64Array>;
        g.reserve(1);
        g.data[g.length++] = ms;
        this.bytes += 8;
        // In milliseconds until seal(), which turns them into int64s of the column's unit.
        this.#stat(ms);
        return;
      }
      case 'double': {
        if (typeof value !== 'number') this.#invalid(value, 'a number');
        const g = (s as NumericStore).values as Growable<Float64Array>;
        g.reserve(1);
        g.data[g.length++] = value;
        this.bytes += 8;
        this.#stat(value);
        return;
      }
      case 'decimal': {
        const unscaled = this.#unscaled(value);
        this.#stat(unscaled);
        if (s.type === 'INT32') {
          s.values.reserve(1);
          s.values.data[s.values.length++] = Number(unscaled);
          this.bytes += 4;
        } else if (s.type === 'INT64') {
          s.values.reserve(1);
          s.values.data[s.values.length++] = unscaled;
          this.bytes += 8;
        } else if (s.type === 'FIXED_LEN_BYTE_ARRAY') {
          // Big-endian two's complement of the column's width, as hyparquet-writer encodes it.
          const bytes = unconvertDecimal(spec.element, unscaled) as Uint8Array;
          s.values.reserve(s.width);
          s.values.data.set(bytes, s.values.length);
          s.values.length += s.width;
          this.bytes += s.width;
        }
        return;
      }
    }
  }

  #unscaled(value: unknown): bigint {
    const { precision, scale } = this.spec;
    // Records validated by core hold canonical text (checked by one regex); anything else is
    // normalized the same way core does, which also rejects too many integer digits.
    let text: string | undefined;
    if (typeof value === 'string' && isCanonicalDecimal(value, precision, scale)) text = value;
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      const normalized = normalizeDecimal(value, precision, scale);
      if (typeof normalized === 'string') text = normalized;
    }
    if (text === undefined) this.#invalid(value, `a decimal(${precision},${scale})`);
    return decimalToUnscaled(text, scale);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A timestamp's milliseconds: a Date's time, or a whole number of milliseconds (as a number or
 * bigint) that a double holds exactly; undefined otherwise. -0 is 0.
 */
function timestampMillis(value: unknown): number | undefined {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'bigint' && value >= MIN_SAFE && value <= MAX_SAFE
          ? Number(value)
          : Number.NaN;
  if (!Number.isSafeInteger(ms)) return undefined;
  return ms === 0 ? 0 : ms;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A timestamp of `ms` milliseconds as the int64 a column of `unit` holds. */
export function timestampInt64(ms: number, unit: TimestampUnit): bigint {
  return unit === 'MICROS' ? BigInt(ms) * 1000n : BigInt(ms);
}

function toInt64(value: unknown): bigint | undefined {
  let n: bigint;
  if (typeof value === 'bigint') n = value;
  else if (value instanceof Date || typeof value === 'number') {
    const time = typeof value === 'number' ? value : value.getTime();
    if (!Number.isSafeInteger(time)) return undefined;
    n = BigInt(time);
  } else return undefined;
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}
