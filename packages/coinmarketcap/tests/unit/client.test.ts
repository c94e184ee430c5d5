import { inspect } from 'node:util';
import {
  type Clock,
  loadConfig,
  OptionsError,
  RetryExhaustedError,
  Secret,
  TributaryError,
} from '@tributary/core';
import { describe, expect, it } from 'vitest';
import {
  CMC_PRO_BASE_URL,
  CMC_SANDBOX_BASE_URL,
  CoinMarketCapClient,
  type FetchLike,
} from '../../src/client.js';
import { CreditLedger, estimateCredits } from '../../src/credits.js';
import {
  CoinMarketCapApiError,
  CoinMarketCapResponseError,
  CreditBudgetExceededError,
} from '../../src/errors.js';

const KEY = 'super-secret-key-1234';

interface Call {
  url: URL;
  headers: Record<string, string>;
}

function envelope(data: unknown, credits = 1, errorCode = 0, errorMessage: string | null = null): string {
  return JSON.stringify({
    status: {
      timestamp: '2026-01-01T00:00:00.000Z',
      error_code: errorCode,
      error_message: errorMessage,
      elapsed: 1,
      credit_count: credits,
    },
    data,
  });
}

type Reply = { status?: number; body: string; headers?: Record<string, string> } | Error;

/** A fetch that answers from a script and records what it was asked. */
function scriptedFetch(replies: Reply[] | ((url: URL) => Reply)): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    calls.push({ url, headers: init.headers });
    const reply = typeof replies === 'function' ? replies(url) : replies.shift();
    if (reply === undefined) throw new Error('no scripted reply left');
    if (reply instanceof Error) throw reply;
    return new Response(reply.body, { status: reply.status ?? 200, headers: reply.headers ?? {} });
  };
  return { fetch, calls };
}

/** A manual clock: a timer advances time at once and fires. */
function manualClock(start = Date.parse('2026-03-10T12:00:00.000Z')): Clock & { t: number; slept: number[] } {
  const clock = {
    t: start,
    slept: [] as number[],
    now: () => clock.t,
    setTimeout: (fn: () => void, ms: number) => {
      clock.slept.push(ms);
      clock.t += ms;
      fn();
      return undefined;
    },
    clearTimeout: () => {},
  };
  return clock;
}

const fastRetry = { baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 5, random: () => 0 };

function listing(id: number) {
  return { id, name: `Coin ${id}`, symbol: `C${id}`, slug: `coin-${id}`, quote: {} };
}

describe('CoinMarketCapClient', () => {
  describe('constructor', () => {
    it('rejects invalid options with typed errors', () => {
      expect(() => new CoinMarketCapClient({ baseUrl: 'ftp://x' })).toThrow(/baseUrl/);
      expect(() => new CoinMarketCapClient({ plan: { callsPerMinute: 0 } })).toThrow(/callsPerMinute/);
      expect(() => new CoinMarketCapClient({ plan: { callsPerMinute: 5, dailyCredits: -1 } })).toThrow(
        /dailyCredits/,
      );
    });

    it('chooses the pro, sandbox or overridden base URL', () => {
      const { fetch } = scriptedFetch([]);
      expect(new CoinMarketCapClient({ fetch }).baseUrl).toBe('https://pro-api.coinmarketcap.com');
      expect(new CoinMarketCapClient({ fetch, sandbox: true }).baseUrl).toBe(
        'https://sandbox-api.coinmarketcap.com',
      );
      expect(new CoinMarketCapClient({ fetch, baseUrl: 'http://127.0.0.1:9/' }).baseUrl).toBe(
        'http://127.0.0.1:9',
      );
    });

    it('never shows the key in toString or JSON', () => {
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch: scriptedFetch([]).fetch });
      expect(String(client)).not.toContain(KEY);
      expect(JSON.stringify(client)).not.toContain(KEY);
      expect(String(client)).toContain('[redacted]');
    });
  });

  describe('secrets', () => {
    /** Every way an error or the client can be printed, joined. */
    function printed(value: unknown): string {
      const parts = [String(value), inspect(value, { depth: 10 })];
      try {
        parts.push(JSON.stringify(value));
      } catch {
        // Not every value is JSON.
      }
      for (let e: unknown = value; e instanceof Error; e = e.cause) parts.push(String(e), e.stack ?? '');
      return parts.join('\n');
    }

    function optionsError(make: () => unknown): TributaryError {
      try {
        make();
      } catch (error) {
        expect(TributaryError.isInstance(error)).toBe(true);
        return error as TributaryError;
      }
      throw new Error('no error thrown');
    }

    it.each([
      ['https://user:super-secret-key-1234@pro-api.coinmarketcap.com', 'credentials'],
      ['https://:super-secret-key-1234@pro-api.coinmarketcap.com', 'credentials'],
      ['https://pro-api.coinmarketcap.com/?CMC_PRO_API_KEY=super-secret-key-1234', 'query string'],
      ['https://pro-api.coinmarketcap.com/#super-secret-key-1234', 'fragment'],
      ['ftp://user:super-secret-key-1234@host', 'http'],
      ['not a url super-secret-key-1234', 'http'],
    ])(
      'refuses baseUrl %s with a typed error that names the option and the problem, never the value',
      (baseUrl, problem) => {
        const error = optionsError(
          () => new CoinMarketCapClient({ baseUrl, fetch: scriptedFetch([]).fetch }),
        );

        expect(error).toBeInstanceOf(OptionsError);
        expect(error.code).toBe('CMC_OPTIONS_INVALID');
        expect(error.context.option).toBe('baseUrl');
        expect(error.message).toContain('baseUrl');
        expect(error.message).toContain(problem);
        expect(printed(error)).not.toContain(KEY);
      },
    );

    it.each([
      ['a newline', 'super-secret\nkey-1234'],
      ['a NUL', 'super-secret-key-1234\0'],
      ['a non-ASCII character', 'super-secret-kéy-1234'],
      ['spaces', ' super-secret-key-1234 '],
      ['nothing', ''],
    ])('refuses an apiKey with %s, never echoing it', (_what, apiKey) => {
      const error = optionsError(() => new CoinMarketCapClient({ apiKey, fetch: scriptedFetch([]).fetch }));

      expect(error).toBeInstanceOf(OptionsError);
      expect(error.code).toBe('CMC_OPTIONS_INVALID');
      expect(error.context.option).toBe('apiKey');
      if (apiKey.trim() !== '') expect(printed(error)).not.toContain(apiKey.trim().slice(0, 12));
    });

    it('never prints the key: String, JSON.stringify and util.inspect of the client, string or Secret', () => {
      for (const apiKey of [KEY, new Secret(KEY)]) {
        const client = new CoinMarketCapClient({ apiKey, fetch: scriptedFetch([]).fetch });

        expect(printed(client)).not.toContain(KEY);
        expect(printed(client)).toContain('pro-api.coinmarketcap.com');
      }
    });

    it('sends the key only as a header: the URL carries only the call parameters', async () => {
      const { fetch, calls } = scriptedFetch([{ body: envelope([]) }]);
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch });

      await client.listingsLatest({ limit: 5, convert: 'USD', sort: 'market_cap' });

      expect(calls[0]?.url.toString()).not.toContain(KEY);
      expect([...(calls[0]?.url.searchParams.keys() ?? [])].sort()).toEqual(['convert', 'limit', 'sort']);
      expect(calls[0]?.headers['X-CMC_PRO_API_KEY']).toBe(KEY);
    });

    it('keeps the key out of a network error whose message and cause carry the URL', async () => {
      const fetch: FetchLike = async (input) => {
        throw new TypeError(`fetch failed: ${input}`, { cause: new Error(`connect ECONNREFUSED ${input}`) });
      };
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch, retry: { ...fastRetry, maxAttempts: 1 } });

      const error = await client.listingsLatest({ limit: 1 }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RetryExhaustedError);
      expect((error as Error).cause).toBeInstanceOf(CoinMarketCapResponseError);
      expect(printed(error)).toContain('/v1/cryptocurrency/listings/latest');
      expect(printed(error)).not.toContain(KEY);
    });

    it('keeps the key out of errors even when a server or a fetch wrapper echoes it', async () => {
      const echoed = [
        { status: 401, body: envelope(null, 0, 1001, `API key ${KEY} is invalid`) },
        { status: 502, body: `<html>bad gateway for X-CMC_PRO_API_KEY: ${KEY}</html>` },
        { status: 200, body: `${KEY} {"status": ` },
        { status: 200, body: `${'x'.repeat(190)} key ${KEY}` },
        new Error(`request with header X-CMC_PRO_API_KEY=${KEY} failed`),
      ];
      for (const reply of echoed) {
        const { fetch } = scriptedFetch([reply]);
        const client = new CoinMarketCapClient({
          apiKey: KEY,
          fetch,
          retry: { ...fastRetry, maxAttempts: 1 },
        });

        const error = await client.listingsLatest({ limit: 1 }).catch((e: unknown) => e);

        expect(TributaryError.isInstance(error)).toBe(true);
        expect(printed(error)).not.toContain(KEY);
      }
    });
  });

  describe('fromConfig', () => {
    it('takes key and base URL from the core config', async () => {
      const { fetch, calls } = scriptedFetch([{ body: envelope([]) }]);
      const client = CoinMarketCapClient.fromConfig(
        { apiKey: new Secret(KEY), baseUrl: 'http://127.0.0.1:1234', sandbox: false },
        { fetch },
      );
      await client.fiatMap();
      expect(calls[0]?.url.origin).toBe('http://127.0.0.1:1234');
      expect(calls[0]?.headers['X-CMC_PRO_API_KEY']).toBe(KEY);
    });

    it('picks the production or sandbox API itself when the config has no base URL', async () => {
      const { fetch, calls } = scriptedFetch([{ body: envelope([]) }, { body: envelope([]) }]);
      for (const [sandbox, env] of [
        [false, {}],
        [true, { CMC_SANDBOX: 'true' }],
      ] as const) {
        const config = loadConfig({ ...env, CMC_API_KEY: KEY }).coinmarketcap;
        await CoinMarketCapClient.fromConfig(config, { fetch }).fiatMap();
        expect(config.sandbox).toBe(sandbox);
      }
      expect(calls.map((c) => c.url.origin)).toEqual([CMC_PRO_BASE_URL, CMC_SANDBOX_BASE_URL]);
    });
  });

  describe('listingsLatest', () => {
    it('sends the key header and shapes the query', async () => {
      const { fetch, calls } = scriptedFetch([{ body: envelope([listing(1)], 2) }]);
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch, baseUrl: 'http://h' });
      const result = await client.listingsLatest({
        start: 101,
        limit: 50,
        convert: ['USD', 'EUR'],
        sort: 'volume_24h',
      });
      const call = calls[0];
      expect(call?.url.pathname).toBe('/v1/cryptocurrency/listings/latest');
      expect(Object.fromEntries(call?.url.searchParams ?? [])).toEqual({
        start: '101',
        limit: '50',
        convert: 'USD,EUR',
        sort: 'volume_24h',
      });
      expect(call?.headers['X-CMC_PRO_API_KEY']).toBe(KEY);
      expect(call?.url.toString()).not.toContain(KEY);
      expect(result.data[0]?.id).toBe(1);
      expect(client.creditUsage().usedToday).toBe(2);
    });

    it('validates limit and the plan convert limit before calling', () => {
      const { fetch, calls } = scriptedFetch([]);
      const client = new CoinMarketCapClient({ fetch, plan: { callsPerMinute: 30, maxConvert: 1 } });
      expect(() => client.listingsLatest({ limit: 5001 })).toThrow(/limit/);
      expect(() => client.listingsLatest({ convert: ['USD', 'EUR'] })).toThrow(/plan allows 1/);
      expect(calls).toHaveLength(0);
    });
  });

  describe('listingsAll', () => {
    it('pages with 1-based starts until a short page', async () => {
      const { fetch, calls } = scriptedFetch((url) => {
        const start = Number(url.searchParams.get('start'));
        const limit = Number(url.searchParams.get('limit'));
        const ids = Array.from(
          { length: Math.max(0, Math.min(limit, 250 - start + 1)) },
          (_, i) => start + i,
        );
        return { body: envelope(ids.map(listing)) };
      });
      const client = new CoinMarketCapClient({ fetch, plan: { callsPerMinute: 1000 } });
      const starts: number[] = [];
      let total = 0;
      for await (const page of client.listingsAll({ pageSize: 100, convert: 'USD' })) {
        starts.push(page.start);
        total += page.data.length;
      }
      expect(starts).toEqual([1, 101, 201]);
      expect(total).toBe(250);
      expect(calls.map((c) => c.url.searchParams.get('convert'))).toEqual(['USD', 'USD', 'USD']);
    });

    it('stops at the requested total', async () => {
      const { fetch, calls } = scriptedFetch((url) => {
        const start = Number(url.searchParams.get('start'));
        const limit = Number(url.searchParams.get('limit'));
        return { body: envelope(Array.from({ length: limit }, (_, i) => listing(start + i))) };
      });
      const client = new CoinMarketCapClient({ fetch, plan: { callsPerMinute: 1000 } });
      const pages = [];
      for await (const page of client.listingsAll({ limit: 250, pageSize: 100 })) pages.push(page);
      expect(calls.map((c) => c.url.searchParams.get('limit'))).toEqual(['100', '100', '50']);
      expect(pages.flatMap((p) => p.data).length).toBe(250);
    });
  });

  describe('quotesLatest', () => {
    it('joins ids and requires exactly one selector', async () => {
      const { fetch, calls } = scriptedFetch([{ body: envelope({}) }]);
      const client = new CoinMarketCapClient({ fetch });
      await client.quotesLatest({ id: [1, 1027], convert: 'USD,BTC' });
      expect(calls[0]?.url.pathname).toBe('/v2/cryptocurrency/quotes/latest');
      expect(calls[0]?.url.searchParams.get('id')).toBe('1,1027');
      expect(calls[0]?.url.searchParams.get('convert')).toBe('USD,BTC');
      expect(() => client.quotesLatest({ id: 1, symbol: 'BTC' } as never)).toThrow(/exactly one/);
      expect(() => client.quotesLatest({} as never)).toThrow(/exactly one/);
    });
  });

  describe('other endpoints', () => {
    it('call the documented paths', async () => {
      const { fetch, calls } = scriptedFetch(() => ({ body: envelope([]) }));
      const client = new CoinMarketCapClient({ fetch, plan: { callsPerMinute: 1000 } });
      await client.map({ listing_status: 'active', symbol: ['BTC', 'ETH'] });
      await client.info({ slug: 'bitcoin' });
      await client.globalMetricsLatest({ convert: ['USD'] });
      await client.fiatMap();
      await client.listingsHistorical({ date: '2026-01-02' });
      await client.quotesHistorical({ id: 1, time_start: '2026-01-01', interval: 'daily', count: 5 });
      expect(calls.map((c) => c.url.pathname)).toEqual([
        '/v1/cryptocurrency/map',
        '/v2/cryptocurrency/info',
        '/v1/global-metrics/quotes/latest',
        '/v1/fiat/map',
        '/v1/cryptocurrency/listings/historical',
        '/v2/cryptocurrency/quotes/historical',
      ]);
      expect(calls[0]?.url.searchParams.get('symbol')).toBe('BTC,ETH');
      expect(calls[5]?.url.searchParams.get('interval')).toBe('daily');
    });
  });

  describe('error mapping', () => {
    it('retries 429/1008 honouring Retry-After, then succeeds', async () => {
      const events: string[] = [];
      const delays: number[] = [];
      const { fetch, calls } = scriptedFetch([
        {
          status: 429,
          body: envelope(undefined, 0, 1008, 'rate limit'),
          headers: { 'Retry-After': '0.004' },
        },
        { body: envelope([listing(1)]) },
      ]);
      const client = new CoinMarketCapClient({
        fetch,
        retry: { ...fastRetry, onRetry: (info) => void delays.push(info.delayMs) },
        onEvent: (e) => events.push(e.type),
      });
      const result = await client.listingsLatest({ limit: 1 });
      expect(result.data).toHaveLength(1);
      expect(calls).toHaveLength(2);
      expect(delays).toEqual([4]);
      expect(events).toEqual(['retry', 'batch']);
    });

    it('retries 5xx and gives up with RetryExhaustedError carrying the API error', async () => {
      const { fetch, calls } = scriptedFetch(() => ({
        status: 500,
        body: envelope(undefined, 0, 500, 'boom'),
      }));
      const client = new CoinMarketCapClient({ fetch, retry: { ...fastRetry, maxAttempts: 3 } });
      const err = await client.fiatMap().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryExhaustedError);
      const cause = (err as RetryExhaustedError).cause;
      expect(cause).toBeInstanceOf(CoinMarketCapApiError);
      expect((cause as CoinMarketCapApiError).httpStatus).toBe(500);
      expect(calls).toHaveLength(3);
    });

    it.each([
      [401, 1001, 'This API Key is invalid.'],
      [401, 1002, 'API key missing.'],
      [403, 1006, 'Your plan does not include this endpoint.'],
      [429, 1009, 'daily limit'],
      [429, 1010, 'monthly limit'],
      [400, 400, 'Invalid value for "id"'],
    ])('stops at once on HTTP %i error %i', async (httpStatus, errorCode, message) => {
      const { fetch, calls } = scriptedFetch(() => ({
        status: httpStatus,
        body: envelope(undefined, 0, errorCode, message),
        headers: { 'Retry-After': '1' },
      }));
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch, retry: fastRetry });
      const err = (await client.map().catch((e: unknown) => e)) as CoinMarketCapApiError;
      expect(err).toBeInstanceOf(CoinMarketCapApiError);
      expect(err.errorCode).toBe(errorCode);
      expect(err.httpStatus).toBe(httpStatus);
      expect(err.errorMessage).toBe(message);
      expect(err.retryable).toBe(false);
      expect(calls).toHaveLength(1);
      expect(err.message).not.toContain(KEY);
      expect(JSON.stringify(err)).not.toContain(KEY);
    });

    it('turns a non-zero error_code inside HTTP 200 into an API error', async () => {
      const { fetch } = scriptedFetch([{ body: envelope(null, 0, 1003, 'plan requires payment') }]);
      const err = await new CoinMarketCapClient({ fetch }).map().catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CoinMarketCapApiError', errorCode: 1003, httpStatus: 200 });
    });

    it.each([
      ['malformed_json', 200, '{"status": {"error_code": 0', 'malformed_json'],
      ['an HTML page', 200, '<html><body>Bad gateway</body></html>', 'not_json'],
      ['no envelope', 200, '{"hello": 1}', 'bad_shape'],
    ])('maps %s to CoinMarketCapResponseError with an excerpt', async (_label, status, body, problem) => {
      const { fetch, calls } = scriptedFetch(() => ({ status, body }));
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch, retry: fastRetry });
      const err = (await client.listingsLatest().catch((e: unknown) => e)) as CoinMarketCapResponseError;
      expect(err).toBeInstanceOf(CoinMarketCapResponseError);
      expect(err.problem).toBe(problem);
      expect(err.httpStatus).toBe(200);
      expect(err.excerpt).toBe(body.slice(0, 200));
      expect(err.message).not.toContain(KEY);
      expect(calls).toHaveLength(1);
    });

    it('maps a body that fails mid-read to a truncated response error', async () => {
      const fetch: FetchLike = async () => {
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"status":'));
            controller.error(new TypeError('terminated'));
          },
        });
        return new Response(stream, { status: 200 });
      };
      const err = await new CoinMarketCapClient({ fetch }).fiatMap().catch((e: unknown) => e);
      expect(err).toMatchObject({
        name: 'CoinMarketCapResponseError',
        problem: 'truncated',
        httpStatus: 200,
      });
    });

    it('retries network failures and wraps them with their cause', async () => {
      const boom = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      const { fetch, calls } = scriptedFetch([boom, boom]);
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch, retry: { ...fastRetry, maxAttempts: 2 } });
      const err = (await client.fiatMap().catch((e: unknown) => e)) as RetryExhaustedError;
      expect(err).toBeInstanceOf(RetryExhaustedError);
      expect(err.cause).toBeInstanceOf(CoinMarketCapResponseError);
      expect((err.cause as CoinMarketCapResponseError).cause).toBe(boom);
      expect(calls).toHaveLength(2);
    });

    it('emits a failure event without the key', async () => {
      const events: unknown[] = [];
      const { fetch } = scriptedFetch([{ status: 401, body: envelope(undefined, 0, 1001, 'invalid key') }]);
      const client = new CoinMarketCapClient({ apiKey: KEY, fetch, onEvent: (e) => events.push(e) });
      await expect(client.map()).rejects.toThrow(CoinMarketCapApiError);
      expect(events).toMatchObject([{ type: 'failure', code: 'CMC_API_ERROR' }]);
      expect(JSON.stringify(events)).not.toContain(KEY);
    });
  });

  describe('credit budget', () => {
    it('refuses a call whose estimate would exceed the daily budget, without sending it', async () => {
      const clock = manualClock();
      const { fetch, calls } = scriptedFetch(() => ({ body: envelope([], 25) }));
      const client = new CoinMarketCapClient({
        fetch,
        clock,
        plan: { callsPerMinute: 100, dailyCredits: 30 },
      });
      await client.listingsLatest({ limit: 5000 });
      const err = (await client
        .listingsLatest({ limit: 5000 })
        .catch((e: unknown) => e)) as CreditBudgetExceededError;
      expect(err).toBeInstanceOf(CreditBudgetExceededError);
      expect(err).toMatchObject({ period: 'daily', budget: 30, used: 25, estimate: 25 });
      expect(calls).toHaveLength(1);
      // A new UTC day resets the daily total.
      clock.t += 24 * 3_600_000;
      await client.listingsLatest({ limit: 5000 });
      expect(calls).toHaveLength(2);
      expect(client.creditUsage()).toMatchObject({ usedToday: 25, usedThisMonth: 50 });
    });

    it('refuses on the monthly budget', async () => {
      const { fetch } = scriptedFetch(() => ({ body: envelope([], 3) }));
      const client = new CoinMarketCapClient({ fetch, plan: { callsPerMinute: 100, monthlyCredits: 4 } });
      await client.fiatMap();
      await expect(client.quotesLatest({ id: [1, 2], convert: ['USD', 'EUR'] })).rejects.toMatchObject({
        period: 'monthly',
        used: 3,
        estimate: 2,
      });
    });
  });

  describe('rate limit', () => {
    it('waits on the clock when the minute budget is spent', async () => {
      const clock = manualClock();
      const { fetch } = scriptedFetch(() => ({ body: envelope([]) }));
      const client = new CoinMarketCapClient({ fetch, clock, plan: { callsPerMinute: 2 } });
      await client.fiatMap();
      await client.fiatMap();
      expect(clock.slept).toEqual([]);
      await client.fiatMap();
      expect(clock.slept).toEqual([30_000]);
    });

    it.each([0, -1, Number.NaN, '30'])('refuses plan.callsPerMinute %s, naming it', (callsPerMinute) => {
      let error: unknown;
      try {
        new CoinMarketCapClient({ fetch: scriptedFetch([]).fetch, plan: { callsPerMinute } as never });
      } catch (caught) {
        error = caught;
      }

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'CMC_OPTIONS_INVALID', option: 'plan.callsPerMinute' });
    });
  });
});

describe('estimateCredits', () => {
  describe('rules', () => {
    it('follows the documented per-endpoint rules', () => {
      expect(estimateCredits('listingsLatest', { items: 100 })).toBe(1);
      expect(estimateCredits('listingsLatest', { items: 201 })).toBe(2);
      expect(estimateCredits('listingsLatest', { items: 5000, converts: 3 })).toBe(27);
      expect(estimateCredits('quotesLatest', { items: 101 })).toBe(2);
      expect(estimateCredits('info', { items: 100, converts: 5 })).toBe(1);
      expect(estimateCredits('map')).toBe(1);
      expect(estimateCredits('globalMetricsLatest', { converts: 2 })).toBe(2);
    });
  });
});

describe('CreditLedger', () => {
  describe('record', () => {
    it('resets the month total on a new calendar month', () => {
      let now = Date.parse('2026-01-31T23:59:00.000Z');
      const ledger = new CreditLedger({ monthlyBudget: 10, now: () => now });
      ledger.record(9);
      expect(() => ledger.assertCanSpend(2, '/x')).toThrow(CreditBudgetExceededError);
      now = Date.parse('2026-02-01T00:00:01.000Z');
      expect(() => ledger.assertCanSpend(2, '/x')).not.toThrow();
      expect(ledger.usage()).toMatchObject({ month: '2026-02', usedThisMonth: 0 });
    });
  });
});
