// pnpm --filter @tributary/example-sensors-to-lake start -- --records 50000 --out ./out
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EventCounters } from '@tributary/core';
import { runSensorsToLake } from './sensors-to-lake.js';

// `pnpm … start -- --records 5000` passes the `--` through.
const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    records: { type: 'string', default: '20000' },
    sensors: { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
    out: { type: 'string', default: '.tributary/sensors-to-lake' },
    // The simulated day, YYYY-MM-DD (UTC). Default: yesterday.
    start: { type: 'string' },
    // The processed and curated tables' format: iceberg (default) or hive.
    'table-format': { type: 'string', default: 'iceberg' },
  },
});
const start = values.start === undefined ? undefined : new Date(`${values.start}T00:00:00Z`);
if (start !== undefined && Number.isNaN(start.getTime())) {
  console.error(`--start must be a day as YYYY-MM-DD (got ${values.start})`);
  process.exit(2);
}

const counters = new EventCounters();
const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const started = performance.now();
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function progress(): string {
  const parts = counters.sources().map((source) => {
    const s = counters.stats(source);
    const moved = Math.max(s.recordsOut, s.recordsIn);
    const extra = [
      s.flushes ? `${s.flushes} flushes` : '',
      s.retries ? `${s.retries} retries` : '',
      s.failures ? `${s.failures} failed` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return `${source} ${fmt(moved)}${extra ? ` (${extra})` : ''}`;
  });
  return `${parts.join(' · ')} · ${((performance.now() - started) / 1000).toFixed(1)} s`;
}

const live = process.stderr.isTTY;
const timer = setInterval(() => {
  if (live) process.stderr.write(`\r\x1b[2K${progress()}`);
}, 250);

try {
  const result = await runSensorsToLake({
    // pnpm runs scripts in the package's folder; INIT_CWD is where the command was typed.
    out: resolve(process.env.INIT_CWD ?? process.cwd(), values.out),
    records: Number(values.records),
    sensorsPerType: Number(values.sensors),
    seed: Number(values.seed),
    start,
    tableFormat: values['table-format'] as 'iceberg' | 'hive',
    onEvent: counters.listener,
    signal: controller.signal,
  });
  clearInterval(timer);
  if (live) process.stderr.write('\r\x1b[2K');
  console.log(
    `produced ${fmt(result.produced)} records → delivered ${fmt(result.delivered)} into ${result.rawObjects} raw objects`,
  );
  console.log(
    `processed: ${fmt(result.processed.written)} records (${fmt(result.processed.duplicates)} duplicates removed, ${fmt(result.processed.invalid)} to the errors table) → ${result.curatedRows} hourly rows`,
  );
  console.table(
    result.byType.map((t) => ({
      type: t.type,
      unit: t.unit,
      hours: t.hours,
      records: t.records,
      min: t.min,
      max: t.max,
      mean: Number(t.mean.toFixed(3)),
      anomalies: t.anomalies,
    })),
  );
  console.log(
    `time: produce + deliver ${result.seconds.produce.toFixed(1)} s, transforms ${result.seconds.transform.toFixed(1)} s, total ${result.seconds.total.toFixed(1)} s`,
  );
  console.log(`lake: ${result.lake.raw.url}, ${result.lake.processed.url}, ${result.lake.curated.url}`);
} catch (err) {
  clearInterval(timer);
  console.error(`\nsensors-to-lake failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
