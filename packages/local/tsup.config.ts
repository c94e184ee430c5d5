import { defineConfig } from 'tsup';

// ESM only: the package is private and used by tests and examples, which are all ESM.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
});
