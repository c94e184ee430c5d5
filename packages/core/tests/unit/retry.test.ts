import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OptionsError, RetryExhaustedError, TributaryError } from '../../src/errors.js';
import {
  classifyError,
  computeBackoff,
  isRetryable,
  type RetryInfo,
  retryAfterMs,
  withRetry,
} from '../../src/retry.js';

function awsError(name: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...fields });
}

function withCode(code: string): Error {
  return Object.assign(new Error(`failed with ${code}`), { code });
}

function httpError(fields: Record<string, unknown>): Error {
  return Object.assign(new Error('HTTP error'), fields);
}

/** Settles a promise into a value so fake-timer tests never leave a rejection unhandled. */
function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe('retryAfterMs', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');

  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 3 ', 3_000],
    ['1.5', 1_500],
  ])('reads delay-seconds %j as %i ms', (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });

  it('reads an IMF-fixdate as the time until it', () => {
    expect(retryAfterMs('Sat, 01 Mar 2025 12:01:30 GMT', now)).toBe(90_000);
  });

  it('reads an asctime date as GMT', () => {
    expect(retryAfterMs('Sat Mar  1 12:00:05 2025', now)).toBe(5_000);
  });

  it('returns 0 for a date in the past', () => {
    expect(retryAfterMs('Sat, 01 Mar 2025 11:00:00 GMT', now)).toBe(0);
  });

  it.each([['soon'], [''], ['-5'], ['1 2'], ['12abc'], ['Someday, 99 Foo 2025 GMT'], [null], [undefined]])(
    'returns undefined for %j',
    (header) => {
      expect(retryAfterMs(header, now)).toBeUndefined();
    },
  );
});

describe('classifyError', () => {
  describe('AWS SDK v3 errors', () => {
    it.each([
      'ThrottlingException',
      'Throttling',
      'ThrottledException',
      'RequestThrottledException',
      'TooManyRequestsException',
      'ProvisionedThroughputExceededException',
      'TransactionInProgressException',
      'RequestLimitExceeded',
      'BandwidthLimitExceeded',
      'LimitExceededException',
      'RequestThrottled',
      'SlowDown',
      'PriorRequestNotComplete',
      'EC2ThrottledException',
      'KMSThrottlingException',
    ])('classifies %s as retryable throttling even with a 400 status', (name) => {
      const err = awsError(name, { $metadata: { httpStatusCode: 400 } });

      expect(classifyError(err)).toEqual({ retryable: true, kind: 'throttling' });
    });

    it.each([
      ['RequestTimeout', 'timeout'],
      ['RequestTimeoutException', 'timeout'],
      ['InternalError', 'server'],
      ['InternalFailure', 'server'],
      ['InternalServerError', 'server'],
      ['ServiceUnavailable', 'server'],
      ['ServiceUnavailableException', 'server'],
      ['InternalServiceErrorException', 'server'],
    ])('classifies the transient %s as retryable %s', (name, kind) => {
      const err = awsError(name, { $metadata: { httpStatusCode: 400 } });

      expect(classifyError(err)).toEqual({ retryable: true, kind });
    });

    it('trusts $retryable and its throttling hint', () => {
      const plain = awsError('SomethingOdd', { $metadata: {}, $retryable: {} });
      const throttled = awsError('SomethingOdd', { $metadata: {}, $retryable: { throttling: true } });

      expect(classifyError(plain)).toEqual({ retryable: true, kind: 'server' });
      expect(classifyError(throttled)).toEqual({ retryable: true, kind: 'throttling' });
    });

    it.each([
      [500, true, 'server'],
      [503, true, 'server'],
      [429, true, 'throttling'],
      [400, false, 'client'],
      [403, false, 'client'],
      [404, false, 'client'],
    ])('classifies $metadata.httpStatusCode %i as retryable=%s %s', (status, retryable, kind) => {
      const err = awsError('SomeServiceException', { $metadata: { httpStatusCode: status } });

      expect(classifyError(err)).toEqual({ retryable, kind });
    });

    it('reads Retry-After from $response.headers', () => {
      const err = awsError('ThrottlingException', {
        $metadata: { httpStatusCode: 400 },
        $response: { statusCode: 400, headers: { 'retry-after': '4' } },
      });

      expect(classifyError(err)).toEqual({ retryable: true, kind: 'throttling', retryAfterMs: 4_000 });
    });

    it('treats an SDK TimeoutError as a retryable request timeout', () => {
      const err = awsError('TimeoutError', { $metadata: { attempts: 1 } });

      expect(classifyError(err)).toEqual({ retryable: true, kind: 'timeout' });
    });
  });

  describe('HTTP errors', () => {
    it.each([
      [408, true, 'timeout'],
      [429, true, 'throttling'],
      [500, true, 'server'],
      [503, true, 'server'],
      [400, false, 'client'],
      [404, false, 'client'],
    ])('classifies status %i as retryable=%s %s', (status, retryable, kind) => {
      expect(classifyError(httpError({ status }))).toEqual({ retryable, kind });
    });

    it('reads statusCode and response.status', () => {
      expect(classifyError(httpError({ statusCode: 503 }))).toEqual({ retryable: true, kind: 'server' });
      expect(classifyError(httpError({ response: { status: 429 } }))).toEqual({
        retryable: true,
        kind: 'throttling',
      });
    });

    it('reads Retry-After seconds from a plain record, whatever its case', () => {
      const err = httpError({ status: 429, headers: { 'Retry-After': '7' } });

      expect(classifyError(err).retryAfterMs).toBe(7_000);
    });

    it('reads Retry-After from a WHATWG Headers object on the response', () => {
      const err = httpError({ response: { status: 503, headers: new Headers({ 'retry-after': '2' }) } });

      expect(classifyError(err)).toEqual({ retryable: true, kind: 'server', retryAfterMs: 2_000 });
    });

    it('reads Retry-After as an HTTP-date', () => {
      const at = new Date(Date.now() + 600_000).toUTCString();
      const err = httpError({ status: 503, headers: { 'retry-after': at } });

      const wait = classifyError(err).retryAfterMs;

      // toUTCString drops milliseconds, and a little time passes between the two clocks.
      expect(wait).toBeGreaterThan(598_000);
      expect(wait).toBeLessThanOrEqual(600_000);
    });

    it('prefers an own retryAfterMs number', () => {
      const err = httpError({ status: 429, retryAfterMs: 1_234, headers: { 'retry-after': '9' } });

      expect(classifyError(err).retryAfterMs).toBe(1_234);
    });

    it('does not report Retry-After for a client error', () => {
      const err = httpError({ status: 404, headers: { 'retry-after': '9' } });

      expect(classifyError(err)).toEqual({ retryable: false, kind: 'client' });
    });
  });

  describe('network errors', () => {
    it.each([
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ECONNREFUSED',
      'ECONNABORTED',
      'EAI_AGAIN',
      'ENETUNREACH',
      'EHOSTUNREACH',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_HEADERS_TIMEOUT',
      'UND_ERR_BODY_TIMEOUT',
    ])('classifies code %s as retryable network', (code) => {
      expect(classifyError(withCode(code))).toEqual({ retryable: true, kind: 'network' });
    });

    it("finds the network code in the cause of fetch's TypeError", () => {
      const err = new TypeError('fetch failed', { cause: withCode('UND_ERR_SOCKET') });

      expect(classifyError(err)).toEqual({ retryable: true, kind: 'network' });
    });

    it('does not take an errno code of five capitals for a SQLSTATE', () => {
      expect(classifyError(withCode('EPERM'))).toEqual({ retryable: false, kind: 'unknown' });
    });
  });

  describe('PostgreSQL errors', () => {
    it.each([
      ['40001', true],
      ['40P01', true],
      ['57P01', true],
      ['08006', true],
      ['08001', true],
      ['23505', false],
      ['42P01', false],
      ['XX000', false],
    ])('classifies SQLSTATE %s as retryable=%s', (code, retryable) => {
      expect(classifyError(withCode(code))).toEqual({ retryable, kind: 'postgres' });
    });
  });

  describe('tributary errors', () => {
    it('follows the retryable flag', () => {
      expect(classifyError(new TributaryError('try again', { retryable: true }))).toEqual({
        retryable: true,
        kind: 'unknown',
      });
      expect(classifyError(new TributaryError('give up', { retryable: false }))).toEqual({
        retryable: false,
        kind: 'unknown',
      });
    });

    it('takes its kind from context.statusCode', () => {
      const err = new TributaryError('rate limited', { retryable: true, context: { statusCode: 429 } });

      expect(classifyError(err)).toEqual({ retryable: true, kind: 'throttling' });
    });

    it('keeps its own flag over a retryable cause, but borrows its kind and Retry-After', () => {
      const cause = httpError({ status: 503, headers: { 'retry-after': '3' } });

      expect(classifyError(new TributaryError('wrapped', { cause, retryable: false }))).toEqual({
        retryable: false,
        kind: 'server',
      });
      expect(classifyError(new TributaryError('wrapped', { cause, retryable: true }))).toEqual({
        retryable: true,
        kind: 'server',
        retryAfterMs: 3_000,
      });
    });
  });

  describe('aborts and everything else', () => {
    it.each([
      ['a DOMException AbortError', new DOMException('aborted', 'AbortError')],
      ['an Error named AbortError', awsError('AbortError')],
      ['the TimeoutError of AbortSignal.timeout', new DOMException('timed out', 'TimeoutError')],
    ])('classifies %s as a non-retryable abort', (_label, err) => {
      expect(classifyError(err)).toEqual({ retryable: false, kind: 'abort' });
    });

    it.each([
      ['a plain Error', new Error('boom')],
      ['a string', 'boom'],
      ['null', null],
      ['undefined', undefined],
      ['a number', 42],
    ])('classifies %s as non-retryable unknown', (_label, err) => {
      expect(classifyError(err)).toEqual({ retryable: false, kind: 'unknown' });
    });

    it('lets the first matching level of the cause chain decide', () => {
      const err = httpError({ status: 404, cause: withCode('ECONNRESET') });

      expect(classifyError(err)).toEqual({ retryable: false, kind: 'client' });
    });

    it('looks at most 5 causes deep', () => {
      const wrap = (levels: number): Error => {
        let err: Error = withCode('ECONNRESET');
        for (let i = 0; i < levels; i++) err = new Error(`wrapper ${i}`, { cause: err });
        return err;
      };

      expect(classifyError(wrap(5)).kind).toBe('network');
      expect(classifyError(wrap(6)).kind).toBe('unknown');
    });

    it('stops on a cause cycle', () => {
      const plain = new Error('self');
      Object.assign(plain, { cause: plain });
      const tributary = new TributaryError('self', { retryable: true });
      Object.defineProperty(tributary, 'cause', { value: tributary });

      expect(classifyError(plain)).toEqual({ retryable: false, kind: 'unknown' });
      expect(classifyError(tributary)).toEqual({ retryable: true, kind: 'unknown' });
    });
  });
});

describe('isRetryable', () => {
  it('answers with the classification', () => {
    expect(isRetryable(withCode('ETIMEDOUT'))).toBe(true);
    expect(isRetryable(withCode('23505'))).toBe(false);
  });
});

describe('computeBackoff', () => {
  it('draws from the exponential cap', () => {
    expect(computeBackoff(1, 100, 20_000, () => 0.5)).toBe(50);
    expect(computeBackoff(3, 100, 20_000, () => 0.5)).toBe(200);
    expect(computeBackoff(3, 100, 20_000, () => 0)).toBe(0);
    expect(computeBackoff(20, 100, 20_000, () => 0.5)).toBe(10_000);
  });

  it('stays within [0, min(max, base * 2^(attempt-1))] and is a whole number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, base, max, draw) => {
          const cap = Math.min(max, base * 2 ** Math.min(attempt - 1, 1023));

          const delay = computeBackoff(attempt, base, max, () => draw);

          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(cap);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects an attempt below 1 and a negative base', () => {
    expect(() => computeBackoff(0, 100, 1_000)).toThrow(TributaryError);
    expect(() => computeBackoff(1, -1, 1_000)).toThrow(/baseDelayMs/);
  });
});

describe('withRetry', () => {
  describe('attempts', () => {
    it('returns the result after transient failures and passes the attempt numbers', async () => {
      const seen: number[] = [];
      const fn = async (attempt: number): Promise<string> => {
        seen.push(attempt);
        if (attempt < 3) throw withCode('ECONNRESET');
        return 'ok';
      };

      const result = await withRetry(fn, { random: () => 0 });

      expect(result).toBe('ok');
      expect(seen).toEqual([1, 2, 3]);
    });

    it('retries the TypeError of a failed fetch, which p-retry alone would not', async () => {
      const fn = vi.fn(async (attempt: number) => {
        if (attempt === 1) throw new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') });
        return attempt;
      });

      await expect(withRetry(fn, { random: () => 0 })).resolves.toBe(2);
      expect(fn).toHaveBeenCalledTimes(2);
    });

    it('gives up after maxAttempts with the last error as cause', async () => {
      const errors = [withCode('ECONNRESET'), withCode('ETIMEDOUT'), withCode('EPIPE')];
      const fn = vi.fn(async (attempt: number) => {
        throw errors[attempt - 1];
      });

      const { error } = await settle(withRetry(fn, { maxAttempts: 3, random: () => 0 }));

      expect(fn).toHaveBeenCalledTimes(3);
      expect(error).toBeInstanceOf(RetryExhaustedError);
      const exhausted = error as RetryExhaustedError;
      expect(exhausted.attempts).toBe(3);
      expect(exhausted.cause).toBe(errors[2]);
      expect(exhausted.lastError).toBe(errors[2]);
      expect(exhausted.message).toContain('(attempts)');
    });

    it('rethrows a non-retryable error unchanged after one call', async () => {
      const duplicate = withCode('23505');
      const fn = vi.fn(async () => {
        throw duplicate;
      });

      await expect(withRetry(fn, { random: () => 0 })).rejects.toBe(duplicate);
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('handles values that are not Errors', async () => {
      const failFast = vi.fn(async () => {
        throw 'plain string';
      });
      const retried = vi.fn(async () => {
        throw 'plain string';
      });

      await expect(withRetry(failFast)).rejects.toBe('plain string');
      const { error } = await settle(
        withRetry(retried, { maxAttempts: 2, isRetryable: () => true, random: () => 0 }),
      );

      expect(failFast).toHaveBeenCalledTimes(1);
      expect(retried).toHaveBeenCalledTimes(2);
      expect((error as RetryExhaustedError).lastError).toBe('plain string');
      expect((error as RetryExhaustedError).cause).toBe('plain string');
    });

    it('uses a custom isRetryable', async () => {
      const fn = vi.fn(async () => {
        throw new Error('custom');
      });

      const { error } = await settle(
        withRetry(fn, {
          maxAttempts: 2,
          isRetryable: (err) => (err as Error).message === 'custom',
          random: () => 0,
        }),
      );

      expect(fn).toHaveBeenCalledTimes(2);
      expect(error).toBeInstanceOf(RetryExhaustedError);
    });
  });

  describe('delays', () => {
    it('waits at least the Retry-After of the server', async () => {
      vi.useFakeTimers();
      const fn = vi.fn(async (attempt: number) => {
        if (attempt === 1) throw httpError({ status: 503, headers: { 'retry-after': '2' } });
        return 'done';
      });

      const outcome = settle(withRetry(fn, { random: () => 0 }));
      await vi.advanceTimersByTimeAsync(1_999);
      const callsBefore = fn.mock.calls.length;
      await vi.advanceTimersByTimeAsync(1);

      expect(callsBefore).toBe(1);
      expect(fn).toHaveBeenCalledTimes(2);
      expect(await outcome).toEqual({ value: 'done' });
    });

    it('caps Retry-After at maxRetryAfterMs', async () => {
      vi.useFakeTimers();
      const delays: number[] = [];
      const fn = async (attempt: number): Promise<number> => {
        if (attempt === 1) throw httpError({ status: 429, headers: { 'retry-after': '120' } });
        return attempt;
      };

      const outcome = settle(
        withRetry(fn, {
          maxRetryAfterMs: 5_000,
          random: () => 0,
          onRetry: (info) => void delays.push(info.delayMs),
        }),
      );
      await vi.advanceTimersByTimeAsync(5_000);

      expect(delays).toEqual([5_000]);
      expect(await outcome).toEqual({ value: 2 });
    });

    it('reports increasing attempts and the jittered delays to onRetry', async () => {
      vi.useFakeTimers();
      const draws = [0.5, 0.25, 0.75];
      const infos: RetryInfo[] = [];
      const errors = [withCode('ECONNRESET'), withCode('ECONNRESET'), httpError({ status: 503 })];
      const fn = async (attempt: number): Promise<string> => {
        const err = errors[attempt - 1];
        if (err) throw err;
        return 'ok';
      };

      const outcome = settle(
        withRetry(fn, {
          baseDelayMs: 100,
          random: () => draws.shift() ?? 0,
          onRetry: (info) => void infos.push(info),
        }),
      );
      await vi.runAllTimersAsync();

      expect(await outcome).toEqual({ value: 'ok' });
      expect(infos.map((info) => info.attempt)).toEqual([1, 2, 3]);
      // floor(0.5 * 100), floor(0.25 * 200), floor(0.75 * 400)
      expect(infos.map((info) => info.delayMs)).toEqual([50, 50, 300]);
      expect(infos[2]?.error).toBe(errors[2]);
      expect(infos.map((info) => info.classification.kind)).toEqual(['network', 'network', 'server']);
    });

    it('gives up with reason "time" when the next wait would pass maxElapsedMs', async () => {
      vi.useFakeTimers();
      const fn = vi.fn(async () => {
        throw httpError({ status: 503 });
      });

      const outcome = settle(withRetry(fn, { baseDelayMs: 1_000, maxElapsedMs: 2_500, random: () => 1 }));
      await vi.runAllTimersAsync();
      const { error } = await outcome;

      // Waits 1000 ms after attempt 1; after attempt 2, 1000 + 2000 would pass 2500.
      expect(fn).toHaveBeenCalledTimes(2);
      expect(error).toBeInstanceOf(RetryExhaustedError);
      expect((error as RetryExhaustedError).attempts).toBe(2);
      expect((error as RetryExhaustedError).message).toContain('(time)');
    });
  });

  describe('abort', () => {
    it('rejects with the signal reason during a wait without waiting it out', async () => {
      vi.useFakeTimers();
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const fn = vi.fn(async () => {
        throw withCode('ECONNRESET');
      });
      const delays: number[] = [];

      const outcome = settle(
        withRetry(fn, {
          baseDelayMs: 20_000,
          random: () => 1,
          signal: controller.signal,
          onRetry: (info) => void delays.push(info.delayMs),
        }),
      );
      await vi.advanceTimersByTimeAsync(1_000);
      const pendingTimers = vi.getTimerCount();
      controller.abort(reason);
      // The clock stays at 1 s of the 20 s wait: only the abort can settle the call now.
      const { error } = await outcome;

      expect(delays).toEqual([20_000]);
      expect(pendingTimers).toBe(1);
      expect(error).toBe(reason);
      expect(fn).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('does not call fn when the signal is already aborted', async () => {
      const reason = new Error('too late');
      const fn = vi.fn(async () => 'never');

      await expect(withRetry(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(fn).not.toHaveBeenCalled();
    });
  });

  describe('options', () => {
    it.each([
      [{ maxAttempts: 0 }, 'maxAttempts'],
      [{ maxAttempts: 1.5 }, 'maxAttempts'],
      [{ baseDelayMs: -1 }, 'baseDelayMs'],
      [{ maxDelayMs: Number.NaN }, 'maxDelayMs'],
      [{ maxElapsedMs: -5 }, 'maxElapsedMs'],
      [{ random: 0.5 }, 'random'],
    ])('rejects %j with an OptionsError', async (options, option) => {
      const fn = vi.fn(async () => 1);

      const { error } = await settle(withRetry(fn, options as never));

      expect(error).toBeInstanceOf(OptionsError);
      expect((error as OptionsError).code).toBe('RETRY_OPTIONS_INVALID');
      expect((error as OptionsError).option).toBe(option);
      expect(fn).not.toHaveBeenCalled();
    });

    it('ends the call with an error thrown by onRetry', async () => {
      const hookError = new Error('hook failed');
      const fn = vi.fn(async () => {
        throw withCode('ECONNRESET');
      });

      await expect(
        withRetry(fn, {
          random: () => 0,
          onRetry: () => {
            throw hookError;
          },
        }),
      ).rejects.toBe(hookError);
      expect(fn).toHaveBeenCalledTimes(1);
    });
  });
});
