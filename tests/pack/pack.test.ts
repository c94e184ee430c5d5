import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What a user gets from npm is the tarball, not the workspace: this test packs every published
// package the way `pnpm publish` would (its `prepack` builds it, so no prior build is needed),
// installs the tarballs into a scratch node_modules and loads them from plain Node processes, once
// through `import` and once through `require`.

const execFileAsync = promisify(execFile);

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const packageNames = ['core', 'coinmarketcap', 'streams', 'sensors', 'lake', 'warehouse'] as const;
type PackageName = (typeof packageNames)[number];

const coreApi = ['defineSchema', 'TributaryError', 'withRetry', 'Batcher', 'loadConfig'];

// Anything else found in a tarball is a `files` mistake (sources, tests, configs, fixtures).
const allowedEntry = (entry: string): boolean =>
  entry === 'package.json' || entry === 'README.md' || entry === 'LICENSE' || entry.startsWith('dist/');

interface PackageJson {
  name: string;
  version: string;
  main?: string;
  module?: string;
  types?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
}

interface Packed {
  /** Tarball entries relative to the package root, `package/` stripped. */
  entries: string[];
  manifest: PackageJson;
  rawManifest: string;
}

/** An export name mapped to its `typeof`, as seen from a fresh Node process. */
type Surface = Record<string, string>;

/** The end of a failed child process's output: where tsup, pnpm and Node say what went wrong. */
function processOutput(error: unknown): string {
  const {
    stdout = '',
    stderr = '',
    message,
  } = error as { stdout?: string; stderr?: string; message: string };
  const lines = `${stdout}\n${stderr}`.trim().split('\n');
  return lines.length > 1 ? lines.slice(-80).join('\n') : message;
}

let workDir = '';
let scratchDir = '';
const packed = new Map<PackageName, Promise<Packed>>();

async function packOne(name: PackageName): Promise<Packed> {
  const destination = path.join(workDir, 'tarballs', name);
  fs.mkdirSync(destination, { recursive: true });
  try {
    await execFileAsync('pnpm', ['pack', '--pack-destination', destination], {
      cwd: path.join(repoRoot, 'packages', name),
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    throw new Error(`pnpm pack failed for @tributary/${name}:\n${processOutput(error)}`);
  }
  const tarballs = fs.readdirSync(destination).filter((file) => file.endsWith('.tgz'));
  if (tarballs.length !== 1) {
    throw new Error(`expected one tarball for @tributary/${name}, found ${JSON.stringify(tarballs)}`);
  }
  const tarball = path.join(destination, tarballs[0] as string);

  const entries = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.length > 0 && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();

  const target = path.join(scratchDir, 'node_modules', '@tributary', name);
  fs.mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);

  const rawManifest = fs.readFileSync(path.join(target, 'package.json'), 'utf8');
  const manifest = JSON.parse(rawManifest) as PackageJson;
  linkThirdPartyDependencies(name, manifest);
  return { entries, manifest, rawManifest };
}

// Third-party runtime dependencies come from the workspace install: pnpm links each one into the
// package's own node_modules, and Node resolves their own dependencies from the real path.
function linkThirdPartyDependencies(name: PackageName, manifest: PackageJson): void {
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    if (dependency.startsWith('@tributary/')) continue;
    const installed = path.join(repoRoot, 'packages', name, 'node_modules', dependency);
    if (!fs.existsSync(installed)) {
      throw new Error(
        `${dependency} (a dependency of @tributary/${name}) is not installed: run pnpm install`,
      );
    }
    const link = path.join(scratchDir, 'node_modules', dependency);
    if (fs.existsSync(link)) continue;
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(fs.realpathSync(installed), link, 'dir');
  }
}

// A pack's prepack cleans and rebuilds the package's dist, and a dependent's declaration build
// reads that dist: so packages are packed level by level of the dependency graph (core, then lake,
// then streams, then the rest), at most two at a time, since each pack runs tsup and the machines
// have two cores.
const packLevels: PackageName[][] = [
  ['core'],
  ['lake'],
  ['streams', 'coinmarketcap'],
  ['sensors', 'warehouse'],
];

async function packAll(): Promise<void> {
  if (packLevels.flat().sort().join() !== [...packageNames].sort().join()) {
    throw new Error('packLevels must name every package once');
  }
  for (const level of packLevels) {
    const queue = [...level];
    const next = async (): Promise<void> => {
      const name = queue.shift();
      if (name === undefined) return;
      const result = packOne(name);
      packed.set(name, result);
      // A failed package fails its own tests (below), not the others'.
      await result.catch(() => undefined);
      await next();
    };
    await Promise.all([next(), next()]);
  }
}

function getPacked(name: PackageName): Promise<Packed> {
  const result = packed.get(name);
  if (result === undefined) throw new Error(`@tributary/${name} was not packed`);
  return result;
}

/** Every file path an `exports` map points at, whatever its nesting of conditions. */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(exportTargets);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

function runNode(args: string[]): string {
  try {
    return execFileSync(process.execPath, args, { cwd: scratchDir, encoding: 'utf8' });
  } catch (error) {
    throw new Error(`node ${args.join(' ')} failed:\n${processOutput(error)}`);
  }
}

const describeSurface = `Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k]]))`;

function importSurface(specifier: string): Surface {
  const script = `import * as m from '${specifier}'; console.log(JSON.stringify(${describeSurface}));`;
  return JSON.parse(runNode(['--input-type=module', '-e', script])) as Surface;
}

function requireSurface(specifier: string): Surface {
  const script = `const m = require('${specifier}'); console.log(JSON.stringify(${describeSurface}));`;
  return JSON.parse(runNode(['-e', script])) as Surface;
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-pack-'));
  scratchDir = path.join(workDir, 'scratch');
  fs.mkdirSync(path.join(scratchDir, 'node_modules', '@tributary'), { recursive: true });
  // Without a package.json of its own, the scratch folder would be `type`-less, like a user's app.
  fs.writeFileSync(path.join(scratchDir, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  await packAll();
}, 180_000);

afterAll(() => {
  if (workDir !== '') fs.rmSync(workDir, { recursive: true, force: true });
});

describe.each(packageNames)('@tributary/%s tarball', (name) => {
  const specifier = `@tributary/${name}`;

  describe('contents', () => {
    it('holds only dist, package.json and README.md', async () => {
      const { entries } = await getPacked(name);

      expect(entries.filter((entry) => !allowedEntry(entry))).toEqual([]);
      expect(entries.some((entry) => entry.startsWith('src/') || entry.startsWith('tests/'))).toBe(false);
      expect(entries).toContain('package.json');
      expect(entries).toContain('README.md');
      expect(entries.filter((entry) => entry.startsWith('dist/')).length).toBeGreaterThan(0);
    });

    it('ships every file its exports map and entry fields reference', async () => {
      const { entries, manifest } = await getPacked(name);
      const targets = [
        ...exportTargets(manifest.exports),
        ...[manifest.main, manifest.module, manifest.types].filter((field) => field !== undefined),
      ].map((target) => path.posix.normalize(target));

      expect(targets.some((target) => target.endsWith('.d.ts'))).toBe(true);
      expect(targets.some((target) => target.endsWith('.d.cts'))).toBe(true);
      expect(targets.filter((target) => !entries.includes(target))).toEqual([]);
    });

    it('has no workspace: ranges left in its package.json', async () => {
      const { rawManifest, manifest } = await getPacked(name);

      expect(rawManifest).not.toContain('workspace:');
      expect(manifest.name).toBe(specifier);
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        if (!dependency.startsWith('@tributary/')) continue;
        // Internal dependencies must be published packages, or installing the tarball would fail.
        expect(packageNames.map((pkg) => `@tributary/${pkg}`)).toContain(dependency);
      }
    });
  });

  describe('loading', () => {
    it('loads through import and require with the same exports', async () => {
      await getPacked(name);

      const esm = importSurface(specifier);
      const cjs = requireSurface(specifier);

      expect(Object.keys(cjs)).toEqual(Object.keys(esm));
      expect(cjs).toEqual(esm);
      if (name === 'core') {
        expect(coreApi.filter((exported) => !(exported in esm))).toEqual([]);
        expect(esm.TributaryError).toBe('function');
      }
    });

    it('resolves its package.json subpath from both module systems', async () => {
      const { manifest } = await getPacked(name);
      const expected = path.join(scratchDir, 'node_modules', '@tributary', name, 'package.json');

      const fromRequire = runNode(['-e', `console.log(require.resolve('${specifier}/package.json'))`]).trim();
      const fromImport = runNode([
        '--input-type=module',
        '-e',
        `import pkg from '${specifier}/package.json' with { type: 'json' }; console.log(pkg.version);`,
      ]).trim();

      expect(fs.realpathSync(fromRequire)).toBe(fs.realpathSync(expected));
      expect(fromImport).toBe(manifest.version);
    });
  });
});

describe('@tributary/core runtime', () => {
  it('runs core code from both builds, including its ESM-only dependency', async () => {
    const specifier = '@tributary/core';
    await getPacked('core');
    // withRetry calls p-retry, which is ESM-only: the CommonJS build must still reach it.
    const body = `let n = 0;
    const value = await m.withRetry(async () => { if (++n < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' }); return n; }, { baseDelayMs: 1 });
    const row = m.defineSchema({ at: m.field.timestamp() }).parse({ at: '2026-01-01T00:00:00Z' });
    console.log(JSON.stringify({ value, at: row.at.toISOString() }));`;

    const esm = runNode(['--input-type=module', '-e', `import * as m from '${specifier}'; ${body}`]);
    const cjs = runNode(['-e', `const m = require('${specifier}'); (async () => { ${body} })();`]);

    const expected = { value: 3, at: '2026-01-01T00:00:00.000Z' };
    expect(JSON.parse(esm)).toEqual(expected);
    expect(JSON.parse(cjs)).toEqual(expected);
  });
});

// Subpaths that load an optional peer: the user installs the peer; here it comes from the
// workspace install of the package (its devDependency), linked like a runtime dependency.
const subpaths: { name: PackageName; subpath: string; peers: string[]; exports: string[] }[] = [
  {
    name: 'lake',
    subpath: 's3',
    peers: ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'],
    exports: ['S3Storage'],
  },
  { name: 'lake', subpath: 'glue', peers: ['@aws-sdk/client-glue'], exports: ['GlueCatalog'] },
  { name: 'warehouse', subpath: 'athena', peers: ['@aws-sdk/client-athena'], exports: ['AthenaEngine'] },
  { name: 'warehouse', subpath: 'duckdb', peers: ['@duckdb/node-api'], exports: ['DuckDbEngine'] },
  {
    name: 'streams',
    subpath: 'kinesis',
    peers: ['@aws-sdk/client-kinesis'],
    exports: ['KinesisProducer', 'KinesisSource', 'deliverToLake'],
  },
  {
    name: 'streams',
    subpath: 'firehose',
    peers: ['@aws-sdk/client-firehose'],
    exports: ['FirehoseProducer', 'createDeliveryStreamInput'],
  },
  { name: 'coinmarketcap', subpath: 'testing', peers: [], exports: ['startFixtureServer'] },
];

describe.each(subpaths.map((s) => ({ ...s, label: `@tributary/${s.name}/${s.subpath}` })))(
  '$label',
  ({ name, subpath, peers, exports }) => {
    it('loads through import and require with the same exports, its peer installed', async () => {
      await getPacked(name);
      for (const peer of peers) {
        const link = path.join(scratchDir, 'node_modules', peer);
        if (fs.existsSync(link)) continue;
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.symlinkSync(
          fs.realpathSync(path.join(repoRoot, 'packages', name, 'node_modules', peer)),
          link,
          'dir',
        );
      }
      const specifier = `@tributary/${name}/${subpath}`;

      const esm = importSurface(specifier);
      const cjs = requireSurface(specifier);

      expect(cjs).toEqual(esm);
      for (const exported of exports) expect(esm[exported]).toBe('function');
    });
  },
);

/**
 * The packages a built file imports (`from`, `import(...)`, `require(...)`), following relative
 * imports into shared chunks; in declarations, `./x.js` is `./x.d.ts` and `./x.cjs` is `./x.d.cts`.
 */
function reachedSpecifiers(dist: string, entry: string): { files: Set<string>; specifiers: Set<string> } {
  const files = new Set<string>();
  const specifiers = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = fs.readFileSync(path.join(dist, file), 'utf8');
    // Declarations keep the TSDoc, whose examples may import an AWS client: only code counts.
    const text = file.includes('.d.') ? source.replace(/\/\*[\s\S]*?\*\//g, '') : source;
    for (const m of text.matchAll(/(?:from|import|require)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const specifier = m[1] as string;
      if (!specifier.startsWith('./')) {
        specifiers.add(specifier);
        continue;
      }
      const target = path.posix.normalize(specifier);
      visit(file.includes('.d.') ? target.replace(/\.js$/, '.d.ts').replace(/\.cjs$/, '.d.cts') : target);
    }
  };
  visit(entry);
  return { files, specifiers };
}

describe.each([
  { name: 'warehouse' as const, peers: ['@aws-sdk/client-athena', '@duckdb/node-api'] },
  { name: 'lake' as const, peers: ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@aws-sdk/client-glue'] },
  { name: 'streams' as const, peers: ['@aws-sdk/client-kinesis', '@aws-sdk/client-firehose'] },
])('@tributary/$name main entry', ({ name, peers }) => {
  it('imports none of its optional peers, directly or through a shared chunk', async () => {
    await getPacked(name);
    const dist = path.join(scratchDir, 'node_modules', '@tributary', name, 'dist');
    const { files, specifiers } = reachedSpecifiers(dist, 'index.js');

    expect(files.size).toBeGreaterThan(1);
    expect([...specifiers].filter((s) => peers.includes(s))).toEqual([]);
  });

  it('names none of its optional peers in its CommonJS build or its declarations', async () => {
    await getPacked(name);
    const dist = path.join(scratchDir, 'node_modules', '@tributary', name, 'dist');

    for (const entry of ['index.cjs', 'index.d.ts', 'index.d.cts']) {
      const { specifiers } = reachedSpecifiers(dist, entry);
      expect({ entry, peers: [...specifiers].filter((s) => peers.includes(s)) }).toEqual({
        entry,
        peers: [],
      });
    }
  });
});

// A subpath needs its own peer and no other: a Kinesis-only user installs no Firehose client.
describe.each([
  { subpath: 'kinesis', peer: '@aws-sdk/client-kinesis', other: '@aws-sdk/client-firehose' },
  { subpath: 'firehose', peer: '@aws-sdk/client-firehose', other: '@aws-sdk/client-kinesis' },
])('@tributary/streams/$subpath', ({ subpath, peer, other }) => {
  it('names its own AWS client and not the other, in every build and its declarations', async () => {
    await getPacked('streams');
    const dist = path.join(scratchDir, 'node_modules', '@tributary', 'streams', 'dist');

    for (const ext of ['js', 'cjs', 'd.ts', 'd.cts']) {
      const { specifiers } = reachedSpecifiers(dist, `${subpath}.${ext}`);
      const reached = [peer, other].filter((s) => specifiers.has(s));
      expect({ ext, reached }).toEqual({ ext, reached: [peer] });
    }
  });
});
