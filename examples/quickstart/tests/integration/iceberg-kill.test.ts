import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  COIN_DAILY_TABLE,
  coinDailySchema,
  cryptocurrencySchema,
  MARKET_DAILY_TABLE,
  marketDailySchema,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
  quoteSchema,
} from '@tributary/coinmarketcap';
import { type Fields, loadConfig, type Schema } from '@tributary/core';
import { type Lake, localLake, readDataset } from '@tributary/lake';
import { curatedHourlySchema, sensorErrorSchema, sensorRecordSchema } from '@tributary/sensors';
import { DuckDbEngine } from '@tributary/warehouse/duckdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The proof that a demo killed (SIGKILL, no chance to clean up) while it writes the processed
// sensors table never leaves a partial Iceberg table behind: outside readers (pyiceberg, and
// DuckDB over the snapshot's data files) see whole days at every snapshot, and a rerun on the
// same folder ends with exactly a clean run's tables.

const execFileAsync = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PYTHON = join(packageDir, '../../spark/.venv/bin/python');
const work = mkdtempSync(join(tmpdir(), 'tributary-iceberg-kill-'));
// The demo's own temporary files (the embedded PostgreSQL's data folder, tsx's cache) go here, so
// what a killed run cannot remove is removed with the test. PostgreSQL runs as `postgres` when the
// tests run as root: it must be able to enter the folder.
const demoTmp = join(work, 'tmp');
const cleanOut = join(work, 'clean');
const killedOut = join(work, 'killed');
// Yesterday (UTC): a finished day the demo replays, the same in every run of this file.
const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const demoArgs = ['--start', day, '--records', '3000', '--sensors', '2', '--seed', '7', '--snapshots', '3'];
const SENSORS_STAGE = '▸ sensors: raw → processed';

const TABLES = [
  { zone: 'processed', table: 'sensors', schema: sensorRecordSchema },
  { zone: 'processed', table: 'sensors_errors', schema: sensorErrorSchema },
  { zone: 'processed', table: PROCESSED_CRYPTOCURRENCY_TABLE, schema: cryptocurrencySchema },
  { zone: 'processed', table: PROCESSED_QUOTE_TABLE, schema: quoteSchema },
  { zone: 'curated', table: 'sensor_hourly', schema: curatedHourlySchema },
  { zone: 'curated', table: COIN_DAILY_TABLE, schema: coinDailySchema },
  { zone: 'curated', table: MARKET_DAILY_TABLE, schema: marketDailySchema },
] as const;

/** A sensor row as both outside readers give it: id, sensorId, type, value, unit, ISO timestamp. */
type SensorRow = [string, string, string, number, string, string];

const lakeOf = (out: string): Lake =>
  localLake(loadConfig({ TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: join(out, 'lake') }));

const json = (row: unknown) =>
  JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));

/** Every processed and curated table's rows, as sorted JSON lines, by `zone/table`. */
async function tablesOf(out: string): Promise<Record<string, string[]>> {
  const lake = lakeOf(out);
  const tables: Record<string, string[]> = {};
  for (const { zone, table, schema } of TABLES) {
    const rows: string[] = [];
    for await (const row of readDataset({ storage: lake[zone], table, schema: schema as Schema<Fields> })) {
      rows.push(json(row));
    }
    tables[`${zone}/${table}`] = rows.sort();
  }
  return tables;
}

const dayOf = (row: SensorRow) => row[5].slice(0, 10);

/** Rows grouped by UTC day, each day's rows as sorted JSON. */
function byDay(rows: readonly SensorRow[]): Map<string, string[]> {
  const days = new Map<string, string[]>();
  for (const row of rows) days.set(dayOf(row), [...(days.get(dayOf(row)) ?? []), json(row)]);
  for (const list of days.values()) list.sort();
  return days;
}

/**
 * What is wrong with `rows` as a table of whole days: each day it holds must hold exactly the
 * clean run's rows of that day, and no id twice. Empty when nothing is.
 */
function notWholeDays(rows: readonly SensorRow[], clean: Map<string, string[]>): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const row of rows) {
    if (ids.has(row[0])) problems.push(`id ${row[0]} twice`);
    ids.add(row[0]);
  }
  for (const [d, list] of byDay(rows)) {
    const expected = clean.get(d) ?? [];
    if (json(list) !== json(expected)) {
      const want = new Set(expected);
      const extra = list.filter((r) => !want.has(r)).length;
      problems.push(
        `${d}: ${list.length} rows (${extra} not the clean run's), the clean run has ${expected.length}`,
      );
    }
  }
  return problems;
}

// pyiceberg, from the table's current metadata version (see currentVersion): every snapshot's rows and
// data files, and the current snapshot.
const PYICEBERG = `
import json, sys
from pyiceberg.table import StaticTable
table = StaticTable.from_metadata(sys.argv[1])
def read(snapshot_id):
    scan = table.scan(snapshot_id=snapshot_id)
    files = sorted(task.file.file_path for task in scan.plan_files())
    rows = []
    for r in scan.to_arrow().to_pylist():
        ts = r['timestamp']
        iso = ts.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ts.microsecond // 1000)
        rows.append([r['id'], r['sensorId'], r['type'], r['value'], r['unit'], iso])
    return {'files': files, 'rows': rows}
current = table.current_snapshot()
print(json.dumps({
    'current': str(current.snapshot_id) if current else None,
    'snapshots': {str(s.snapshot_id): read(s.snapshot_id) for s in table.metadata.snapshots},
}))
`;

interface PyIcebergView {
  current: string | null;
  snapshots: Record<string, { files: string[]; rows: SensorRow[] }>;
}

/**
 * The table's current metadata version as a Hadoop-table reader finds it (Iceberg's Java
 * HadoopTableOperations, the lake's StorageCatalog): the hint, or the highest `vN.metadata.json`
 * when there is no hint, then any later version a commit wrote before it could update the hint
 * (a kill between the two). 0: no table.
 */
function currentVersion(tableDir: string): number {
  const hintFile = join(tableDir, 'metadata/version-hint.text');
  const numbers = metadataVersions(tableDir).map((f) => Number(/v(\d+)\.metadata\.json$/.exec(f)?.[1] ?? 0));
  let version = existsSync(hintFile)
    ? Number(readFileSync(hintFile, 'utf8').trim())
    : Math.max(0, ...numbers);
  while (numbers.includes(version + 1)) version++;
  return version;
}

async function readWithPyIceberg(tableDir: string): Promise<PyIcebergView> {
  const version = currentVersion(tableDir);
  const { stdout } = await execFileAsync(
    PYTHON,
    ['-c', PYICEBERG, `file://${tableDir}/metadata/v${version}.metadata.json`],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as PyIcebergView;
}

/** DuckDB's rows of `sensors` at a snapshot (the current one without `snapshotId`). */
async function readWithDuckDb(
  engine: DuckDbEngine,
  lake: Lake,
  snapshotId?: string,
): Promise<{ snapshotId: string | undefined; rows: SensorRow[] }> {
  const registered = await engine.registerIcebergTable({
    storage: lake.processed,
    table: 'sensors',
    name: 'killed_sensors',
    ...(snapshotId === undefined ? {} : { snapshotId }),
  });
  const { rows } = await engine
    .query('SELECT id, "sensorId", type, value, unit, epoch_ms("timestamp") AS ms FROM killed_sensors')
    .collect();
  return {
    snapshotId: registered.snapshotId,
    rows: rows.map((r) => [
      String(r.id),
      String(r.sensorId),
      String(r.type),
      Number(r.value),
      String(r.unit),
      new Date(Number(r.ms)).toISOString(),
    ]),
  };
}

/** Files under `dir`, relative to it (none when it does not exist). */
const filesUnder = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
    : [];

const metadataVersions = (tableDir: string): string[] =>
  filesUnder(join(tableDir, 'metadata')).filter((f) => /\/v\d+\.metadata\.json$/.test(f));

/** The processes of the demo: its process group, and every descendant (PostgreSQL's backends leave the group). */
function processTree(root: number): Map<number, string> {
  const procs: { pid: number; ppid: number; pgrp: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(name), ppid: Number(ppid), pgrp: Number(pgrp), comm });
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Map<number, string>([[root, 'demo']]);
  for (const p of procs) if (p.pgrp === root) tree.set(p.pid, p.comm);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.set(p.pid, p.comm);
        grew = true;
      }
    }
  }
  return tree;
}

/** Whether `pid` still runs (a zombie does not: it only waits to be reaped). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function survivors(tree: Map<number, string>, waitMs: number): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const alive = [...tree].filter(([pid]) => running(pid)).map(([pid, comm]) => `${pid} ${comm}`);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const live = new Set<ChildProcess>();

/** The demo itself (not the CLI's Ctrl-C wrapper, which starts it in a group of its own). */
function spawnDemo(out: string): ChildProcess {
  const env: Record<string, string | undefined> = {
    ...process.env,
    CI: '1',
    INIT_CWD: packageDir,
    TMPDIR: demoTmp,
    TRIBUTARY_DEMO_CHILD: '1',
  };
  delete env.CMC_API_KEY;
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--out', out, ...demoArgs], {
    cwd: packageDir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('close', () => live.delete(child));
  return child;
}

async function runDemo(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnDemo(out);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

/** When to kill: a moment of the sensors raw → processed write, seen on disk once its stage has begun. */
type Trigger = { kind: 'data-files'; count: number } | { kind: 'new-metadata-version' };

interface Killed {
  trigger: Trigger;
  /** Milliseconds from the stage's line to the kill. */
  afterLineMs: number;
  dataFilesBefore: Set<string>;
  versionsBefore: Set<string>;
  signal: NodeJS.Signals | null;
  stderr: string;
  survivors: string[];
}

async function killDemo(out: string, trigger: Trigger): Promise<Killed> {
  const tableDir = join(out, 'lake/processed/sensors');
  const dataFilesBefore = new Set(filesUnder(join(tableDir, 'data')));
  const versionsBefore = new Set(metadataVersions(tableDir));
  const child = spawnDemo(out);
  const pid = child.pid as number;
  let stderr = '';
  let lineAt: number | undefined;
  let killedAt: number | undefined;
  let tree = new Map<number, string>();
  let poll: NodeJS.Timeout | undefined;
  const kill = () => {
    if (killedAt !== undefined) return;
    clearInterval(poll);
    tree = processTree(pid);
    killedAt = performance.now();
    // The whole group: the demo, the embedded PostgreSQL and kinesalite.
    process.kill(-pid, 'SIGKILL');
  };
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (lineAt !== undefined || !stderr.includes(SENSORS_STAGE)) return;
    lineAt = performance.now();
    poll = setInterval(() => {
      const fired =
        trigger.kind === 'data-files'
          ? filesUnder(join(tableDir, 'data')).filter((f) => !dataFilesBefore.has(f)).length >= trigger.count
          : metadataVersions(tableDir).some((f) => !versionsBefore.has(f));
      if (fired) kill();
    }, 2);
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('close', (_code, s) => resolve(s)),
  );
  clearInterval(poll);
  const afterLineMs = killedAt !== undefined && lineAt !== undefined ? Math.round(killedAt - lineAt) : -1;
  return {
    trigger,
    afterLineMs,
    dataFilesBefore,
    versionsBefore,
    signal,
    stderr,
    survivors: killedAt === undefined ? [] : await survivors(tree, 10_000),
  };
}

let clean: Record<string, string[]>;
let cleanDays: Map<string, string[]>;
const landings: string[] = [];

beforeAll(() => {
  chmodSync(work, 0o755);
  mkdirSync(demoTmp);
  chmodSync(demoTmp, 0o755);
});
afterAll(() => {
  for (const child of live) if (child.pid) process.kill(-child.pid, 'SIGKILL');
  if (landings.length > 0) console.info(`SIGKILL landings:\n  ${landings.join('\n  ')}`);
  rmSync(work, { recursive: true, force: true });
});

describe('examples/quickstart on Iceberg', () => {
  describe('SIGKILL during the sensors raw → processed write', () => {
    it('a clean run leaves every processed and curated table', async () => {
      const { code, stderr } = await runDemo(cleanOut);

      expect(code, stderr).toBe(0);
      clean = await tablesOf(cleanOut);
      const sensors = (clean['processed/sensors'] ?? []).map((r) => JSON.parse(r) as Record<string, unknown>);
      expect(sensors).toHaveLength(3_000);
      cleanDays = byDay(
        sensors.map((r) => [r.id, r.sensorId, r.type, r.value, r.unit, r.timestamp] as SensorRow),
      );
      // The run commits one snapshot per day; the simulated day holds nearly all of the rows.
      expect([...cleanDays.keys()].sort()).toContain(day);
      expect(clean['curated/sensor_hourly']?.length).toBeGreaterThanOrEqual(72);
      expect(clean[`curated/${COIN_DAILY_TABLE}`]).toHaveLength(900);
    }, 120_000);

    it('tells a table of whole days from a partial or wrong one', () => {
      const rows = [...(cleanDays.get(day) ?? [])].map((r) => JSON.parse(r) as SensorRow);
      const otherDay = [...cleanDays.keys()].find((d) => d !== day);

      expect(notWholeDays(rows, cleanDays)).toEqual([]);
      expect(notWholeDays(rows.slice(1), cleanDays)).not.toEqual([]);
      expect(notWholeDays([...rows, rows[0] as SensorRow], cleanDays)).not.toEqual([]);
      // the same rows compared with another day's
      const swapped = new Map([[day, cleanDays.get(otherDay ?? '') ?? []]]);
      expect(notWholeDays(rows, swapped)).not.toEqual([]);
    });

    // A kill at a delay after the stage's line lands anywhere: the line comes from a 100 ms poll,
    // and the whole write took 0.8 s in one run, less than 0.4 s in another (a kill 400 ms after
    // the line came after both commits). So each kill waits for a point on disk instead, and all
    // three hit the same folder: each run starts over what the one before left.
    const kills: Trigger[] = [
      // The first data file of the write exists; the day's commit comes after its 48 files.
      { kind: 'data-files', count: 1 },
      // The first day's snapshot is committed, the next day's is not.
      { kind: 'new-metadata-version' },
      // Rewriting a day of a table that has snapshots: a dozen new files, no commit yet.
      { kind: 'data-files', count: 12 },
    ];
    for (const [n, trigger] of kills.entries()) {
      const name =
        trigger.kind === 'data-files'
          ? `at data file ${trigger.count} of the write`
          : 'at the first new metadata version';
      it(`kill ${n + 1} (${name}): pyiceberg and DuckDB see whole days at every snapshot, no child is left`, async () => {
        const killed = await killDemo(killedOut, trigger);

        expect(killed.signal, killed.stderr).toBe('SIGKILL');
        expect(killed.afterLineMs, 'the kill came during the stage').toBeGreaterThanOrEqual(0);
        expect(killed.survivors).toEqual([]);

        const tableDir = join(killedOut, 'lake/processed/sensors');
        const newFiles = filesUnder(join(tableDir, 'data')).filter((f) => !killed.dataFilesBefore.has(f));
        const newVersions = metadataVersions(tableDir).filter((f) => !killed.versionsBefore.has(f));
        if (currentVersion(tableDir) === 0) {
          // No commit yet: there is no table for a reader to see, whatever data files were written.
          expect(metadataVersions(tableDir)).toEqual([]);
          landings.push(
            `kill ${n + 1} (${name}, ${killed.afterLineMs} ms after the line): ${newFiles.length ? 'mid-write' : 'before the write'}, no table yet, ${newFiles.length} uncommitted data files`,
          );
          return;
        }

        const py = await readWithPyIceberg(tableDir);
        expect(py.current).not.toBeNull();
        const committed = new Set<string>();
        for (const [id, snapshot] of Object.entries(py.snapshots)) {
          expect(notWholeDays(snapshot.rows, cleanDays), `pyiceberg, snapshot ${id}`).toEqual([]);
          for (const file of snapshot.files) committed.add(file.replace(/^file:\/\//, ''));
        }
        const current = py.snapshots[py.current as string];
        expect(current?.rows.length).toBeGreaterThan(0);

        const engine = await DuckDbEngine.create({ threads: 1 });
        try {
          const lake = lakeOf(killedOut);
          const now = await readWithDuckDb(engine, lake);
          expect(notWholeDays(now.rows, cleanDays), `DuckDB, snapshot ${now.snapshotId}`).toEqual([]);
          expect(now.snapshotId).toBe(py.current);
          expect(json(byDay(now.rows))).toBe(json(byDay(current?.rows ?? [])));
          for (const id of Object.keys(py.snapshots)) {
            const then = await readWithDuckDb(engine, lake, id);
            expect(notWholeDays(then.rows, cleanDays), `DuckDB, snapshot ${id}`).toEqual([]);
            expect(then.rows).toHaveLength(py.snapshots[id]?.rows.length ?? -1);
          }
        } finally {
          await engine.close();
        }

        const uncommitted = newFiles.filter((f) => !committed.has(f));
        const days = [...byDay(current?.rows ?? []).keys()].join(', ');
        landings.push(
          `kill ${n + 1} (${name}, ${killed.afterLineMs} ms after the line): ${
            uncommitted.length ? 'mid-write' : newVersions.length ? 'between commits' : 'before the write'
          }, ${uncommitted.length} uncommitted data files, ${newVersions.length} new metadata versions; current snapshot holds ${days} (${current?.rows.length} rows), ${Object.keys(py.snapshots).length} snapshots`,
        );
      }, 120_000);
    }

    it('at least one kill landed mid-write', () => {
      expect(
        landings.filter((l) => l.includes('mid-write')),
        landings.join('\n'),
      ).not.toEqual([]);
    });

    it("a rerun on the killed folder exits 0 with the clean run's rows in every processed and curated table", async () => {
      const { code, stderr } = await runDemo(killedOut);

      expect(code, stderr).toBe(0);
      expect(await tablesOf(killedOut)).toEqual(clean);
    }, 120_000);
  });
});
