// `pnpm bench lake`: the same generated sensor rows written as a Parquet dataset partitioned by
// hour, by the lake's writer (hive dt/hour folders, and an Iceberg table; locally and to S3), by
// DuckDB, by pyiceberg, by pyarrow's write_dataset, by awswrangler to S3 and by the candidate
// writers, each in its own process. The S3 writers write to a moto_server their step starts on
// loopback, and the step downloads what they wrote once the clock has stopped. DuckDB then reads
// every output back (an Iceberg table through its current snapshot's files, an S3 output from its
// downloaded copy) and checks it against the generated rows; pyiceberg reads both Iceberg tables
// back too.

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { int, maxRssMiB, parseCount, stopwatch } from './common.js';
import { type Expected, expectedOf, type SensorRow, sensorRows } from './sensor-rows.js';

export const description =
  'Parquet dataset writers (hour partitions): tributary hive and Iceberg vs DuckDB, pyiceberg and candidates';

const CANDIDATES = {
  tributary: 'tributary writeDataset, hive',
  'tributary-capped': 'tributary writeDataset, hive, heap ≤ 128 MiB',
  'tributary-workers': 'tributary writeDataset, hive, 1 encode worker',
  'tributary-iceberg': 'tributary writeDataset, Iceberg',
  'tributary-s3': 'tributary writeDataset, hive → S3 (moto)',
  pyiceberg: 'pyiceberg append (pyarrow)',
  pyarrow: 'pyarrow write_dataset (Arrow table)',
  awswrangler: 'awswrangler to_parquet → S3 (moto)',
  duckdb: 'DuckDB appender + COPY',
  'hyparquet-writer': 'hyparquet-writer ParquetWriter (V2)',
  'parquetjs-lite': 'parquetjs-lite (V1)',
} as const;
type Candidate = keyof typeof CANDIDATES;
const CANDIDATE_IDS = Object.keys(CANDIDATES) as Candidate[];
/** Outputs that are Iceberg tables: read through their current snapshot, not a folder glob. */
const ICEBERG: readonly Candidate[] = ['tributary-iceberg', 'pyiceberg'];
const CAPPED_HEAP_MIB = 128;
/** The lake's setting of how many worker threads encode Parquet row groups. */
const ENCODE_WORKERS = 'TRIBUTARY_PARQUET_WORKERS';
/** The Iceberg write may cost at most this much more than the hive write (issue 14). */
const ICEBERG_OVER_HIVE = 0.1;
/** Generated rows looked up by id in every output, every field compared. */
const SAMPLES = 1000;
const PYTHON = 'spark/.venv/bin/python';
const PYICEBERG_SCRIPT = 'bench/pyiceberg-lake.py';
const ARROW_SCRIPT = 'bench/arrow-lake.py';
/** Outputs written to S3 (moto): verified from the copy their step downloads after the write. */
const S3_OUTPUTS: readonly Candidate[] = ['tributary-s3', 'awswrangler'];
/** The S3 writers' bucket, and the table's prefix in it. */
const BUCKET = 'bench';
const TABLE = 'sensors';
/**
 * Issue 18's targets for `writeDataset` against the baselines of the same run: local write time at
 * most 3× pyarrow's `write_dataset`, local wall time at most 1.5× pyarrow's (building its input
 * included), and to S3 a wall time at most 0.67× awswrangler's.
 */
const WRITE_OVER_PYARROW = 3;
const WALL_OVER_PYARROW = 1.5;
const S3_WALL_OVER_AWSWRANGLER = 0.67;

const DEFAULT_ROWS = [1_000_000, 3_000_000];
const QUICK_ROWS = [100_000, 300_000];
const RSS_TARGET_MIB = 400;
/** "Flat": the largest run's peak RSS is at most this much above the smallest run's. */
const FLAT_TOLERANCE = 0.1;
/** Row groups of the per-partition candidates are bounded like the lake writer's default (32 MiB). */
const ROW_GROUP_BYTES = 32 * 1024 * 1024;
const ROW_GROUP_ROWS = 100_000;
/** Files open at once in the per-partition candidates, as the lake writer's default maxOpenFiles. */
const MAX_OPEN_FILES = 8;

// ---------------------------------------------------------------------------------------------
// Plan

type StepInput =
  | { kind: 'generate'; rows: number }
  | { kind: 'write'; candidate: Candidate; rows: number; dir: string }
  | { kind: 'verify'; rows: number; outputs: { candidate: Candidate; dir: string }[] };

interface Step {
  label: string;
  input: StepInput;
  /** Extra node flags for the step's child process. */
  nodeArgs?: string[];
  /** Extra environment of the step's child process. */
  env?: Record<string, string>;
  removeAfter?: string[];
}

interface Options {
  rows: number[];
  candidates: Candidate[];
  strict: boolean;
  /** Runs of each step; the table and the targets take each step's median run by wall time. */
  repeat: number;
}

const USAGE = `options:
  --rows N        row count (repeatable; 1000000, 1e6, 1M and 300k all work). Default 1M and 3M.
  --quick         100k and 300k rows: a smoke run
  --only a,b      candidates: ${CANDIDATE_IDS.join(', ')}
  --repeat N      run each generate and write step N times (each in its own process) and report
                  each one's median run by wall time (default 1)
  --strict        exit non-zero when a target (peak RSS, flat RSS, Iceberg, issue 18's pyarrow/awswrangler ratios) is missed
  --keep          keep the written datasets (their folder is printed)`;

function parseOptions(args: string[]): Options {
  const rows: number[] = [];
  let candidates: Candidate[] = CANDIDATE_IDS;
  let quick = false;
  let strict = false;
  let repeat = 1;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--rows') rows.push(parseCount(arg, args[++i], USAGE));
    else if (arg === '--repeat') repeat = parseCount(arg, args[++i], USAGE);
    else if (arg === '--quick') quick = true;
    else if (arg === '--strict') strict = true;
    else if (arg === '--only') {
      const names = (args[++i] ?? '').split(',').filter(Boolean);
      const unknown = names.filter((n) => !CANDIDATE_IDS.includes(n as Candidate));
      if (names.length === 0 || unknown.length > 0)
        throw new Error(`unknown candidate ${unknown.join(', ')}\n${USAGE}`);
      candidates = CANDIDATE_IDS.filter((c) => names.includes(c));
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  const counts = rows.length > 0 ? rows : quick ? QUICK_ROWS : DEFAULT_ROWS;
  return { rows: [...new Set(counts)].sort((a, b) => a - b), candidates, strict, repeat };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;
const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/**
 * Where a candidate's table folder is (tributary's sits in a zone folder, pyiceberg's in its
 * namespace's, an S3 writer's under the table's prefix of the downloaded bucket).
 */
function dataDir(candidate: Candidate, dir: string): string {
  if (candidate === 'pyiceberg') return join(dir, 'bench', 'sensors');
  return candidate.startsWith('tributary') || S3_OUTPUTS.includes(candidate) ? join(dir, TABLE) : dir;
}

export function plan(args: string[], context: { workdir: string }) {
  const options = parseOptions(args);
  const steps: Step[] = [];
  for (const rows of options.rows) {
    // Each run of a step writes a folder of its own; only the last run's are verified (and kept
    // until then), the earlier ones are removed as soon as their step is done.
    let outputs: { candidate: Candidate; dir: string }[] = [];
    for (let run = 1; run <= options.repeat; run++) {
      const last = run === options.repeat;
      const of = options.repeat > 1 ? ` (run ${run} of ${options.repeat})` : '';
      steps.push({ label: `${int(rows)} rows · generate only${of}`, input: { kind: 'generate', rows } });
      outputs = options.candidates.map((candidate) => ({
        candidate,
        dir: join(context.workdir, `${candidate}-${rows}${options.repeat > 1 ? `-${run}` : ''}`),
      }));
      for (const { candidate, dir } of outputs) {
        steps.push({
          label: `${int(rows)} rows · ${CANDIDATES[candidate]}${of}`,
          input: { kind: 'write', candidate, rows, dir },
          ...(last ? {} : { removeAfter: [dir] }),
          // V8 grows its heap lazily up to what the machine allows, so an uncapped peak RSS grows
          // with the run's length even when little is retained; under a fixed heap cap, a writer
          // whose memory is bounded finishes at any size with the same peak.
          ...(candidate === 'tributary-capped'
            ? { nodeArgs: [`--max-old-space-size=${CAPPED_HEAP_MIB}`] }
            : {}),
          // Row groups encoded on one worker thread: the default from 3 cores, opt-in below.
          ...(candidate === 'tributary-workers' ? { env: { [ENCODE_WORKERS]: '1' } } : {}),
        });
      }
    }
    steps.push({
      label: `${int(rows)} rows · verify with DuckDB`,
      input: { kind: 'verify', rows, outputs },
      // Verified and measured: the files have served their purpose, free the disk.
      removeAfter: outputs.map((o) => o.dir),
    });
  }
  return {
    title: `lake: ${options.rows.map(int).join(' and ')} sensor rows → Parquet dataset by hour (Node ${process.version}, ${cpus().length} CPUs)`,
    steps,
    options,
  };
}

// ---------------------------------------------------------------------------------------------
// Steps (each runs in its own child process)

interface WriteOutcome {
  /** Wall time of the write, generation included (rows are generated as they are written). */
  seconds: number;
  /** CPU seconds (user + system, every thread) of the writing process over the same span. */
  cpuSeconds: number;
  /**
   * Of `seconds`, building the input, when the writer measured it apart (the Python writers:
   * generating the Arrow table, and for pyarrow and awswrangler deriving dt and hour, and the
   * pandas DataFrame).
   */
  generateSeconds?: number;
  /**
   * Peak RSS of a writer that ran in a process of its own (the Python writers), or taken when the
   * write returned (the S3 writers' steps download the output afterwards).
   */
  maxRssMiB?: number;
  details?: Record<string, number | string>;
}

interface GenerateResult {
  kind: 'generate';
  rows: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
}
interface WriteResult {
  kind: 'write';
  candidate: Candidate;
  rows: number;
  seconds: number;
  cpuSeconds: number;
  generateSeconds?: number;
  maxRssMiB: number;
  files: number;
  bytes: number;
  details: Record<string, number | string>;
}
interface VerifyCheck {
  candidate: Candidate;
  problems: string[];
  timestampType: string;
  compression: string;
  rowGroups: number;
  /** Iceberg outputs: the current snapshot's data files (all of the table's Parquet files). */
  snapshotFiles?: number;
  /** Iceberg outputs: what pyiceberg read back. */
  pyiceberg?: PyicebergRead;
}
interface VerifyResult {
  kind: 'verify';
  rows: number;
  expected: Expected;
  /** Generated rows looked up by id in each output. */
  samples: number;
  checks: VerifyCheck[];
}
type StepResult = GenerateResult | WriteResult | VerifyResult;

export async function runStep(input: StepInput): Promise<StepResult> {
  if (input.kind === 'generate') {
    const elapsed = stopwatch();
    let checksum = 0;
    // Touch every row so that nothing of the generation can be skipped.
    for (const row of sensorRows(input.rows)) checksum += row.value + row.id.length;
    const seconds = elapsed();
    const cpuSeconds = elapsed.cpu();
    if (!(checksum > 0)) throw new Error('generated nothing');
    return { kind: 'generate', rows: input.rows, seconds, cpuSeconds, maxRssMiB: maxRssMiB() };
  }
  if (input.kind === 'verify') return verify(input.rows, input.outputs);
  mkdirSync(input.dir, { recursive: true });
  const outcome = await WRITERS[input.candidate](input.rows, input.dir);
  // Counted after the clock stopped; maxRSS is read last, so it covers the whole process.
  const { files, bytes } = parquetFiles(input.dir);
  return {
    kind: 'write',
    candidate: input.candidate,
    rows: input.rows,
    seconds: outcome.seconds,
    cpuSeconds: outcome.cpuSeconds,
    ...(outcome.generateSeconds !== undefined ? { generateSeconds: outcome.generateSeconds } : {}),
    files,
    bytes,
    details: outcome.details ?? {},
    maxRssMiB: outcome.maxRssMiB ?? maxRssMiB(),
  };
}

function parquetFiles(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.parquet')) continue;
    files++;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

const WRITERS: Record<Candidate, (rows: number, dir: string) => Promise<WriteOutcome>> = {
  tributary: (rows, dir) => writeTributary(rows, dir, 'hive'),
  'tributary-capped': (rows, dir) => writeTributary(rows, dir, 'hive'),
  'tributary-workers': (rows, dir) => writeTributary(rows, dir, 'hive'),
  'tributary-iceberg': (rows, dir) => writeTributary(rows, dir, 'iceberg'),
  'tributary-s3': writeTributaryS3,
  pyiceberg: writePyiceberg,
  pyarrow: writePyarrow,
  awswrangler: writeAwswrangler,
  duckdb: writeDuckdb,
  'hyparquet-writer': writeHyparquet,
  'parquetjs-lite': writeParquetjsLite,
};

// Imports happen before the clock starts (each writer loads only its own library, so a process's
// RSS is that writer's alone).

async function writeTributary(
  rows: number,
  dir: string,
  tableFormat: 'hive' | 'iceberg',
): Promise<WriteOutcome> {
  // The public entry points, resolved to the packages' sources by tsx (tsconfig paths).
  const [{ writeDataset, byHour, LocalStorage }, { defineSchema, field }] = await Promise.all([
    import('@tributary/lake'),
    import('@tributary/core'),
  ]);
  const schema = defineSchema({
    id: field.string(),
    sensorId: field.string(),
    type: field.string(),
    value: field.double(),
    timestamp: field.timestamp(),
  });
  const elapsed = stopwatch();
  let lastFileClosed = 0;
  const result = await writeDataset(sensorRows(rows), {
    storage: new LocalStorage({ root: dir }),
    table: 'sensors',
    schema,
    partitionBy: byHour('timestamp'),
    format: 'parquet',
    tableFormat,
    // The last file's flush event marks where the commit begins (hive: manifest, then promotion;
    // Iceberg: manifest, manifest list, next metadata version).
    onEvent: (event) => {
      if (event.type === 'flush') lastFileClosed = elapsed();
    },
  });
  const seconds = elapsed();
  const cpuSeconds = elapsed.cpu();
  if (result.rows !== rows || result.invalidCount !== 0) {
    throw new Error(
      `writeDataset wrote ${result.rows} rows (${result.invalidCount} invalid), expected ${rows}`,
    );
  }
  return {
    seconds,
    cpuSeconds,
    details: { partitions: result.partitions.length, commitSeconds: round2(seconds - lastFileClosed) },
  };
}

const run = promisify(execFile);

/** Runs a bench Python script (spark/.venv) and returns the one JSON line it prints. */
async function python<T>(script: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await run(PYTHON, [script, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

const pyiceberg = <T>(args: string[]) => python<T>(PYICEBERG_SCRIPT, args);

interface PyicebergWrite {
  rows: number;
  importSeconds: number;
  generateSeconds: number;
  createSeconds: number;
  appendSeconds: number;
  wallSeconds: number;
  cpuSeconds: number;
  appendCpuSeconds: number;
  maxRssMiB: number;
  addedRecords: number;
  versions: string;
}

/**
 * pyiceberg in a Python process of its own, which measures itself: the same rows generated as an
 * Arrow table (bench/pyiceberg-lake.py computes bench/sensor-rows.ts's generator column-wise), a
 * SqlCatalog (sqlite in the output folder), `create_table` with `hour(timestamp)`, `append`.
 */
async function writePyiceberg(rows: number, dir: string): Promise<WriteOutcome> {
  const r = await pyiceberg<PyicebergWrite>(['write', '--rows', String(rows), '--dir', dir]);
  if (r.rows !== rows || r.addedRecords !== rows) {
    throw new Error(`pyiceberg appended ${r.addedRecords} of ${r.rows} rows, expected ${rows}`);
  }
  return {
    seconds: r.wallSeconds,
    cpuSeconds: r.cpuSeconds,
    generateSeconds: r.generateSeconds,
    maxRssMiB: r.maxRssMiB,
    details: {
      importSeconds: round2(r.importSeconds),
      generateSeconds: round2(r.generateSeconds),
      createSeconds: round2(r.createSeconds),
      appendSeconds: round2(r.appendSeconds),
      appendCpuSeconds: round2(r.appendCpuSeconds),
      versions: r.versions,
    },
  };
}

interface ArrowWrite {
  rows: number;
  importSeconds: number;
  generateSeconds: number;
  deriveSeconds: number;
  pandasSeconds?: number;
  inputSeconds: number;
  writeSeconds: number;
  wallSeconds: number;
  cpuSeconds: number;
  writeCpuSeconds: number;
  maxRssMiB: number;
  objects?: number;
  versions: string;
}

/** A Python baseline's own measures as a write outcome: its input building is the "generation". */
function arrowOutcome(r: ArrowWrite, rows: number, what: string): WriteOutcome {
  if (r.rows !== rows) throw new Error(`${what} wrote ${r.rows} rows, expected ${rows}`);
  return {
    seconds: r.wallSeconds,
    cpuSeconds: r.cpuSeconds,
    generateSeconds: r.inputSeconds,
    maxRssMiB: r.maxRssMiB,
    details: {
      importSeconds: round2(r.importSeconds),
      generateSeconds: round2(r.generateSeconds),
      deriveSeconds: round2(r.deriveSeconds),
      ...(r.pandasSeconds !== undefined ? { pandasSeconds: round2(r.pandasSeconds) } : {}),
      writeSeconds: round2(r.writeSeconds),
      writeCpuSeconds: round2(r.writeCpuSeconds),
      versions: r.versions,
    },
  };
}

/**
 * pyarrow in a Python process of its own, which measures itself: the rows generated as an Arrow
 * table (bench/pyiceberg-lake.py's generator), dt and hour derived with `pyarrow.compute`, then
 * `pyarrow.dataset.write_dataset` (hive partitioning dt/hour, snappy; every core).
 */
async function writePyarrow(rows: number, dir: string): Promise<WriteOutcome> {
  const r = await python<ArrowWrite>(ARROW_SCRIPT, ['pyarrow', '--rows', String(rows), '--dir', dir]);
  return arrowOutcome(r, rows, 'pyarrow');
}

type Moto = Awaited<ReturnType<typeof import('@tributary/local').startMotoServer>>;

/** The S3 SDK the lake loads (a dependency of packages/lake, not of the root). */
function s3Sdk(): typeof S3Sdk {
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
  return createRequire(join(repoRoot, 'packages/lake/package.json'))('@aws-sdk/client-s3') as typeof S3Sdk;
}

/** What an S3 writer left in its bucket, listed once the clock has stopped. */
interface BucketListing {
  /** Objects (and their bytes) under the table's prefix. */
  tableObjects: number;
  tableBytes: number;
  /** Objects outside it (tributary's commit records under `_tributary/`). */
  otherObjects: number;
}

/**
 * Runs an S3 writer against a moto_server started for this step (not timed), with the bucket
 * created; then lists the bucket and downloads every object into `dir` under its key, for the
 * verification step to read with DuckDB like a local output.
 */
async function withMoto(
  dir: string,
  write: (moto: Moto, client: InstanceType<typeof S3Sdk.S3Client>) => Promise<WriteOutcome>,
): Promise<WriteOutcome> {
  const { startMotoServer } = await import('@tributary/local');
  const { S3Client, CreateBucketCommand, ListObjectsV2Command, GetObjectCommand } = s3Sdk();
  const moto = await startMotoServer();
  const client = new S3Client({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: moto.credentials,
    forcePathStyle: true,
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const outcome = await write(moto, client);
    const listing: BucketListing = { tableObjects: 0, tableBytes: 0, otherObjects: 0 };
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const key = object.Key as string;
        if (key.startsWith(`${TABLE}/`)) {
          listing.tableObjects++;
          listing.tableBytes += object.Size ?? 0;
        } else listing.otherObjects++;
        const body = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const path = join(dir, key);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(
          path,
          await (body.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        );
      }
      token = page.NextContinuationToken;
    } while (token);
    return { ...outcome, details: { ...outcome.details, ...listing } };
  } finally {
    client.destroy();
    await moto.stop();
  }
}

/** `writeDataset` as in the hive step, to the lake's S3 storage (`S3Storage`) on moto. */
async function writeTributaryS3(rows: number, dir: string): Promise<WriteOutcome> {
  const [{ writeDataset, byHour }, { S3Storage }, { defineSchema, field }] = await Promise.all([
    import('@tributary/lake'),
    import('@tributary/lake/s3'),
    import('@tributary/core'),
  ]);
  const schema = defineSchema({
    id: field.string(),
    sensorId: field.string(),
    type: field.string(),
    value: field.double(),
    timestamp: field.timestamp(),
  });
  return withMoto(dir, async (_moto, client) => {
    const elapsed = stopwatch();
    const result = await writeDataset(sensorRows(rows), {
      storage: new S3Storage({ client, bucket: BUCKET }),
      table: TABLE,
      schema,
      partitionBy: byHour('timestamp'),
      format: 'parquet',
    });
    const seconds = elapsed();
    const cpuSeconds = elapsed.cpu();
    // Before the download: the write's own peak.
    const rss = maxRssMiB();
    if (result.rows !== rows || result.invalidCount !== 0) {
      throw new Error(
        `writeDataset wrote ${result.rows} rows (${result.invalidCount} invalid), expected ${rows}`,
      );
    }
    return { seconds, cpuSeconds, maxRssMiB: rss, details: { partitions: result.partitions.length } };
  });
}

/**
 * awswrangler in a Python process of its own, which measures itself: the same Arrow table with dt
 * and hour, as a pandas DataFrame, then `wr.s3.to_parquet(dataset=True, partition_cols=[dt, hour])`
 * to the moto_server of this step.
 */
async function writeAwswrangler(rows: number, dir: string): Promise<WriteOutcome> {
  return withMoto(dir, async (moto) => {
    const { accessKeyId, secretAccessKey } = moto.credentials;
    const r = await python<ArrowWrite>(
      ARROW_SCRIPT,
      [
        'awswrangler',
        '--rows',
        String(rows),
        '--endpoint',
        moto.endpoint,
        '--path',
        `s3://${BUCKET}/${TABLE}/`,
      ],
      {
        AWS_ACCESS_KEY_ID: accessKeyId,
        AWS_SECRET_ACCESS_KEY: secretAccessKey,
        AWS_DEFAULT_REGION: moto.region,
        AWS_REGION: moto.region,
      },
    );
    return arrowOutcome(r, rows, 'awswrangler');
  });
}

async function writeDuckdb(rows: number, dir: string): Promise<WriteOutcome> {
  const { DuckDBInstance, DuckDBTimestampTZValue } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  await connection.run(
    'CREATE TABLE t (id VARCHAR, "sensorId" VARCHAR, type VARCHAR, value DOUBLE, "timestamp" TIMESTAMPTZ)',
  );
  const threads = (
    await connection.runAndReadAll("SELECT current_setting('threads') AS n")
  ).getRowObjectsJS()[0]?.n;
  const elapsed = stopwatch();
  const appender = await connection.createAppender('t');
  for (const row of sensorRows(rows)) {
    appender.appendVarchar(row.id);
    appender.appendVarchar(row.sensorId);
    appender.appendVarchar(row.type);
    appender.appendDouble(row.value);
    appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(row.timestamp.getTime()) * 1000n));
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
  const appendSeconds = elapsed();
  // dt and hour as the lake spells them (zero-padded hour), computed by DuckDB itself.
  await connection.run(
    `COPY (SELECT *, strftime("timestamp", '%Y-%m-%d') AS dt, strftime("timestamp", '%H') AS hour FROM t)
     TO ${sqlString(dir)} (FORMAT parquet, PARTITION_BY (dt, hour), COMPRESSION snappy, OVERWRITE_OR_IGNORE)`,
  );
  const seconds = elapsed();
  const cpuSeconds = elapsed.cpu();
  connection.closeSync();
  instance.closeSync();
  return {
    seconds,
    cpuSeconds,
    details: {
      appendSeconds: round2(appendSeconds),
      copySeconds: round2(seconds - appendSeconds),
      threads: String(threads),
    },
  };
}

function partitionOf(row: SensorRow): string {
  const iso = row.timestamp.toISOString();
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

/**
 * One open file per partition, at most MAX_OPEN_FILES at once (the one open longest is closed
 * first, as the lake writer does); a partition met again after its file closed gets a new file.
 */
class PartitionFiles<F> {
  readonly #open = new Map<string, F>();
  readonly #counts = new Map<string, number>();
  constructor(
    private readonly dir: string,
    private readonly openFile: (path: string) => Promise<F>,
    private readonly closeFile: (file: F) => Promise<void>,
  ) {}

  async get(partition: string): Promise<F> {
    const file = this.#open.get(partition);
    if (file) return file;
    if (this.#open.size >= MAX_OPEN_FILES) {
      const [oldest, oldestFile] = this.#open.entries().next().value as [string, F];
      this.#open.delete(oldest);
      await this.closeFile(oldestFile);
    }
    const index = this.#counts.get(partition) ?? 0;
    this.#counts.set(partition, index + 1);
    mkdirSync(join(this.dir, partition), { recursive: true });
    const opened = await this.openFile(
      join(this.dir, partition, `part-${String(index).padStart(5, '0')}.parquet`),
    );
    this.#open.set(partition, opened);
    return opened;
  }

  async closeAll(): Promise<void> {
    for (const file of this.#open.values()) await this.closeFile(file);
    this.#open.clear();
  }
}

async function writeHyparquet(rows: number, dir: string): Promise<WriteOutcome> {
  const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
  type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

  /** Hands the encoded bytes to a file stream after each row group, waiting when it must drain. */
  class StreamWriter extends ByteWriter {
    constructor(readonly stream: Writable) {
      super(1 << 20);
    }
    async flush(): Promise<void> {
      if (this.index === 0) return;
      // A copy: the buffer is reused for the next row group.
      const chunk = Buffer.from(this.buffer.slice(0, this.index));
      this.index = 0;
      if (!this.stream.write(chunk)) await once(this.stream, 'drain');
    }
    override async finish(): Promise<void> {
      await this.flush();
      this.stream.end();
      await once(this.stream, 'finish');
    }
  }

  const string = (name: string): SchemaElement => ({
    name,
    type: 'BYTE_ARRAY',
    converted_type: 'UTF8',
    logical_type: { type: 'STRING' },
    repetition_type: 'REQUIRED',
  });
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 5 },
    string('id'),
    string('sensorId'),
    string('type'),
    { name: 'value', type: 'DOUBLE', repetition_type: 'REQUIRED' },
    {
      name: 'timestamp',
      type: 'INT64',
      converted_type: 'TIMESTAMP_MILLIS',
      // Without the logical type, DuckDB reads a naive timestamp (FINDINGS.md).
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      repetition_type: 'REQUIRED',
    },
  ];
  interface OpenFile {
    writer: InstanceType<typeof ParquetWriter>;
    id: string[];
    sensorId: string[];
    type: string[];
    value: number[];
    timestamp: Date[];
    bytes: number;
  }
  let rowGroups = 0;
  const writeGroup = async (file: OpenFile) => {
    const n = file.id.length;
    if (n === 0) return;
    const columnData = [
      { name: 'id', data: file.id },
      { name: 'sensorId', data: file.sensorId },
      { name: 'type', data: file.type },
      { name: 'value', data: file.value },
      { name: 'timestamp', data: file.timestamp },
    ];
    await file.writer.write({ columnData, rowGroupSize: n });
    rowGroups++;
    file.id = [];
    file.sensorId = [];
    file.type = [];
    file.value = [];
    file.timestamp = [];
    file.bytes = 0;
  };
  const files = new PartitionFiles<OpenFile>(
    dir,
    async (path) => ({
      writer: new ParquetWriter({
        writer: new StreamWriter(createWriteStream(path)),
        schema,
        codec: 'SNAPPY',
      }),
      id: [],
      sensorId: [],
      type: [],
      value: [],
      timestamp: [],
      bytes: 0,
    }),
    async (file) => {
      await writeGroup(file);
      await file.writer.finish();
    },
  );

  const elapsed = stopwatch();
  for (const row of sensorRows(rows)) {
    const file = await files.get(partitionOf(row));
    file.id.push(row.id);
    file.sensorId.push(row.sensorId);
    file.type.push(row.type);
    file.value.push(row.value);
    file.timestamp.push(row.timestamp);
    // Plain-encoded size: 4-byte length + text per string, 8 bytes per double and timestamp.
    file.bytes += 12 + row.id.length + row.sensorId.length + row.type.length + 16;
    if (file.id.length >= ROW_GROUP_ROWS || file.bytes >= ROW_GROUP_BYTES) await writeGroup(file);
  }
  await files.closeAll();
  return { seconds: elapsed(), cpuSeconds: elapsed.cpu(), details: { rowGroups } };
}

async function writeParquetjsLite(rows: number, dir: string): Promise<WriteOutcome> {
  const parquet = createRequire(import.meta.url)('parquetjs-lite') as typeof import('parquetjs-lite');
  const snappy = { compression: 'SNAPPY' } as const;
  const schema = new parquet.ParquetSchema({
    id: { type: 'UTF8', ...snappy },
    sensorId: { type: 'UTF8', ...snappy },
    type: { type: 'UTF8', ...snappy },
    value: { type: 'DOUBLE', ...snappy },
    timestamp: { type: 'TIMESTAMP_MILLIS', ...snappy },
  });
  const files = new PartitionFiles(
    dir,
    (path) =>
      parquet.ParquetWriter.openFile(schema, path, { useDataPageV2: false, rowGroupSize: ROW_GROUP_ROWS }),
    (writer) => writer.close(),
  );
  const elapsed = stopwatch();
  for (const row of sensorRows(rows)) {
    const writer = await files.get(partitionOf(row));
    await writer.appendRow(row as unknown as Record<string, unknown>);
  }
  await files.closeAll();
  return { seconds: elapsed(), cpuSeconds: elapsed.cpu() };
}

interface PyicebergRead {
  snapshotId: string;
  /** [field id, name, type, required] of each column. */
  schema: [number, string, string, boolean][];
  /** [name, transform, source id] of each partition field. */
  spec: [string, string, number][];
  /** The current snapshot's data files (`plan_files`), with their hour partition as text. */
  files: { path: string; hour: string | null; rows: number }[];
  rows: number;
  distinctIds: number;
  minMs: number;
  maxMs: number;
  valueSum: number;
}

/** The Iceberg schema and partition spec both Iceberg writers must produce. */
const ICEBERG_SCHEMA = JSON.stringify([
  [1, 'id', 'string', true],
  [2, 'sensorId', 'string', true],
  [3, 'type', 'string', true],
  [4, 'value', 'double', true],
  [5, 'timestamp', 'timestamptz', true],
]);
const ICEBERG_SPEC = JSON.stringify([['timestamp_hour', 'hour', 5]]);

/** Every `count / SAMPLES`-th generated row, and the last. */
function samplesOf(count: number): SensorRow[] {
  const stride = Math.max(1, Math.floor(count / SAMPLES));
  const samples: SensorRow[] = [];
  let i = 0;
  let last: SensorRow | undefined;
  for (const row of sensorRows(count)) {
    if (i++ % stride === 0 && samples.length < SAMPLES) samples.push(row);
    last = row;
  }
  if (last && samples.at(-1) !== last) samples.push(last);
  return samples;
}

function parquetPaths(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.parquet'))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * An Iceberg output's current snapshot: its data files with their hour partitions (tributary's
 * by `scanIceberg`, pyiceberg's by pyiceberg's `plan_files`), and what pyiceberg reads back from
 * it (tributary's table opened from its `vN.metadata.json` with `StaticTable`).
 */
async function icebergSnapshot(
  candidate: Candidate,
  dir: string,
  problems: string[],
): Promise<{ files: { path: string; hour: string }[]; read: PyicebergRead }> {
  if (candidate === 'pyiceberg') {
    const read = await pyiceberg<PyicebergRead>(['read', '--catalog-dir', dir]);
    return { files: read.files.map((f) => ({ path: fileURLToPath(f.path), hour: String(f.hour) })), read };
  }
  const { LocalStorage, scanIceberg } = await import('@tributary/lake');
  const scan = await scanIceberg({ storage: new LocalStorage({ root: dir }), table: 'sensors' });
  const files = scan.files.map((f) => ({ path: join(dir, f.key), hour: String(f.partition.timestamp_hour) }));
  const metadata = join(dataDir(candidate, dir), 'metadata');
  const version = readFileSync(join(metadata, 'version-hint.text'), 'utf8').trim();
  const read = await pyiceberg<PyicebergRead>([
    'read',
    '--metadata',
    pathToFileURL(join(metadata, `v${version}.metadata.json`)).href,
  ]);
  const ours = new Set(files.map((f) => f.path));
  const theirs = new Set(read.files.map((f) => fileURLToPath(f.path)));
  if (ours.size !== theirs.size || [...ours].some((p) => !theirs.has(p))) {
    problems.push(
      `scanIceberg lists ${ours.size} data files, pyiceberg's plan_files ${theirs.size}, not the same files`,
    );
  }
  if (read.snapshotId !== String(scan.snapshot?.['snapshot-id'])) {
    problems.push(
      `pyiceberg's current snapshot is ${read.snapshotId}, scanIceberg's ${scan.snapshot?.['snapshot-id']}`,
    );
  }
  return { files, read };
}

async function verify(rows: number, outputs: { candidate: Candidate; dir: string }[]): Promise<VerifyResult> {
  const expected = expectedOf(rows);
  const samples = samplesOf(rows);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  // Numbers as text cast to DOUBLE: parsed to the same double as JavaScript's (a bare 15.123 would be a DECIMAL).
  await connection.run(
    `CREATE TEMP TABLE samples AS SELECT * FROM (VALUES ${samples
      .map(
        (s) =>
          `(${sqlString(s.id)}, ${sqlString(s.sensorId)}, ${sqlString(s.type)}, CAST(${sqlString(String(s.value))} AS DOUBLE), ${s.timestamp.getTime()})`,
      )
      .join(', ')}) AS t(id, "sensorId", type, value, ts_ms)`,
  );
  const checks: VerifyCheck[] = [];
  for (const { candidate, dir } of outputs) {
    const problems: string[] = [];
    let timestampType = '?';
    let compression = '?';
    let rowGroups = 0;
    let snapshotFiles: number | undefined;
    let read: PyicebergRead | undefined;
    const expect = (what: string, value: number, want: number) => {
      if (value !== want) problems.push(`${what}: ${int(value)}, expected ${int(want)}`);
    };
    try {
      // Hive layouts: every Parquet file under the folder, partitions from the dt=/hour= path.
      // Iceberg: the current snapshot's files, each row's partition from its file's manifest entry.
      let files: string;
      let source: string;
      let partition: string;
      let misplaced: string;
      if (ICEBERG.includes(candidate)) {
        const snapshot = await icebergSnapshot(candidate, dir, problems);
        read = snapshot.read;
        snapshotFiles = snapshot.files.length;
        const listed = new Set(snapshot.files.map((f) => f.path));
        const stray = parquetPaths(dataDir(candidate, dir)).filter((p) => !listed.has(p));
        if (stray.length > 0)
          problems.push(`${stray.length} Parquet files in the table folder are not in its snapshot`);
        await connection.run(
          `CREATE OR REPLACE TEMP TABLE snapshot_files AS SELECT * FROM (VALUES ${snapshot.files
            .map((f) => `(${sqlString(f.path)}, ${sqlString(f.hour)})`)
            .join(', ')}) AS t(path, part)`,
        );
        files = `[${snapshot.files.map((f) => sqlString(f.path)).join(', ')}]`;
        source = `(SELECT p.*, f.part FROM read_parquet(${files}, filename = true) p JOIN snapshot_files f ON p.filename = f.path)`;
        partition = 'part';
        misplaced = `strftime("timestamp", '%Y-%m-%d-%H') <> part`;
      } else {
        files = sqlString(`${dataDir(candidate, dir)}/**/*.parquet`);
        source = `read_parquet(${files}, hive_partitioning = true)`;
        partition = '(dt, hour)';
        misplaced = `strftime("timestamp", '%Y-%m-%d') <> CAST(dt AS VARCHAR)
                     OR CAST(strftime("timestamp", '%H') AS INTEGER) <> CAST(hour AS INTEGER)`;
      }
      const [actual] = (
        await connection.runAndReadAll(`
          SELECT count(*) AS rows, count(DISTINCT id) AS ids,
                 epoch_ms(min("timestamp")) AS min_ms, epoch_ms(max("timestamp")) AS max_ms,
                 sum(value) AS value_sum, count(DISTINCT ${partition}) AS partitions,
                 count(*) FILTER (WHERE ${misplaced}) AS misplaced
          FROM ${source}`)
      ).getRowObjectsJS();
      const got = (key: string) => Number(actual?.[key]);
      expect('count(*)', got('rows'), expected.rows);
      expect('count(DISTINCT id)', got('ids'), expected.distinctIds);
      if (got('min_ms') !== expected.minMs || got('max_ms') !== expected.maxMs) {
        problems.push(
          `timestamps ${iso(got('min_ms'))}..${iso(got('max_ms'))}, expected ${iso(expected.minMs)}..${iso(expected.maxMs)}`,
        );
      }
      expect('hour partitions', got('partitions'), expected.partitions);
      expect('rows whose partition does not match their timestamp', got('misplaced'), 0);
      if (!(Math.abs(got('value_sum') - expected.valueSum) <= 1e-9 * Math.abs(expected.valueSum))) {
        problems.push(`sum(value) ${got('value_sum')}, expected ${expected.valueSum}`);
      }
      const [found] = (
        await connection.runAndReadAll(`
          SELECT count(*) AS n FROM samples s JOIN ${source} o
            ON o.id = s.id AND o."sensorId" = s."sensorId" AND o.type = s.type AND o.value = s.value
           AND epoch_ms(o."timestamp") = s.ts_ms`)
      ).getRowObjectsJS();
      expect(`sampled rows found with every field equal`, Number(found?.n), samples.length);
      const [described] = (
        await connection.runAndReadAll(`DESCRIBE SELECT "timestamp" FROM ${source}`)
      ).getRowObjectsJS();
      timestampType = String(described?.column_type);
      if (
        (candidate.startsWith('tributary') || ICEBERG.includes(candidate)) &&
        timestampType !== 'TIMESTAMP WITH TIME ZONE'
      ) {
        problems.push(`timestamp column reads as ${timestampType}, expected TIMESTAMP WITH TIME ZONE (UTC)`);
      }
      const [meta] = (
        await connection.runAndReadAll(`
          SELECT string_agg(DISTINCT compression, ',') AS compression,
                 count(DISTINCT (file_name, row_group_id)) AS row_groups
          FROM parquet_metadata(${files})`)
      ).getRowObjectsJS();
      compression = String(meta?.compression);
      rowGroups = Number(meta?.row_groups);
      if (read) {
        expect('pyiceberg: rows read', read.rows, expected.rows);
        expect('pyiceberg: distinct ids', read.distinctIds, expected.distinctIds);
        expect(
          'pyiceberg: record counts of the planned files',
          read.files.reduce((n, f) => n + f.rows, 0),
          expected.rows,
        );
        if (read.minMs !== expected.minMs || read.maxMs !== expected.maxMs) {
          problems.push(`pyiceberg: timestamps ${iso(read.minMs)}..${iso(read.maxMs)}`);
        }
        if (!(Math.abs(read.valueSum - expected.valueSum) <= 1e-9 * Math.abs(expected.valueSum))) {
          problems.push(`pyiceberg: sum(value) ${read.valueSum}, expected ${expected.valueSum}`);
        }
        if (JSON.stringify(read.schema) !== ICEBERG_SCHEMA)
          problems.push(`pyiceberg: schema ${JSON.stringify(read.schema)}`);
        if (JSON.stringify(read.spec) !== ICEBERG_SPEC)
          problems.push(`pyiceberg: partition spec ${JSON.stringify(read.spec)}`);
      }
    } catch (err) {
      problems.push(`could not be read: ${(err as Error).message}`);
    }
    checks.push({
      candidate,
      problems,
      timestampType,
      compression,
      rowGroups,
      ...(snapshotFiles !== undefined ? { snapshotFiles } : {}),
      ...(read ? { pyiceberg: read } : {}),
    });
  }
  connection.closeSync();
  instance.closeSync();
  return { kind: 'verify', rows, expected, samples: samples.length, checks };
}

// ---------------------------------------------------------------------------------------------
// Summary (in the parent)

interface StepOutcome {
  step: Step;
  ok: boolean;
  seconds: number;
  result?: StepResult;
  error?: string;
}

const COLUMNS = [
  { key: 'rows', title: 'rows' },
  { key: 'candidate', title: 'writer', align: 'left' },
  { key: 'seconds', title: 'wall s' },
  { key: 'write', title: 'write s' },
  { key: 'cpu', title: 'CPU s' },
  { key: 'rate', title: 'rows/s' },
  { key: 'netRate', title: 'rows/s excl. gen' },
  { key: 'ratio', title: '× DuckDB' },
  { key: 'netRatio', title: '× DuckDB excl. gen' },
  { key: 'rss', title: 'peak RSS MiB' },
  { key: 'files', title: 'files' },
  { key: 'mib', title: 'MiB' },
];

const EMPTY_ROW = Object.fromEntries(COLUMNS.map((c) => [c.key, '—']));

function versionOf(repoRoot: string, name: string): string {
  try {
    return JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

/**
 * The outcomes of a row count with each generate and write step's median run by wall time in
 * place of its runs (a failed run keeps its place: it is a failure of the step); `note` hears the
 * walls of every step that ran more than once.
 */
function medianRuns(group: StepOutcome[], note: (line: string) => void): StepOutcome[] {
  const keyOf = (o: StepOutcome) =>
    o.step.input.kind === 'write' ? `write ${o.step.input.candidate}` : o.step.input.kind;
  const runs = new Map<string, StepOutcome[]>();
  for (const o of group) {
    if (o.step.input.kind === 'verify' || !o.ok || !o.result) continue;
    const key = keyOf(o);
    runs.set(key, [...(runs.get(key) ?? []), o]);
  }
  const chosen = new Set<StepOutcome>();
  for (const [key, list] of runs) {
    const sorted = [...list].sort(
      (a, b) => (a.result as { seconds: number }).seconds - (b.result as { seconds: number }).seconds,
    );
    chosen.add(sorted[Math.floor((sorted.length - 1) / 2)] as StepOutcome);
    if (list.length > 1) {
      const walls = list.map((o) => (o.result as { seconds: number }).seconds.toFixed(2)).join(', ');
      const name = key === 'generate' ? 'generate only' : CANDIDATES[key.slice(6) as Candidate];
      note(`${name}: walls of its runs ${walls} s`);
    }
  }
  // In the order of the first run: each step's median run takes the place of that step's first.
  const placed = new Set<string>();
  const ordered: StepOutcome[] = [];
  for (const o of group) {
    if (o.step.input.kind === 'verify' || !o.ok || !o.result) {
      ordered.push(o);
      continue;
    }
    const key = keyOf(o);
    if (placed.has(key)) continue;
    placed.add(key);
    ordered.push(...[...chosen].filter((c) => keyOf(c) === key));
  }
  return ordered;
}

export function summarize(
  outcomes: StepOutcome[],
  context: { repoRoot: string; plan: ReturnType<typeof plan> },
) {
  const { options } = context.plan;
  const rowsTable: Record<string, string>[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const targetMisses: string[] = [];
  const ours = new Map<number, WriteResult>();
  const capped = new Map<number, WriteResult>();
  const versions = ['@duckdb/node-api', 'hyparquet-writer', 'parquetjs-lite'].map(
    (n) => `${n} ${versionOf(context.repoRoot, n)}`,
  );
  notes.push(
    `versions: ${versions.join(', ')}. tributary: every record validated against the schema; hive: files staged, a manifest committed, then the files promoted (LocalStorage copies them into place); Iceberg: files written in place, then manifest, manifest list and the next metadata version (created exclusively).`,
  );
  const pyicebergRun = outcomes.find((o) => o.result?.kind === 'write' && o.result.candidate === 'pyiceberg')
    ?.result as WriteResult | undefined;
  if (pyicebergRun) notes.push(`pyiceberg side: ${pyicebergRun.details.versions} (spark/.venv).`);
  for (const candidate of ['pyarrow', 'awswrangler'] as const) {
    const run = outcomes.find((o) => o.result?.kind === 'write' && o.result.candidate === candidate)
      ?.result as WriteResult | undefined;
    if (run) notes.push(`${candidate} side: ${run.details.versions} (spark/.venv).`);
  }
  if (options.candidates.some((c) => S3_OUTPUTS.includes(c))) {
    notes.push(
      "S3 writers: each step starts its own moto_server (spark/.venv, `startMotoServer` of @tributary/local) on 127.0.0.1 and creates the bucket before the clock starts; moto's own CPU and memory are not in the step's figures. Once the write returned (peak RSS read then), the step lists the bucket and downloads every object; the verification reads that copy.",
    );
  }
  const comparisons: string[] = [];

  if (options.repeat > 1) {
    notes.push(
      `each generate and write step ran ${options.repeat} times, each in its own process; the table and the targets take each step's median run by wall time (the walls of every run are listed below the table).`,
    );
  }
  for (const rows of options.rows) {
    const group = medianRuns(
      outcomes.filter((o) => o.step.input.rows === rows),
      (line) => notes.push(`${int(rows)} rows · ${line}`),
    );
    const find = <K extends StepResult['kind']>(kind: K, candidate?: Candidate) =>
      group.find(
        (o) =>
          o.ok &&
          o.result?.kind === kind &&
          (candidate === undefined || (o.result as WriteResult).candidate === candidate),
      )?.result as Extract<StepResult, { kind: K }> | undefined;
    const generated = find('generate');
    const duck = find('write', 'duckdb');
    // Seconds without generating the rows: pyiceberg measured its own generation, the Node writers
    // generate as they write, so the baseline step's time is subtracted.
    // The Python baselines measured their input (Arrow table, dt/hour, DataFrame) apart.
    const writeSeconds = (r: WriteResult) => {
      const generation = r.generateSeconds ?? generated?.seconds;
      return generation !== undefined && r.seconds > generation ? r.seconds - generation : Number.NaN;
    };
    const net = (r: WriteResult) => r.rows / writeSeconds(r);
    const fmtRatio = (value: number, base: number | undefined) =>
      base === undefined || !Number.isFinite(value) || !Number.isFinite(base)
        ? '—'
        : `${(value / base).toFixed(2)}×`;

    for (const outcome of group) {
      const { input } = outcome.step;
      if (input.kind === 'verify') continue;
      const name = input.kind === 'generate' ? 'generate only (baseline)' : CANDIDATES[input.candidate];
      if (!outcome.ok || !outcome.result) {
        failures.push(`${int(rows)} rows · ${name}: ${outcome.error}`);
        rowsTable.push({ ...EMPTY_ROW, rows: int(rows), candidate: name, seconds: 'FAILED' });
        continue;
      }
      const r = outcome.result as GenerateResult | WriteResult;
      const row: Record<string, string> = {
        ...EMPTY_ROW,
        rows: int(rows),
        candidate: name,
        seconds: r.seconds.toFixed(2),
        cpu: r.cpuSeconds.toFixed(2),
        rate: int(rows / r.seconds),
        ...(r.kind === 'write' && Number.isFinite(writeSeconds(r))
          ? { write: writeSeconds(r).toFixed(2) }
          : {}),
        rss: r.maxRssMiB.toFixed(0),
      };
      if (r.kind === 'write') {
        if (r.candidate === 'tributary') ours.set(rows, r);
        if (r.candidate === 'tributary-capped') capped.set(rows, r);
        Object.assign(row, {
          netRate: Number.isFinite(net(r)) ? int(net(r)) : '—',
          ratio: fmtRatio(rows / r.seconds, duck && rows / duck.seconds),
          netRatio: fmtRatio(net(r), duck && net(duck)),
          files: int(r.files),
          mib: (r.bytes / 2 ** 20).toFixed(1),
        });
      }
      rowsTable.push(row);
    }

    const tributary = find('write', 'tributary');
    if (tributary) {
      notes.push(
        `${int(rows)} rows: tributary hive's commit (manifest, then promotion) took ${tributary.details.commitSeconds} s of its ${tributary.seconds.toFixed(2)} s.`,
      );
    }
    const iceberg = find('write', 'tributary-iceberg');
    if (iceberg) {
      notes.push(
        `${int(rows)} rows: tributary Iceberg's commit (manifest, manifest list, metadata version) took ${iceberg.details.commitSeconds} s of its ${iceberg.seconds.toFixed(2)} s.`,
      );
    }
    const py = find('write', 'pyiceberg');
    if (py) {
      const d = py.details;
      notes.push(
        `${int(rows)} rows: pyiceberg (Python, its own clock): ${d.generateSeconds} s generating the rows as an Arrow table, ${d.createSeconds} s SqlCatalog + create_table, ${d.appendSeconds} s append (${d.appendCpuSeconds} s CPU); imports (${d.importSeconds} s) not timed, as in the Node steps. Peak RSS is the Python process's.`,
      );
    }
    // Three measures: wall time, time without generating the rows, and CPU time without generating
    // them (on a shared machine the steadiest of the three).
    const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');
    const cpuWrite = (r: WriteResult) => (generated ? r.cpuSeconds - generated.cpuSeconds : Number.NaN);
    const compare = (what: string, a: number, b: number) =>
      `${what} ${fmt(a)} vs ${fmt(b)} s (${fmt(a / b)}×)`;
    if (iceberg && tributary) {
      const wall = iceberg.seconds / tributary.seconds;
      const write = writeSeconds(iceberg) / writeSeconds(tributary);
      const met = wall <= 1 + ICEBERG_OVER_HIVE && write <= 1 + ICEBERG_OVER_HIVE;
      comparisons.push(
        `target · ${int(rows)} rows, tributary Iceberg vs hive (at most +${ICEBERG_OVER_HIVE * 100} % in wall and in write time): ` +
          `${compare('wall', iceberg.seconds, tributary.seconds)}, ${compare('write excl. generation', writeSeconds(iceberg), writeSeconds(tributary))}, ` +
          `${compare('CPU excl. generation', cpuWrite(iceberg), cpuWrite(tributary))}, peak RSS ${iceberg.maxRssMiB.toFixed(0)} vs ${tributary.maxRssMiB.toFixed(0)} MiB: ${met ? 'met' : 'MISSED'}`,
      );
      if (!met)
        targetMisses.push(
          `tributary Iceberg write ${fmt(wall)}× hive's wall time (${fmt(write)}× its write time) at ${int(rows)} rows`,
        );
    }
    if (iceberg && py) {
      const appendSeconds = Number(py.details.appendSeconds);
      const met = iceberg.seconds < py.seconds && writeSeconds(iceberg) < appendSeconds;
      comparisons.push(
        `target · ${int(rows)} rows, tributary Iceberg vs pyiceberg (faster in wall and in write time): ` +
          `${compare('wall', iceberg.seconds, py.seconds)}, ${compare("write excl. generation vs pyiceberg's append", writeSeconds(iceberg), appendSeconds)}, ` +
          `${compare("CPU excl. generation vs the append's", cpuWrite(iceberg), Number(py.details.appendCpuSeconds))}, peak RSS ${iceberg.maxRssMiB.toFixed(0)} vs ${py.maxRssMiB.toFixed(0)} MiB: ${met ? 'met' : 'MISSED'}`,
      );
      if (!met) targetMisses.push(`tributary Iceberg not faster than pyiceberg at ${int(rows)} rows`);
    }
    for (const candidate of ['pyarrow', 'awswrangler'] as const) {
      const r = find('write', candidate);
      if (!r) continue;
      const d = r.details;
      notes.push(
        `${int(rows)} rows: ${candidate} (Python, its own clock): input ${r.generateSeconds?.toFixed(2)} s (${d.generateSeconds} s generating the Arrow table, ${d.deriveSeconds} s deriving dt and hour with pyarrow.compute${d.pandasSeconds !== undefined ? `, ${d.pandasSeconds} s to_pandas` : ''}), then ${d.writeSeconds} s (${d.writeCpuSeconds} s CPU) in ${candidate === 'pyarrow' ? 'write_dataset' : 'wr.s3.to_parquet'}; imports (${d.importSeconds} s) not timed. Peak RSS is the Python process's.`,
      );
    }
    for (const candidate of S3_OUTPUTS) {
      const r = find('write', candidate);
      if (!r) continue;
      const d = r.details;
      notes.push(
        `${int(rows)} rows · ${CANDIDATES[candidate]}: the bucket held ${int(Number(d.tableObjects))} objects (${(Number(d.tableBytes) / 2 ** 20).toFixed(1)} MiB) under ${TABLE}/ and ${int(Number(d.otherObjects))} outside it.`,
      );
    }
    // Issue 18: writeDataset against pyarrow (local) and awswrangler (S3), in the same run.
    const pyarrow = find('write', 'pyarrow');
    const wrangler = find('write', 'awswrangler');
    const toS3 = find('write', 'tributary-s3');
    const rss = (a: WriteResult, b: WriteResult) =>
      `peak RSS ${a.maxRssMiB.toFixed(0)} vs ${b.maxRssMiB.toFixed(0)} MiB`;
    const target = (what: string, limit: number, ratio: number, detail: string) => {
      const met = Number.isFinite(ratio) && ratio <= limit;
      comparisons.push(
        `target · ${int(rows)} rows, ${what} (≤ ${limit}×): ${detail}: ${met ? 'met' : 'MISSED'}`,
      );
      if (!met) targetMisses.push(`${what} ${fmt(ratio)}× at ${int(rows)} rows (target ≤ ${limit}×)`);
    };
    if (tributary && pyarrow) {
      target(
        "tributary write vs pyarrow write_dataset's",
        WRITE_OVER_PYARROW,
        writeSeconds(tributary) / writeSeconds(pyarrow),
        `${compare('write (tributary: wall − generate only; pyarrow: write_dataset alone)', writeSeconds(tributary), writeSeconds(pyarrow))}, ${compare("CPU excl. generation vs write_dataset's", cpuWrite(tributary), Number(pyarrow.details.writeCpuSeconds))}, ${rss(tributary, pyarrow)}`,
      );
      target(
        "tributary wall vs pyarrow's (building the input included)",
        WALL_OVER_PYARROW,
        tributary.seconds / pyarrow.seconds,
        `${compare('wall', tributary.seconds, pyarrow.seconds)}, ${rss(tributary, pyarrow)}`,
      );
    }
    const workers = find('write', 'tributary-workers');
    if (workers && pyarrow) {
      comparisons.push(
        `${int(rows)} rows, with one encode worker (${ENCODE_WORKERS}=1, not a default below 3 cores): ${compare('write vs pyarrow write_dataset', writeSeconds(workers), writeSeconds(pyarrow))}, ${compare('wall vs pyarrow', workers.seconds, pyarrow.seconds)}, CPU ${fmt(workers.cpuSeconds)} s, ${rss(workers, pyarrow)}`,
      );
    }
    if (toS3 && wrangler) {
      target(
        "tributary → S3 wall vs awswrangler's (building the input included)",
        S3_WALL_OVER_AWSWRANGLER,
        toS3.seconds / wrangler.seconds,
        `${compare('wall', toS3.seconds, wrangler.seconds)}, ${compare('write (tributary: wall − generate only; awswrangler: to_parquet alone)', writeSeconds(toS3), writeSeconds(wrangler))}, ${rss(toS3, wrangler)}`,
      );
    }
    if (duck) {
      const d = duck.details;
      notes.push(
        `${int(rows)} rows: DuckDB appended in ${d.appendSeconds} s and ran COPY … PARTITION_BY in ${d.copySeconds} s (${d.threads} threads); its table holds every row in memory until COPY.`,
      );
    }
    const verified = find('verify');
    if (!verified) {
      failures.push(`${int(rows)} rows: the verification step did not run to the end`);
      continue;
    }
    const e = verified.expected;
    notes.push(
      `${int(rows)} rows: DuckDB read back each output (hive layouts: read_parquet(…/**/*.parquet, hive_partitioning = true), for the S3 writers over the copy downloaded from moto; Iceberg tables: the current snapshot's data files, each with its partition) and compared it with the generated rows: ` +
        `${int(e.rows)} rows, ${int(e.distinctIds)} distinct ids, ${iso(e.minMs)} … ${iso(e.maxMs)}, ${e.partitions} hour partitions, sum(value), every row in its own hour's partition, ${int(verified.samples)} sampled rows found by id with every field equal. ` +
        "pyiceberg read both Iceberg tables back (tributary's from its vN.metadata.json with StaticTable) and its plan_files listed the same files as scanIceberg.",
    );
    for (const check of verified.checks) {
      const name = CANDIDATES[check.candidate];
      const status = check.problems.length === 0 ? 'verified' : `MISMATCH (${check.problems.join('; ')})`;
      const snapshot =
        check.snapshotFiles === undefined
          ? ''
          : `; current snapshot ${check.pyiceberg?.snapshotId}: ${int(check.snapshotFiles)} data files, pyiceberg read ${int(check.pyiceberg?.rows ?? 0)} rows`;
      notes.push(
        `${int(rows)} rows · ${name}: ${status}; timestamp reads as ${check.timestampType}; ${check.compression}; ${int(check.rowGroups)} row groups${snapshot}.`,
      );
      if (check.problems.length > 0)
        failures.push(`${int(rows)} rows · ${name}: ${check.problems.join('; ')}`);
    }
  }

  // Targets (issue 3): peak RSS under 400 MiB and flat from the smallest to the largest run.
  for (const [rows, r] of ours) {
    const ok = r.maxRssMiB < RSS_TARGET_MIB;
    notes.push(
      `target · tributary peak RSS at ${int(rows)} rows: ${r.maxRssMiB.toFixed(0)} MiB (under ${RSS_TARGET_MIB} MiB: ${ok ? 'met' : 'MISSED'})`,
    );
    if (!ok) targetMisses.push(`tributary peak RSS ${r.maxRssMiB.toFixed(0)} MiB at ${int(rows)} rows`);
  }
  // Flatness is judged under the heap cap when that run is there: uncapped, V8 lets the heap grow
  // lazily with the run's length even when the writer retains little.
  const flatSource = capped.size > 0 ? capped : ours;
  const flatName = capped.size > 0 ? CANDIDATES['tributary-capped'] : CANDIDATES.tributary;
  const sizes = [...flatSource.keys()].sort((a, b) => a - b);
  const smallest = flatSource.get(sizes[0] as number);
  const largest = flatSource.get(sizes.at(-1) as number);
  if (smallest && largest && smallest !== largest) {
    const growth = largest.maxRssMiB / smallest.maxRssMiB - 1;
    const flat = growth <= FLAT_TOLERANCE;
    notes.push(
      `target · ${flatName}: peak RSS from ${int(smallest.rows)} to ${int(largest.rows)} rows: ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}% (flat, within ${FLAT_TOLERANCE * 100}%: ${flat ? 'met' : 'MISSED'})`,
    );
    if (!flat)
      targetMisses.push(
        `tributary peak RSS grew ${(growth * 100).toFixed(1)}% from ${int(smallest.rows)} to ${int(largest.rows)} rows`,
      );
  }
  notes.push(...comparisons);
  if (options.strict) failures.push(...targetMisses.map((m) => `target missed: ${m}`));
  return { columns: COLUMNS, rows: rowsTable, notes, failures };
}
