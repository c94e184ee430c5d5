// pnpm --filter @tributary/example-custom-sensor-type start -- --records 20000 --out ./out
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCustomSensorType } from './custom-sensor-type.js';

// `pnpm … start -- --records 5000` passes the `--` through.
const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    records: { type: 'string', default: '20000' },
    sensors: { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
    out: { type: 'string', default: '.tributary/custom-sensor-type' },
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

const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

try {
  const result = await runCustomSensorType({
    // pnpm runs scripts in the package's folder; INIT_CWD is where the command was typed.
    out: resolve(process.env.INIT_CWD ?? process.cwd(), values.out),
    records: Number(values.records),
    sensorsPerType: Number(values.sensors),
    seed: Number(values.seed),
    start,
    tableFormat: values['table-format'] as 'iceberg' | 'hive',
    signal: controller.signal,
  });
  console.log(
    `sensor types: ${result.types
      .list()
      .map((t) => `${t.name} (${t.unit})`)
      .join(', ')}`,
  );
  console.log(
    `produced ${fmt(result.produced)} records → delivered ${fmt(result.delivered)} → processed ${fmt(result.processed.written)} (${fmt(result.processed.invalid)} invalid) → ${result.curatedRows} hourly rows`,
  );
  console.table(
    result.byType.map((t) => ({
      type: t.type,
      unit: t.unit,
      range: `${t.range.min}–${t.range.max}`,
      hours: t.hours,
      records: t.records,
      min: t.min,
      max: t.max,
      mean: Number(t.mean.toFixed(3)),
      anomalies: t.anomalies,
    })),
  );
  console.log(`time: ${result.seconds.toFixed(1)} s; lake: ${result.lake.curated.url}`);
} catch (err) {
  console.error(`custom-sensor-type failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
