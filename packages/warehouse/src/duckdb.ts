// DuckDB needs `@duckdb/node-api` (an optional peer dependency, a native package): it lives
// behind this subpath so that `@tributary/warehouse` itself never loads it.
export type { DuckDbEngineOptions } from './duckdb-engine.js';
export { DuckDbEngine } from './duckdb-engine.js';
export type { IcebergRegistration, RegisterIcebergTableOptions } from './duckdb-iceberg.js';
export { duckDbIcebergType } from './duckdb-iceberg.js';
export { duckDbType, duckDbViewSql } from './duckdb-views.js';
