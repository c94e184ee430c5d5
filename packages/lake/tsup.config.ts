import { defineConfig } from 'tsup';

export default defineConfig({
  // `s3` is its own entry (`@tributary/lake/s3`) so that the main entry never loads the AWS SDK.
  entry: ['src/index.ts', 'src/s3.ts', 'src/glue.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks, so that both entries use the same error classes (instanceof works across them).
  splitting: true,
  // With splitting, tsup turns esbuild's ESM chunks into CommonJS: left to sucrase, the .cjs maps
  // name the build machine's absolute path of the generated file, with no content; rollup (which
  // `treeshake` switches on) keeps relative sources with their content, as in the ESM maps.
  treeshake: true,
});
