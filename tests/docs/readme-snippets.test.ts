import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
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
import { checkedLanguages, type DocExample, exampleModule } from './doc-examples.js';

const execFileAsync = promisify(execFile);

// Every TypeScript block in the root README, the package READMEs and the examples' READMEs must
// type-check against the packages, so that what a reader copies compiles. How to write one:
//
// - Fence it as ```ts (or ```typescript); shell, SQL and JSON blocks name their own language.
// - A package README's block may use the exports of that package's main entry and of
//   `@tributary/core` without importing them; the root README's and the examples' blocks may use
//   the main entries of every published package. A subpath export (`@tributary/lake/s3`,
//   `@tributary/warehouse/duckdb`), an AWS client or `pg` is imported explicitly, as a user must.
// - The free names of tests/docs/example-prelude.d.ts (`lake`, `pool`, `readings`, ...) may be
//   used as context; anything else is declared (`declare const fleet: Fleet;`) or built.
//
// - A block fenced as ```ts run is meant to run as it is (no prelude names): the test runs it.
//
// Each block becomes a module under <folder of the README>/.readme-snippets/ (the root README's
// under examples/quickstart, which depends on every package), type-checked in one tsc run.

const generatedFolder = '.readme-snippets';
const PUBLISHED = ['core', 'lake', 'streams', 'sensors', 'coinmarketcap', 'warehouse'];

/** The READMEs whose blocks are checked, relative to the repository root. */
function readmes(): string[] {
  const found = ['README.md'];
  for (const parent of ['packages', 'examples']) {
    for (const dir of fs.readdirSync(path.join(repoRoot, parent)).sort()) {
      if (fs.existsSync(path.join(repoRoot, parent, dir, 'README.md')))
        found.push(`${parent}/${dir}/README.md`);
    }
  }
  return found;
}

/** Blocks fenced as ```ts run: meant to run as they are, so the test runs them too. */
const runnable = new Set<DocExample>();

/** The fenced code blocks of a Markdown text (indented fences too, as in list items). */
function markdownBlocks(file: string, text: string): DocExample[] {
  const blocks: DocExample[] = [];
  const folder = path.posix.dirname(file);
  let open: { indent: string; language: string; run: boolean; start: number; body: string[] } | undefined;
  text.split('\n').forEach((line, index) => {
    if (open) {
      if (/^\s*```\s*$/.test(line)) {
        const block: DocExample = {
          file,
          line: open.start + 2,
          language: open.language,
          // The module sits one folder below the README: a relative import gets one more `../`.
          code: open.body
            .map((l) => (l.startsWith(open?.indent ?? '') ? l.slice(open?.indent.length) : l))
            .join('\n')
            .replace(/(from\s+|import\s*\(\s*)'(\.\.?\/)/g, "$1'../$2"),
          packageDir: folder,
        };
        blocks.push(block);
        if (open.run) runnable.add(block);
        open = undefined;
      } else open.body.push(line);
      return;
    }
    const fence = /^(\s*)```\s*([\w-]*)(\s+run)?\s*$/.exec(line);
    if (fence) {
      const [, indent = '', language = '', run] = fence;
      open = { indent, language: language.toLowerCase(), run: run !== undefined, start: index, body: [] };
    }
  });
  return blocks;
}

const layout: SnippetLayout = {
  configDir: path.join(repoRoot, 'tests', 'docs', generatedFolder),
  moduleDir: (example) =>
    path.join(
      repoRoot,
      example.packageDir === '.' ? 'examples/quickstart' : example.packageDir,
      generatedFolder,
    ),
  moduleName: (example) => `${example.packageDir === '.' ? 'root-' : ''}README-L${example.line}.ts`,
  entries: (example, moduleDir) => {
    const own = /^packages\/([^/]+)$/.exec(example.packageDir)?.[1];
    const names = own ? (own === 'core' ? ['core'] : [own, 'core']) : PUBLISHED;
    return [...names.map(mainEntry), preludeEntry(moduleDir)];
  },
};

// A known-bad block in the same run: proves that a README type error is found and reported at
// its line (line 3 of this text is the bad line).
const canary = markdownBlocks('packages/core/CANARY.md', "# x\n```ts\nconst n: number = 'text';\n```\n");

describe('README snippets', () => {
  it('every ts block of the root, package and example READMEs type-checks', async () => {
    // Arrange
    const blocks = readmes().flatMap((file) =>
      markdownBlocks(file, fs.readFileSync(path.join(repoRoot, file), 'utf8')),
    );
    const checked = blocks.filter((block) => checkedLanguages.has(block.language));
    const unnamed = blocks.filter(
      (block) => block.language === '' && /\b(import|const|await)\b/.test(block.code),
    );

    // Act
    const { generated, syntaxFailures } = generate(layout, [...checked, ...canary]);
    const failures: Failure[] = [...syntaxFailures, ...(await typeCheck(layout, generated))];

    // Assert
    expect(checked.length).toBeGreaterThan(20);
    const isCanary = (failure: Failure) => failure.text.startsWith('packages/core/CANARY.md:');
    expect(failures.filter(isCanary).map((failure) => failure.text)).toEqual([
      "packages/core/CANARY.md:3 TS2322: Type 'string' is not assignable to type 'number'.",
    ]);
    expect(
      [
        ...unnamed.map((block) => `${block.file}:${block.line} code fence without a language holds code`),
        ...failures.filter((failure) => !isCanary(failure)).map((failure) => failure.text),
      ],
      `README blocks that do not type-check (of ${checked.length}); see ${relative(layout.configDir)}`,
    ).toEqual([]);
  }, 120_000);

  it('every block fenced as ts run runs to completion', async () => {
    // Arrange: each runnable block with its package imports, without the prelude (it has no values).
    for (const file of readmes()) markdownBlocks(file, fs.readFileSync(path.join(repoRoot, file), 'utf8'));
    const blocks = [...runnable].filter((block) => !block.file.endsWith('CANARY.md'));
    const modules = blocks.map((block) => {
      const dir = layout.moduleDir(block);
      fs.mkdirSync(dir, { recursive: true });
      const modulePath = path.join(dir, layout.moduleName(block).replace(/\.ts$/, '.run.ts'));
      const entries = layout.entries(block, dir).filter((entry) => entry.specifier.startsWith('@tributary/'));
      fs.writeFileSync(modulePath, exampleModule(block, entries).text);
      return { block, modulePath };
    });

    // Act
    const results = await Promise.all(
      modules.map(async ({ block, modulePath }) => {
        try {
          await execFileAsync(process.execPath, ['--import', 'tsx', modulePath], {
            cwd: path.dirname(modulePath),
            timeout: 60_000,
          });
          return undefined;
        } catch (error) {
          const { stderr = '', message } = error as { stderr?: string; message: string };
          return `${block.file}:${block.line} ${(
            stderr
              .trim()
              .split('\n')
              .find((l) => /Error/.test(l)) ?? message
          ).slice(0, 300)}`;
        }
      }),
    );

    // Assert
    expect(blocks.length).toBeGreaterThan(1);
    expect(results.filter((r) => r !== undefined)).toEqual([]);
  }, 120_000);
});
