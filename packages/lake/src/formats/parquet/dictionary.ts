// Whether a column chunk is dictionary-encoded, and its dictionary and indexes. The rule is
// hyparquet-writer's (a sample rejects columns that are clearly not worth it; a dictionary is kept
// only when it and its bit-packed indexes at least halve the plain bytes), built straight into an
// Int32Array, with a shortcut for runs of one value, and with -0 kept apart from 0. Text is keyed
// by its UTF-8 bytes, as the column buffer holds it.

/** The physical types a dictionary is considered for. */
export type DictionaryType = 'BYTE_ARRAY' | 'INT32' | 'INT64' | 'DOUBLE';

/** A chunk's dictionary (distinct values, first seen first) and each value's index in it. */
export interface Dictionary {
  /** Numbers for INT32 and DOUBLE, bigints for INT64, each value's UTF-8 bytes for BYTE_ARRAY. */
  readonly values: (number | bigint | Uint8Array)[];
  readonly indexes: Int32Array;
}

/** A BYTE_ARRAY chunk's values: value `i` is `bytes` from `ends[i - 1]` (0 for the first) to `ends[i]`. */
export interface ByteValues {
  readonly bytes: Uint8Array;
  readonly ends: Int32Array;
}

const SAMPLE_SIZE = 1_000;
/** A sample whose distinct values hold more than this share of its bytes rejects the dictionary. */
const SAMPLE_REJECTION_RATIO = 0.9;
// Map keys compare with SameValueZero, which holds -0 and 0 equal: -0 gets a key of its own.
const NEGATIVE_ZERO = Symbol('-0');

function keyOf(value: number | bigint): number | bigint | symbol {
  return value === 0 && Object.is(value, -0) ? NEGATIVE_ZERO : value;
}

/**
 * The share of a sample's bytes that its distinct values hold: SAMPLE_SIZE values spread over the
 * chunk's `count`, weighted by their plain size (`sizeAt`); `isNew(at)` tells whether the value at
 * `at` is the first of its kind in the sample (it is asked once per sampled value, in order).
 */
function sampledShare(count: number, sizeAt: (at: number) => number, isNew: (at: number) => boolean): number {
  const sampleSize = Math.min(count, SAMPLE_SIZE);
  let distinct = 0;
  let total = 0;
  for (let i = 0; i < sampleSize; i++) {
    const at = sampleSize === 1 ? 0 : Math.floor((i * (count - 1)) / (sampleSize - 1));
    const size = sizeAt(at);
    total += size;
    if (isNew(at)) distinct += size;
  }
  return distinct / total;
}

/** Whether a dictionary of `size` values (`dictionaryBytes` plain) and its bit-packed indexes halve `plainBytes`. */
function halves(dictionaryBytes: number, size: number, count: number, plainBytes: number): boolean {
  const indexBytes = Math.ceil((count * Math.ceil(Math.log2(size))) / 8);
  return 2 * (dictionaryBytes + indexBytes) <= plainBytes;
}

/** Where text `i` of `ends` starts. */
function startOf(ends: Int32Array, i: number): number {
  return i === 0 ? 0 : (ends[i - 1] as number);
}

/** Dictionary entry `d` is text `textOf(d)` of `values`: the entries as views of their bytes. */
function textEntries(values: ByteValues, size: number, textOf: (d: number) => number): Uint8Array[] {
  const entries: Uint8Array[] = new Array(size);
  for (let d = 0; d < size; d++) {
    const i = textOf(d);
    entries[d] = values.bytes.subarray(startOf(values.ends, i), values.ends[i] as number);
  }
  return entries;
}

/**
 * The dictionary of a chunk's non-null values, or `undefined` when plain encoding is the better
 * choice: numbers for INT32 and DOUBLE, bigints for INT64, UTF-8 text for BYTE_ARRAY.
 */
export function buildDictionary(
  values: ArrayLike<number | bigint> | ByteValues,
  type: DictionaryType,
): Dictionary | undefined {
  if (type === 'BYTE_ARRAY') return byteDictionary(values as ByteValues);
  return fixedDictionary(values as ArrayLike<number | bigint>, type);
}

function fixedDictionary(
  values: ArrayLike<number | bigint>,
  type: Exclude<DictionaryType, 'BYTE_ARRAY'>,
): Dictionary | undefined {
  const count = values.length;
  if (count === 0) return undefined;
  const width = type === 'INT32' ? 4 : 8;

  const seen = new Set<unknown>();
  const share = sampledShare(
    count,
    () => width,
    (at) => {
      const key = keyOf(values[at] as number | bigint);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    },
  );
  if (share > SAMPLE_REJECTION_RATIO) return undefined;

  if ((type === 'DOUBLE' || type === 'INT64') && ArrayBuffer.isView(values)) {
    return wideDictionary(values as Float64Array | BigInt64Array, share);
  }
  // Fixed-width values: the plain size is known, so a dictionary that has grown too large to pay
  // is given up at once (it only grows).
  const dictionary: (number | bigint)[] = [];
  const indexes = new Int32Array(count);
  const indexOf = new Map<unknown, number>();
  let previous: number | bigint | undefined;
  let previousIndex = -1;
  for (let i = 0; i < count; i++) {
    const value = values[i] as number | bigint;
    // Object.is: -0 is not a run of 0, and NaN is one of NaN.
    if (previousIndex >= 0 && Object.is(value, previous)) {
      indexes[i] = previousIndex;
      continue;
    }
    const key = keyOf(value);
    let index = indexOf.get(key);
    if (index === undefined) {
      index = dictionary.length;
      dictionary.push(value);
      indexOf.set(key, index);
      if (!pays(dictionary.length, count, width)) return undefined;
    }
    indexes[i] = index;
    previous = value;
    previousIndex = index;
  }
  return pays(dictionary.length, count, width) ? { values: dictionary, indexes } : undefined;
}

/** FNV-1a of a value's bytes. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let k = start; k < end; k++) hash = Math.imul(hash ^ (bytes[k] as number), 0x01000193);
  return hash;
}

function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}

/**
 * Distinct byte strings of one chunk, in an open-addressing table (at most half full) of indexes
 * into the dictionary, each entry the position of the value's first occurrence.
 */
class ByteTable {
  size = 0;
  #slots: Int32Array;
  #mask: number;
  /** The value index of each entry's first occurrence. */
  firstAt: Int32Array;
  readonly #values: ByteValues;

  constructor(values: ByteValues, expected: number) {
    this.#values = values;
    this.#mask = 2 ** Math.ceil(Math.log2(expected * 2 + 2)) - 1;
    this.#slots = new Int32Array(this.#mask + 1);
    this.firstAt = new Int32Array(Math.max(16, expected));
  }

  /** The entry of value `i`, added if it is new (then `size` grows). */
  entryOf(i: number): number {
    const { bytes, ends } = this.#values;
    const start = startOf(ends, i);
    const length = (ends[i] as number) - start;
    const slot = this.#find(hashBytes(bytes, start, start + length), start, length);
    const entry = this.#slots[slot] as number;
    if (entry !== 0) return entry - 1;
    if (this.size === this.firstAt.length) {
      const grown = new Int32Array(this.size * 2);
      grown.set(this.firstAt);
      this.firstAt = grown;
    }
    this.firstAt[this.size] = i;
    this.size++;
    if (this.size * 2 > this.#mask) this.#grow();
    else this.#slots[slot] = this.size;
    return this.size - 1;
  }

  #find(hash: number, start: number, length: number): number {
    const { bytes, ends } = this.#values;
    const slots = this.#slots;
    const mask = this.#mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === 0) return slot;
      const first = this.firstAt[entry - 1] as number;
      const firstStart = startOf(ends, first);
      if ((ends[first] as number) - firstStart === length && sameBytes(bytes, firstStart, start, length)) {
        return slot;
      }
    }
  }

  /** Rehash every entry into a table twice as large. */
  #grow(): void {
    const { bytes, ends } = this.#values;
    this.#mask = this.#mask * 2 + 1;
    this.#slots = new Int32Array(this.#mask + 1);
    for (let d = 0; d < this.size; d++) {
      const first = this.firstAt[d] as number;
      const start = startOf(ends, first);
      const end = ends[first] as number;
      this.#slots[this.#find(hashBytes(bytes, start, end), start, end - start)] = d + 1;
    }
  }
}

/** The dictionary of a BYTE_ARRAY chunk, keyed by each value's bytes. */
function byteDictionary(values: ByteValues): Dictionary | undefined {
  const { ends } = values;
  const count = ends.length;
  if (count === 0) return undefined;
  const sizeOf = (i: number) => 4 + (ends[i] as number) - startOf(ends, i);

  const sample = new ByteTable(values, Math.min(count, SAMPLE_SIZE));
  const share = sampledShare(count, sizeOf, (at) => {
    const known = sample.size;
    sample.entryOf(at);
    return sample.size > known;
  });
  if (share > SAMPLE_REJECTION_RATIO) return undefined;

  const table = new ByteTable(values, Math.min(Math.ceil(share * count) + 16, count));
  const indexes = new Int32Array(count);
  let dictionaryBytes = 0;
  for (let i = 0; i < count; i++) {
    const known = table.size;
    indexes[i] = table.entryOf(i);
    if (table.size > known) dictionaryBytes += sizeOf(i);
  }
  if (!halves(dictionaryBytes, table.size, count, (ends[count - 1] as number) + 4 * count)) return undefined;
  return { values: textEntries(values, table.size, (d) => table.firstAt[d] as number), indexes };
}

/** Whether a dictionary of `size` fixed-width values and its indexes halve `count` plain values. */
function pays(size: number, count: number, width: number): boolean {
  return halves(size * width, size, count, count * width);
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
  if (!pays(size, count, 8)) return undefined;
  const dictionary: (number | bigint)[] = new Array(size);
  for (let d = 0; d < size; d++) dictionary[d] = values[firstAt[d] as number] as number | bigint;
  return { values: dictionary, indexes };
}

/**
 * The dictionary of a BYTE_ARRAY chunk buffered coded (each distinct text once, first seen first,
 * and each value's index among them), by the same rule as {@link buildDictionary}, which gives
 * the same dictionary for the same values: the sample, then the halving. `plainBytes` is the
 * chunk's PLAIN size (each value's length prefix and bytes).
 */
export function codedDictionary(
  distinct: ByteValues,
  codes: Int32Array,
  plainBytes: number,
): Dictionary | undefined {
  const count = codes.length;
  if (count === 0) return undefined;
  const { ends } = distinct;
  const sizeOf = (code: number) => 4 + (ends[code] as number) - startOf(ends, code);

  const seen = new Uint8Array(ends.length);
  const share = sampledShare(
    count,
    (at) => sizeOf(codes[at] as number),
    (at) => {
      const code = codes[at] as number;
      if (seen[code] === 1) return false;
      seen[code] = 1;
      return true;
    },
  );
  if (share > SAMPLE_REJECTION_RATIO) return undefined;

  let dictionaryBytes = 0;
  for (let code = 0; code < ends.length; code++) dictionaryBytes += sizeOf(code);
  if (!halves(dictionaryBytes, ends.length, count, plainBytes)) return undefined;
  return { values: textEntries(distinct, ends.length, (code) => code), indexes: codes };
}
