import { defineConfig } from 'tsup';

export default defineConfig({
  // `kinesis` and `firehose` are entries of their own (`@tributary/sensors/kinesis`, `/firehose`) so that
  // each AWS client is needed only by the entry that uses it, and the main entry loads none.
  entry: ['src/index.ts', 'src/kinesis.ts', 'src/firehose.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Shared chunks, so that every entry uses the same classes (instanceof works across them).
  splitting: true,
});
