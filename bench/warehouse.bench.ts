// `pnpm bench warehouse`: the warehouse package's two jobs, each against its baseline in the same run.
// 1. Loading curated rows from the lake into PostgreSQL: PostgresLoader (lake reader → COPY FROM
//    STDIN, one transaction) against raw pg-copy-streams COPY of the same rows, pre-encoded in memory
//    (the ceiling), each in its own process with its own embedded PostgreSQL.
// 2. Athena-style queries over the processed sensor lake (Parquet, dt/hour partitions) through
//    DuckDbEngine (catalog view, rows converted to core's shapes) against the same SQL on DuckDB's
//    own read_parquet glob, at 1M and 10M rows: wall time, rows returned, rows scanned.

import { cpus } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { byField, byHour, crawl, LocalStorage, readDataset, writeDataset } from '@tributary/lake';
import { startPostgres } from '@tributary/local';
import { curatedHourlySchema, sensorRecordSchema } from '@tributary/sensors';
import { PostgresLoader } from '@tributary/warehouse';
import { DuckDbEngine } from '@tributary/warehouse/duckdb';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { int, maxRssMiB, parseCount, stopwatch } from './common.js';
import { sensorRows } from './sensor-rows.js';

export const description =
  'Warehouse: PostgresLoader vs raw COPY; DuckDbEngine queries vs DuckDB read_parquet';

const USAGE = `pnpm bench warehouse [--load-rows N] [--lake-rows N]... [--quick]
  --load-rows  curated rows loaded into PostgreSQL (default 1M)
  --lake-rows  processed sensor rows queried (repeatable; default 1M and 10M)
  --quick      100k rows loaded, 1M rows queried: a smoke run`;

const UNITS: Record<string, string> = {
  power_factor: 'ratio',
  temperature: 'celsius',
  hydraulic_pressure: 'bar',
};

/** The queries the examples run on Athena, with their parameters. */
const QUERIES: { name: string; sql: string; params: (string | number)[] }[] = [
  {
    name: 'hourly mean temperature',
    sql: 'SELECT dt, hour, avg(value) AS mean FROM sensors WHERE type = ? GROUP BY dt, hour ORDER BY dt, hour',
    params: ['temperature'],
  },
  {
    name: 'power-factor dips < 0.8 per sensor',
    sql: 'SELECT sensorId, count(*) AS dips, min(value) AS lowest FROM sensors WHERE type = ? AND value < ? GROUP BY sensorId ORDER BY dips DESC LIMIT 10',
    params: ['power_factor', 0.8],
  },
  {
    name: 'one hour (partition pruning): p95 per type',
    sql: 'SELECT type, count(*) AS n, approx_percentile(value, 0.95) AS p95 FROM sensors WHERE dt = ? AND hour = ? GROUP BY type ORDER BY type',
    params: ['2026-11-21', '10'],
  },
  {
    name: 'distinct ids (full scan)',
    sql: 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM sensors',
    params: [],
  },
];

type StepInput =
  | { kind: 'lake'; rows: number; dir: string }
  | { kind: 'query'; engine: 'tributary' | 'duckdb'; rows: number; dir: string }
  | { kind: 'curated'; rows: number; dir: string }
  | { kind: 'load'; loader: 'tributary' | 'copy' | 'copy-read'; rows: number; dir: string };

interface QueryFigure {
  name: string;
  coldSeconds: number;
  warmSeconds: number;
  rows: number;
  rowsScanned: number;
  result: string;
}

interface StepResult {
  kind: StepInput['kind'];
  rows: number;
  seconds: number;
  maxRssMiB: number;
  queries?: QueryFigure[];
  verified: boolean;
}

function parseOptions(args: string[]) {
  let loadRows = 1_000_000;
  const lakeRows: number[] = [];
  let quick = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--load-rows') loadRows = parseCount(arg, args[++i], USAGE);
    else if (arg === '--lake-rows') lakeRows.push(parseCount(arg, args[++i], USAGE));
    else if (arg === '--quick') quick = true;
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  if (quick) {
    loadRows = Math.min(loadRows, 100_000);
    if (lakeRows.length === 0) lakeRows.push(1_000_000);
  }
  return { loadRows, lakeRows: lakeRows.length > 0 ? lakeRows : [1_000_000, 10_000_000] };
}

export function plan(args: string[], context: { workdir: string }) {
  const options = parseOptions(args);
  const curatedDir = join(context.workdir, 'curated');
  const steps: { label: string; input: StepInput; removeAfter?: string[] }[] = [
    {
      label: `${int(options.loadRows)} curated rows · write the curated dataset (Parquet by dt)`,
      input: { kind: 'curated', rows: options.loadRows, dir: curatedDir },
    },
    {
      label: `${int(options.loadRows)} curated rows · PostgresLoader.load (append)`,
      input: { kind: 'load', loader: 'tributary', rows: options.loadRows, dir: curatedDir },
    },
    {
      label: `${int(options.loadRows)} curated rows · raw COPY fed by readDataset (same reader, minimal encoding)`,
      input: { kind: 'load', loader: 'copy-read', rows: options.loadRows, dir: curatedDir },
    },
    {
      label: `${int(options.loadRows)} curated rows · raw pg-copy-streams COPY (pre-encoded, the ceiling)`,
      input: { kind: 'load', loader: 'copy', rows: options.loadRows, dir: curatedDir },
      removeAfter: [curatedDir],
    },
  ];
  for (const rows of options.lakeRows) {
    const dir = join(context.workdir, `lake-${rows}`);
    steps.push(
      { label: `${int(rows)} sensor rows · write the processed lake`, input: { kind: 'lake', rows, dir } },
      {
        label: `${int(rows)} sensor rows · DuckDbEngine (catalog view)`,
        input: { kind: 'query', engine: 'tributary', rows, dir },
      },
      {
        label: `${int(rows)} sensor rows · DuckDB read_parquet glob (baseline)`,
        input: { kind: 'query', engine: 'duckdb', rows, dir },
        removeAfter: [dir],
      },
    );
  }
  return {
    title: `warehouse: ${int(options.loadRows)} curated rows → PostgreSQL 18; queries on ${options.lakeRows.map(int).join(' and ')} processed rows (Node ${process.version}, ${cpus().length} CPUs)`,
    steps,
    options,
  };
}

// ---------------------------------------------------------------------------------------------
// Data

/** Curated-shaped rows: one per day, hour and type; types are numbered to reach the count. */
function* curatedRows(count: number) {
  const perDay = 24 * 100;
  for (let i = 0; i < count; i++) {
    const day = Math.floor(i / perDay);
    const hour = Math.floor((i % perDay) / 100);
    const type = `type_${i % 100}`;
    const mean = 20 + (i % 97) / 10;
    yield {
      dt: new Date(Date.UTC(2026, 0, 1) + day * 86_400_000).toISOString().slice(0, 10),
      hour,
      type,
      unit: 'celsius',
      count: BigInt(60 + (i % 7)),
      min: mean - 3.25,
      max: mean + 4.5,
      mean,
      p95: mean + 3.75,
      anomalies: BigInt(i % 3),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Steps

async function writeLake(input: Extract<StepInput, { kind: 'lake' }>): Promise<StepResult> {
  const storage = new LocalStorage({ root: input.dir });
  const elapsed = stopwatch();
  const records = (function* () {
    for (const r of sensorRows(input.rows)) yield { ...r, unit: UNITS[r.type] ?? 'unit' };
  })();
  const result = await writeDataset(records, {
    storage,
    table: 'sensors',
    schema: sensorRecordSchema,
    partitionBy: byHour('timestamp'),
  });
  return {
    kind: 'lake',
    rows: result.rows,
    seconds: elapsed(),
    maxRssMiB: maxRssMiB(),
    verified: result.rows === input.rows,
  };
}

async function explainScanned(
  connection: import('@duckdb/node-api').DuckDBConnection,
  sql: string,
  params: (string | number)[],
) {
  const reader = await connection.runAndReadAll(`EXPLAIN (ANALYZE, FORMAT json) ${sql}`, params);
  const plan = JSON.parse(String(Object.values(reader.getRowObjectsJS()[0] ?? {}).at(-1))) as {
    cumulative_rows_scanned?: number;
  };
  return plan.cumulative_rows_scanned ?? -1;
}

async function runQueries(input: Extract<StepInput, { kind: 'query' }>): Promise<StepResult> {
  const storage = new LocalStorage({ root: input.dir });
  const figures: QueryFigure[] = [];
  const elapsed = stopwatch();
  // The same instance settings for both: DuckDB's defaults (all cores), in-memory.
  const instance = await DuckDBInstance.create(':memory:');
  const probe = await instance.connect();
  await probe.run(`SET TimeZone = 'UTC'`);
  let run: (sql: string, params: (string | number)[]) => Promise<{ rows: number; first: unknown }>;
  let engine: DuckDbEngine | undefined;
  if (input.engine === 'tributary') {
    engine = await DuckDbEngine.create({ instance });
    await engine.registerTable(await crawl(storage, 'sensors'));
    run = async (sql, params) => {
      const { rows } = await (engine as DuckDbEngine).query(sql, { params }).collect();
      return { rows: rows.length, first: rows[0] };
    };
  } else {
    await probe.run(
      `CREATE MACRO approx_percentile(x, p) AS quantile_disc(x, p); CREATE VIEW sensors AS SELECT * FROM read_parquet('${join(input.dir, 'sensors')}/*/*/*.parquet', hive_partitioning = true, hive_types = {'dt': VARCHAR, 'hour': VARCHAR})`,
    );
    run = async (sql, params) => {
      const reader = await probe.runAndReadAll(sql, params);
      const rows = reader.getRowObjectsJS();
      return { rows: rows.length, first: rows[0] };
    };
  }
  const setupSeconds = elapsed();
  let verified = true;
  for (const query of QUERIES) {
    const cold = stopwatch();
    const first = await run(query.sql, query.params);
    const coldSeconds = cold();
    const warm = stopwatch();
    await run(query.sql, query.params);
    const warmSeconds = warm();
    if (query.name.startsWith('distinct ids')) {
      const row = first.first as { n: bigint; ids: bigint };
      verified &&= Number(row.n) === input.rows && Number(row.ids) === input.rows;
    }
    figures.push({
      name: query.name,
      coldSeconds,
      warmSeconds,
      rows: first.rows,
      rowsScanned: await explainScanned(probe, query.sql, query.params),
      result: JSON.stringify(first.first, (_, v) => (typeof v === 'bigint' ? Number(v) : v)).slice(0, 60),
    });
  }
  await engine?.close();
  probe.closeSync();
  instance.closeSync();
  return {
    kind: 'query',
    rows: input.rows,
    seconds: setupSeconds,
    maxRssMiB: maxRssMiB(),
    queries: figures,
    verified,
  };
}

async function writeCurated(input: Extract<StepInput, { kind: 'curated' }>): Promise<StepResult> {
  const elapsed = stopwatch();
  const result = await writeDataset(curatedRows(input.rows), {
    storage: new LocalStorage({ root: input.dir }),
    table: 'sensor_hourly',
    schema: curatedHourlySchema,
    partitionBy: [byField('dt')],
  });
  return {
    kind: 'curated',
    rows: result.rows,
    seconds: elapsed(),
    maxRssMiB: maxRssMiB(),
    verified: result.rows === input.rows,
  };
}

/** COPY text format: the curated rows hold no tab, newline or backslash, and no NULL. */
function copyLine(row: {
  dt: string;
  hour: number;
  type: string;
  unit: string;
  count: bigint;
  min: number;
  max: number;
  mean: number;
  p95: number | null;
  anomalies: bigint;
}): string {
  return `${row.dt}\t${row.hour}\t${row.type}\t${row.unit}\t${row.count}\t${row.min}\t${row.max}\t${row.mean}\t${row.p95}\t${row.anomalies}\n`;
}

async function load(input: Extract<StepInput, { kind: 'load' }>): Promise<StepResult> {
  const server = await startPostgres();
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  try {
    const target = { schema: 'analytics', name: 'sensor_hourly' };
    let seconds: number;
    if (input.loader === 'tributary') {
      const loader = new PostgresLoader({ pool });
      const elapsed = stopwatch();
      const result = await loader.load(
        target,
        {
          storage: new LocalStorage({ root: input.dir }),
          table: 'sensor_hourly',
          schema: curatedHourlySchema,
        },
        { mode: 'append' },
      );
      seconds = elapsed();
      if (result.rows !== input.rows) throw new Error(`loaded ${result.rows} rows, expected ${input.rows}`);
    } else {
      const columns = curatedHourlySchema.columns.map((c) => `"${c.name}"`).join(', ');
      await pool.query(
        'CREATE SCHEMA analytics; CREATE TABLE analytics.sensor_hourly (dt date NOT NULL, hour integer NOT NULL, type text NOT NULL, unit text NOT NULL, count bigint NOT NULL, min double precision NOT NULL, max double precision NOT NULL, mean double precision NOT NULL, p95 double precision NOT NULL, anomalies bigint NOT NULL)',
      );
      const client = await pool.connect();
      let elapsed: ReturnType<typeof stopwatch>;
      try {
        let lines: AsyncIterable<string> | Iterable<string>;
        if (input.loader === 'copy') {
          // Encoded before the clock starts: this is COPY's own speed, with nothing to read or convert.
          const chunks: string[] = [];
          let chunk = '';
          for (const row of curatedRows(input.rows)) {
            chunk += copyLine(row);
            if (chunk.length > 1 << 16) {
              chunks.push(chunk);
              chunk = '';
            }
          }
          chunks.push(chunk);
          lines = chunks;
          elapsed = stopwatch();
        } else {
          elapsed = stopwatch();
          lines = (async function* () {
            let chunk = '';
            for await (const row of readDataset({
              storage: new LocalStorage({ root: input.dir }),
              table: 'sensor_hourly',
              schema: curatedHourlySchema,
            })) {
              chunk += copyLine(row);
              if (chunk.length > 1 << 16) {
                yield chunk;
                chunk = '';
              }
            }
            yield chunk;
          })();
        }
        await client.query('BEGIN');
        const stream = client.query(copyFrom(`COPY analytics.sensor_hourly (${columns}) FROM STDIN`));
        const done = new Promise<void>((resolve, reject) => {
          stream.on('finish', resolve);
          stream.on('error', reject);
        });
        for await (const c of lines) {
          if (!stream.write(c)) await new Promise((resolve) => stream.once('drain', resolve));
        }
        stream.end();
        await done;
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      seconds = elapsed();
    }
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n, sum(count)::bigint AS readings FROM analytics.sensor_hourly',
    );
    let expectedReadings = 0n;
    for (const row of curatedRows(input.rows)) expectedReadings += row.count;
    return {
      kind: 'load',
      rows: input.rows,
      seconds,
      maxRssMiB: maxRssMiB(),
      verified: rows[0].n === input.rows && BigInt(rows[0].readings) === expectedReadings,
    };
  } finally {
    await pool.end();
    await server.stop();
  }
}

export async function runStep(input: StepInput): Promise<StepResult> {
  switch (input.kind) {
    case 'lake':
      return writeLake(input);
    case 'query':
      return runQueries(input);
    case 'curated':
      return writeCurated(input);
    case 'load':
      return load(input);
  }
}

// ---------------------------------------------------------------------------------------------
// Summary

interface Outcome {
  step: { label: string; input: StepInput };
  ok: boolean;
  result?: StepResult;
  error?: string;
}

export function summarize(outcomes: Outcome[]) {
  const failures: string[] = [];
  const copy = outcomes.find((o) => o.step.input.kind === 'load' && o.step.input.loader === 'copy')?.result;
  const rows: Record<string, string>[] = [];
  for (const o of outcomes) {
    const r = o.result;
    if (!o.ok || !r) {
      failures.push(`${o.step.label}: ${o.error ?? 'no result'}`);
      rows.push({
        step: o.step.label,
        what: '—',
        seconds: '—',
        rate: '—',
        ratio: '—',
        scanned: '—',
        rss: '—',
      });
      continue;
    }
    if (!r.verified) failures.push(`${o.step.label}: the output does not verify`);
    if (r.kind === 'query' && r.queries) {
      const baseline = outcomes.find(
        (b) =>
          b.step.input.kind === 'query' && b.step.input.engine === 'duckdb' && b.step.input.rows === r.rows,
      )?.result;
      rows.push({
        step: o.step.label,
        what: 'register / setup',
        seconds: r.seconds.toFixed(2),
        rate: '',
        ratio: '',
        scanned: '',
        rss: r.maxRssMiB.toFixed(0),
      });
      for (const q of r.queries) {
        const base = baseline?.queries?.find((b) => b.name === q.name);
        rows.push({
          step: '',
          what: `${q.name} → ${int(q.rows)} row(s)`,
          seconds: `${q.coldSeconds.toFixed(3)} / ${q.warmSeconds.toFixed(3)}`,
          rate: int(r.rows / q.warmSeconds),
          ratio: base ? `${(base.warmSeconds / q.warmSeconds).toFixed(2)}×` : '—',
          scanned: int(q.rowsScanned),
          rss: '',
        });
      }
      continue;
    }
    const rate = r.rows / r.seconds;
    rows.push({
      step: o.step.label,
      what: int(r.rows),
      seconds: r.seconds.toFixed(2),
      rate: int(rate),
      ratio: r.kind === 'load' && copy ? `${(rate / (copy.rows / copy.seconds)).toFixed(2)}×` : '',
      scanned: '',
      rss: r.maxRssMiB.toFixed(0),
    });
  }
  return {
    columns: [
      { key: 'step', title: 'step', align: 'left' },
      { key: 'what', title: 'rows / query', align: 'left' },
      { key: 'seconds', title: 's (queries: cold / warm)' },
      { key: 'rate', title: 'rows/s' },
      { key: 'ratio', title: 'vs baseline' },
      { key: 'scanned', title: 'rows scanned' },
      { key: 'rss', title: 'peak RSS MiB' },
    ],
    rows,
    notes: [
      'Loads: rows/s over the load itself; "vs baseline" is the share of raw COPY\'s rate (1.00× = the ceiling). Each load step has its own embedded PostgreSQL 18 (fsync off) and verifies the row count and the sum of counts.',
      "Queries: \"vs baseline\" is DuckDB read_parquet's warm time over DuckDbEngine's (above 1× = the engine is faster). rows/s is the table's rows over the warm time. Rows scanned is DuckDB's own rows_scanned from EXPLAIN ANALYZE (about 2 per table row on a full scan of these files): compare it between queries, e.g. the one-hour query against a full scan.",
    ],
    failures,
  };
}
