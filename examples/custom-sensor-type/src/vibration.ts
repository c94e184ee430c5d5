import { defineSensorType, workdayLoad } from '@tributary/sensors';

/** What each vibration sensor draws once from its own stream: its machine's levels. */
export interface VibrationState {
  /** RMS velocity with the machine idling (bearings, neighbouring machines), mm/s. */
  idle: number;
  /** What full load adds on top of `idle`, mm/s. */
  loaded: number;
  /** Wear: a slow rise over the day, mm/s per hour. */
  wearPerHour: number;
}

/**
 * A sensor type of your own, defined here without touching `@tributary/sensors`: the RMS
 * vibration velocity of a machine, in mm/s, following the plant's working day (higher under
 * load), with sensor-to-sensor spread and a little wear. The declared range is what the curated
 * table counts against: a value outside it is an anomaly. 0–45 mm/s covers the ISO 10816 zones
 * of most machines; the model's own values stay well inside it (below 7 mm/s).
 *
 * @example
 * ```ts
 * const types = defaultSensorTypes().register(vibrationSensorType);
 * const fleet = new Fleet({ types, sensorsPerType: 3, ratePerSecond: 10, seed: 7, simulated: true });
 * ```
 */
export const vibrationSensorType = defineSensorType<VibrationState>({
  name: 'vibration',
  unit: 'mm/s',
  range: { min: 0, max: 45 },
  description: 'RMS vibration velocity of a machine, higher under load',
  // A typical accelerometer-based transmitter reports two decimals.
  decimals: 2,
  model: {
    init: ({ prng }) => ({
      idle: prng.uniform(0.3, 0.8),
      loaded: prng.uniform(2, 6),
      wearPerHour: prng.uniform(0, 0.02),
    }),
    sample: ({ state, hourOfDay, prng }) =>
      Math.max(
        0,
        state.idle +
          state.loaded * workdayLoad(hourOfDay) +
          state.wearPerHour * hourOfDay +
          prng.normal(0, 0.1),
      ),
  },
});
