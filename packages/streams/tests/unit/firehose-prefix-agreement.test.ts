import { OptionsError, TributaryError } from '@tributary/core';
import {
  createDelivery,
  evaluateFirehosePrefix,
  FirehosePrefixError,
  MemoryStorage,
  parseFirehosePrefix,
} from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { createDeliveryStreamInput, FirehoseSetupError } from '../../src/firehose-setup.js';

// The Firehose stream that `createDeliveryStreamInput` configures and the lake's own delivery
// must read a prefix the same way: both accept it or both refuse it (for the same reason), and
// when both accept it, the delivery writes under the keys the Firehose configuration names.

const T = Date.UTC(2026, 10, 23, 10, 15, 30);
const UUID = '046b6c7f-0b8a-43b9-b35d-6489e6daee91';
const BASE = {
  deliveryStreamName: 'sensors-to-raw',
  kinesisStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/sensors',
  roleArn: 'arn:aws:iam::123456789012:role/firehose-sensors',
  bucketArn: 'arn:aws:s3:::tributary-raw',
};

type Outcome = { accepted: true; keys: string[] } | { accepted: false; option: string; reason: string };

const reasonOf = (error: unknown) => {
  expect(error).toBeInstanceOf(TributaryError);
  const cause = (error as TributaryError).cause;
  expect(cause).toBeInstanceOf(FirehosePrefixError);
  return { option: String((error as TributaryError).context.option), reason: (cause as Error).message };
};

/** Where the delivery puts one valid and one invalid record, or why it refuses the prefixes. */
async function delivered(prefix: string, errorPrefix: string | undefined): Promise<Outcome> {
  const storage = new MemoryStorage();
  let delivery: ReturnType<typeof createDelivery>;
  try {
    delivery = createDelivery({
      storage,
      prefix,
      errorPrefix,
      streamName: 'sensors',
      clock: { now: () => T, setTimeout: () => 0, clearTimeout: () => {} },
      randomUUID: () => UUID,
    });
  } catch (error) {
    expect(error).toBeInstanceOf(OptionsError);
    expect((error as TributaryError).code).toBe('DELIVERY_OPTIONS_INVALID');
    return { accepted: false, ...reasonOf(error) };
  }
  await delivery.write({ id: 'a' });
  await delivery.write('not json');
  await delivery.close();
  const keys: string[] = [];
  for await (const object of storage.list('')) keys.push(object.key);
  return { accepted: true, keys: keys.map((key) => key.slice(0, key.lastIndexOf('/') + 1)).sort() };
}

/** The folders the Firehose configuration names for the same records, or why it is refused. */
function configured(prefix: string, errorPrefix: string | undefined): Outcome {
  let input: ReturnType<typeof createDeliveryStreamInput>;
  try {
    input = createDeliveryStreamInput({ ...BASE, prefix, errorPrefix });
  } catch (error) {
    expect(error).toBeInstanceOf(FirehoseSetupError);
    return { accepted: false, ...reasonOf(error) };
  }
  const destination = input.ExtendedS3DestinationConfiguration;
  const values = { time: T, randomString: () => UUID.slice(0, 11), errorOutputType: 'invalid-json' };
  return {
    accepted: true,
    keys: [
      evaluateFirehosePrefix(parseFirehosePrefix(destination?.Prefix ?? ''), values),
      evaluateFirehosePrefix(
        parseFirehosePrefix(destination?.ErrorOutputPrefix ?? '', { field: 'errorPrefix' }),
        values,
      ),
    ].sort(),
  };
}

describe('Firehose prefixes: createDeliveryStreamInput and the lake delivery', () => {
  it.each([
    // accepted by both
    ['sensors/', undefined],
    ['sensors/!{firehose:random-string}/', undefined],
    ['!{firehose:random-string}/sensors/', 'failed/!{firehose:random-string}/'],
    ['sensors/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/', undefined],
    ["sensors/!{timestamp:'year='uuuu'/month='MM}/", 'bad/!{firehose:error-output-type}/!{timestamp:yyyy}/'],
    ['sensors/!{timestamp:yyyy-DDD-EEE}/', undefined],
    ['other/', undefined],
    // refused by both
    ['sensors/!{timestamp:YYYY}/', undefined],
    ['sensors/!{partitionKeyFromQuery:type}/', undefined],
    ['sensors/!{partitionKeyFromLambda:type}/', undefined],
    ['sensors/!{firehose:error-output-type}/', undefined],
    ['sensors/!{firehose:unknown}/', undefined],
    ['sensors/!{timestamp:yyyy', undefined],
    ['sensors', undefined],
    ['/sensors/', undefined],
    ['sensors/', 'errors/!{partitionKeyFromQuery:type}/'],
    ['sensors/', 'errors'],
  ] as [string, string | undefined][])('prefix %s, error prefix %s', async (prefix, errorPrefix) => {
    const local = await delivered(prefix, errorPrefix);
    const firehose = configured(prefix, errorPrefix);
    expect(local).toEqual(firehose);
  });
});
