// Deduplication by id: for each id of a day, the occurrence to keep, in typed arrays: sequence ids
// (`<prefix>:<n>`) as exact (prefix, number) keys in dense chunks, any other id in a hash table.
import { SensorTransformError } from './shared.js';

const SLOT_BYTES = 20;
const MAX_LOAD = 0.7;
/** Sequences per chunk of a sequence id's prefix: a chunk is 2 KiB (time and ordinal + 1 per sequence). */
const CHUNK_BITS = 8;
const CHUNK = 1 << CHUNK_BITS;
/** Bytes a sequence id takes in its chunk. */
const SEQUENCE_BYTES = 8;
/**
 * Chunks are no longer made once they hold more than this many slots and fewer than one in
 * `SPARSE_RATIO` is used (sequences far apart, such as epoch milliseconds): the ids that would
 * need a new chunk go to the hash table, so memory stays within a few bytes of the hash table's
 * per id whatever the ids look like.
 */
const SPARSE_FLOOR = 1 << 20;
const SPARSE_RATIO = 8;
/** Digits of a sequence at most: every number of 15 digits is exact as a double. */
const MAX_SEQUENCE_DIGITS = 15;

let laneA = 0;
let laneB = 0;
let laneC = 0;

/**
 * Three independent 32-bit hashes of a string (two Murmur3-style lanes with different seeds and
 * an FNV-1a lane, each finalized), into laneA/B/C. 96 bits: two distinct ids of a day of a
 * million collide with a probability of about 6e-18.
 */
function hashId(id: string): void {
  let a = 0x9747b28c;
  let b = 0x1b873593;
  let c = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    let k = Math.imul(code, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    a ^= k;
    a = (a << 13) | (a >>> 19);
    a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    b ^= Math.imul(k, 0x85ebca6b);
    b = (b << 17) | (b >>> 15);
    b = (Math.imul(b, 9) + 0x52dce729) | 0;
    c = Math.imul(c ^ code, 0x01000193);
  }
  laneA = fmix(a ^ id.length);
  laneB = fmix(b ^ id.length);
  laneC = fmix(c);
}

function fmix(input: number): number {
  let h = input;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The sequence of the id last split by {@link splitSequenceId}. */
let sequence = 0;

/**
 * Where the sequence of a sequence id starts: `<prefix>:<n>` where `n` is 1 to 15 decimal digits
 * without a leading zero (or `0` itself), so the id and its (prefix, n) determine each other;
 * `n` goes to `sequence`. -1 for any other id.
 */
function splitSequenceId(id: string): number {
  const end = id.length;
  let start = end;
  while (start > 0) {
    const code = id.charCodeAt(start - 1);
    if (code < 48 || code > 57) break;
    start--;
  }
  const digits = end - start;
  if (digits === 0 || digits > MAX_SEQUENCE_DIGITS || start === 0 || id.charCodeAt(start - 1) !== 58) {
    return -1;
  }
  if (digits > 1 && id.charCodeAt(start) === 48) return -1;
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (id.charCodeAt(i) - 48);
  sequence = n;
  return start;
}

/**
 * What offering an occurrence of an id found: `new`, its first occurrence (kept so far);
 * `duplicate`, one at the same or an earlier event time is kept; `earlier`, it is earlier in
 * event time than the occurrence kept so far, which it replaces.
 */
export type IdOffer = 'new' | 'duplicate' | 'earlier';

/**
 * For each id of a day, the occurrence to keep: the smallest (event time, ordinal), where the
 * ordinal numbers the day's records in raw key order, then line order. Each occurrence kept so
 * far is its time as ms into the day and its ordinal + 1 (0: no occurrence). Where they are
 * held depends on the id:
 *
 * - a sequence id, `<prefix>:<n>` as `sensorRecordId` makes them (`n` decimal, no leading zero,
 *   at most 15 digits): exactly, by prefix and `n`, in chunks of 256 consecutive sequences, 8 bytes
 *   each; a fleet's ids of a day are dense, so about 8 bytes an id, and no hashing or probing;
 * - any other id (or a sequence id when chunks are too sparse to pay: sequences far apart): open
 *   addressing over typed arrays, 20 bytes a slot (a 96-bit hash of the id, time, ordinal + 1) at
 *   most 70 % full, instead of ~60 bytes per id for a `Set<string>` (~85 for a `Map`).
 *
 * An id always lands in the same place: chunks are only made before the table turns sparse, and
 * an id whose chunk does not exist then goes to the hash table for good.
 */
export class IdTable {
  #keys: Uint32Array;
  #values: Uint32Array;
  #mask: number;
  #hashed = 0;
  /** Per prefix of sequence ids, its chunks by `n >> CHUNK_BITS`: [time, ordinal + 1] per sequence. */
  readonly #chunks = new Map<string, Map<number, Uint32Array>>();
  #chunkCount = 0;
  #sequenced = 0;
  #sparse = false;
  /** Where the last `#find` put the occurrence: this chunk at `#at`, or the hash slot `#at` when undefined. */
  #chunk: Uint32Array | undefined;
  #at = 0;

  /** @param capacity the hash table's slots to start with, a power of two. */
  constructor(capacity = 1 << 12) {
    this.#keys = new Uint32Array(capacity * 3);
    this.#values = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
  }

  /** Distinct ids offered. */
  get size(): number {
    return this.#hashed + this.#sequenced;
  }

  /** Bytes of the hash table and the chunks. */
  get bytes(): number {
    return (this.#mask + 1) * SLOT_BYTES + this.#chunkCount * CHUNK * SEQUENCE_BYTES;
  }

  /**
   * An occurrence of `id` at `offsetMs` into the day, the `ordinal`-th of the day (ordinals only
   * grow, and `offsetMs` is below 2^32): records it when it is the id's first or an earlier one.
   */
  offer(id: string, offsetMs: number, ordinal: number): IdOffer {
    if (ordinal >= 0xffff_fffe) {
      throw new SensorTransformError('More than 4,294,967,293 records in one day: split the input', {
        code: 'SENSOR_TRANSFORM_FAILED',
      });
    }
    const values = this.#find(id, true);
    const at = this.#at;
    if (values[at + 1] === 0) {
      values[at] = offsetMs;
      values[at + 1] = ordinal + 1;
      if (this.#chunk === undefined) this.#claim();
      else this.#sequenced++;
      return 'new';
    }
    // An earlier event time wins; at equal times the earlier ordinal, which is already there.
    if (offsetMs >= (values[at] as number)) return 'duplicate';
    values[at] = offsetMs;
    values[at + 1] = ordinal + 1;
    return 'earlier';
  }

  /** Whether the `ordinal`-th occurrence of the day is its id's kept one. */
  isKept(id: string, ordinal: number): boolean {
    const values = this.#find(id, false);
    return values[this.#at + 1] === ordinal + 1;
  }

  /**
   * The array and index (`#at`) of `id`'s time and ordinal + 1: in its chunk, made when `create`
   * and the table is not sparse, or in its hash slot (the empty one where it would go when absent).
   */
  #find(id: string, create: boolean): Uint32Array {
    const start = splitSequenceId(id);
    if (start !== -1) {
      const prefix = id.slice(0, start - 1);
      let chunks = this.#chunks.get(prefix);
      const index = Math.floor(sequence / CHUNK);
      let chunk = chunks?.get(index);
      if (chunk === undefined && create && !this.#sparse) {
        if (chunks === undefined) {
          chunks = new Map();
          this.#chunks.set(prefix, chunks);
        }
        chunk = new Uint32Array(CHUNK * 2);
        chunks.set(index, chunk);
        this.#chunkCount++;
        const slots = this.#chunkCount * CHUNK;
        this.#sparse = slots > SPARSE_FLOOR && slots > this.#sequenced * SPARSE_RATIO;
      }
      if (chunk !== undefined) {
        this.#chunk = chunk;
        this.#at = (sequence - index * CHUNK) * 2;
        return chunk;
      }
    }
    this.#chunk = undefined;
    if (create && this.#hashed + 1 > (this.#mask + 1) * MAX_LOAD) this.#grow();
    hashId(id);
    this.#at = this.#slot() * 2;
    return this.#values;
  }

  /** The slot of the id last hashed: its own, or the empty one where it would go. */
  #slot(): number {
    let slot = laneA & this.#mask;
    const keys = this.#keys;
    while (this.#values[slot * 2 + 1] !== 0) {
      if (keys[slot * 3] === laneA && keys[slot * 3 + 1] === laneB && keys[slot * 3 + 2] === laneC) break;
      slot = (slot + 1) & this.#mask;
    }
    return slot;
  }

  /** Writes the id last hashed into the empty slot `#at` found for it. */
  #claim(): void {
    const slot = this.#at / 2;
    this.#keys[slot * 3] = laneA;
    this.#keys[slot * 3 + 1] = laneB;
    this.#keys[slot * 3 + 2] = laneC;
    this.#hashed++;
  }

  #grow(): void {
    const keys = this.#keys;
    const values = this.#values;
    const capacity = (this.#mask + 1) * 2;
    this.#keys = new Uint32Array(capacity * 3);
    this.#values = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
    for (let old = 0; old < values.length / 2; old++) {
      if (values[old * 2 + 1] === 0) continue;
      let slot = (keys[old * 3] as number) & this.#mask;
      while (this.#values[slot * 2 + 1] !== 0) slot = (slot + 1) & this.#mask;
      this.#keys.set(keys.subarray(old * 3, old * 3 + 3), slot * 3);
      this.#values.set(values.subarray(old * 2, old * 2 + 2), slot * 2);
    }
  }
}
