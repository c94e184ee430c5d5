import { RetryExhaustedError, type RetryOptions } from '@tributary/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CoinMarketCapClient } from '../../src/client.js';
import { CoinMarketCapApiError, CoinMarketCapResponseError } from '../../src/errors.js';
import { type FixtureServer, startFixtureServer } from '../../src/fixture-server.js';
import type { CmcQuoteItem } from '../../src/types.js';

const KEY = 'fixture-key-abc';

describe('CoinMarketCapClient against the fixture server', () => {
  let server: FixtureServer;

  beforeAll(async () => {
    server = await startFixtureServer({ apiKey: KEY });
  });

  afterAll(async () => {
    await server.stop();
  });

  beforeEach(() => {
    server.setSnapshot(0);
    server.requests.length = 0;
  });

  function client(retry: RetryOptions = {}) {
    return new CoinMarketCapClient({
      apiKey: KEY,
      baseUrl: server.baseUrl,
      plan: { callsPerMinute: 10_000 },
      retry: { baseDelayMs: 1, maxDelayMs: 5, ...retry },
    });
  }

  describe('listingsAll', () => {
    it('pages through all 300 coins in pages of 100 over real HTTP', async () => {
      const cmc = client();
      const ids: number[] = [];
      const ranks: number[] = [];
      for await (const page of cmc.listingsAll({ pageSize: 100, convert: ['USD', 'EUR'] })) {
        for (const coin of page.data) {
          ids.push(coin.id);
          ranks.push(coin.cmc_rank ?? -1);
          expect(Object.keys(coin.quote)).toEqual(['USD', 'EUR']);
        }
      }
      expect(ids).toHaveLength(300);
      expect(new Set(ids).size).toBe(300);
      expect(ranks).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      // status.total_count spares a fourth, empty page.
      expect(server.requests.map((r) => r.query.start)).toEqual(['1', '101', '201']);
      expect(server.requests.every((r) => r.apiKey === KEY && r.query.convert === 'USD,EUR')).toBe(true);
      // 1 credit per 200 coins rounded up, plus 1 for the second currency, as the server charged.
      expect(cmc.creditUsage().usedToday).toBe(2 + 2 + 2);
    });
  });

  describe('listingsLatest', () => {
    it('returns the documented envelope with the synthetic notice', async () => {
      const result = await client().listingsLatest({ limit: 5 });
      expect(result.status).toMatchObject({ error_code: 0, credit_count: 1 });
      expect(result.status.notice).toMatch(/SYNTHETIC/);
      expect(result.data[0]).toMatchObject({ cmc_rank: 1, quote: { USD: { price: expect.any(Number) } } });
    });

    it('changes prices when the snapshot moves', async () => {
      const cmc = client();
      const symbol = server.dataset.coins[0]?.symbol ?? '';
      const before = await cmc.quotesLatest({ symbol });
      server.setSnapshot(3);
      const after = await cmc.quotesLatest({ symbol });
      const price = (r: typeof before) => (Object.values(r.data)[0] as CmcQuoteItem[])[0]?.quote.USD?.price;
      expect(price(before)).toBeGreaterThan(0);
      expect(price(after)).not.toBe(price(before));
      const updated = (r: typeof before) => (Object.values(r.data)[0] as CmcQuoteItem[])[0]?.last_updated;
      expect(updated(after)).toBe('2026-01-04T00:00:00.000Z');
    });
  });

  describe('other endpoints', () => {
    it('serve quotes by id, info, map, global metrics and the fiat map', async () => {
      const cmc = client();
      const coin = server.dataset.coins[10];
      const top = server.dataset.coins[0];
      if (coin === undefined || top === undefined) throw new Error('no coin');
      // Coins are accepted as convert currencies too, like BTC on the real API.
      const quotes = await cmc.quotesLatest({ id: coin.id, convert: ['USD', top.symbol] });
      const item = quotes.data[String(coin.id)] as CmcQuoteItem;
      expect(item.symbol).toBe(coin.symbol);
      expect(Object.keys(item.quote)).toEqual(['USD', top.symbol]);
      const info = await cmc.info({ slug: coin.slug });
      expect(info.data[coin.slug]).toMatchObject({ id: coin.id, name: coin.name });
      const map = await cmc.map({ symbol: coin.symbol });
      expect(map.data.map((m) => m.id)).toEqual([coin.id]);
      const global = await cmc.globalMetricsLatest({ convert: 'USD' });
      expect(global.data.active_cryptocurrencies).toBe(300);
      const fiat = await cmc.fiatMap();
      expect(fiat.data.map((f) => f.symbol)).toContain('EUR');
      const history = await cmc.quotesHistorical({ id: coin.id, count: 5 });
      const series = history.data[String(coin.id)];
      expect(Array.isArray(series) ? undefined : series?.quotes).toHaveLength(5);
    });

    it('answers an unknown currency with a 400 API error', async () => {
      const err = await client()
        .listingsLatest({ convert: 'NOPE' })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CoinMarketCapApiError', httpStatus: 400, errorCode: 400 });
    });
  });

  describe('scripted failures', () => {
    it('waits for Retry-After on 429/1008 and retries', async () => {
      server.fail([{ status: 429, retryAfter: 1, errorCode: 1008 }]);
      const started = performance.now();
      const result = await client().listingsLatest({ limit: 3 });
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
      expect(result.data).toHaveLength(3);
      expect(server.requests).toHaveLength(2);
    });

    it('retries a 500', async () => {
      server.fail([{ status: 500 }]);
      const result = await client().fiatMap();
      expect(result.data.length).toBeGreaterThan(0);
      expect(server.requests).toHaveLength(2);
    });

    it('stops at once on 401 without a key, and on a wrong key', async () => {
      const noKey = new CoinMarketCapClient({ baseUrl: server.baseUrl, retry: { baseDelayMs: 1 } });
      await expect(noKey.map()).rejects.toMatchObject({ httpStatus: 401, errorCode: 1002 });
      const wrong = new CoinMarketCapClient({
        apiKey: 'wrong',
        baseUrl: server.baseUrl,
        retry: { baseDelayMs: 1 },
      });
      const err = (await wrong.map().catch((e: unknown) => e)) as CoinMarketCapApiError;
      expect(err).toBeInstanceOf(CoinMarketCapApiError);
      expect(err.errorCode).toBe(1001);
      expect(err.message).not.toContain('wrong');
      expect(server.requests).toHaveLength(2);
    });

    it('stops at once on a scripted 401/1001', async () => {
      server.fail([{ status: 401, errorCode: 1001 }]);
      await expect(client().map()).rejects.toMatchObject({ errorCode: 1001, retryable: false });
      expect(server.requests).toHaveLength(1);
    });

    it.each([
      ['daily', 1009],
      ['monthly', 1010],
    ] as const)('stops at once on the %s credit limit', async (credits, errorCode) => {
      server.fail([{ credits }]);
      await expect(client().listingsLatest()).rejects.toMatchObject({ httpStatus: 429, errorCode });
      expect(server.requests).toHaveLength(1);
    });

    it('maps a persistent HTML 502 page to a typed error after the retries', async () => {
      const html = '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>';
      server.fail([
        { status: 502, body: html },
        { status: 502, body: html },
      ]);
      const err = (await client({ maxAttempts: 2 })
        .listingsLatest()
        .catch((e: unknown) => e)) as RetryExhaustedError;
      expect(err).toBeInstanceOf(RetryExhaustedError);
      const cause = err.cause as CoinMarketCapResponseError;
      expect(cause).toBeInstanceOf(CoinMarketCapResponseError);
      expect(cause).toMatchObject({ problem: 'not_json', httpStatus: 502 });
      expect(cause.excerpt).toContain('502 Bad Gateway');
    });

    it('maps a truncated body to a typed error', async () => {
      server.fail([{ truncated: true }]);
      const err = (await client()
        .listingsLatest()
        .catch((e: unknown) => e)) as CoinMarketCapResponseError;
      expect(err).toBeInstanceOf(CoinMarketCapResponseError);
      expect(err.problem).toBe('truncated');
      expect(err.httpStatus).toBe(200);
      expect(server.requests).toHaveLength(1);
      // The server is still healthy afterwards.
      await expect(client().fiatMap()).resolves.toMatchObject({ status: { error_code: 0 } });
    });
  });

  describe('await using', () => {
    it('stops the server when the block ends (stop is harmless after that)', async () => {
      let baseUrl = '';
      {
        await using fixtures = await startFixtureServer();
        baseUrl = fixtures.baseUrl;
        expect((await fetch(`${baseUrl}/v1/fiat/map`)).status).toBeLessThan(500);
      }

      await expect(fetch(`${baseUrl}/v1/fiat/map`)).rejects.toThrow();
    });
  });
});
