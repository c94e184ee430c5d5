#!/usr/bin/env node
// `pnpm bench <name> [options]` runs bench/<name>.bench.ts.
//
// A bench module exports `description`, `plan(args, context)`, `runStep(input)` and
// `summarize(results, { ...context, plan })`. This parent asks the plan for its steps, runs each step in its
// own child process (peak RSS is per process, so every candidate is measured alone), collects the
// one JSON line each child prints, and prints the summary as a Markdown table. It exits non-zero
// when a step crashed or the summary reports a failure (e.g. output that does not verify).
//
// Parent-only options: --keep (keep the work directory), --workdir <dir> (use, and keep, this one).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');
const SUFFIX = '.bench.ts';

function benchNames() {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort();
}

async function loadBench(name) {
  const url = pathToFileURL(join(benchDir, `${name}${SUFFIX}`)).href;
  // In a child, tsx is already registered by --import; the parent loads TypeScript on demand.
  if (process.env.TRIBUTARY_BENCH_CHILD) return import(url);
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(url, import.meta.url);
}

async function childMain(name, inputJson) {
  const bench = await loadBench(name);
  const result = await bench.runStep(JSON.parse(inputJson));
  // The one line the parent reads; everything else a step says goes to stderr. Exit once it is
  // out, so a handle a candidate's library leaves open cannot hang the run.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

function runChild(name, input, nodeArgs = [], env = {}) {
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [...nodeArgs, '--import', 'tsx', fileURLToPath(import.meta.url), '--step', name, JSON.stringify(input)],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...env, TRIBUTARY_BENCH_CHILD: '1' },
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0) {
        try {
          resolvePromise({ ok: true, seconds, result: JSON.parse(line) });
          return;
        } catch {
          // fall through: a child that exits 0 without its JSON line failed too
        }
      }
      resolvePromise({
        ok: false,
        seconds,
        error: `exited with ${signal ?? `code ${code}`}${line ? `: ${line}` : ''}`,
      });
    });
  });
}

function renderTable(columns, rows) {
  const cells = rows.map((row) => columns.map((c) => String(row[c.key] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const pad = (text, i) => (columns[i].align === 'left' ? text.padEnd(widths[i]) : text.padStart(widths[i]));
  const line = (values) => `| ${values.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (columns[i].align === 'left' ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(columns.map((c) => c.title)), rule, ...cells.map(line)].join('\n');
}

async function parentMain(argv) {
  const names = benchNames();
  const [name, ...rest] = argv;
  if (!name || name.startsWith('-')) {
    console.log('usage: pnpm bench <name> [options]\n\navailable benchmarks:');
    for (const n of names) {
      const bench = await loadBench(n);
      console.log(`  ${n.padEnd(12)} ${bench.description ?? ''}`);
    }
    return 0;
  }
  if (!names.includes(name)) {
    console.error(`no benchmark "${name}" (bench/${name}${SUFFIX}); available: ${names.join(', ')}`);
    return 2;
  }
  const workdirAt = rest.indexOf('--workdir');
  // A work directory the caller names is theirs: never deleted.
  const keep = rest.includes('--keep') || workdirAt >= 0;
  const args = rest.filter(
    (a, i) => a !== '--keep' && (workdirAt < 0 || (i !== workdirAt && i !== workdirAt + 1)),
  );
  let workdir;
  if (workdirAt >= 0) {
    workdir = resolve(rest[workdirAt + 1] ?? '');
    mkdirSync(workdir, { recursive: true });
  } else {
    workdir = mkdtempSync(join(tmpdir(), `tributary-bench-${name}-`));
  }

  const bench = await loadBench(name);
  const context = { workdir, repoRoot };
  let plan;
  try {
    plan = await bench.plan(args, context);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    if (!keep) rmSync(workdir, { recursive: true, force: true });
    return 2;
  }
  console.error(`${plan.title}\nwork directory: ${workdir}\n`);
  const results = [];
  let crashed = 0;
  for (const [i, step] of plan.steps.entries()) {
    const prefix = `[${String(i + 1).padStart(String(plan.steps.length).length)}/${plan.steps.length}] ${step.label}`;
    process.stderr.write(`${prefix} …\n`);
    const outcome = await runChild(name, step.input, step.nodeArgs, step.env);
    if (!outcome.ok) crashed++;
    process.stderr.write(
      `${prefix} ${outcome.ok ? 'done' : `FAILED (${outcome.error})`} in ${outcome.seconds.toFixed(1)} s\n`,
    );
    results.push({ step, ...outcome });
    if (!keep) for (const path of step.removeAfter ?? []) rmSync(path, { recursive: true, force: true });
  }

  const summary = await bench.summarize(results, { ...context, plan });
  console.log(`\n## ${plan.title}\n`);
  console.log(renderTable(summary.columns, summary.rows));
  if (summary.notes.length > 0) console.log(`\n${summary.notes.map((n) => `- ${n}`).join('\n')}`);
  if (summary.failures.length > 0) {
    console.error(`\nFAILED:\n${summary.failures.map((f) => `- ${f}`).join('\n')}`);
  }
  if (keep) console.error(`\noutput kept in ${workdir}`);
  else rmSync(workdir, { recursive: true, force: true });
  return summary.failures.length > 0 || crashed > 0 ? 1 : 0;
}

const argv = process.argv.slice(2);
if (argv[0] === '--step') {
  await childMain(argv[1], argv[2]);
} else {
  process.exitCode = await parentMain(argv);
}
