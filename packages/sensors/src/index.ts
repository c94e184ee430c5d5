// The sensor domain. Producing, reading and delivering streams is @tributary/streams' work; the
// sensor defaults it needs (partition key, encoding, prefix, schema) are `sensorProducerOptions`
// and `sensorDeliveryOptions`.

export type { AnomalyKind, AnomalyLength, AnomalyOptions } from './anomalies.js';
export type { CuratedHourlyRow } from './curated-schema.js';
export { curatedHourlySchema } from './curated-schema.js';
export type { SensorsErrorCode } from './errors.js';
export type { FleetClock, FleetOptions, FleetSensor, FleetStats, GenerateRecordsOptions } from './fleet.js';
export { Fleet, FleetError, generateRecords } from './fleet.js';
export type { HydraulicPressureModelState, PowerFactorModelState, TemperatureModelState } from './models.js';
export {
  builtInSensorTypes,
  defaultSensorTypes,
  hydraulicPressureSensorType,
  powerFactorSensorType,
  temperatureSensorType,
  workdayLoad,
} from './models.js';
export { Prng } from './prng.js';
export type { SensorRecord } from './record.js';
export { sensorRecordId, sensorRecordSchema } from './record.js';
export { SensorTypeRegistry } from './registry.js';
export type {
  SensorModel,
  SensorModelInit,
  SensorRange,
  SensorReading,
  SensorType,
  SensorTypeDefinition,
  SensorTypeModel,
} from './sensor-type.js';
export {
  DuplicateSensorTypeError,
  defineSensorType,
  SensorTypeError,
  UnknownSensorTypeError,
} from './sensor-type.js';
export { sensorDeliveryOptions, sensorProducerOptions } from './stream-options.js';
export type {
  ProcessedToCuratedOptions,
  ProcessedToCuratedStats,
} from './transforms/processed-to-curated.js';
export { processedToCurated } from './transforms/processed-to-curated.js';
export type {
  RawToProcessedOptions,
  RawToProcessedStats,
  SensorErrorRow,
} from './transforms/raw-to-processed.js';
export { rawToProcessed, sensorErrorSchema } from './transforms/raw-to-processed.js';
export { SensorTransformError } from './transforms/shared.js';
