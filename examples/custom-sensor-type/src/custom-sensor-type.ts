import { KinesisClient } from '@aws-sdk/client-kinesis';
import { EventHub, loadConfig, TributaryError, type TributaryEvent } from '@tributary/core';
import { type Lake, type LakeTableFormat, localLake, readDataset } from '@tributary/lake';
import { startKinesalite } from '@tributary/local';
import {
  curatedHourlySchema,
  defaultSensorTypes,
  Fleet,
  processedToCurated,
  rawToProcessed,
  type SensorTypeRegistry,
  sensorDeliveryOptions,
  sensorProducerOptions,
} from '@tributary/sensors';
import { LakeCheckpointStore } from '@tributary/streams';
import { deliverToLake, KinesisProducer, KinesisSource } from '@tributary/streams/kinesis';
import { vibrationSensorType } from './vibration.js';

const DAY_MS = 86_400_000;

export interface CustomSensorTypeOptions {
  /** Where the lake's zones go (`<out>/raw`, `<out>/processed`, `<out>/curated`). */
  out: string;
  /** Records to produce over the simulated day, all four types together (dropouts make it a little fewer). */
  records?: number;
  sensorsPerType?: number;
  seed?: number;
  /** Start of the simulated day (its event times). Default: yesterday 00:00 UTC. */
  start?: Date;
  /** The processed and curated tables' format: `iceberg` (default, Apache Iceberg tables) or `hive`. */
  tableFormat?: LakeTableFormat;
  /** Called with every pipeline event (progress displays, metrics). */
  onEvent?: (event: TributaryEvent) => void;
  signal?: AbortSignal;
}

export interface SensorTypeSummary {
  type: string;
  unit: string;
  /** The declared range the anomalies are counted against. */
  range: { min: number; max: number };
  hours: number;
  records: number;
  min: number;
  max: number;
  mean: number;
  anomalies: number;
}

export interface CustomSensorTypeResult {
  produced: number;
  delivered: number;
  processed: { written: number; invalid: number; duplicates: number };
  curatedRows: number;
  /** One line per sensor type, by name. */
  byType: SensorTypeSummary[];
  /** The registry the fleet and the curated transform used: the built-in three plus `vibration`. */
  types: SensorTypeRegistry;
  seconds: number;
  lake: Lake;
}

function validated(option: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TributaryError(`Option ${option} must be a whole number ≥ ${min}, got ${value}`, {
      code: 'OPTIONS_INVALID',
      context: { option },
    });
  }
  return value;
}

/**
 * Adds a user-defined `vibration` sensor type to the built-in three and runs a simulated day of
 * the four through the streaming pipeline on the embedded local stack: Kinesis (kinesalite),
 * Firehose-style delivery into the raw zone, processed Parquet, and hourly aggregates computed
 * with the custom registry, so vibration gets its own curated row per hour with its unit and
 * its declared range for anomaly counts.
 *
 * @example
 * ```ts
 * const result = await runCustomSensorType({ out: '.tributary/custom-sensor-type', records: 20_000 });
 * console.table(result.byType);
 * ```
 */
export async function runCustomSensorType(options: CustomSensorTypeOptions): Promise<CustomSensorTypeResult> {
  const started = performance.now();
  const records = validated('records', options.records ?? 20_000, 1);
  const sensorsPerType = validated('sensorsPerType', options.sensorsPerType ?? 5, 1);
  // Registering checks the definition and refuses a second type of the same name.
  const types = defaultSensorTypes().register(vibrationSensorType);
  const lake = localLake(
    loadConfig({ ...process.env, TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: options.out }),
  );
  const hub = new EventHub();
  if (options.onEvent) hub.on(options.onEvent);
  const start = options.start ?? new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS);

  const streamName = 'sensors';
  const kinesis = await startKinesalite({ streams: [{ name: streamName, shards: 2 }] });
  const client = new KinesisClient(kinesis.createClientConfig());
  let produced = 0;
  let delivered: Awaited<ReturnType<typeof deliverToLake>>;
  try {
    // kinesalite never throttles; on AWS keep the default per-shard limits.
    const producer = new KinesisProducer({
      client,
      streamName,
      ...sensorProducerOptions,
      rateLimit: false,
      onEvent: hub.emit,
    });
    const source = new KinesisSource({
      client,
      streamName,
      // This run's stream is new: an earlier run's checkpoints mean nothing to it.
      checkpoints: new LakeCheckpointStore({
        storage: lake.raw,
        prefix: `_checkpoints/${Date.now().toString(36)}/`,
      }),
      stopWhenIdle: true,
      idleTimeoutMs: 1_500,
      pollIntervalMs: 200,
      signal: options.signal,
      onEvent: hub.emit,
    });
    const fleet = new Fleet({
      types,
      sensorsPerType,
      ratePerSecond: records / (DAY_MS / 1000),
      seed: options.seed ?? 42,
      start,
      // Both limits: dropouts would otherwise push the last readings into the next day.
      durationMs: DAY_MS,
      records,
      simulated: true,
      anomalies: { spikeRate: 0.002, stuckRate: 0.001, dropoutRate: 0.001 },
      signal: options.signal,
      onEvent: hub.emit,
    });
    const delivering = deliverToLake({
      source,
      storage: lake.raw,
      ...sensorDeliveryOptions,
      streamName,
      bufferBytes: 1024 * 1024,
      onEvent: hub.emit,
    });
    try {
      for await (const record of fleet) await producer.put(record);
      produced = (await producer.close()).sent;
    } catch (error) {
      // Let the source stop and the delivery settle before reporting why the run ended.
      await producer.close().catch(() => undefined);
      await delivering.catch(() => undefined);
      throw error;
    }
    delivered = await delivering;
  } finally {
    client.destroy();
    await kinesis.stop();
  }

  // The replayed day arrived now: allow as much lateness as the day is old.
  const processed = await rawToProcessed({
    raw: lake.raw,
    processed: lake.processed,
    maxLatenessHours: Math.ceil((Date.now() - start.getTime()) / 3_600_000) + 1,
    tableFormat: options.tableFormat ?? 'iceberg',
    onEvent: hub.emit,
  });
  // The registry with vibration: with the default one its rows would still be aggregated, but as an
  // unknown type, without the unit and range its definition declares.
  await processedToCurated({
    processed: lake.processed,
    curated: lake.curated,
    types,
    tableFormat: options.tableFormat ?? 'iceberg',
    onEvent: hub.emit,
  });

  const byType = new Map<string, SensorTypeSummary & { sum: number }>();
  let curatedRows = 0;
  for await (const row of readDataset({
    storage: lake.curated,
    table: 'sensor_hourly',
    schema: curatedHourlySchema,
  })) {
    curatedRows++;
    const count = Number(row.count);
    const type = types.get(row.type);
    const t = byType.get(row.type) ?? {
      type: row.type,
      unit: row.unit,
      range: { min: type.range.min, max: type.range.max },
      hours: 0,
      records: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
      mean: 0,
      anomalies: 0,
      sum: 0,
    };
    t.hours++;
    t.records += count;
    t.min = Math.min(t.min, row.min);
    t.max = Math.max(t.max, row.max);
    t.sum += row.mean * count;
    t.anomalies += Number(row.anomalies);
    byType.set(row.type, t);
  }

  return {
    produced,
    delivered: delivered.recordsDelivered,
    processed: { written: processed.written, invalid: processed.invalid, duplicates: processed.duplicates },
    curatedRows,
    byType: [...byType.values()]
      .map(({ sum, ...t }) => ({ ...t, mean: t.records > 0 ? sum / t.records : 0 }))
      .sort((a, b) => a.type.localeCompare(b.type)),
    types,
    seconds: (performance.now() - started) / 1000,
    lake,
  };
}
