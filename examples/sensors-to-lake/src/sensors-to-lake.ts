import { KinesisClient } from '@aws-sdk/client-kinesis';
import { EventCounters, EventHub, loadConfig, type TributaryEvent } from '@tributary/core';
import { type Lake, type LakeTableFormat, localLake, readDataset } from '@tributary/lake';
import { startKinesalite } from '@tributary/local';
import {
  curatedHourlySchema,
  generateRecords,
  processedToCurated,
  rawToProcessed,
  sensorDeliveryOptions,
  sensorProducerOptions,
} from '@tributary/sensors';
import { LakeCheckpointStore } from '@tributary/streams';
import { deliverToLake, KinesisProducer, KinesisSource } from '@tributary/streams/kinesis';

export interface SensorsToLakeOptions {
  /** Where the lake's zones go (`<out>/raw`, `<out>/processed`, `<out>/curated`). */
  out: string;
  /** Records to produce: a simulated day of readings spread over the fleet. */
  records?: number;
  sensorsPerType?: number;
  seed?: number;
  /**
   * Start of the simulated day (its event times). Default: yesterday 00:00 UTC. A fixed start
   * makes a second run produce the very same records, which the processed zone deduplicates.
   */
  start?: Date;
  /** The processed and curated tables' format: `iceberg` (default, Apache Iceberg tables) or `hive`. */
  tableFormat?: LakeTableFormat;
  /** Called with every pipeline event (progress displays, metrics). */
  onEvent?: (event: TributaryEvent) => void;
  signal?: AbortSignal;
}

export interface TypeSummary {
  type: string;
  unit: string;
  hours: number;
  records: number;
  min: number;
  max: number;
  mean: number;
  anomalies: number;
}

export interface SensorsToLakeResult {
  produced: number;
  delivered: number;
  rawObjects: number;
  processed: { valid: number; invalid: number; duplicates: number; written: number };
  curatedRows: number;
  byType: TypeSummary[];
  seconds: { produce: number; transform: number; total: number };
  lake: Lake;
}

/**
 * The streaming pipeline on the embedded local stack: a fleet of the three built-in sensor types
 * produces a simulated day into Kinesis (kinesalite on loopback); a Kinesis source delivers it
 * Firehose-style into the raw zone (60 s buffer, all types in one file); the transforms write the
 * processed Parquet and the hourly aggregates.
 */
export async function runSensorsToLake(options: SensorsToLakeOptions): Promise<SensorsToLakeResult> {
  const started = performance.now();
  const records = options.records ?? 20_000;
  const lake = localLake(
    loadConfig({ ...process.env, TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: options.out }),
  );
  const hub = new EventHub();
  if (options.onEvent) hub.on(options.onEvent);
  const streamName = 'sensors';
  const kinesis = await startKinesalite({ streams: [{ name: streamName, shards: 2 }] });
  const client = new KinesisClient(kinesis.createClientConfig());
  try {
    const producer = new KinesisProducer({
      client,
      streamName,
      ...sensorProducerOptions,
      // kinesalite never throttles; on AWS keep the default per-shard limits.
      rateLimit: false,
      onEvent: hub.emit,
    });
    // The local stream lives for this run only, so its checkpoints get a folder of their own:
    // sequence numbers of an earlier run's stream mean nothing to this one.
    const runId = Date.now().toString(36);
    const source = new KinesisSource({
      client,
      streamName,
      checkpoints: new LakeCheckpointStore({ storage: lake.raw, prefix: `_checkpoints/${runId}/` }),
      stopWhenIdle: true,
      idleTimeoutMs: 1_500,
      pollIntervalMs: 200,
      signal: options.signal,
      onEvent: hub.emit,
    });
    // A simulated day replayed now, as a backfill: its records arrive at the stream today.
    const day = 86_400_000;
    const start = options.start ?? new Date(Math.floor(Date.now() / day) * day - day);
    const fleet = generateRecords({
      sensorsPerType: options.sensorsPerType ?? 5,
      seed: options.seed ?? 42,
      start,
      ratePerSecond: records / (day / 1000),
      records,
      anomalies: { spikeRate: 0.002, stuckRate: 0.001, dropoutRate: 0.001 },
    });
    // Produce and deliver at the same time, as the two sides of a stream do.
    const delivering = deliverToLake({
      source,
      storage: lake.raw,
      ...sensorDeliveryOptions,
      streamName,
      bufferBytes: 1024 * 1024,
      onEvent: hub.emit,
    });
    for (const record of fleet) {
      options.signal?.throwIfAborted();
      await producer.put(record);
    }
    const sent = await producer.close();
    const delivered = await delivering;
    const produceSeconds = (performance.now() - started) / 1000;

    const transformStart = performance.now();
    // Every replayed record arrived now: allow as much lateness as the day is old.
    const processed = await rawToProcessed({
      raw: lake.raw,
      processed: lake.processed,
      maxLatenessHours: Math.ceil((Date.now() - start.getTime()) / 3_600_000) + 1,
      tableFormat: options.tableFormat ?? 'iceberg',
      onEvent: hub.emit,
    });
    await processedToCurated({
      processed: lake.processed,
      curated: lake.curated,
      tableFormat: options.tableFormat ?? 'iceberg',
      onEvent: hub.emit,
    });
    const transformSeconds = (performance.now() - transformStart) / 1000;

    const byType = new Map<string, TypeSummary & { sum: number }>();
    let curatedRows = 0;
    for await (const row of readDataset({
      storage: lake.curated,
      table: 'sensor_hourly',
      schema: curatedHourlySchema,
    })) {
      curatedRows++;
      const count = Number(row.count);
      const t = byType.get(row.type) ?? {
        type: row.type,
        unit: row.unit,
        hours: 0,
        records: 0,
        min: Infinity,
        max: -Infinity,
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
      produced: sent.sent,
      delivered: delivered.recordsDelivered,
      rawObjects: delivered.objects,
      processed: {
        valid: processed.valid,
        invalid: processed.invalid,
        duplicates: processed.duplicates,
        written: processed.written,
      },
      curatedRows,
      byType: [...byType.values()]
        .map(({ sum, ...t }) => ({ ...t, mean: t.records > 0 ? sum / t.records : 0 }))
        .sort((a, b) => a.type.localeCompare(b.type)),
      seconds: {
        produce: produceSeconds,
        transform: transformSeconds,
        total: (performance.now() - started) / 1000,
      },
      lake,
    };
  } finally {
    client.destroy();
    await kinesis.stop();
  }
}

export { EventCounters };
