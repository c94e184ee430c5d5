import { OptionsError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import {
  createDeliveryStreamInput,
  type DeliveryStreamInputOptions,
  FirehoseSetupError,
} from '../../src/firehose-setup.js';

const BASE: DeliveryStreamInputOptions = {
  deliveryStreamName: 'sensors-to-raw',
  kinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/sensors',
  roleArn: 'arn:aws:iam::123456789012:role/service-role/firehose-sensors',
  bucketArn: 'arn:aws:s3:::tributary-raw',
  prefix: 'sensors/',
};

function failure(options: Partial<DeliveryStreamInputOptions>): FirehoseSetupError {
  try {
    createDeliveryStreamInput({ ...BASE, ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(FirehoseSetupError);
    expect(err).toBeInstanceOf(OptionsError);
    return err as FirehoseSetupError;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

describe('createDeliveryStreamInput', () => {
  describe('shape', () => {
    it('builds a Kinesis-sourced stream into sensors/YYYY/MM/DD/HH/ with 60 s / 5 MiB buffering', () => {
      expect(createDeliveryStreamInput(BASE)).toEqual({
        DeliveryStreamName: 'sensors-to-raw',
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: {
          KinesisStreamARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/sensors',
          RoleARN: 'arn:aws:iam::123456789012:role/service-role/firehose-sensors',
        },
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::123456789012:role/service-role/firehose-sensors',
          BucketARN: 'arn:aws:s3:::tributary-raw',
          Prefix: 'sensors/!{timestamp:yyyy/MM/dd/HH}/',
          ErrorOutputPrefix: 'errors/sensors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
          BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 },
          CompressionFormat: 'UNCOMPRESSED',
          FileExtension: '.ndjson',
          CloudWatchLoggingOptions: { Enabled: false },
        },
      });
    });

    it('takes compression, buffering, prefixes and CloudWatch logging from the options', () => {
      const input = createDeliveryStreamInput({
        ...BASE,
        kinesisStreamArn: 'arn:aws-cn:kinesis:cn-north-1:123456789012:stream/sensors',
        prefix: 'iot/dt=!{timestamp:yyyy-MM-dd}/',
        errorPrefix: 'failed/!{firehose:error-output-type}/',
        bufferIntervalSeconds: 300,
        bufferSizeMiB: 64,
        compression: 'GZIP',
        logging: { logGroupName: '/aws/kinesisfirehose/sensors', logStreamName: 'S3Delivery' },
      });

      expect(input.ExtendedS3DestinationConfiguration).toMatchObject({
        Prefix: 'iot/dt=!{timestamp:yyyy-MM-dd}/',
        ErrorOutputPrefix: 'failed/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 64 },
        CompressionFormat: 'GZIP',
        FileExtension: '.ndjson.gz',
        CloudWatchLoggingOptions: {
          Enabled: true,
          LogGroupName: '/aws/kinesisfirehose/sensors',
          LogStreamName: 'S3Delivery',
        },
      });
    });

    it('always sets an ErrorOutputPrefix when the Prefix has expressions, as Firehose requires', () => {
      const prefixes = ['sensors/', '', 'a/!{timestamp:yyyy}/', 'b/!{firehose:random-string}/'];
      const errorPrefixes = [undefined, '', 'e/', 'e/!{timestamp:HH}/!{firehose:error-output-type}'];
      for (const prefix of prefixes) {
        for (const errorPrefix of errorPrefixes) {
          const destination = createDeliveryStreamInput({
            ...BASE,
            prefix,
            ...(errorPrefix === undefined ? {} : { errorPrefix }),
          }).ExtendedS3DestinationConfiguration;
          const prefixHasExpressions = /!\{[^}]+\}/.test(destination?.Prefix ?? '');
          expect(prefixHasExpressions).toBe(true);
          expect(destination?.ErrorOutputPrefix ?? '', `${prefix} / ${errorPrefix}`).not.toBe('');
          expect(destination?.ErrorOutputPrefix).toContain('!{firehose:error-output-type}');
        }
      }
    });
  });

  describe('validation', () => {
    it('rejects ARNs of the wrong service or shape', () => {
      expect(
        failure({ kinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:sensors' }).context.option,
      ).toBe('kinesisStreamArn');
      expect(
        failure({ kinesisStreamArn: 'arn:aws:firehose:eu-west-1:123456789012:stream/x' }).context.option,
      ).toBe('kinesisStreamArn');
      expect(failure({ roleArn: 'arn:aws:iam::12345:role/x' }).context.option).toBe('roleArn');
      expect(failure({ roleArn: 'arn:aws:iam::123456789012:user/x' }).context.option).toBe('roleArn');
      expect(failure({ bucketArn: 'tributary-raw' }).context.option).toBe('bucketArn');
      expect(failure({ bucketArn: 'arn:aws:s3:::Upper_Case' }).context.option).toBe('bucketArn');
    });

    it('has no default prefix: the caller names where its records land', () => {
      const error = failure({ prefix: undefined as unknown as string });
      const rooted = createDeliveryStreamInput({ ...BASE, prefix: '' }).ExtendedS3DestinationConfiguration;

      expect(error.context.option).toBe('prefix');
      expect(rooted?.Prefix).toBe('!{timestamp:yyyy/MM/dd/HH}/');
      expect(rooted?.ErrorOutputPrefix).toBe(
        'errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
      );
    });

    it('rejects names, ranges and expressions Firehose refuses', () => {
      const cases: [Partial<DeliveryStreamInputOptions>, string][] = [
        [{ deliveryStreamName: 'a'.repeat(65) }, 'deliveryStreamName'],
        [{ bufferIntervalSeconds: 901 }, 'bufferIntervalSeconds'],
        [{ bufferSizeMiB: 0 }, 'bufferSizeMiB'],
        [{ bufferSizeMiB: 129 }, 'bufferSizeMiB'],
        [{ compression: 'ZIP' as never }, 'compression'],
        [{ prefix: 'x/!{firehose:error-output-type}/' }, 'prefix'],
        [{ prefix: 'x/!{partitionKeyFromQuery:id}/' }, 'prefix'],
        [{ prefix: 'sensors' }, 'prefix'],
        [{ logging: { logGroupName: '', logStreamName: 's' } }, 'logging.logGroupName'],
      ];
      for (const [options, option] of cases) {
        const error = failure(options);
        expect(error.code).toBe('FIREHOSE_SETUP_OPTIONS_INVALID');
        expect(error.context.option, JSON.stringify(options)).toBe(option);
        expect(error.option).toBe(option);
      }
    });
  });
});
