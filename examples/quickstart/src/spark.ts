import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuickstartError } from './errors.js';

/** The repository's `spark/` folder (jobs and the virtualenv made by `spark/scripts`). */
export const SPARK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../spark');

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
}

/**
 * Run one PySpark job of `spark/jobs` with the repository's virtualenv on `local[2]`. Fails with a
 * `QuickstartError` (`QUICKSTART_UNAVAILABLE`) when the virtualenv or the job is missing, and
 * (`QUICKSTART_STAGE_FAILED`) with the end of its output when it exits non-zero.
 *
 * @example
 * ```ts
 * await runSparkJob({ job: 'sensors_processed_to_curated', args: ['--processed', lake.processed.url, '--curated', lake.curated.url] });
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
  options.signal?.throwIfAborted();
  let tail = '';
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(python, [script, ...options.args, '--master', 'local[2]'], {
      cwd: sparkDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        // A few shuffle partitions and no console progress bars: the demo's data is small and
        // its own display shows the progress.
        PYSPARK_SUBMIT_ARGS:
          '--conf spark.sql.shuffle.partitions=4 --conf spark.ui.showConsoleProgress=false --conf spark.ui.enabled=false pyspark-shell',
        ...process.env,
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
