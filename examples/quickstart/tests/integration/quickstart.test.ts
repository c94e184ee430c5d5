import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  COIN_DAILY_TABLE,
  coinDailySchema,
  cryptocurrencySchema,
  PROCESSED_CRYPTOCURRENCY_TABLE,
} from '@tributary/coinmarketcap';
import { readDataset, readIceberg, type Storage } from '@tributary/lake';
import { curatedHourlySchema, sensorRecordSchema } from '@tributary/sensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEnvironment, type LocalEnvironment } from '../../src/local-environment.js';
import { type QuickstartResult, runQuickstart } from '../../src/quickstart.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PYTHON = join(packageDir, '../../spark/.venv/bin/python');
const out = mkdtempSync(join(tmpdir(), 'tributary-quickstart-'));
// Neither a CoinMarketCap key nor an outside database: the fixtures and the embedded PostgreSQL.
const settings = { TRIBUTARY_MODE: 'local' };
const size = { records: 3_000, sensorsPerType: 2, seed: 7, snapshots: 3 };
let env: LocalEnvironment;
let first: QuickstartResult;
let second: QuickstartResult;

beforeAll(async () => {
  // One environment for both runs, so the second run merges into the warehouse the first filled.
  env = await createLocalEnvironment({ out, env: settings });
}, 60_000);
afterAll(async () => {
  await env?.close();
  rmSync(out, { recursive: true, force: true });
});

const rowsOf = (result: QuickstartResult, zone: string, table: string) =>
  result.tables.find((t) => t.zone === zone && t.table === table)?.rows;

/** The processed and curated tables of a run, as its summary reports them. */
const lakeTables = (result: QuickstartResult) =>
  result.tables.filter((t) => t.zone === 'processed' || t.zone === 'curated');

/** A table's rows as sorted JSON lines, at its current snapshot or at `snapshotId`. */
async function tableRows(storage: Storage, table: string, snapshotId?: string): Promise<string[]> {
  const rows: string[] = [];
  for await (const row of readIceberg({ storage, table, ...(snapshotId ? { snapshotId } : {}) })) {
    rows.push(JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  }
  return rows.sort();
}

/** Every processed and curated table's rows after the first run, to time-travel back to. */
const firstRows = new Map<string, string[]>();

async function warehouseCount(table: string): Promise<number> {
  const { rows } = await env.sourcePool.query(`SELECT count(*)::int AS n FROM analytics.${table}`);
  return rows[0].n;
}

describe('examples/quickstart', () => {
  describe('runQuickstart', () => {
    it('runs both pipelines into the lake and the warehouse with consistent counts at every stage', async () => {
      first = await runQuickstart({ out, environment: env, env: settings, ...size });

      // sensors: every produced record is delivered, processed once and counted in the hourly rows
      expect(first.sensors.produced).toBe(3_000);
      expect(first.sensors.delivered).toBe(3_000);
      expect(first.sensors.processed.written).toBe(3_000);
      expect(first.sensors.processed.invalid).toBe(0);
      expect(rowsOf(first, 'raw', 'sensors')).toBe(3_000);
      expect(rowsOf(first, 'processed', 'sensors')).toBe(3_000);
      let counted = 0;
      let hourly = 0;
      for await (const row of readDataset({
        storage: env.lake.curated,
        table: 'sensor_hourly',
        schema: curatedHourlySchema,
      })) {
        counted += Number(row.count);
        hourly++;
      }
      expect(counted).toBe(3_000);
      expect(rowsOf(first, 'curated', 'sensor_hourly')).toBe(hourly);
      expect(first.sensors.curatedRows).toBe(hourly);
      // three types over (at least) the 24 hours of the day
      expect(hourly).toBeGreaterThanOrEqual(72);

      // crypto: 300 fixture coins, one quote per snapshot, one coin_daily row per coin and day
      expect(first.crypto.source).toBe('fixtures');
      expect(first.crypto.processed).toEqual({ cryptocurrencies: 300, quotes: 900 });
      expect(first.crypto.curatedDays).toBe(3);
      expect(rowsOf(first, 'processed', PROCESSED_CRYPTOCURRENCY_TABLE)).toBe(300);
      expect(rowsOf(first, 'curated', 'coin_daily')).toBe(900);
      expect(rowsOf(first, 'curated', 'market_daily')).toBe(3);

      // the warehouse holds exactly the curated rows, as PostgreSQL itself counts them
      expect(await warehouseCount('sensor_hourly')).toBe(hourly);
      expect(await warehouseCount('coin_daily')).toBe(900);
      expect(await warehouseCount('market_daily')).toBe(3);
      const { rows } = await env.sourcePool.query('SELECT sum(count)::int AS n FROM analytics.sensor_hourly');
      expect(rows[0].n).toBe(3_000);
      expect(rowsOf(first, 'warehouse', 'analytics.sensor_hourly')).toBe(hourly);

      // every stage was timed
      expect(first.stages.map((s) => `${s.pipeline}: ${s.name}`)).toEqual([
        'crypto: CoinMarketCap fixtures → PostgreSQL',
        'crypto: PostgreSQL → raw (DMS export)',
        'crypto: raw → processed',
        'crypto: processed → curated',
        'crypto: curated → warehouse',
        'sensors: fleets → Kinesis → raw (60 s buffer)',
        'sensors: raw → catalog',
        'sensors: raw → processed (Parquet)',
        'sensors: processed → curated (hourly)',
        'sensors: curated → warehouse',
        'queries: lake → catalog',
        'queries: SQL on the lake',
      ]);
      expect(first.stages.every((s) => s.seconds > 0)).toBe(true);
      expect(first.stages.find((s) => s.name.startsWith('fleets'))?.records).toBe(3_000);

      // Iceberg by default: every processed and curated table with its snapshot in the summary.
      expect(first.tableFormat).toBe('iceberg');
      expect(lakeTables(first)).toHaveLength(6);
      for (const t of lakeTables(first)) {
        expect(t, t.table).toMatchObject({ format: 'iceberg', snapshotId: expect.stringMatching(/^\d+$/) });
        expect(t.snapshots, t.table).toBeGreaterThan(0);
        firstRows.set(`${t.zone}/${t.table}`, await tableRows(env.lake.zone(t.zone as 'processed'), t.table));
        expect(firstRows.get(`${t.zone}/${t.table}`), t.table).toHaveLength(t.rows);
      }
      expect(first.snapshotHistory).toHaveLength(1);
    }, 180_000);

    it.skipIf(!existsSync(PYTHON))(
      'leaves Iceberg tables that pyiceberg reads with the summary’s rows, snapshot ids and counts',
      async () => {
        const script = `
import json, os, sys
from pyiceberg.table import StaticTable
out = {}
for path in sys.argv[1:]:
    hint = open(os.path.join(path, 'metadata', 'version-hint.text')).read().strip()
    t = StaticTable.from_metadata('file://' + os.path.join(path, 'metadata', f'v{hint}.metadata.json'))
    out[path] = {'rows': t.scan().to_arrow().num_rows, 'snapshotId': str(t.current_snapshot().snapshot_id), 'snapshots': len(t.metadata.snapshots)}
print(json.dumps(out))
`;
        const paths = lakeTables(first).map((t) => join(out, 'lake', t.zone, t.table));
        const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, ...paths]);
        const read = JSON.parse(stdout) as Record<
          string,
          { rows: number; snapshotId: string; snapshots: number }
        >;

        for (const t of lakeTables(first)) {
          expect(read[join(out, 'lake', t.zone, t.table)], t.table).toEqual({
            rows: t.rows,
            snapshotId: t.snapshotId,
            snapshots: t.snapshots,
          });
        }
      },
      60_000,
    );

    it('answers the three queries with what the lake holds', async () => {
      const readings = [];
      for await (const r of readDataset({
        storage: env.lake.processed,
        table: 'sensors',
        schema: sensorRecordSchema,
      })) {
        if (r.timestamp.toISOString().startsWith(first.day)) readings.push(r);
      }
      // hourly mean temperature
      const byHour = new Map<number, { sum: number; n: number }>();
      for (const r of readings.filter((r) => r.type === 'temperature')) {
        const h = byHour.get(r.timestamp.getUTCHours()) ?? { sum: 0, n: 0 };
        h.sum += r.value;
        h.n++;
        byHour.set(r.timestamp.getUTCHours(), h);
      }
      expect(first.queries.hourlyTemperature.map((h) => h.hour)).toEqual(
        [...byHour.keys()].sort((a, b) => a - b),
      );
      for (const h of first.queries.hourlyTemperature) {
        const expected = byHour.get(h.hour) as { sum: number; n: number };
        expect(h.readings).toBe(expected.n);
        expect(h.mean).toBeCloseTo(expected.sum / expected.n, 9);
      }
      // power-factor dips below 0.8
      const dips = readings.filter((r) => r.type === 'power_factor' && r.value < 0.8);
      expect(dips.length).toBeGreaterThan(0);
      expect(first.queries.powerFactorDips.total).toBe(dips.length);
      const perSensor = new Map<string, number>();
      for (const d of dips) perSensor.set(d.sensorId, (perSensor.get(d.sensorId) ?? 0) + 1);
      for (const s of first.queries.powerFactorDips.bySensor) expect(s.dips).toBe(perSensor.get(s.sensorId));
      expect(first.queries.powerFactorDips.bySensor.reduce((n, s) => n + s.dips, 0)).toBe(dips.length);

      // top 10 coins by market cap on the last day
      const names = new Map<number, string>();
      for await (const c of readDataset({
        storage: env.lake.processed,
        table: PROCESSED_CRYPTOCURRENCY_TABLE,
        schema: cryptocurrencySchema,
      })) {
        names.set(c.id, c.symbol);
      }
      const daily = [];
      for await (const d of readDataset({
        storage: env.lake.curated,
        table: COIN_DAILY_TABLE,
        schema: coinDailySchema,
      })) {
        if (d.convert === 'USD') daily.push(d);
      }
      const lastDay = daily
        .map((d) => d.date)
        .sort()
        .at(-1);
      const expected = daily
        .filter((d) => d.date === lastDay)
        .sort((a, b) => Number(b.market_cap) - Number(a.market_cap))
        .slice(0, 10)
        .map((d) => names.get(d.cryptocurrency_id));
      expect(first.queries.topCoins.map((c) => c.symbol)).toEqual(expected);
      expect(first.queries.topCoins.map((c) => c.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('writes report.html with the run in it', () => {
      expect(first.report).toEqual({ path: join(out, 'report.html') });
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html).toContain('<svg');
      // the top coin's symbol and the temperature sensor drawn are in the page
      expect(html).toContain(first.queries.topCoins[0]?.symbol);
      expect(html).toContain('temperature-001');
    });

    it('is idempotent: a second run on the same folder ends with the same rows in every table', async () => {
      second = await runQuickstart({ out, environment: env, env: settings, ...size });

      expect(second.day).toBe(first.day);
      // The raw zone is a landing zone (files as delivered and exported); every table built from
      // it holds the same rows.
      const counts = (r: QuickstartResult) =>
        r.tables.filter((t) => t.zone !== 'raw').map((t) => [t.zone, t.table, t.rows]);
      expect(counts(second)).toHaveLength(9);
      expect(counts(second)).toEqual(counts(first));
      // The raw zone lands every delivery (at least once); the processed zone dropped the repeats.
      expect(rowsOf(second, 'raw', 'sensors')).toBeGreaterThanOrEqual(6_000);
      expect(second.sensors.processed.written).toBe(3_000);
      expect(second.sensors.processed.duplicates).toBeGreaterThanOrEqual(3_000);
      // the merge updated every warehouse row and inserted none
      expect(second.sensors.warehouse?.inserted).toBe(0);
      expect(second.sensors.warehouse?.updated).toBe(first.sensors.curatedRows);
      expect(second.crypto.warehouse?.map((l) => l.inserted)).toEqual([0, 0]);
      expect(await warehouseCount('sensor_hourly')).toBe(first.sensors.curatedRows);
      expect(await warehouseCount('coin_daily')).toBe(900);
      expect(second.queries).toEqual(first.queries);

      // Iceberg: the same rows in more snapshots; the history holds both runs.
      for (const t of lakeTables(second)) {
        const before = lakeTables(first).find((f) => f.zone === t.zone && f.table === t.table);
        expect(t.snapshots, t.table).toBeGreaterThan(before?.snapshots ?? Number.POSITIVE_INFINITY);
        expect(t.snapshotId, t.table).not.toBe(before?.snapshotId);
      }
      expect(second.snapshotHistory.map((run) => run.tables.map((t) => t.snapshots))).toEqual([
        lakeTables(first).map((t) => t.snapshots),
        lakeTables(second).map((t) => t.snapshots),
      ]);
    }, 180_000);

    it('time-travels every table back to the first run: its snapshot gives the first run’s rows', async () => {
      for (const t of lakeTables(first)) {
        const storage = env.lake.zone(t.zone as 'processed');
        const then = await tableRows(storage, t.table, t.snapshotId);
        expect(then, t.table).toEqual(firstRows.get(`${t.zone}/${t.table}`));
        expect(await tableRows(storage, t.table), t.table).toEqual(then);
      }
    });
  });

  describe('cli', () => {
    function runCli(args: string[], onStderr?: (text: string, kill: () => void) => void) {
      const cliEnv: Record<string, string | undefined> = { ...process.env, CI: '1', INIT_CWD: packageDir };
      delete cliEnv.CMC_API_KEY;
      delete cliEnv.DATABASE_URL;
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--', ...args], {
        cwd: packageDir,
        env: cliEnv,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        onStderr?.(stderr, () => child.kill('SIGINT'));
      });
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        child.on('close', (code) => resolve({ code, stdout, stderr })),
      );
    }

    it('runs the demo (what `pnpm demo` runs) and prints the summary', async () => {
      const cliOut = mkdtempSync(join(tmpdir(), 'tributary-quickstart-cli-'));
      try {
        const { code, stdout, stderr } = await runCli([
          '--out',
          cliOut,
          '--records',
          '2000',
          '--sensors',
          '1',
          '--table-format',
          'hive',
        ]);

        expect(code, stderr).toBe(0);
        expect(stdout).toContain('== query: hourly mean temperature (°C) ==');
        expect(stdout).toContain('== query: top 10 coins by market cap (USD), last day ==');
        expect(stdout).toContain('== summary: rows per zone and table ==');
        expect(stdout).toContain('== summary: time per stage ==');
        expect(stdout).toMatch(/2,000 records produced → 2,000 delivered/);
        expect(stdout).toMatch(/analytics\.sensor_hourly/);
        expect(stdout).toContain(`raw zone: file://${cliOut}/lake/raw`);
        expect(stdout).toMatch(/done in \d+\.\d s \(local mode, ts engine, hive tables\)/);
        // hive tables are crawled into the local catalog, with their partitions
        expect(stdout).toMatch(/│ 'processed' │ 'sensors'\s+│ 2000 .*│ 'hive'/);
        // the plain (non-TTY) progress lines name the stages as they start
        expect(stderr).toContain('▸ sensors: fleets → Kinesis → raw (60 s buffer)');
      } finally {
        rmSync(cliOut, { recursive: true, force: true });
      }
    }, 180_000);

    it('stops on Ctrl-C with exit code 130, flushing what was produced and saying what was kept', async () => {
      const cliOut = mkdtempSync(join(tmpdir(), 'tributary-quickstart-int-'));
      let sent = false;
      try {
        const { code, stderr } = await runCli(['--out', cliOut, '--records', '200000'], (text, kill) => {
          if (!sent && text.includes('▸ sensors: fleets')) {
            sent = true;
            setTimeout(kill, 1_500);
          }
        });

        expect(sent).toBe(true);
        expect(code, stderr).toBe(130);
        const delivered = /and ([\d,]+) delivered into (\d+) raw objects/.exec(stderr);
        expect(delivered, stderr).not.toBeNull();
        expect(Number(delivered?.[1]?.replaceAll(',', ''))).toBeGreaterThan(0);
        expect(stderr).toContain('the servers were stopped');
        // what it said was delivered is in the raw zone
        let lines = 0;
        const { readdirSync, statSync } = await import('node:fs');
        const walk = (dir: string): void => {
          for (const name of readdirSync(dir)) {
            const path = join(dir, name);
            if (statSync(path).isDirectory()) walk(path);
            else if (name.endsWith('.ndjson'))
              lines += readFileSync(path, 'utf8').split('\n').filter(Boolean).length;
          }
        };
        walk(join(cliOut, 'lake/raw/sensors'));
        expect(lines).toBe(Number(delivered?.[1]?.replaceAll(',', '')));
      } finally {
        rmSync(cliOut, { recursive: true, force: true });
      }
    }, 180_000);
  });
});
