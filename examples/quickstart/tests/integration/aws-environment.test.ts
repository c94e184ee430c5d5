import { GetQueryExecutionCommand } from '@aws-sdk/client-athena';
import { DescribeDeliveryStreamCommand } from '@aws-sdk/client-firehose';
import { GetDatabaseCommand, GetPartitionsCommand, GetTableCommand } from '@aws-sdk/client-glue';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  ConfigError,
  defineSchema,
  field,
  loadConfig,
  OptionsError,
  type TributaryConfig,
  TributaryError,
} from '@tributary/core';
import { byDay, crawl, readDataset, writeDataset } from '@tributary/lake';
import { type MotoServer, type PostgresServer, startMotoServer, startPostgres } from '@tributary/local';
import { PostgresLoader, RedshiftLoader } from '@tributary/warehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEnvironment, createAwsEnvironment } from '../../src/aws-environment.js';
import { provisionAws, teardownAws } from '../../src/aws-provision.js';

const FIREHOSE_ROLE = 'arn:aws:iam::123456789012:role/tributary-firehose';

let moto: MotoServer;
let postgres: PostgresServer;

beforeAll(async () => {
  [moto, postgres] = await Promise.all([startMotoServer(), startPostgres()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([moto?.stop(), postgres?.stop()]);
});

/** An aws-mode config on moto, as the environment would give it; names are unique per call. */
function configFor(name: string, env: Record<string, string | undefined> = {}): TributaryConfig {
  return loadConfig({
    TRIBUTARY_MODE: 'aws',
    AWS_REGION: moto.region,
    AWS_ENDPOINT_URL: moto.endpoint,
    TRIBUTARY_BUCKET_PREFIX: `${name}-lake`,
    TRIBUTARY_STREAM: `${name}-sensors`,
    TRIBUTARY_STREAM_SHARDS: '2',
    TRIBUTARY_GLUE_DATABASE: name.replaceAll('-', '_'),
    DATABASE_URL: postgres.url,
    ...env,
  });
}

const notFound = async (promise: Promise<unknown>): Promise<string> => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return (err as Error).name;
};

describe('createAwsEnvironment (moto_server)', () => {
  const name = 'demo-one';
  let env: AwsEnvironment;
  let config: TributaryConfig;

  beforeAll(async () => {
    config = configFor(name);
    env = await createAwsEnvironment({
      config,
      credentials: moto.credentials,
      firehose: { roleArn: FIREHOSE_ROLE },
    });
  });

  afterAll(async () => {
    await env?.close();
  });

  describe('provisioning', () => {
    it('creates the stream (ACTIVE), one bucket per zone, the Glue database and the delivery stream', async () => {
      expect(env.provisioned.existing).toEqual([]);
      expect([...env.provisioned.created].sort()).toEqual(
        [
          `kinesis stream ${name}-sensors`,
          `s3 bucket ${name}-lake-raw`,
          `s3 bucket ${name}-lake-processed`,
          `s3 bucket ${name}-lake-curated`,
          'glue database demo_one',
          `firehose delivery stream ${name}-sensors-to-raw`,
        ].sort(),
      );

      const stream = await env.clients.kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: `${name}-sensors` }),
      );
      expect(stream.StreamDescriptionSummary?.StreamStatus).toBe('ACTIVE');
      expect(stream.StreamDescriptionSummary?.OpenShardCount).toBe(2);
      for (const zone of ['raw', 'processed', 'curated']) {
        const head = await env.clients.s3.send(new HeadBucketCommand({ Bucket: `${name}-lake-${zone}` }));
        expect(head.$metadata.httpStatusCode).toBe(200);
      }
      const database = await env.clients.glue.send(new GetDatabaseCommand({ Name: 'demo_one' }));
      expect(database.Database?.Name).toBe('demo_one');
    });

    it('sets the delivery stream up as Kinesis source → raw bucket, hour folders, error prefix, 60 s buffer', async () => {
      const { DeliveryStreamDescription: d } = await env.clients.firehose.send(
        new DescribeDeliveryStreamCommand({ DeliveryStreamName: `${name}-sensors-to-raw` }),
      );
      expect(d?.DeliveryStreamStatus).toBe('ACTIVE');
      expect(d?.DeliveryStreamType).toBe('KinesisStreamAsSource');
      expect(d?.Source?.KinesisStreamSourceDescription?.KinesisStreamARN).toMatch(
        new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${name}-sensors$`),
      );
      const s3 = d?.Destinations?.[0]?.ExtendedS3DestinationDescription;
      expect(s3?.BucketARN).toBe(`arn:aws:s3:::${name}-lake-raw`);
      expect(s3?.Prefix).toBe('sensors/!{timestamp:yyyy/MM/dd/HH}/');
      expect(s3?.ErrorOutputPrefix).toBe(
        'errors/sensors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
      );
      expect(s3?.BufferingHints?.IntervalInSeconds).toBe(60);
      expect(s3?.RoleARN).toBe(FIREHOSE_ROLE);
    });

    it('a second provisioning creates nothing and reports every resource as existing', async () => {
      const again = await createAwsEnvironment({
        config,
        credentials: moto.credentials,
        firehose: { roleArn: FIREHOSE_ROLE },
      });
      try {
        expect(again.provisioned.created).toEqual([]);
        expect([...again.provisioned.existing].sort()).toEqual([...env.provisioned.created].sort());
      } finally {
        await again.close();
      }
    });
  });

  describe('clients', () => {
    it("the lake writes objects into the zone's bucket (path-style on the override) and reads them back", async () => {
      await env.lake.raw.put('notes/hello.txt', 'hello from tributary');

      const listed = await env.clients.s3.send(new ListObjectsV2Command({ Bucket: `${name}-lake-raw` }));
      expect(listed.Contents?.map((o) => o.Key)).toContain('notes/hello.txt');
      const object = await env.clients.s3.send(
        new GetObjectCommand({ Bucket: `${name}-lake-raw`, Key: 'notes/hello.txt' }),
      );
      expect(await object.Body?.transformToString()).toBe('hello from tributary');
      expect(new TextDecoder().decode(await env.lake.raw.getBytes('notes/hello.txt'))).toBe(
        'hello from tributary',
      );
      expect(env.lake.raw.url).toBe(`s3://${name}-lake-raw`);
    });

    it('the catalog registers a crawled table and its hour partitions in Glue', async () => {
      const records = [
        { id: 'a', type: 'temperature', value: 21.5, timestamp: '2026-11-23T10:00:00.000Z' },
        { id: 'b', type: 'power_factor', value: 0.92, timestamp: '2026-11-23T10:00:01.000Z' },
      ];
      await env.lake.raw.put(
        'sensors/2026/11/23/10/demo-2026-11-23-10-00-00-x.ndjson',
        `${records.map((r) => JSON.stringify(r)).join('\n')}\n`,
      );

      const table = await crawl(env.lake.raw, 'sensors');
      const put = await env.catalog.putTable(table);
      expect(put.action).toBe('created');
      // putTable registers the crawled partition; adding it again finds it there.
      expect(put.partitions.added).toBe(1);
      expect((await env.catalog.addPartitions(table)).existing).toBe(1);

      const glue = await env.clients.glue.send(
        new GetTableCommand({ DatabaseName: 'demo_one', Name: 'sensors' }),
      );
      expect(glue.Table?.StorageDescriptor?.Location).toBe(`s3://${name}-lake-raw/sensors/`);
      expect(glue.Table?.StorageDescriptor?.Columns?.map((c) => [c.Name, c.Type])).toEqual(
        expect.arrayContaining([
          ['id', 'string'],
          ['value', 'double'],
        ]),
      );
      expect(glue.Table?.PartitionKeys?.map((k) => k.Name)).toEqual(['year', 'month', 'day', 'hour']);
      const partitions = await env.clients.glue.send(
        new GetPartitionsCommand({ DatabaseName: 'demo_one', TableName: 'sensors' }),
      );
      expect(partitions.Partitions?.map((p) => p.Values)).toEqual([['2026', '11', '23', '10']]);
      expect(await env.catalog.listTables()).toEqual(['sensors']);
    });

    it("each zone's Iceberg catalog commits into the pipeline's Glue database, named by the table's last path segment", async () => {
      const schema = defineSchema({ symbol: field.string(), close: field.double(), date: field.date() });
      const rows = [
        { symbol: 'BTC', close: 97_000.5, date: '2026-11-23' },
        { symbol: 'ETH', close: 3_100.25, date: '2026-11-24' },
      ];
      const catalog = env.icebergCatalog('curated');
      expect(catalog).toBeDefined();

      const first = await writeDataset(rows, {
        storage: env.lake.curated,
        table: 'coinmarketcap/coin_daily',
        schema,
        partitionBy: byDay('date'),
        mode: 'overwrite',
        tableFormat: 'iceberg',
        catalog,
      });
      const second = await writeDataset(rows.slice(0, 1), {
        storage: env.lake.curated,
        table: 'coinmarketcap/coin_daily',
        schema,
        partitionBy: byDay('date'),
        mode: 'overwrite',
        tableFormat: 'iceberg',
        catalog,
      });

      const { Table } = await env.clients.glue.send(
        new GetTableCommand({ DatabaseName: 'demo_one', Name: 'coin_daily' }),
      );
      expect(Table?.Parameters?.table_type).toBe('ICEBERG');
      expect(Table?.StorageDescriptor?.Location).toBe(`s3://${name}-lake-curated/coinmarketcap/coin_daily`);
      expect(Table?.Parameters?.metadata_location).toMatch(
        new RegExp(`^s3://${name}-lake-curated/coinmarketcap/coin_daily/metadata/.+\\.metadata\\.json$`),
      );
      expect(Table?.Parameters?.previous_metadata_location).toMatch(/\.metadata\.json$/);
      expect(Table?.PartitionKeys ?? []).toEqual([]);
      expect(second.snapshotId).not.toBe(first.snapshotId);
      const read = async (snapshotId?: string) => {
        const records: unknown[] = [];
        const options = { storage: env.lake.curated, table: 'coinmarketcap/coin_daily', schema, catalog };
        for await (const record of readDataset(snapshotId ? { ...options, snapshotId } : options))
          records.push(record);
        return records;
      };
      expect(await read()).toHaveLength(1);
      expect(await read(first.snapshotId)).toHaveLength(2);
    });

    it('the Kinesis client puts a record on the stream and reads it back from its shard', async () => {
      const { client, streamName } = env.kinesis;
      const put = await client.send(
        new PutRecordCommand({
          StreamName: streamName,
          PartitionKey: 'sensor-1',
          Data: new TextEncoder().encode('{"id":"k1"}'),
        }),
      );
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: put.ShardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: put.SequenceNumber,
        }),
      );
      const got = await client.send(new GetRecordsCommand({ ShardIterator }));
      expect(got.Records?.map((r) => new TextDecoder().decode(r.Data))).toEqual(['{"id":"k1"}']);
      const shards = await client.send(new ListShardsCommand({ StreamName: streamName }));
      expect(shards.Shards).toHaveLength(2);
    });

    it("the Athena engine runs a statement in the config's workgroup, database and result location", async () => {
      const stats = await env.engine.execute('CREATE DATABASE IF NOT EXISTS demo_one_scratch');
      expect(stats.engine).toBe('athena');

      const execution = await env.clients.athena.send(
        new GetQueryExecutionCommand({ QueryExecutionId: stats.queryId }),
      );
      expect(execution.QueryExecution?.Query).toBe('CREATE DATABASE IF NOT EXISTS demo_one_scratch');
      expect(execution.QueryExecution?.Status?.State).toBe('SUCCEEDED');
      expect(execution.QueryExecution?.WorkGroup).toBe('primary');
      expect(execution.QueryExecution?.QueryExecutionContext?.Database).toBe('demo_one');
      // Athena (and moto) put each result file under the location given: `<output><query id>.csv`.
      expect(execution.QueryExecution?.ResultConfiguration?.OutputLocation).toBe(
        `s3://${name}-lake-curated/_athena-results/${stats.queryId}.csv`,
      );
    });

    it('the source pool reaches the PostgreSQL of DATABASE_URL; describe() shows where things are without the password', async () => {
      const { rows } = await env.sourcePool.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]?.db).toBe(postgres.database);

      const where = env.describe();
      expect(where['raw zone']).toBe(`s3://${name}-lake-raw`);
      expect(where['Kinesis stream']).toBe(`${name}-sensors`);
      expect(where['Firehose delivery stream']).toBe(`${name}-sensors-to-raw`);
      expect(where['s3 endpoint']).toBe(moto.endpoint);
      expect(where.PostgreSQL).toContain(`127.0.0.1:${postgres.port}`);
      expect(JSON.stringify(where)).not.toContain(postgres.password);
      // No REDSHIFT_URL and the aws default warehouse (redshift): no loader, the stage is skipped.
      expect(env.loader).toBeUndefined();
    });
  });

  describe('teardown', () => {
    it('removes the delivery stream, the stream, the Glue tables and database, and empties and deletes the buckets', async () => {
      const report = await env.cleanup();

      expect(report.missing).toEqual([]);
      expect(report.kept).toEqual([]);
      expect([...report.deleted].sort()).toEqual(
        [
          `firehose delivery stream ${name}-sensors-to-raw`,
          `kinesis stream ${name}-sensors`,
          'glue table demo_one.sensors',
          'glue table demo_one.coin_daily',
          'glue database demo_one',
          `s3 bucket ${name}-lake-raw`,
          `s3 bucket ${name}-lake-processed`,
          `s3 bucket ${name}-lake-curated`,
        ].sort(),
      );
      const { kinesis, s3, glue, firehose } = env.clients;
      expect(
        await notFound(kinesis.send(new DescribeStreamSummaryCommand({ StreamName: `${name}-sensors` }))),
      ).toBe('ResourceNotFoundException');
      for (const zone of ['raw', 'processed', 'curated']) {
        expect(await notFound(s3.send(new HeadBucketCommand({ Bucket: `${name}-lake-${zone}` })))).toBe(
          'NotFound',
        );
      }
      expect(await notFound(glue.send(new GetDatabaseCommand({ Name: 'demo_one' })))).toBe(
        'EntityNotFoundException',
      );
      expect(
        await notFound(
          firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: `${name}-sensors-to-raw` })),
        ),
      ).toBe('ResourceNotFoundException');
    });

    it('a second teardown finds nothing left and deletes nothing', async () => {
      const report = await env.cleanup();
      expect(report.deleted).toEqual([]);
      expect(report.missing).toHaveLength(6);
    });
  });
});

describe('teardownAws (moto_server)', () => {
  it('zones under prefixes of a shared bucket: empties those prefixes only and keeps the bucket, other objects and other resources', async () => {
    const config = configFor('demo-shared', {
      TRIBUTARY_BUCKET_PREFIX: undefined,
      TRIBUTARY_LAKE_RAW: 's3://demo-shared/lake/raw',
      TRIBUTARY_LAKE_PROCESSED: 's3://demo-shared/lake/processed',
      TRIBUTARY_LAKE_CURATED: 's3://demo-shared/lake/curated',
    });
    const env = await createAwsEnvironment({ config, credentials: moto.credentials });
    try {
      expect(env.provisioned.created).toContain('s3 bucket demo-shared');
      expect(env.provisioned.created.filter((r) => r.startsWith('s3 bucket'))).toHaveLength(1);
      const { s3, kinesis } = env.clients;
      await env.lake.processed.put('t/part-0.txt', 'ours');
      await s3.send(
        new PutObjectCommand({ Bucket: 'demo-shared', Key: 'other-team/keep.txt', Body: 'theirs' }),
      );
      await s3.send(new CreateBucketCommand({ Bucket: 'demo-shared-neighbour' }));
      await kinesis.send(new CreateStreamCommand({ StreamName: 'neighbour-stream', ShardCount: 1 }));

      const report = await env.cleanup();

      expect(report.kept).toEqual([
        's3 bucket demo-shared (emptied lake/raw/*, lake/processed/*, lake/curated/* only: the zones are prefixes of it)',
      ]);
      const left = await s3.send(new ListObjectsV2Command({ Bucket: 'demo-shared' }));
      expect(left.Contents?.map((o) => o.Key)).toEqual(['other-team/keep.txt']);
      expect(
        (await s3.send(new HeadBucketCommand({ Bucket: 'demo-shared-neighbour' }))).$metadata.httpStatusCode,
      ).toBe(200);
      const neighbour = await kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: 'neighbour-stream' }),
      );
      expect(neighbour.StreamDescriptionSummary?.StreamStatus).toBe('ACTIVE');
      expect(report.deleted).toContain('kinesis stream demo-shared-sensors');
    } finally {
      await env.close();
    }
  });

  it('empties a versioned zone bucket of every version and delete marker before deleting it', async () => {
    const config = configFor('demo-versioned');
    const env = await createAwsEnvironment({ config, credentials: moto.credentials });
    try {
      const { s3 } = env.clients;
      await s3.send(
        new PutBucketVersioningCommand({
          Bucket: 'demo-versioned-lake-raw',
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
      await env.lake.raw.put('a.txt', 'one');
      await env.lake.raw.put('a.txt', 'two');
      await env.lake.raw.delete(['a.txt']);
      const before = await s3.send(new ListObjectVersionsCommand({ Bucket: 'demo-versioned-lake-raw' }));
      expect(before.Versions).toHaveLength(2);
      expect(before.DeleteMarkers).toHaveLength(1);

      const report = await env.cleanup();

      expect(report.deleted).toContain('s3 bucket demo-versioned-lake-raw');
      expect(await notFound(s3.send(new HeadBucketCommand({ Bucket: 'demo-versioned-lake-raw' })))).toBe(
        'NotFound',
      );
    } finally {
      await env.close();
    }
  });

  it('provisionAws and teardownAws stop at once on an aborted signal', async () => {
    const config = configFor('demo-abort');
    const env = await createAwsEnvironment({ config, credentials: moto.credentials, provision: false });
    try {
      expect(env.provisioned).toEqual({ created: [], existing: [] });
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await expect(provisionAws(env.clients, config, { signal: controller.signal })).rejects.toThrow('stop');
      await expect(teardownAws(env.clients, config, { signal: controller.signal })).rejects.toThrow('stop');
      expect(
        await notFound(
          env.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'demo-abort-sensors' })),
        ),
      ).toBe('ResourceNotFoundException');
    } finally {
      await env.close();
    }
  });
});

describe('createAwsEnvironment configuration', () => {
  it('fails with a ConfigError naming DATABASE_URL when it is missing, before provisioning anything', async () => {
    const config = configFor('demo-nodb', { DATABASE_URL: undefined });

    const err = await createAwsEnvironment({ config, credentials: moto.credentials }).catch(
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(ConfigError);
    expect(TributaryError.isInstance(err)).toBe(true);
    expect((err as ConfigError).variable).toBe('DATABASE_URL');
    expect((err as ConfigError).message).toContain('DATABASE_URL');
    const probe = await createAwsEnvironment({
      config: configFor('demo-nodb'),
      credentials: moto.credentials,
      provision: false,
    });
    try {
      expect(
        await notFound(
          probe.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'demo-nodb-sensors' })),
        ),
      ).toBe('ResourceNotFoundException');
    } finally {
      await probe.close();
    }
  });

  it('fails with a ConfigError naming the variable for a local-mode config and for Firehose without a role', async () => {
    const local = await createAwsEnvironment({ config: loadConfig({ DATABASE_URL: postgres.url }) }).catch(
      (e: unknown) => e,
    );
    expect((local as ConfigError).variable).toBe('TRIBUTARY_MODE');

    const noRole = await createAwsEnvironment({
      config: configFor('demo-norole'),
      env: { TRIBUTARY_FIREHOSE_ROLE_ARN: ' ' },
      firehose: true,
    }).catch((e: unknown) => e);
    expect(noRole).toBeInstanceOf(ConfigError);
    expect((noRole as ConfigError).variable).toBe('TRIBUTARY_FIREHOSE_ROLE_ARN');
  });

  it('fails with an OptionsError naming the option for options that are not settings', async () => {
    const notObject = await createAwsEnvironment(null as never).catch((e: unknown) => e);
    const badFirehose = await createAwsEnvironment({
      config: configFor('demo-badfirehose'),
      firehose: 'yes' as never,
      provision: false,
    }).catch((e: unknown) => e);

    for (const [failure, option] of [
      [notObject, 'options'],
      [badFirehose, 'firehose'],
    ] as const) {
      expect(failure).toBeInstanceOf(OptionsError);
      expect(failure).toMatchObject({ code: 'AWS_ENVIRONMENT_OPTIONS_INVALID', option, context: { option } });
    }
  });

  it('reads the config and the Firehose role from `env` when no config is given (as the quickstart passes them)', async () => {
    const env = await createAwsEnvironment({
      env: {
        TRIBUTARY_MODE: 'aws',
        AWS_REGION: moto.region,
        AWS_ENDPOINT_URL: moto.endpoint,
        TRIBUTARY_BUCKET_PREFIX: 'demo-fromenv',
        TRIBUTARY_STREAM: 'demo-fromenv-sensors',
        DATABASE_URL: postgres.url,
        TRIBUTARY_FIREHOSE_ROLE_ARN: FIREHOSE_ROLE,
      },
      firehose: true,
      credentials: moto.credentials,
    });
    try {
      expect(env.provisioned.created).toContain('firehose delivery stream demo-fromenv-sensors-to-raw');
      expect(env.describe()['raw zone']).toBe('s3://demo-fromenv-raw');
      expect((await env.cleanup()).deleted).toContain('s3 bucket demo-fromenv-raw');
    } finally {
      await env.close();
    }
  });

  it('picks the loader from the config: RedshiftLoader with REDSHIFT_URL and its role, PostgresLoader with TRIBUTARY_WAREHOUSE=postgres', async () => {
    const redshift = await createAwsEnvironment({
      config: configFor('demo-rs', {
        REDSHIFT_URL: 'postgres://awsuser:s3cret@redshift.example.invalid:5439/dev',
        TRIBUTARY_REDSHIFT_IAM_ROLE: 'arn:aws:iam::123456789012:role/RedshiftCopy',
      }),
      credentials: moto.credentials,
      provision: false,
    });
    const postgresWarehouse = await createAwsEnvironment({
      config: configFor('demo-pgw', { TRIBUTARY_WAREHOUSE: 'postgres' }),
      credentials: moto.credentials,
      provision: false,
    });
    try {
      expect(redshift.loader).toBeInstanceOf(RedshiftLoader);
      expect(redshift.describe().Redshift).toBe('postgres://awsuser@redshift.example.invalid:5439/dev');
      expect(postgresWarehouse.loader).toBeInstanceOf(PostgresLoader);
    } finally {
      await Promise.all([redshift.close(), postgresWarehouse.close()]);
    }

    const noRole = await createAwsEnvironment({
      config: configFor('demo-rs', {
        REDSHIFT_URL: 'postgres://awsuser:s3cret@redshift.example.invalid:5439/dev',
      }),
      provision: false,
    }).catch((e: unknown) => e);
    expect((noRole as ConfigError).variable).toBe('TRIBUTARY_REDSHIFT_IAM_ROLE');
  });
});
