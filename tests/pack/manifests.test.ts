import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// What npm reads from each package.json and README before any code runs: peer ranges npm can
// satisfy, typesVersions for TypeScript's node10 resolution, where the project lives, source maps
// that resolve, README links that exist in the tarball, and root scripts that pnpm does not shadow.

const execFileAsync = promisify(execFile);

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const published = ['core', 'coinmarketcap', 'streams', 'sensors', 'lake', 'warehouse'] as const;
const built = [...published, 'local'] as const;
type BuiltName = (typeof built)[number];

interface PackageJson {
  name: string;
  private?: boolean;
  repository?: { type?: string; url?: string; directory?: string };
  homepage?: string;
  bugs?: { url?: string };
  exports?: Record<string, unknown>;
  typesVersions?: Record<string, Record<string, string[]>>;
  peerDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

function manifestOf(name: BuiltName): PackageJson {
  return readJson<PackageJson>(path.join(repoRoot, 'packages', name, 'package.json'));
}

/** The `types` file an export condition tree names first for `import`, else for `require`. */
function typesOf(entry: unknown): string | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  const conditions = entry as Record<string, unknown>;
  if (typeof conditions.types === 'string') return conditions.types;
  return typesOf(conditions.import) ?? typesOf(conditions.require);
}

describe.each(built)('packages/%s/package.json', (name) => {
  it('names the repository with its folder, a homepage and an issue tracker', () => {
    const manifest = manifestOf(name);

    expect(manifest.repository?.type).toBe('git');
    expect(manifest.repository?.url).toMatch(/^git\+https:\/\/.+\.git$/);
    expect(manifest.repository?.directory).toBe(`packages/${name}`);
    expect(manifest.homepage).toMatch(new RegExp(`^https://.+/packages/${name}#readme$`));
    expect(manifest.bugs?.url).toMatch(/^https:\/\/.+\/issues$/);
  });

  // Every @duckdb/node-api release is a prerelease (1.5.6-r.1): `^1.5.0` matches none of them,
  // and npm then refuses `npm install @tributary/warehouse @duckdb/node-api`.
  it('accepts, in each peer range, the version the workspace tests against', () => {
    const manifest = manifestOf(name);

    const unmet = Object.entries(manifest.peerDependencies ?? {}).flatMap(([peer, range]) => {
      const installed = path.join(repoRoot, 'packages', name, 'node_modules', peer, 'package.json');
      const { version } = readJson<{ version: string }>(installed);
      return semver.validRange(range) !== null && semver.satisfies(version, range)
        ? []
        : [`${peer}@${version} is outside ${range}`];
    });

    expect(unmet).toEqual([]);
  });

  it('maps every subpath export to its declarations in typesVersions (node10 resolution)', () => {
    const manifest = manifestOf(name);
    const mapped = manifest.typesVersions?.['*'] ?? {};

    const subpaths = Object.keys(manifest.exports ?? {}).filter(
      (key) => key !== '.' && key !== './package.json',
    );
    const expected = Object.fromEntries(
      subpaths.map((key) => [key.slice(2), [typesOf(manifest.exports?.[key])]]),
    );

    expect(mapped).toEqual(expected);
  });
});

describe('source maps', () => {
  let outRoot = '';

  beforeAll(() => {
    outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-maps-'));
  });

  afterAll(() => {
    if (outRoot !== '') fs.rmSync(outRoot, { recursive: true, force: true });
  });

  // Built with each package's own tsup config into a scratch folder (declarations left out), so
  // that the test neither needs nor disturbs the packages' dist folders.
  it.each(built)(
    '%s: every ESM and CJS map has relative sources with their content',
    async (name) => {
      const outDir = path.join(outRoot, name);
      await execFileAsync(
        path.join(repoRoot, 'node_modules', '.bin', 'tsup'),
        ['--out-dir', outDir, '--no-dts'],
        {
          cwd: path.join(repoRoot, 'packages', name),
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      const maps = fs.readdirSync(outDir).filter((file) => file.endsWith('.map'));

      const problems = maps.flatMap((file) => {
        const map = readJson<{ sources: string[]; sourcesContent?: (string | null)[] }>(
          path.join(outDir, file),
        );
        return map.sources.flatMap((source, index) => {
          if (path.isAbsolute(source)) return [`${file}: absolute source ${source}`];
          if (!fs.existsSync(path.resolve(outDir, source))) return [`${file}: ${source} does not exist`];
          if (typeof map.sourcesContent?.[index] !== 'string') return [`${file}: no content for ${source}`];
          return [];
        });
      });

      expect(maps.some((file) => file.endsWith('.cjs.map')) || name === 'local').toBe(true);
      expect(maps.some((file) => file.endsWith('.js.map'))).toBe(true);
      expect(problems).toEqual([]);
    },
    60_000,
  );
});

/**
 * Relative link targets in a Markdown file, anchors cut: `[text](target)`, `[label]: target`, and
 * a Markdown file named in a code span (`see \`fixtures/README.md\``), which a reader follows too.
 */
function relativeLinks(markdown: string): string[] {
  const targets = [
    ...[...markdown.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string),
    ...[...markdown.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1] as string),
    ...[...markdown.matchAll(/`([\w./-]+\.md)`/g)].map((m) => m[1] as string),
  ];
  return targets
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
    .map((target) => decodeURIComponent(target.split('#')[0] as string));
}

describe.each(published)('@tributary/%s README', (name) => {
  it('links only to files in the tarball, or to absolute URLs', async () => {
    const packageDir = path.join(repoRoot, 'packages', name);
    const { stdout } = await execFileAsync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: packageDir,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const files = new Set((pack?.files ?? []).map((file) => file.path));
    const readme = fs.readFileSync(path.join(packageDir, 'README.md'), 'utf8');

    const missing = relativeLinks(readme).filter((target) => !files.has(path.posix.normalize(target)));

    expect(files.has('README.md')).toBe(true);
    expect(missing).toEqual([]);
  }, 60_000);

  it('does not call the package unpublished', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'packages', name, 'README.md'), 'utf8');

    expect(readme).not.toMatch(/not (?:yet )?published/i);
  });
});

// pnpm hands these commands to npm (`pnpm docs` opens the npm page of the package), whatever the
// root package.json's scripts say: a script with one of these names only runs as `pnpm run <name>`.
const npmPassThroughCommands = [
  'access',
  'adduser',
  'bugs',
  'deprecate',
  'dist-tag',
  'docs',
  'edit',
  'home',
  'info',
  'login',
  'logout',
  'owner',
  'ping',
  'prefix',
  'profile',
  'pkg',
  'repo',
  'search',
  'set-script',
  'team',
  'token',
  'unpublish',
  'view',
  'whoami',
];

describe('root scripts', () => {
  it('use no name that pnpm hands to npm', () => {
    const { scripts = {} } = readJson<PackageJson>(path.join(repoRoot, 'package.json'));

    expect(Object.keys(scripts).filter((script) => npmPassThroughCommands.includes(script))).toEqual([]);
  });

  it('are named in the README and CI as pnpm runs them', () => {
    const { scripts = {} } = readJson<PackageJson>(path.join(repoRoot, 'package.json'));
    const texts = ['README.md', '.ci/run'].map((file) => fs.readFileSync(path.join(repoRoot, file), 'utf8'));

    const mentioned = texts.flatMap((text) =>
      [...text.matchAll(/\bpnpm ([a-z][\w:-]*)/g)].map((m) => m[1] as string),
    );
    const shadowed = mentioned.filter((command) => npmPassThroughCommands.includes(command));

    expect(shadowed).toEqual([]);
    expect(Object.keys(scripts)).toContain('docs:api');
    expect(mentioned).toContain('docs:api');
  });
});
