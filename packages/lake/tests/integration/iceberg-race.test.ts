import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type Body,
  byHour,
  compact,
  type GetOptions,
  IcebergError,
  type ListOptions,
  LocalStorage,
  type ObjectInfo,
  type PutOptions,
  readDataset,
  type Storage,
  type WriteDatasetResult,
  writeDataset,
} from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseRows, hourOf, type Reading, readingSchema, readings } from './fixtures/iceberg-crash/rows.js';

// Two writers commit to one Iceberg table from the same base. Each is held at its commit (the
// next metadata version's putIfAbsent) until both are there, so the race is real every run: one
// creates the version, the other loses it and must re-apply its change on the winner's snapshot
// (appends, partition overwrites) or fail with a typed conflict (a compaction whose inputs are
// gone). pyiceberg then reads the tables and their history.

const here = fileURLToPath(new URL('.', import.meta.url));
const PYTHON = resolve(here, '../../../../spark/.venv/bin/python');
const WRITER = join(here, 'fixtures', 'iceberg-crash', 'racing-writer.ts');
const READER = join(here, 'fixtures', 'iceberg-crash', 'read_tables.py');
const run = promisify(execFile);
const HOUR_0 = 'timestamp_hour=2026-11-23-00/';

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
    operation: string | null;
    rows: number;
    distinctIds: number;
  }[];
  snapshotLog: string[];
  reachable: string[];
}

const root = mkdtempSync(join(tmpdir(), 'tributary-iceberg-race-'));
const storage = new LocalStorage({ root });
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A writer's view of the storage: its commits wait at a gate the test opens. */
class GatedStorage implements Storage {
  readonly url = storage.url;
  /** `created` or `lost`, one per commit attempt. */
  readonly attempts: string[] = [];
  readonly arrived: Promise<void>;
  #arrive!: () => void;
  #gate: Promise<void>;
  #open!: () => void;

  constructor() {
    this.arrived = new Promise((r) => {
      this.#arrive = r;
    });
    this.#gate = new Promise((r) => {
      this.#open = r;
    });
  }

  open(): void {
    this.#open();
  }

  async putIfAbsent(key: string, body: Uint8Array | string): Promise<ObjectInfo | undefined> {
    this.#arrive();
    await this.#gate;
    const created = await storage.putIfAbsent(key, body);
    this.attempts.push(created ? 'created' : 'lost');
    return created;
  }
  put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
    return storage.put(key, body, options);
  }
  delete(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    return storage.delete(keys);
  }
  get(key: string, options?: GetOptions): Promise<Readable> {
    return storage.get(key, options);
  }
  getBytes(key: string, options?: GetOptions): Promise<Uint8Array> {
    return storage.getBytes(key, options);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return storage.head(key);
  }
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return storage.list(prefix, options);
  }
  listPrefixes(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<string> {
    return storage.listPrefixes(prefix, options);
  }
}

const icebergOptions = {
  schema: readingSchema,
  partitionBy: byHour('timestamp'),
  tableFormat: 'iceberg' as const,
  maxRowsPerFile: 100,
};

async function writeBase(table: string): Promise<void> {
  await writeDataset(baseRows(), { ...icebergOptions, storage, table, maxRowsPerFile: 200 });
}

function write(gate: GatedStorage, table: string, rows: Reading[], mode: 'append' | 'overwrite_partitions') {
  return writeDataset(rows, { ...icebergOptions, storage: gate, table, mode });
}

async function ids(table: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readDataset({ storage, table, schema: readingSchema, tableFormat: 'iceberg' }))
    out.push(r.id);
  return out;
}

/** Every file under a table's folder, as absolute paths. */
function filesUnder(table: string): string[] {
  return (
    readdirSync(join(root, table), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]
  )
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

const sorted = (values: Iterable<string>) => [...values].sort();

interface ChildWriter {
  lines: string[];
  done: Promise<string[]>;
  go(): void;
}

/** A racing-writer.ts child; `ready` resolves when it has reached its first commit. */
function startChild(table: string, args: string[]): ChildWriter & { ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, root, table, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let released = false;
  let onReady!: () => void;
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith('ready ')) {
        onReady();
        // Its retries after the first commit go through at once.
        if (released) child.stdin.write('go\n');
      }
    }
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<string[]>((resolveDone, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolveDone(lines);
      else reject(new Error(`racing writer exited with ${code}: ${stderr}`));
    });
  });
  return {
    lines,
    ready,
    done,
    go() {
      released = true;
      child.stdin.write('go\n');
    },
  };
}

/** Two child writers on one table, released together once both are at their commit. */
async function raceChildren(table: string, a: string[], b: string[]): Promise<[string[], string[]]> {
  const first = startChild(table, a);
  const second = startChild(table, b);
  // A child that exits before its commit fails the setup at once instead of never being ready.
  const exited = (c: ChildWriter) =>
    c.done.then((lines) => {
      throw new Error(`racing writer ended before its commit: ${lines.join(' | ')}`);
    });
  await Promise.all([
    Promise.race([first.ready, exited(first)]),
    Promise.race([second.ready, exited(second)]),
  ]);
  first.go();
  second.go();
  return Promise.all([first.done, second.done]);
}

const outcome = (lines: string[]) => lines.find((l) => l.startsWith('ok ') || l.startsWith('error ')) ?? '';
const commits = (lines: string[]) =>
  lines.filter((l) => l.startsWith('putIfAbsent ')).map((l) => l.split(' ')[2] as string);

let py = new Map<string, PyTable>();
const tables: string[] = [];
function pyTable(table: string): PyTable {
  const seen = py.get(join(root, table));
  expect(seen?.error).toBeUndefined();
  return seen as PyTable;
}

// Each race's results, filled in beforeAll.
const results: Record<string, unknown> = {};

/**
 * Start two writers in one process on a new base table, wait until both are at their commit,
 * then let them commit together, or one after the other in `turns` order (the second then loses
 * the version the first took).
 */
async function raceInProcess(
  table: string,
  writers: ((gate: GatedStorage) => Promise<WriteDatasetResult>)[],
  turns?: [number, number],
): Promise<void> {
  await writeBase(table);
  const gates = writers.map(() => new GatedStorage());
  const runs = writers.map((start, i) => start(gates[i] as GatedStorage));
  // A writer that fails before its commit fails the setup at once instead of never arriving.
  await Promise.all(gates.map((g, i) => Promise.race([g.arrived, runs[i]])));
  if (turns) {
    for (const i of turns) {
      (gates[i] as GatedStorage).open();
      await Promise.allSettled([runs[i]]);
    }
  } else {
    for (const g of gates) g.open();
  }
  results[table] = { settled: await Promise.allSettled(runs), attempts: gates.map((g) => g.attempts) };
  tables.push(table);
}

beforeAll(async () => {
  const A = readings('a', 300, [1, 2]);
  const B = readings('b2-', 300, [2, 3]);

  // Two appends in one process.
  await raceInProcess('appends-in-process', [
    (g) => write(g, 'appends-in-process', A, 'append'),
    (g) => write(g, 'appends-in-process', B, 'append'),
  ]);

  // An append to hours 1-2 and an overwrite of hour 0, in both orders of commit.
  const O = readings('o', 200, [0]);
  await raceInProcess(
    'append-vs-overwrite-append-first',
    [
      (g) => write(g, 'append-vs-overwrite-append-first', A, 'append'),
      (g) => write(g, 'append-vs-overwrite-append-first', O, 'overwrite_partitions'),
    ],
    [0, 1],
  );
  await raceInProcess(
    'append-vs-overwrite-overwrite-first',
    [
      (g) => write(g, 'append-vs-overwrite-overwrite-first', A, 'append'),
      (g) => write(g, 'append-vs-overwrite-overwrite-first', O, 'overwrite_partitions'),
    ],
    [1, 0],
  );

  // An append and an overwrite of the same hour, released together.
  await raceInProcess('append-vs-overwrite-same-hour', [
    (g) => write(g, 'append-vs-overwrite-same-hour', readings('a', 100, [0]), 'append'),
    (g) => write(g, 'append-vs-overwrite-same-hour', O, 'overwrite_partitions'),
  ]);

  // Two compactions of hour 0 in one process.
  const compactHour0 = (g: GatedStorage) =>
    compact({
      storage: g,
      table: 'compactions-in-process',
      schema: readingSchema,
      partition: HOUR_0,
      tableFormat: 'iceberg',
    });
  await raceInProcess('compactions-in-process', [compactHour0, compactHour0]);

  // Two child processes: appends, then compactions.
  {
    const table = 'appends-processes';
    await writeBase(table);
    results[table] = await raceChildren(
      table,
      ['append', 'a', '300', '1,2'],
      ['append', 'b2-', '300', '2,3'],
    );
    tables.push(table);
  }
  {
    const table = 'compactions-processes';
    await writeBase(table);
    results[table] = await raceChildren(table, ['compact', HOUR_0], ['compact', HOUR_0]);
    tables.push(table);
  }

  const { stdout } = await run(PYTHON, [READER, ...tables.map((t) => join(root, t))], {
    maxBuffer: 256 * 1024 * 1024,
  });
  py = new Map((JSON.parse(stdout) as PyTable[]).map((t) => [t.folder, t]));
}, 120_000);

type Settled = PromiseSettledResult<WriteDatasetResult>;
const inProcess = (table: string) => results[table] as { settled: Settled[]; attempts: string[][] };
const fulfilled = (s: Settled) => (s as PromiseFulfilledResult<WriteDatasetResult>).value;

/** A history pyiceberg reads: one chain from the first snapshot, sequence numbers increasing, no duplicate ids. */
function expectLinearHistory(table: string, length: number): void {
  const { history, snapshotLog, snapshotId } = pyTable(table);
  expect(history).toHaveLength(length);
  expect(history[0]?.parentId).toBeNull();
  for (const [i, s] of history.entries()) {
    expect(s.distinctIds).toBe(s.rows);
    if (i === 0) continue;
    expect(s.parentId).toBe(history[i - 1]?.snapshotId);
    expect(s.sequenceNumber).toBeGreaterThan(history[i - 1]?.sequenceNumber as number);
  }
  expect(snapshotLog).toEqual(history.map((s) => s.snapshotId));
  expect(snapshotId).toBe(history.at(-1)?.snapshotId);
}

/** Only files the metadata reaches are left: a loser cleans up after itself. */
function expectNoStrayFiles(table: string): void {
  const reachable = new Set(pyTable(table).reachable);
  const files = filesUnder(table);
  expect(files.filter((f) => !reachable.has(f))).toEqual([]);
}

const baseIds = baseRows().map((r) => r.id);

describe('writeDataset (iceberg)', () => {
  describe('two writers committing on the same base', () => {
    it.each(['appends-in-process', 'appends-processes'])(
      '%s: both appends land, one after retrying, nothing lost or doubled',
      async (table) => {
        const A = readings('a', 300, [1, 2]).map((r) => r.id);
        const B = readings('b2-', 300, [2, 3]).map((r) => r.id);
        const union = sorted([...baseIds, ...A, ...B]);

        let attempts: string[][];
        let versions: number[];
        if (table === 'appends-in-process') {
          const { settled, attempts: seen } = inProcess(table);
          expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
          attempts = seen;
          versions = settled.map((s) => fulfilled(s).version);
        } else {
          const lines = results[table] as [string[], string[]];
          expect(lines.map((l) => outcome(l).split(' ')[0])).toEqual(['ok', 'ok']);
          attempts = lines.map(commits);
          versions = lines.map((l) => Number(outcome(l).split(' ')[2]));
        }

        // A real race: exactly one lost its first commit and won on its retry.
        expect(sorted(attempts.map((a) => a.join(',')))).toEqual(['created', 'lost,created']);
        expect(sorted(versions.map(String))).toEqual(['2', '3']);
        expect(sorted(await ids(table))).toEqual(union);
        expect(sorted(pyTable(table).ids)).toEqual(union);
        expectLinearHistory(table, 3);
        const [, middle, last] = pyTable(table).history;
        expect(middle?.rows).toBe(baseIds.length + 300);
        expect(last?.rows).toBe(union.length);
        expectNoStrayFiles(table);
      },
    );

    it.each(['append-first', 'overwrite-first'])(
      'an append and an overwrite of another hour (%s): both changes hold',
      async (order) => {
        const table = `append-vs-overwrite-${order}`;
        const A = readings('a', 300, [1, 2]).map((r) => r.id);
        const O = readings('o', 200, [0]).map((r) => r.id);
        const wanted = sorted([
          ...baseRows()
            .filter((r) => hourOf(r) !== 0)
            .map((r) => r.id),
          ...A,
          ...O,
        ]);

        const { settled, attempts } = inProcess(table);

        expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
        // The second to commit lost version 2 to the first and re-applied its change on it.
        expect(attempts).toEqual(
          order === 'append-first' ? [['created'], ['lost', 'created']] : [['lost', 'created'], ['created']],
        );
        expect(sorted(await ids(table))).toEqual(wanted);
        expect(sorted(pyTable(table).ids)).toEqual(wanted);
        expectLinearHistory(table, 3);
        expect(pyTable(table).history.map((s) => s.operation)).toEqual(
          order === 'append-first' ? ['append', 'append', 'overwrite'] : ['append', 'overwrite', 'append'],
        );
        expectNoStrayFiles(table);
      },
    );

    it('an append and an overwrite of the same hour: the result is one of the two serial orders', async () => {
      const table = 'append-vs-overwrite-same-hour';
      const appended = readings('a', 100, [0]).map((r) => r.id);
      const O = readings('o', 200, [0]).map((r) => r.id);
      const others = baseRows()
        .filter((r) => hourOf(r) !== 0)
        .map((r) => r.id);
      const { settled } = inProcess(table);

      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
      const [append, overwrite] = settled.map((s) => fulfilled(s).version);
      // Overwrite last: the hour holds only its rows. Append last: the append's rows join them.
      const wanted = sorted(
        (overwrite as number) > (append as number) ? [...others, ...O] : [...others, ...O, ...appended],
      );
      expect(sorted(await ids(table))).toEqual(wanted);
      expect(sorted(pyTable(table).ids)).toEqual(wanted);
      expectLinearHistory(table, 3);
    });

    it.each(['compactions-in-process', 'compactions-processes'])(
      '%s: of two compactions of one partition one wins, the other fails with a retryable conflict; rows unchanged',
      async (table) => {
        let codes: string[];
        if (table === 'compactions-in-process') {
          const { settled } = inProcess(table);
          const rejected = settled.filter((s) => s.status === 'rejected') as PromiseRejectedResult[];
          expect(rejected).toHaveLength(1);
          const error = rejected[0]?.reason as IcebergError;
          expect(error).toBeInstanceOf(IcebergError);
          expect(error.retryable).toBe(true);
          codes = settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as IcebergError).code));
        } else {
          codes = (results[table] as string[][]).map((l) =>
            outcome(l).split(' ')[0] === 'ok' ? 'ok' : (outcome(l).split(' ')[1] as string),
          );
        }

        expect(sorted(codes)).toEqual(['ICEBERG_COMMIT_CONFLICT', 'ok']);
        expect(sorted(await ids(table))).toEqual(sorted(baseIds));
        expect(sorted(pyTable(table).ids)).toEqual(sorted(baseIds));
        expectLinearHistory(table, 2);
        expect(pyTable(table).history.map((s) => s.operation)).toEqual(['append', 'replace']);
        expectNoStrayFiles(table);
      },
    );
  });
});
