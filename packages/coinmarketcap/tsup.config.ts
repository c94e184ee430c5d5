import { defineConfig } from 'tsup';

export default defineConfig({
  // `testing` (`@tributary/coinmarketcap/testing`) holds the fixture server and `dms`
  // (`@tributary/coinmarketcap/dms`) the DMS setup, which needs the DMS client's types: both kept
  // out of the main entry.
  entry: ['src/index.ts', 'src/testing.ts', 'src/dms.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks, so that every entry uses the same classes (instanceof works across them).
  splitting: true,
  // With splitting, tsup turns esbuild's ESM chunks into CommonJS: left to sucrase, the .cjs maps
  // name the build machine's absolute path of the generated file, with no content; rollup (which
  // `treeshake` switches on) keeps relative sources with their content, as in the ESM maps.
  treeshake: true,
});
