// `pnpm bench coinmarketcap`: 5,000 coins × 24 snapshots into PostgreSQL. Our store (COPY into
// staging tables, then upsert, one transaction per load) against one INSERT per row and raw COPY
// (the ceiling), each in its own process against its own embedded PostgreSQL.
import { cpus } from 'node:os';
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

export const description = 'PostgreSQL loads: PostgresStore vs one INSERT per row vs raw COPY';

const USAGE = `pnpm bench coinmarketcap [--coins N] [--snapshots N] [--capped N]
  --coins      coins per snapshot (default 5000)
  --snapshots  snapshots a day apart (default 24)
  --capped     quote rows for the one-INSERT-per-row step (default 20000; its rate is per row)`;

type Kind = 'store' | 'insert' | 'copy';
const KINDS: Record<Kind, string> = {
  store: 'PostgresStore.load (COPY → staging → upsert, 1 transaction per snapshot)',
  insert: 'one INSERT per row (quote table)',
  copy: 'raw pg-copy-streams COPY (quote table, the ceiling)',
};

interface StepInput {
  kind: Kind;
  coins: number;
  snapshots: number;
  capped: number;
}

interface StepResult {
  kind: Kind;
  rows: number;
  quoteRows: number;
  seconds: number;
  prepareSeconds: number;
  maxRssMiB: number;
  verified: boolean;
}

function parseOptions(args: string[]) {
  let coins = 5000;
  let snapshots = 24;
  let capped = 20_000;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--coins') coins = parseCount(arg, args[++i], USAGE);
    else if (arg === '--snapshots') snapshots = parseCount(arg, args[++i], USAGE);
    else if (arg === '--capped') capped = parseCount(arg, args[++i], USAGE);
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return { coins, snapshots, capped };
}

export function plan(args: string[]) {
  const options = parseOptions(args);
  const steps = (Object.keys(KINDS) as Kind[]).map((kind) => ({
    label: KINDS[kind],
    input: { kind, ...options } satisfies StepInput,
  }));
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
    const table = `coinmarketcap.quote`;
    let rows = 0;
    let quoteRows = 0;
    const elapsed = stopwatch();
    if (input.kind === 'store') {
      for (const snapshot of snapshots) rows += (await store.load(snapshot, { source: 'bench' })).rows;
      quoteRows = quotes.length;
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
    } else {
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
    }
    const seconds = elapsed();
    const { rows: counted } = await pool.query('SELECT count(*)::int AS n FROM coinmarketcap.quote');
    return {
      kind: input.kind,
      rows,
      quoteRows,
      seconds,
      prepareSeconds,
      maxRssMiB: maxRssMiB(),
      verified: counted[0].n === quoteRows,
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

export function summarize(outcomes: Outcome[]) {
  const failures: string[] = [];
  const copy = outcomes.find((o) => o.result?.kind === 'copy')?.result;
  const rows = outcomes.map((o) => {
    const r = o.result;
    if (!o.ok || !r) {
      failures.push(`${o.step.label}: ${o.error ?? 'no result'}`);
      return { step: o.step.label, rows: '—', quotes: '—', seconds: '—', rate: '—', ratio: '—', rss: '—' };
    }
    if (!r.verified) failures.push(`${o.step.label}: the quote table does not hold the rows loaded`);
    const quoteRate = r.quoteRows / r.seconds;
    return {
      step: o.step.label,
      rows: int(r.rows),
      quotes: int(r.quoteRows),
      seconds: r.seconds.toFixed(2),
      rate: int(quoteRate),
      ratio: copy ? `${(quoteRate / (copy.quoteRows / copy.seconds)).toFixed(2)}×` : '—',
      rss: r.maxRssMiB.toFixed(0),
    };
  });
  const notes = [
    'rows/s counts quote rows (the bulk of a load); PostgresStore also upserts the cryptocurrency, platform, tag and cryptocurrency_tag rows of each snapshot and writes a load row, inside the same transaction.',
    'Each step runs in its own process with its own embedded PostgreSQL (fsync off); generating and normalizing the snapshots is not timed.',
  ];
  return {
    columns: [
      { key: 'step', title: 'step', align: 'left' },
      { key: 'rows', title: 'rows written' },
      { key: 'quotes', title: 'quote rows' },
      { key: 'seconds', title: 'time s' },
      { key: 'rate', title: 'quote rows/s' },
      { key: 'ratio', title: '× COPY' },
      { key: 'rss', title: 'peak RSS MiB' },
    ],
    rows,
    notes,
    failures,
  };
}
