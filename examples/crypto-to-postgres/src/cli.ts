// pnpm --filter @tributary/example-crypto-to-postgres start -- --snapshots 3 --out ./out
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCryptoToPostgres } from './crypto-to-postgres.js';

// `pnpm … start -- --snapshots 3` passes the `--` through.
const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    snapshots: { type: 'string', default: '3' },
    out: { type: 'string', default: '.tributary/crypto-to-postgres' },
    'table-format': { type: 'string', default: 'iceberg' },
  },
});

try {
  const started = performance.now();
  const result = await runCryptoToPostgres({
    // pnpm runs scripts in the package's folder; INIT_CWD is where the command was typed.
    out: resolve(process.env.INIT_CWD ?? process.cwd(), values.out),
    snapshots: Number(values.snapshots),
    tableFormat: values['table-format'] as 'iceberg' | 'hive',
  });
  console.log(
    `${result.source}: ${result.snapshots} snapshot(s) → ${result.loaded.toLocaleString('en-US')} rows loaded into PostgreSQL → ${result.exportedFiles} DMS files in the raw zone`,
  );
  console.log(
    `processed: ${result.processed.cryptocurrencies} coins, ${result.processed.quotes} quotes → curated: ${result.curatedDays} day(s)`,
  );
  console.log('top 10 by market cap (USD), last day:');
  console.table(
    result.top10.map((c) => ({
      rank: c.rank,
      name: c.name,
      symbol: c.symbol,
      price: Number(c.close).toPrecision(8),
      'market cap': Number(c.marketCap).toExponential(3),
      '24h %': c.change24h === null ? '—' : c.change24h.toFixed(2),
    })),
  );
  console.log(`time: ${((performance.now() - started) / 1000).toFixed(1)} s; lake: ${result.lake.raw.url} …`);
} catch (err) {
  console.error(`crypto-to-postgres failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
