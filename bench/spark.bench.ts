// `pnpm bench spark`: the sensor pipeline's two transforms (raw NDJSON → processed Parquet →
// hourly aggregates) on the same raw zone, by three engines: the TypeScript transforms
// (`rawToProcessed`, `processedToCurated`, one Node process), the Spark jobs (spark/jobs, local
// mode on every core, a JVM started per job as spark-submit would), and DuckDB SQL doing the same
// work (read_ndjson → validate → dedup by id → Parquet by dt/hour → GROUP BY with quantile_cont).
// Each engine's outputs are checked against the TypeScript ones: processed rows, curated rows,
// the sums of count and anomalies.
//
// Each engine runs twice, once per table format of the processed and curated zones: hive (dt/hour
// folders) and Iceberg (the lake's Hadoop layout, `<zone>/<table>/metadata/vN.metadata.json`).
// DuckDB cannot write Iceberg here (its iceberg extension cannot be downloaded at run time): its
// Iceberg variant runs the same SQL and has the lake commit DuckDB's result stream as Iceberg
// tables (`writeDataset(…, { tableFormat: 'iceberg' })`). An Iceberg output is checked through its
// current snapshot (the data files `scanIceberg` lists), never a folder glob.
//
//   pnpm bench spark [--records 1M,5M] [--engines ts,spark,duckdb] [--formats hive,iceberg]

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { byField, byHour, LocalStorage, scanIceberg, writeDataset } from '@tributary/lake';
import {
  curatedHourlySchema,
  defaultSensorTypes,
  processedToCurated,
  rawToProcessed,
  sensorRecordSchema,
} from '@tributary/sensors';
import { writeSensorRawZone } from '../spark/scripts/sensor-raw-zone.js';
import { int, maxRssMiB, parseCount, stopwatch } from './common.js';

export const description =
  'sensors raw → processed → curated: TypeScript transforms vs Spark local mode vs DuckDB SQL, hive and Iceberg, on one raw zone';

const ENGINES = {
  ts: 'TypeScript transforms',
  spark: 'Spark jobs, local[*]',
  duckdb: 'DuckDB SQL',
} as const;
type Engine = keyof typeof ENGINES;
const FORMATS = {
  hive: 'hive',
  iceberg: 'Iceberg',
} as const;
type Format = keyof typeof FORMATS;
const USAGE =
  'usage: pnpm bench spark [--records 1M,5M] [--engines ts,spark,duckdb] [--formats hive,iceberg]';
const LATENESS = 6;
/** The Iceberg runtime jar's script (`scripts/iceberg-runtime.mjs`): it finds the jar, never downloads. */
const ICEBERG_RUNTIME_SCRIPT = join(process.cwd(), 'scripts', 'iceberg-runtime.mjs');
const ICEBERG_EXTENSIONS = 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions';
/**
 * Issue 18: the TypeScript raw → processed at most 1.5× DuckDB's in the same run and format, with
 * peak RSS at most 400 MiB, flat (within 10 %) from the smallest to the largest size.
 */
const TS_OVER_DUCKDB = 1.5;
const TS_RSS_MIB = 400;
const TS_RSS_FLAT = 0.1;

type StepInput =
  | { kind: 'raw'; records: number; dir: string }
  | { kind: 'engine'; engine: Engine; format: Format; records: number; dir: string; icebergJar?: string };

interface Timings {
  rawToProcessed: number;
  processedToCurated: number;
  /** DuckDB only: the processed write's share of raw → processed (`COPY`, or the lake's writer fed by DuckDB's stream). */
  processedWrite?: number;
}

type StepResult =
  | { kind: 'raw'; records: number; seconds: number; objects: number; mib: number }
  | {
      kind: 'engine';
      engine: Engine;
      format: Format;
      records: number;
      seconds: Timings;
      cpuSeconds: number | undefined;
      maxRssMiB: number | undefined;
      /** TypeScript only: the process's peak RSS when raw → processed returned (before processed → curated). */
      rawToProcessedRssMiB?: number;
      check: Check;
      /** Iceberg outputs only: what the check read. */
      iceberg?: IcebergOutputs;
    };

/** What every engine's outputs must agree on. */
interface Check {
  processedRows: number;
  curatedRows: number;
  countSum: number;
  anomalySum: number;
}

/** An Iceberg variant's tables as the check found them. */
interface IcebergOutputs {
  /** Data files of the current snapshot / Parquet files in the table's folder. */
  processedFiles: number;
  processedFolderFiles: number;
  processedSnapshots: number;
  curatedFiles: number;
  curatedFolderFiles: number;
  curatedSnapshots: number;
}

function listOption<K extends string>(flag: string, text: string | undefined, known: Record<K, string>): K[] {
  const values = (text ?? '').split(',') as K[];
  const bad = values.filter((v) => !(v in known));
  if (bad.length > 0) throw new Error(`unknown ${flag.slice(2)} ${bad.join(', ')}\n${USAGE}`);
  return values;
}

function parseOptions(args: string[]) {
  let records = [1_000_000];
  let engines: Engine[] = ['ts', 'spark', 'duckdb'];
  let formats: Format[] = ['hive', 'iceberg'];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--records')
      records = (args[++i] ?? '').split(',').map((r) => parseCount('--records', r, USAGE));
    else if (arg === '--engines') engines = listOption(arg, args[++i], ENGINES);
    else if (arg === '--formats') formats = listOption(arg, args[++i], FORMATS);
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { records, engines, formats };
}

/**
 * The Iceberg Spark runtime jar, as `scripts/iceberg-runtime.mjs` finds it (the local Maven
 * repository, checked against its SHA-1), or undefined. Never downloads.
 */
async function findIcebergJar(): Promise<string | undefined> {
  if (!existsSync(ICEBERG_RUNTIME_SCRIPT)) return undefined;
  const script = (await import(pathToFileURL(ICEBERG_RUNTIME_SCRIPT).href)) as {
    icebergRuntimeJar: () => string | undefined;
  };
  return script.icebergRuntimeJar();
}

export async function plan(args: string[], context: { workdir: string }) {
  const options = parseOptions(args);
  const skipped: { label: string; records: number; reason: string }[] = [];
  const icebergJar =
    options.engines.includes('spark') && options.formats.includes('iceberg')
      ? await findIcebergJar()
      : undefined;
  const steps: { label: string; input: StepInput; removeAfter?: string[] }[] = [];
  for (const records of options.records) {
    const dir = join(context.workdir, String(records));
    steps.push({ label: `raw zone, ${int(records)} records`, input: { kind: 'raw', records, dir } });
    for (const engine of options.engines) {
      for (const format of options.formats) {
        const label = `${ENGINES[engine]}, ${FORMATS[format]}, ${int(records)}`;
        if (engine === 'spark' && format === 'iceberg' && icebergJar === undefined) {
          skipped.push({
            label,
            records,
            reason:
              'the Iceberg Spark runtime jar (iceberg-spark-runtime-3.5_2.12 1.10.0) is not in the local Maven repository: run node scripts/iceberg-runtime.mjs once (it fetches it with Maven); nothing is downloaded here',
          });
          continue;
        }
        steps.push({
          label,
          input: {
            kind: 'engine',
            engine,
            format,
            records,
            dir,
            ...(engine === 'spark' && format === 'iceberg' ? { icebergJar } : {}),
          },
        });
      }
    }
    // The raw zone and the outputs go after the last engine of this size.
    const last = steps.at(-1);
    if (last) last.removeAfter = [dir];
  }
  return {
    title: `spark: sensors raw → processed → curated, ${options.formats.map((f) => FORMATS[f]).join(' and ')}, ${options.records.map(int).join(' and ')} records (Node ${process.version}, ${cpus().length} CPUs)`,
    steps,
    options,
    skipped,
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
    /** A query's rows as plain JavaScript objects, streamed chunk by chunk. */
    async *stream(sql: string): AsyncGenerator<Record<string, unknown>> {
      const result = await connection.stream(sql);
      for await (const rows of result.yieldRowObjectJs()) yield* rows;
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

const sql = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The Parquet files under a folder (every depth). */
function parquetFilesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).length;
}

/**
 * An Iceberg table's current snapshot as DuckDB reads it: `read_parquet([...])` over the data files
 * `scanIceberg` lists (never a folder glob: the folder may also hold files of older snapshots, or
 * of a write that was never committed). Also the snapshot count and the files in the folder.
 */
async function icebergTable(root: string, table: string) {
  const scan = await scanIceberg({ storage: new LocalStorage({ root }), table });
  if (!scan.snapshot) throw new Error(`the Iceberg table ${table} in ${root} has no snapshot`);
  const paths = scan.files.map((f) => join(root, f.key));
  return {
    from: `read_parquet([${paths.map(sql).join(', ')}])`,
    files: paths.length,
    manifestRows: scan.files.reduce((n, f) => n + f.rows, 0),
    folderFiles: parquetFilesUnder(join(root, table)),
    snapshots: scan.metadata.snapshots?.length ?? 0,
  };
}

/**
 * The same figures from any engine's outputs, read by DuckDB: a hive table's partition folders, an
 * Iceberg table's current snapshot (whose manifests' row counts must also agree with the rows read).
 */
async function checkOutputs(
  processed: string,
  curated: string,
  format: Format,
): Promise<{ check: Check; iceberg?: IcebergOutputs }> {
  const db = await duckdb();
  try {
    let processedFrom = `read_parquet('${processed}/sensors/*/*/*.parquet', hive_partitioning = false)`;
    let curatedFrom = `read_parquet('${curated}/sensor_hourly/*/*.parquet', hive_partitioning = false)`;
    let processedTable: Awaited<ReturnType<typeof icebergTable>> | undefined;
    let curatedTable: Awaited<ReturnType<typeof icebergTable>> | undefined;
    if (format === 'iceberg') {
      processedTable = await icebergTable(processed, 'sensors');
      curatedTable = await icebergTable(curated, 'sensor_hourly');
      processedFrom = processedTable.from;
      curatedFrom = curatedTable.from;
    }
    const [p] = await db.rows(`SELECT count(*)::BIGINT AS n FROM ${processedFrom}`);
    const [c] = await db.rows(
      `SELECT count(*)::BIGINT AS n, sum("count")::BIGINT AS counts, sum(anomalies)::BIGINT AS anomalies FROM ${curatedFrom}`,
    );
    const check: Check = {
      processedRows: Number(p?.n),
      curatedRows: Number(c?.n),
      countSum: Number(c?.counts),
      anomalySum: Number(c?.anomalies),
    };
    if (!processedTable || !curatedTable) return { check };
    for (const [name, table, rows] of [
      ['sensors', processedTable, check.processedRows],
      ['sensor_hourly', curatedTable, check.curatedRows],
    ] as const) {
      if (table.manifestRows !== rows)
        throw new Error(
          `${name}: the snapshot's manifests count ${table.manifestRows} rows, its files hold ${rows}`,
        );
    }
    return {
      check,
      iceberg: {
        processedFiles: processedTable.files,
        processedFolderFiles: processedTable.folderFiles,
        processedSnapshots: processedTable.snapshots,
        curatedFiles: curatedTable.files,
        curatedFolderFiles: curatedTable.folderFiles,
        curatedSnapshots: curatedTable.snapshots,
      },
    };
  } finally {
    db.close();
  }
}

/** A word of `PYSPARK_SUBMIT_ARGS`, which pyspark splits as a shell would (`shlex`). */
const shellWord = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;

/**
 * One Spark job as a process. With `icebergJar`, as examples/quickstart runs it on Iceberg:
 * `--table-format iceberg`, and the runtime jar (a local file) and Iceberg's SQL extensions in
 * `PYSPARK_SUBMIT_ARGS`.
 */
function runSpark(job: string, args: string[], icebergJar?: string): Promise<number> {
  const watch = stopwatch();
  const submit = icebergJar
    ? {
        PYSPARK_SUBMIT_ARGS: [
          '--jars',
          icebergJar,
          '--conf',
          `spark.sql.extensions=${ICEBERG_EXTENSIONS}`,
          'pyspark-shell',
        ]
          .map(shellWord)
          .join(' '),
      }
    : {};
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      join(process.cwd(), 'spark/.venv/bin/python'),
      [
        join(process.cwd(), 'spark/jobs', `${job}.py`),
        '--master',
        'local[*]',
        ...args,
        ...(icebergJar ? ['--table-format', 'iceberg'] : []),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...submit, PYTHONDONTWRITEBYTECODE: '1' },
      },
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
 * lateness window and the same keep-the-earliest rule per (day, id). Hive: DuckDB's own
 * partitioned `COPY`. Iceberg: DuckDB cannot write it here (its extension cannot be downloaded at
 * run time), so the same SQL's result streams into the lake's `writeDataset` with
 * `tableFormat: 'iceberg'` (validation, Parquet with field ids, one commit per table), and the
 * curated SQL reads the processed table's current snapshot (`scanIceberg`'s files).
 */
async function runDuckdb(raw: string, processed: string, curated: string, format: Format): Promise<Timings> {
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
    const writeWatch = stopwatch();
    if (format === 'hive') {
      await db.run(
        `COPY kept TO '${processed}/sensors' (FORMAT parquet, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE true)`,
      );
    } else {
      // In time order, so that the writer's open files (one per hour) close once each.
      await writeDataset(
        db.stream(
          `SELECT id, sensorId, type, value, unit, epoch_ms("timestamp")::DOUBLE AS "timestamp" FROM kept ORDER BY "timestamp"`,
        ),
        {
          storage: new LocalStorage({ root: processed }),
          table: 'sensors',
          schema: sensorRecordSchema,
          partitionBy: byHour('timestamp'),
          format: 'parquet',
          mode: 'overwrite_partitions',
          tableFormat: 'iceberg',
        },
      );
    }
    const processedWrite = writeWatch();
    const rawSeconds = watch();
    watch = stopwatch();
    mkdirSync(curated, { recursive: true });
    const source =
      format === 'hive'
        ? `(SELECT * REPLACE (hour::INTEGER AS hour) FROM read_parquet('${processed}/sensors/*/*/*.parquet', hive_partitioning = true))`
        : `(SELECT *, strftime(make_timestamp(epoch_ms("timestamp") * 1000), '%Y-%m-%d') AS dt,
                  hour(make_timestamp(epoch_ms("timestamp") * 1000))::INTEGER AS hour
           FROM ${(await icebergTable(processed, 'sensors')).from})`;
    const hourly = `
        SELECT p.dt, p.hour, p.type, t.unit, count(*)::BIGINT AS count, min(value) AS min, max(value) AS max,
               sum(value) / count(*) AS mean, quantile_cont(value, 0.95) AS p95,
               count(*) FILTER (WHERE value < t.lo OR value > t.hi)::BIGINT AS anomalies
        FROM ${source} p
        JOIN (VALUES ${types}) t(type, unit, lo, hi) USING (type)
        GROUP BY ALL ORDER BY p.dt, p.hour, p.type`;
    if (format === 'hive') {
      await db.run(
        `COPY (${hourly}) TO '${curated}/sensor_hourly' (FORMAT parquet, PARTITION_BY (dt), OVERWRITE_OR_IGNORE true)`,
      );
    } else {
      await writeDataset(db.stream(hourly), {
        storage: new LocalStorage({ root: curated }),
        table: 'sensor_hourly',
        schema: curatedHourlySchema,
        partitionBy: [byField('dt')],
        format: 'parquet',
        mode: 'overwrite_partitions',
        tableFormat: 'iceberg',
      });
    }
    return { rawToProcessed: rawSeconds, processedToCurated: watch(), processedWrite };
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
  const processed = join(input.dir, input.engine, input.format, 'processed');
  const curated = join(input.dir, input.engine, input.format, 'curated');
  const tableFormat = input.format;
  let seconds: Timings;
  let cpuSeconds: number | undefined;
  let rss: number | undefined;
  let rawToProcessedRss: number | undefined;
  if (input.engine === 'ts') {
    const watch = stopwatch();
    await rawToProcessed({
      raw: new LocalStorage({ root: raw }),
      processed: new LocalStorage({ root: processed }),
      maxLatenessHours: LATENESS,
      tableFormat,
    });
    const first = watch();
    rawToProcessedRss = maxRssMiB();
    await processedToCurated({
      processed: new LocalStorage({ root: processed }),
      curated: new LocalStorage({ root: curated }),
      tableFormat,
    });
    seconds = { rawToProcessed: first, processedToCurated: watch() - first };
    cpuSeconds = watch.cpu();
    rss = maxRssMiB();
  } else if (input.engine === 'spark') {
    seconds = {
      rawToProcessed: await runSpark(
        'sensors_raw_to_processed',
        [
          '--raw',
          `file://${raw}`,
          '--processed',
          `file://${processed}`,
          '--max-lateness-hours',
          String(LATENESS),
        ],
        input.icebergJar,
      ),
      processedToCurated: await runSpark(
        'sensors_processed_to_curated',
        ['--processed', `file://${processed}`, '--curated', `file://${curated}`],
        input.icebergJar,
      ),
    };
  } else {
    const watch = stopwatch();
    seconds = await runDuckdb(raw, processed, curated, input.format);
    cpuSeconds = watch.cpu();
    rss = maxRssMiB();
  }
  const { check, iceberg } = await checkOutputs(processed, curated, input.format);
  return {
    kind: 'engine',
    engine: input.engine,
    format: input.format,
    records: input.records,
    seconds,
    cpuSeconds,
    maxRssMiB: rss,
    ...(rawToProcessedRss !== undefined ? { rawToProcessedRssMiB: rawToProcessedRss } : {}),
    check,
    ...(iceberg ? { iceberg } : {}),
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
  { key: 'ratio', title: '× hive' },
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

type EngineResult = Extract<StepResult, { kind: 'engine' }>;

const totalOf = (r: EngineResult) => r.seconds.rawToProcessed + r.seconds.processedToCurated;
const ratio = (iceberg: number, hive: number) => `${(iceberg / hive).toFixed(2)}×`;

/** One engine's Iceberg run against its hive run of the same size. */
function comparison(hive: EngineResult, iceberg: EngineResult): string {
  const parts = [
    `${totalOf(iceberg).toFixed(1)} s vs ${totalOf(hive).toFixed(1)} s = ${ratio(totalOf(iceberg), totalOf(hive))}`,
    `raw → processed ${ratio(iceberg.seconds.rawToProcessed, hive.seconds.rawToProcessed)}`,
    `processed → curated ${ratio(iceberg.seconds.processedToCurated, hive.seconds.processedToCurated)}`,
  ];
  if (iceberg.cpuSeconds !== undefined && hive.cpuSeconds !== undefined)
    parts.push(
      `CPU ${iceberg.cpuSeconds.toFixed(1)} vs ${hive.cpuSeconds.toFixed(1)} s = ${ratio(iceberg.cpuSeconds, hive.cpuSeconds)}`,
    );
  if (iceberg.maxRssMiB !== undefined && hive.maxRssMiB !== undefined)
    parts.push(`peak RSS ${iceberg.maxRssMiB.toFixed(0)} vs ${hive.maxRssMiB.toFixed(0)} MiB`);
  const icebergWrite = iceberg.seconds.processedWrite;
  const hiveWrite = hive.seconds.processedWrite;
  if (icebergWrite !== undefined && hiveWrite !== undefined)
    parts.push(
      `of raw → processed, the processed write took ${icebergWrite.toFixed(1)} s (the lake's Iceberg writer fed by DuckDB's sorted stream) vs ${hiveWrite.toFixed(1)} s (DuckDB's COPY) = ${ratio(icebergWrite, hiveWrite)}`,
    );
  return `${ENGINES[iceberg.engine]}, ${int(iceberg.records)} records, Iceberg vs hive: ${parts.join('; ')}.`;
}

/**
 * Issue 18's targets for the TypeScript raw → processed, per format: its seconds against DuckDB SQL
 * doing the same work in the same run, and its peak RSS (taken when raw → processed returned)
 * against 400 MiB and, with more than one size, from the smallest to the largest.
 */
function tsTargets(outcomes: StepOutcome[]): string[] {
  const lines: string[] = [];
  const results = outcomes.flatMap((o) => (o.ok && o.result?.kind === 'engine' ? [o.result] : []));
  const find = (engine: Engine, format: Format, records: number) =>
    results.find((r) => r.engine === engine && r.format === format && r.records === records);
  for (const format of Object.keys(FORMATS) as Format[]) {
    const ours = results
      .filter((r) => r.engine === 'ts' && r.format === format)
      .sort((a, b) => a.records - b.records);
    for (const ts of ours) {
      const duck = find('duckdb', format, ts.records);
      const at = `${int(ts.records)} records, ${FORMATS[format]}`;
      if (duck) {
        const ratio = ts.seconds.rawToProcessed / duck.seconds.rawToProcessed;
        const native =
          format === 'iceberg' && find('duckdb', 'hive', ts.records)
            ? ` (DuckDB's Iceberg run writes through the lake's writer; against its native COPY of the hive run, ${(ts.seconds.rawToProcessed / (find('duckdb', 'hive', ts.records)?.seconds.rawToProcessed ?? Number.NaN)).toFixed(2)}×)`
            : '';
        lines.push(
          `target · ${at}: TypeScript raw → processed vs DuckDB SQL (≤ ${TS_OVER_DUCKDB}×): ${ts.seconds.rawToProcessed.toFixed(1)} vs ${duck.seconds.rawToProcessed.toFixed(1)} s = ${ratio.toFixed(2)}×${native}: ${ratio <= TS_OVER_DUCKDB ? 'met' : 'MISSED'}`,
        );
      }
      const rss = ts.rawToProcessedRssMiB;
      if (rss !== undefined)
        lines.push(
          `target · ${at}: TypeScript raw → processed peak RSS ${rss.toFixed(0)} MiB (≤ ${TS_RSS_MIB} MiB; DuckDB's step ${duck?.maxRssMiB?.toFixed(0) ?? '—'} MiB): ${rss <= TS_RSS_MIB ? 'met' : 'MISSED'}`,
        );
    }
    const smallest = ours[0]?.rawToProcessedRssMiB;
    const largest = ours.at(-1)?.rawToProcessedRssMiB;
    if (ours.length > 1 && smallest !== undefined && largest !== undefined) {
      const growth = largest / smallest - 1;
      lines.push(
        `target · ${FORMATS[format]}: TypeScript raw → processed peak RSS from ${int(ours[0]?.records ?? 0)} to ${int(ours.at(-1)?.records ?? 0)} records ${smallest.toFixed(0)} → ${largest.toFixed(0)} MiB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %; flat within ±${TS_RSS_FLAT * 100} %): ${Math.abs(growth) <= TS_RSS_FLAT ? 'met' : 'MISSED'}`,
      );
    }
  }
  return lines;
}

export function summarize(
  outcomes: StepOutcome[],
  context: { plan: { skipped: { label: string; records: number; reason: string }[] } },
) {
  const rows: Record<string, string>[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  // Every output, hive or Iceberg, is compared with the TypeScript transforms' hive output (their
  // Iceberg output when hive did not run).
  const reference = new Map<number, { check: Check; label: string }>();
  const hive = new Map<string, EngineResult>();
  for (const o of outcomes) {
    if (!o.ok || o.result?.kind !== 'engine') continue;
    const r = o.result;
    if (r.format === 'hive') hive.set(`${r.engine} ${r.records}`, r);
    if (r.engine === 'ts' && (r.format === 'hive' || !reference.has(r.records)))
      reference.set(r.records, { check: r.check, label: `TypeScript ${FORMATS[r.format]}` });
  }
  const comparisons: string[] = [];
  const icebergNotes: string[] = [];
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
    const total = totalOf(r);
    const ref = reference.get(r.records);
    const c = r.check;
    let check = `${int(c.processedRows)} / ${int(c.curatedRows)}`;
    if (ref && JSON.stringify(ref.check) !== JSON.stringify(c)) {
      check += ' MISMATCH';
      failures.push(`${label}: ${JSON.stringify(c)} vs ${ref.label} ${JSON.stringify(ref.check)}`);
    } else if (ref && !(r.engine === 'ts' && ref.label === `TypeScript ${FORMATS[r.format]}`))
      check += ` = ${ref.label}`;
    const base = r.format === 'iceberg' ? hive.get(`${r.engine} ${r.records}`) : undefined;
    if (base) comparisons.push(comparison(base, r));
    if (r.iceberg) {
      const i = r.iceberg;
      icebergNotes.push(
        `${label}: sensors ${i.processedSnapshots} snapshot(s), ${i.processedFiles} data files in the current one (${i.processedFolderFiles} Parquet files in the folder); ` +
          `sensor_hourly ${i.curatedSnapshots} snapshot(s), ${i.curatedFiles} data files (${i.curatedFolderFiles} in the folder).`,
      );
    }
    rows.push({
      records: int(r.records),
      step: label,
      raw: r.seconds.rawToProcessed.toFixed(1),
      curated: r.seconds.processedToCurated.toFixed(1),
      total: total.toFixed(1),
      ratio: base ? ratio(total, totalOf(base)) : '',
      rate: int(r.records / total),
      cpu: r.cpuSeconds === undefined ? '—' : r.cpuSeconds.toFixed(1),
      rss: r.maxRssMiB === undefined ? '—' : r.maxRssMiB.toFixed(0),
      check,
    });
  }
  for (const s of context.plan.skipped) {
    rows.push({ records: int(s.records), step: s.label, total: 'skipped' });
    notes.push(`${s.label} skipped: ${s.reason}.`);
  }
  notes.push(...comparisons);
  notes.push(...tsTargets(outcomes));
  notes.push(
    "Spark times are wall seconds of each job as a process (python + JVM start, about 5–10 s of it, included), local[*] on every core; its CPU and memory are a JVM's, not measured here. Spark on Iceberg runs the jobs with --table-format iceberg and the local iceberg-spark-runtime-3.5_2.12 1.10.0 jar and Iceberg's SQL extensions in PYSPARK_SUBMIT_ARGS (each zone a Hadoop catalog). TypeScript and DuckDB run in the step's own process: CPU s and peak RSS are that process's.",
  );
  notes.push(
    "DuckDB on Iceberg is DuckDB SQL + the lake's Iceberg writer: DuckDB cannot write Iceberg here (its iceberg extension cannot be downloaded at run time), so the same SQL computes the rows and its result streams into writeDataset(…, { tableFormat: 'iceberg' }) (validation against the schema, Parquet with field ids, one commit per table); the curated SQL reads the processed table's current snapshot (scanIceberg's data files). Its hive variant is DuckDB's own partitioned COPY, so its ratio measures DuckDB's writer against the lake's, not hive against Iceberg alone.",
  );
  notes.push(
    "The checks read every engine's Parquet with DuckDB: hive tables by their partition folders, Iceberg tables through their current snapshot (read_parquet over the data files scanIceberg lists, whose manifest row counts must equal the rows read; never a folder glob). Processed rows, curated rows and the sums of count and anomalies must equal the TypeScript hive ones (the TypeScript Iceberg ones when hive did not run). The DuckDB SQL covers the records a fleet writes (ISO timestamps, the six fields); the full validation rules (epoch-millisecond timestamps, error reasons) are the TypeScript and Spark jobs', and only they write the errors table.",
  );
  notes.push(...icebergNotes);
  return { columns: COLUMNS, rows, notes, failures };
}
