// `pnpm bench coinmarketcap`: 5,000 coins × 24 snapshots into PostgreSQL. Our store (COPY into
// staging tables, then upsert, one transaction per load) against one INSERT per row, raw COPY
// (the ceiling), AWS SDK for pandas' `wr.postgresql.to_sql(mode='upsert')` and dlt's postgres
// destination (merge), each in its own process against its own embedded PostgreSQL. One more run
// of the store goes through a pool that times every statement it sends: where a load's time goes.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type NormalizedListings,
  normalizeListings,
  PostgresStore,
  quoteSchema,
} from '@tributary/coinmarketcap';
import { startPostgres } from '@tributary/local';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { generateFixtures } from '../packages/coinmarketcap/fixtures/generate.js';
import { int, maxRssMiB, parseCount, stopwatch } from './common.js';

export const description =
  'PostgreSQL loads: PostgresStore vs one INSERT per row, raw COPY, awswrangler upsert and dlt merge';

const KINDS = {
  store: 'PostgresStore.load (COPY → staging → upsert, 1 transaction per snapshot)',
  insert: 'one INSERT per row (quote table)',
  copy: 'raw pg-copy-streams COPY (quote table, the ceiling)',
  awswrangler: "awswrangler wr.postgresql.to_sql(mode='upsert'), pg8000, 1 commit per snapshot",
  dlt: "dlt postgres destination, write_disposition='merge' (insert_values)",
  'dlt-csv': "dlt postgres destination, write_disposition='merge' (csv, COPY)",
  'store-traced': 'PostgresStore.load again, every statement timed (the breakdown)',
} as const;
type Kind = keyof typeof KINDS;
const KIND_IDS = Object.keys(KINDS) as Kind[];
/** Issue 18: the store's quote rows/s at least half a raw COPY's, and faster than each Python loader. */
const STORE_OVER_COPY = 0.5;
const PYTHON_LOADERS: readonly Kind[] = ['awswrangler', 'dlt', 'dlt-csv'];
const PYTHON = 'spark/.venv/bin/python';
const PYTHON_SCRIPT = 'bench/coinmarketcap-baselines.py';

const USAGE = `pnpm bench coinmarketcap [--coins N] [--snapshots N] [--capped N] [--only a,b]
  --coins      coins per snapshot (default 5000)
  --snapshots  snapshots a day apart (default 24)
  --capped     quote rows for the one-INSERT-per-row step (default 20000; its rate is per row)
  --only       steps: ${KIND_IDS.join(', ')}`;

interface StepInput {
  kind: Kind;
  coins: number;
  snapshots: number;
  capped: number;
  /** Where a Python loader's input files (and dlt's pipeline folder) go. */
  dir: string;
}

/** Time spent in one kind of statement over every load of the traced run. */
interface StatementTime {
  label: string;
  count: number;
  seconds: number;
}

interface StepResult {
  kind: Kind;
  rows: number;
  quoteRows: number;
  seconds: number;
  /** CPU seconds of the loading process over the loads (the Python process's for the Python loaders). */
  cpuSeconds: number;
  /** CPU seconds of the PostgreSQL server (all its processes) over the loads; undefined without /proc. */
  serverCpuSeconds: number | undefined;
  prepareSeconds: number;
  maxRssMiB: number;
  /** Rows in the quote and cryptocurrency tables the step loaded, and `sum(price)` of its quotes as text. */
  counted: { quotes: number; coins: number; priceSum: string };
  expected: { quotes: number; coins: number };
  verified: boolean;
  versions?: string;
  /** The Python loaders: seconds of each snapshot's load. */
  snapshotSeconds?: number[];
  /** store-traced: time per kind of statement, the loads' total and the rows each table changed. */
  trace?: {
    statements: StatementTime[];
    loadSeconds: number;
    tables: Record<string, { inserted: number; updated: number }>;
  };
}

function parseOptions(args: string[]) {
  let coins = 5000;
  let snapshots = 24;
  let capped = 20_000;
  let kinds: Kind[] = KIND_IDS;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--coins') coins = parseCount(arg, args[++i], USAGE);
    else if (arg === '--snapshots') snapshots = parseCount(arg, args[++i], USAGE);
    else if (arg === '--capped') capped = parseCount(arg, args[++i], USAGE);
    else if (arg === '--only') {
      const names = (args[++i] ?? '').split(',').filter(Boolean);
      const unknown = names.filter((n) => !KIND_IDS.includes(n as Kind));
      if (names.length === 0 || unknown.length > 0)
        throw new Error(`unknown step ${unknown.join(', ')}\n${USAGE}`);
      kinds = KIND_IDS.filter((k) => names.includes(k));
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { coins, snapshots, capped, kinds };
}

export function plan(args: string[], context: { workdir: string }) {
  const { kinds, ...options } = parseOptions(args);
  const steps = kinds.map((kind) => {
    const dir = join(context.workdir, kind);
    return { label: KINDS[kind], input: { kind, ...options, dir } satisfies StepInput, removeAfter: [dir] };
  });
  return {
    title: `coinmarketcap: ${int(options.coins)} coins × ${options.snapshots} snapshots → PostgreSQL 18 (embedded; Node ${process.version}, ${cpus().length} CPUs)`,
    steps,
    options,
  };
}

function snapshotsOf(input: StepInput): NormalizedListings[] {
  const fixtures = generateFixtures({ coins: input.coins, snapshots: input.snapshots });
  return Array.from({ length: input.snapshots }, (_, s) =>
    normalizeListings(fixtures.listings(s, ['USD']), { convert: 'USD' }),
  );
}

const quoteColumns = quoteSchema.columns.map((c) => c.name);

function csvValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\n\r]/.test(text) || text === '' ? `"${text.replace(/"/g, '""')}"` : text;
}

const run = promisify(execFile);

/** User and system seconds of a process, and of its children it has waited for, from /proc (Linux). */
function processCpu(pid: number | string, withReaped: boolean): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name (which may hold spaces), from the state on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (i: number) => Number(fields[i]);
  // utime, stime (fields 14 and 15 of proc(5)), then cutime and cstime, in clock ticks: 1/100 s
  // (USER_HZ, which Linux keeps at 100 whatever the kernel's own tick rate).
  return (ticks(11) + ticks(12) + (withReaped ? ticks(13) + ticks(14) : 0)) / 100;
}

/**
 * CPU seconds of a PostgreSQL server so far: the postmaster, every live child (backends,
 * WAL writer, checkpointer…) and the children that already ended (which the postmaster reaped).
 * `undefined` where there is no /proc to read.
 */
function serverCpu(postmaster: number): number | undefined {
  try {
    let seconds = processCpu(postmaster, true);
    for (const entry of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (parent === postmaster) seconds += processCpu(entry, false);
      } catch {
        // The process ended meanwhile: the postmaster's reaped time holds it once it is waited for.
      }
    }
    return seconds;
  } catch {
    return undefined;
  }
}

interface PythonLoad {
  seconds: number;
  snapshotSeconds: number[];
  cpuSeconds: number;
  maxRssMiB: number;
  versions: string;
}

/**
 * A Python loader in a process of its own, which measures itself. Its input is the store's
 * normalized snapshots (cryptocurrency and quote rows), written as JSON before it starts.
 */
async function loadWithPython(
  input: StepInput,
  snapshots: NormalizedListings[],
  url: string,
): Promise<PythonLoad> {
  const data = join(input.dir, 'snapshots');
  mkdirSync(data, { recursive: true });
  for (const [i, s] of snapshots.entries()) {
    writeFileSync(
      join(data, `snapshot-${String(i).padStart(5, '0')}.json`),
      JSON.stringify({ cryptocurrency: s.cryptocurrency, quote: s.quote }),
    );
  }
  const args =
    input.kind === 'awswrangler'
      ? ['awswrangler', '--input', data]
      : [
          'dlt',
          '--input',
          data,
          '--format',
          input.kind === 'dlt-csv' ? 'csv' : 'insert_values',
          '--pipelines-dir',
          join(input.dir, 'dlt'),
        ];
  const { stdout } = await run(PYTHON, [PYTHON_SCRIPT, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      BENCH_PG_URL: url,
      PYTHONDONTWRITEBYTECODE: '1',
      // dlt: no anonymous telemetry (there is no network here anyway), no progress output.
      RUNTIME__DLTHUB_TELEMETRY: 'false',
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as PythonLoad;
}

/** The statement kinds the trace tells apart, named after the table they touch. */
function statementLabel(sql: string): string {
  // Staging tables are named tributary_staging_<table>_<hash of the table's DDL>.
  const staging = /tributary_staging_([a-z_]+?)(?:_[0-9a-f]{12})?\b/.exec(sql)?.[1];
  if (/^\s*BEGIN/i.test(sql)) return 'BEGIN';
  if (/^\s*COMMIT/i.test(sql)) return 'COMMIT';
  if (/^\s*CREATE TEMP TABLE/i.test(sql)) return 'CREATE TEMP TABLE (staging)';
  if (/^\s*COPY/i.test(sql)) {
    if (staging !== undefined) return `COPY → staging ${staging}`;
    // A COPY straight into a table (the quotes when none of them is stored yet).
    const table = /^\s*COPY\s+(?:"?[^"\s.]+"?\.)?"?([^"\s(]+)"?/i.exec(sql)?.[1] ?? '?';
    return `COPY → ${table} (straight in)`;
  }
  // An upsert from staging: for tables whose rows never change, an INSERT of the rows not stored
  // yet; for the others, an UPDATE of the stored rows that change, then (only when some staged
  // keys may be new) an INSERT of the new keys.
  if (staging !== undefined && /^\s*INSERT/i.test(sql)) return `upsert ${staging} (INSERT)`;
  if (staging !== undefined && /^\s*UPDATE/i.test(sql)) return `upsert ${staging}: UPDATE of changed rows`;
  if (staging !== undefined && /^\s*WITH changed AS/i.test(sql))
    return `upsert ${staging}: INSERT of new keys`;
  if (/^\s*INSERT INTO\s+\S*load/i.test(sql)) return 'INSERT the load row';
  return sql.trim().split(/\s+/).slice(0, 3).join(' ');
}

/**
 * A pool whose checked-out clients time each statement: a text query until its promise settles,
 * a COPY (a stream handed to `query`) from the call until the stream finishes, so its time holds
 * the CSV encoding that feeds it. Nothing else changes: the store sees the same pool and clients.
 */
function tracedPool(pool: pg.Pool, times: Map<string, StatementTime>): pg.Pool {
  const record = (sql: string, started: number) => {
    const label = statementLabel(sql);
    const entry = times.get(label) ?? { label, count: 0, seconds: 0 };
    entry.count++;
    entry.seconds += (performance.now() - started) / 1000;
    times.set(label, entry);
  };
  const tracedClient = (client: pg.PoolClient): pg.PoolClient =>
    new Proxy(client, {
      get(target, property) {
        if (property === 'query') {
          return (first: unknown, ...rest: unknown[]) => {
            const started = performance.now();
            const result = (target.query as (...args: unknown[]) => unknown)(first, ...rest);
            if (typeof first === 'string') {
              return (result as Promise<unknown>).finally(() => record(first, started));
            }
            const text = (first as { text?: string }).text ?? '';
            const stream = result as NodeJS.EventEmitter;
            if (typeof stream?.once === 'function' && /^\s*COPY/i.test(text)) {
              stream.once('finish', () => record(text, started));
            }
            return result;
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return new Proxy(pool, {
    get(target, property) {
      if (property === 'connect') return async () => tracedClient(await target.connect());
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export async function runStep(input: StepInput): Promise<StepResult> {
  const prepare = stopwatch();
  const snapshots = snapshotsOf(input);
  const prepareSeconds = prepare();
  const server = await startPostgres();
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  try {
    const store = new PostgresStore({ pool });
    await store.init();
    const quotes = snapshots.flatMap((s) => s.quote as Record<string, unknown>[]);
    const coins = new Set(snapshots.flatMap((s) => s.cryptocurrency.map((c) => c.id))).size;
    let table = 'coinmarketcap.quote';
    let coinTable = 'coinmarketcap.cryptocurrency';
    let rows = 0;
    let quoteRows = 0;
    let seconds: number;
    let cpuSeconds: number;
    let rss: number | undefined;
    let versions: string | undefined;
    let snapshotSeconds: number[] | undefined;
    let trace: StepResult['trace'];
    const serverStarted = serverCpu(server.pid);
    const elapsed = stopwatch();
    if (input.kind === 'store' || input.kind === 'store-traced') {
      const times = new Map<string, StatementTime>();
      const loader = input.kind === 'store' ? store : new PostgresStore({ pool: tracedPool(pool, times) });
      const tables: Record<string, { inserted: number; updated: number }> = {};
      for (const snapshot of snapshots) {
        const result = await loader.load(snapshot, { source: 'bench' });
        rows += result.rows;
        for (const [name, counts] of Object.entries(result.tables)) {
          const sum = tables[name] ?? { inserted: 0, updated: 0 };
          tables[name] = sum;
          sum.inserted += counts.inserted;
          sum.updated += counts.updated;
        }
      }
      quoteRows = quotes.length;
      seconds = elapsed();
      cpuSeconds = elapsed.cpu();
      if (input.kind === 'store-traced')
        trace = { statements: [...times.values()], loadSeconds: seconds, tables };
    } else if (input.kind === 'insert') {
      const client = await pool.connect();
      try {
        const sql = `INSERT INTO ${table} (${quoteColumns.join(', ')}) VALUES (${quoteColumns.map((_, i) => `$${i + 1}`).join(', ')})`;
        for (const quote of quotes.slice(0, input.capped)) {
          await client.query(
            sql,
            quoteColumns.map((c) => quote[c] ?? null),
          );
          rows++;
        }
      } finally {
        client.release();
      }
      quoteRows = rows;
      seconds = elapsed();
      cpuSeconds = elapsed.cpu();
    } else if (input.kind === 'copy') {
      const client = await pool.connect();
      try {
        const stream = client.query(
          copyFrom(`COPY ${table} (${quoteColumns.join(', ')}) FROM STDIN (FORMAT csv)`),
        );
        const done = new Promise<void>((resolve, reject) => {
          stream.on('finish', resolve);
          stream.on('error', reject);
        });
        let chunk = '';
        for (const quote of quotes) {
          chunk += `${quoteColumns.map((c) => csvValue(quote[c])).join(',')}\n`;
          if (chunk.length > 1 << 16) {
            if (!stream.write(chunk)) await new Promise((resolve) => stream.once('drain', resolve));
            chunk = '';
          }
        }
        stream.end(chunk);
        await done;
      } finally {
        client.release();
      }
      rows = quoteRows = quotes.length;
      seconds = elapsed();
      cpuSeconds = elapsed.cpu();
    } else {
      // The Python loaders time themselves (their loads alone, after building their frames).
      const load = await loadWithPython(input, snapshots, server.url);
      seconds = load.seconds;
      cpuSeconds = load.cpuSeconds;
      rss = load.maxRssMiB;
      versions = load.versions;
      snapshotSeconds = load.snapshotSeconds;
      quoteRows = quotes.length;
      rows = quotes.length + snapshots.reduce((n, s) => n + s.cryptocurrency.length, 0);
      if (input.kind !== 'awswrangler') {
        table = 'dlt_bench.quote';
        coinTable = 'dlt_bench.cryptocurrency';
      }
    }
    const serverEnded = serverCpu(server.pid);
    const serverCpuSeconds =
      serverStarted === undefined || serverEnded === undefined ? undefined : serverEnded - serverStarted;
    const expectCoins = input.kind !== 'insert' && input.kind !== 'copy';
    const [counts] = (
      await pool.query(
        `SELECT (SELECT count(*)::int FROM ${table}) AS quotes, (SELECT sum(price)::text FROM ${table}) AS price_sum,
                ${expectCoins ? `(SELECT count(*)::int FROM ${coinTable})` : '0'} AS coins`,
      )
    ).rows;
    const counted = { quotes: counts.quotes, coins: counts.coins, priceSum: String(counts.price_sum) };
    const expected = { quotes: quoteRows, coins: expectCoins ? coins : 0 };
    return {
      kind: input.kind,
      rows,
      quoteRows,
      seconds,
      cpuSeconds,
      serverCpuSeconds,
      prepareSeconds,
      maxRssMiB: rss ?? maxRssMiB(),
      counted,
      expected,
      verified: counted.quotes === expected.quotes && counted.coins === expected.coins,
      ...(versions ? { versions } : {}),
      ...(snapshotSeconds ? { snapshotSeconds } : {}),
      ...(trace ? { trace } : {}),
    };
  } finally {
    await pool.end();
    await server.stop();
  }
}

interface Outcome {
  step: { label: string; input: StepInput };
  ok: boolean;
  result?: StepResult;
  error?: string;
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)} %`;

/** Where the traced store run's time went, largest first. */
function breakdown(trace: NonNullable<StepResult['trace']>, snapshots: number): string {
  const inStatements = trace.statements.reduce((n, s) => n + s.seconds, 0);
  const parts = [...trace.statements]
    .sort((a, b) => b.seconds - a.seconds)
    .map(
      (s) => `${s.label} ${s.seconds.toFixed(2)} s (${pct(s.seconds, trace.loadSeconds)}, ${int(s.count)}×)`,
    );
  const outside = trace.loadSeconds - inStatements;
  const changed = Object.entries(trace.tables)
    .filter(([, c]) => c.inserted + c.updated > 0)
    .map(([name, c]) => `${name} ${int(c.inserted)} inserted / ${int(c.updated)} updated`)
    .join(', ');
  return (
    `where PostgresStore.load's time goes (the traced run, ${snapshots} loads, ${trace.loadSeconds.toFixed(2)} s; each statement timed from the call until it settled, a COPY until its stream finished, so it includes the CSV encoding that feeds it): ` +
    `${parts.join('; ')}; outside any statement (checking out the connection, the event loop between statements) ${outside.toFixed(2)} s (${pct(outside, trace.loadSeconds)}). Rows the loads changed: ${changed}.`
  );
}

export function summarize(outcomes: Outcome[]) {
  const failures: string[] = [];
  const notes: string[] = [];
  const targetNotes: string[] = [];
  const done = (kind: Kind) => outcomes.find((o) => o.ok && o.result?.kind === kind)?.result;
  const rate = (r: StepResult) => r.quoteRows / r.seconds;
  const copy = done('copy');
  const store = done('store');
  const rows = outcomes.map((o) => {
    const r = o.result;
    if (!o.ok || !r) {
      failures.push(`${o.step.label}: ${o.error ?? 'no result'}`);
      return {
        step: o.step.label,
        rows: '—',
        quotes: '—',
        seconds: 'FAILED',
        rate: '—',
        ratio: '—',
        vsStore: '—',
        cpu: '—',
        serverCpu: '—',
        rss: '—',
      };
    }
    if (!r.verified)
      failures.push(
        `${o.step.label}: loaded ${int(r.counted.quotes)} quote rows and ${int(r.counted.coins)} coins, expected ${int(r.expected.quotes)} and ${int(r.expected.coins)}`,
      );
    // Every loader that took all the quote rows must hold the same prices, to the last decimal.
    if (r.kind !== 'insert' && copy && r.counted.priceSum !== copy.counted.priceSum)
      failures.push(`${o.step.label}: sum(price) ${r.counted.priceSum}, raw COPY's ${copy.counted.priceSum}`);
    return {
      step: o.step.label,
      rows: int(r.rows),
      quotes: int(r.quoteRows),
      seconds: r.seconds.toFixed(2),
      rate: int(rate(r)),
      ratio: copy ? `${(rate(r) / rate(copy)).toFixed(2)}×` : '—',
      vsStore: store && r !== store ? `${(rate(store) / rate(r)).toFixed(2)}×` : '—',
      cpu: r.cpuSeconds.toFixed(2),
      serverCpu: r.serverCpuSeconds === undefined ? '—' : r.serverCpuSeconds.toFixed(2),
      rss: r.maxRssMiB.toFixed(0),
    };
  });
  // Issue 18: the store at least half as fast as raw COPY, and faster than each Python loader.
  if (store && copy) {
    const ratio = rate(store) / rate(copy);
    targetNotes.push(
      `target · PostgresStore.load vs raw COPY of the same quote rows (≥ ${STORE_OVER_COPY}×): ${int(rate(store))} vs ${int(rate(copy))} quote rows/s = ${ratio.toFixed(2)}×: ${ratio >= STORE_OVER_COPY ? 'met' : 'MISSED'}`,
    );
  }
  // One connection is one backend process: a load's statements run one after the other on one
  // core, so the server's CPU over the loads is a floor under their wall time, whatever the client does.
  if (store?.serverCpuSeconds !== undefined && copy?.serverCpuSeconds !== undefined) {
    const ceiling = store.quoteRows / store.serverCpuSeconds / rate(copy);
    notes.push(
      `PostgreSQL's own work: the store's loads took ${store.serverCpuSeconds.toFixed(2)} s of the server's CPU, raw COPY ${copy.serverCpuSeconds.toFixed(2)} s (${(store.serverCpuSeconds / copy.serverCpuSeconds).toFixed(1)}×: besides the same quote rows, the store stages and upserts each snapshot's cryptocurrency, tag and cryptocurrency_tag rows). A load's statements run one after the other in one backend process, so that CPU time is a floor under the loads' wall time: with the client costing nothing, the store would reach at most ${ceiling.toFixed(2)}× raw COPY's rate (the store's wall time is ${(store.seconds / store.serverCpuSeconds).toFixed(2)}× the server's CPU time).`,
    );
  }
  for (const kind of PYTHON_LOADERS) {
    const other = done(kind);
    if (!store || !other) continue;
    const ratio = rate(store) / rate(other);
    targetNotes.push(
      `target · PostgresStore.load vs ${KINDS[kind]} (faster): ${int(rate(store))} vs ${int(rate(other))} quote rows/s = ${ratio.toFixed(2)}× (CPU ${store.cpuSeconds.toFixed(1)} vs ${other.cpuSeconds.toFixed(1)} s, peak RSS ${store.maxRssMiB.toFixed(0)} vs ${other.maxRssMiB.toFixed(0)} MiB): ${ratio > 1 ? 'met' : 'MISSED'}`,
    );
  }
  const traced = done('store-traced');
  if (traced?.trace) notes.push(breakdown(traced.trace, outcomes[0]?.step.input.snapshots ?? 0));
  if (traced && store)
    notes.push(
      `the traced run took ${traced.seconds.toFixed(2)} s against the untraced ${store.seconds.toFixed(2)} s (${(traced.seconds / store.seconds).toFixed(2)}×): the timing wrapper's own cost, plus the machine's noise.`,
    );
  notes.push(
    "rows/s counts quote rows (the bulk of a load); PostgresStore also upserts the cryptocurrency, platform, tag and cryptocurrency_tag rows of each snapshot and writes a load row, inside the same transaction. awswrangler and dlt load the cryptocurrency and quote rows of each snapshot (the store's normalized rows, as Arrow tables with decimal128(38, 18) amounts; pandas frames of Python ints, Decimals and Timestamps for awswrangler); awswrangler into the store's own tables (created by PostgresStore.init, the same keys and indexes), dlt into tables of its own (dataset dlt_bench, its primary keys and _dlt columns, merge = delete-insert through staging tables).",
    'Each step runs in its own process with its own embedded PostgreSQL (fsync off); generating and normalizing the snapshots is not timed, nor (for the Python loaders) building their frames and their imports: their time is the loads alone, measured by the Python process, whose CPU and peak RSS the table gives.',
    "Checks: each step's tables hold exactly the quote rows (and coins) it loaded, and every step that loaded every quote has the same sum(price) as raw COPY, to the last of the 18 decimals.",
  );
  for (const o of outcomes) {
    const times = o.result?.snapshotSeconds;
    if (!times || times.length < 2) continue;
    const rest = times.slice(1).sort((a, b) => a - b);
    const median = rest[Math.floor(rest.length / 2)] ?? Number.NaN;
    notes.push(
      `${o.step.label}: the first snapshot took ${times[0]?.toFixed(2)} s (dlt creates its tables in it), the median of the others ${median.toFixed(2)} s, the slowest ${rest.at(-1)?.toFixed(2)} s.`,
    );
  }
  const versions = outcomes.flatMap((o) => (o.result?.versions ? [o.result.versions] : []));
  if (versions.length > 0) notes.push(`Python side (spark/.venv): ${[...new Set(versions)].join('; ')}.`);
  notes.push(...targetNotes);
  return {
    columns: [
      { key: 'step', title: 'step', align: 'left' },
      { key: 'rows', title: 'rows written' },
      { key: 'quotes', title: 'quote rows' },
      { key: 'seconds', title: 'time s' },
      { key: 'rate', title: 'quote rows/s' },
      { key: 'ratio', title: '× COPY' },
      { key: 'vsStore', title: 'store is ×' },
      { key: 'cpu', title: 'CPU s' },
      { key: 'serverCpu', title: 'PostgreSQL CPU s' },
      { key: 'rss', title: 'peak RSS MiB' },
    ],
    rows,
    notes,
    failures,
  };
}
