import { defineConfig } from 'tsup';

export default defineConfig({
  // `kinesis` and `firehose` are entries of their own (`@tributary/streams/kinesis`, `/firehose`) so that
  // each AWS client is needed only by the entry that uses it, and the main entry loads none.
  entry: ['src/index.ts', 'src/kinesis.ts', 'src/firehose.ts'],
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
