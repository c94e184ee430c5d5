// Deduplication by id: for each id of a day, the occurrence to keep, in a hash table over typed arrays.
import { SensorTransformError } from './shared.js';

const SLOT_BYTES = 20;
const MAX_LOAD = 0.7;
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

/**
 * For each id of a day, the occurrence to keep: the smallest (event time, ordinal), where the
 * ordinal numbers the day's records in raw key order, then line order. Open addressing over
 * typed arrays: 20 bytes a slot (a 96-bit id hash, the time as ms into the day, the ordinal + 1)
 * instead of ~60 bytes per id for a `Set<string>` (~85 for a `Map` holding the winner).
 */
export class IdTable {
  #keys: Uint32Array;
  #values: Uint32Array;
  #mask: number;
  size = 0;

  constructor(capacity = 1 << 12) {
    this.#keys = new Uint32Array(capacity * 3);
    this.#values = new Uint32Array(capacity * 2);
    this.#mask = capacity - 1;
  }

  get bytes(): number {
    return (this.#mask + 1) * SLOT_BYTES;
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

  /** An occurrence of `id` at `offsetMs` into the day, the `ordinal`-th of the day (ordinals only grow). */
  offer(id: string, offsetMs: number, ordinal: number): void {
    if (ordinal >= 0xffff_fffe) {
      throw new SensorTransformError('More than 4,294,967,293 records in one day: split the input', {
        code: 'SENSOR_TRANSFORM_FAILED',
      });
    }
    if (this.size + 1 > (this.#mask + 1) * MAX_LOAD) this.#grow();
    hashId(id);
    const slot = this.#slot();
    if (this.#values[slot * 2 + 1] === 0) {
      this.#keys[slot * 3] = laneA;
      this.#keys[slot * 3 + 1] = laneB;
      this.#keys[slot * 3 + 2] = laneC;
      this.#values[slot * 2] = offsetMs;
      this.#values[slot * 2 + 1] = ordinal + 1;
      this.size++;
    } else if (offsetMs < (this.#values[slot * 2] as number)) {
      // An earlier event time wins; at equal times the earlier ordinal, which is already there.
      this.#values[slot * 2] = offsetMs;
      this.#values[slot * 2 + 1] = ordinal + 1;
    }
  }

  isKept(id: string, ordinal: number): boolean {
    hashId(id);
    return this.#values[this.#slot() * 2 + 1] === ordinal + 1;
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
