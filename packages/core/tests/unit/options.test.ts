import { describe, expect, it } from 'vitest';
import { ConfigError, OptionsError, optionChecks, TributaryError } from '../../src/index.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('OptionsError', () => {
  describe('constructor', () => {
    it('names the option in context.option and keeps code and cause', () => {
      const cause = new Error('bad');

      const error = new OptionsError('Widget option size must be an integer >= 1, got string "x"', {
        code: 'WIDGET_OPTIONS_INVALID',
        option: 'size',
        cause,
      });

      expect(TributaryError.isInstance(error)).toBe(true);
      expect(error).not.toBeInstanceOf(ConfigError);
      expect([error.name, error.code, error.option, error.context.option, error.cause]).toEqual([
        'OptionsError',
        'WIDGET_OPTIONS_INVALID',
        'size',
        'size',
        cause,
      ]);
      expect(error.context.variable).toBeUndefined();
    });
  });
});

describe('optionChecks', () => {
  const check = optionChecks('Widget', 'WIDGET_OPTIONS_INVALID');

  describe('positiveInteger', () => {
    it('returns an integer >= 1', () => {
      expect(check.positiveInteger('size', 3)).toBe(3);
    });

    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', undefined])('rejects %s', (value) => {
      const error = thrown(() => check.positiveInteger('size', value));

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({
        code: 'WIDGET_OPTIONS_INVALID',
        option: 'size',
        context: { option: 'size' },
      });
      expect((error as Error).message).toMatch(/^Widget option size must be an integer >= 1, got /);
    });
  });

  describe('integerInRange', () => {
    it('returns an integer within the range, and the fallback for undefined', () => {
      const range = { min: 1, max: 128 };

      expect([
        check.integerInRange('size', 1, 5, range),
        check.integerInRange('size', 128, 5, range),
        check.integerInRange('size', undefined, 5, range),
      ]).toEqual([1, 128, 5]);
    });

    it.each([0, 129, 1.5, Number.NaN, '3', null])('rejects %s naming the range', (value) => {
      const error = thrown(() => check.integerInRange('size', value, 5, { min: 1, max: 128 }));

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'WIDGET_OPTIONS_INVALID', option: 'size' });
      expect((error as Error).message).toMatch(/^Widget option size must be an integer from 1 to 128, got /);
    });
  });

  describe('nonNegativeNumber', () => {
    it('accepts 0 and numbers up to max', () => {
      expect([check.nonNegativeNumber('wait', 0), check.nonNegativeNumber('wait', 10, { max: 10 })]).toEqual([
        0, 10,
      ]);
    });

    it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 11, 'x'])(
      'rejects %s (finite, at most 10)',
      (value) => {
        expect(thrown(() => check.nonNegativeNumber('wait', value, { max: 10 }))).toMatchObject({
          code: 'WIDGET_OPTIONS_INVALID',
          option: 'wait',
        });
      },
    );

    it('accepts Infinity when asked to', () => {
      expect(check.nonNegativeNumber('wait', Number.POSITIVE_INFINITY, { finite: false })).toBe(
        Number.POSITIVE_INFINITY,
      );
    });
  });

  describe('positiveNumber', () => {
    it.each([0, -2, Number.NaN, Number.POSITIVE_INFINITY])('rejects %s', (value) => {
      expect(thrown(() => check.positiveNumber('rate', value))).toBeInstanceOf(OptionsError);
    });

    it('returns a finite number > 0', () => {
      expect(check.positiveNumber('rate', 0.5)).toBe(0.5);
    });
  });

  describe('nonEmptyString', () => {
    it.each(['', 3, undefined, null])('rejects %s', (value) => {
      expect(thrown(() => check.nonEmptyString('name', value))).toMatchObject({ option: 'name' });
    });

    it('returns the string', () => {
      expect(check.nonEmptyString('name', 'a')).toBe('a');
    });
  });

  describe('function', () => {
    it('rejects a value that is not a function and returns one that is', () => {
      const fn = (): number => 1;

      expect(thrown(() => check.function('flush', 'flush'))).toMatchObject({ option: 'flush' });
      expect(check.function('flush', fn)).toBe(fn);
    });
  });

  describe('oneOf', () => {
    it('returns an allowed value and lists the allowed ones otherwise', () => {
      expect(check.oneOf('mode', 'b', ['a', 'b'] as const)).toBe('b');

      const error = thrown(() => check.oneOf('mode', 'c', ['a', 'b'] as const));

      expect((error as Error).message).toBe('Widget option mode must be "a" or "b", got string "c"');
    });
  });

  describe('object', () => {
    it.each([null, undefined, 'x', 3])('rejects %s', (value) => {
      expect(thrown(() => check.object('options', value))).toMatchObject({ option: 'options' });
    });
  });

  describe('clock', () => {
    it('accepts an object with now, setTimeout and clearTimeout and rejects one without', () => {
      const clock = { now: () => 0, setTimeout: () => 1, clearTimeout: () => {} };

      expect(check.clock('clock', clock)).toBe(clock);
      expect(thrown(() => check.clock('clock', { now: () => 0 }))).toMatchObject({ option: 'clock' });
    });
  });
});
