import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { defineSchema, type Fields, field, normalizeDecimal, type Schema } from '@tributary/core';
import {
  byField,
  byHour,
  compact,
  expireSnapshots,
  LocalStorage,
  type PartitionSpec,
  readDataset,
  readIceberg,
  removeOrphanFiles,
  StorageCatalog,
  scanIceberg,
  writeDataset,
} from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// pyiceberg (0.12.0, spark/.venv) as the outside reader of the lake's Iceberg tables, and as a
// writer whose table the lake reads. Python starts twice for the whole file: once to write its
// table, once to answer every read check (fixtures/iceberg/pyiceberg_checks.py).

const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const CHECKS = resolve(here, 'fixtures/iceberg/pyiceberg_checks.py');

const schemaV1 = defineSchema({
  id: field.string(),
  type: field.string(),
  value: field.double(),
  level: field.int32(),
  seq: field.int64(),
  amount: field.decimal(38, 18).nullable(),
  day: field.date(),
  timestamp: field.timestamp(),
  tags: field.list(field.string()),
  note: field.string().nullable(),
});
// The schema evolution step adds a nullable column.
const schemaV2 = defineSchema({ ...schemaV1.fields, extra: field.string().nullable() });
type Row = Record<string, unknown>;
/** A row as both sides print it: integers and timestamps (epoch µs) as text, decimals at their scale. */
type NRow = Record<string, unknown>;

const KINDS: Record<string, string> = Object.fromEntries(
  schemaV2.columns.map((c) => [c.name, c.def.kind === 'list' ? 'list' : c.def.kind]),
);

function normalize(row: Row): NRow {
  const out: NRow = {};
  for (const [name, v] of Object.entries(row)) {
    const kind = KINDS[name];
    if (v === null || v === undefined) out[name] = null;
    else if (kind === 'int32' || kind === 'int64') out[name] = String(v);
    else if (kind === 'timestamp') out[name] = String(BigInt((v as Date).getTime()) * 1000n);
    else if (kind === 'decimal') out[name] = normalizeDecimal(v as string, 38, 18);
    else out[name] = v;
  }
  return out;
}

const sortById = (rows: NRow[]) => [...rows].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
const normalizeAll = (rows: Row[]) => sortById(rows.map(normalize));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const NOTE_PREFIX = ['', 'Ä', 'Ö', 'Ü', 'É', 'Ñ', 'Ø'];
const PAST = new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999));
const FUTURE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));

/** Rows of one step: ids `s<step>-nnn`, every type, nulls, empty lists, long non-ASCII strings. */
function rowsOf(
  step: number,
  count: number,
  options: { hours: number[]; types?: string[]; extra?: boolean; edges?: boolean },
): Row[] {
  const types = options.types ?? ['power_factor', 'temperature'];
  const days = ['2026-11-23', '1969-12-31', '1900-01-01', '9999-12-31', '1970-01-01'];
  const letter = NOTE_PREFIX[step] as string;
  const rows: Row[] = Array.from({ length: count }, (_, i) => ({
    id: `s${step}-${String(i).padStart(3, '0')}`,
    type: types[i % types.length],
    value: step * 100 + i / 8,
    level: (i % 2 ? -1 : 1) * (i * 1000 + step),
    seq:
      i === 0
        ? 2n ** 63n - 1n - BigInt(step)
        : i === 1
          ? -(2n ** 63n) + BigInt(step)
          : BigInt(i * step) * 1_000_000_007n,
    amount:
      i % 3 === 0
        ? null
        : i % 3 === 1
          ? `${step}${i}.000000000000000001`
          : '-12345678901234567890.123456789012345678',
    day: days[i % days.length],
    timestamp: new Date(
      Date.UTC(2026, 10, 23, options.hours[i % options.hours.length] as number, i % 60, step, 123),
    ),
    tags: i % 3 === 0 ? [] : ['alpha', `ü-${i}`, '✓'],
    // Longer than the 16 characters bounds keep; one of them cut inside a run of surrogate pairs.
    note:
      i % 4 === 0
        ? null
        : i % 4 === 1
          ? `${letter}${'😀'.repeat(20)}`
          : `${letter} Straßenbahn-Haltestelle ${i}`,
    ...(options.extra ? { extra: i % 2 ? `extra-${i}` : null } : {}),
  }));
  if (options.edges) {
    const edge = (id: string, timestamp: Date, day: string): Row => ({
      id,
      type: types[0],
      value: -0.5,
      level: -(2 ** 31),
      seq: -1n,
      amount: null,
      day,
      timestamp,
      tags: [],
      note: null,
    });
    rows.push(edge(`s${step}-past`, PAST, '1969-12-31'), edge(`s${step}-future`, FUTURE, '9999-12-31'));
  }
  return rows;
}

interface Case {
  name: string;
  table: string;
  partitionBy: PartitionSpec[];
  /** The partition a row belongs to, as the model of the table sees it. */
  partitionOf: (row: Row) => string;
  compactPartition: string;
  spec: { name: string; transform: string; source: string; fieldId: number }[];
  /** Filters on the partition source, the partition whose files alone can match each, and its matching rows. */
  partitionFilters: { filter: string; partition: [string, string]; rows: number }[];
}

const CASES: Case[] = [
  {
    name: 'partitioned byHour(timestamp)',
    table: 'hourly',
    partitionBy: byHour('timestamp'),
    partitionOf: (row) => String(Math.floor((row.timestamp as Date).getTime() / 3_600_000)),
    compactPartition: 'timestamp_hour=2026-11-23-10/',
    spec: [{ name: 'timestamp_hour', transform: 'hour', source: 'timestamp', fieldId: 1000 }],
    partitionFilters: [
      {
        filter: "timestamp >= '2026-11-23T11:00:00+00:00' AND timestamp < '2026-11-23T12:00:00+00:00'",
        partition: ['timestamp_hour', '2026-11-23-11'],
        rows: 11,
      },
      // Hour -1 and hour 2562047: the transform of times before 1970 and far in the future.
      {
        filter: "timestamp < '1970-01-01T00:00:00+00:00'",
        partition: ['timestamp_hour', '1969-12-31-23'],
        rows: 1,
      },
      {
        filter: "timestamp >= '9999-12-31T23:00:00+00:00'",
        partition: ['timestamp_hour', '9999-12-31-23'],
        rows: 1,
      },
    ],
  },
  {
    name: "partitioned byField('type')",
    table: 'by_type',
    partitionBy: [byField('type')],
    partitionOf: (row) => String(row.type),
    compactPartition: 'type=power_factor/',
    spec: [{ name: 'type', transform: 'identity', source: 'type', fieldId: 1000 }],
    partitionFilters: [{ filter: "type = 'temperature'", partition: ['type', 'temperature'], rows: 11 }],
  },
  {
    name: 'unpartitioned',
    table: 'flat',
    partitionBy: [],
    partitionFilters: [],
    partitionOf: () => '',
    compactPartition: '',
    spec: [],
  },
];

const STEPS = [
  'append 1',
  'append 2',
  'overwrite_partitions',
  'compact',
  'schema evolution',
  'overwrite',
  'expireSnapshots',
  'removeOrphanFiles',
] as const;
type StepName = (typeof STEPS)[number];
const COMMITS: { step: StepName; operation: string }[] = [
  { step: 'append 1', operation: 'append' },
  { step: 'append 2', operation: 'append' },
  { step: 'overwrite_partitions', operation: 'overwrite' },
  { step: 'compact', operation: 'replace' },
  { step: 'schema evolution', operation: 'append' },
  { step: 'overwrite', operation: 'overwrite' },
];

/** What one step left, as tributary and DuckDB see it, and the model's rows. */
interface StepRecord {
  metadata: string;
  currentSnapshotId: string;
  /** The snapshot the step committed, and the rows it wrote (or rewrote). */
  committed?: { snapshotId: string; rows: number; removed: string[] };
  schema: 1 | 2;
  expected: NRow[];
  tributary: NRow[];
  duck: NRow[];
  /** Every snapshot of the table read by tributary by id (time travel). */
  tributaryTravel: Record<string, NRow[]>;
  /** The snapshot current at each snapshot's time, read by tributary with `asOf`. */
  tributaryAsOf: Record<string, NRow[]>;
  /** The current snapshot's data files as tributary plans them. */
  files: { key: string; partition: Record<string, string | null> }[];
}

interface PyField {
  id: number;
  name: string;
  type: string;
  required: boolean;
  elementRequired?: boolean;
}
interface PySnapshot {
  id: string;
  parent: string | null;
  schemaId: number;
  operation: string;
  summary: Record<string, string>;
  files: string[];
  rows: NRow[];
}
interface PyTable {
  error?: string;
  trace?: string;
  metadata?: string;
  schema: PyField[];
  spec: { name: string; transform: string; source: string; fieldId: number }[];
  currentSnapshotId: string | null;
  snapshots: PySnapshot[];
  rows: NRow[];
  files: string[];
  plans: { filter: string; files: string[]; rows: number }[];
}

function runChecks(requests: unknown[]): Promise<PyTable[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, [CHECKS], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`pyiceberg_checks.py exited with ${code}: ${err}`));
      else resolvePromise(JSON.parse(out) as PyTable[]);
    });
    child.stdin.end(JSON.stringify(requests));
  });
}

function answered(table: PyTable | undefined): PyTable {
  if (!table) throw new Error('pyiceberg gave no answer');
  if (table.error) throw new Error(`pyiceberg failed: ${table.error}\n${table.trace ?? ''}`);
  return table;
}

const expectedSchema = (version: 1 | 2): PyField[] => [
  { id: 1, name: 'id', type: 'string', required: true },
  { id: 2, name: 'type', type: 'string', required: true },
  { id: 3, name: 'value', type: 'double', required: true },
  { id: 4, name: 'level', type: 'int', required: true },
  { id: 5, name: 'seq', type: 'long', required: true },
  { id: 6, name: 'amount', type: 'decimal(38, 18)', required: false },
  { id: 7, name: 'day', type: 'date', required: true },
  { id: 8, name: 'timestamp', type: 'timestamptz', required: true },
  { id: 9, name: 'tags', type: 'list<string>', required: true, elementRequired: true },
  { id: 11, name: 'note', type: 'string', required: false },
  ...(version === 2 ? [{ id: 12, name: 'extra', type: 'string', required: false }] : []),
];

let root: string;
let storage: LocalStorage;
let duck: Awaited<ReturnType<DuckDBInstance['connect']>>;
let instance: DuckDBInstance;
const records = new Map<string, Map<StepName, StepRecord>>();
const answers = new Map<string, Map<StepName, PyTable>>();
/** Per case: the model's rows of every snapshot the table ever had. */
const bySnapshot = new Map<string, Map<string, NRow[]>>();
/** Per case: the orphans planted before removeOrphanFiles, and what it returned. */
const orphans = new Map<string, { old: string[]; young: string[]; removed: string[] }>();
/** Per case: the data files on disk after expireSnapshots. */
const afterExpiry = new Map<string, { onDisk: string[]; expired: string[]; deleted: string[] }>();
/** pyiceberg's tables: with its default codec (zstd), and with snappy. */
let pyDefault: PyTable;
let pyWritten: PyTable;
/** Per case: the model's rows after the last commit. */
const models = new Map<string, Row[]>();

async function duckRows(files: string[], schema: 1 | 2): Promise<NRow[]> {
  if (files.length === 0) return [];
  const list = files.map((f) => `'${join(root, f).replaceAll("'", "''")}'`).join(', ');
  const reader = await duck.runAndReadAll(`
    SELECT id, type, value, level::VARCHAR AS level, seq::VARCHAR AS seq, amount::VARCHAR AS amount,
      day::VARCHAR AS day, epoch_us("timestamp")::VARCHAR AS "timestamp", tags, note
      ${schema === 2 ? ', extra' : ''}
    FROM read_parquet([${list}], union_by_name = true, hive_partitioning = false)`);
  return sortById(
    reader.getRowObjectsJson().map((r) => ({
      ...r,
      amount: r.amount === null ? null : normalizeDecimal(String(r.amount), 38, 18),
    })) as NRow[],
  );
}

async function filesUnder(folder: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.push(relative(root, path).split('\\').join('/'));
    }
  }
  await walk(join(root, folder));
  return out.sort();
}

/** Run the eight steps on one table, recording after each what tributary and DuckDB read. */
async function runSteps(c: Case, phase: 'commits' | 'maintenance'): Promise<void> {
  if (!records.has(c.table)) records.set(c.table, new Map());
  if (!bySnapshot.has(c.table)) bySnapshot.set(c.table, new Map());
  const steps = records.get(c.table) as Map<StepName, StepRecord>;
  const snapshots = bySnapshot.get(c.table) as Map<string, NRow[]>;
  const catalog = new StorageCatalog(storage);
  let model: Row[] = phase === 'commits' ? [] : (models.get(c.table) ?? []);
  let schemaVersion: 1 | 2 = phase === 'commits' ? 1 : 2;

  const record = async (name: StepName, committed?: StepRecord['committed']) => {
    const loaded = await catalog.load(c.table);
    if (!loaded) throw new Error(`${c.table} has no metadata after ${name}`);
    const schema: Schema<Fields> = schemaVersion === 2 ? schemaV2 : schemaV1;
    const current = String(loaded.metadata['current-snapshot-id']);
    const expected = normalizeAll(model.map((r) => (schemaVersion === 2 ? { extra: null, ...r } : r)));
    if (committed) snapshots.set(committed.snapshotId, expected);
    const scan = await scanIceberg({ storage, table: c.table });
    const tributaryTravel: Record<string, NRow[]> = {};
    const tributaryAsOf: Record<string, NRow[]> = {};
    for (const s of loaded.metadata.snapshots) {
      const id = String(s['snapshot-id']);
      // By id with the snapshot's own schema (from the metadata); as of its time with the core schema of then.
      tributaryTravel[id] = normalizeAll(
        await collect(readIceberg({ storage, table: c.table, snapshotId: id })),
      );
      const then: Schema<Fields> = s['schema-id'] === 0 ? schemaV1 : schemaV2;
      tributaryAsOf[id] = normalizeAll(
        await collect(readDataset({ storage, table: c.table, schema: then, asOf: s['timestamp-ms'] })),
      );
    }
    steps.set(name, {
      metadata: loaded.metadataLocation,
      currentSnapshotId: current,
      ...(committed ? { committed } : {}),
      schema: schemaVersion,
      expected,
      tributary: normalizeAll(
        await collect(readDataset({ storage, table: c.table, schema, tableFormat: 'iceberg' })),
      ),
      duck: await duckRows(
        scan.files.map((f) => f.key),
        schemaVersion,
      ),
      tributaryTravel,
      tributaryAsOf,
      files: scan.files.map((f) => ({ key: f.key, partition: f.partition })),
    });
  };
  const write = async (
    name: StepName,
    rows: Row[],
    mode: 'append' | 'overwrite' | 'overwrite_partitions',
    maxRowsPerFile?: number,
  ) => {
    const schema: Schema<Fields> = schemaVersion === 2 ? schemaV2 : schemaV1;
    const result = await writeDataset(rows, {
      storage,
      table: c.table,
      schema,
      partitionBy: c.partitionBy,
      mode,
      tableFormat: 'iceberg',
      ...(maxRowsPerFile ? { maxRowsPerFile } : {}),
    });
    if (mode === 'append') model = [...model, ...rows];
    else if (mode === 'overwrite') model = [...rows];
    else {
      const touched = new Set(rows.map(c.partitionOf));
      model = [...model.filter((r) => !touched.has(c.partitionOf(r))), ...rows];
    }
    await record(name, {
      snapshotId: result.snapshotId as string,
      rows: rows.length,
      removed: result.removed,
    });
  };

  if (phase === 'commits') {
    await write('append 1', rowsOf(1, 12, { hours: [10, 11], edges: true }), 'append');
    await write('append 2', rowsOf(2, 10, { hours: [10, 11] }), 'append');
    await write(
      'overwrite_partitions',
      rowsOf(3, 6, { hours: [11], types: ['temperature'] }),
      'overwrite_partitions',
      3,
    );
    const compactedRows = model.filter(
      (r) =>
        c.compactPartition === '' ||
        c.partitionOf(r) === c.partitionOf(rowsOf(1, 1, { hours: [10], types: ['power_factor'] })[0] as Row),
    ).length;
    const compacted = await compact({
      storage,
      table: c.table,
      schema: schemaV1,
      partition: c.compactPartition,
      tableFormat: 'iceberg',
    });
    await record('compact', {
      snapshotId: compacted.snapshotId as string,
      rows: compactedRows,
      removed: compacted.removed,
    });
    schemaVersion = 2;
    await write('schema evolution', rowsOf(5, 5, { hours: [12], extra: true }), 'append');
    await write('overwrite', rowsOf(6, 8, { hours: [12, 13], extra: true }), 'overwrite');
    models.set(c.table, model);
    return;
  }

  const expiry = await expireSnapshots({ storage, table: c.table, olderThan: new Date(), retainLast: 2 });
  afterExpiry.set(c.table, {
    onDisk: await filesUnder(`${c.table}/data`),
    expired: expiry.expired,
    deleted: expiry.deletedFiles,
  });
  await record('expireSnapshots');

  // Crash leftovers: a data file and a manifest two days old, and a data file a write may still own.
  const live = (await scanIceberg({ storage, table: c.table })).files[0]?.key as string;
  const folder = live.slice(0, live.lastIndexOf('/') + 1);
  const old = [`${folder}99999-orphan.parquet`, `${c.table}/metadata/00000000-orphan-m0.avro`];
  const young = [`${folder}99998-running.parquet`];
  for (const key of [...old, ...young]) {
    await mkdir(join(root, key, '..'), { recursive: true });
    await copyFile(join(root, live), join(root, key));
  }
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
  for (const key of old) await utimes(join(root, key), twoDaysAgo, twoDaysAgo);
  const removed = await removeOrphanFiles({
    storage,
    table: c.table,
    olderThan: new Date(Date.now() - 3_600_000),
  });
  orphans.set(c.table, { old, young, removed });
  await record('removeOrphanFiles');
}

function readRequest(c: Case, step: StepName, metadata: string) {
  const filters =
    step === 'append 2' ? ["id >= 's2'", "note < 'Ö'", ...c.partitionFilters.map((f) => f.filter)] : [];
  return { op: 'read', metadata, filters };
}

/** pyiceberg's reads of the steps recorded so far (and not read yet), in one Python run. */
async function readSteps(steps: readonly StepName[], extra: unknown[] = []): Promise<PyTable[]> {
  const requests: unknown[] = [...extra];
  const order: [string, StepName][] = [];
  for (const c of CASES) {
    for (const step of steps) {
      const rec = records.get(c.table)?.get(step);
      if (!rec) continue;
      requests.push(readRequest(c, step, rec.metadata));
      order.push([c.table, step]);
    }
  }
  const results = await runChecks(requests);
  order.forEach(([table, step], i) => {
    if (!answers.has(table)) answers.set(table, new Map());
    answers.get(table)?.set(step, results[extra.length + i] as PyTable);
  });
  return results.slice(0, extra.length);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tributary-iceberg-'));
  storage = new LocalStorage({ root: join(root) });
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  await duck.run("SET TimeZone = 'UTC'");
  const warehouse = join(root, 'pyiceberg');
  await mkdir(warehouse);
  for (const c of CASES) await runSteps(c, 'commits');
  // Expiry deletes the files of earlier versions: pyiceberg reads those before it runs.
  const written = await readSteps(STEPS.slice(0, 6), [
    { op: 'write', warehouse, table: 'events' },
    {
      op: 'write',
      warehouse,
      table: 'events_snappy',
      properties: { 'write.parquet.compression-codec': 'snappy' },
    },
  ]);
  pyDefault = answered(written[0]);
  pyWritten = answered(written[1]);
  for (const c of CASES) await runSteps(c, 'maintenance');
  await readSteps(STEPS.slice(6));
}, 240_000);

afterAll(async () => {
  duck?.closeSync();
  instance?.closeSync();
  if (root) await rm(root, { recursive: true, force: true });
});

const stepOf = (c: Case, step: StepName) => {
  const rec = records.get(c.table)?.get(step);
  if (!rec) throw new Error(`no record of ${step} on ${c.table}`);
  return { rec, py: answered(answers.get(c.table)?.get(step)) };
};
const url = (key: string) => `${storage.url}/${key}`;

describe.each(CASES)('pyiceberg reads the lake’s Iceberg table ($name)', (c) => {
  it.each(STEPS)(
    'after %s: the rows tributary reads (and the model), the schema and the partition spec',
    (step) => {
      const { rec, py } = stepOf(c, step);

      expect(rec.tributary).toEqual(rec.expected);
      expect(py.rows).toEqual(rec.tributary);
      expect(py.schema).toEqual(expectedSchema(rec.schema));
      expect(py.spec).toEqual(c.spec);
      expect(py.currentSnapshotId).toBe(rec.currentSnapshotId);
    },
  );

  it.each(STEPS)('after %s: time travel to every snapshot still in the table', (step) => {
    const { rec, py } = stepOf(c, step);
    const expected = bySnapshot.get(c.table) as Map<string, NRow[]>;

    expect(py.snapshots.map((s) => s.id).sort()).toEqual(Object.keys(rec.tributaryTravel).sort());
    for (const s of py.snapshots) {
      expect(s.rows, `pyiceberg, snapshot ${s.id}`).toEqual(expected.get(s.id));
      expect(rec.tributaryTravel[s.id], `tributary, snapshot ${s.id}`).toEqual(expected.get(s.id));
      expect(rec.tributaryAsOf[s.id], `tributary asOf, snapshot ${s.id}`).toEqual(expected.get(s.id));
    }
  });

  it.each(STEPS)('after %s: DuckDB reads the current snapshot’s files as the same rows', (step) => {
    const { rec } = stepOf(c, step);

    expect(rec.duck).toEqual(rec.expected);
  });

  it.each(COMMITS)('the $step snapshot’s summary, as pyiceberg reports it', ({ step, operation }) => {
    const { rec, py } = stepOf(c, step);
    const previous = STEPS[STEPS.indexOf(step) - 1];
    const before = previous ? stepOf(c, previous).py.files : [];
    const committed = rec.committed as NonNullable<StepRecord['committed']>;
    const snapshot = py.snapshots.find((s) => s.id === committed.snapshotId);

    expect(snapshot?.operation).toBe(operation);
    expect(snapshot?.summary['added-records']).toBe(String(committed.rows));
    expect(snapshot?.summary['deleted-data-files']).toBe(
      String(before.filter((f) => !py.files.includes(f)).length),
    );
    expect(snapshot?.summary['added-data-files']).toBe(
      String(py.files.filter((f) => !before.includes(f)).length),
    );
    expect(snapshot?.summary['total-records']).toBe(String(rec.expected.length));
    expect(committed.removed.map(url).sort()).toEqual(before.filter((f) => !py.files.includes(f)).sort());
    if (step === 'overwrite_partitions') expect(snapshot?.summary['replace-partitions']).toBe('true');
  });

  it('pyiceberg prunes by string bounds: ids, and notes longer than 16 characters that are not ASCII', () => {
    const { py } = stepOf(c, 'append 2');
    const ofStep1 = stepOf(c, 'append 1').py.files;
    const ofStep2 = py.files.filter((f) => !ofStep1.includes(f));

    const byId = py.plans.find((p) => p.filter === "id >= 's2'");
    const byNote = py.plans.find((p) => p.filter === "note < 'Ö'");
    expect(byId?.files).toEqual(ofStep2);
    expect(byId?.rows).toBe(10);
    // The files of the 1969 and 9999 hours hold only null notes: their null counts prune them too.
    expect(byNote?.files).toEqual(ofStep1.filter((f) => !/timestamp_hour=(1969|9999)-/.test(f)));
    // Step 1's notes that are not null: all start with Ä, one in four is null.
    expect(byNote?.rows).toBe(9);
  });

  // Only the partitioned tables have a partition source to filter on.
  for (const { filter, partition, rows } of c.partitionFilters) {
    it(`pyiceberg prunes by a filter on the partition source: ${filter}`, () => {
      const { rec, py } = stepOf(c, 'append 2');
      const [name, value] = partition;
      const inPartition = rec.files.filter((f) => f.partition[name] === value).map((f) => url(f.key));

      const plan = py.plans.find((p) => p.filter === filter);
      expect(inPartition.length).toBeGreaterThan(0);
      expect(plan?.files).toEqual(inPartition.sort());
      expect(plan?.files.length).toBeLessThan(py.files.length);
      expect(plan?.rows).toBe(rows);
    });
  }

  it('keeps dates and timestamps before 1970 and far in the future, empty lists, nulls and non-ASCII text', () => {
    const { py } = stepOf(c, 'append 1');

    expect(py.rows.find((r) => r.id === 's1-past')).toMatchObject({
      timestamp: '-1000',
      day: '1969-12-31',
      tags: [],
      note: null,
      amount: null,
      level: String(-(2 ** 31)),
    });
    expect(py.rows.find((r) => r.id === 's1-future')).toMatchObject({
      timestamp: '253402300799999000',
      day: '9999-12-31',
    });
    expect(py.rows.find((r) => r.id === 's1-002')).toMatchObject({
      day: '1900-01-01',
      seq: String(2n * 1_000_000_007n),
      amount: '-12345678901234567890.123456789012345678',
      tags: ['alpha', 'ü-2', '✓'],
      note: 'Ä Straßenbahn-Haltestelle 2',
    });
    expect(py.rows.find((r) => r.id === 's1-001')).toMatchObject({
      seq: String(-(2n ** 63n) + 1n),
      note: `Ä${'😀'.repeat(20)}`,
    });
    expect(py.rows.find((r) => r.id === 's1-000')?.seq).toBe(String(2n ** 63n - 2n));
  });

  it('expireSnapshots (retainLast 2) keeps the last two snapshots and deletes only files no kept one reaches', () => {
    const { py } = stepOf(c, 'expireSnapshots');
    const before = stepOf(c, 'overwrite').py;
    const expiry = afterExpiry.get(c.table);
    const kept = before.snapshots.slice(-2).map((s) => s.id);
    const reachable = new Set(py.snapshots.flatMap((s) => s.files));

    expect(py.snapshots.map((s) => s.id)).toEqual(kept);
    expect(expiry?.expired.sort()).toEqual(
      before.snapshots
        .slice(0, -2)
        .map((s) => s.id)
        .sort(),
    );
    expect(expiry?.onDisk.map(url).sort()).toEqual([...reachable].sort());
    expect(expiry?.deleted.filter((k) => reachable.has(url(k)))).toEqual([]);
  });

  it('removeOrphanFiles removes old leftovers and keeps young ones and every file in use', async () => {
    const planted = orphans.get(c.table);
    const { py } = stepOf(c, 'removeOrphanFiles');
    const onDisk = await filesUnder(c.table);

    expect(planted?.removed.sort()).toEqual(planted?.old.sort());
    for (const key of planted?.young ?? []) expect(onDisk).toContain(key);
    for (const key of planted?.old ?? []) expect(onDisk).not.toContain(key);
    for (const file of py.snapshots.flatMap((s) => s.files)) expect(onDisk.map(url)).toContain(file);
  });
});

describe('the lake reads a table pyiceberg wrote (SqlCatalog, hour(ts), two appends)', () => {
  const tableOf = (written: PyTable = pyWritten) => {
    const location = written.metadata as string;
    const tableDir = fileURLToPath(location).split('/metadata/')[0] as string;
    const table = tableDir.slice(tableDir.lastIndexOf('/') + 1);
    return { location, tableDir, storage: new LocalStorage({ root: join(tableDir, '..') }), table };
  };
  /** The Hadoop layout's names next to pyiceberg's `<n>-<uuid>.metadata.json`: the lake's StorageCatalog reads these. */
  const addVersionHint = async (written: PyTable) => {
    const { location, tableDir } = tableOf(written);
    await writeFile(join(tableDir, 'metadata', 'v1.metadata.json'), await readFile(fileURLToPath(location)));
    await writeFile(join(tableDir, 'metadata', 'version-hint.text'), '1');
  };
  /** pyiceberg's rows as the lake reads them: a JS Date holds milliseconds, so microseconds are floored. */
  const toMillis = (rows: NRow[]) =>
    rows.map((r) => ({
      ...r,
      ts: String((BigInt(r.ts as string) / 1000n - (BigInt(r.ts as string) % 1000n < 0n ? 1n : 0n)) * 1000n),
    }));
  const normalizeEvents = (rows: Row[]) =>
    sortById(
      rows.map((r) => ({
        ...r,
        ts: String(BigInt((r.ts as Date).getTime()) * 1000n),
        count: String(r.count),
        price: r.price === null ? null : normalizeDecimal(r.price as string, 10, 2),
      })),
    );

  it('finds a table whose metadata is named <n>-<uuid>.metadata.json (pyiceberg’s SQL catalog), and a vN with version-hint.text once one names it', async () => {
    const { storage: events, table } = tableOf();
    const direct = await scanIceberg({ storage: events, table });
    expect(String(direct.snapshot?.['snapshot-id'])).toBe(pyWritten.currentSnapshotId);

    await addVersionHint(pyWritten);
    const scan = await scanIceberg({ storage: events, table });

    expect(String(scan.snapshot?.['snapshot-id'])).toBe(pyWritten.currentSnapshotId);
  });

  it('readIceberg reads the rows pyiceberg reads (timestamps floored to the millisecond, also before 1970), at each of its snapshots', async () => {
    const { storage: events, table } = tableOf();
    for (const s of pyWritten.snapshots) {
      const rows = await collect(readIceberg({ storage: events, table, snapshotId: s.id }));
      expect(normalizeEvents(rows), `snapshot ${s.id}`).toEqual(toMillis(s.rows));
    }
    expect(normalizeEvents(await collect(readIceberg({ storage: events, table })))).toEqual(
      toMillis(pyWritten.rows),
    );
  });

  it('readIceberg reads a table with pyiceberg’s default Parquet codec (zstd, as Spark’s Iceberg writes too)', async () => {
    await addVersionHint(pyDefault);
    const { storage: events, table } = tableOf(pyDefault);

    const rows = await collect(readIceberg({ storage: events, table }));

    expect(normalizeEvents(rows)).toEqual(toMillis(pyDefault.rows));
  });

  it('scanIceberg gives its schema and partition fields, and DuckDB reads its files as the same rows', async () => {
    const { storage: events, table, tableDir } = tableOf();
    const scan = await scanIceberg({ storage: events, table });
    const list = scan.files.map((f) => `'${join(tableDir, '..', f.key)}'`).join(', ');
    const reader = await duck.runAndReadAll(`
      SELECT id, epoch_us(ts)::VARCHAR AS ts, value, count::VARCHAR AS count, price::VARCHAR AS price,
        day::VARCHAR AS day, tags, ok
      FROM read_parquet([${list}], hive_partitioning = false)`);

    expect(scan.schema.fields.map((f) => f.name)).toEqual(pyWritten.schema.map((f) => f.name));
    expect([...new Set(scan.files.map((f) => f.partition.ts_hour))].sort()).toEqual([
      '1969-12-31-23',
      '2026-11-23-10',
      '2026-11-23-11',
    ]);
    expect(scan.files.reduce((n, f) => n + f.rows, 0)).toBe(pyWritten.rows.length);
    expect(sortById(reader.getRowObjectsJson() as NRow[])).toEqual(pyWritten.rows);
  });
});
