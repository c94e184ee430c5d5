import { describeValue, TributaryError } from '@tributary/core';

const TWO_POW_32 = 4_294_967_296;

/**
 * Four 32-bit words from a string (bryc's cyrb128): enough mixing that seeds differing by one
 * character give unrelated xoshiro states.
 */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1_779_033_703;
  let h2 = 3_144_134_277;
  let h3 = 1_013_904_242;
  let h4 = 2_773_480_762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597_399_067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2_869_860_233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951_274_213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2_716_044_179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597_399_067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2_869_860_233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951_274_213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2_716_044_179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * A small, fast, seeded pseudo-random generator (xoshiro128**): the same seed gives the same
 * sequence on every machine and every run, which is what makes a fleet replayable.
 *
 * `fork(label)` derives an independent generator from this one's seed and the label only — not
 * from how many numbers were drawn — so each sensor gets its own stream and adding a sensor
 * never changes the values of the others. Not for cryptography.
 *
 * @example
 * ```ts
 * const root = new Prng(42);
 * const pump = root.fork('sensor/hydraulic_pressure-001');
 * const setPoint = pump.uniform(150, 210);
 * const noise = pump.normal(0, 0.5);
 * ```
 */
export class Prng {
  /** The text this generator was seeded from; forks append their label to it. */
  readonly seed: string;
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | undefined;

  constructor(seed: number | string) {
    if (typeof seed === 'number' ? !Number.isFinite(seed) : typeof seed !== 'string') {
      throw new TributaryError(
        `A PRNG seed must be a finite number or a string, got ${describeValue(seed)}`,
        {
          code: 'PRNG_INVALID',
        },
      );
    }
    this.seed = String(seed);
    [this.#a, this.#b, this.#c, this.#d] = cyrb128(this.seed);
    // xoshiro's only bad state; cyrb128 practically never yields it, but never is better.
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** A float in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A Gaussian draw (Box–Muller; the second value of each pair is kept for the next call). */
  normal(mean = 0, sd = 1): number {
    let z = this.#spare;
    if (z === undefined) {
      // 1 - next() is in (0, 1], so the log is finite.
      const r = Math.sqrt(-2 * Math.log(1 - this.next()));
      const theta = 2 * Math.PI * this.next();
      z = r * Math.cos(theta);
      this.#spare = r * Math.sin(theta);
    } else {
      this.#spare = undefined;
    }
    return mean + sd * z;
  }

  /** An independent generator for `label`, derived from this generator's seed (not its position). */
  fork(label: string): Prng {
    if (typeof label !== 'string') {
      throw new TributaryError(`A PRNG fork label must be a string, got ${describeValue(label)}`, {
        code: 'PRNG_INVALID',
      });
    }
    // The length prefix keeps fork('a/b') and fork('a').fork('b') apart.
    return new Prng(`${this.seed}|${label.length}:${label}`);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
