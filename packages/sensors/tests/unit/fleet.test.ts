import { OptionsError, type TributaryEvent } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { Fleet, type FleetClock, FleetError, type FleetOptions, generateRecords } from '../../src/fleet.js';
import {
  builtInSensorTypes,
  defaultSensorTypes,
  hydraulicPressureSensorType,
  powerFactorSensorType,
  temperatureSensorType,
  workdayLoad,
} from '../../src/models.js';
import { type SensorRecord, sensorRecordSchema } from '../../src/record.js';
import {
  DuplicateSensorTypeError,
  defineSensorType,
  type SensorType,
  UnknownSensorTypeError,
} from '../../src/sensor-type.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = new Date('2026-11-23T00:00:00Z');

/** A value that never repeats and never leaves its range: stuck readings and spikes are unmistakable. */
const ramp = defineSensorType({
  name: 'ramp',
  unit: 'x',
  range: { min: 0, max: 1e9 },
  model: ({ time }) => (time - START.getTime()) / 1000,
});

/** Counts how many readings the fleet has computed. */
function counting(): { type: SensorType; calls: () => number } {
  let calls = 0;
  const type = defineSensorType({
    name: 'counted',
    unit: 'x',
    range: { min: 0, max: 10 },
    model: () => {
      calls++;
      return 1;
    },
  });
  return { type, calls: () => calls };
}

/** A clock whose timers fire at once after moving time forward: hours of pacing in microseconds. */
function virtualClock(
  start: number,
): FleetClock & { slept: number; sleeps: number; advance(ms: number): void } {
  const clock = {
    now: () => now,
    slept: 0,
    sleeps: 0,
    setTimeout(fn: () => void, ms: number) {
      now += ms;
      clock.slept += ms;
      clock.sleeps += 1;
      queueMicrotask(fn);
      return 0;
    },
    clearTimeout() {},
    advance(ms: number) {
      now += ms;
    },
  };
  let now = start;
  return clock;
}

/** A clock whose timers never fire: only an abort can end a wait. */
function frozenClock(now: number): FleetClock & { cleared: number } {
  const clock = {
    cleared: 0,
    now: () => now,
    setTimeout: () => Symbol('timer'),
    clearTimeout() {
      clock.cleared += 1;
    },
  };
  return clock;
}

async function collect(fleet: AsyncIterable<SensorRecord>): Promise<SensorRecord[]> {
  const out: SensorRecord[] = [];
  for await (const record of fleet) out.push(record);
  return out;
}

function bySensor(records: SensorRecord[]): Map<string, SensorRecord[]> {
  const map = new Map<string, SensorRecord[]>();
  for (const record of records) {
    const list = map.get(record.sensorId) ?? [];
    list.push(record);
    map.set(record.sensorId, list);
  }
  return map;
}

const sequenceOf = (record: SensorRecord) => Number(record.id.slice(record.id.lastIndexOf(':') + 1));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const base: FleetOptions = {
  types: builtInSensorTypes,
  sensorsPerType: 5,
  ratePerSecond: 1.5,
  seed: 42,
  start: START,
  simulated: true,
};

describe('Fleet', () => {
  describe('defaults', () => {
    it('simulates the three built-in sensor types when no types are given', () => {
      const records = [...generateRecords({ ratePerSecond: 1.5, seed: 3, records: 300 })];

      expect(new Set(records.map((r) => r.type))).toEqual(
        new Set(['temperature', 'power_factor', 'hydraulic_pressure']),
      );
      expect(new Set(records.map((r) => r.sensorId)).size).toBe(15);
    });
  });

  describe('simulated mode', () => {
    it('emits a whole day: 3 types × 5 sensors at one reading per 10 s = 129,600 valid records', async () => {
      const fleet = new Fleet({ ...base, durationMs: DAY });

      const records = await collect(fleet);

      expect(records).toHaveLength(129_600);
      expect(fleet.intervalMs).toBe(10_000);
      expect(fleet.stats).toEqual({ emitted: 129_600, spikes: 0, stuck: 0, dropped: 0 });
      const invalid = records.filter((r) => !sensorRecordSchema.validate(r).ok);
      expect(invalid).toEqual([]);
      expect(new Set(records.map((r) => r.id)).size).toBe(records.length);

      let outOfOrder = 0;
      for (let i = 1; i < records.length; i++) {
        if ((records[i] as SensorRecord).timestamp < (records[i - 1] as SensorRecord).timestamp) outOfOrder++;
      }
      expect(outOfOrder).toBe(0);
      expect((records[0] as SensorRecord).timestamp.getTime()).toBeGreaterThanOrEqual(START.getTime());
      expect((records.at(-1) as SensorRecord).timestamp.getTime()).toBeLessThan(START.getTime() + DAY);

      const sensors = bySensor(records);
      expect([...sensors.keys()].sort()).toEqual(
        ['hydraulic_pressure', 'power_factor', 'temperature'].flatMap((t) =>
          [1, 2, 3, 4, 5].map((n) => `${t}-00${n}`),
        ),
      );
      for (const [sensorId, list] of sensors) {
        expect(list).toHaveLength(8_640);
        expect(list.map(sequenceOf)).toEqual(list.map((_, i) => i));
        expect(list[0]?.id).toBe(`${sensorId}:0`);
        const gaps = list
          .slice(1)
          .map((r, i) => r.timestamp.getTime() - (list[i] as SensorRecord).timestamp.getTime());
        // Each sensor on its own 10 s interval, moved by up to ± 5 % (jitter 0.1).
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(9_000);
        expect(Math.max(...gaps)).toBeLessThanOrEqual(11_000);
        expect(new Set(gaps).size).toBeGreaterThan(100);
      }
    });

    it('keeps every built-in within its declared range, with realistic daily shapes', () => {
      const records = [...generateRecords({ ...base, ratePerSecond: 15 / 60, durationMs: DAY })];
      const types = new Map(builtInSensorTypes.map((t) => [t.name, t]));

      for (const record of records) {
        const { range, unit } = types.get(record.type) as SensorType;
        if (record.value < range.min || record.value > range.max || record.unit !== unit) {
          throw new Error(`out of range: ${JSON.stringify(record)}`);
        }
      }
      for (const [sensorId, list] of bySensor(records)) {
        const values = list.map((r) => r.value);
        const swing = Math.max(...values) - Math.min(...values);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        if (sensorId.startsWith('temperature')) {
          expect(swing).toBeGreaterThan(5);
          expect(swing).toBeLessThan(19);
        } else if (sensorId.startsWith('hydraulic_pressure')) {
          expect(mean).toBeGreaterThan(148);
          expect(mean).toBeLessThan(212);
        } else {
          const hourOf = (r: SensorRecord) => r.timestamp.getUTCHours();
          const avg = (rs: SensorRecord[]) => rs.reduce((a, r) => a + r.value, 0) / rs.length;
          const night = avg(list.filter((r) => workdayLoad(hourOf(r)) < 0.15));
          const work = avg(list.filter((r) => hourOf(r) >= 9 && hourOf(r) < 16));
          expect(work).toBeLessThan(night - 0.05);
        }
      }
    });

    it('gives the same records as generateRecords, and the same again on a second iteration', async () => {
      const options = { ...base, durationMs: HOUR };
      const fleet = new Fleet(options);

      const first = await collect(fleet);
      const second = await collect(fleet);

      expect(first).toHaveLength(15 * 360);
      expect(second).toEqual(first);
      expect([...generateRecords(options)]).toEqual(first);
    });

    it('starts at the last local midnight and runs one day when given no start and no limit', async () => {
      const now = Date.parse('2026-11-23T15:20:00Z');
      const fleet = new Fleet({
        types: [temperatureSensorType],
        sensorsPerType: 1,
        ratePerSecond: 1 / 600,
        seed: 1,
        simulated: true,
        utcOffsetMinutes: 120,
        clock: virtualClock(now),
      });

      const records = await collect(fleet);

      // Local midnight at UTC+2 is 22:00 UTC the day before.
      const midnight = Date.parse('2026-11-22T22:00:00Z');
      expect(records).toHaveLength(144);
      expect((records[0] as SensorRecord).timestamp.getTime()).toBeGreaterThanOrEqual(midnight);
      expect((records[0] as SensorRecord).timestamp.getTime()).toBeLessThan(midnight + 600_000);
      expect((records.at(-1) as SensorRecord).timestamp.getTime()).toBeLessThan(midnight + DAY);
    });

    it('stops after `records` records', async () => {
      const records = await collect(new Fleet({ ...base, records: 1_001 }));

      expect(records).toHaveLength(1_001);
      expect(await collect(new Fleet({ ...base, records: 0 }))).toEqual([]);
    });
  });

  describe('replay', () => {
    const hour = { ...base, durationMs: HOUR };

    it('gives identical records for the same seed and different values for another', () => {
      const a = [...generateRecords(hour)];
      const b = [...generateRecords(hour)];
      const c = [...generateRecords({ ...hour, seed: 43 })];

      expect(b).toEqual(a);
      expect(c).toHaveLength(a.length);
      const same = c.filter(
        (r, i) => r.value === a[i]?.value && r.timestamp.getTime() === a[i]?.timestamp.getTime(),
      );
      expect(same.length).toBeLessThan(a.length / 100);
    });

    it("does not change a sensor's records when another type or more sensors join the fleet", () => {
      // Same interval per sensor (10 s) in both fleets: 10 sensors at 1/s, then 18 at 1.8/s.
      const small = [
        ...generateRecords({
          ...hour,
          types: [temperatureSensorType, hydraulicPressureSensorType],
          ratePerSecond: 1,
        }),
      ];
      const large = [
        ...generateRecords({
          ...hour,
          types: [powerFactorSensorType, temperatureSensorType, hydraulicPressureSensorType, ramp],
          sensorsPerType: { power_factor: 5, temperature: 7, hydraulic_pressure: 5, ramp: 1 },
          ratePerSecond: 1.8,
        }),
      ];

      const known = new Set(small.map((r) => r.sensorId));
      expect(large.filter((r) => known.has(r.sensorId))).toEqual(small);
      expect(large.some((r) => r.sensorId === 'temperature-007')).toBe(true);
    });

    it('replays anomalies too', () => {
      const options = { ...hour, anomalies: { spikeRate: 0.01, stuckRate: 0.01, dropoutRate: 0.01 } };

      expect([...generateRecords(options)]).toEqual([...generateRecords(options)]);
    });
  });

  describe('anomalies', () => {
    const window = { ...base, durationMs: 8 * HOUR };

    it('injects spikes, stuck runs and dropouts at roughly their rates, leaving other readings untouched', async () => {
      const clean = [...generateRecords(window)];
      const fleet = new Fleet({
        ...window,
        anomalies: { spikeRate: 0.01, stuckRate: 0.004, dropoutRate: 0.005 },
      });

      const records = await collect(fleet);

      const stats = fleet.stats;
      const readings = clean.length;
      expect(stats.emitted).toBe(records.length);
      expect(stats.emitted + stats.dropped).toBe(readings);
      expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
      // Rates per reading, within sampling error (43,200 readings).
      expect(stats.spikes / readings).toBeGreaterThan(0.008);
      expect(stats.spikes / readings).toBeLessThan(0.012);
      // Stuck runs last 5–20 readings (12.5 on average), dropouts 1–5 (3).
      expect(stats.stuck / readings).toBeGreaterThan(0.004 * 12.5 * 0.7);
      expect(stats.stuck / readings).toBeLessThan(0.004 * 12.5 * 1.3);
      expect(stats.dropped / readings).toBeGreaterThan(0.005 * 3 * 0.75);
      expect(stats.dropped / readings).toBeLessThan(0.005 * 3 * 1.25);

      const original = new Map(clean.map((r) => [r.id, r]));
      const ranges = new Map(builtInSensorTypes.map((t) => [t.name, t.range]));
      let spikes = 0;
      let unexplained = 0;
      const lastReal = new Map<string, number>();
      for (const record of records) {
        const before = original.get(record.id) as SensorRecord;
        expect(record.timestamp).toEqual(before.timestamp);
        const { min, max } = ranges.get(record.type) as { min: number; max: number };
        if (record.value < min || record.value > max) {
          spikes++;
          // Far outside: at least half the range's span beyond it.
          expect(Math.min(Math.abs(record.value - min), Math.abs(record.value - max))).toBeGreaterThan(
            (max - min) * 0.49,
          );
          continue;
        }
        // Anything else is the model's own value, or a stuck sensor repeating its last real value.
        if (record.value !== before.value && record.value !== lastReal.get(record.sensorId)) unexplained++;
        lastReal.set(record.sensorId, record.value);
      }
      expect(spikes).toBe(stats.spikes);
      expect(unexplained).toBe(0);
    });

    it('repeats the last value exactly for the whole stuck run', () => {
      const records = [
        ...generateRecords({
          ...window,
          types: [ramp],
          sensorsPerType: 3,
          ratePerSecond: 0.3,
          anomalies: { stuckRate: 0.02, stuckLength: 7 },
        }),
      ];

      let stuck = 0;
      for (const list of bySensor(records).values()) {
        let run = 0;
        for (let i = 1; i <= list.length; i++) {
          if (i < list.length && list[i]?.value === list[i - 1]?.value) {
            run++;
            continue;
          }
          // Back-to-back runs merge, so a repeat run is a whole number of 7-reading runs (the last
          // one may be cut by the end of the window).
          if (i < list.length) expect(run % 7).toBe(0);
          stuck += run;
          run = 0;
        }
      }
      expect(stuck).toBeGreaterThan(100);
      expect(records).toHaveLength(3 * 2_880);
    });

    it('leaves visible gaps in the sequence for dropouts, never reusing an id', async () => {
      const fleet = new Fleet({
        ...window,
        types: [ramp],
        sensorsPerType: 3,
        ratePerSecond: 0.3,
        anomalies: { dropoutRate: 0.02, dropoutLength: 3 },
      });

      const records = await collect(fleet);

      let missing = 0;
      for (const list of bySensor(records).values()) {
        const sequences = list.map(sequenceOf);
        for (let i = 1; i < sequences.length; i++) {
          const gap = (sequences[i] as number) - (sequences[i - 1] as number) - 1;
          expect(gap % 3).toBe(0);
          missing += gap;
        }
        missing += sequences[0] as number;
        // The value still follows the clock across a gap: the sensor kept measuring.
        const off = list.filter(
          (r) => Math.abs(r.value - (r.timestamp.getTime() - START.getTime()) / 1000) > 1e-9,
        );
        expect(off).toEqual([]);
      }
      expect(fleet.stats.dropped).toBeGreaterThan(100);
      // Readings dropped at the very end leave no visible gap; all others do.
      expect(missing).toBeLessThanOrEqual(fleet.stats.dropped);
      expect(missing).toBeGreaterThan(fleet.stats.dropped - 3 * 3);
      expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    });
  });

  describe('real-time mode', () => {
    it('paces the fleet to the aggregate rate on its clock', async () => {
      const clock = virtualClock(START.getTime());
      const fleet = new Fleet({
        types: [temperatureSensorType, powerFactorSensorType],
        sensorsPerType: 5,
        ratePerSecond: 20,
        seed: 3,
        records: 400,
        clock,
      });

      let early = 0;
      let late = 0;
      const perSecond = new Map<number, number>();
      for await (const record of fleet) {
        const due = record.timestamp.getTime();
        if (clock.now() < due) early++;
        if (clock.now() - due > 1) late++;
        const second = Math.floor((due - START.getTime()) / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }

      expect(early).toBe(0);
      expect(late).toBe(0);
      // 400 records at 20/s: 20 s of clock time, 20 records in each second.
      expect(clock.slept).toBeGreaterThan(19_400);
      expect(clock.slept).toBeLessThanOrEqual(20_000);
      for (let s = 0; s < 20; s++) expect(perSecond.get(s)).toBe(20);
    });

    it('paces with the real timers by default', async () => {
      const began = Date.now();
      const records = await collect(
        new Fleet({ types: [ramp], sensorsPerType: 4, ratePerSecond: 400, seed: 1, records: 60 }),
      );
      const elapsed = Date.now() - began;

      const span = (records.at(-1) as SensorRecord).timestamp.getTime() - began;
      expect(span).toBeGreaterThan(100);
      expect(elapsed).toBeGreaterThanOrEqual(span - 2);
      expect(elapsed).toBeLessThan(1_500);
    });

    it('computes a record only when the consumer pulls it, and hands late records over at once', async () => {
      const { type, calls } = counting();
      const clock = virtualClock(START.getTime());
      const iterator = new Fleet({ types: [type], sensorsPerType: 2, ratePerSecond: 2, seed: 1, clock })[
        Symbol.asyncIterator
      ]();

      await iterator.next();
      await iterator.next();
      await iterator.next();
      expect(calls()).toBe(3);

      // A slow consumer: a minute passes before the next pulls; nothing was computed meanwhile.
      clock.advance(60_000);
      expect(calls()).toBe(3);
      const sleepsBefore = clock.sleeps;
      const late = (await iterator.next()).value as SensorRecord;
      expect(calls()).toBe(4);
      expect(clock.sleeps).toBe(sleepsBefore);
      expect(late.timestamp.getTime()).toBeLessThan(START.getTime() + 3_000);
      await iterator.return();
    });

    it('catches up a start in the past without waiting, then paces', async () => {
      const clock = virtualClock(START.getTime());
      const fleet = new Fleet({
        types: [ramp],
        sensorsPerType: 1,
        ratePerSecond: 1,
        seed: 1,
        start: START.getTime() - 30_000,
        records: 40,
        clock,
      });

      const records: SensorRecord[] = [];
      const sleepsAt: number[] = [];
      for await (const record of fleet) {
        records.push(record);
        sleepsAt.push(clock.sleeps);
      }

      expect(records).toHaveLength(40);
      expect(sleepsAt.slice(0, 30).every((n) => n === 0)).toBe(true);
      expect(clock.sleeps).toBeGreaterThanOrEqual(9);
    });

    it('stops when the consumer leaves the loop', async () => {
      const { type, calls } = counting();
      const fleet = new Fleet({
        types: [type],
        sensorsPerType: 3,
        ratePerSecond: 10,
        seed: 1,
        clock: virtualClock(0),
      });

      let seen = 0;
      for await (const _ of fleet) {
        seen++;
        if (seen === 5) break;
      }

      expect(calls()).toBe(5);
      expect(fleet.stats.emitted).toBe(5);
    });

    it('rejects the pending next() with the reason when the signal aborts during a wait', async () => {
      const controller = new AbortController();
      const clock = frozenClock(START.getTime());
      const iterator = new Fleet({
        types: [ramp],
        sensorsPerType: 1,
        ratePerSecond: 1,
        seed: 1,
        start: START.getTime() + 60_000,
        clock,
        signal: controller.signal,
      })[Symbol.asyncIterator]();

      const pending = iterator.next();
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 5);

      expect(await rejection(pending)).toBe(reason);
      expect(clock.cleared).toBe(1);
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    });

    it('rejects at once when the signal is already aborted, in either mode', async () => {
      const reason = new Error('stop');
      const signal = AbortSignal.abort(reason);

      for (const simulated of [false, true]) {
        const fleet = new Fleet({ ...base, signal, simulated, clock: virtualClock(START.getTime()) });
        expect(await rejection(fleet[Symbol.asyncIterator]().next())).toBe(reason);
      }
    });

    it('stops a simulated run mid-way when aborted', async () => {
      const controller = new AbortController();
      const fleet = new Fleet({ ...base, signal: controller.signal });

      const seen: SensorRecord[] = [];
      const error = await rejection(
        (async () => {
          for await (const record of fleet) {
            seen.push(record);
            if (seen.length === 10) controller.abort(new Error('enough'));
          }
        })(),
      );

      expect((error as Error).message).toBe('enough');
      expect(seen).toHaveLength(10);
    });
  });

  describe('custom sensor types', () => {
    it("flows a user's vibration sensor through the fleet like a built-in", async () => {
      // What a user writes, outside the package.
      const vibration = defineSensorType({
        name: 'vibration',
        unit: 'mm/s',
        range: { min: 0, max: 45 },
        decimals: 2,
        description: 'RMS vibration velocity of a pump bearing',
        model: {
          init: ({ prng }) => ({ idle: prng.uniform(0.3, 0.8), loaded: prng.uniform(2, 6), wear: 0 }),
          sample: ({ state, hourOfDay, elapsedMs, prng }) => {
            state.wear += (elapsedMs / HOUR) * 0.001;
            const load = workdayLoad(hourOfDay);
            return Math.max(0, state.idle + state.loaded * load + state.wear + prng.normal(0, 0.1));
          },
        },
      });
      const types = defaultSensorTypes().register(vibration);

      const fleet = new Fleet({ ...base, types, sensorsPerType: 2, ratePerSecond: 8 / 60, durationMs: DAY });
      const records = await collect(fleet);

      expect(fleet.sensors.map((s) => s.sensorId)).toContain('vibration-002');
      const ours = records.filter((r) => r.type === 'vibration');
      expect(ours).toHaveLength(2 * 1_440);
      expect(ours.every((r) => r.unit === 'mm/s' && r.value >= 0 && r.value <= 45)).toBe(true);
      expect(records.every((r) => sensorRecordSchema.validate(r).ok)).toBe(true);
      // Its machine-load model shows: each sensor vibrates more in working hours than at night.
      for (const list of bySensor(ours).values()) {
        const at = (hour: number) => {
          const values = list.filter((r) => r.timestamp.getUTCHours() === hour).map((r) => r.value);
          return values.reduce((a, b) => a + b, 0) / values.length;
        };
        expect(at(10)).toBeGreaterThan(at(2) + 1);
      }
    });

    it('wraps a model that throws, or returns a non-finite value, in SENSOR_MODEL_FAILED', () => {
      const cause = new Error('sensor exploded');
      const throwing = defineSensorType({
        name: 'broken',
        unit: '',
        range: { min: 0, max: 1 },
        model: () => {
          throw cause;
        },
      });
      const nan = defineSensorType({
        name: 'nan',
        unit: '',
        range: { min: 0, max: 1 },
        model: () => Number.NaN,
      });

      const first = thrown(() => [...generateRecords({ ...base, types: [throwing] })]) as FleetError;
      const second = thrown(() => [...generateRecords({ ...base, types: [nan] })]) as FleetError;

      expect(first).toBeInstanceOf(FleetError);
      expect(first.code).toBe('SENSOR_MODEL_FAILED');
      expect(first.cause).toBe(cause);
      expect(first.context.sensorId).toMatch(/^broken-00\d$/);
      expect(second.code).toBe('SENSOR_MODEL_FAILED');
      expect(second.message).toContain('NaN');
    });
  });

  describe('constructor', () => {
    it('lists the sensors, numbered per type, with counts per type', () => {
      const fleet = new Fleet({
        ...base,
        types: defaultSensorTypes(),
        sensorsPerType: { temperature: 3, hydraulic_pressure: 1 },
      });

      expect(fleet.sensors).toEqual([
        { sensorId: 'temperature-001', type: 'temperature', unit: '°C', intervalMs: 4_000 / 1.5 },
        { sensorId: 'temperature-002', type: 'temperature', unit: '°C', intervalMs: 4_000 / 1.5 },
        { sensorId: 'temperature-003', type: 'temperature', unit: '°C', intervalMs: 4_000 / 1.5 },
        {
          sensorId: 'hydraulic_pressure-001',
          type: 'hydraulic_pressure',
          unit: 'bar',
          intervalMs: 4_000 / 1.5,
        },
      ]);
    });

    it.each([
      ['ratePerSecond', { ratePerSecond: 0 }],
      ['ratePerSecond', { ratePerSecond: Number.POSITIVE_INFINITY }],
      ['sensorsPerType', { sensorsPerType: 0 }],
      ['sensorsPerType', { sensorsPerType: 1.5 }],
      ['sensorsPerType.temperature', { sensorsPerType: { temperature: -1 } }],
      ['types', { types: [] }],
      ['seed', { seed: Number.NaN }],
      ['start', { start: new Date(Number.NaN) }],
      ['durationMs', { durationMs: 0 }],
      ['records', { records: 1.5 }],
      ['jitter', { jitter: 1 }],
      ['utcOffsetMinutes', { utcOffsetMinutes: 24 * 60 }],
      ['clock', { clock: { now: () => 0 } }],
      ['anomalies.spikeRate', { anomalies: { spikeRate: 2 } }],
      ['anomalies.stuckLength', { anomalies: { stuckRate: 0.1, stuckLength: { min: 5, max: 2 } } }],
      ['anomalies', { anomalies: { spikeRate: 0.5, stuckRate: 0.3, dropoutRate: 0.3 } }],
    ])('rejects a bad %s with FLEET_OPTIONS_INVALID', (option, override) => {
      const error = thrown(
        () => new Fleet({ ...base, ...(override as Partial<FleetOptions>) }),
      ) as OptionsError;

      expect(error).toBeInstanceOf(OptionsError);
      expect(error.code).toBe('FLEET_OPTIONS_INVALID');
      expect([error.option, error.context.option]).toEqual([option, option]);
    });

    it('rejects duplicate types and counts for unknown types', () => {
      expect(() => new Fleet({ ...base, types: [temperatureSensorType, temperatureSensorType] })).toThrow(
        DuplicateSensorTypeError,
      );
      expect(() => new Fleet({ ...base, sensorsPerType: { temprature: 2 } })).toThrow(UnknownSensorTypeError);
    });
  });

  describe('events', () => {
    it('reports records.out in groups that add up to the records emitted', async () => {
      const events: TributaryEvent[] = [];
      const fleet = new Fleet({
        ...base,
        records: 2_500,
        onEvent: (e) => events.push(e),
        source: 'fleet:test',
      });

      await collect(fleet);

      expect(events.map((e) => [e.type, e.source, 'count' in e ? e.count : undefined])).toEqual([
        ['records.out', 'fleet:test', 1_000],
        ['records.out', 'fleet:test', 1_000],
        ['records.out', 'fleet:test', 500],
      ]);
    });
  });
});
