import { defineConfig } from 'tsup';

const publicEntries = { index: 'src/index.ts', s3: 'src/s3.ts', glue: 'src/glue.ts' };

export default defineConfig({
  // `s3` is its own entry (`@tributary/lake/s3`) so that the main entry never loads the AWS SDK.
  // `parquet-worker` is the script of the Parquet encoding workers (encode-pool.ts), found next to
  // the chunk that starts them: dist/parquet-worker.js from the ESM build, .cjs from the CommonJS one.
  entry: { ...publicEntries, 'parquet-worker': 'src/formats/parquet/parquet-worker.ts' },
  format: ['esm', 'cjs'],
  // The worker script is no API: no declarations for it.
  dts: { entry: publicEntries },
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
