import { describe, expect, it } from 'vitest';
import {
  createDmsReplicationTaskInput,
  createDmsS3TargetEndpointInput,
  DmsSetupError,
  dmsTableMappings,
} from '../../src/dms.js';

const ROLE = 'arn:aws:iam::123456789012:role/dms-s3-raw';
const endpoint = (extra: Partial<Parameters<typeof createDmsS3TargetEndpointInput>[0]> = {}) =>
  createDmsS3TargetEndpointInput({
    endpointIdentifier: 'cmc-raw',
    bucketName: 'acme-tributary-raw',
    serviceAccessRoleArn: ROLE,
    ...extra,
  });
const TASK = {
  replicationTaskIdentifier: 'cmc-to-raw',
  sourceEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:endpoint:CMCPOSTGRES',
  targetEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:endpoint:CMCRAW',
  replicationInstanceArn: 'arn:aws:dms:eu-west-1:123456789012:rep:TRIBUTARY',
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('createDmsS3TargetEndpointInput', () => {
  it('spells out every file-shaping setting of a CSV endpoint, DMS defaults included', () => {
    const input = endpoint();

    expect(input).toEqual({
      EndpointIdentifier: 'cmc-raw',
      EndpointType: 'target',
      EngineName: 's3',
      S3Settings: {
        ServiceAccessRoleArn: ROLE,
        BucketName: 'acme-tributary-raw',
        BucketFolder: 'coinmarketcap',
        DataFormat: 'csv',
        CompressionType: 'none',
        IncludeOpForFullLoad: false,
        CdcInsertsOnly: false,
        CdcInsertsAndUpdates: false,
        PreserveTransactions: false,
        DatePartitionEnabled: false,
        AddColumnName: false,
        CsvDelimiter: ',',
        CsvRowDelimiter: '\n',
        CsvNullValue: '',
        Rfc4180: true,
      },
    });
  });

  it('maps a Parquet layout with date folders and a timestamp column, and no CSV settings', () => {
    const input = endpoint({
      prefix: 'lake/raw/cmc/',
      layout: {
        dataFormat: 'parquet',
        includeOpForFullLoad: true,
        timestampColumnName: 'dms_commit_ts',
        datePartitionEnabled: true,
        datePartitionSequence: 'YYYYMMDDHH',
        datePartitionDelimiter: 'DASH',
      },
      parquetTimestampInMillisecond: false,
      maxFileSizeKb: 65_536,
      cdcMaxBatchIntervalSeconds: 300,
    });

    expect(input.S3Settings).toMatchObject({
      BucketFolder: 'lake/raw/cmc',
      DataFormat: 'parquet',
      IncludeOpForFullLoad: true,
      TimestampColumnName: 'dms_commit_ts',
      DatePartitionEnabled: true,
      DatePartitionSequence: 'YYYYMMDDHH',
      DatePartitionDelimiter: 'DASH',
      ParquetVersion: 'parquet-1-0',
      ParquetTimestampInMillisecond: false,
      EnableStatistics: true,
      MaxFileSize: 65_536,
      CdcMaxBatchInterval: 300,
    });
    expect(
      Object.keys(input.S3Settings ?? {}).filter((k) => k.startsWith('Csv') || k === 'AddColumnName'),
    ).toEqual([]);
    expect(endpoint({ prefix: '' }).S3Settings).not.toHaveProperty('BucketFolder');
  });

  it.each([
    [{ endpointIdentifier: '1cmc' }, 'endpointIdentifier'],
    [{ endpointIdentifier: 'cmc--raw' }, 'endpointIdentifier'],
    [{ endpointIdentifier: 'cmc-raw-' }, 'endpointIdentifier'],
    [{ bucketName: 'arn:aws:s3:::acme' }, 'bucketName'],
    [{ serviceAccessRoleArn: 'dms-s3-raw' }, 'serviceAccessRoleArn'],
    [{ prefix: 'coinmarketcap' }, 'prefix'],
    [{ prefix: '/coinmarketcap/' }, 'prefix'],
    [{ layout: { dataFormat: 'json' } }, 'layout'],
    [{ layout: { datePartitionSequence: 'YYYY' } }, 'layout'],
    [{ layout: { addColumnNames: true } }, 'layout'],
    [{ layout: { timestampColumnName: 'Op' } }, 'layout'],
    [{ layout: { timestampColumnName: 'last_updated' } }, 'layout.timestampColumnName'],
    [{ maxFileSizeKb: 2_000_000 }, 'maxFileSizeKb'],
    [{ parquetTimestampInMillisecond: 'yes' }, 'parquetTimestampInMillisecond'],
  ] as [Record<string, unknown>, string][])('refuses %o with a DmsSetupError naming %s', (extra, option) => {
    const error = thrown(() => endpoint(extra as never));

    expect(error).toBeInstanceOf(DmsSetupError);
    expect(error).toMatchObject({ code: 'CMC_DMS_OPTIONS_INVALID', context: { option } });
  });
});

describe('dmsTableMappings', () => {
  it('selects each table by name, never by wildcard, with unique rule ids and names', () => {
    const { rules } = dmsTableMappings('cmc', ['quote', 'cryptocurrency', 'quote']);

    expect(rules).toEqual([
      {
        'rule-type': 'selection',
        'rule-id': '1',
        'rule-name': 'include-quote',
        'object-locator': { 'schema-name': 'cmc', 'table-name': 'quote' },
        'rule-action': 'include',
      },
      {
        'rule-type': 'selection',
        'rule-id': '2',
        'rule-name': 'include-cryptocurrency',
        'object-locator': { 'schema-name': 'cmc', 'table-name': 'cryptocurrency' },
        'rule-action': 'include',
      },
    ]);
    expect(dmsTableMappings().rules.map((r) => r['object-locator']['table-name'])).toEqual([
      'platform',
      'tag',
      'cryptocurrency',
      'cryptocurrency_tag',
      'quote',
      'load',
    ]);
  });
});

describe('createDmsReplicationTaskInput', () => {
  it('builds a full load + CDC task over the crypto tables in limited LOB mode', () => {
    const input = createDmsReplicationTaskInput({
      ...TASK,
      schema: 'cmc',
      tables: ['cryptocurrency', 'quote'],
    });

    expect(input).toMatchObject({
      ReplicationTaskIdentifier: TASK.replicationTaskIdentifier,
      SourceEndpointArn: TASK.sourceEndpointArn,
      TargetEndpointArn: TASK.targetEndpointArn,
      ReplicationInstanceArn: TASK.replicationInstanceArn,
      MigrationType: 'full-load-and-cdc',
    });
    expect(JSON.parse(input.TableMappings as string)).toEqual(
      dmsTableMappings('cmc', ['cryptocurrency', 'quote']),
    );
    expect(JSON.parse(input.ReplicationTaskSettings as string)).toEqual({
      TargetMetadata: { SupportLobs: true, FullLobMode: false, LimitedSizeLobMode: true, LobMaxSize: 32 },
      FullLoadSettings: { TargetTablePrepMode: 'DROP_AND_CREATE' },
    });
  });

  it.each([
    [{ sourceEndpointArn: 'arn:aws:dms:eu-west-1:123456789012:rep:X' }, 'sourceEndpointArn'],
    [{ targetEndpointArn: TASK.sourceEndpointArn }, 'targetEndpointArn'],
    [{ replicationInstanceArn: TASK.targetEndpointArn }, 'replicationInstanceArn'],
    [{ migrationType: 'full-load-and-cdc-and-more' }, 'migrationType'],
    [{ tables: ['quote', '_changes'] }, 'tables'],
    [{ tables: [] }, 'tables'],
    [{ schema: 'cmc; DROP' }, 'schema'],
    [{ lobMaxSizeKb: 0 }, 'lobMaxSizeKb'],
  ] as [Record<string, unknown>, string][])('refuses %o with a DmsSetupError naming %s', (extra, option) => {
    const error = thrown(() => createDmsReplicationTaskInput({ ...TASK, ...extra } as never));

    expect(error).toBeInstanceOf(DmsSetupError);
    expect(error).toMatchObject({ code: 'CMC_DMS_OPTIONS_INVALID', context: { option } });
  });
});
