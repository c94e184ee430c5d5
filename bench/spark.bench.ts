// `pnpm bench spark`: the sensor pipeline's two transforms (raw NDJSON → processed Parquet →
// hourly aggregates) on the same raw zone, by three engines: the TypeScript transforms
// (`rawToProcessed`, `processedToCurated`, one Node process), the Spark jobs (spark/jobs, local
// mode on every core, a JVM started per job as spark-submit would), and DuckDB SQL doing the same
// work (read_ndjson → validate → dedup by id → Parquet by dt/hour → GROUP BY with quantile_cont).
// Each engine's outputs are checked against the TypeScript ones: processed rows, curated rows,
// the sums of count and anomalies.
//
//   pnpm bench spark [--records 1M,5M] [--engines ts,spark,duckdb]

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { LocalStorage } from '@tributary/lake';
import { defaultSensorTypes, processedToCurated, rawToProcessed } from '@tributary/sensors';
import { writeSensorRawZone } from '../spark/scripts/sensor-raw-zone.js';
import { int, maxRssMiB, parseCount, stopwatch } from './common.js';

export const description =
  'sensors raw → processed → curated: TypeScript transforms vs Spark local mode vs DuckDB SQL, on one raw zone';

const ENGINES = {
  ts: 'TypeScript transforms',
  spark: 'Spark jobs, local[*]',
  duckdb: 'DuckDB SQL',
} as const;
type Engine = keyof typeof ENGINES;
const USAGE = 'usage: pnpm bench spark [--records 1M,5M] [--engines ts,spark,duckdb]';
const LATENESS = 6;

type StepInput =
  | { kind: 'raw'; records: number; dir: string }
  | { kind: 'engine'; engine: Engine; records: number; dir: string };

interface Timings {
  rawToProcessed: number;
  processedToCurated: number;
}

type StepResult =
  | { kind: 'raw'; records: number; seconds: number; objects: number; mib: number }
  | {
      kind: 'engine';
      engine: Engine;
      records: number;
      seconds: Timings;
      cpuSeconds: number | undefined;
      maxRssMiB: number | undefined;
      check: Check;
    };

/** What every engine's outputs must agree on. */
interface Check {
  processedRows: number;
  curatedRows: number;
  countSum: number;
  anomalySum: number;
}

function parseOptions(args: string[]) {
  let records = [1_000_000];
  let engines: Engine[] = ['ts', 'spark', 'duckdb'];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--records')
      records = (args[++i] ?? '').split(',').map((r) => parseCount('--records', r, USAGE));
    else if (arg === '--engines') {
      engines = (args[++i] ?? '').split(',') as Engine[];
      const bad = engines.filter((e) => !(e in ENGINES));
      if (bad.length > 0) throw new Error(`unknown engine(s) ${bad.join(', ')}\n${USAGE}`);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { records, engines };
}

export function plan(args: string[], context: { workdir: string }) {
  const options = parseOptions(args);
  const steps: { label: string; input: StepInput; removeAfter?: string[] }[] = [];
  for (const records of options.records) {
    const dir = join(context.workdir, String(records));
    steps.push({ label: `raw zone, ${int(records)} records`, input: { kind: 'raw', records, dir } });
    options.engines.forEach((engine, i) => {
      steps.push({
        label: `${ENGINES[engine]}, ${int(records)}`,
        input: { kind: 'engine', engine, records, dir },
        // The raw zone and the outputs go after the last engine of this size.
        ...(i === options.engines.length - 1 ? { removeAfter: [dir] } : {}),
      });
    });
  }
  return {
    title: `spark: sensors raw → processed → curated, ${options.records.map(int).join(' and ')} records (Node ${process.version}, ${cpus().length} CPUs)`,
    steps,
    options,
  };
}

// ---------------------------------------------------------------------------------------------
// Steps

async function duckdb() {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  return {
    async rows(sql: string): Promise<Record<string, unknown>[]> {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjects() as Record<string, unknown>[];
    },
    run: (sql: string) => connection.run(sql),
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** The same figures from any engine's output folders, read by DuckDB. */
async function checkOutputs(processed: string, curated: string): Promise<Check> {
  const db = await duckdb();
  try {
    const [p] = await db.rows(
      `SELECT count(*)::BIGINT AS n FROM read_parquet('${processed}/sensors/*/*/*.parquet', hive_partitioning = false)`,
    );
    const [c] = await db.rows(
      `SELECT count(*)::BIGINT AS n, sum("count")::BIGINT AS counts, sum(anomalies)::BIGINT AS anomalies FROM read_parquet('${curated}/sensor_hourly/*/*.parquet', hive_partitioning = false)`,
    );
    return {
      processedRows: Number(p?.n),
      curatedRows: Number(c?.n),
      countSum: Number(c?.counts),
      anomalySum: Number(c?.anomalies),
    };
  } finally {
    db.close();
  }
}

function runSpark(job: string, args: string[]): Promise<number> {
  const watch = stopwatch();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      join(process.cwd(), 'spark/.venv/bin/python'),
      [join(process.cwd(), 'spark/jobs', `${job}.py`), '--master', 'local[*]', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
    );
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-8000);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePromise(watch()) : reject(new Error(`${job} exited with ${code}: ${err}`)),
    );
  });
}

/**
 * The TypeScript transforms' rules in DuckDB SQL: the common record shape only (lines that are
 * not JSON objects of exactly the six fields with the right types go to the errors), the same
 * lateness window and the same keep-the-earliest rule per (day, id).
 */
async function runDuckdb(raw: string, processed: string, curated: string): Promise<Timings> {
  const db = await duckdb();
  try {
    const types = defaultSensorTypes()
      .list()
      .map((t) => `('${t.name}', '${t.unit}', ${t.range.min}, ${t.range.max})`)
      .join(', ');
    let watch = stopwatch();
    await db.run(`SET preserve_insertion_order = false`);
    await db.run(`CREATE TEMP TABLE lines AS
      SELECT filename AS path, content FROM read_text('${raw}/sensors/*/*/*/*/*')`);
    await db.run(`CREATE TEMP TABLE parsed AS
      WITH l AS (
        SELECT regexp_extract(path, '(sensors/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2}/[^/]+)$', 1) AS key,
               generate_subscripts(string_split(content, chr(10)), 1) AS line,
               unnest(string_split(content, chr(10))) AS text
        FROM lines),
      j AS (
        SELECT key, line, text, try_cast(text AS JSON) AS js,
               (epoch(strptime(substr(key, 9, 13), '%Y/%m/%d/%H')) / 3600)::BIGINT AS folder_hour
        FROM l WHERE trim(text) <> '')
      SELECT key, line, text, folder_hour,
             js ->> 'id' AS id, js ->> 'sensorId' AS sensorId, js ->> 'type' AS type,
             (js ->> 'value')::DOUBLE AS value, js ->> 'unit' AS unit,
             epoch_ms(try_cast(js ->> 'timestamp' AS TIMESTAMPTZ)) AS ts_ms,
             js IS NOT NULL AND json_type(js) = 'OBJECT' AND len(json_keys(js)) = 6
               AND json_type(js, 'id') = 'VARCHAR' AND json_type(js, 'sensorId') = 'VARCHAR'
               AND json_type(js, 'type') = 'VARCHAR' AND json_type(js, 'unit') = 'VARCHAR'
               AND json_type(js, 'value') IN ('DOUBLE', 'BIGINT', 'UBIGINT')
               AND json_type(js, 'timestamp') = 'VARCHAR' AND try_cast(js ->> 'timestamp' AS TIMESTAMPTZ) IS NOT NULL AS ok
      FROM j`);
    await db.run(`CREATE TEMP TABLE kept AS
      SELECT id, sensorId, type, value, unit, make_timestamp(ts_ms * 1000) AS "timestamp",
             strftime(make_timestamp(ts_ms * 1000), '%Y-%m-%d') AS dt, strftime(make_timestamp(ts_ms * 1000), '%H') AS hour
      FROM parsed
      WHERE ok AND ts_ms // 3600000 BETWEEN folder_hour - ${LATENESS} AND folder_hour + 1
      QUALIFY row_number() OVER (PARTITION BY dt, id ORDER BY ts_ms, key, line) = 1`);
    mkdirSync(processed, { recursive: true });
    await db.run(
      `COPY kept TO '${processed}/sensors' (FORMAT parquet, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE true)`,
    );
    const rawSeconds = watch();
    watch = stopwatch();
    mkdirSync(curated, { recursive: true });
    await db.run(`COPY (
        SELECT p.dt, p.hour::INTEGER AS hour, p.type, t.unit, count(*)::BIGINT AS count, min(value) AS min, max(value) AS max,
               sum(value) / count(*) AS mean, quantile_cont(value, 0.95) AS p95,
               count(*) FILTER (WHERE value < t.lo OR value > t.hi)::BIGINT AS anomalies
        FROM read_parquet('${processed}/sensors/*/*/*.parquet', hive_partitioning = true) p
        JOIN (VALUES ${types}) t(type, unit, lo, hi) USING (type)
        GROUP BY ALL ORDER BY p.dt, hour, p.type
      ) TO '${curated}/sensor_hourly' (FORMAT parquet, PARTITION_BY (dt), OVERWRITE_OR_IGNORE true)`);
    return { rawToProcessed: rawSeconds, processedToCurated: watch() };
  } finally {
    db.close();
  }
}

export async function runStep(input: StepInput): Promise<StepResult> {
  if (input.kind === 'raw') {
    const watch = stopwatch();
    const zone = await writeSensorRawZone({
      root: join(input.dir, 'raw'),
      records: input.records,
      spanMs: 86_400_000,
    });
    return {
      kind: 'raw',
      records: input.records,
      seconds: watch(),
      objects: zone.objects,
      mib: zone.bytes / 2 ** 20,
    };
  }
  const raw = join(input.dir, 'raw');
  const processed = join(input.dir, input.engine, 'processed');
  const curated = join(input.dir, input.engine, 'curated');
  let seconds: Timings;
  let cpuSeconds: number | undefined;
  let rss: number | undefined;
  if (input.engine === 'ts') {
    const watch = stopwatch();
    await rawToProcessed({
      raw: new LocalStorage({ root: raw }),
      processed: new LocalStorage({ root: processed }),
      maxLatenessHours: LATENESS,
    });
    const first = watch();
    await processedToCurated({
      processed: new LocalStorage({ root: processed }),
      curated: new LocalStorage({ root: curated }),
    });
    seconds = { rawToProcessed: first, processedToCurated: watch() - first };
    cpuSeconds = watch.cpu();
    rss = maxRssMiB();
  } else if (input.engine === 'spark') {
    seconds = {
      rawToProcessed: await runSpark('sensors_raw_to_processed', [
        '--raw',
        `file://${raw}`,
        '--processed',
        `file://${processed}`,
        '--max-lateness-hours',
        String(LATENESS),
      ]),
      processedToCurated: await runSpark('sensors_processed_to_curated', [
        '--processed',
        `file://${processed}`,
        '--curated',
        `file://${curated}`,
      ]),
    };
  } else {
    const watch = stopwatch();
    seconds = await runDuckdb(raw, processed, curated);
    cpuSeconds = watch.cpu();
    rss = maxRssMiB();
  }
  return {
    kind: 'engine',
    engine: input.engine,
    records: input.records,
    seconds,
    cpuSeconds,
    maxRssMiB: rss,
    check: await checkOutputs(processed, curated),
  };
}

// ---------------------------------------------------------------------------------------------
// Summary

const COLUMNS = [
  { key: 'records', title: 'records' },
  { key: 'step', title: 'step', align: 'left' },
  { key: 'raw', title: 'raw → processed s' },
  { key: 'curated', title: 'processed → curated s' },
  { key: 'total', title: 'total s' },
  { key: 'rate', title: 'records/s' },
  { key: 'cpu', title: 'CPU s' },
  { key: 'rss', title: 'peak RSS MiB' },
  { key: 'check', title: 'processed / curated rows', align: 'left' },
];

interface StepOutcome {
  step: { label: string; input: StepInput };
  ok: boolean;
  seconds: number;
  result?: StepResult;
  error?: string;
}

export function summarize(outcomes: StepOutcome[]) {
  const rows: Record<string, string>[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const reference = new Map<number, Check>();
  for (const o of outcomes) {
    if (o.ok && o.result?.kind === 'engine' && o.result.engine === 'ts')
      reference.set(o.result.records, o.result.check);
  }
  for (const o of outcomes) {
    const label = o.step.label;
    if (!o.ok || !o.result) {
      failures.push(`${label}: ${o.error}`);
      rows.push({ records: int(o.step.input.records), step: label, total: 'FAILED' });
      continue;
    }
    const r = o.result;
    if (r.kind === 'raw') {
      rows.push({
        records: int(r.records),
        step: label,
        total: r.seconds.toFixed(1),
        check: `${r.objects} objects, ${r.mib.toFixed(0)} MiB NDJSON`,
      });
      continue;
    }
    const total = r.seconds.rawToProcessed + r.seconds.processedToCurated;
    const ref = reference.get(r.records);
    const c = r.check;
    let check = `${int(c.processedRows)} / ${int(c.curatedRows)}`;
    if (ref && JSON.stringify(ref) !== JSON.stringify(c)) {
      check += ' MISMATCH';
      failures.push(`${label}: ${JSON.stringify(c)} vs TypeScript ${JSON.stringify(ref)}`);
    } else if (ref && r.engine !== 'ts') check += ' = TypeScript';
    rows.push({
      records: int(r.records),
      step: label,
      raw: r.seconds.rawToProcessed.toFixed(1),
      curated: r.seconds.processedToCurated.toFixed(1),
      total: total.toFixed(1),
      rate: int(r.records / total),
      cpu: r.cpuSeconds === undefined ? '—' : r.cpuSeconds.toFixed(1),
      rss: r.maxRssMiB === undefined ? '—' : r.maxRssMiB.toFixed(0),
      check,
    });
  }
  notes.push(
    "Spark times are wall seconds of each job as a process (python + JVM start, about 5–10 s of it, included), local[*] on every core; its CPU and memory are a JVM's, not measured here. TypeScript and DuckDB run in the step's own process: CPU s and peak RSS are that process's.",
  );
  notes.push(
    "The checks read every engine's Parquet with DuckDB: processed rows, curated rows and the sums of count and anomalies must equal the TypeScript ones. The DuckDB SQL covers the records a fleet writes (ISO timestamps, the six fields); the full validation rules (epoch-millisecond timestamps, error reasons) are the TypeScript and Spark jobs'.",
  );
  return { columns: COLUMNS, rows, notes, failures };
}
