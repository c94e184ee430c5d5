import { sleep } from '@tributary/core';
import { FleetError } from './errors.js';
import { generate } from './fleet-generator.js';
import {
  type FleetOptions,
  type FleetSensor,
  type FleetStats,
  type Resolved,
  resolve,
} from './fleet-options.js';
import type { SensorRecord } from './record.js';

export type { FleetClock, FleetOptions, FleetSensor, FleetStats } from './fleet-options.js';
export { FleetError };

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
