import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { QuickstartError } from './errors.js';

/** The repository's `spark/` folder (jobs and the virtualenv made by `spark/scripts`). */
export const SPARK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../spark');

/** Iceberg's SQL extensions (`CALL`, `ALTER TABLE … PARTITION FIELD`), on the sessions of Iceberg jobs. */
export const ICEBERG_EXTENSIONS = 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions';

/** The script that fetches the Iceberg Spark runtime once and knows where it is (and its SHA-1). */
const ICEBERG_RUNTIME_SCRIPT = resolve(SPARK_DIR, '..', 'scripts', 'iceberg-runtime.mjs');

/** What the demo's Spark sessions get, whatever the table format. */
const BASE_SUBMIT_ARGS = [
  // A few shuffle partitions and no console progress bars: the demo's data is small and its own
  // display shows the progress.
  '--conf',
  'spark.sql.shuffle.partitions=4',
  '--conf',
  'spark.ui.showConsoleProgress=false',
  '--conf',
  'spark.ui.enabled=false',
];

const SPARK_LOG_LINE =
  /^(\d{2}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} |\s+at |\[Stage |Setting default log level|To adjust logging level|WARNING: )/;

/** Options of {@link runSparkJob}. */
export interface SparkJobOptions {
  /** `spark/jobs/<job>.py`, e.g. `sensors_raw_to_processed`. */
  job: string;
  /** Its arguments (`--raw file:///…` …); `--master local[2]` is added. */
  args: readonly string[];
  /** Default: {@link SPARK_DIR}. */
  sparkDir?: string;
  signal?: AbortSignal;
  /** Called with each line the job prints. Default: kept for the error message only. */
  onLine?: (line: string) => void;
  /**
   * The jobs' table format: `hive` (default, as the jobs') or `iceberg`, which adds
   * `--table-format iceberg` to `args`, and the Iceberg Spark runtime jar (`--jars`, a local file)
   * and Iceberg's SQL extensions to the session (`PYSPARK_SUBMIT_ARGS`).
   */
  tableFormat?: 'hive' | 'iceberg';
  /**
   * The `iceberg-spark-runtime-3.5_2.12` jar (Iceberg 1.10). Default: the one that
   * `node scripts/iceberg-runtime.mjs` put in the local Maven repository. Never downloaded here.
   */
  icebergJar?: string;
}

/**
 * The Iceberg Spark runtime jar on this machine, as `scripts/iceberg-runtime.mjs` finds it (the
 * local Maven repository, checked against its SHA-1), or undefined. Never downloads.
 */
async function findIcebergJar(): Promise<string | undefined> {
  if (!existsSync(ICEBERG_RUNTIME_SCRIPT)) return undefined;
  const script = (await import(pathToFileURL(ICEBERG_RUNTIME_SCRIPT).href)) as {
    icebergRuntimeJar: () => string | undefined;
  };
  return script.icebergRuntimeJar();
}

/** A value for `PYSPARK_SUBMIT_ARGS`, which pyspark splits as a shell would (`shlex`). */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The `PYSPARK_SUBMIT_ARGS` of a job: the demo's settings and, for Iceberg, the runtime jar and
 * Iceberg's SQL extensions (`pyspark-shell` last, as pyspark wants it).
 */
export function sparkSubmitArgs(icebergJar?: string): string {
  const args = [...BASE_SUBMIT_ARGS];
  if (icebergJar !== undefined) {
    args.push('--jars', icebergJar, '--conf', `spark.sql.extensions=${ICEBERG_EXTENSIONS}`);
  }
  return [...args, 'pyspark-shell'].map(shellWord).join(' ');
}

/**
 * Run one PySpark job of `spark/jobs` with the repository's virtualenv on `local[2]`. Fails with a
 * `QuickstartError` (`QUICKSTART_UNAVAILABLE`) when the virtualenv, the job or, with
 * `tableFormat: 'iceberg'`, the Iceberg Spark runtime jar is missing, and
 * (`QUICKSTART_STAGE_FAILED`) with the end of its output when it exits non-zero.
 *
 * @example
 * ```ts
 * await runSparkJob({
 *   job: 'sensors_processed_to_curated',
 *   args: ['--processed', lake.processed.url, '--curated', lake.curated.url],
 *   tableFormat: 'iceberg',
 * });
 * ```
 */
export async function runSparkJob(options: SparkJobOptions): Promise<void> {
  const sparkDir = options.sparkDir ?? SPARK_DIR;
  const python = join(sparkDir, '.venv/bin/python');
  const script = join(sparkDir, 'jobs', `${options.job}.py`);
  for (const [what, path] of [
    ['the Spark virtualenv (create it with spark/scripts, see spark/README)', python],
    [`the Spark job ${options.job}`, script],
  ] as const) {
    if (!existsSync(path)) {
      throw new QuickstartError(`--engine spark needs ${what}: ${path} does not exist; use --engine ts`, {
        code: 'QUICKSTART_UNAVAILABLE',
        context: { job: options.job, path },
      });
    }
  }
  const tableFormat = options.tableFormat ?? 'hive';
  if (tableFormat !== 'hive' && tableFormat !== 'iceberg') {
    throw new QuickstartError(`tableFormat must be hive or iceberg, got ${String(tableFormat)}`, {
      code: 'QUICKSTART_INVALID',
      context: { option: 'tableFormat', job: options.job },
    });
  }
  let icebergJar: string | undefined;
  if (tableFormat === 'iceberg') {
    icebergJar = options.icebergJar ?? (await findIcebergJar());
    if (icebergJar === undefined || !existsSync(icebergJar)) {
      throw new QuickstartError(
        `--engine spark on Iceberg needs the Iceberg Spark runtime jar${icebergJar ? ` (${icebergJar} does not exist)` : ''}: ` +
          'run node scripts/iceberg-runtime.mjs once (it fetches it with Maven), or use --table-format hive',
        {
          code: 'QUICKSTART_UNAVAILABLE',
          context: { job: options.job, ...(icebergJar ? { path: icebergJar } : {}) },
        },
      );
    }
  }
  const args = [
    ...options.args,
    ...(icebergJar ? ['--table-format', 'iceberg'] : []),
    '--master',
    'local[2]',
  ];
  options.signal?.throwIfAborted();
  let tail = '';
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(python, [script, ...args], {
      cwd: sparkDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PYSPARK_SUBMIT_ARGS: sparkSubmitArgs(),
        ...process.env,
        // An Iceberg job needs its jar and extensions, whatever the environment says.
        ...(icebergJar ? { PYSPARK_SUBMIT_ARGS: sparkSubmitArgs(icebergJar) } : {}),
        PYSPARK_PYTHON: python,
      },
      signal: options.signal,
    });
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-4_000);
      if (!options.onLine) return;
      for (const line of text.split('\n')) {
        // Spark's own log4j lines stay in the tail kept for errors; the job's lines are shown.
        if (line.trim() && !SPARK_LOG_LINE.test(line)) options.onLine(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(err));
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise();
      else
        reject(
          new QuickstartError(
            `Spark job ${options.job} failed (exit ${code ?? signal}):\n${tail.split('\n').slice(-15).join('\n')}`,
            { code: 'QUICKSTART_STAGE_FAILED', context: { job: options.job, exitCode: code } },
          ),
        );
    });
  });
}
