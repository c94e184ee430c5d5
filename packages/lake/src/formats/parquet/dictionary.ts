// Whether a column chunk is dictionary-encoded, and its dictionary and indexes. The rule is
// hyparquet-writer's (a sample rejects columns that are clearly not worth it; a dictionary is kept
// only when it and its bit-packed indexes at least halve the plain bytes), built straight into an
// Int32Array, with a shortcut for runs of one value, and with -0 kept apart from 0.

/** The physical types a dictionary is considered for. */
export type DictionaryType = 'BYTE_ARRAY' | 'INT32' | 'INT64' | 'DOUBLE';

/** A chunk's dictionary (distinct values, first seen first) and each value's index in it. */
export interface Dictionary {
  readonly values: (string | number | bigint)[];
  readonly indexes: Int32Array;
}

const SAMPLE_SIZE = 1_000;
/** A sample whose distinct values hold more than this share of its bytes rejects the dictionary. */
const SAMPLE_REJECTION_RATIO = 0.9;
// Map keys compare with SameValueZero, which holds -0 and 0 equal: -0 gets a key of its own.
const NEGATIVE_ZERO = Symbol('-0');

/** The PLAIN size of one value: strings by UTF-16 length, as hyparquet-writer estimates them. */
function plainSize(value: string | number | bigint, type: DictionaryType): number {
  if (type === 'BYTE_ARRAY') return (value as string).length;
  return type === 'INT32' ? 4 : 8;
}

function keyOf(value: string | number | bigint): string | number | bigint | symbol {
  return value === 0 && Object.is(value, -0) ? NEGATIVE_ZERO : value;
}

/**
 * The dictionary of a chunk's non-null values, or `undefined` when plain encoding is the better
 * choice. `values` are strings for BYTE_ARRAY, numbers for INT32 and DOUBLE, bigints for INT64.
 */
export function buildDictionary(
  values: ArrayLike<string | number | bigint>,
  type: DictionaryType,
): Dictionary | undefined {
  const count = values.length;
  if (count === 0) return undefined;
  const prefix = type === 'BYTE_ARRAY' ? 4 : 0;

  // A sample spread over the whole chunk, weighted by bytes.
  const sampleSize = Math.min(count, SAMPLE_SIZE);
  const seen = new Set<unknown>();
  let sampleDistinct = 0;
  let sampleTotal = 0;
  for (let i = 0; i < sampleSize; i++) {
    const at = sampleSize === 1 ? 0 : Math.floor((i * (count - 1)) / (sampleSize - 1));
    const value = values[at] as string | number | bigint;
    const size = plainSize(value, type) + prefix;
    sampleTotal += size;
    const key = keyOf(value);
    if (!seen.has(key)) {
      seen.add(key);
      sampleDistinct += size;
    }
  }
  if (sampleTotal === 0 || sampleDistinct / sampleTotal > SAMPLE_REJECTION_RATIO) return undefined;

  if ((type === 'DOUBLE' || type === 'INT64') && ArrayBuffer.isView(values)) {
    return wideDictionary(values as Float64Array | BigInt64Array, sampleDistinct / sampleTotal);
  }
  // Fixed-width values: the plain size is known, so a dictionary that has grown too large to pay
  // is given up at once (it only grows).
  const width = type === 'INT32' ? 4 : type === 'BYTE_ARRAY' ? 0 : 8;
  const dictionary: (string | number | bigint)[] = [];
  const indexes = new Int32Array(count);
  const indexOf = new Map<unknown, number>();
  let dictionaryBytes = 0;
  let totalBytes = 0;
  let previous: string | number | bigint | undefined;
  let previousIndex = -1;
  for (let i = 0; i < count; i++) {
    const value = values[i] as string | number | bigint;
    // Object.is: -0 is not a run of 0, and NaN is one of NaN.
    if (previousIndex >= 0 && Object.is(value, previous)) {
      indexes[i] = previousIndex;
      totalBytes += type === 'BYTE_ARRAY' ? (value as string).length : 0;
      continue;
    }
    const key = keyOf(value);
    let index = indexOf.get(key);
    if (index === undefined) {
      index = dictionary.length;
      dictionary.push(value);
      indexOf.set(key, index);
      dictionaryBytes += plainSize(value, type);
      if (width > 0 && !pays(dictionary.length, count, width)) return undefined;
    }
    if (type === 'BYTE_ARRAY') totalBytes += (value as string).length;
    indexes[i] = index;
    previous = value;
    previousIndex = index;
  }
  if (type !== 'BYTE_ARRAY') totalBytes = count * (type === 'INT32' ? 4 : 8);

  // The dictionary and its bit-packed indexes must at least halve the plain bytes.
  const bitWidth = Math.ceil(Math.log2(dictionary.length));
  const indexBytes = Math.ceil((count * bitWidth) / 8);
  const plainBytes = totalBytes + count * prefix;
  const dictionaryPlainBytes = dictionaryBytes + dictionary.length * prefix;
  if (2 * (dictionaryPlainBytes + indexBytes) > plainBytes) return undefined;
  return { values: dictionary, indexes };
}

/** Whether a dictionary of `size` fixed-width values and its indexes halve `count` plain values. */
function pays(size: number, count: number, width: number): boolean {
  const indexBytes = Math.ceil((count * Math.ceil(Math.log2(size))) / 8);
  return 2 * (size * width + indexBytes) <= count * width;
}

/**
 * The dictionary of 8-byte values (DOUBLE, INT64) keyed by their bits in an open-addressing table:
 * no number or bigint is boxed per value, and -0 and 0 (different bits) stay apart.
 */
function wideDictionary(values: Float64Array | BigInt64Array, sampleShare: number): Dictionary | undefined {
  const count = values.length;
  const words = new Uint32Array(values.buffer, values.byteOffset, count * 2);
  // Slots hold a dictionary index + 1 (0: empty), at most half full; sized for the distinct values
  // the sample suggests (a dictionary never holds more than half the values and still pays).
  const expected = Math.min(Math.ceil(sampleShare * count) + 16, Math.ceil(count / 2) + 1);
  let mask = 2 ** Math.ceil(Math.log2(expected * 2 + 2)) - 1;
  let slots = new Int32Array(mask + 1);
  let firstAt = new Int32Array(expected);
  let size = 0;
  const indexes = new Int32Array(count);
  const slotOf = (lo: number, hi: number): number => {
    let slot = (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi ^ (lo >>> 16), 0x85ebca77)) & mask;
    for (;;) {
      const entry = slots[slot] as number;
      if (entry === 0) return slot;
      const at = (firstAt[entry - 1] as number) * 2;
      if (words[at] === lo && words[at + 1] === hi) return slot;
      slot = (slot + 1) & mask;
    }
  };
  for (let i = 0; i < count; i++) {
    const lo = words[i * 2] as number;
    const hi = words[i * 2 + 1] as number;
    const slot = slotOf(lo, hi);
    let entry = slots[slot] as number;
    if (entry === 0) {
      if (size === firstAt.length) {
        const grown = new Int32Array(size * 2);
        grown.set(firstAt);
        firstAt = grown;
      }
      firstAt[size] = i;
      size++;
      entry = size;
      if (!pays(size, count, 8)) return undefined;
      if (size * 2 > mask) {
        // Rehash every entry into a table twice as large.
        mask = mask * 2 + 1;
        slots = new Int32Array(mask + 1);
        for (let d = 0; d < size; d++) {
          const at = (firstAt[d] as number) * 2;
          slots[slotOf(words[at] as number, words[at + 1] as number)] = d + 1;
        }
      } else slots[slot] = entry;
    }
    indexes[i] = entry - 1;
  }
  // The dictionary and its bit-packed indexes must at least halve the plain bytes.
  const bitWidth = Math.ceil(Math.log2(size));
  if (2 * (size * 8 + Math.ceil((count * bitWidth) / 8)) > count * 8) return undefined;
  const dictionary: (number | bigint)[] = new Array(size);
  for (let d = 0; d < size; d++) dictionary[d] = values[firstAt[d] as number] as number | bigint;
  return { values: dictionary, indexes };
}
