// A text column of one row group, as its UTF-8 bytes. While few of its texts are distinct (a type,
// a sensor name, a currency), each distinct text is held once and every value as its index among
// them ("coded"): a repeated text is neither copied nor, when the chunk is written, hashed again
// to build its dictionary. Past MAX_CODED_TEXTS distinct texts, once more than half the values are
// distinct, or when the first 256 values all differ, the column turns plain: every value's bytes
// one after another. Which form a column is buffered in never changes the bytes written.
import { isWellFormedText } from '@tributary/core';
import { codedDictionary, type Dictionary } from './dictionary.js';
import { Growable } from './growable.js';

/** Text bytes one row group's string column may hold: its value ends are int32 offsets. */
export const MAX_STRING_BYTES = 2 ** 31 - 1;
/** Distinct texts a coded column holds before it turns plain (the map of them costs memory). */
const MAX_CODED_TEXTS = 1 << 16;
/** Values a column takes before a high share of distinct texts turns it plain. */
const CODED_WARM_UP = 4096;
/** Values, every one distinct so far, that turn a column plain at once (an id column). */
const ALL_DISTINCT_GIVE_UP = 256;

let utf8Target: Buffer | undefined;
/** Whether the text {@link appendUtf8} appended last has no UTF-16 unit at or above U+D800. */
let appendedBelowSurrogates = true;

/**
 * Append `text` to `bytes` in UTF-8 (a lone surrogate as U+FFFD's 3 bytes, as `Buffer` writes
 * it) and return the new end. ASCII, most text, is copied unit by unit; the rest goes to `Buffer`.
 */
function appendUtf8(bytes: Growable<Uint8Array>, text: string): number {
  const length = text.length;
  // A UTF-16 unit never takes more than 3 bytes in UTF-8.
  bytes.reserve(length * 3);
  const data = bytes.data;
  const at = bytes.length;
  let i = 0;
  for (; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) break;
    data[at + i] = code;
  }
  if (i === length) {
    appendedBelowSurrogates = true;
    bytes.length = at + length;
    return bytes.length;
  }
  let below = true;
  for (let j = i; j < length; j++) {
    if (text.charCodeAt(j) >= 0xd800) {
      below = false;
      break;
    }
  }
  appendedBelowSurrogates = below;
  if (utf8Target?.buffer !== data.buffer) utf8Target = Buffer.from(data.buffer);
  const written = utf8Target.write(text.slice(i), data.byteOffset + at + i, 'utf8');
  bytes.length = at + i + written;
  return bytes.length;
}

export class TextBuffer {
  /** UTF-8 bytes: of every value, or of each distinct text once (first seen first) while coded. */
  readonly bytes: Growable<Uint8Array>;
  /** Where each text of `bytes` ends. */
  readonly ends: Growable<Int32Array>;
  /** While coded: each value's index among the distinct texts. */
  codes: Growable<Int32Array> | undefined;
  /** While coded: the index of each distinct text, and the texts in index order. */
  #keys: Map<string, number> | undefined;
  #distinct: string[] = [];
  /** Once sealed coded: the chunk's dictionary. */
  #sealed: Dictionary | undefined;
  /** Of the text pushed last: whether it was seen before, and whether it has no unit ≥ U+D800. */
  repeated = false;
  belowSurrogates = true;

  /** `capacity`: values expected (the bytes start at 16 a value). */
  constructor(capacity: number, coded = true) {
    this.bytes = new Growable((n) => new Uint8Array(n), capacity * 16);
    this.ends = new Growable((n) => new Int32Array(n), capacity);
    if (coded) {
      this.codes = new Growable((n) => new Int32Array(n), capacity);
      this.#keys = new Map();
    }
  }

  /** Take the buffers of a text column sent from another thread (coded if `codes` is given). */
  adopt(bytes: Uint8Array, ends: Int32Array, codes: Int32Array | undefined): void {
    this.bytes.data = bytes;
    this.bytes.length = bytes.length;
    this.ends.data = ends;
    this.ends.length = ends.length;
    this.#keys = undefined;
    this.#distinct = [];
    if (!codes) this.codes = undefined;
    else {
      this.codes ??= new Growable((n) => new Int32Array(n), 0);
      this.codes.data = codes;
      this.codes.length = codes.length;
    }
  }

  /** Values held. */
  get count(): number {
    return this.codes ? this.codes.length : this.ends.length;
  }

  /** Texts held in `bytes` (distinct ones while coded). */
  get texts(): number {
    return this.ends.length;
  }

  /** The UTF-8 length of text `i` of `bytes`. */
  lengthOf(i: number): number {
    const ends = this.ends.data;
    return (ends[i] as number) - (i === 0 ? 0 : (ends[i - 1] as number));
  }

  /** Add a value; returns its UTF-8 length and sets `repeated` and `belowSurrogates`. */
  push(text: string): number {
    const keys = this.#keys;
    if (keys) {
      const known = keys.get(text);
      const codes = this.codes as Growable<Int32Array>;
      if (known !== undefined) {
        codes.reserve(1);
        codes.data[codes.length++] = known;
        this.repeated = true;
        return this.lengthOf(known);
      }
      const size = keys.size;
      // Two ill-formed texts (lone surrogates) can have the same UTF-8: such a text turns the
      // column plain, so that a code always stands for distinct bytes.
      const coding =
        size < MAX_CODED_TEXTS &&
        (size < ALL_DISTINCT_GIVE_UP || size < codes.length) &&
        (codes.length < CODED_WARM_UP || size * 2 <= codes.length) &&
        isWellFormedText(text);
      if (coding) {
        const code = keys.size;
        const length = this.#append(text);
        keys.set(text, code);
        this.#distinct.push(text);
        codes.reserve(1);
        codes.data[codes.length++] = code;
        this.repeated = false;
        return length;
      }
      this.#uncode();
    }
    this.repeated = false;
    return this.#append(text);
  }

  #append(text: string): number {
    const start = this.bytes.length;
    const end = appendUtf8(this.bytes, text);
    this.belowSurrogates = appendedBelowSurrogates;
    this.ends.reserve(1);
    this.ends.data[this.ends.length++] = end;
    return end - start;
  }

  /**
   * Undo the pushes of one record: `count` and `texts` as they were before them. A column that
   * turned plain meanwhile holds one text a value, so `count` tells where it stood.
   */
  rollback(count: number, texts: number): void {
    const keys = this.#keys;
    if (this.codes && keys) {
      this.codes.length = count;
      for (let code = texts; code < this.#distinct.length; code++)
        keys.delete(this.#distinct[code] as string);
      this.#distinct.length = texts;
    } else texts = count;
    this.ends.length = texts;
    this.bytes.length = texts === 0 ? 0 : (this.ends.data[texts - 1] as number);
  }

  /**
   * The row group is complete: a coded column keeps its codes only if they make the dictionary
   * the chunk would get anyway (the same rule as for plain text; `plainBytes` is its PLAIN size),
   * and turns plain otherwise.
   */
  seal(plainBytes: number): void {
    if (!this.codes || this.#sealed) return;
    this.#keys = undefined;
    this.#distinct = [];
    this.#sealed = this.dictionary(plainBytes);
    if (!this.#sealed) this.#uncode();
  }

  /** A coded column's dictionary, or undefined when it does not pay (see `codedDictionary`). */
  dictionary(plainBytes: number): Dictionary | undefined {
    if (!this.codes) return undefined;
    if (this.#sealed) return this.#sealed;
    return codedDictionary(
      { bytes: this.bytes.view(), ends: this.ends.view() },
      this.codes.view(),
      plainBytes,
    );
  }

  /** Write every value's bytes one after another, and stop coding. */
  #uncode(): void {
    const codes = this.codes as Growable<Int32Array>;
    const distinctBytes = this.bytes.data;
    const distinctEnds = this.ends.data;
    this.codes = undefined;
    this.#keys = undefined;
    this.#distinct = [];
    const count = codes.length;
    let total = 0;
    for (let i = 0; i < count; i++) total += this.lengthOf(codes.data[i] as number);
    // Exactly what is held: a push that follows grows them by doubling.
    const bytes = new Uint8Array(Math.max(16, total));
    const ends = new Int32Array(Math.max(16, count));
    let at = 0;
    for (let i = 0; i < count; i++) {
      const code = codes.data[i] as number;
      const from = code === 0 ? 0 : (distinctEnds[code - 1] as number);
      const to = distinctEnds[code] as number;
      bytes.set(distinctBytes.subarray(from, to), at);
      at += to - from;
      ends[i] = at;
    }
    this.bytes.data = bytes;
    this.bytes.length = at;
    this.ends.data = ends;
    this.ends.length = count;
  }
}
