import { defineConfig } from 'tsup';

export default defineConfig({
  // `testing` (`@tributary/coinmarketcap/testing`) holds the fixture server, kept out of the main entry.
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks, so that every entry uses the same classes (instanceof works across them).
  splitting: true,
});
