import { describeValue } from '@tributary/core';
import { DuplicateSensorTypeError, SensorTypeError, UnknownSensorTypeError } from './errors.js';
import type { Prng } from './prng.js';

export { DuplicateSensorTypeError, SensorTypeError, UnknownSensorTypeError };

/** The values a sensor type declares as normal. Readings outside it are anomalies (e.g. injected spikes). */
export interface SensorRange {
  readonly min: number;
  readonly max: number;
}

/** What a model knows about a sensor when it draws that sensor's own parameters. */
export interface SensorModelInit {
  /** e.g. `temperature-003`. */
  readonly sensorId: string;
  /** The sensor's position among the sensors of its type, from 0. */
  readonly index: number;
  /** The sensor's own model stream: draw its parameters from it. */
  readonly prng: Prng;
}

/** What a model gets for one reading. */
export interface SensorReading<S> {
  /** What `init` returned for this sensor; the model may update it (drift, pump phase, ...). */
  readonly state: S;
  /** Event time of the reading, epoch milliseconds (UTC). */
  readonly time: number;
  /** Event time since this sensor's previous reading (0 for its first). */
  readonly elapsedMs: number;
  /** Local time of day in fractional hours, [0, 24), from the fleet's `utcOffsetMinutes`. */
  readonly hourOfDay: number;
  /** The reading's sequence number for this sensor, from 0. */
  readonly sequence: number;
  readonly sensorId: string;
  /** The sensor's own model stream (the one `init` drew from), for noise and random events. */
  readonly prng: Prng;
}

/**
 * How a sensor type produces values. `init` draws one sensor's parameters (its state) from that
 * sensor's PRNG; `sample` turns (state, time, PRNG) into a value. Both must be deterministic:
 * all randomness comes from `prng`, never `Math.random` or the wall clock, so runs replay.
 */
export interface SensorModel<S = unknown> {
  init?(sensor: SensorModelInit): S;
  sample(reading: SensorReading<S>): number;
}

/** A model normalized by {@link defineSensorType}: `init` is always present. */
export interface SensorTypeModel<S = unknown> {
  init(sensor: SensorModelInit): S;
  sample(reading: SensorReading<S>): number;
}

/** The argument of {@link defineSensorType}. */
export interface SensorTypeDefinition<S> {
  /** Lower-case letters, digits and `_`, starting with a letter, at most 48 characters (it prefixes sensor ids). */
  name: string;
  /** The unit of every value, at most 32 characters; `'1'` for a dimensionless quantity. */
  unit: string;
  range: { min: number; max: number };
  /** A stateless function of the reading, or `{ init, sample }` for per-sensor parameters and state. */
  model: SensorModel<S> | ((reading: SensorReading<S>) => number);
  description?: string;
  /** Round values to this many decimal places (0–12), like a real sensor's resolution. Default: no rounding. */
  decimals?: number;
}

/** A validated, frozen sensor type, as returned by {@link defineSensorType}. */
export interface SensorType<S = unknown> {
  readonly name: string;
  readonly unit: string;
  readonly range: SensorRange;
  readonly description: string | undefined;
  readonly decimals: number | undefined;
  readonly model: SensorTypeModel<S>;
}

const NAME = /^[a-z][a-z0-9_]*$/;
const MAX_NAME = 48;
const MAX_UNIT = 32;

/**
 * Defines a sensor type — the way users add their own without touching this package. The
 * result is validated and frozen; register it in a {@link SensorTypeRegistry} or pass it to a
 * `Fleet` directly.
 *
 * @example
 * ```ts
 * // RMS vibration of a machine: higher under load, with bearing wear that grows slowly.
 * const vibration = defineSensorType({
 *   name: 'vibration',
 *   unit: 'mm/s',
 *   range: { min: 0, max: 45 },
 *   decimals: 2,
 *   model: {
 *     init: ({ prng }) => ({ idle: prng.uniform(0.3, 0.8), loaded: prng.uniform(2, 6), wear: 0 }),
 *     sample: ({ state, hourOfDay, elapsedMs, prng }) => {
 *       state.wear += (elapsedMs / 3_600_000) * 0.001;
 *       const load = workdayLoad(hourOfDay);
 *       return Math.max(0, state.idle + state.loaded * load + state.wear + prng.normal(0, 0.1));
 *     },
 *   },
 * });
 * ```
 */
export function defineSensorType<S = undefined>(definition: SensorTypeDefinition<S>): SensorType<S> {
  if (typeof definition !== 'object' || definition === null) {
    throw new SensorTypeError(`A sensor type definition must be an object, got ${describeValue(definition)}`);
  }
  const { name, unit, range, model, description, decimals } = definition;
  if (typeof name !== 'string' || !NAME.test(name) || name.length > MAX_NAME) {
    throw new SensorTypeError(
      `A sensor type name must be lower-case letters, digits and _ (starting with a letter, at most ${MAX_NAME}), got ${describeValue(name)}`,
      { sensorType: typeof name === 'string' ? name : undefined },
    );
  }
  const fail = (message: string): never => {
    throw new SensorTypeError(`Sensor type ${name}: ${message}`, { sensorType: name });
  };
  if (typeof unit !== 'string' || unit.length > MAX_UNIT) {
    fail(`unit must be a string of at most ${MAX_UNIT} characters, got ${describeValue(unit)}`);
  }
  if (typeof range !== 'object' || range === null)
    fail(`range must be { min, max }, got ${describeValue(range)}`);
  const { min, max } = range;
  if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max)) {
    fail(
      `range.min and range.max must be finite numbers, got ${describeValue(min)} and ${describeValue(max)}`,
    );
  }
  if (!(min < max)) fail(`range.min (${min}) must be below range.max (${max})`);
  if (description !== undefined && typeof description !== 'string') {
    fail(`description must be a string, got ${describeValue(description)}`);
  }
  if (decimals !== undefined && (!Number.isInteger(decimals) || decimals < 0 || decimals > 12)) {
    fail(`decimals must be an integer from 0 to 12, got ${describeValue(decimals)}`);
  }

  let normalized: SensorTypeModel<S>;
  if (typeof model === 'function') {
    normalized = { init: () => undefined as S, sample: model };
  } else if (typeof model === 'object' && model !== null && typeof model.sample === 'function') {
    if (model.init !== undefined && typeof model.init !== 'function') {
      fail(`model.init must be a function, got ${describeValue(model.init)}`);
    }
    const init = model.init;
    const sample = model.sample;
    normalized = {
      init: init === undefined ? () => undefined as S : (sensor) => init.call(model, sensor),
      sample: (reading) => sample.call(model, reading),
    };
  } else {
    return fail(`model must be a function or { init?, sample }, got ${describeValue(model)}`);
  }

  return Object.freeze({
    name,
    unit,
    range: Object.freeze({ min, max }),
    description,
    decimals,
    model: Object.freeze(normalized),
  });
}

/** Throws unless `value` has the shape of a sensor type (as made by {@link defineSensorType}). */
export function assertSensorType(value: unknown): asserts value is SensorType {
  const type = value as Partial<SensorType> | null;
  const ok =
    typeof type === 'object' &&
    type !== null &&
    typeof type.name === 'string' &&
    typeof type.unit === 'string' &&
    typeof type.range === 'object' &&
    type.range !== null &&
    typeof type.model === 'object' &&
    type.model !== null &&
    typeof type.model.init === 'function' &&
    typeof type.model.sample === 'function';
  if (!ok) {
    throw new SensorTypeError(`Expected a sensor type made by defineSensorType, got ${describeValue(value)}`);
  }
}
