import { defineConfig } from 'tsup';

export default defineConfig({
  // `athena` and `duckdb` are their own entries so that the main entry loads neither optional peer.
  entry: ['src/index.ts', 'src/athena.ts', 'src/duckdb.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks, so that every entry uses the same error classes.
  splitting: true,
  // With splitting, tsup turns esbuild's ESM chunks into CommonJS: left to sucrase, the .cjs maps
  // name the build machine's absolute path of the generated file, with no content; rollup (which
  // `treeshake` switches on) keeps relative sources with their content, as in the ESM maps.
  treeshake: true,
});
