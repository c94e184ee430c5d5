import type { Prng } from './prng.js';
import type { SensorRange } from './sensor-type.js';

/** A run length: a fixed number of readings, or drawn uniformly from `[min, max]` for each run. */
export type AnomalyLength = number | { min: number; max: number };

/**
 * Faults injected on top of the models' values, per reading, deterministic from the fleet's seed
 * (each sensor draws them from its own stream, apart from its model's, so turning anomalies on
 * leaves every other reading unchanged). The three rates are exclusive per reading and must add
 * up to at most 1.
 */
export interface AnomalyOptions {
  /** Probability that a reading is a spike: one value far outside the type's range. Default 0. */
  spikeRate?: number;
  /** Probability that the sensor gets stuck at a reading: it repeats its last value for `stuckLength` readings. Default 0. */
  stuckRate?: number;
  /** Default `{ min: 5, max: 20 }`. */
  stuckLength?: AnomalyLength;
  /**
   * Probability that a dropout starts at a reading: `dropoutLength` readings are never emitted,
   * their sequence numbers skipped, so ids stay unique and the gap shows. Default 0.
   */
  dropoutRate?: number;
  /** Default `{ min: 1, max: 5 }`. */
  dropoutLength?: AnomalyLength;
}

/** What happened to one reading. */
export type AnomalyKind = 'none' | 'spike' | 'stuck' | 'dropout';

export interface ResolvedAnomalies {
  readonly spikeRate: number;
  readonly stuckRate: number;
  readonly stuckLength: { readonly min: number; readonly max: number };
  readonly dropoutRate: number;
  readonly dropoutLength: { readonly min: number; readonly max: number };
}

/** Makes the error for an invalid option (the fleet's own error class). */
type Invalid = (option: string, value: unknown, expected: string) => Error;

function rate(invalid: Invalid, option: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw invalid(option, value, 'a number in [0, 1]');
  return value;
}

function length(invalid: Invalid, option: string, value: unknown, fallback: { min: number; max: number }) {
  if (value === undefined) return Object.freeze({ ...fallback });
  const isCount = (n: unknown): n is number =>
    Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 1e6;
  if (isCount(value)) return Object.freeze({ min: value, max: value });
  if (typeof value === 'object' && value !== null) {
    const { min, max } = value as { min?: unknown; max?: unknown };
    if (isCount(min) && isCount(max) && min <= max) return Object.freeze({ min, max });
  }
  throw invalid(option, value, 'a whole number of readings ≥ 1 or { min, max } with min ≤ max');
}

/** Validates anomaly options (errors named `anomalies.<option>`); `undefined` when no anomaly can happen. */
export function resolveAnomalies(
  options: AnomalyOptions | undefined,
  invalid: Invalid,
): ResolvedAnomalies | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw invalid('anomalies', options, 'an object');
  const resolved: ResolvedAnomalies = Object.freeze({
    spikeRate: rate(invalid, 'anomalies.spikeRate', options.spikeRate),
    stuckRate: rate(invalid, 'anomalies.stuckRate', options.stuckRate),
    stuckLength: length(invalid, 'anomalies.stuckLength', options.stuckLength, { min: 5, max: 20 }),
    dropoutRate: rate(invalid, 'anomalies.dropoutRate', options.dropoutRate),
    dropoutLength: length(invalid, 'anomalies.dropoutLength', options.dropoutLength, { min: 1, max: 5 }),
  });
  const total = resolved.spikeRate + resolved.stuckRate + resolved.dropoutRate;
  if (total > 1) throw invalid('anomalies', total, 'rates adding up to at most 1');
  return total === 0 ? undefined : resolved;
}

/** One sensor's fault state: decides, reading by reading, what is emitted. */
export class AnomalyInjector {
  readonly #options: ResolvedAnomalies;
  readonly #prng: Prng;
  readonly #range: SensorRange;
  #stuckLeft = 0;
  #dropLeft = 0;
  #last: number | undefined;
  /** The value to emit for the last `apply` (meaningless after a dropout). */
  value = 0;

  constructor(options: ResolvedAnomalies, prng: Prng, range: SensorRange) {
    this.#options = options;
    this.#prng = prng;
    this.#range = range;
  }

  /** Decides the fate of a reading whose model value is `value`; the value to emit is then in `this.value`. */
  apply(value: number): AnomalyKind {
    if (this.#dropLeft > 0) {
      this.#dropLeft -= 1;
      return 'dropout';
    }
    if (this.#stuckLeft > 0) {
      this.#stuckLeft -= 1;
      this.value = this.#last as number;
      return 'stuck';
    }
    const o = this.#options;
    const u = this.#prng.next();
    if (u < o.dropoutRate) {
      this.#dropLeft = this.#prng.int(o.dropoutLength.min, o.dropoutLength.max) - 1;
      return 'dropout';
    }
    if (u < o.dropoutRate + o.stuckRate) {
      // A sensor cannot freeze before it has said anything.
      if (this.#last !== undefined) {
        this.#stuckLeft = this.#prng.int(o.stuckLength.min, o.stuckLength.max) - 1;
        this.value = this.#last;
        return 'stuck';
      }
    } else if (u < o.dropoutRate + o.stuckRate + o.spikeRate) {
      const { min, max } = this.#range;
      const excess = (max - min) * this.#prng.uniform(0.5, 1.5);
      this.value = this.#prng.next() < 0.5 ? min - excess : max + excess;
      // A spike is a transient glitch: a sensor that freezes afterwards holds its last real value.
      return 'spike';
    }
    this.#last = value;
    this.value = value;
    return 'none';
  }
}
