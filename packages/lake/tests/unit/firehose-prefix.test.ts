import { TributaryError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { FirehosePrefixError } from '../../src/errors.js';
import {
  evaluateFirehosePrefix,
  type ParseFirehosePrefixOptions,
  parseFirehosePrefix,
  resolveFirehosePrefixes,
} from '../../src/firehose-prefix.js';

const T = Date.UTC(2026, 10, 23, 10, 15, 30, 250); // 2026-11-23T10:15:30.250Z, a Monday
const DYNAMIC: ParseFirehosePrefixOptions = { partitionKeys: { fromQuery: ['type'], fromLambda: ['site'] } };

function refusal(text: string, options?: ParseFirehosePrefixOptions): FirehosePrefixError {
  let caught: unknown;
  try {
    parseFirehosePrefix(text, options);
  } catch (error) {
    caught = error;
  }
  expect(caught, text).toBeInstanceOf(FirehosePrefixError);
  return caught as FirehosePrefixError;
}

describe('parseFirehosePrefix', () => {
  describe('valid prefixes', () => {
    it.each([
      ['sensors/', {}, 'sensors/'],
      ['sensors/!{timestamp:yyyy/MM/dd/HH}/', {}, 'sensors/2026/11/23/10/'],
      // Firehose's documentation examples
      [
        'myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/',
        {},
        'myPrefix/year=2026/month=11/day=23/hour=10/',
      ],
      [
        "err/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}",
        { field: 'errorPrefix' },
        'err/year=2026/month=11/day=23/hour=10/processing-failed',
      ],
      ['dt=!{timestamp:uuuu-MM-dd}/!{timestamp:EEE-a-SSS}/', {}, 'dt=2026-11-23/Mon-AM-250/'],
      ['!{timestamp:yyyy}/!{timestamp:yyyy}/', {}, '2026/2026/'],
      ['rand=!{firehose:random-string}/', {}, 'rand=RANDOMSTR01/'],
      ['rand=!{firehose:random-string}/', { field: 'errorPrefix' }, 'rand=RANDOMSTR01/'],
      [
        'type=!{partitionKeyFromQuery:type}/site=!{partitionKeyFromLambda:site}/!{timestamp:yyyy}/',
        DYNAMIC,
        'type=temperature/site=north/2026/',
      ],
      ['a!b{c}/', {}, 'a!b{c}/'],
    ] as [string, ParseFirehosePrefixOptions, string][])('%s', (text, options, expected) => {
      const prefix = parseFirehosePrefix(text, options);
      expect(prefix.text).toBe(text);
      expect(
        evaluateFirehosePrefix(prefix, {
          time: T,
          errorOutputType: 'processing-failed',
          randomString: () => 'RANDOMSTR01',
          partitionKeys: { fromQuery: { type: 'temperature' }, fromLambda: { site: 'north' } },
        }),
      ).toBe(expected);
    });
  });

  describe('invalid prefixes', () => {
    it.each([
      ['an unclosed expression', 'sensors/!{timestamp:yyyy/', {}, /never closed/],
      ['a nested expression', 'a/!{timestamp:!{timestamp:yyyy}}/', {}, /nested/],
      ['an expression without a namespace', 'a/!{yyyy}/', {}, /namespace:value/],
      ['an unknown namespace', 'a/!{time:yyyy}/', {}, /unknown namespace "time"/],
      ['an empty timestamp pattern', 'a/!{timestamp:}/', {}, /needs a pattern/],
      ['YYYY, the week-based year', 'a/!{timestamp:YYYY}/', {}, /Y is not supported: the week-based year/],
      ['a letter Java does not know', 'a/!{timestamp:yyyy-bb}/', {}, /unknown pattern letter: b/],
      ['too many letters', 'a/!{timestamp:ddd}/', {}, /too many pattern letters: d/],
      ['an unclosed quote', "a/!{timestamp:yyyy'}/", {}, /quoted literal/],
      ['a reserved character', 'a/!{timestamp:yyyy#}/', {}, /reserved/],
      ['an unknown firehose value', 'a/!{firehose:uuid}/', {}, /random-string and error-output-type/],
      [
        'error-output-type in the data prefix',
        'a/!{firehose:error-output-type}/',
        {},
        /belongs to the error prefix only/,
      ],
      [
        'a partition key without dynamic partitioning',
        'a/!{partitionKeyFromQuery:type}/',
        {},
        /needs dynamic partitioning/,
      ],
      ['an undeclared partition key', 'a/!{partitionKeyFromQuery:site}/', DYNAMIC, /not one of the query's/],
      [
        'a Lambda key that only the query has',
        'a/!{partitionKeyFromLambda:type}/',
        DYNAMIC,
        /not one of the Lambda's/,
      ],
      [
        'dynamic partitioning without a key in the prefix',
        'a/!{timestamp:yyyy}/',
        DYNAMIC,
        /needs a !\{partitionKey/,
      ],
      [
        'a partition key in the error prefix',
        'e/!{partitionKeyFromQuery:type}/!{firehose:error-output-type}',
        { ...DYNAMIC, field: 'errorPrefix' },
        /cannot be used in the error prefix/,
      ],
      ['a leading slash', '/sensors/', {}, /starts with "\/"/],
      ['more than 1,024 characters', `${'a'.repeat(1025)}/`, {}, /more than 1024/],
    ] as [string, string, ParseFirehosePrefixOptions, RegExp][])(
      'refuses %s',
      (_name, text, options, reason) => {
        const error = refusal(text, options);
        expect(error).toBeInstanceOf(TributaryError);
        expect(error.code).toBe('FIREHOSE_PREFIX_INVALID');
        expect(error.context.option).toBe(options.field ?? 'prefix');
        expect(error.context.prefix).toBe(text);
        expect(error.message).toMatch(reason);
      },
    );

    it('refuses a value that is not a string', () => {
      expect(refusal(42 as unknown as string).message).toMatch(/must be a string/);
    });
  });
});

describe('evaluateFirehosePrefix', () => {
  it('draws a new 11-character random string for each occurrence by default', () => {
    const prefix = parseFirehosePrefix('!{firehose:random-string}/!{firehose:random-string}/');
    const [a, b] = evaluateFirehosePrefix(prefix, { time: T }).split('/');
    expect(a).toHaveLength(11);
    expect(b).toHaveLength(11);
    expect(a).not.toBe(b);
  });

  it('refuses to evaluate without a value the prefix needs', () => {
    const errorPrefix = parseFirehosePrefix('e/!{firehose:error-output-type}/', { field: 'errorPrefix' });
    expect(() => evaluateFirehosePrefix(errorPrefix, { time: T })).toThrow(FirehosePrefixError);
    const keyed = parseFirehosePrefix('k=!{partitionKeyFromQuery:type}/', DYNAMIC);
    expect(() => evaluateFirehosePrefix(keyed, { time: T })).toThrow(/partition key "type"/);
  });
});

describe('resolveFirehosePrefixes', () => {
  it.each([
    [
      'sensors/',
      undefined,
      'sensors/!{timestamp:yyyy/MM/dd/HH}/',
      'errors/sensors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
    ],
    [
      'sensors/dt=!{timestamp:yyyy-MM-dd}/',
      undefined,
      'sensors/dt=!{timestamp:yyyy-MM-dd}/',
      'errors/sensors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
    ],
    [
      '',
      'failed/',
      '!{timestamp:yyyy/MM/dd/HH}/',
      'failed/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/',
    ],
    [
      'raw/!{firehose:random-string}/',
      'bad/!{firehose:error-output-type}-!{timestamp:yyyy}/',
      'raw/!{firehose:random-string}/!{timestamp:yyyy/MM/dd/HH}/',
      'bad/!{firehose:error-output-type}-!{timestamp:yyyy}/',
    ],
  ])('%s with error prefix %s', (prefix, errorPrefix, expectedPrefix, expectedError) => {
    const resolved = resolveFirehosePrefixes({ prefix, errorPrefix });
    expect(resolved.prefix.text).toBe(expectedPrefix);
    expect(resolved.errorPrefix.text).toBe(expectedError);
  });

  it.each([
    ['a prefix without timestamp or trailing slash', { prefix: 'sensors' }, 'prefix'],
    [
      'an error prefix without error type or trailing slash',
      { prefix: 's/', errorPrefix: 'e' },
      'errorPrefix',
    ],
    [
      'an error prefix ending in an expression without a timestamp',
      { prefix: 's/', errorPrefix: 'e/!{firehose:error-output-type}' },
      'errorPrefix',
    ],
  ])('refuses %s', (_name, options, option) => {
    let caught: unknown;
    try {
      resolveFirehosePrefixes(options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FirehosePrefixError);
    expect((caught as FirehosePrefixError).context.option).toBe(option);
  });
});
