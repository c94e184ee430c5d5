import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateEndpointCommand,
  type CreateEndpointCommandInput,
  CreateReplicationTaskCommand,
  type CreateReplicationTaskCommandInput,
  DatabaseMigrationServiceClient,
  DescribeEndpointsCommand,
} from '@aws-sdk/client-database-migration-service';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDmsReplicationTaskInput,
  createDmsS3TargetEndpointInput,
  type DmsFileLayout,
} from '../../src/dms.js';

// The DMS setup over the wire: the AWS SDK for JavaScript sends the builders' inputs to
// moto_server's DMS, and botocore (an independent model of the DMS API) checks the same inputs:
// enum values, member names, types and required members. moto itself checks little (see the last
// test), so what DMS would say about the settings' combination remains unproven here. moto answers
// the replication instance and task calls with ISO-8601 text where the JSON protocol has epoch
// seconds: the JavaScript SDK refuses those responses (botocore takes them), so those calls are
// read back through botocore.

const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const CHECK = resolve(here, '../fixtures/check_dms_inputs.py');
const ROLE = 'arn:aws:iam::123456789012:role/dms-s3-raw';

let moto: MotoServer;
let dms: DatabaseMigrationServiceClient;
let instanceArn: string;
let sourceArn: string;

type BotocoreResult =
  | { ok: true; response: Record<string, unknown> }
  | { ok: false; stage: string; error: string };

function botocore(calls: { operation: string; params: unknown }[]): BotocoreResult[] {
  const run = spawnSync(PYTHON, [CHECK], {
    input: JSON.stringify({ endpoint: moto.endpoint, calls }),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`check_dms_inputs.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as BotocoreResult[];
}

const LAYOUTS: { id: string; layout: DmsFileLayout }[] = [
  { id: 'csv-defaults', layout: {} },
  {
    id: 'csv-everything',
    layout: {
      addColumnName: true,
      includeOpForFullLoad: true,
      timestampColumnName: 'dms_commit_ts',
      datePartitionEnabled: true,
      datePartitionSequence: 'DDMMYYYY',
      datePartitionDelimiter: 'UNDERSCORE',
    },
  },
  {
    id: 'parquet-everything',
    layout: {
      dataFormat: 'parquet',
      includeOpForFullLoad: true,
      timestampColumnName: 'dms_commit_ts',
      datePartitionEnabled: true,
      datePartitionSequence: 'YYYYMMDDHH',
      datePartitionDelimiter: 'SLASH',
    },
  },
];

const targetInput = (id: string, layout: DmsFileLayout) =>
  createDmsS3TargetEndpointInput({
    endpointIdentifier: `cmc-raw-${id}`,
    bucketName: 'acme-tributary-raw',
    serviceAccessRoleArn: ROLE,
    layout,
    maxFileSizeKb: 65_536,
    cdcMaxBatchIntervalSeconds: 120,
  });

beforeAll(async () => {
  moto = await startMotoServer();
  dms = new DatabaseMigrationServiceClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: moto.credentials,
  });
  const [instance] = botocore([
    {
      operation: 'CreateReplicationInstance',
      params: { ReplicationInstanceIdentifier: 'tributary', ReplicationInstanceClass: 'dms.t3.micro' },
    },
  ]);
  if (!instance?.ok) throw new Error(`CreateReplicationInstance failed: ${JSON.stringify(instance)}`);
  instanceArn = (instance.response.ReplicationInstance as { ReplicationInstanceArn: string })
    .ReplicationInstanceArn;
  const source = await dms.send(
    new CreateEndpointCommand({
      EndpointIdentifier: 'cmc-postgres',
      EndpointType: 'source',
      EngineName: 'postgres',
      ServerName: 'cmc.xxxx.us-east-1.rds.amazonaws.com',
      Port: 5432,
      DatabaseName: 'tributary',
      Username: 'dms',
      Password: 'not-a-secret',
    }),
  );
  sourceArn = source.Endpoint?.EndpointArn as string;
}, 60_000);

afterAll(async () => {
  dms?.destroy();
  await moto?.stop();
});

describe('DMS setup against moto_server', () => {
  it.each(LAYOUTS)(
    'creates the S3 target endpoint of layout $id and reads its settings back',
    async ({ id, layout }) => {
      const input = targetInput(id, layout);

      const created = await dms.send(new CreateEndpointCommand(input));
      const described = await dms.send(
        new DescribeEndpointsCommand({ Filters: [{ Name: 'endpoint-id', Values: [`cmc-raw-${id}`] }] }),
      );

      expect(created.Endpoint?.EndpointArn).toMatch(/^arn:aws:dms:us-east-1:123456789012:endpoint:/);
      expect(described.Endpoints).toHaveLength(1);
      expect(described.Endpoints?.[0]).toMatchObject({ EndpointType: 'target', EngineName: 's3' });
      expect(described.Endpoints?.[0]?.S3Settings).toEqual(input.S3Settings);
    },
  );

  it('creates and starts the full load + CDC task with the table mappings', async () => {
    const target = await dms.send(
      new CreateEndpointCommand(targetInput('for-task', { dataFormat: 'parquet' })),
    );
    const input = createDmsReplicationTaskInput({
      replicationTaskIdentifier: 'cmc-to-raw',
      sourceEndpointArn: sourceArn,
      targetEndpointArn: target.Endpoint?.EndpointArn as string,
      replicationInstanceArn: instanceArn,
    });

    // Sent by the JavaScript SDK; moto stores the task, then its answer fails the SDK's parsing.
    const sent = await dms.send(new CreateReplicationTaskCommand(input)).catch((err: unknown) => err);
    const [described, started] = botocore([
      {
        operation: 'DescribeReplicationTasks',
        params: { Filters: [{ Name: 'replication-task-id', Values: ['cmc-to-raw'] }] },
      },
      {
        operation: 'StartReplicationTask',
        params: {
          ReplicationTaskArn: 'arn:aws:dms:us-east-1:123456789012:task:cmc-to-raw',
          StartReplicationTaskType: 'start-replication',
        },
      },
    ]);

    expect(String(sent)).toContain('Expected real number');
    expect(described).toMatchObject({
      ok: true,
      response: {
        ReplicationTasks: [
          {
            ReplicationTaskIdentifier: 'cmc-to-raw',
            MigrationType: 'full-load-and-cdc',
            SourceEndpointArn: sourceArn,
            ReplicationInstanceArn: instanceArn,
            TableMappings: input.TableMappings,
            ReplicationTaskSettings: input.ReplicationTaskSettings,
          },
        ],
      },
    });
    expect(started).toMatchObject({ ok: true, response: { ReplicationTask: { Status: 'running' } } });
  });

  it("passes botocore's model of the DMS API: enums, member names, types, required members", () => {
    const calls = [
      ...LAYOUTS.map(({ id, layout }) => ({
        operation: 'CreateEndpoint',
        params: targetInput(`botocore-${id}`, layout) as unknown,
      })),
      {
        operation: 'CreateReplicationTask',
        params: createDmsReplicationTaskInput({
          replicationTaskIdentifier: 'cmc-to-raw-botocore',
          sourceEndpointArn: sourceArn,
          targetEndpointArn: sourceArn.replace(/:endpoint:.*/, ':endpoint:TARGET'),
          replicationInstanceArn: instanceArn,
        }),
      },
      // The checks can fail: a misspelt setting and a value outside an enum.
      {
        operation: 'CreateEndpoint',
        params: {
          ...targetInput('botocore-misspelt', {}),
          S3Settings: { BucketName: 'acme-tributary-raw', DatePartitionDelimter: 'SLASH' },
        },
      },
      {
        operation: 'CreateEndpoint',
        params: { ...targetInput('botocore-enum', {}), S3Settings: { BucketName: 'b', DataFormat: 'json' } },
      },
    ];

    const results = botocore(calls);

    expect(results.slice(0, 4).map((r) => (r.ok ? 'ok' : `${r.stage}: ${r.error}`))).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
    expect(results[4]).toMatchObject({ ok: false, stage: 'botocore' });
    expect((results[4] as { error: string }).error).toContain('DatePartitionDelimter');
    expect(results[5]).toMatchObject({ ok: false, stage: 'model' });
  });

  it('shows what moto checks: the endpoint type and unique task ids, not settings, mappings or ARNs', async () => {
    const bogusSettings: CreateEndpointCommandInput = {
      EndpointIdentifier: 'cmc-raw-bogus',
      EndpointType: 'target',
      EngineName: 's3',
      S3Settings: {
        BucketName: 'acme',
        DataFormat: 'xml' as never,
        CdcInsertsOnly: true,
        CdcInsertsAndUpdates: true,
      },
    };
    const bogusTask: CreateReplicationTaskCommandInput = {
      ReplicationTaskIdentifier: 'bogus-task',
      SourceEndpointArn: 'arn:aws:dms:us-east-1:123456789012:endpoint:NOSUCHSOURCE',
      TargetEndpointArn: 'arn:aws:dms:us-east-1:123456789012:endpoint:NOSUCHTARGET',
      ReplicationInstanceArn: 'arn:aws:dms:us-east-1:123456789012:rep:nosuch',
      MigrationType: 'full-load-and-cdc',
      TableMappings: 'not JSON at all',
    };

    const settings = await dms.send(new CreateEndpointCommand(bogusSettings));
    const [task, again] = botocore([
      { operation: 'CreateReplicationTask', params: bogusTask },
      { operation: 'CreateReplicationTask', params: bogusTask },
    ]);
    const type = await dms
      .send(
        new CreateEndpointCommand({
          ...bogusSettings,
          EndpointIdentifier: 'x',
          EndpointType: 'bogus' as never,
        }),
      )
      .catch((err: unknown) => err);

    expect(settings.Endpoint?.S3Settings).toMatchObject({ DataFormat: 'xml' });
    expect(task).toMatchObject({
      ok: true,
      response: { ReplicationTask: { TableMappings: 'not JSON at all' } },
    });
    expect(again).toMatchObject({ ok: false, stage: 'service' });
    expect((again as { error: string }).error).toContain('ResourceAlreadyExistsFault');
    expect(type).toMatchObject({ name: 'ValidationError' });
  });
});
