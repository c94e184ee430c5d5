import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  type DocExample,
  type EntryExports,
  entryExports,
  exampleModule,
  type GeneratedExample,
  parseTscOutput,
  syntaxErrors,
} from './doc-examples.js';

// Writes code snippets (TSDoc examples, README blocks) into modules of their own and type-checks
// them all in one tsc run. examples.test.ts and readme-snippets.test.ts say which snippets and
// which names each may use without importing them.

const execFileAsync = promisify(execFile);
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const preludeFile = path.join(repoRoot, 'tests', 'docs', 'example-prelude.d.ts');

export const relative = (file: string): string => path.relative(repoRoot, file).split(path.sep).join('/');

/** Import specifier of `target` from a module in `fromDir`, with the `.js` extension NodeNext wants. */
export function relativeSpecifier(fromDir: string, target: string): string {
  const specifier = path
    .relative(fromDir, target)
    .split(path.sep)
    .join('/')
    .replace(/\.d\.ts$|\.ts$/, '.js');
  return specifier.startsWith('.') ? specifier : `./${specifier}`;
}

/** The exports of a package's main entry, as auto-imports: `@tributary/<name>`. */
export function mainEntry(name: string): EntryExports {
  return entryExports(`@tributary/${name}`, path.join(repoRoot, 'packages', name, 'src', 'index.ts'));
}

/** The prelude's free names, imported from a module in `moduleDir`. */
export function preludeEntry(moduleDir: string): EntryExports {
  return entryExports(relativeSpecifier(moduleDir, preludeFile), preludeFile);
}

/** How one kind of snippet is laid out and what it may use without importing it. */
export interface SnippetLayout {
  /** Where the tsconfig of the run is written. */
  readonly configDir: string;
  /** Where the module of a snippet is written: a folder whose package's dependencies it may import. */
  moduleDir(example: DocExample): string;
  /** The module's file name, unique within its folder. */
  moduleName(example: DocExample): string;
  /** The names imported for it unless it declares them itself, first entry first. */
  entries(example: DocExample, moduleDir: string): EntryExports[];
}

/** A problem found, with the `<file>:<line>` of the snippet's first line when it is in one. */
export interface Failure {
  readonly example: string | undefined;
  readonly text: string;
}

export const exampleKey = ({ file, line }: DocExample): string => `${file}:${line}`;

/** Where a line of a generated module comes from: `<file>:<line>` of the snippet in its source. */
function sourceLine({ example, headerLines }: GeneratedExample, moduleLine: number): string {
  return `${example.file}:${example.line + Math.max(0, moduleLine - headerLines - 1)}`;
}

/**
 * Writes the snippet modules (emptying each module folder first) and the tsconfig. Returns the
 * modules tsc checks, by absolute path, and the syntax errors of the others.
 */
export function generate(
  layout: SnippetLayout,
  examples: readonly DocExample[],
): { generated: Map<string, GeneratedExample>; syntaxFailures: Failure[] } {
  const generated = new Map<string, GeneratedExample>();
  const syntaxFailures: Failure[] = [];
  const prepared = new Set<string>();
  for (const example of examples) {
    const moduleDir = layout.moduleDir(example);
    if (!prepared.has(moduleDir)) {
      fs.rmSync(moduleDir, { recursive: true, force: true });
      fs.mkdirSync(moduleDir, { recursive: true });
      prepared.add(moduleDir);
    }
    const modulePath = path.join(moduleDir, layout.moduleName(example));
    const { text, headerLines } = exampleModule(example, layout.entries(example, moduleDir));
    fs.writeFileSync(modulePath, text);
    const module = { example, modulePath, headerLines };
    const errors = syntaxErrors(modulePath, text);
    for (const [line, message] of errors) {
      syntaxFailures.push({ example: exampleKey(example), text: `${sourceLine(module, line)} ${message}` });
    }
    if (errors.length === 0) generated.set(modulePath, module);
  }
  const { configDir } = layout;
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

/** Runs tsc once; its diagnostics as `<file>:<line> message`, for snippets and for the prelude. */
export async function typeCheck(
  layout: SnippetLayout,
  generated: Map<string, GeneratedExample>,
): Promise<Failure[]> {
  const tsc = path.join(repoRoot, 'node_modules', '.bin', 'tsc');
  let output = '';
  try {
    await execFileAsync(tsc, ['-p', path.join(layout.configDir, 'tsconfig.json'), '--pretty', 'false'], {
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
    } else if (diagnostic.file === '' || file === preludeFile || file.startsWith(layout.configDir)) {
      const text = `${diagnostic.file ? relative(file) : 'tsc'}:${diagnostic.line} ${message}`;
      failures.push({ example: undefined, text });
    }
  }
  return failures;
}
