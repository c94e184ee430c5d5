import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCryptoToPostgres } from '../../src/crypto-to-postgres.js';

const out = mkdtempSync(join(tmpdir(), 'tributary-example-crypto-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('examples/crypto-to-postgres', () => {
  it('loads the fixtures into PostgreSQL, exports them, transforms them and ranks the top 10', async () => {
    const result = await runCryptoToPostgres({ out, snapshots: 3, env: {} });

    expect(result.source).toBe('fixtures');
    // every fixture coin, with one quote per snapshot
    expect(result.processed.cryptocurrencies).toBe(300);
    expect(result.processed.quotes).toBe(900);
    expect(result.curatedDays).toBe(3);
    expect(result.top10.map((c) => c.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const caps = result.top10.map((c) => Number(c.marketCap));
    expect([...caps].sort((a, b) => b - a)).toEqual(caps);
    expect(result.top10.every((c) => c.name !== '' && c.change24h !== null)).toBe(true);
  }, 120_000);
});
