import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// Finds the TypeScript examples in the packages' TSDoc comments and writes each into a module of
// its own that tsc can check; examples.test.ts runs tsc once over all of them. The convention these
// modules follow is described at the top of examples.test.ts.

/** A fenced code block found inside the `@example` section of a TSDoc comment. */
export interface DocExample {
  /** Source file, relative to the repository root, with `/` separators. */
  readonly file: string;
  /** 1-based line in `file` of the example's first code line (the line after the opening fence). */
  readonly line: number;
  /** The fence's language, `''` when the fence names none. */
  readonly language: string;
  /** The code, with the comment's leading `*` and one space removed from every line. */
  readonly code: string;
  /** The package directory's name under packages/ (`core`, `lake`, ...). */
  readonly packageDir: string;
}

/** Fence languages that are type-checked; any other named language is left alone. */
export const checkedLanguages: ReadonlySet<string> = new Set(['ts', 'typescript']);

/** Every `.ts` file under packages/<name>/src, sorted (declaration files excluded). */
export function packageSourceFiles(repoRoot: string): string[] {
  const files: string[] = [];
  const packagesDir = path.join(repoRoot, 'packages');
  for (const packageDir of fs.readdirSync(packagesDir).sort()) {
    const src = path.join(packagesDir, packageDir, 'src');
    if (!fs.existsSync(src)) continue;
    for (const entry of fs.readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) files.push(path.join(src, entry));
    }
  }
  return files.sort();
}

/** What one source text holds: its examples, and `@example` sections that hold no fenced block. */
export interface ExtractedExamples {
  readonly examples: DocExample[];
  /** 1-based lines of `@example` tags whose section has no fenced code block. */
  readonly bareTags: number[];
}

/** The fenced blocks inside `@example` sections of the `/** ... *\/` comments of one source text. */
export function extractExamples(file: string, text: string): ExtractedExamples {
  const examples: DocExample[] = [];
  const bareTags: number[] = [];
  const packageDir = file.split('/')[1] ?? '';
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, comment.index).split('\n').length;
    const lines = comment[0].split('\n').map((raw) =>
      raw
        .replace(/^\s*\/\*\*\s?/, '')
        .replace(/\s*\*\/\s*$/, '')
        .replace(/^\s*\*(?: |$)/, ''),
    );
    // The line of the current `@example` tag and whether a block was found under it.
    let tag: { line: number; blocks: number } | undefined;
    let fence: { language: string; start: number; body: string[] } | undefined;
    const endSection = () => {
      if (tag && tag.blocks === 0) bareTags.push(tag.line);
      tag = undefined;
    };
    lines.forEach((line, index) => {
      const fenceLine = /^\s*```\s*([\w-]*)\s*$/.exec(line);
      if (fence) {
        if (fenceLine && fenceLine[1] === '') {
          if (tag) {
            tag.blocks += 1;
            examples.push({
              file,
              line: firstLine + fence.start + 1,
              language: fence.language,
              code: dedent(fence.body).join('\n'),
              packageDir,
            });
          }
          fence = undefined;
        } else {
          fence.body.push(line);
        }
        return;
      }
      if (fenceLine) {
        fence = { language: (fenceLine[1] ?? '').toLowerCase(), start: index, body: [] };
        return;
      }
      const tagName = /^\s*(@\w+)/.exec(line)?.[1];
      if (tagName) {
        endSection();
        if (tagName === '@example') tag = { line: firstLine + index, blocks: 0 };
      }
    });
    endSection();
  }
  return { examples, bareTags };
}

/** Removes the indentation that every non-blank line shares (examples indented under the tag). */
function dedent(lines: string[]): string[] {
  const indents = lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)?.[0].length ?? 0);
  const common = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((line) => line.slice(common));
}

/** One entry point of a package: its specifier and the value and type names it exports. */
export interface EntryExports {
  readonly specifier: string;
  readonly values: readonly string[];
  readonly types: readonly string[];
}

/**
 * The names exported by an entry file (`src/index.ts`, `src/s3.ts`, ...), read from its syntax:
 * `export { a, type B } from`, `export type { C } from`, and exported declarations. `export *`
 * is followed into the relative module it names.
 */
export function entryExports(specifier: string, entryFile: string): EntryExports {
  const values = new Set<string>();
  const types = new Set<string>();
  collectExports(entryFile, values, types, new Set());
  for (const name of values) types.delete(name);
  return { specifier, values: [...values].sort(), types: [...types].sort() };
}

function collectExports(file: string, values: Set<string>, types: Set<string>, seen: Set<string>): void {
  if (seen.has(file)) return;
  seen.add(file);
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const isExported = (node: ts.Node): boolean =>
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      if (!clause && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
        const target = path.resolve(
          path.dirname(file),
          statement.moduleSpecifier.text.replace(/\.js$/, '.ts'),
        );
        collectExports(target, values, types, seen);
      } else if (clause && ts.isNamedExports(clause)) {
        for (const element of clause.elements) {
          (statement.isTypeOnly || element.isTypeOnly ? types : values).add(element.name.text);
        }
      }
    } else if (isExported(statement)) {
      if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) {
        types.add(statement.name.text);
      } else if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          for (const name of bindingNames(declaration.name)) values.add(name);
        }
      } else if (
        (ts.isFunctionDeclaration(statement) ||
          ts.isClassDeclaration(statement) ||
          ts.isEnumDeclaration(statement)) &&
        statement.name
      ) {
        values.add(statement.name.text);
      }
    }
  }
}

function bindingNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) =>
    ts.isOmittedExpression(element) ? [] : bindingNames(element.name),
  );
}

/** The names an example declares or imports at its top level (these are never auto-imported). */
export function ownNames(code: string): Set<string> {
  const source = ts.createSourceFile('example.ts', code, ts.ScriptTarget.Latest, false);
  const names = new Set<string>();
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        for (const name of bindingNames(declaration.name)) names.add(name);
      }
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement) ||
        ts.isModuleDeclaration(statement)) &&
      statement.name &&
      ts.isIdentifier(statement.name)
    ) {
      names.add(statement.name.text);
    } else if (ts.isImportDeclaration(statement) && statement.importClause) {
      const clause = statement.importClause;
      if (clause.name) names.add(clause.name.text);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) names.add(element.name.text);
      }
    } else if (ts.isImportEqualsDeclaration(statement)) {
      names.add(statement.name.text);
    }
  }
  return names;
}

/** A generated module and where its example's first line sits in it. */
export interface GeneratedExample {
  readonly example: DocExample;
  /** Absolute path of the generated module. */
  readonly modulePath: string;
  /** Number of generated lines before the example's first line. */
  readonly headerLines: number;
}

/**
 * The text of one example module: an import line per entry for the names the example does not
 * declare itself (each name once, from the first entry that exports it), then the example, then
 * `export {}` so that the file is a module even when the example imports nothing.
 */
export function exampleModule(
  example: DocExample,
  entries: readonly EntryExports[],
): { text: string; headerLines: number } {
  const taken = ownNames(example.code);
  const header = [`// ${example.file}:${example.line} (generated by tests/docs/examples.test.ts)`];
  for (const entry of entries) {
    const specifiers: string[] = [];
    for (const name of entry.values) {
      if (!taken.has(name)) specifiers.push(name);
      taken.add(name);
    }
    for (const name of entry.types) {
      if (!taken.has(name)) specifiers.push(`type ${name}`);
      taken.add(name);
    }
    if (specifiers.length > 0) header.push(`import { ${specifiers.join(', ')} } from '${entry.specifier}';`);
  }
  return { text: `${header.join('\n')}\n${example.code}\nexport {};\n`, headerLines: header.length };
}

/**
 * The syntax errors of a module's text, as `[line, message]` with 1-based lines. tsc checks no
 * types at all while any file of the program has one, so such modules are reported from here and
 * left out of the tsc run.
 */
export function syntaxErrors(fileName: string, text: string): Array<[number, string]> {
  const { diagnostics = [] } = ts.transpileModule(text, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  });
  return diagnostics.map((diagnostic) => {
    const line =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1
        : 0;
    return [line, `TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`];
  });
}

/** One tsc diagnostic: `file(line,col): error TSnnnn: message` plus its continuation lines. */
export interface TscDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Parses `tsc --pretty false` output; diagnostics without a position get file `''`. */
export function parseTscOutput(output: string): TscDiagnostic[] {
  const diagnostics: Array<{ file: string; line: number; column: number; message: string }> = [];
  for (const line of output.split('\n')) {
    const located = /^(.+)\((\d+),(\d+)\): (error .*)$/.exec(line);
    if (located) {
      diagnostics.push({
        file: located[1] ?? '',
        line: Number(located[2]),
        column: Number(located[3]),
        message: located[4] ?? '',
      });
    } else if (/^error /.test(line)) {
      diagnostics.push({ file: '', line: 0, column: 0, message: line });
    } else if (line.trim() !== '' && diagnostics.length > 0) {
      const last = diagnostics[diagnostics.length - 1];
      if (last) last.message += `\n${line}`;
    }
  }
  return diagnostics;
}
