import { defineSchema, field, type Infer, TributaryError } from '@tributary/core';

/**
 * The one shape every sensor record has, whatever its type. It is the seed's
 * `idtemp / Data / Type / Timestamp` record, named for what each field holds:
 *
 * | seed field | field | meaning |
 * |---|---|---|
 * | `idtemp` | `id` | the record's id, deterministic: `<sensorId>:<sequence>` |
 * | — | `sensorId` | the device that measured it (also the Kinesis partition key) |
 * | `Type` | `type` | the sensor type's name, e.g. `temperature` |
 * | `Data` | `value` | the measurement |
 * | — | `unit` | the unit of `value`, from the sensor type |
 * | `Timestamp` | `timestamp` | event time (UTC, milliseconds) |
 *
 * @example
 * ```ts
 * const reading = sensorRecordSchema.parse({ id: 't-1:0', sensorId: 't-1', type: 'temperature', value: 21.5, unit: '°C', timestamp: Date.now() });
 * ```
 */
export const sensorRecordSchema = defineSchema(
  {
    id: field.string({ maxLength: 256 }).describe('<sensorId>:<sequence>, the same on every retry'),
    sensorId: field.string({ maxLength: 128 }).describe('the device; the Kinesis partition key'),
    type: field.string({ maxLength: 64 }).describe('the sensor type, e.g. temperature'),
    value: field.double().describe('the measurement, in unit'),
    unit: field.string({ maxLength: 32 }),
    timestamp: field.timestamp().describe('event time, UTC'),
  },
  { primaryKey: ['id'], description: 'One sensor measurement; every sensor type has this shape' },
);

/** A sensor record: `{ id, sensorId, type, value, unit, timestamp }`. */
export type SensorRecord = Infer<typeof sensorRecordSchema>;

/**
 * The id of a sensor's `sequence`-th record: the same for the same reading, so a retried send
 * never creates a new record and the processed zone can deduplicate on it.
 *
 * @example
 * ```ts
 * sensorRecordId('pump-7', 42); // 'pump-7:42'
 * ```
 */
export function sensorRecordId(sensorId: string, sequence: number): string {
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new TributaryError(`A sequence must be a non-negative integer (got ${sequence})`, {
      code: 'SENSOR_INVALID',
    });
  }
  return `${sensorId}:${sequence}`;
}
