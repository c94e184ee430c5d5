// A fleet's options: checked once, with the sensors, their types and schedule they describe.
import { type Clock, type EventListener, optionChecks, systemClock } from '@tributary/core';
import { type AnomalyOptions, type ResolvedAnomalies, resolveAnomalies } from './anomalies.js';
import { UnknownSensorTypeError } from './errors.js';
import { defaultSensorTypes } from './models.js';
import { SensorTypeRegistry } from './registry.js';
import type { SensorType } from './sensor-type.js';

const MAX_SENSORS = 1_000_000;

/**
 * The time source of a fleet in real-time mode.
 *
 * @deprecated Use core's {@link Clock}; this is the same type.
 *
 * @example
 * ```ts
 * const clock: FleetClock = systemClock;
 * ```
 */
export type FleetClock = Clock;

export interface FleetOptions {
  /** The sensor types to simulate: a list or a registry (every type it holds). Default: the three built-ins. */
  types?: Iterable<SensorType>;
  /**
   * Sensors of each type: one number for all (default 5), or a count per type name; with a map,
   * a type it does not name gets no sensor.
   */
  sensorsPerType?: number | Readonly<Record<string, number>>;
  /** Records per second for the whole fleet, in event time; each sensor reads every `sensors / rate` seconds. */
  ratePerSecond: number;
  /** Same seed, same options → the same records, byte for byte. */
  seed: number | string;
  /**
   * Event time of the schedule's start. Default: now in real-time mode; in simulated mode, the
   * last local midnight (see `utcOffsetMinutes`). A start in the past is caught up as fast as the
   * consumer pulls, then paced.
   */
  start?: Date | number;
  /** Stop at this much event time after `start`. */
  durationMs?: number;
  /** Stop after emitting this many records. Simulated mode with neither limit runs one day. */
  records?: number;
  /** Emit event time as fast as the consumer pulls instead of pacing to the clock. Default false. */
  simulated?: boolean;
  /** Each reading moves from its slot by up to ± `jitter / 2` of a sensor's interval, in [0, 1). Default 0.1. */
  jitter?: number;
  /** Offset of the sensors' local time from UTC, for daily cycles. Default 0. */
  utcOffsetMinutes?: number;
  anomalies?: AnomalyOptions;
  /** Default: `Date.now` and the global timers. */
  clock?: Clock;
  /** Aborting it ends the iteration: the pending `next()` rejects with `signal.reason`. */
  signal?: AbortSignal;
  onEvent?: EventListener;
  /** The `source` of events. Default `fleet`. */
  source?: string;
}

/** One sensor of a fleet. */
export interface FleetSensor {
  /** `<type>-<number>`, numbered from 001 per type: `temperature-003`. */
  readonly sensorId: string;
  readonly type: string;
  readonly unit: string;
  /** Event time between two readings of this sensor. */
  readonly intervalMs: number;
}

/** What a fleet's latest run has done. */
export interface FleetStats {
  /** Records emitted. */
  emitted: number;
  /** Emitted records that are injected spikes. */
  spikes: number;
  /** Emitted records that repeat a stuck sensor's value. */
  stuck: number;
  /** Readings skipped by dropouts (their sequence numbers are never emitted). */
  dropped: number;
}

/** A fleet's options once checked, with what a run derives from them. */
export interface Resolved {
  readonly sensors: readonly FleetSensor[];
  readonly types: readonly SensorType[];
  readonly typeOf: readonly number[];
  readonly indexInType: readonly number[];
  readonly intervalMs: number;
  readonly seed: string;
  readonly start: number | undefined;
  readonly durationMs: number | undefined;
  readonly records: number | undefined;
  readonly simulated: boolean;
  readonly jitter: number;
  readonly offsetMs: number;
  readonly anomalies: ResolvedAnomalies | undefined;
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  readonly onEvent: EventListener | undefined;
  readonly source: string;
}

const check = optionChecks('Fleet', 'FLEET_OPTIONS_INVALID');
const invalid = check.invalid;

function optionalNumber(option: string, value: unknown, ok: (n: number) => boolean, expected: string) {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !ok(value)) throw invalid(option, value, expected);
  return value;
}

function sensorCount(option: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_SENSORS) {
    throw invalid(option, value, `a whole number from 0 to ${MAX_SENSORS}`);
  }
  return value as number;
}

/** Check a fleet's options (they may come from plain JavaScript or config) and derive its sensors. */
export function resolve(options: FleetOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object');
  const { types: typesOption = defaultSensorTypes(), sensorsPerType = 5 } = options;
  if (typeof typesOption !== 'object' || typesOption === null || !(Symbol.iterator in typesOption)) {
    throw invalid('types', typesOption, 'a list or registry of sensor types');
  }
  // The registry checks each type and rejects duplicate names.
  const registry = new SensorTypeRegistry(typesOption);
  const types = registry.list();
  if (types.length === 0) throw invalid('types', typesOption, 'at least one sensor type');

  let counts: number[];
  if (typeof sensorsPerType === 'number') {
    const n = sensorCount('sensorsPerType', sensorsPerType);
    counts = types.map(() => n);
  } else if (typeof sensorsPerType === 'object' && sensorsPerType !== null) {
    for (const name of Object.keys(sensorsPerType)) {
      if (!registry.has(name))
        throw new UnknownSensorTypeError(
          name,
          types.map((t) => t.name),
        );
    }
    counts = types.map((t) =>
      Object.hasOwn(sensorsPerType, t.name)
        ? sensorCount(`sensorsPerType.${t.name}`, sensorsPerType[t.name])
        : 0,
    );
  } else {
    throw invalid('sensorsPerType', sensorsPerType, 'a number or { [type]: number }');
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || total > MAX_SENSORS) {
    throw invalid('sensorsPerType', sensorsPerType, `from 1 to ${MAX_SENSORS} sensors in all`);
  }

  const { ratePerSecond, seed } = options;
  if (typeof ratePerSecond !== 'number' || !Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
    throw invalid('ratePerSecond', ratePerSecond, 'a positive number');
  }
  if (typeof seed === 'number' ? !Number.isFinite(seed) : typeof seed !== 'string') {
    throw invalid('seed', seed, 'a finite number or a string');
  }
  const intervalMs = (total * 1000) / ratePerSecond;

  let start: number | undefined;
  if (options.start instanceof Date) start = options.start.getTime();
  else if (typeof options.start === 'number') start = options.start;
  else if (options.start !== undefined) throw invalid('start', options.start, 'a Date or epoch milliseconds');
  if (start !== undefined && !(Number.isFinite(start) && Math.abs(start) <= 8.64e15)) {
    throw invalid('start', options.start, 'a valid time');
  }
  if (start !== undefined) start = Math.floor(start);

  const durationMs = optionalNumber(
    'durationMs',
    options.durationMs,
    (n) => n > 0 && n <= 8.64e15,
    'a positive number',
  );
  const records = optionalNumber(
    'records',
    options.records,
    (n) => Number.isSafeInteger(n) && n >= 0,
    'a whole number ≥ 0',
  );
  const jitter =
    optionalNumber('jitter', options.jitter, (n) => n >= 0 && n < 1, 'a number in [0, 1)') ?? 0.1;
  const offsetMinutes =
    optionalNumber(
      'utcOffsetMinutes',
      options.utcOffsetMinutes,
      (n) => Number.isFinite(n) && Math.abs(n) <= 14 * 60,
      'minutes within ±14 h',
    ) ?? 0;
  if (options.simulated !== undefined && typeof options.simulated !== 'boolean') {
    throw invalid('simulated', options.simulated, 'a boolean');
  }
  const clock = options.clock === undefined ? systemClock : check.clock('clock', options.clock);
  const { signal, onEvent } = options;
  if (
    signal !== undefined &&
    (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')
  ) {
    throw invalid('signal', signal, 'an AbortSignal');
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') throw invalid('onEvent', onEvent, 'a function');
  if (options.source !== undefined && typeof options.source !== 'string') {
    throw invalid('source', options.source, 'a string');
  }

  const sensors: FleetSensor[] = [];
  const typeOf: number[] = [];
  const indexInType: number[] = [];
  // Three digits, so that temperature-003 stays temperature-003 whatever the fleet's size up to 999.
  const width = Math.max(3, String(Math.max(...counts)).length);
  types.forEach((type, t) => {
    for (let i = 0; i < (counts[t] as number); i++) {
      sensors.push(
        Object.freeze({
          sensorId: `${type.name}-${String(i + 1).padStart(width, '0')}`,
          type: type.name,
          unit: type.unit,
          intervalMs,
        }),
      );
      typeOf.push(t);
      indexInType.push(i);
    }
  });

  return Object.freeze({
    sensors: Object.freeze(sensors),
    types: Object.freeze(types),
    typeOf: Object.freeze(typeOf),
    indexInType: Object.freeze(indexInType),
    intervalMs,
    seed: String(seed),
    start,
    durationMs,
    records,
    simulated: options.simulated ?? false,
    jitter,
    offsetMs: offsetMinutes * 60_000,
    anomalies: resolveAnomalies(options.anomalies, invalid),
    clock,
    signal,
    onEvent,
    source: options.source ?? 'fleet',
  });
}
