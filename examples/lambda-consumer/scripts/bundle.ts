import { stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile } from 'esbuild';

/** The example's folder: entry point, tsconfig (whose paths map `@tributary/*` to the sources). */
const EXAMPLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the AWS SDK v3 goes: `bundled` into the file, or left `external` to the copy that Lambda's
 * Node.js runtimes ship.
 */
export type SdkPlacement = 'bundled' | 'external';

export interface BundleHandlerOptions {
  /** The file to write, an ES module (`.mjs`, so Lambda loads it as one without a package.json). */
  outfile: string;
  /** Default `bundled`: the bundle then needs no `node_modules` at all. */
  sdk?: SdkPlacement;
  /** Default `false`: readable stack traces in CloudWatch. */
  minify?: boolean;
}

export interface BundleHandlerResult {
  outfile: string;
  /** Size of the written file. */
  bytes: number;
  /** esbuild's metafile: every input it resolved, and the imports it left external. */
  metafile: Metafile;
  /** Packages (not Node built-ins) the bundle imports at run time instead of holding them. */
  externalPackages: string[];
}

/**
 * Bundles `src/handler.ts` into one file for Lambda's `nodejs20.x` and `nodejs22.x` runtimes
 * (handler `handler.handler`): platform node, target node20, ES module.
 *
 * Bundled ES modules still contain `require` calls (CommonJS dependencies such as the SDK's
 * reading Node built-ins), which an ES module has no binding for: the banner gives it one.
 */
export async function bundleHandler(options: BundleHandlerOptions): Promise<BundleHandlerResult> {
  const sdk = options.sdk ?? 'bundled';
  const outfile = resolve(options.outfile);
  const result = await build({
    absWorkingDir: EXAMPLE_DIR,
    entryPoints: ['src/handler.ts'],
    tsconfig: 'tsconfig.json',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    minify: options.minify ?? false,
    external: sdk === 'external' ? ['@aws-sdk/*', '@smithy/*'] : [],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  const externalPackages = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const { path, external } of input.imports) {
      if (external && !isBuiltin(path)) externalPackages.add(packageName(path));
    }
  }
  return {
    outfile,
    bytes: (await stat(outfile)).size,
    metafile: result.metafile,
    externalPackages: [...externalPackages].sort(),
  };
}

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** `pnpm bundle [--sdk external] [--minify] [--outfile dist/handler.mjs]` */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sdk: { type: 'string', default: 'bundled' },
      minify: { type: 'boolean', default: false },
      outfile: { type: 'string', default: join(EXAMPLE_DIR, 'dist', 'handler.mjs') },
    },
  });
  if (values.sdk !== 'bundled' && values.sdk !== 'external') {
    throw new Error(`--sdk must be "bundled" or "external", got "${values.sdk}"`);
  }
  const { outfile, bytes, externalPackages } = await bundleHandler({
    outfile: values.outfile,
    sdk: values.sdk,
    minify: values.minify,
  });
  const externals = externalPackages.length === 0 ? 'none' : externalPackages.join(', ');
  console.log(
    `${relative(process.cwd(), outfile)}: ${bytes.toLocaleString('en-US')} bytes (SDK ${values.sdk}${values.minify ? ', minified' : ''}); packages left external: ${externals}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
