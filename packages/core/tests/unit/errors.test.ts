import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  describeValue,
  ItemTooLargeError,
  PartialBatchFailureError,
  RetryExhaustedError,
  TributaryError,
  ValidationError,
} from '../../src/index.js';

describe('TributaryError', () => {
  describe('constructor', () => {
    it('carries code, cause, retryable and a frozen context', () => {
      const cause = new Error('socket hang up');

      const error = new TributaryError('put failed', {
        code: 'PUT_FAILED',
        cause,
        retryable: true,
        context: { bucket: 'raw', key: 'a/b.json', statusCode: 503 },
      });

      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('TributaryError');
      expect(error.message).toBe('put failed');
      expect(error.code).toBe('PUT_FAILED');
      expect(error.cause).toBe(cause);
      expect(error.retryable).toBe(true);
      expect(error.context).toEqual({ bucket: 'raw', key: 'a/b.json', statusCode: 503 });
      expect(Object.isFrozen(error.context)).toBe(true);
    });

    it('defaults to a generic code, not retryable, no cause', () => {
      const error = new TributaryError('x');

      expect([error.code, error.retryable, 'cause' in error]).toEqual(['TRIBUTARY_ERROR', false, false]);
    });

    it('serializes to JSON with its cause summarized', () => {
      const error = new TributaryError('x', { code: 'C', cause: new TypeError('inner') });

      expect(JSON.parse(JSON.stringify(error))).toEqual({
        name: 'TributaryError',
        code: 'C',
        message: 'x',
        retryable: false,
        context: {},
        cause: { name: 'TypeError', message: 'inner' },
      });
    });
  });

  describe('isInstance', () => {
    it('recognizes errors of every subclass and rejects look-alikes', () => {
      expect(TributaryError.isInstance(new ValidationError([]))).toBe(true);
      expect(TributaryError.isInstance(new ConfigError('x'))).toBe(true);
      expect(TributaryError.isInstance(new Error('x'))).toBe(false);
      expect(TributaryError.isInstance({ name: 'TributaryError', code: 'X' })).toBe(false);
      expect(TributaryError.isInstance(null)).toBe(false);
    });

    it('works across two copies of the package, where instanceof does not', async () => {
      // A query string makes the module loader evaluate the file again: a second copy of the class.
      const specifier = '../../src/errors.js?second-copy';
      const other = (await import(/* @vite-ignore */ specifier)) as typeof import('../../src/errors.js');
      const foreign = new other.ValidationError([]);

      expect(other.TributaryError).not.toBe(TributaryError);
      expect(foreign instanceof TributaryError).toBe(false);
      expect(TributaryError.isInstance(foreign)).toBe(true);
      expect(other.TributaryError.isInstance(new TributaryError('ours'))).toBe(true);
    });
  });
});

describe('ValidationError', () => {
  it('keeps every issue and names the first three in its message', () => {
    const issue = (path: string) => ({
      path,
      code: 'type',
      expected: 'string',
      actual: 'number 1',
      message: 'bad',
    });

    const error = new ValidationError([issue('a'), issue('b[0]'), issue(''), issue('d'), issue('e')]);

    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.issues).toHaveLength(5);
    expect(error.message).toBe('Validation failed: a: bad; b[0]: bad; (record): bad; and 2 more');
  });
});

describe('ConfigError', () => {
  it('names the variable', () => {
    const error = new ConfigError('AWS_REGION is required', { variable: 'AWS_REGION' });

    expect([error.name, error.code, error.variable, error.context.variable]).toEqual([
      'ConfigError',
      'CONFIG_INVALID',
      'AWS_REGION',
      'AWS_REGION',
    ]);
  });
});

describe('PartialBatchFailureError', () => {
  it('holds the failed items with their codes and is never retryable as a whole', () => {
    const error = new PartialBatchFailureError(
      [
        { item: { id: 1 }, code: 'ProvisionedThroughputExceededException' },
        { item: { id: 2 }, code: 'InternalFailure', message: 'oops' },
        { item: { id: 3 }, code: 'ProvisionedThroughputExceededException' },
      ],
      { succeededCount: 497, context: { stream: 's' } },
    );

    expect(error.code).toBe('PARTIAL_BATCH_FAILURE');
    expect(error.failed.map((f) => f.item)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(error.succeededCount).toBe(497);
    expect(error.message).toBe('3 item(s) failed (ProvisionedThroughputExceededException, InternalFailure)');
    expect(error.context.stream).toBe('s');
    expect(error.retryable).toBe(false);
  });
});

describe('RetryExhaustedError', () => {
  it('carries the attempts, the reason and the last error as cause', () => {
    const last = new Error('throttled');

    const error = new RetryExhaustedError(4, last, 'time');

    expect([error.attempts, error.reason, error.lastError, error.cause]).toEqual([4, 'time', last, last]);
    expect(error.message).toBe('Gave up after 4 attempt(s) (time): throttled');
  });
});

describe('ItemTooLargeError', () => {
  it('carries the size and the limit', () => {
    const error = new ItemTooLargeError(1_048_577, 1_048_576, { stream: 's' });

    expect([error.code, error.size, error.limit, error.context.stream]).toEqual([
      'ITEM_TOO_LARGE',
      1_048_577,
      1_048_576,
      's',
    ]);
  });
});

describe('describeValue', () => {
  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    [[1], 'array'],
    [new Date(Number.NaN), 'invalid Date'],
    [new Date(0), 'Date'],
    ['x'.repeat(50), `string "${'x'.repeat(40)}…"`],
    [5n, 'bigint 5'],
    [{ a: 1 }, 'object'],
  ])('describes %o as %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });
});
