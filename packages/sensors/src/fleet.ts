import {
  type Clock,
  describeValue,
  type EventListener,
  emitSafely,
  optionChecks,
  sleep,
  systemClock,
} from '@tributary/core';
import {
  AnomalyInjector,
  type AnomalyOptions,
  type ResolvedAnomalies,
  resolveAnomalies,
} from './anomalies.js';
import { FleetError, UnknownSensorTypeError } from './errors.js';
import { defaultSensorTypes } from './models.js';
import { Prng } from './prng.js';
import { type SensorRecord, sensorRecordId } from './record.js';
import { SensorTypeRegistry } from './registry.js';
import type { SensorType } from './sensor-type.js';

export { FleetError };

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** A `records.out` event per this many records (and one for the rest when a run ends). */
const EVENT_EVERY = 1_000;
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

interface Resolved {
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

function resolve(options: FleetOptions): Resolved {
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

/** One sensor while a run goes: its streams, model state and schedule. */
interface SensorRun {
  readonly info: FleetSensor;
  readonly type: SensorType;
  readonly schedule: Prng;
  readonly prng: Prng;
  readonly state: unknown;
  readonly anomalies: AnomalyInjector | undefined;
  /** Where in its interval the sensor's slot is, before jitter: [jitter/2, 1 - jitter/2]. */
  readonly phase: number;
  sequence: number;
  nextTime: number;
  previousTime: number | undefined;
}

/** Min-heap of sensor positions by (next reading time, position): event-time order, deterministic ties. */
class ScheduleHeap {
  readonly #items: number[] = [];
  readonly #runs: readonly SensorRun[];

  constructor(runs: readonly SensorRun[]) {
    this.#runs = runs;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): number | undefined {
    return this.#items[0];
  }

  #less(a: number, b: number): boolean {
    const ta = (this.#runs[a] as SensorRun).nextTime;
    const tb = (this.#runs[b] as SensorRun).nextTime;
    return ta < tb || (ta === tb && a < b);
  }

  push(item: number): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(items[i] as number, items[parent] as number)) break;
      [items[i], items[parent]] = [items[parent] as number, items[i] as number];
      i = parent;
    }
  }

  /** Re-sorts after the top item's time moved later. */
  siftDownTop(): void {
    const items = this.#items;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.#less(items[left] as number, items[smallest] as number))
        smallest = left;
      if (right < items.length && this.#less(items[right] as number, items[smallest] as number))
        smallest = right;
      if (smallest === i) return;
      [items[i], items[smallest]] = [items[smallest] as number, items[i] as number];
      i = smallest;
    }
  }

  pop(): void {
    const items = this.#items;
    const last = items.pop() as number;
    if (items.length === 0) return;
    items[0] = last;
    this.siftDownTop();
  }
}

function defaultStart(r: Resolved): number {
  const now = Math.floor(r.clock.now());
  if (!r.simulated) return now;
  // The last local midnight, so that a simulated day is a whole local day.
  return now - ((((now + r.offsetMs) % DAY_MS) + DAY_MS) % DAY_MS);
}

function round(value: number, decimals: number | undefined): number {
  if (decimals === undefined) return value;
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/**
 * Every record of one run, in event-time order, computed as they are pulled. Real-time pacing is
 * layered on top by the fleet; `generateRecords` uses it as is.
 */
function* generate(r: Resolved, stats: FleetStats): Generator<SensorRecord> {
  const start = r.start ?? defaultStart(r);
  const duration = r.durationMs ?? (r.simulated && r.records === undefined ? DAY_MS : undefined);
  const end = duration === undefined ? Number.POSITIVE_INFINITY : start + duration;
  const limit = r.records ?? Number.POSITIVE_INFINITY;
  const root = new Prng(r.seed);
  const half = r.jitter / 2;
  const interval = r.intervalMs;

  // Streams are forked by sensor id only, so a sensor's values do not depend on the other sensors.
  const runs: SensorRun[] = r.sensors.map((info, i) => {
    const type = r.types[r.typeOf[i] as number] as SensorType;
    const sensor = root.fork(`sensor/${info.sensorId}`);
    const schedule = sensor.fork('schedule');
    const prng = sensor.fork('model');
    let state: unknown;
    try {
      state = type.model.init({ sensorId: info.sensorId, index: r.indexInType[i] as number, prng });
    } catch (error) {
      throw modelError(info, 'init', error);
    }
    const anomalies =
      r.anomalies === undefined
        ? undefined
        : new AnomalyInjector(r.anomalies, sensor.fork('anomalies'), type.range);
    const phase = half + schedule.next() * (1 - 2 * half);
    return {
      info,
      type,
      schedule,
      prng,
      state,
      anomalies,
      phase,
      sequence: 0,
      nextTime: 0,
      previousTime: undefined,
    };
  });
  const timeOf = (run: SensorRun): number =>
    Math.floor(start + (run.sequence + run.phase + run.schedule.uniform(-half, half)) * interval);

  const heap = new ScheduleHeap(runs);
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i] as SensorRun;
    run.nextTime = timeOf(run);
    if (run.nextTime < end) heap.push(i);
  }

  let unreported = 0;
  try {
    while (stats.emitted < limit && heap.size > 0) {
      if (r.signal?.aborted) throw r.signal.reason;
      const i = heap.peek() as number;
      const run = runs[i] as SensorRun;
      const time = run.nextTime;
      const sequence = run.sequence;
      const elapsedMs = run.previousTime === undefined ? 0 : time - run.previousTime;
      const local = (((time + r.offsetMs) % DAY_MS) + DAY_MS) % DAY_MS;

      let value: number;
      try {
        value = run.type.model.sample({
          state: run.state,
          time,
          elapsedMs,
          hourOfDay: local / HOUR_MS,
          sequence,
          sensorId: run.info.sensorId,
          prng: run.prng,
        });
      } catch (error) {
        throw modelError(run.info, 'sample', error);
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw modelError(run.info, 'sample', undefined, value);
      }
      value = round(value, run.type.decimals);

      // The sensor still measured during a dropout: only the transmission is lost, so the model's
      // state (and every later value) is the same with anomalies on or off.
      let emit = true;
      if (run.anomalies !== undefined) {
        const kind = run.anomalies.apply(value);
        if (kind === 'dropout') {
          emit = false;
          stats.dropped += 1;
        } else {
          value = kind === 'spike' ? round(run.anomalies.value, run.type.decimals) : run.anomalies.value;
          if (kind === 'spike') stats.spikes += 1;
          else if (kind === 'stuck') stats.stuck += 1;
        }
      }

      run.previousTime = time;
      run.sequence = sequence + 1;
      run.nextTime = timeOf(run);
      if (run.nextTime < end) heap.siftDownTop();
      else heap.pop();

      if (!emit) continue;
      stats.emitted += 1;
      unreported += 1;
      if (unreported >= EVENT_EVERY) {
        emitSafely(r.onEvent, {
          type: 'records.out',
          source: r.source,
          count: unreported,
          time: r.clock.now(),
        });
        unreported = 0;
      }
      yield {
        id: sensorRecordId(run.info.sensorId, sequence),
        sensorId: run.info.sensorId,
        type: run.type.name,
        value,
        unit: run.type.unit,
        timestamp: new Date(time),
      };
    }
  } finally {
    if (unreported > 0) {
      emitSafely(r.onEvent, {
        type: 'records.out',
        source: r.source,
        count: unreported,
        time: r.clock.now(),
      });
    }
  }
}

function modelError(
  sensor: FleetSensor,
  step: 'init' | 'sample',
  cause: unknown,
  value?: unknown,
): FleetError {
  const message =
    cause === undefined
      ? `Sensor ${sensor.sensorId}: model.${step} returned ${describeValue(value)}, not a finite number`
      : `Sensor ${sensor.sensorId}: model.${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`;
  return new FleetError(message, {
    code: 'SENSOR_MODEL_FAILED',
    cause,
    context: { sensorId: sensor.sensorId, sensorType: sensor.type },
  });
}

/**
 * A fleet of simulated sensors: N sensors per type, each reading on its own schedule (one
 * reading per `sensors / ratePerSecond` seconds, with jitter) from its own seeded model, merged
 * into one stream of {@link SensorRecord}s in event-time order.
 *
 * It is an async iterable with backpressure: a record is computed only when the consumer pulls
 * it, nothing is buffered. In real-time mode each record is released when the clock reaches its
 * timestamp, which paces the fleet at `ratePerSecond`; a consumer that falls behind gets the
 * late records at once, with their original timestamps. With `simulated: true` event time runs
 * as fast as the consumer pulls (a day of data in seconds). A run ends at `records`, at
 * `durationMs`, when the consumer leaves the loop, or when `signal` aborts (the pending `next()`
 * rejects with `signal.reason`).
 *
 * Each iteration is a new run from the seed: iterating twice gives the same records.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * const producer = new KinesisProducer({ client: new KinesisClient({}), streamName: 'sensors', ...sensorProducerOptions });
 * const fleet = new Fleet({
 *   types: defaultSensorTypes(),
 *   sensorsPerType: 5,
 *   ratePerSecond: 1.5, // 15 sensors, one reading every 10 s each
 *   seed: 42,
 *   start: new Date('2026-11-23T00:00:00Z'),
 *   durationMs: 86_400_000,
 *   simulated: true,
 *   anomalies: { spikeRate: 0.001, stuckRate: 0.0005, dropoutRate: 0.001 },
 * });
 * for await (const record of fleet) await producer.put(record);
 * await producer.close();
 * const { emitted, spikes, stuck, dropped } = fleet.stats;
 * console.log(`${emitted} records (${spikes} spikes, ${stuck} stuck), ${dropped} dropped`);
 * ```
 */
export class Fleet implements AsyncIterable<SensorRecord> {
  readonly #resolved: Resolved;
  #stats: FleetStats = { emitted: 0, spikes: 0, stuck: 0, dropped: 0 };

  constructor(options: FleetOptions) {
    this.#resolved = resolve(options);
  }

  /** The fleet's sensors, in order of type then number. */
  get sensors(): readonly FleetSensor[] {
    return this.#resolved.sensors;
  }

  /** Event time between two readings of one sensor. */
  get intervalMs(): number {
    return this.#resolved.intervalMs;
  }

  /** Whether event time runs as fast as the consumer pulls. */
  get simulated(): boolean {
    return this.#resolved.simulated;
  }

  /** A copy of the counts of the latest run (zeros before the first). */
  get stats(): FleetStats {
    return { ...this.#stats };
  }

  /** Starts a run. `for await (const r of fleet)` calls it. */
  async *run(): AsyncGenerator<SensorRecord, void, undefined> {
    const r = this.#resolved;
    const stats: FleetStats = { emitted: 0, spikes: 0, stuck: 0, dropped: 0 };
    this.#stats = stats;
    const records = generate(r, stats);
    if (r.simulated) {
      yield* records;
      return;
    }
    for (const record of records) {
      const due = record.timestamp.getTime();
      let now = r.clock.now();
      while (now < due) {
        await sleep(due - now, { clock: r.clock, signal: r.signal });
        now = r.clock.now();
      }
      if (r.signal?.aborted) throw r.signal.reason;
      yield record;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<SensorRecord, void, undefined> {
    return this.run();
  }
}

/** Options of {@link generateRecords}: a fleet's, always in simulated mode. */
export type GenerateRecordsOptions = Omit<FleetOptions, 'simulated'>;

/**
 * The records of a fleet in simulated mode, synchronously: the same records as
 * `new Fleet({ ...options, simulated: true })`, for tests and benchmarks.
 *
 * @example
 * ```ts
 * const day = [...generateRecords({ types: builtInSensorTypes, sensorsPerType: 5, ratePerSecond: 1.5, seed: 1 })];
 * day.length; // 129_600
 * ```
 */
export function generateRecords(options: GenerateRecordsOptions): Generator<SensorRecord, void, undefined> {
  const resolved = resolve({ ...options, simulated: true });
  return generate(resolved, { emitted: 0, spikes: 0, stuck: 0, dropped: 0 });
}
