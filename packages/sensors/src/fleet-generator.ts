// One run of a fleet: every sensor's next reading kept in a min-heap, so records come out in
// event-time order, each computed from its sensor's seeded model when it is pulled.
import { describeValue, emitSafely } from '@tributary/core';
import { AnomalyInjector } from './anomalies.js';
import { FleetError } from './errors.js';
import type { FleetSensor, FleetStats, Resolved } from './fleet-options.js';
import { Prng } from './prng.js';
import { type SensorRecord, sensorRecordId } from './record.js';
import type { SensorType } from './sensor-type.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** A `records.out` event per this many records (and one for the rest when a run ends). */
const EVENT_EVERY = 1_000;

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
export function* generate(r: Resolved, stats: FleetStats): Generator<SensorRecord> {
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
