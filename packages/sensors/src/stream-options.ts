import { encodeNdjsonLine } from '@tributary/core';
import { type SensorRecord, sensorRecordSchema } from './record.js';

/**
 * What a `KinesisProducer` of `@tributary/streams/kinesis` needs to know about sensor records:
 * each is one NDJSON line validated by {@link sensorRecordSchema} (an invalid record rejects
 * `put` with a `ValidationError`), keyed by its `sensorId`, so that a sensor's readings land on
 * one shard in order. `encode` alone suits a `FirehoseProducer`.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { KinesisProducer } from '@tributary/streams/kinesis';
 *
 * const producer = new KinesisProducer({ client: new KinesisClient({}), streamName: 'sensors', ...sensorProducerOptions });
 * await producer.putMany(generateRecords({ sensorsPerType: 5, ratePerSecond: 1.5, seed: 42, records: 1000 }));
 * await producer.close();
 * ```
 */
export const sensorProducerOptions: Readonly<{
  encode: (record: SensorRecord) => string;
  partitionKey: (record: SensorRecord) => string;
}> = Object.freeze({
  encode: (record: SensorRecord): string => encodeNdjsonLine(record, sensorRecordSchema),
  partitionKey: (record: SensorRecord): string => record.sensorId,
});

/**
 * What `deliverToLake` of `@tributary/streams/kinesis` needs to know about sensor records: they
 * land under `sensors/YYYY/MM/DD/HH/` of the raw zone (the layout the sensor transforms read),
 * and a record that does not match {@link sensorRecordSchema} goes to `errors/sensors/`.
 *
 * @example
 * ```ts
 * import { KinesisClient } from '@aws-sdk/client-kinesis';
 * import { deliverToLake, KinesisSource } from '@tributary/streams/kinesis';
 *
 * const source = new KinesisSource({ client: new KinesisClient({}), streamName: 'sensors', stopWhenIdle: true });
 * const stats = await deliverToLake({ source, storage: lake.raw, ...sensorDeliveryOptions });
 * console.log(`${stats.recordsDelivered} records delivered`);
 * ```
 */
export const sensorDeliveryOptions: Readonly<{ prefix: string; schema: typeof sensorRecordSchema }> =
  Object.freeze({ prefix: 'sensors/', schema: sensorRecordSchema });
