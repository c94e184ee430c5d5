// The main entry loads no AWS SDK: the Kinesis parts are on `@tributary/streams/kinesis`, the
// Firehose parts on `@tributary/streams/firehose`. Nothing here knows what the records are: the
// caller gives the encoding, the partition key, the prefix and the schema.

export type { DeaggregatedRecord, UserRecord } from './aggregation.js';
export { aggregate, deaggregate, isAggregated } from './aggregation.js';
export type { Checkpoint, CheckpointStore, LakeCheckpointStoreOptions } from './checkpoints.js';
export { CheckpointError, LakeCheckpointStore, MemoryCheckpointStore } from './checkpoints.js';
export type { StreamsErrorCode } from './errors.js';
export {
  AggregationFormatError,
  InvalidPartitionKeyError,
  ProducerClosedError,
  ProducerOptionsError,
  ShardDiscoveryError,
} from './errors.js';
export type { ProducerResult } from './producer-ledger.js';
export type { ProducerClock, ProducerCommonOptions } from './producer-options.js';
