import { describe, expect, it } from 'vitest';
import { generateFixtures } from '../../fixtures/generate.js';
import { CoinMarketCapNormalizeError, normalizeListings, normalizeQuotes } from '../../src/normalize.js';
import {
  cryptocurrencySchema,
  cryptocurrencyTagSchema,
  platformSchema,
  quoteSchema,
  tagSchema,
} from '../../src/schemas.js';
import type {
  CmcListing,
  CmcQuote,
  CmcQuoteItem,
  CmcQuotesLatestData,
  CmcResponse,
} from '../../src/types.js';

const UPDATED = '2026-01-02T00:00:00.000Z';

function quote(overrides: Partial<CmcQuote> = {}): CmcQuote {
  return {
    price: 0.1,
    volume_24h: 1e-8,
    volume_change_24h: null,
    percent_change_1h: -0.3,
    percent_change_24h: 1.25,
    percent_change_7d: 3,
    percent_change_30d: 10,
    percent_change_60d: 0,
    percent_change_90d: 0,
    market_cap: 123456789012.34,
    market_cap_dominance: 52.1,
    fully_diluted_market_cap: null,
    last_updated: UPDATED,
    ...overrides,
  };
}

function listing(id: number, overrides: Partial<CmcListing> = {}): CmcListing {
  return {
    id,
    name: `Coin ${id}`,
    symbol: `C${id}`,
    slug: `coin-${id}`,
    cmc_rank: id,
    num_market_pairs: 10,
    circulating_supply: 1000.5,
    total_supply: null,
    max_supply: null,
    infinite_supply: true,
    last_updated: UPDATED,
    date_added: '2020-05-01T00:00:00.000Z',
    tags: ['defi', 'mineable'],
    platform: { id: 1027, name: 'Ethereum', symbol: 'ETH', slug: 'ethereum', token_address: `0x${id}` },
    self_reported_circulating_supply: null,
    self_reported_market_cap: null,
    quote: { USD: quote() },
    ...overrides,
  };
}

describe('normalizeListings', () => {
  describe('decimals', () => {
    it('keeps the digits of each JSON number exactly, at scale 18', () => {
      const rows = normalizeListings([listing(1)]);

      const q = rows.quote[0];
      expect(q?.price).toBe('0.100000000000000000');
      expect(q?.volume_24h).toBe('0.000000010000000000');
      expect(q?.percent_change_1h).toBe('-0.300000000000000000');
      expect(q?.market_cap).toBe('123456789012.340000000000000000');
      expect(rows.cryptocurrency[0]?.circulating_supply).toBe('1000.500000000000000000');
    });

    it('handles tiny exponents and large supplies without float noise', () => {
      const rows = normalizeListings([
        listing(1, {
          circulating_supply: 589_254_706_456_789.1,
          quote: { USD: quote({ price: 1.23e-12, market_cap: 0.1 + 0.2 }) },
        }),
      ]);

      expect(rows.quote[0]?.price).toBe('0.000000000001230000');
      // 0.1 + 0.2 is the float 0.30000000000000004: its own shortest text, not a rounded guess.
      expect(rows.quote[0]?.market_cap).toBe('0.300000000000000040');
      expect(rows.cryptocurrency[0]?.circulating_supply).toBe('589254706456789.100000000000000000');
    });

    it('keeps null supplies and figures null', () => {
      const rows = normalizeListings([listing(1, { max_supply: null, total_supply: null, cmc_rank: null })]);

      expect(rows.cryptocurrency[0]?.max_supply).toBeNull();
      expect(rows.cryptocurrency[0]?.total_supply).toBeNull();
      expect(rows.cryptocurrency[0]?.cmc_rank).toBeNull();
      expect(rows.quote[0]?.volume_change_24h).toBeNull();
      expect(rows.quote[0]?.fully_diluted_market_cap).toBeNull();
    });

    it('rejects a number beyond NUMERIC(38,18) with its path', () => {
      const act = () => normalizeListings([listing(7, { total_supply: 1e25 })]);

      expect(act).toThrow(CoinMarketCapNormalizeError);
      expect(act).toThrow(/\[0\]\.total_supply/);
    });
  });

  describe('dedup', () => {
    it('lists each platform, tag, coin and tag link once', () => {
      const rows = normalizeListings([
        listing(1),
        listing(2, { tags: ['defi'] }),
        listing(3, { platform: null, tags: [] }),
        listing(1, { name: 'duplicate' }),
      ]);

      expect(rows.platform).toEqual([{ id: 1027, name: 'Ethereum', symbol: 'ETH', slug: 'ethereum' }]);
      expect(rows.tag.map((t) => t.slug)).toEqual(['defi', 'mineable']);
      expect(rows.cryptocurrency.map((c) => [c.id, c.name])).toEqual([
        [1, 'Coin 1'],
        [2, 'Coin 2'],
        [3, 'Coin 3'],
      ]);
      expect(rows.cryptocurrency_tag).toHaveLength(3);
      expect(rows.cryptocurrency[2]).toMatchObject({ platform_id: null, token_address: null });
      expect(rows.cryptocurrency[0]).toMatchObject({ platform_id: 1027, token_address: '0x1' });
    });

    it('keeps only the requested convert currencies', () => {
      const rows = normalizeListings([listing(1, { quote: { USD: quote(), EUR: quote({ price: 0.09 }) } })], {
        convert: 'EUR',
      });

      expect(rows.quote.map((q) => [q.convert, q.price])).toEqual([['EUR', '0.090000000000000000']]);
    });
  });

  describe('fixtures', () => {
    it('produces rows that validate against the schemas', () => {
      const fixtures = generateFixtures({ coins: 300, snapshots: 2 });

      const rows = normalizeListings(fixtures.listings(0, ['USD', 'EUR']));

      expect(rows.cryptocurrency).toHaveLength(300);
      expect(rows.quote).toHaveLength(600);
      const check = (schema: { validate(v: unknown): { ok: boolean } }, list: readonly unknown[]) =>
        list.filter((row) => !schema.validate(row).ok).length;
      expect(check(cryptocurrencySchema, rows.cryptocurrency)).toBe(0);
      expect(check(platformSchema, rows.platform)).toBe(0);
      expect(check(tagSchema, rows.tag)).toBe(0);
      expect(check(cryptocurrencyTagSchema, rows.cryptocurrency_tag)).toBe(0);
      expect(check(quoteSchema, rows.quote)).toBe(0);
      expect(new Set(rows.tag.map((t) => t.slug)).size).toBe(rows.tag.length);
      expect(rows.cryptocurrency[0]?.last_updated).toEqual(new Date(fixtures.snapshotTime(0)));
    });
  });
});

describe('normalizeQuotes', () => {
  describe('response shapes', () => {
    it('reads objects by id and arrays by symbol, with tag names', () => {
      const item = (id: number, symbol: string): CmcQuoteItem => ({
        ...listing(id, { symbol }),
        is_active: 1,
        is_fiat: 0,
        tags: [{ slug: 'defi', name: 'DeFi', category: 'INDUSTRY' }],
      });
      const response: CmcResponse<CmcQuotesLatestData> = {
        status: {
          timestamp: UPDATED,
          error_code: 0,
          error_message: null,
          elapsed: 1,
          credit_count: 1,
        },
        data: { '1': item(1, 'AAA'), BBB: [item(2, 'BBB'), item(3, 'BBB')] },
      };

      const rows = normalizeQuotes(response);

      expect(rows.cryptocurrency.map((c) => c.id)).toEqual([1, 2, 3]);
      expect(rows.tag).toEqual([{ slug: 'defi', name: 'DeFi', category: 'INDUSTRY' }]);
      expect(rows.quote).toHaveLength(3);
      expect(normalizeQuotes(response.data).quote).toHaveLength(3);
    });
  });
});
