import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  checkedLanguages,
  type DocExample,
  type EntryExports,
  entryExports,
  exampleModule,
  extractExamples,
  type GeneratedExample,
  packageSourceFiles,
  parseTscOutput,
  syntaxErrors,
} from './doc-examples.js';

// Every TypeScript example in the packages' TSDoc comments must type-check, so that a user can
// paste it. How to write one:
//
// - Put the code in a fenced block tagged `ts` (or `typescript`) inside an `@example` section of a
//   TSDoc comment in packages/*/src. A block that is deliberately not TypeScript (shell, SQL, JSON)
//   names its own language (```sh, ```sql); a fence without a language is an error here.
// - Write complete statements: `try { ... } catch (err) { ... }`, not a bare `catch`; an object
//   literal inside a call, not a lone `partitionBy: byHour('at')`. Top-level `await` is fine.
// - Without importing them, an example can use every export of its own package's main entry
//   (`@tributary/lake` for packages/lake) and of `@tributary/core`, and the few free names declared
//   in tests/docs/example-prelude.d.ts: `lake`, `storage`, `pool`, `readingSchema`, `Reading`,
//   `readings`, `cmc`, `store`. Anything else it imports (`@aws-sdk/client-s3`, `pg`, another
//   package, a subpath such as `@tributary/lake/s3`) or declares (`declare const client:
//   KinesisClient;`). Names an example declares or imports itself are never imported for it.
// - It resolves modules as its package does: an example may import what the package depends on.
//
// How it is checked: each block becomes a module of its own under packages/<name>/.doc-examples/
// (gitignored), and one `tsc` run with tests/docs/.doc-examples/tsconfig.json (the root
// tsconfig.base.json, strict, with `paths` to the packages' sources; unused names allowed) checks
// them all. A failure names the source line of the example: `<file>:<line> TSnnnn: message`.
// Errors tsc reports in the packages' own sources are left to `pnpm lint`.

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const generatedFolder = '.doc-examples';
const configDir = path.join(repoRoot, 'tests', 'docs', generatedFolder);
const preludeFile = path.join(repoRoot, 'tests', 'docs', 'example-prelude.d.ts');

const relative = (file: string): string => path.relative(repoRoot, file).split(path.sep).join('/');

/** Import specifier of `target` from a module in `fromDir`, with the `.js` extension NodeNext wants. */
function relativeSpecifier(fromDir: string, target: string): string {
  const specifier = path
    .relative(fromDir, target)
    .split(path.sep)
    .join('/')
    .replace(/\.d\.ts$|\.ts$/, '.js');
  return specifier.startsWith('.') ? specifier : `./${specifier}`;
}

/** The auto-imported names of each package: its main entry, then core's, then the prelude's. */
function entriesFor(packageDir: string, moduleDir: string): EntryExports[] {
  const index = (name: string) =>
    entryExports(`@tributary/${name}`, path.join(repoRoot, 'packages', name, 'src', 'index.ts'));
  const packages = packageDir === 'core' ? [index('core')] : [index(packageDir), index('core')];
  return [...packages, entryExports(relativeSpecifier(moduleDir, preludeFile), preludeFile)];
}

/** A problem found, with the `<file>:<line>` of the example's first line when it is in one. */
interface Failure {
  readonly example: string | undefined;
  readonly text: string;
}

const exampleKey = ({ file, line }: DocExample): string => `${file}:${line}`;

/** Where a line of a generated module comes from: `<file>:<line>` of the example in its source. */
function sourceLine({ example, headerLines }: GeneratedExample, moduleLine: number): string {
  return `${example.file}:${example.line + Math.max(0, moduleLine - headerLines - 1)}`;
}

/**
 * Writes the example modules and the tsconfig. Returns the modules tsc checks, by absolute path,
 * and the syntax errors of the others.
 */
function generate(examples: readonly DocExample[]): {
  generated: Map<string, GeneratedExample>;
  syntaxFailures: Failure[];
} {
  const generated = new Map<string, GeneratedExample>();
  const syntaxFailures: Failure[] = [];
  const entries = new Map<string, EntryExports[]>();
  for (const example of examples) {
    const moduleDir = path.join(repoRoot, 'packages', example.packageDir, generatedFolder);
    if (!entries.has(example.packageDir)) {
      fs.rmSync(moduleDir, { recursive: true, force: true });
      fs.mkdirSync(moduleDir, { recursive: true });
      entries.set(example.packageDir, entriesFor(example.packageDir, moduleDir));
    }
    const name = `${example.file
      .replace(/^packages\/[^/]+\/src\//, '')
      .replace(/\.ts$/, '')
      .replaceAll('/', '__')}-L${example.line}.ts`;
    const modulePath = path.join(moduleDir, name);
    const { text, headerLines } = exampleModule(example, entries.get(example.packageDir) ?? []);
    fs.writeFileSync(modulePath, text);
    const module = { example, modulePath, headerLines };
    const errors = syntaxErrors(modulePath, text);
    for (const [line, message] of errors) {
      syntaxFailures.push({ example: exampleKey(example), text: `${sourceLine(module, line)} ${message}` });
    }
    if (errors.length === 0) generated.set(modulePath, module);
  }
  fs.rmSync(configDir, { recursive: true, force: true });
  fs.mkdirSync(configDir, { recursive: true });
  const tsconfig = {
    extends: relativeSpecifier(configDir, path.join(repoRoot, 'tsconfig.base.json')).replace(
      /\.js$/,
      '.json',
    ),
    compilerOptions: {
      strict: true,
      noEmit: true,
      noUnusedLocals: false,
      noUnusedParameters: false,
      // A lone `partitionBy: byHour('at')` parses as a labelled statement: report it.
      allowUnusedLabels: false,
      declaration: false,
      declarationMap: false,
      sourceMap: false,
    },
    files: [...generated.keys()].map((file) => path.relative(configDir, file).split(path.sep).join('/')),
  };
  fs.writeFileSync(path.join(configDir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  return { generated, syntaxFailures };
}

/** Runs tsc once; its diagnostics as `<file>:<line> message`, for examples and for the prelude. */
async function typeCheck(generated: Map<string, GeneratedExample>): Promise<Failure[]> {
  const tsc = path.join(repoRoot, 'node_modules', '.bin', 'tsc');
  let output = '';
  try {
    await execFileAsync(tsc, ['-p', path.join(configDir, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    output = `${stdout}\n${stderr}`;
    if (output.trim() === '') throw error;
  }
  const failures: Failure[] = [];
  for (const diagnostic of parseTscOutput(output)) {
    const file = path.resolve(repoRoot, diagnostic.file);
    const message = diagnostic.message.replace(/^error /, '');
    const example = generated.get(file);
    if (example) {
      const text = `${sourceLine(example, diagnostic.line)} ${message}`;
      failures.push({ example: exampleKey(example.example), text });
    } else if (diagnostic.file === '' || file === preludeFile || file.startsWith(configDir)) {
      const text = `${diagnostic.file ? relative(file) : 'tsc'}:${diagnostic.line} ${message}`;
      failures.push({ example: undefined, text });
    }
  }
  return failures;
}

// A known-bad example, checked in the same tsc run: it proves that a type error is found and
// reported at its source line (line 4 of this text is the bad line).
const canarySource = [
  '/**',
  ' * @example',
  ' * ```ts',
  " * const n: number = 'not a number';",
  ' * ```',
  ' */',
].join('\n');
const canaryFile = 'packages/core/src/doc-examples-canary.ts';

describe('TSDoc examples', () => {
  it('every ts block inside an @example type-checks', async () => {
    // Arrange: every example in the packages' sources, plus the canary.
    const examples: DocExample[] = [];
    const problems: string[] = [];
    for (const file of packageSourceFiles(repoRoot)) {
      const found = extractExamples(relative(file), fs.readFileSync(file, 'utf8'));
      examples.push(...found.examples);
      for (const line of found.bareTags)
        problems.push(`${relative(file)}:${line} @example without a code block`);
    }
    for (const example of examples.filter((e) => e.language === '')) {
      problems.push(`${example.file}:${example.line} code fence without a language (use ts, or sh, sql...)`);
    }
    const checked = examples.filter((example) => checkedLanguages.has(example.language));
    const canary = extractExamples(canaryFile, canarySource).examples;
    expect(canary).toHaveLength(1);

    // Act
    const { generated, syntaxFailures } = generate([...checked, ...canary]);
    const failures = [...syntaxFailures, ...(await typeCheck(generated))];

    // Assert
    expect(checked.length).toBeGreaterThan(100);
    const isCanary = (failure: Failure) => failure.text.startsWith(`${canaryFile}:`);
    expect(failures.filter(isCanary).map((failure) => failure.text)).toEqual([
      `${canaryFile}:4 TS2322: Type 'string' is not assignable to type 'number'.`,
    ]);
    const exampleFailures = failures.filter((failure) => !isCanary(failure));
    const failing = new Set(exampleFailures.map((failure) => failure.example));
    expect(
      [...problems, ...exampleFailures.map((failure) => failure.text)],
      `${failing.size} of ${checked.length} examples do not type-check`,
    ).toEqual([]);
  }, 120_000);
});
