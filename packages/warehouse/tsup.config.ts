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
});
