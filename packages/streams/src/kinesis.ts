// The `@tributary/streams/kinesis` entry: everything that needs `@aws-sdk/client-kinesis`, kept out
// of the main entry so that a user installs only the AWS clients they use.

export type { DeliverToLakeOptions } from './delivery.js';
export { DeliverToLakeError, deliverToLake } from './delivery.js';
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
