import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  byHour,
  LocalStorage,
  readDataset,
  removeOrphanFiles,
  scanIceberg,
  writeDataset,
} from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baseRows,
  competitorRows,
  hourOf,
  type Reading,
  readingSchema,
  readings,
  type ScenarioName,
  scenarios,
} from './fixtures/iceberg-crash/rows.js';

// A child process writes to an Iceberg table and is SIGKILLed at one of 20 points spread over
// the write and the commit (data file uploads, manifests, manifest list, the next metadata
// version, the version hint, the clean-up after a lost race). After each kill pyiceberg, reading
// the table as a Hadoop catalog does, must see exactly the previous snapshot or the new one;
// tributary must see the same; removeOrphanFiles must leave only what the metadata reaches; and
// the next write must land on top. Four more points run the killed write again with its writeId,
// which must then land exactly once.

const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const WRITER = join(here, 'fixtures', 'iceberg-crash', 'killed-writer.ts');
const READER = join(here, 'fixtures', 'iceberg-crash', 'read_tables.py');
const run = promisify(execFile);

type Phase = 'data' | 'manifest' | 'list' | 'metadata' | 'hint' | 'cleanup';
type When = 'before' | 'after' | 'mid';

interface KillPoint {
  scenario: ScenarioName;
  phase: Phase;
  /** Which call of the phase: 1-based, or `last`. */
  pick: number | 'last';
  when: When;
  /** The next write runs the killed write again, with its `writeId` (as after a job restart). */
  rerun?: boolean;
}

const point = (scenario: ScenarioName, phase: Phase, pick: number | 'last', when: When): KillPoint => ({
  scenario,
  phase,
  pick,
  when,
});

const KILL_POINTS: KillPoint[] = [
  // A dynamic partition overwrite of hours 0 and 1 (plus a new hour 4), two files per partition.
  point('overwrite_partitions', 'data', 1, 'before'),
  point('overwrite_partitions', 'data', 1, 'mid'),
  point('overwrite_partitions', 'data', 1, 'after'),
  point('overwrite_partitions', 'data', 4, 'before'),
  point('overwrite_partitions', 'data', 'last', 'mid'),
  point('overwrite_partitions', 'data', 'last', 'after'),
  point('overwrite_partitions', 'manifest', 1, 'after'),
  point('overwrite_partitions', 'manifest', 'last', 'after'),
  point('overwrite_partitions', 'list', 1, 'after'),
  point('overwrite_partitions', 'metadata', 1, 'after'),
  point('overwrite_partitions', 'hint', 1, 'after'),
  // An append.
  point('append', 'data', 3, 'mid'),
  point('append', 'manifest', 1, 'after'),
  point('append', 'metadata', 1, 'before'),
  point('append', 'metadata', 1, 'after'),
  // An append whose first commit loses to a competing append, cleans up and commits again.
  point('race', 'metadata', 1, 'after'),
  point('race', 'cleanup', 1, 'after'),
  point('race', 'manifest', 'last', 'after'),
  point('race', 'metadata', 'last', 'before'),
  point('race', 'metadata', 'last', 'after'),
];

// Run again with the same writeId, a write killed before or after its commit must land once:
// `writeId` promises that "running the same write again after a crash" commits cleanly.
const RERUN_POINTS: KillPoint[] = [
  { ...point('append', 'list', 1, 'after'), rerun: true },
  { ...point('append', 'metadata', 1, 'after'), rerun: true },
  { ...point('append', 'hint', 1, 'after'), rerun: true },
  { ...point('overwrite_partitions', 'metadata', 1, 'after'), rerun: true },
];
const ALL_POINTS = [...KILL_POINTS, ...RERUN_POINTS];

interface Call {
  n: number;
  op: string;
  key: string;
}

interface ChildRun {
  calls: Call[];
  results: Map<number, string>;
  competitor: boolean;
  killed?: { n: number; when: string };
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** What read_tables.py reports of a table. */
interface PyTable {
  folder: string;
  /** Set when pyiceberg could not open the table. */
  error?: string;
  version: number;
  snapshotId: string | null;
  ids: string[];
  history: {
    snapshotId: string;
    parentId: string | null;
    sequenceNumber: number;
    rows: number;
    distinctIds: number;
  }[];
  reachable: string[];
}

function phaseOf(call: Call): Phase | undefined {
  if (call.op === 'delete') return 'cleanup';
  if (call.op === 'putIfAbsent') return 'metadata';
  if (call.key.includes('/data/')) return 'data';
  if (call.key.endsWith('/version-hint.text')) return 'hint';
  if (/\/snap-[^/]+\.avro$/.test(call.key)) return 'list';
  if (/-m\d+\.avro$/.test(call.key)) return 'manifest';
  return undefined;
}

function runWriter(
  root: string,
  table: string,
  scenario: ScenarioName,
  k: number,
  when: When,
  writeId?: string,
): Promise<ChildRun> {
  const args = [WRITER, root, table, scenario, String(k), when, ...(writeId ? [writeId] : [])];
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolveRun, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const out: ChildRun = { calls: [], results: new Map(), competitor: false, signal, stderr };
      for (const line of stdout.split('\n')) {
        const [word, a, b, c] = line.split(' ');
        if (word === 'call') out.calls.push({ n: Number(a), op: b as string, key: c as string });
        else if (word === 'result') out.results.set(Number(a), b as string);
        else if (word === 'competitor') out.competitor = true;
        else if (word === 'kill') out.killed = { n: Number(a), when: b as string };
      }
      if (k === 0 && code !== 0) reject(new Error(`writer failed (${code}): ${stderr}`));
      else resolveRun(out);
    });
  });
}

/** Run `tasks` at most `limit` at a time (the machine has two cores). */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

async function pyiceberg(folders: string[]): Promise<Map<string, PyTable>> {
  const { stdout } = await run(PYTHON, [READER, ...folders], { maxBuffer: 256 * 1024 * 1024 });
  return new Map((JSON.parse(stdout) as PyTable[]).map((t) => [t.folder, t]));
}

/** Every file under a table's folder, as absolute paths. */
function filesUnder(folder: string): string[] {
  return (readdirSync(folder, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

/** How a reader's ids differ from the expected ones: all zeros but `rows` when it is the same set. */
function compareIds(ids: readonly string[], expected: readonly string[]) {
  const seen = new Set(ids);
  const want = new Set(expected);
  return {
    rows: ids.length,
    duplicates: ids.length - seen.size,
    missing: [...want].filter((id) => !seen.has(id)).length,
    extra: [...seen].filter((id) => !want.has(id)).length,
  };
}

const exactly = (expected: readonly string[]) => ({
  rows: expected.length,
  duplicates: 0,
  missing: 0,
  extra: 0,
});

/** The ids a table holds after a scenario's write on top of `before`. */
function afterWrite(scenario: ScenarioName, before: readonly Reading[]): Reading[] {
  const rows = scenarios[scenario].rows();
  if (scenarios[scenario].mode === 'overwrite_partitions') {
    const hours = new Set(rows.map(hourOf));
    return [...before.filter((r) => !hours.has(hourOf(r))), ...rows];
  }
  return [...before, ...rows];
}

const idsOf = (rows: readonly Reading[]) => rows.map((r) => r.id);

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

interface Case {
  point: KillPoint;
  table: string;
  folder: string;
  k: number;
  baseSnapshot: string;
  child: ChildRun;
  /** Whether the killed write's metadata version was created (the child's own report). */
  committed: boolean;
  previous: string[];
  next: string[];
  /** What pyiceberg saw right after the kill. */
  killed?: PyTable;
  tributary?: { ids: string[]; snapshotId: string | undefined };
  /** The table's files before and after removeOrphanFiles, and what it removed. */
  before?: string[];
  removed?: string[];
  after?: string[];
  /** The ids after the next write. */
  wanted: string[];
  /** After the next write: what pyiceberg and tributary read, and the table's files. */
  final?: PyTable;
  finalTributary?: string[];
  finalFiles?: string[];
  /** The first step after the kill that threw, if any. */
  error?: unknown;
}

const root = mkdtempSync(join(tmpdir(), 'tributary-iceberg-crash-'));
const storage = new LocalStorage({ root });
const cases: Case[] = [];
let abandonedTemporaryFiles: string[] = [];
let temporaryFilesLeft: string[] = [];

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function writeBase(table: string): Promise<string> {
  const result = await writeDataset(baseRows(), {
    storage,
    table,
    schema: readingSchema,
    partitionBy: byHour('timestamp'),
    tableFormat: 'iceberg',
    maxRowsPerFile: 200,
  });
  return result.snapshotId as string;
}

async function readIds(table: string): Promise<string[]> {
  return idsOf(await collect(readDataset({ storage, table, schema: readingSchema, tableFormat: 'iceberg' })));
}

const nextRows = (index: number) => readings(`next${index}-`, 300, [2, 3, 5]);
const writeIdOf = (table: string) => `job-${table}`;

/** After the kill: tributary reads, removeOrphanFiles, the next write, tributary reads again. */
async function recover(c: Case, index: number): Promise<void> {
  const scan = await scanIceberg({ storage, table: c.table });
  c.tributary = {
    ids: await readIds(c.table),
    snapshotId: scan.snapshot ? String(scan.snapshot['snapshot-id']) : undefined,
  };
  c.before = filesUnder(c.folder);
  const removed = await removeOrphanFiles({
    storage,
    table: c.table,
    olderThan: new Date(Date.now() + 1000),
  });
  c.removed = removed.map((key) => join(root, key)).sort();
  c.after = filesUnder(c.folder);
  const { scenario, rerun } = c.point;
  await writeDataset(rerun ? scenarios[scenario].rows() : nextRows(index), {
    storage,
    table: c.table,
    schema: readingSchema,
    partitionBy: byHour('timestamp'),
    tableFormat: 'iceberg',
    mode: rerun ? scenarios[scenario].mode : 'append',
    maxRowsPerFile: 100,
    ...(rerun ? { writeId: writeIdOf(c.table) } : {}),
  });
  c.finalTributary = await readIds(c.table);
  c.finalFiles = filesUnder(c.folder);
}

beforeAll(async () => {
  // Arrange: one complete run of each scenario shows where each phase's calls fall.
  const names = Object.keys(scenarios) as ScenarioName[];
  const traces = new Map<ScenarioName, Call[]>();
  for (const name of names) await writeBase(`trace-${name}`);
  const traceRuns = await pool(
    names.map((name) => () => runWriter(root, `trace-${name}`, name, 0, 'before')),
    2,
  );
  names.forEach((name, i) => {
    traces.set(name, (traceRuns[i] as ChildRun).calls);
  });

  const planned = ALL_POINTS.map((p, i) => {
    const calls = (traces.get(p.scenario) ?? []).filter((c) => phaseOf(c) === p.phase);
    const call = p.pick === 'last' ? calls.at(-1) : calls[p.pick - 1];
    if (!call) throw new Error(`${p.scenario} has no ${p.phase} call #${p.pick}`);
    return { point: p, table: `case${String(i).padStart(2, '0')}`, k: call.n };
  });
  const baseSnapshots = new Map<string, string>();
  for (const p of planned) baseSnapshots.set(p.table, await writeBase(p.table));

  // Act: kill each writer at its point, then let pyiceberg look at every table at once.
  const runs = await pool(
    planned.map(
      (p) => () =>
        runWriter(
          root,
          p.table,
          p.point.scenario,
          p.k,
          p.point.when,
          p.point.rerun ? writeIdOf(p.table) : undefined,
        ),
    ),
    2,
  );
  const folders = planned.map((p) => join(root, p.table));
  const seenByPyiceberg = await pyiceberg(folders);

  for (const [i, p] of planned.entries()) {
    const child = runs[i] as ChildRun;
    const previousRows = [...baseRows(), ...(child.competitor ? competitorRows() : [])];
    const committed = [...child.results.values()].includes('created');
    const previous = idsOf(previousRows);
    const next = idsOf(afterWrite(p.point.scenario, previousRows));
    const c: Case = {
      point: p.point,
      table: p.table,
      folder: join(root, p.table),
      k: p.k,
      baseSnapshot: baseSnapshots.get(p.table) as string,
      child,
      committed,
      previous,
      next,
      killed: seenByPyiceberg.get(join(root, p.table)),
      wanted: p.point.rerun ? next : [...(committed ? next : previous), ...idsOf(nextRows(i))],
    };
    cases.push(c);
    // A case that breaks is reported by its own test, not by hiding the others.
    await recover(c, i).catch((err: unknown) => {
      c.error = err;
    });
  }
  const finals = await pyiceberg(folders);
  for (const c of cases) if (c.finalFiles) c.final = finals.get(c.folder);

  abandonedTemporaryFiles = await storage.removeAbandonedUploads({ olderThan: new Date(Date.now() + 1000) });
  try {
    temporaryFilesLeft = readdirSync(join(root, '.tributary-tmp'));
  } catch {
    temporaryFilesLeft = [];
  }
}, 150_000);

const label = (p: KillPoint) =>
  `${p.scenario}: killed ${p.when === 'mid' ? 'in the middle of' : p.when} ${p.pick === 'last' ? 'the last' : `#${p.pick}`} ${p.phase} call`;

/** A table pyiceberg could open. */
function opened(table: PyTable | undefined): PyTable {
  expect(table?.error).toBeUndefined();
  return table as PyTable;
}

/** The assertions of one kill point, in the order of what happened after the kill. */
function checkCase(c: Case): void {
  const expected = c.committed ? c.next : c.previous;

  // The child died where it was meant to.
  expect(c.child.signal, c.child.stderr).toBe('SIGKILL');
  expect(c.child.killed?.n).toBe(c.k);
  expect(c.child.killed?.when).toBe(c.point.when);
  // Only a kill after the metadata version was created may show the new snapshot.
  const pastCommit =
    c.point.phase === 'hint' ||
    (c.point.phase === 'metadata' && c.point.when === 'after' && c.child.results.get(c.k) === 'created');
  expect(c.committed).toBe(pastCommit);

  // pyiceberg, reading as a Hadoop catalog does, sees exactly one of the two snapshots.
  const killed = opened(c.killed);
  expect(compareIds(killed.ids, expected)).toEqual(exactly(expected));
  if (!c.committed && !c.child.competitor) expect(killed.snapshotId).toBe(c.baseSnapshot);
  if (c.error) throw c.error;
  // tributary sees the same snapshot and the same rows.
  const tributary = c.tributary as NonNullable<Case['tributary']>;
  expect(tributary.snapshotId).toBe(killed.snapshotId);
  expect(compareIds(tributary.ids, expected)).toEqual(exactly(expected));

  // removeOrphanFiles removed exactly the files the metadata does not reach.
  const reachable = new Set(killed.reachable);
  const before = c.before as string[];
  expect(c.removed).toEqual(before.filter((f) => !reachable.has(f)));
  expect(c.after).toEqual(before.filter((f) => reachable.has(f)));

  // The next write commits on top, and both readers see it, with a whole history.
  const final = opened(c.final);
  expect(compareIds(final.ids, c.wanted)).toEqual(exactly(c.wanted));
  expect(compareIds(c.finalTributary ?? [], c.wanted)).toEqual(exactly(c.wanted));
  const finalReachable = new Set(final.reachable);
  expect((c.finalFiles ?? []).filter((f) => !finalReachable.has(f))).toEqual([]);
  for (const [j, s] of final.history.entries()) {
    expect(s.distinctIds).toBe(s.rows);
    if (j > 0) {
      expect(s.parentId).toBe(final.history[j - 1]?.snapshotId);
      expect(s.sequenceNumber).toBeGreaterThan(final.history[j - 1]?.sequenceNumber as number);
    }
  }
}

describe('writeDataset (iceberg)', () => {
  describe('a writer SIGKILLed inside its write or commit', () => {
    it.each(KILL_POINTS.map((p, i) => [label(p), i] as const))(
      '%s: readers see one whole snapshot, orphans go, the next write lands',
      (_name, i) => checkCase(cases[i] as Case),
    );

    it.each(RERUN_POINTS.map((p, i) => [label(p), KILL_POINTS.length + i] as const))(
      '%s, then run again with its writeId: the write lands once',
      (_name, i) => checkCase(cases[i] as Case),
    );

    it('left orphans exactly where a killed write had finished a file and not committed', () => {
      const finishedAFile = (c: Case) =>
        [...c.child.results.keys()].some((n) => phaseOf(c.child.calls[n - 1] as Call) === 'data');

      const withOrphans = cases.filter((c) => (c.removed?.length ?? 0) > 0).map((c) => label(c.point));

      // A committed write, even one that lost a race first, leaves nothing behind.
      expect(withOrphans).toEqual(
        cases.filter((c) => !c.committed && finishedAFile(c)).map((c) => label(c.point)),
      );
    });

    it('leaves half-written uploads only in the storage temporary folder, which removeAbandonedUploads empties', () => {
      const mid = cases.filter((c) => c.point.when === 'mid').length;

      expect(abandonedTemporaryFiles.length).toBeGreaterThanOrEqual(mid);
      expect(temporaryFilesLeft).toEqual([]);
    });
  });
});
