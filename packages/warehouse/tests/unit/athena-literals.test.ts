import { describe, expect, it } from 'vitest';
import { athenaLiteral } from '../../src/athena-literals.js';
import { QueryParameterError } from '../../src/errors.js';

describe('athenaLiteral', () => {
  it.each([
    ['plain', 'sensors', "'sensors'"],
    ['a quote, doubled', "O'Brien", "'O''Brien'"],
    ['a hostile string, still one literal', "x'; DROP TABLE t; --", "'x''; DROP TABLE t; --'"],
    ['a backslash, kept as is (Trino reads no escapes)', 'a\\b', "'a\\b'"],
    ['the empty string', '', "''"],
    ['unicode', 'Zürich 💧', "'Zürich 💧'"],
    ['an integer', 42, '42'],
    ['a negative integer', -7, '-7'],
    ['negative zero', -0, '0'],
    ['a fraction', 1.5, '1.5'],
    ['a huge double', 1e21, '1E+21'],
    ['a tiny double', 1.5e-7, '1.5E-7'],
    ['a bigint beyond 2^53', 2n ** 63n - 1n, '9223372036854775807'],
    ['true', true, 'true'],
    ['false', false, 'false'],
    ['null', null, 'NULL'],
    [
      'a Date, in UTC with milliseconds',
      new Date('2026-11-23T10:05:09.007Z'),
      "TIMESTAMP '2026-11-23 10:05:09.007'",
    ],
  ] as const)('renders %s', (_what, value, expected) => {
    expect(athenaLiteral(value)).toBe(expected);
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an invalid Date', new Date('nope')],
    ['a Date after year 9999', new Date(Date.UTC(10_000, 0, 1))],
    ['undefined', undefined],
    ['an object', { a: 1 }],
  ])('rejects %s with a QueryParameterError naming the parameter', (_what, value) => {
    expect(() => athenaLiteral(value as never, 2)).toThrow(QueryParameterError);
    expect(() => athenaLiteral(value as never, 2)).toThrow(/parameter 3/);
    expect(() => athenaLiteral(value as never, 2)).toThrow(
      expect.objectContaining({ code: 'QUERY_PARAMETER_INVALID', parameter: 3 }),
    );
  });
});
