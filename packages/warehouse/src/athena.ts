// Athena needs `@aws-sdk/client-athena` (an optional peer dependency): it lives behind this
// subpath so that `@tributary/warehouse` itself never loads it.

export type {
  AddPartitionsSummary,
  AthenaEngineOptions,
  AthenaQueryOptions,
  AthenaRegisterTableOptions,
  AthenaRetryOptions,
  AthenaSender,
} from './athena-engine.js';
export { AthenaEngine } from './athena-engine.js';
export type { IcebergAthenaDdlOptions } from './athena-iceberg.js';
export { icebergAthenaDdl } from './athena-iceberg.js';
export { athenaLiteral } from './athena-literals.js';
