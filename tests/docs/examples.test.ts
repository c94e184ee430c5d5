import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Failure,
  generate,
  mainEntry,
  preludeEntry,
  relative,
  repoRoot,
  type SnippetLayout,
  typeCheck,
} from './check-snippets.js';
import { checkedLanguages, type DocExample, extractExamples, packageSourceFiles } from './doc-examples.js';

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

const generatedFolder = '.doc-examples';

/** TSDoc examples: one folder per package; its main entry, core's and the prelude's names auto-imported. */
const layout: SnippetLayout = {
  configDir: path.join(repoRoot, 'tests', 'docs', generatedFolder),
  moduleDir: (example) => path.join(repoRoot, 'packages', example.packageDir, generatedFolder),
  moduleName: (example) =>
    `${example.file
      .replace(/^packages\/[^/]+\/src\//, '')
      .replace(/\.ts$/, '')
      .replaceAll('/', '__')}-L${example.line}.ts`,
  entries: (example, moduleDir) => [
    ...(example.packageDir === 'core'
      ? [mainEntry('core')]
      : [mainEntry(example.packageDir), mainEntry('core')]),
    preludeEntry(moduleDir),
  ],
};

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
    const { generated, syntaxFailures } = generate(layout, [...checked, ...canary]);
    const failures = [...syntaxFailures, ...(await typeCheck(layout, generated))];

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
