// Spark with Iceberg for the tests: Spark 3.5.6 (AWS Glue 5.1's) with iceberg-spark-runtime 1.10.0,
// started once per test file by spark/tests/iceberg_probe.py and driven by JSON lines. It reads
// Iceberg tables (to prove Spark reads what the lake writes) and writes them (so the lake's reader
// can be tested against a table Spark wrote). Start costs ~10-15 s: open one SparkIceberg per file.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
// @ts-expect-error -- a plain ES module script without type declarations
import { icebergRuntimeArtifact, icebergRuntimeJar } from '../../scripts/iceberg-runtime.mjs';
import { javaProblem, python, root } from './spark-env.js';

const probeScript = join(root, 'spark', 'tests', 'iceberg_probe.py');

/** A column as Spark sees it: `type` in Spark SQL's words (`bigint`, `decimal(38,18)`, `array<string>`). */
export interface SparkColumn {
  name: string;
  type: string;
  nullable: boolean;
}

/** A row as the probe writes it: longs, decimals and timestamps (ISO-8601, microseconds, `Z`) as strings. */
export type SparkIcebergRow = Record<string, unknown>;

export interface SparkIcebergSnapshot {
  snapshotId: string;
  parentId: string | null;
  sequenceNumber: number;
  timestampMillis: number;
  operation: string;
  summary: Record<string, string>;
  manifestList: string;
}

/** A table's metadata as Iceberg's Java library (1.10.0) reads it. */
export interface SparkIcebergTable {
  metadataLocation: string;
  formatVersion: number;
  currentSnapshotId: string | null;
  /** Iceberg's schema JSON (`{ type: 'struct', 'schema-id', fields: [{ id, name, required, type }] }`). */
  schema: { type: 'struct'; 'schema-id': number; fields: Record<string, unknown>[] };
  partitionSpec: { name: string; transform: string; source: string; fieldId: number }[];
  /** Oldest first. */
  snapshots: SparkIcebergSnapshot[];
  properties: Record<string, string>;
}

export interface SparkIcebergRead extends SparkIcebergTable {
  /** Spark's schema of what it read. */
  readSchema: SparkColumn[];
  rows: SparkIcebergRow[];
}

export interface SparkSqlResult {
  schema: SparkColumn[];
  rows: SparkIcebergRow[];
}

/** `path`: the table's folder, absolute (`<path>/metadata/vN.metadata.json`, `version-hint.text`). */
export interface SparkReadCommand {
  op: 'read';
  path: string;
  /** Time travel: a snapshot id, or the snapshot current at a time (epoch milliseconds). */
  snapshotId?: string | null;
  asOfMillis?: number | null;
  orderBy?: string[];
}

export interface SparkWriteCommand {
  op: 'write';
  path: string;
  /** Spark SQL columns, to create the table when it does not exist (format version 2). */
  schema?: string;
  /** Spark SQL transforms, as in `PARTITIONED BY`: `hours(timestamp)`, `days(ts)`, `type`. */
  partitionBy?: string[];
  properties?: Record<string, string>;
  rows: SparkIcebergRow[];
  /** `append` (default), `overwrite` (the whole table) or `overwritePartitions` (dynamic). */
  mode?: 'append' | 'overwrite' | 'overwritePartitions';
}

/** Any statement; `{table}`, `{catalog}` and `{name}` name the table at `path`. */
export interface SparkSqlCommand {
  op: 'sql';
  path: string;
  sql: string;
}

export interface SparkDescribeCommand {
  op: 'describe';
  path: string;
}

export type SparkIcebergCommand =
  | SparkReadCommand
  | SparkWriteCommand
  | SparkSqlCommand
  | SparkDescribeCommand;

export type SparkIcebergResult<C extends SparkIcebergCommand> = C extends SparkReadCommand
  ? SparkIcebergRead
  : C extends SparkSqlCommand
    ? SparkSqlResult
    : SparkIcebergTable;

/** A command the probe could not run: Spark's or Iceberg's error, in its words. */
export class SparkIcebergCommandError extends Error {
  override readonly name = 'SparkIcebergCommandError';
  constructor(
    message: string,
    readonly type: string,
    readonly command: SparkIcebergCommand,
  ) {
    super(message);
  }
}

/**
 * Why Spark with Iceberg cannot run here, or undefined: a test asserts it is undefined, so a
 * machine without Java 17, the venv or the jar fails with the reason instead of skipping.
 */
export function sparkIcebergProblem(): string | undefined {
  const java = javaProblem();
  if (java) return java;
  if (!existsSync(python)) return `${python} is missing: run node scripts/python-env.mjs`;
  if (!(icebergRuntimeJar as () => string | undefined)()) {
    return `${icebergRuntimeArtifact as string} is not in the local Maven repository: run node scripts/iceberg-runtime.mjs (needs mvn)`;
  }
  return undefined;
}

interface Pending {
  command: SparkIcebergCommand;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** One local Spark session with Iceberg; commands run one after the other. */
export class SparkIceberg {
  private readonly pending: Pending[] = [];
  private stderr = '';
  private exited: Error | undefined;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    /** `3.5.6`, `1.10.0`, and how long the session took to start, in milliseconds. */
    readonly sparkVersion: string,
    readonly icebergVersion: string,
    readonly startMillis: number,
  ) {}

  /** Starts Spark (10-15 s); fails with {@link sparkIcebergProblem}'s reason when it cannot. */
  static async start(): Promise<SparkIceberg> {
    const problem = sparkIcebergProblem();
    if (problem) throw new Error(problem);
    const jar = (icebergRuntimeJar as () => string)();
    const child = spawn(python, [probeScript, '--jar', jar], {
      cwd: root,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    let stderr = '';
    const keep = (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    };
    child.stderr.on('data', keep);
    const lines = createInterface({ input: child.stdout });
    const ready = await new Promise<{ sparkVersion: string; icebergVersion: string; startMillis: number }>(
      (resolve, reject) => {
        const onExit = (code: number | null) =>
          reject(new Error(`the Spark probe exited with ${code} before it was ready:\n${stderr}`));
        child.once('exit', onExit);
        child.once('error', reject);
        lines.once('line', (line) => {
          child.off('exit', onExit);
          resolve(JSON.parse(line) as { sparkVersion: string; icebergVersion: string; startMillis: number });
        });
      },
    );
    const session = new SparkIceberg(child, ready.sparkVersion, ready.icebergVersion, ready.startMillis);
    child.stderr.off('data', keep);
    session.stderr = stderr;
    child.stderr.on('data', (chunk: Buffer) => {
      session.stderr = (session.stderr + chunk.toString()).slice(-20_000);
    });
    lines.on('line', (line) => session.answer(line));
    child.once('exit', (code) =>
      session.fail(new Error(`the Spark probe exited with ${code}:\n${session.stderr}`)),
    );
    return session;
  }

  /** Runs one command; rejects with {@link SparkIcebergCommandError} when Spark or Iceberg refuses it. */
  run<C extends SparkIcebergCommand>(command: C): Promise<SparkIcebergResult<C>> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.pending.push({ command, resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  read(path: string, options: Omit<SparkReadCommand, 'op' | 'path'> = {}): Promise<SparkIcebergRead> {
    return this.run({ op: 'read', path, ...options });
  }

  write(path: string, command: Omit<SparkWriteCommand, 'op' | 'path'>): Promise<SparkIcebergTable> {
    return this.run({ op: 'write', path, ...command });
  }

  sql(path: string, sql: string): Promise<SparkSqlResult> {
    return this.run({ op: 'sql', path, sql });
  }

  /** Stops Spark (closing stdin ends the probe's loop) and waits for the process. */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private answer(line: string): void {
    const next = this.pending.shift();
    if (!next) return;
    const message = JSON.parse(line) as
      | { ok: true; result: unknown }
      | { ok: false; error: { type: string; message: string } };
    if (message.ok) next.resolve(message.result);
    else next.reject(new SparkIcebergCommandError(message.error.message, message.error.type, next.command));
  }

  private fail(error: Error): void {
    this.exited = error;
    for (const pending of this.pending.splice(0)) pending.reject(error);
  }
}

/** Starts Spark, runs the commands in order, stops it: the results, in the same order. */
export async function runSparkIceberg(commands: SparkIcebergCommand[]): Promise<unknown[]> {
  const spark = await SparkIceberg.start();
  try {
    const results: unknown[] = [];
    for (const command of commands) results.push(await spark.run(command));
    return results;
  } finally {
    await spark.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A table Spark writes, for the tests that read it (Spark itself, pyiceberg, the lake's reader).

/** Its columns: a long id, a timestamptz partitioned by hour, a decimal, a list of strings, a nullable string. */
export const SPARK_TABLE_SCHEMA =
  'id bigint not null, timestamp timestamp not null, amount decimal(38,18), tags array<string>, note string';
export const SPARK_TABLE_PARTITION_BY = ['hours(timestamp)'];

/** Two appends: the rows of each, as the probe reads them back (by id). */
export const SPARK_TABLE_BATCHES: SparkIcebergRow[][] = [
  [
    {
      id: '1',
      timestamp: '2026-11-23T10:15:00.123456Z',
      amount: '12345678901234567890.123456789012345678',
      tags: ['a', 'b'],
      note: 'first',
    },
    {
      id: '2',
      timestamp: '2026-11-23T10:59:59.999999Z',
      amount: '-0.000000000000000001',
      tags: [],
      note: null,
    },
    // Before the epoch: hour -1, a negative partition value.
    { id: '3', timestamp: '1969-12-31T23:59:59.999999Z', amount: null, tags: null, note: 'café ☕' },
  ],
  [
    {
      id: '9007199254740993',
      timestamp: '2026-11-23T11:00:00.000000Z',
      amount: '0.500000000000000000',
      tags: ['x', null],
      note: null,
    },
    {
      id: '4',
      timestamp: '2026-11-23T10:30:00.000000Z',
      amount: '7.000000000000000000',
      tags: ['c'],
      note: 'same hour as 1',
    },
  ],
];

export interface SparkWrittenTable {
  path: string;
  /** The table after both appends. */
  table: SparkIcebergTable;
  /** Each append's snapshot id, and the rows the table holds at it (sorted by id, as strings). */
  snapshots: { snapshotId: string; rows: SparkIcebergRow[] }[];
}

const byId = (a: SparkIcebergRow, b: SparkIcebergRow) => {
  const x = BigInt(a.id as string);
  const y = BigInt(b.id as string);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The rows of {@link SPARK_TABLE_BATCHES} up to batch `index` (inclusive), sorted by id as numbers. */
export function sparkTableRows(index: number): SparkIcebergRow[] {
  return SPARK_TABLE_BATCHES.slice(0, index + 1)
    .flat()
    .sort(byId);
}

/**
 * Spark writes the table at `path` (a folder that does not exist yet): created with
 * {@link SPARK_TABLE_SCHEMA}, partitioned by `hours(timestamp)`, then one append per batch of
 * {@link SPARK_TABLE_BATCHES}. Returns each snapshot with the rows it holds.
 */
export async function writeSparkTable(spark: SparkIceberg, path: string): Promise<SparkWrittenTable> {
  const snapshots: SparkWrittenTable['snapshots'] = [];
  let table: SparkIcebergTable | undefined;
  for (const [index, rows] of SPARK_TABLE_BATCHES.entries()) {
    table = await spark.write(path, {
      schema: SPARK_TABLE_SCHEMA,
      partitionBy: SPARK_TABLE_PARTITION_BY,
      rows,
      mode: 'append',
    });
    if (table.currentSnapshotId === null) throw new Error(`Spark's append to ${path} made no snapshot`);
    snapshots.push({ snapshotId: table.currentSnapshotId, rows: sparkTableRows(index) });
  }
  return { path, table: table as SparkIcebergTable, snapshots };
}
