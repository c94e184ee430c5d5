// The `@tributary/coinmarketcap/dms` entry: the AWS DMS setup that writes the raw zone as the
// crypto transforms read it. Its return types come from `@aws-sdk/client-database-migration-service`,
// kept out of the main entry so that only users of DMS install that client.

export type { DmsDatePartitionDelimiter, DmsDatePartitionSequence, DmsFileLayout } from './dms-layout.js';
export type { DmsReplicationTaskOptions, DmsS3TargetEndpointOptions, DmsSelectionRule } from './dms-setup.js';
export {
  createDmsReplicationTaskInput,
  createDmsS3TargetEndpointInput,
  DmsSetupError,
  dmsTableMappings,
} from './dms-setup.js';
