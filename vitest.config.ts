import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// One config for the whole workspace, so `pnpm test` at the root runs every package's tests and
// prints a single summary. Unit and integration tests are separate projects only because they
// need different time limits: integration tests start real servers on loopback.

const integration = [
  'packages/*/tests/integration/**/*.test.ts',
  'examples/*/tests/integration/**/*.test.ts',
  // Root-level tests (e.g. tests/pack) build and pack the packages: they are integration tests.
  'tests/**/*.test.ts',
];

const unit = ['packages/*/tests/**/*.test.ts', 'examples/*/tests/**/*.test.ts'];

// CI sets TRIBUTARY_TEST_REPORT to a file path to also get a machine-readable report, from which
// .ci/run prints a plain "N passed, N failed" line; the console output stays vitest's own.
const reportFile = process.env.TRIBUTARY_TEST_REPORT;

export default defineConfig({
  // Tests import the workspace packages from their sources, so `pnpm test` needs no build first
  // (the same mapping as `paths` in tsconfig.base.json, which tsc and tsx read).
  resolve: {
    alias: [
      { find: /^@tributary\/lake\/(s3|glue)$/, replacement: here('./packages/lake/src/$1.ts') },
      {
        find: /^@tributary\/warehouse\/(athena|duckdb)$/,
        replacement: here('./packages/warehouse/src/$1.ts'),
      },
      {
        find: /^@tributary\/streams\/(kinesis|firehose)$/,
        replacement: here('./packages/streams/src/$1.ts'),
      },
      {
        find: /^@tributary\/coinmarketcap\/(testing|dms)$/,
        replacement: here('./packages/coinmarketcap/src/$1.ts'),
      },
      { find: /^@tributary\/([a-z-]+)$/, replacement: here('./packages/$1/src/index.ts') },
    ],
  },
  test: {
    // Child processes rather than worker threads: native modules (DuckDB, embedded servers) and
    // process-wide state such as environment variables stay isolated per test file.
    pool: 'forks',
    // Creates spark/.venv (pyarrow, moto) once, before any test that reads Parquet with pyarrow
    // or talks to moto_server; fetches the Iceberg Spark runtime jar for the Spark tests.
    globalSetup: [
      './tests/setup/python-env.ts',
      './tests/setup/iceberg-runtime.ts',
      './tests/setup/hive-json-serde.ts',
    ],
    reporters: reportFile ? ['default', 'json'] : ['default'],
    ...(reportFile ? { outputFile: { json: reportFile } } : {}),
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: unit,
          exclude: ['**/node_modules/**', '**/dist/**', ...integration],
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: integration,
          exclude: ['**/node_modules/**', '**/dist/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
