import { SensorTypeRegistry } from './registry.js';
import { defineSensorType, type SensorType } from './sensor-type.js';

const HOUR_MS = 3_600_000;

/** [hour, load] knots of a working day; linear in between. */
const WORKDAY_KNOTS: readonly (readonly [number, number])[] = [
  [0, 0.12],
  [5.5, 0.12],
  [6.5, 0.35],
  [8, 0.8],
  [12, 0.8],
  [12.5, 0.6],
  [13.25, 0.8],
  [17, 0.8],
  [18.5, 0.3],
  [21, 0.15],
  [24, 0.12],
];

const WORKDAY_MIN = 0.12;
const WORKDAY_MAX = 0.8;

/**
 * The baseline load of a plant over a working day, from 0 (off) to 1 (full): about 0.12 at
 * night, ramping up from 05:30 to 0.8 at 08:00, a lunch dip around 12:30, back down after
 * 17:00. Handy for custom models that follow the machines (vibration, current, noise).
 *
 * @example
 * ```ts
 * workdayLoad(3); // 0.12
 * workdayLoad(10); // 0.8
 * ```
 */
export function workdayLoad(hourOfDay: number): number {
  const h = ((hourOfDay % 24) + 24) % 24;
  for (let i = 1; i < WORKDAY_KNOTS.length; i++) {
    const [h1, l1] = WORKDAY_KNOTS[i] as readonly [number, number];
    if (h <= h1) {
      const [h0, l0] = WORKDAY_KNOTS[i - 1] as readonly [number, number];
      return l0 + ((l1 - l0) * (h - h0)) / (h1 - h0);
    }
  }
  return (WORKDAY_KNOTS[0] as readonly [number, number])[1];
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/** One temperature sensor's parameters and state. */
export interface TemperatureModelState {
  /** Mean temperature, °C (15–25). */
  base: number;
  /** Half the daily swing, °C (3–8): the day spans about `2 × amplitude`. */
  amplitude: number;
  /** Local hour of the daily minimum (about 05:00). */
  minHour: number;
  /** Standard deviation of the measurement noise, °C (0.1–0.3). */
  noiseSd: number;
  /** Stationary standard deviation of the slow drift, °C. */
  driftSd: number;
  /** How fast the drift forgets its past (Ornstein–Uhlenbeck time constant), ms. */
  driftTauMs: number;
  /** The current drift, °C. */
  drift: number;
}

/**
 * Temperature (°C): a daily sinusoid (minimum around 05:00 local, amplitude 3–8 °C around a
 * per-sensor base of 15–25 °C), a slow mean-reverting random-walk drift, and Gaussian noise of
 * 0.1–0.3 °C. Declared range: −40 to 85 °C (a common industrial sensor's span).
 *
 * @example
 * ```ts
 * const fleet = new Fleet({ types: [temperatureSensorType], sensorsPerType: 4, ratePerSecond: 2, seed: 1 });
 * ```
 */
export const temperatureSensorType: SensorType<TemperatureModelState> = defineSensorType({
  name: 'temperature',
  unit: '°C',
  range: { min: -40, max: 85 },
  decimals: 2,
  description: 'Air temperature: daily cycle, slow drift and noise',
  model: {
    init: ({ prng }): TemperatureModelState => {
      const driftSd = prng.uniform(0.2, 0.6);
      return {
        base: prng.uniform(15, 25),
        amplitude: prng.uniform(3, 8),
        minHour: 5 + prng.uniform(-0.75, 0.75),
        noiseSd: prng.uniform(0.1, 0.3),
        driftSd,
        driftTauMs: prng.uniform(3, 12) * HOUR_MS,
        drift: prng.normal(0, driftSd),
      };
    },
    sample: ({ state, hourOfDay, elapsedMs, prng }) => {
      const decay = Math.exp(-elapsedMs / state.driftTauMs);
      state.drift = state.drift * decay + state.driftSd * Math.sqrt(1 - decay * decay) * prng.normal();
      const cycle = -state.amplitude * Math.cos((2 * Math.PI * (hourOfDay - state.minHour)) / 24);
      return state.base + cycle + state.drift + prng.normal(0, state.noiseSd);
    },
  },
});

/** One power-factor sensor's parameters and state. */
export interface PowerFactorModelState {
  /** Power factor at no load (0.95–0.99). */
  atIdle: number;
  /** Power factor at full load (0.75–0.85). */
  atFullLoad: number;
  /** This site's shift offset against the standard working day, hours. */
  shiftHours: number;
  /** Motor starts per hour at full baseline load. */
  motorStartsPerHour: number;
  /** How long a motor start's extra load takes to fade (time constant), ms. */
  motorTauMs: number;
  /** Standard deviation of the measurement noise. */
  noiseSd: number;
  /** Extra load from recent motor starts, fading. */
  motorLoad: number;
}

/**
 * Power factor (dimensionless, unit `'1'`): load-dependent — 0.95–0.99 at low load, dipping
 * toward 0.75–0.85 at load peaks (working hours, random motor starts), with small noise, and
 * clamped to its declared range of 0.7–1.0.
 *
 * @example
 * ```ts
 * const fleet = new Fleet({ types: [powerFactorSensorType], sensorsPerType: 2, ratePerSecond: 1, seed: 1 });
 * ```
 */
export const powerFactorSensorType: SensorType<PowerFactorModelState> = defineSensorType({
  name: 'power_factor',
  unit: '1',
  range: { min: 0.7, max: 1 },
  decimals: 3,
  description: 'Power factor of a plant feeder: lower under load, dips at motor starts',
  model: {
    init: ({ prng }): PowerFactorModelState => ({
      atIdle: prng.uniform(0.95, 0.99),
      atFullLoad: prng.uniform(0.75, 0.85),
      shiftHours: prng.uniform(-0.5, 0.5),
      motorStartsPerHour: prng.uniform(4, 12),
      motorTauMs: prng.uniform(30_000, 180_000),
      noiseSd: prng.uniform(0.002, 0.006),
      motorLoad: 0,
    }),
    sample: ({ state, hourOfDay, elapsedMs, prng }) => {
      const baseline = workdayLoad(hourOfDay - state.shiftHours);
      state.motorLoad *= Math.exp(-elapsedMs / state.motorTauMs);
      const startProbability = 1 - Math.exp(-(state.motorStartsPerHour * baseline * elapsedMs) / HOUR_MS);
      if (prng.next() < startProbability) {
        // The start happened somewhere since the last reading and has faded by as much.
        const since = prng.next() * elapsedMs;
        state.motorLoad += prng.uniform(0.2, 0.5) * Math.exp(-since / state.motorTauMs);
      }
      // Night load counts as none and a busy shift as 0.8; motor starts add on top, up to 1.25 so
      // that the largest peaks reach the 0.7 floor.
      const shift = (0.8 * (baseline - WORKDAY_MIN)) / (WORKDAY_MAX - WORKDAY_MIN);
      const load = Math.min(shift + state.motorLoad, 1.25);
      const value = state.atIdle - (state.atIdle - state.atFullLoad) * load + prng.normal(0, state.noiseSd);
      return clamp(value, 0.7, 1);
    },
  },
});

/** One hydraulic-pressure sensor's parameters and state. */
export interface HydraulicPressureModelState {
  /** The pressure the pump maintains on average, bar (150–210). */
  setPoint: number;
  /** Pump cycle, ms (30–120 s). */
  periodMs: number;
  /** Pressure lost during a cycle before the pump restores it, bar. */
  depth: number;
  /** Share of the cycle the pump spends restoring pressure. */
  restoreShare: number;
  /** Where in its cycle the pump was at time 0, [0, 1). */
  phase: number;
  /** Standard deviation of the measurement noise, bar. */
  noiseSd: number;
  /** Pressure surges per hour (rare). */
  surgesPerHour: number;
  /** How fast a surge fades (time constant), ms. */
  surgeTauMs: number;
  /** Extra pressure from a recent surge, fading. */
  surge: number;
}

/**
 * Hydraulic pressure (bar): a set-point of 150–210 bar with pump cycles of 30–120 s (pressure
 * falls as fluid is used, the pump restores it: a sawtooth averaging the set-point), noise, and
 * rare surges of +30–60 bar. Declared range: 0 to 350 bar.
 *
 * @example
 * ```ts
 * const fleet = new Fleet({ types: [hydraulicPressureSensorType], sensorsPerType: 2, ratePerSecond: 1, seed: 1 });
 * ```
 */
export const hydraulicPressureSensorType: SensorType<HydraulicPressureModelState> = defineSensorType({
  name: 'hydraulic_pressure',
  unit: 'bar',
  range: { min: 0, max: 350 },
  decimals: 1,
  description: 'Hydraulic line pressure: pump cycles around a set-point, rare surges',
  model: {
    init: ({ prng }): HydraulicPressureModelState => ({
      setPoint: prng.uniform(150, 210),
      periodMs: prng.uniform(30_000, 120_000),
      depth: prng.uniform(8, 20),
      restoreShare: prng.uniform(0.1, 0.25),
      phase: prng.next(),
      noiseSd: prng.uniform(0.3, 1),
      surgesPerHour: prng.uniform(0.1, 0.5),
      surgeTauMs: prng.uniform(1_000, 5_000),
      surge: 0,
    }),
    sample: ({ state, time, elapsedMs, prng }) => {
      const cycle = time / state.periodMs + state.phase;
      const p = cycle - Math.floor(cycle);
      const low = state.setPoint - state.depth / 2;
      // Both legs of the sawtooth are linear between the same two levels: the mean is the set-point.
      const level =
        p < state.restoreShare
          ? low + (state.depth * p) / state.restoreShare
          : low + state.depth * (1 - (p - state.restoreShare) / (1 - state.restoreShare));
      state.surge *= Math.exp(-elapsedMs / state.surgeTauMs);
      if (prng.next() < 1 - Math.exp(-(state.surgesPerHour * elapsedMs) / HOUR_MS)) {
        state.surge += prng.uniform(30, 60);
      }
      return level + state.surge + prng.normal(0, state.noiseSd);
    },
  },
});

/**
 * The three built-in sensor types: temperature, power factor and hydraulic pressure (frozen).
 *
 * @example
 * ```ts
 * const fleet = new Fleet({ types: builtInSensorTypes, sensorsPerType: 5, ratePerSecond: 1.5, seed: 42 });
 * ```
 */
export const builtInSensorTypes: readonly SensorType[] = Object.freeze([
  temperatureSensorType,
  powerFactorSensorType,
  hydraulicPressureSensorType,
] as SensorType[]);

/**
 * A new registry holding the three built-in types, to extend with your own.
 *
 * @example
 * ```ts
 * const vibration = defineSensorType({ name: 'vibration', unit: 'mm/s', range: { min: 0, max: 45 }, model: ({ prng }) => prng.uniform(0.5, 6) });
 * const types = defaultSensorTypes().register(vibration);
 * types.list().map((t) => t.name); // ['temperature', 'power_factor', 'hydraulic_pressure', 'vibration']
 * ```
 */
export function defaultSensorTypes(): SensorTypeRegistry {
  return new SensorTypeRegistry(builtInSensorTypes);
}
