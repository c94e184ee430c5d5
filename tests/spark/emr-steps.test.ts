import { describe, expect, it } from 'vitest';
import { buildEmrSteps, EmrStepsError, ICEBERG_CLUSTER_CONFIGURATIONS } from '../../spark/emr/steps.js';

const zones = { raw: 's3://acme-raw', processed: 's3://acme-processed/zone/', curated: 's3://acme-curated' };
const code = 's3://acme-artifacts/tributary/spark/';

describe('buildEmrSteps', () => {
  it('builds one spark-submit step per job, sensors then crypto, with the zones as arguments', () => {
    const steps = buildEmrSteps({ code, zones });

    expect(steps.map((s) => s.Name)).toEqual([
      'tributary sensors_raw_to_processed',
      'tributary sensors_processed_to_curated',
      'tributary crypto_raw_to_processed',
      'tributary crypto_processed_to_curated',
    ]);
    expect(steps[0]).toEqual({
      Name: 'tributary sensors_raw_to_processed',
      ActionOnFailure: 'CANCEL_AND_WAIT',
      HadoopJarStep: {
        Jar: 'command-runner.jar',
        Args: [
          'spark-submit',
          '--deploy-mode',
          'cluster',
          '--py-files',
          's3://acme-artifacts/tributary/spark/jobs/tributary_common.py,s3://acme-artifacts/tributary/spark/jobs/sensor_validation.py,s3://acme-artifacts/tributary/spark/jobs/crypto_math.py',
          's3://acme-artifacts/tributary/spark/jobs/sensors_raw_to_processed.py',
          '--raw',
          's3://acme-raw',
          '--processed',
          's3://acme-processed/zone',
          '--schemas',
          's3://acme-artifacts/tributary/spark/schemas',
        ],
      },
    });
    expect(steps[3]?.HadoopJarStep.Args).toContain('--convert');
  });

  it('passes dates, lateness, convert, extra spark-submit options and the failure action', () => {
    const steps = buildEmrSteps({
      code,
      zones,
      pipelines: ['sensors'],
      dates: ['2026-11-23'],
      maxLatenessHours: 12,
      actionOnFailure: 'CONTINUE',
      sparkSubmitArgs: ['--conf', 'spark.executor.memory=4g'],
    });

    expect(steps).toHaveLength(2);
    const args = steps[0]?.HadoopJarStep.Args ?? [];
    expect(args.slice(5, 7)).toEqual(['--conf', 'spark.executor.memory=4g']);
    expect(args).toEqual(expect.arrayContaining(['--max-lateness-hours', '12', '--dates', '2026-11-23']));
    expect(steps[1]?.HadoopJarStep.Args).toEqual(expect.arrayContaining(['--dates', '2026-11-23']));
    expect(steps.every((s) => s.ActionOnFailure === 'CONTINUE')).toBe(true);
  });

  it('on Iceberg: the Glue catalog and Iceberg extensions for spark-submit, the table format and catalog for the job', () => {
    const steps = buildEmrSteps({
      code,
      zones,
      pipelines: ['crypto'],
      tableFormat: 'iceberg',
      icebergCatalog: { database: 'tributary_lake' },
    });

    const args = steps[1]?.HadoopJarStep.Args ?? [];
    const script = args.indexOf('s3://acme-artifacts/tributary/spark/jobs/crypto_processed_to_curated.py');
    expect(args.slice(5, script)).toEqual([
      '--conf',
      'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
      '--conf',
      'spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog',
      '--conf',
      'spark.sql.catalog.glue_catalog.type=glue',
      '--conf',
      'spark.sql.catalog.glue_catalog.warehouse=s3://acme-processed/zone/',
      '--conf',
      'spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO',
    ]);
    expect(args.slice(-6)).toEqual([
      '--table-format',
      'iceberg',
      '--catalog',
      'glue_catalog',
      '--database',
      'tributary_lake',
    ]);
    expect(ICEBERG_CLUSTER_CONFIGURATIONS).toEqual([
      { Classification: 'iceberg-defaults', Properties: { 'iceberg.enabled': 'true' } },
    ]);
  });

  it('hive (the default) adds no Iceberg setting', () => {
    const args = buildEmrSteps({ code, zones }).flatMap((s) => s.HadoopJarStep.Args);

    expect(args.join(' ')).not.toMatch(/iceberg|--table-format|--catalog/);
  });

  it.each([
    ['an unknown table format', { code, zones, tableFormat: 'delta' }, 'tableFormat'],
    ['iceberg without a catalog', { code, zones, tableFormat: 'iceberg' }, 'icebergCatalog'],
    ['a catalog with hive', { code, zones, icebergCatalog: { database: 'lake' } }, 'icebergCatalog'],
    [
      'a bad Glue database',
      { code, zones, tableFormat: 'iceberg', icebergCatalog: { database: 'My Lake' } },
      'icebergCatalog.database',
    ],
    [
      'a bad catalog name',
      { code, zones, tableFormat: 'iceberg', icebergCatalog: { database: 'lake', name: 'glue-catalog' } },
      'icebergCatalog.name',
    ],
    ['a local code folder', { code: 'spark', zones }, 'code'],
    ['a zone that is not on S3', { code, zones: { ...zones, raw: 'file:///tmp/raw' } }, 'zones.raw'],
    ['no zones', { code }, 'zones'],
    ['an unknown pipeline', { code, zones, pipelines: ['weather'] }, 'pipelines'],
    ['a bad day', { code, zones, dates: ['23/11/2026'] }, 'dates'],
    ['a negative lateness', { code, zones, maxLatenessHours: -1 }, 'maxLatenessHours'],
    ['an unknown action', { code, zones, actionOnFailure: 'RETRY' }, 'actionOnFailure'],
  ])('rejects %s with a typed error', (_name, options, option) => {
    let error: unknown;
    try {
      buildEmrSteps(options as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EmrStepsError);
    expect((error as EmrStepsError).code).toBe('EMR_STEPS_INVALID');
    expect((error as EmrStepsError).context.option).toBe(option);
  });
});
