// Global setup: put the Iceberg Spark runtime jar in the local Maven repository before any test
// starts Spark with it. Tests only look the jar up (scripts/iceberg-runtime.mjs's
// icebergRuntimeJar), so nothing downloads while a test runs. Without Maven the other tests still
// run: the Spark-with-Iceberg tests then fail with this message (tests/spark/iceberg-probe.ts).
// @ts-expect-error -- a plain ES module script without type declarations
import { ensureIcebergRuntime } from '../../scripts/iceberg-runtime.mjs';

export default function setup(): void {
  try {
    (ensureIcebergRuntime as (options?: { quiet?: boolean }) => string)();
  } catch (error) {
    process.stderr.write(`[iceberg-runtime] ${(error as Error).message}\n`);
  }
}
