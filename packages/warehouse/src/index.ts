export type {
  LoadErrorDetail,
  TableDefinitionErrorCode,
  WarehouseErrorCode,
  WarehouseOptionsErrorCode,
} from './errors.js';
export {
  LoadError,
  QueryCancelledError,
  QueryFailedError,
  QueryParameterError,
  TableDefinitionError,
  WarehouseOptionsError,
} from './errors.js';
export type { PostgresLoaderOptions } from './postgres-loader.js';
export { PostgresLoader } from './postgres-loader.js';
export type {
  RedshiftCredentials,
  RedshiftLoaderOptions,
  RedshiftLoadOptions,
  RedshiftTableOptions,
} from './redshift-loader.js';
export { isSerializationConflict, RedshiftLoader } from './redshift-loader.js';
export type {
  CollectedResult,
  EngineName,
  LakeSource,
  Loader,
  LoadMode,
  LoadOptions,
  LoadResult,
  PgClient,
  PgPool,
  PgResult,
  QueryColumn,
  QueryEngine,
  QueryOptions,
  QueryParam,
  QueryResult,
  QueryStats,
  RegisterTableOptions,
  Row,
} from './types.js';
