// Where the demo runs: the same pipeline code gets one of these, built for local mode
// (local-environment.ts: embedded PostgreSQL, kinesalite, a lake folder, DuckDB) or aws mode
// (aws-environment.ts: RDS/any PostgreSQL, Kinesis, S3 buckets per zone, Glue, Athena, Redshift).
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Catalog, IcebergCatalog, Lake } from '@tributary/lake';
import type { Loader, QueryEngine } from '@tributary/warehouse';
import type pg from 'pg';

export interface PipelineEnvironment {
  readonly mode: 'local' | 'aws';
  /** The three zones: folders under `<out>/lake` locally, a bucket (and prefix) per zone on AWS. */
  readonly lake: Lake;
  /** LocalCatalog in the lake locally, GlueCatalog on AWS. */
  readonly catalog: Catalog;
  /** The Kinesis stream the sensor fleets write to and the delivery reads from. */
  readonly kinesis: { readonly client: KinesisClient; readonly streamName: string };
  /** The relational source of the crypto pipeline (embedded PostgreSQL locally, RDS on AWS). */
  readonly sourcePool: pg.Pool;
  /** SQL on the lake: DuckDB locally, Athena on AWS. */
  readonly engine: QueryEngine;
  /**
   * The warehouse: PostgresLoader on the same embedded PostgreSQL locally, RedshiftLoader on AWS;
   * `undefined` when none is configured (aws mode without a Redshift connection), and the
   * warehouse stage is then skipped with a message saying why.
   */
  readonly loader: Loader | undefined;
  /**
   * The Iceberg catalog of a zone's tables: `undefined` locally (each zone's own Hadoop-layout
   * catalog, which DuckDB, pyiceberg and Spark read too), a `GlueIcebergCatalog` on AWS (Athena,
   * EMR and Glue jobs find the tables there; no crawler, no partitions to register).
   */
  icebergCatalog(zone: 'processed' | 'curated'): IcebergCatalog | undefined;
  /** Where each thing lives, for the summary: `{ 'raw zone': 'file:///…', 'PostgreSQL': 'postgres://…@127.0.0.1:…' }` (no passwords). */
  describe(): Record<string, string>;
  /** Stops what the environment started (local servers, clients it created); never deletes AWS resources. */
  close(): Promise<void>;
}
