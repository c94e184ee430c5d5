import { defineConfig } from 'tsup';

export default defineConfig({
  // One entry: the Kinesis and Firehose parts live in @tributary/streams, on subpaths of their own.
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
});
