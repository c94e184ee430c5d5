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
