export type { DeaggregatedRecord, UserRecord } from './aggregation.js';
export { aggregate, deaggregate, isAggregated } from './aggregation.js';
export type { AnomalyKind, AnomalyLength, AnomalyOptions } from './anomalies.js';
export type { ProducerClock, ProducerCommonOptions, ProducerResult } from './base-producer.js';
export type { Checkpoint, CheckpointStore, LakeCheckpointStoreOptions } from './checkpoints.js';
export { CheckpointError, LakeCheckpointStore, MemoryCheckpointStore } from './checkpoints.js';
export type { CuratedHourlyRow } from './curated-schema.js';
export { curatedHourlySchema } from './curated-schema.js';
export type { DeliverToLakeOptions } from './delivery.js';
export { DeliverToLakeError, deliverToLake } from './delivery.js';
export {
  AggregationFormatError,
  InvalidPartitionKeyError,
  ProducerClosedError,
  ProducerOptionsError,
  ShardDiscoveryError,
} from './errors.js';
export type { FirehoseProducerOptions } from './firehose-producer.js';
export { FirehoseProducer } from './firehose-producer.js';
export type { DeliveryStreamInputOptions, FirehoseLogging } from './firehose-setup.js';
export { createDeliveryStreamInput, FirehoseSetupError } from './firehose-setup.js';
export type { FleetClock, FleetOptions, FleetSensor, FleetStats, GenerateRecordsOptions } from './fleet.js';
export { Fleet, FleetError, generateRecords } from './fleet.js';
export type { KinesisProducerOptions, KinesisRateLimit } from './kinesis-producer.js';
export { KinesisProducer } from './kinesis-producer.js';
export type {
  KinesisSourceClock,
  KinesisSourceOptions,
  KinesisSourceRecord,
  KinesisSourceStats,
  StartingPosition,
} from './kinesis-source.js';
export { KinesisSource, KinesisSourceError } from './kinesis-source.js';
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
export type {
  ProcessedToCuratedOptions,
  ProcessedToCuratedStats,
  RawToProcessedOptions,
  RawToProcessedStats,
  SensorErrorRow,
} from './transforms.js';
export { processedToCurated, rawToProcessed, SensorTransformError, sensorErrorSchema } from './transforms.js';
